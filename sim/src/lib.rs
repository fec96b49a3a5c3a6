//! Ballast cascade simulator: replays real candles through the oracle adapter and the risk core
//! (the same code the engine contract runs) with a trader population and a finite-depth market
//! in which forced selling moves the price, under a static exchange-style baseline and under
//! Ballast, optionally with a population of option writers. See `README.md` ("Cascade simulator") for the model, the figures and the plots.

pub mod ccp;
pub mod cross;
pub mod market;
pub mod options;
pub mod plot;
pub mod population;
pub mod protocol;
pub mod report;
pub mod run;
pub mod scenario;
pub mod units;
pub mod yardstick;
