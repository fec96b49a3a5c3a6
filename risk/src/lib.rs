//! Ballast risk core: margin tiers, volatility-scaled leverage caps, ramps, circuit breakers,
//! account health, liquidation and bankruptcy, as plain `no_std` Rust over `ballast-math`.
//!
//! The engine contract is a thin shell over this crate; the simulator and the property tests
//! run the very same code natively. Layout: `config` (what governance sets, validated),
//! `margin` (pure requirement formulas), `ramp`, `breaker` (state machine), `state` (positions,
//! accounts, market state), `health` (read-only evaluation), `ops` and `liquidation` (state
//! transitions that check everything before writing), `ledger` (an in-memory deployment),
//! `bankruptcy` (covering deficits), `settlement` (the exit of a dead or delisted market),
//! `governance` (announced, delayed, blended changes), `liquidity` (depth-adjusted sizing), `greeks` (options books), `stress` (fee multiplier),
//! `memory` (the stressed-volatility memory of the initial term).
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(
    test,
    allow(
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss,
        clippy::float_arithmetic
    )
)]

pub mod bankruptcy;
pub mod breaker;
pub mod config;
mod error;
pub mod feed;
pub mod governance;
pub mod greeks;
pub mod health;
pub mod ledger;
pub mod liquidation;
pub mod liquidity;
pub mod margin;
pub mod memory;
pub mod ops;
pub mod ramp;
#[cfg(feature = "std")]
pub mod sequence;
pub mod settlement;
pub mod state;
pub mod stress;

pub use breaker::{Breaker, BreakerState, BreakerTransition};
pub use config::{LiquidityParams, MarginParams, MarketConfig, OptionsParams, StressParams, Tier};
pub use error::{ConfigRule, RiskError, RiskResult};
pub use greeks::{ExpiryGreeks, OptionsBook, OptionsReport};
pub use health::{account_health, Health, HealthKind};
pub use ledger::{AccountId, Ledger};
pub use liquidity::DepthState;
pub use ops::{
    apply_fill, apply_options_report, deposit, max_position, note_observed, report_depth,
    update_funding, withdraw, BankruptcyOutcome, Fill, FillOutcome, LiquidationOutcome,
    OptionsOutcome,
};
pub use settlement::{close_settled, settle_market, LastPrice, SettleReason, SettledClose};
pub use state::{Account, MarketCtx, MarketId, MarketState, Position, Prices, Settlement};
pub use stress::{stress_fee, StressFee};
