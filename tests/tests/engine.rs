//! The margin engine in the drink sandbox: roles, markets, prices, collateral, fills,
//! liquidation, each happy path and its bad inputs, with events asserted.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use ballast_drink_tests::interface::events::*;
use ballast_drink_tests::interface::{AccountView, HealthReport, MarketRisk};
use ballast_drink_tests::*;
use ballast_risk::BreakerState;

const MARKET: u32 = 1;
const T0: u64 = 1_667_865_600_000; // 2022-11-08 00:00 UTC

fn feeders() -> [drink::AccountId32; 3] {
    [account(11), account(12), account(13)]
}

/// Token, engine, one BTC market with three feeders and a first price of 20,000.
fn world() -> Harness {
    let mut h = Harness::new(T0);
    for n in [2u8, 3, 4, 5, 6, 11, 12, 13, 20] {
        h.fund_native(&account(n));
    }
    let config = MarketConfig::default_large_cap(Decimals {
        base: 8,
        quote: QUOTE_DECIMALS,
    });
    h.list_market_with_feeders(MARKET, config, OracleConfig::default(), &feeders());
    report_all(&mut h, Fixed::from_int(20_000));
    h
}

fn report_all(h: &mut Harness, price: Fixed) {
    h.report(MARKET, &feeders(), price);
}

fn deposit(h: &mut Harness, who: &drink::AccountId32, amount: u128) {
    h.give_tokens(who, amount);
    h.approve_engine(who, amount);
    h.engine::<()>(who, "deposit", (amount,)).expect("deposit");
}

#[test]
fn deploy_list_report_deposit_and_read_back() {
    let mut h = world();
    let risk: MarketRisk = h.read("market_risk", (MARKET,)).unwrap();
    assert_eq!(risk.oracle, Fixed::from_int(20_000));
    assert!(risk.opening_valid);
    assert_eq!(risk.breaker, BreakerState::Normal);
    let trader = account(2);
    deposit(&mut h, &trader, 1_000 * USD);
    let deposited: Vec<Deposited> = h.engine_events();
    assert_eq!(deposited.len(), 1);
    assert_eq!(deposited[0].amount, 1_000 * USD);
    let view: AccountView = h.query("account", (trader.clone(),));
    assert_eq!(view.collateral, (1_000 * USD) as i128);
    let engine = h.engine.clone();
    assert_eq!(h.balance(&engine), 1_000 * USD);
    assert_eq!(h.query::<i128>("net_deposits", ()), (1_000 * USD) as i128);
    let health: HealthReport = h.read("health", (trader,)).unwrap();
    assert_eq!(health.initial.equity, (1_000 * USD) as i128);
}
