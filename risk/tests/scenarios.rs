//! Hand-computed scenarios: fill at the initial limit, liquidation in chunks to exactly the
//! liquidation-end health, the penalty split, a bankruptcy covered by insurance then socialized.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;
use common::*;

use ballast_math::Fixed;
use ballast_risk::{account_health, max_position, Fill, HealthKind, RiskError};

const TRADER: u32 = 1;
const LP: u32 = 2;
const FEES: u32 = 3;
const KEEPER: u32 = 4;

fn buy(size: i128, price: i64) -> Fill {
    Fill {
        market: BTC,
        size,
        price: Fixed::from_int(price),
        taker_fee: 0,
        maker_fee: 0,
    }
}

fn health(l: &ballast_risk::Ledger, who: u32, kind: HealthKind) -> ballast_risk::Health {
    account_health(&l.accounts[&who], &l.markets, kind, None).unwrap()
}

#[test]
fn twenty_x_is_the_limit_at_calm_volatility() {
    let mut l = ledger(20_000);
    l.deposit(TRADER, 1_000 * USD).unwrap();
    l.deposit(LP, 10_000_000 * USD).unwrap();
    // 1,000 USD at 5% initial margin buys 20,000 USD of notional: one BTC at 20,000.
    let max = max_position(
        &l.accounts[&TRADER],
        &l.markets,
        BTC,
        true,
        Fixed::from_int(20_000),
        Fixed::ZERO,
    )
    .unwrap();
    assert_eq!(max, ONE_BTC);
    let mut over = l.clone();
    assert_eq!(
        over.fill(TRADER, LP, FEES, &buy(ONE_BTC + 1, 20_000)),
        Err(RiskError::InsufficientMargin)
    );
    assert_eq!(over, l, "a rejected fill changes nothing");
    l.fill(TRADER, LP, FEES, &buy(ONE_BTC, 20_000)).unwrap();
    assert_eq!(
        health(&l, TRADER, HealthKind::Initial).surplus().unwrap(),
        0
    );
    assert!(l.conserved());
}

