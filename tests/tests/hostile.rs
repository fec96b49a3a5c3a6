//! Hostile inputs through the deployed engine (drink): lying feeders (one, a minority, a
//! majority), prices of one unit and of the largest value, confidence zero and huge. Each gets
//! a typed error or a bounded effect, stated per case. Timestamps in the future and the far
//! past, non-positive prices, fills of `i128::MIN`/`i128::MAX` size and fills at absurd prices
//! are covered with their exact errors and unchanged state in `messages.rs`
//! (`submit_report_guard_rails_and_median`, `fill_bad_inputs`).
#![allow(clippy::arithmetic_side_effects)]

use ballast_drink_tests::interface::{EngineError, MarketRisk};
use ballast_drink_tests::*;
use ballast_oracle::{OracleError, MAX_PRICE, MIN_PRICE};
use ballast_risk::RiskError;
use drink::AccountId32;

const MARKET: u32 = 1;
const T0: u64 = 1_667_865_600_000; // 2022-11-08 00:00 UTC

fn venue() -> AccountId32 {
    account(20)
}
fn alice() -> AccountId32 {
    account(2)
}
fn bob() -> AccountId32 {
    account(4)
}
fn treasury() -> AccountId32 {
    account(6)
}
fn feeders() -> Vec<AccountId32> {
    (11..16).map(account).collect()
}

fn px(v: i64) -> Fixed {
    Fixed::from_int(v)
}

/// One market with five feeders (three reports needed) at 20,000, a venue, two funded traders.
fn world() -> Harness {
    let mut h = Harness::new(T0);
    for n in [2u8, 4, 6, 20] {
        h.fund_native(&account(n));
    }
    for f in feeders() {
        h.fund_native(&f);
    }
    let config = MarketConfig::default_large_cap(Decimals {
        base: 8,
        quote: QUOTE_DECIMALS,
    });
    h.list_market_with_feeders(MARKET, config, OracleConfig::default(), &feeders());
    h.report(MARKET, &feeders(), px(20_000));
    h.authorize_venue(MARKET, &venue());
    for who in [alice(), bob()] {
        h.give_tokens(&who, 100_000 * USD);
        h.approve_engine(&who, 100_000 * USD);
        h.engine::<()>(&who, "deposit", (100_000 * USD,))
            .expect("deposit");
        h.approve_venue(&who, MARKET, &venue());
    }
    h
}

fn risk(h: &mut Harness) -> MarketRisk {
    h.read("market_risk", (MARKET,)).expect("market_risk")
}

fn buy(h: &mut Harness, price: Fixed) -> Result<(), EngineError> {
    let args = (
        MARKET,
        alice(),
        bob(),
        1_000_000i128,
        price,
        0u128,
        0u128,
        treasury(),
    );
    h.engine(&venue(), "fill", args)
}

/// `liars` of the five feeders report ten times the price one second later; the rest report
/// the truth.
fn lie(h: &mut Harness, liars: usize) -> MarketRisk {
    h.set_time(T0 + 1_000);
    let all = feeders();
    h.report(MARKET, &all[..liars], px(200_000));
    h.report(MARKET, &all[liars..], px(20_000));
    risk(h)
}

#[test]
fn a_minority_of_lying_feeders_changes_nothing() {
    for liars in [1, 2] {
        let mut h = world();
        let r = lie(&mut h, liars);
        // The median of five with at most two liars is an honest report.
        assert_eq!(r.oracle, px(20_000), "{liars} liars");
        assert_eq!(r.dampened, px(20_000));
        assert!(r.opening_valid && r.liquidation_valid);
        assert_eq!(buy(&mut h, px(20_000)), Ok(()));
    }
}

#[test]
fn a_lying_majority_halts_the_market_instead_of_moving_it() {
    let mut h = world();
    let before = risk(&mut h);
    let r = lie(&mut h, 3);
    // The aggregate is the lie, 10x the dampened price, far beyond the 25% jump guard: the
    // price is valid for nothing, so no fill opens risk at it and no one is liquidated at it.
    assert!(!r.opening_valid && !r.liquidation_valid, "{r:?}");
    assert_eq!(
        buy(&mut h, px(200_000)),
        Err(EngineError::Risk(RiskError::MarketHalted))
    );
    assert_eq!(
        buy(&mut h, px(20_000)),
        Err(EngineError::Risk(RiskError::MarketHalted))
    );
    // The dampened price did not move (no time passed since the last refresh that used it):
    // honest reports restore the market at once.
    h.set_time(T0 + 2_000);
    h.report(MARKET, &feeders(), px(20_000));
    let after = risk(&mut h);
    assert_eq!(after.oracle, px(20_000));
    assert!(after.opening_valid);
    assert!(
        after
            .dampened
            .checked_sub(before.dampened)
            .unwrap()
            .checked_abs()
            .unwrap()
            <= px(20_000)
                .checked_mul(Fixed::from_ratio(1, 1_000).unwrap())
                .unwrap(),
        "the dampened price moved {:?} -> {:?}",
        before.dampened,
        after.dampened
    );
    assert_eq!(buy(&mut h, px(20_000)), Ok(()));
}

#[test]
fn extreme_prices_and_confidences_get_typed_errors() {
    let mut h = world();
    let f = feeders()[0].clone();
    let now = h.now_ms;
    let submit = |h: &mut Harness, price: Fixed, confidence: Fixed| -> Result<(), EngineError> {
        h.engine(&f, "submit_report", (MARKET, price, confidence, now))
    };
    let before = risk(&mut h);
    let range = Err(EngineError::Oracle(OracleError::PriceOutOfRange));
    // One unit of the fixed-point type (3.6e-15) and the largest value.
    assert_eq!(submit(&mut h, Fixed::DELTA, Fixed::ZERO), range);
    assert_eq!(submit(&mut h, Fixed::MAX, Fixed::ZERO), range);
    assert_eq!(
        submit(
            &mut h,
            MIN_PRICE.checked_sub(Fixed::DELTA).unwrap(),
            Fixed::ZERO
        ),
        range
    );
    assert_eq!(
        submit(
            &mut h,
            MAX_PRICE.checked_add(Fixed::DELTA).unwrap(),
            Fixed::ZERO
        ),
        range
    );
    // Huge confidence: refused; the largest confidence of all: refused too.
    let uncertain = Err(EngineError::Oracle(OracleError::ReportTooUncertain));
    assert_eq!(submit(&mut h, px(20_000), px(1_000_000)), uncertain);
    assert_eq!(submit(&mut h, px(20_000), Fixed::MAX), uncertain);
    assert_eq!(risk(&mut h), before, "refused reports changed the market");
    // Confidence zero is a precise report: accepted.
    assert_eq!(submit(&mut h, px(20_000), Fixed::ZERO), Ok(()));
    // The bounds themselves are accepted prices (a single report does not move the median).
    assert_eq!(submit(&mut h, MIN_PRICE, Fixed::ZERO), Ok(()));
    assert_eq!(submit(&mut h, MAX_PRICE, Fixed::ZERO), Ok(()));
    assert_eq!(risk(&mut h).oracle, px(20_000));
}
