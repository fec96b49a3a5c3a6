//! The keeper's logic, independent of the chain client: contract ABI (selectors from the
//! bundle's metadata), the feeder's pre-filter (the oracle adapter's own guard rails run
//! locally, so that a report the engine would reject is never sent), price sources, market
//! configurations for time-compressed replays, listing files, and the liquidation and
//! inventory rules read from the engine's views. The binary (`src/main.rs`, feature `chain`)
//! adds the JSON-RPC client.

pub mod abi;
pub mod feed;
pub mod liquidation;
pub mod listing;