#[test]
fn liquidation_closes_chunks_until_liquidation_end_health_is_restored() {
    let mut l = ledger(20_000);
    l.deposit(TRADER, 1_000 * USD).unwrap();
    l.deposit(LP, 10_000_000 * USD).unwrap();
    l.deposit(KEEPER, 1_000_000 * USD).unwrap();
    l.fill(TRADER, LP, FEES, &buy(ONE_BTC, 20_000)).unwrap();
    // At 19,500: equity 500 > maintenance 487.5: healthy, not liquidatable.
    set_price(&mut l, Fixed::from_int(19_500), 60_000);
    assert_eq!(
        l.clone().liquidate(TRADER, KEEPER, BTC),
        Err(RiskError::NotLiquidatable)
    );
    // At 19,480: equity 480 < maintenance 487: liquidatable. Liquidation-end requirement is
    // 3.75% (maintenance 2.5% + half of the 2.5% gap), so with the 1% penalty it takes about
    // 250.5 / (0.0375 - 0.01) = 9,109 USD, 0.4676 BTC, to restore it; chunks are 25%.
    set_price(&mut l, Fixed::from_int(19_480), 120_000);
    let before = health(&l, TRADER, HealthKind::Maintenance);
    assert_eq!(before.equity, 480 * USD);
    // Chunks are half of the position the liquidation began from (0.5 BTC), so one call
    // closes exactly what restores liquidation-end health.
    let mut before_last = l.clone();
    let first = l.liquidate(TRADER, KEEPER, BTC).unwrap();
    assert!(first.liquidation_end_surplus >= 0, "one call restores it");
    assert_eq!(first.penalty, first.to_liquidator + first.to_insurance);
    assert_eq!(first.to_liquidator, first.penalty / 2);
    assert!(
        !l.accounts[&TRADER].being_liquidated,
        "above maintenance: flag cleared"
    );
    assert_eq!(l.accounts[&TRADER].positions[0].1.liquidation_base, 0);
    let outcomes = [first];
    let last = *outcomes.last().unwrap();
    let total_closed: i128 = outcomes.iter().map(|o| o.closed_size).sum();
    assert!(
        (46_000_000..48_000_000).contains(&total_closed),
        "about 0.4676 BTC: {total_closed}"
    );
    // Exactly the target: closing one base unit less in the last call (same takeover and
    // penalty rules) would have left liquidation-end health negative.
    let one_less = last.closed_size - 1;
    let market = before_last.markets[0].clone();
    let trader = before_last.accounts.get_mut(&TRADER).unwrap();
    let value = market
        .config
        .decimals
        .quote_value(
            -one_less,
            market.prices.oracle,
            ballast_math::Rounding::Floor,
        )
        .unwrap();
    trader.positions[0].1.size -= one_less;
    trader.positions[0].1.quote -= value;
    let notional = market
        .config
        .decimals
        .quote_value(
            one_less,
            market.prices.oracle,
            ballast_math::Rounding::Floor,
        )
        .unwrap();
    trader.collateral -= market
        .config
        .liquidation
        .penalty_fraction
        .mul_amount(notional, ballast_math::Rounding::Floor)
        .unwrap();
    let short_by_one = account_health(
        trader,
        &before_last.markets,
        HealthKind::LiquidationEnd,
        None,
    )
    .unwrap();
    assert!(
        short_by_one.surplus().unwrap() < 0,
        "one unit less leaves {:?}",
        short_by_one
    );
    // No longer liquidatable, and value is conserved.
    assert_eq!(
        l.clone().liquidate(TRADER, KEEPER, BTC),
        Err(RiskError::NotLiquidatable)
    );
    assert!(l.conserved());
    assert_eq!(
        l.insurance_fund,
        outcomes.iter().map(|o| o.to_insurance).sum::<i128>()
    );
}

#[test]
fn bankruptcy_uses_the_insurance_fund_then_socializes_the_rest() {
    let mut l = ledger(20_000);
    l.deposit(TRADER, 1_000 * USD).unwrap();
    l.deposit(LP, 10_000_000 * USD).unwrap();
    l.deposit(KEEPER, 1_000_000 * USD).unwrap();
    l.fill(TRADER, LP, FEES, &buy(ONE_BTC, 20_000)).unwrap();
    l.insurance_fund = 300 * USD;
    l.net_deposits += 300 * USD;
    // Gap down to 18,000: equity 1,000 - 2,000 = -1,000 USD. Bankrupt: one call covers the
    // whole deficit and closes the whole position, no penalty, and the throttle does not apply.
    set_price(&mut l, Fixed::from_int(18_000), 60_000);
    let outcomes = [l.liquidate(TRADER, KEEPER, BTC).unwrap()];
    assert!(l.conserved());
    assert!(
        l.accounts[&TRADER].positions.is_empty(),
        "closed in one call"
    );
    assert!(outcomes.iter().all(|o| o.bankrupt && o.penalty == 0));
    assert_eq!(outcomes[0].closed_size, ONE_BTC);
    let resolved = outcomes[0].bankruptcy.expect("the call covers the deficit");
    assert_eq!(resolved.deficit, 1_000 * USD);
    assert_eq!(resolved.from_insurance, 300 * USD);
    assert_eq!(resolved.socialized, 700 * USD);
    // The fund is empty: no keeper reward.
    assert!(outcomes.iter().all(|o| o.to_liquidator == 0));
    assert_eq!(l.insurance_fund, 0);
    assert_eq!(l.accounts[&TRADER].collateral, 0);
    // The keeper takes the position over at the index after the loss, so it pays nothing for
    // it: the LP's short (the only other position) carries the whole 700 USD (rounded up).
    let m = &l.markets[0];
    let lp = l.accounts[&LP].positions[0].1;
    let keeper = l.accounts[&KEEPER].positions[0].1;
    assert_eq!(keeper.pending_payment(m).unwrap(), 0);
    let owed = lp.pending_payment(m).unwrap();
    assert!((700 * USD..=700 * USD + 1).contains(&owed), "{owed}");
    assert_eq!(m.state.settlement_pool, -700 * USD);
}

