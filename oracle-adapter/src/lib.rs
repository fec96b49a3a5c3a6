//! Ballast's oracle adapter: turns feeder reports into the prices the margin engine uses.
//!
//! Per market ([`FeedState`], one fixed-size storage value):
//! - up to [`MAX_FEEDERS`] feeder slots, each holding its latest [`Report`], accepted only past
//!   the guard rails of [`FeedState::submit`] (each a distinct [`OracleError`]);
//! - the aggregate: the median of the fresh reports (Acala/ORML, Pyth); with fewer than
//!   `min_reports` fresh, the last one is kept and ages;
//! - a dampened price in the style of Mango v4's stable price, which moves toward the aggregate
//!   by at most `damping_rate_per_sec * f^2` per second, f measuring the distance to a day-old
//!   delay price ([`DelayRing`]);
//! - a TWAP and an EWMA volatility estimate (RiskMetrics, with the daily lambda converted to
//!   the sampling interval), robust to gaps.
//!
//! Reads are graduated as in Drift v2 ([`PriceUse`], [`Validity`]): opening risk needs a fresh,
//! calm, precise price; liquidation tolerates an older or less precise one, never a missing or
//! too-volatile one.
//!
//! Layout, as in Drift: [`math`] holds pure functions, [`state`] the data and its reads,
//! [`controller`] the transitions, [`config`] the parameters. All of it is `no_std`, float-free
//! and panic-free; [`candles`] (with `std`) reads candle CSV files for replays and simulation.
//!
//! Time is the chain's block timestamp in milliseconds; rates are per second.
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(
    test,
    allow(
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss,
        clippy::float_arithmetic,
        clippy::unwrap_used
    )
)]

pub mod config;
pub mod controller;
mod error;
pub mod math;
pub mod state;

#[cfg(feature = "std")]
pub mod candles;

pub use config::{
    OracleConfig, DELAY_SLOTS, HOURLY_LAMBDA, MAX_FEEDERS, MAX_INTERVAL_MS, MAX_PRICE, MIN_PRICE,
};
pub use error::{ConfigError, OracleError};
pub use math::ewma_update;
pub use state::{
    Aggregate, Dampening, DelayRing, FeedState, PriceState, PriceUse, PriceView, RefreshOutcome,
    Report, SubmitOutcome, Validity, VolState,
};

#[cfg(test)]
mod tests;
