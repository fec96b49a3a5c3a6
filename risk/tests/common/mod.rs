//! Shared fixture: one BTC-like market (8 base decimals, 6 quote decimals) in a ledger.
#![allow(
    dead_code,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use ballast_math::{Decimals, Fixed};
use ballast_risk::{Ledger, MarketConfig, MarketCtx, MarketState, Prices};

pub const BTC: u32 = 1;
pub const USD: i128 = 1_000_000; // one quote unit in base units
pub const ONE_BTC: i128 = 100_000_000;
pub const HOUR: u64 = 3_600_000;

pub fn fx(s: &str) -> Fixed {
    Fixed::parse_decimal(s).unwrap()
}

pub fn config() -> MarketConfig {
    MarketConfig::default_large_cap(Decimals { base: 8, quote: 6 })
}

pub fn prices(oracle: Fixed) -> Prices {
    Prices {
        oracle,
        dampened: oracle,
        opening_valid: true,
        liquidation_valid: true,
    }
}

/// A ledger with the market at `price`, volatility terms at zero (tiers rule).
pub fn ledger(price: i64) -> Ledger {
    let mut l = Ledger::default();
    l.markets.push(MarketCtx {
        id: BTC,
        config: config(),
        state: MarketState::new(0),
        prices: prices(Fixed::from_int(price)),
        now_ms: 0,
    });
    l
}

pub fn set_price(l: &mut Ledger, price: Fixed, now_ms: u64) {
    let m = l.market_mut(BTC).unwrap();
    m.prices = prices(price);
    m.now_ms = now_ms;
}
