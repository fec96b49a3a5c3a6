//! TEMPORARY adversarial review tests (to be deleted).
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    unused
)]

mod common;
use common::*;

use ballast_math::Fixed;
use ballast_risk::{
    account_health, Fill, HealthKind, LastPrice, Ledger, MarketCtx, MarketState, OptionsReport,
    RiskError, SettleReason,
};

const A: u32 = 1;
const LP: u32 = 2;
const FEES: u32 = 3;
const KEEPER: u32 = 4;
const OTHER: u32 = 5;
const OTHER_LP: u32 = 6;
const W: u32 = 7;
const ETH: u32 = 2;

fn trade(market: u32, size: i128, price: &str, fee: i128) -> Fill {
    Fill {
        market,
        size,
        price: fx(price),
        taker_fee: fee,
        maker_fee: 0,
    }
}
fn equity(l: &Ledger, who: u32) -> i128 {
    account_health(&l.accounts[&who], &l.markets, HealthKind::Maintenance, None)
        .unwrap()
        .equity
}
fn owed(l: &Ledger, who: u32, m: usize) -> i128 {
    l.accounts[&who]
        .positions
        .iter()
        .find(|(id, _)| *id == l.markets[m].id)
        .map(|(_, p)| p.pending_payment(&l.markets[m]).unwrap())
        .unwrap_or(0)
}

/// 1. The liquidator's exemption covers its pre-existing position: a whale dodges its share.
fn whale() -> Ledger {
    let mut l = ledger(20_000);
    l.deposit(A, 1_000 * USD).unwrap();
    l.deposit(W, 10_000_000 * USD).unwrap();
    l.deposit(OTHER, 10_000_000 * USD).unwrap();
    l.deposit(KEEPER, 10_000_000 * USD).unwrap();
    // A long 1 vs W; OTHER long 9 vs W: W short 10.
    l.fill(A, W, FEES, &trade(BTC, ONE_BTC, "20000", 0))
        .unwrap();
    l.fill(OTHER, W, FEES, &trade(BTC, 9 * ONE_BTC, "20000", 0))
        .unwrap();
    set_price(&mut l, Fixed::from_int(18_900), 60_000);
    assert_eq!(equity(&l, A), -100 * USD);
    l
}

#[test]
fn r1_liquidator_exemption_dodges_preexisting_share() {
    let mut k = whale();
    k.liquidate(A, KEEPER, BTC).unwrap();
    let (w_k, o_k) = (owed(&k, W, 0), owed(&k, OTHER, 0));
    let mut w = whale();
    w.liquidate(A, W, BTC).unwrap();
    let (w_w, o_w) = (owed(&w, W, 0), owed(&w, OTHER, 0));
    println!("keeper liquidates: W owes {w_k}, OTHER owes {o_k}");
    println!("whale liquidates:  W owes {w_w}, OTHER owes {o_w}");
    assert!(w_w == 0 && o_w >= 100 * USD);
    assert!(w.conserved() && k.conserved());
}

/// 2. Whole deficit covered while half the position stays open: a free option.
#[test]
fn r2_deficit_covered_then_rebound_pays_the_bankrupt() {
    let mut l = ledger(20_000);
    l.deposit(A, 1_000 * USD).unwrap();
    l.deposit(LP, 10_000_000 * USD).unwrap();
    l.deposit(OTHER, 100_000 * USD).unwrap();
    l.deposit(OTHER_LP, 100_000 * USD).unwrap();
    l.deposit(KEEPER, 1_000_000 * USD).unwrap();
    l.fill(A, LP, FEES, &trade(BTC, ONE_BTC, "20000", 0))
        .unwrap();
    l.fill(OTHER, OTHER_LP, FEES, &trade(BTC, -ONE_BTC, "20000", 0))
        .unwrap();
    set_price(&mut l, Fixed::from_int(18_900), 60_000);
    assert_eq!(equity(&l, A), -100 * USD);
    let o = l.liquidate(A, KEEPER, BTC).unwrap();
    println!("first call: {o:?}");
    println!(
        "A after: size {} equity {}",
        l.accounts[&A].size(BTC),
        equity(&l, A)
    );
    // Price back to 20,000 before anyone makes the second call.
    set_price(&mut l, Fixed::from_int(20_000), 120_000);
    println!("A equity at 20,000: {}", equity(&l, A));
    // A closes at the oracle itself and withdraws.
    let rest = l.accounts[&A].size(BTC);
    l.fill(A, LP, FEES, &trade(BTC, -rest, "20000", 0)).unwrap();
    let c = l.accounts[&A].collateral;
    l.withdraw(A, c).unwrap();
    println!("A withdrew {c} (deposited 1,000 USD; true equity without cover: 450 USD)");
    println!(
        "social loss owed by bystanders: {} + {}",
        owed(&l, OTHER, 0),
        owed(&l, OTHER_LP, 0)
    );
    assert!(l.conserved());
    assert!(c > 450 * USD);
}

