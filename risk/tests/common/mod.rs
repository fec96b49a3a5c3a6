//! Shared fixture: one BTC-like market (8 base decimals, 6 quote decimals) in a ledger.
#![allow(
    dead_code,
    unused_imports,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use ballast_math::Fixed;
pub use ballast_risk::sequence::{config, prices, HOUR, MARKET as BTC, ONE_BTC, USD};
use ballast_risk::{Ledger, MarketCtx, MarketState};

pub fn fx(s: &str) -> Fixed {
    Fixed::parse_decimal(s).unwrap()
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