#[test]
fn a_keeper_closing_a_bankrupt_account_is_rewarded_from_the_insurance_fund() {
    let mut l = ledger(20_000);
    l.deposit(TRADER, 1_000 * USD).unwrap();
    l.deposit(LP, 10_000_000 * USD).unwrap();
    l.deposit(KEEPER, 1_000_000 * USD).unwrap();
    l.fill(TRADER, LP, FEES, &buy(ONE_BTC, 20_000)).unwrap();
    l.insurance_fund = 1_300 * USD;
    l.net_deposits += 1_300 * USD;
    set_price(&mut l, Fixed::from_int(18_000), 60_000);
    let keeper_before = l.accounts[&KEEPER].collateral;
    let first = l.liquidate(TRADER, KEEPER, BTC).unwrap();
    // Deficit 1,000 from the fund, then 0.25% of the 18,000 USD closed: 45 USD (0.25% is not
    // exact in binary and rounds down, against the keeper: one base unit allowed).
    assert_eq!(first.bankruptcy.unwrap().from_insurance, 1_000 * USD);
    assert!(
        (44_999_999..=45_000_000).contains(&first.to_liquidator),
        "{}",
        first.to_liquidator
    );
    assert_eq!(
        l.accounts[&KEEPER].collateral,
        keeper_before + first.to_liquidator
    );
    assert_eq!(l.insurance_fund, 300 * USD - first.to_liquidator);
    assert!(l.conserved());
}

#[test]
fn liquidation_price_is_where_maintenance_health_crosses_zero() {
    let mut l = ledger(20_000);
    l.deposit(TRADER, 1_000 * USD).unwrap();
    l.deposit(LP, 10_000_000 * USD).unwrap();
    l.fill(TRADER, LP, FEES, &buy(ONE_BTC, 20_000)).unwrap();
    // Long 1 BTC from 20,000 with 1,000 USD: equity = 1000 + (p - 20000), maintenance = 2.5% p,
    // so the boundary is p = 19000 / 0.975 = 19,487.18.
    let p = ballast_risk::health::liquidation_price(&l.accounts[&TRADER], &l.markets, BTC)
        .unwrap()
        .unwrap();
    assert!(
        (p.to_bits() - fx("19487.1794872").to_bits()).abs() < fx("0.01").to_bits(),
        "{p}"
    );
    // Just above it the account is healthy, at it liquidatable.
    set_price(&mut l, p, 60_000);
    assert!(
        health(&l, TRADER, HealthKind::Maintenance)
            .surplus()
            .unwrap()
            < 0
    );
    set_price(&mut l, p.checked_add(fx("0.01")).unwrap(), 60_000);
    assert!(
        health(&l, TRADER, HealthKind::Maintenance)
            .surplus()
            .unwrap()
            >= 0
    );
    // The LP's short of 1 BTC against 10M USD: 10,020,000 - p = 10% p - 275,000 (third bracket)
    // at p = 9,359,090.91.
    let lp = ballast_risk::health::liquidation_price(&l.accounts[&LP], &l.markets, BTC)
        .unwrap()
        .unwrap();
    assert!(
        (lp.to_bits() - fx("9359090.909").to_bits()).abs() < fx("0.01").to_bits(),
        "{lp}"
    );
    // A long backed by more than its notional is never liquidatable.
    l.deposit(KEEPER, 25_000 * USD).unwrap();
    set_price(&mut l, Fixed::from_int(20_000), 120_000);
    l.fill(KEEPER, LP, FEES, &buy(ONE_BTC, 20_000)).unwrap();
    assert_eq!(
        ballast_risk::health::liquidation_price(&l.accounts[&KEEPER], &l.markets, BTC).unwrap(),
        None
    );
}