/// 3. Settled market: a loser not closed within the grace leaves a hole after winners leave.
#[test]
fn r3_settlement_loser_after_grace_unresolvable() {
    let mut l = ledger(20_000);
    for who in 10..14 {
        l.deposit(who, 1_500 * USD).unwrap();
    }
    l.fill(10, 11, FEES, &trade(BTC, ONE_BTC, "20000", 0))
        .unwrap();
    l.fill(12, 13, FEES, &trade(BTC, ONE_BTC, "20000", 0))
        .unwrap();
    // An unrelated depositor whose tokens are in the engine.
    l.deposit(20, 10_000 * USD).unwrap();
    let breaker = config().breaker;
    let last = LastPrice {
        twap: Fixed::from_int(21_800),
        formed_at_ms: 0,
    };
    l.settle_market(BTC, last, SettleReason::Delisted).unwrap();
    l.market_mut(BTC).unwrap().now_ms = breaker.settlement_grace_ms;
    // Winners close (and anyone could close them) first.
    for w in [10, 12] {
        l.close_settled(w, BTC).unwrap();
    }
    let b = l.close_settled(11, BTC);
    println!("B close: {b:?}");
    let d = l.close_settled(13, BTC);
    println!("D close: {d:?}");
    assert_eq!(d, Err(RiskError::DeficitUnresolved));
    for w in [10, 12] {
        let c = l.accounts[&w].collateral;
        l.withdraw(w, c).unwrap();
        println!("winner {w} withdrew {c}");
    }
    println!(
        "pool {} net_deposits {} (depositor 20 is owed 10,000 USD)",
        l.markets[0].state.settlement_pool, l.net_deposits
    );
    assert!(l.net_deposits < 10_000 * USD);
}

fn book(mark: i128, at: u64, trade: bool) -> OptionsReport {
    OptionsReport {
        market: BTC,
        buckets: vec![],
        venue_initial: if mark > 0 { 10 * USD } else { 0 },
        venue_maintenance: 0,
        mark_value: mark,
        pnl: 0,
        timestamp_ms: at,
        trade,
    }
}

/// 4. An options book in a settled market freezes the account for ever.
#[test]
fn r4_options_book_in_settled_market_freezes_withdrawals() {
    let mut l = ledger(20_000);
    l.deposit(A, 1_000 * USD).unwrap();
    let mut fund = 0;
    {
        let Ledger {
            markets, accounts, ..
        } = &mut l;
        let a = accounts.get_mut(&A).unwrap();
        ballast_risk::apply_options_report(a, markets, book(100 * USD, 0, true), &mut fund)
            .unwrap();
    }
    assert!(l.accounts[&A].options.is_some());
    let last = LastPrice {
        twap: Fixed::from_int(20_000),
        formed_at_ms: 0,
    };
    l.settle_market(BTC, last, SettleReason::Delisted).unwrap();
    l.market_mut(BTC).unwrap().now_ms = 100 * HOUR;
    println!("withdraw: {:?}", l.withdraw(A, USD));
    println!("close_settled: {:?}", l.close_settled(A, BTC));
    let r = {
        let Ledger {
            markets, accounts, ..
        } = &mut l;
        let a = accounts.get_mut(&A).unwrap();
        ballast_risk::apply_options_report(a, markets, book(0, 1, false), &mut fund)
    };
    println!("emptying report: {r:?}");
    assert!(l.withdraw(A, USD).is_err());
}

