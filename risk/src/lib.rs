//! Ballast risk core: margin tiers, volatility-scaled leverage caps, ramps, circuit breakers,
//! account health, liquidation and bankruptcy, as plain `no_std` Rust over `ballast-math`.
//!
//! The engine contract is a thin shell over this crate; the simulator and the property tests
//! run the very same code natively. Layout: `config` (what governance sets, validated),
//! `margin` (pure requirement formulas), `ramp`, `breaker` (state machine), `state` (positions,
//! accounts, market state), `health` (read-only evaluation), `ops` and `liquidation` (state
//! transitions that check everything before writing), `ledger` (an in-memory deployment).
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

pub mod breaker;
pub mod config;
mod error;
pub mod feed;
pub mod health;
pub mod ledger;
pub mod liquidation;
pub mod margin;
pub mod ops;
pub mod ramp;
#[cfg(feature = "std")]
pub mod sequence;
pub mod state;

pub use breaker::{Breaker, BreakerState, BreakerTransition};
pub use config::{MarginParams, MarketConfig, Tier};
pub use error::{ConfigRule, RiskError, RiskResult};
pub use health::{account_health, Health, HealthKind};
pub use ledger::{AccountId, Ledger};
pub use ops::{
    apply_fill, deposit, max_position, update_funding, withdraw, BankruptcyOutcome, Fill,
    FillOutcome, LiquidationOutcome,
};
pub use state::{Account, MarketCtx, MarketId, MarketState, Position, Prices};