#[test]
fn a_venue_cannot_drain_an_account_through_fees_or_bad_prices() {
    let mut l = ledger(20_000);
    l.deposit(TRADER, 10_000 * USD).unwrap();
    l.deposit(LP, 10_000_000 * USD).unwrap();
    l.fill(TRADER, LP, FEES, &buy(ONE_BTC / 2, 20_000)).unwrap();
    // Closing half a BTC (10,000 USD notional): the fee bound is 1% = 100 USD.
    let close = |fee: i128| Fill {
        market: BTC,
        size: -ONE_BTC / 2,
        price: Fixed::from_int(20_000),
        taker_fee: fee,
        maker_fee: 0,
    };
    let before = l.clone();
    assert_eq!(
        l.fill(TRADER, LP, FEES, &close(50_000 * USD)),
        Err(RiskError::FeeTooLarge)
    );
    assert_eq!(
        l.fill(TRADER, LP, FEES, &close(100 * USD + 1)),
        Err(RiskError::FeeTooLarge)
    );
    assert_eq!(l, before);
    // An account below maintenance (equity still positive) may cut risk, but not at a price
    // that leaves its maintenance surplus lower.
    set_price(&mut l, Fixed::from_int(18_200), 60_000); // equity 10,000 - 900 = 9,100 > maintenance
    let mut deep = ledger(20_000);
    deep.deposit(TRADER, 1_000 * USD).unwrap();
    deep.deposit(LP, 10_000_000 * USD).unwrap();
    deep.fill(TRADER, LP, FEES, &buy(ONE_BTC, 20_000)).unwrap();
    set_price(&mut deep, Fixed::from_int(19_400), 60_000); // equity 400 < maintenance 485
    let sell = |size: i128, price: &str| Fill {
        market: BTC,
        size: -size,
        price: fx(price),
        taker_fee: 0,
        maker_fee: 0,
    };
    // Selling 0.1 BTC 1.9% below the oracle and paying the largest allowed fee (1%) loses
    // 36.86 + 19.03 USD against the 48.50 USD of maintenance it releases: refused.
    let snapshot = deep.clone();
    let mut bad = sell(ONE_BTC / 10, "19031.4");
    bad.taker_fee = 19_031_399;
    assert_eq!(
        deep.fill(TRADER, LP, FEES, &bad),
        Err(RiskError::InsufficientMargin)
    );
    assert_eq!(deep, snapshot);
    // Without the fee the same price still releases more than it costs: allowed.
    let mut probe = deep.clone();
    probe
        .fill(TRADER, LP, FEES, &sell(ONE_BTC / 10, "19031.4"))
        .unwrap();
    // At the oracle price the same reduction improves maintenance health and passes.
    deep.fill(TRADER, LP, FEES, &sell(ONE_BTC / 10, "19400"))
        .unwrap();
    assert!(deep.conserved());
    // Underwater (equity below zero), the below-oracle sell that the surplus rule alone would
    // let through (it releases more maintenance than it costs) is refused: it would hand the
    // account's loss to its counterparty.
    set_price(&mut deep, Fixed::from_int(18_900), 120_000);
    let underwater = account_health(
        &deep.accounts[&TRADER],
        &deep.markets,
        HealthKind::Maintenance,
        None,
    )
    .unwrap();
    assert!(underwater.equity < 0, "{underwater:?}");
    let snapshot = deep.clone();
    assert_eq!(
        deep.fill(TRADER, LP, FEES, &sell(ONE_BTC / 10, "18600")),
        Err(RiskError::NegativeEquity)
    );
    assert_eq!(deep, snapshot);
}