/// 5. A fake (or transient) options liability is covered into collateral, then erased.
#[test]
fn r5_options_liability_covered_into_collateral() {
    let mut l = ledger(20_000);
    l.deposit(A, 1_000 * USD).unwrap();
    l.deposit(LP, 10_000_000 * USD).unwrap();
    l.deposit(OTHER, 1_000_000 * USD).unwrap();
    l.deposit(OTHER_LP, 1_000_000 * USD).unwrap();
    l.deposit(KEEPER, 1_000_000 * USD).unwrap();
    l.insurance_fund = 5_000 * USD;
    l.net_deposits += 5_000 * USD;
    l.fill(A, LP, FEES, &trade(BTC, ONE_BTC, "20000", 0))
        .unwrap();
    l.fill(OTHER, OTHER_LP, FEES, &trade(BTC, 10 * ONE_BTC, "20000", 0))
        .unwrap();
    let report = |l: &mut Ledger, r: OptionsReport| {
        let Ledger {
            markets,
            accounts,
            insurance_fund,
            ..
        } = l;
        let a = accounts.get_mut(&A).unwrap();
        ballast_risk::apply_options_report(a, markets, r, insurance_fund)
    };
    // Venue re-marks the book (trade = false: never refused) at a 50,000 USD liability.
    l.market_mut(BTC).unwrap().now_ms = 1_000;
    report(&mut l, book(-50_000 * USD, 1_000, false)).unwrap();
    println!("A equity with the mark: {}", equity(&l, A));
    let fund0 = l.insurance_fund;
    l.liquidate(A, KEEPER, BTC).unwrap();
    println!(
        "after liquidation: collateral {} fund {} -> {}",
        l.accounts[&A].collateral, fund0, l.insurance_fund
    );
    // The venue re-marks the book at zero (or empties it).
    l.market_mut(BTC).unwrap().now_ms = 2_000;
    report(&mut l, book(0, 2_000, false)).unwrap();
    println!(
        "A equity after re-mark: {} options {:?}",
        equity(&l, A),
        l.accounts[&A].options.is_some()
    );
    // A closes the rest at the oracle and withdraws.
    let rest = l.accounts[&A].size(BTC);
    if rest != 0 {
        l.fill(A, LP, FEES, &trade(BTC, -rest, "20000", 0)).unwrap();
    }
    let c = l.accounts[&A].collateral;
    let w = l.withdraw(A, c);
    println!("A withdraws {c}: {w:?} (deposited 1,000 USD)");
    println!(
        "bystanders owe {} + {}",
        owed(&l, OTHER, 0),
        owed(&l, OTHER_LP, 0)
    );
    assert!(l.conserved());
}

/// 6. A liquidator holding an unpriced market grows exposure (a fill would be refused).
#[test]
fn r6_liquidator_with_unpriced_market_grows() {
    let mut l = ledger(20_000);
    l.markets.push(MarketCtx {
        id: ETH,
        config: config(),
        state: MarketState::new(0),
        prices: prices(Fixed::from_int(1_500)),
        now_ms: 0,
    });
    l.deposit(A, 1_000 * USD).unwrap();
    l.deposit(LP, 10_000_000 * USD).unwrap();
    l.deposit(KEEPER, 10_000 * USD).unwrap();
    l.fill(A, LP, FEES, &trade(BTC, ONE_BTC, "20000", 0))
        .unwrap();
    // Keeper long 60 ETH (90,000 notional) with 10,000 USD.
    l.fill(KEEPER, LP, FEES, &trade(ETH, 60 * ONE_BTC, "1500", 0))
        .unwrap();
    // ETH goes dark (last aggregate 1,500 stands in); BTC drops.
    {
        let m = l.market_mut(ETH).unwrap();
        m.prices.opening_valid = false;
        m.prices.liquidation_valid = false;
        m.now_ms = 60_000;
    }
    set_price(&mut l, Fixed::from_int(19_400), 60_000);
    // A fill that grows the keeper in BTC is refused...
    let f = l
        .clone()
        .fill(KEEPER, LP, FEES, &trade(BTC, -ONE_BTC / 4, "19400", 0));
    println!("growing fill: {f:?}");
    // ...a liquidation that grows it is not.
    let o = l.liquidate(A, KEEPER, BTC);
    println!(
        "liquidation: {o:?}; keeper BTC {}",
        l.accounts[&KEEPER].size(BTC)
    );
}
