//! Solvency: no deficit escapes, every liquidation can finish, exits always exist. One test per
//! finding of the solvency review, each as the attack or the failure it describes, asserting
//! the outcome (errors, balances, conservation), not the rule's internals.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;
use common::*;

use ballast_math::Fixed;
use ballast_risk::config::LiquidationThrottle;
use ballast_risk::health::initial_health_at_target;
use ballast_risk::{
    account_health, Fill, HealthKind, LastPrice, Ledger, MarketCtx, MarketState, RiskError,
    SettleReason,
};

const TRADER: u32 = 1;
const LP: u32 = 2;
const FEES: u32 = 3;
const KEEPER: u32 = 4;
const OTHER: u32 = 5;
const OTHER_LP: u32 = 6;
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

/// The trader long 1 BTC at 20,000 on 1,000 USD against a deep LP, with a keeper funded to
/// take positions over: the set-up most solvency cases start from.
fn trader_long_one_btc() -> Ledger {
    let mut l = ledger(20_000);
    l.deposit(TRADER, 1_000 * USD).unwrap();
    l.deposit(LP, 10_000_000 * USD).unwrap();
    l.deposit(KEEPER, 1_000_000 * USD).unwrap();
    l.fill(TRADER, LP, FEES, &trade(BTC, ONE_BTC, "20000", 0))
        .unwrap();
    l
}

/// The review's case: 1,000 USD, long 1 BTC at 20,000, a second pair of accounts holding the
/// market too, the oracle at 18,900 (equity -100).
fn underwater() -> Ledger {
    let mut l = ledger(20_000);
    l.deposit(TRADER, 1_000 * USD).unwrap();
    l.deposit(LP, 10_000_000 * USD).unwrap();
    l.deposit(OTHER, 100_000 * USD).unwrap();
    l.deposit(OTHER_LP, 100_000 * USD).unwrap();
    l.fill(TRADER, LP, FEES, &trade(BTC, ONE_BTC, "20000", 0))
        .unwrap();
    l.fill(OTHER, OTHER_LP, FEES, &trade(BTC, -ONE_BTC, "20000", 0))
        .unwrap();
    set_price(&mut l, Fixed::from_int(18_900), 60_000);
    assert_eq!(equity(&l, TRADER), -100 * USD);
    l
}

#[test]
fn an_underwater_close_below_the_oracle_is_refused() {
    let mut l = underwater();
    let before = l.clone();
    // Selling the whole BTC at 18,541 (inside the 2% band) used to pass and leave collateral
    // -459 with no position: now refused, nothing changes.
    assert_eq!(
        l.fill(TRADER, LP, FEES, &trade(BTC, -ONE_BTC, "18541", 0)),
        Err(RiskError::NegativeEquity)
    );
    // Part of it, to a second account of the same owner, is refused the same way.
    assert_eq!(
        l.fill(TRADER, OTHER, FEES, &trade(BTC, -ONE_BTC / 2, "18541", 0)),
        Err(RiskError::NegativeEquity)
    );
    // At the oracle price with any fee: the fee would deepen the deficit.
    assert_eq!(
        l.fill(TRADER, LP, FEES, &trade(BTC, -ONE_BTC, "18900", 1)),
        Err(RiskError::NegativeEquity)
    );
    assert_eq!(l, before);
    // Above the oracle with a fee the improvement covers: allowed (10 USD better, 5 USD fee).
    let mut better = l.clone();
    better
        .fill(TRADER, LP, FEES, &trade(BTC, -ONE_BTC, "18910", 5 * USD))
        .unwrap();
    assert!(better.conserved());
}

/// A fuzz finding: an underwater account reduced its position at the oracle again and again
/// (each fill leaves its equity as it was and its requirement smaller, so it passes), handing
/// its position to the other side until the positions left to share its deficit were dust.
/// The loss per unit of those positions used to be valued at whole quote units per unit of
/// index, which rounded to nothing, and the deficit could no longer be covered. Now the loss
/// per unit is exact: however small the positions left, the liquidation covers the deficit and
/// the books still add up.
#[test]
fn an_underwater_account_cut_down_to_dust_is_still_liquidated_and_its_deficit_covered() {
    let mut l = underwater();
    // Other holders leave the market, so that only the trader and its counterparty hold.
    l.fill(OTHER_LP, OTHER, FEES, &trade(BTC, -ONE_BTC, "18900", 0))
        .unwrap();
    // Halves at the oracle, down to 3 base units of BTC on each side.
    while l.accounts[&TRADER].size(BTC) > 3 {
        let half = (l.accounts[&TRADER].size(BTC) / 2).max(1);
        l.fill(TRADER, LP, FEES, &trade(BTC, -half, "18900", 0))
            .unwrap();
        assert_eq!(equity(&l, TRADER), -100 * USD);
    }
    assert!(l.conserved());
    let lp_before = l.accounts[&LP].clone();
    let outcome = l.liquidate(TRADER, OTHER, BTC).unwrap();
    let covered = outcome.bankruptcy.expect("deficit covered");
    assert_eq!(covered.deficit, 100 * USD);
    assert_eq!(covered.socialized, 100 * USD);
    assert!(l.accounts[&TRADER].is_flat());
    assert!(l.accounts[&TRADER].collateral >= 0);
    // The LP's 3 units owe the whole social loss (100 USD) in the pool: nothing is lost.
    let m = &l.markets[0];
    let owed = l.accounts[&LP].positions[0].1.pending_payment(m).unwrap();
    assert!((100 * USD..=100 * USD + 1).contains(&owed), "{owed}");
    assert_eq!(lp_before.collateral, l.accounts[&LP].collateral);
    assert!(l.conserved());
}

#[test]
fn an_underwater_close_at_the_oracle_resolves_its_deficit_in_the_same_fill() {
    let mut l = underwater();
    l.insurance_fund = 40 * USD;
    l.net_deposits += 40 * USD;
    let pool_before = l.markets[0].state.settlement_pool;
    let outcome = l
        .fill(TRADER, LP, FEES, &trade(BTC, -ONE_BTC, "18900", 0))
        .unwrap();
    let covered = outcome
        .taker_bankruptcy
        .expect("deficit covered in the fill");
    assert_eq!(covered.deficit, 100 * USD);
    assert_eq!(covered.from_insurance, 40 * USD);
    assert_eq!(covered.socialized, 60 * USD);
    assert_eq!(l.accounts[&TRADER].collateral, 0);
    assert!(l.accounts[&TRADER].positions.is_empty());
    assert_eq!(l.insurance_fund, 0);
    // The loss sits in the pool, owed by the two remaining positions (1 BTC each side).
    let m = &l.markets[0];
    assert_eq!(m.state.settlement_pool, pool_before - 60 * USD);
    let owed: i128 = [OTHER, OTHER_LP]
        .iter()
        .map(|a| l.accounts[a].positions[0].1.pending_payment(m).unwrap())
        .sum();
    assert!((60 * USD..=60 * USD + 2).contains(&owed), "{owed}");
    assert!(l.conserved());
}

#[test]
fn a_close_whose_deficit_nobody_can_cover_is_refused_and_liquidation_resolves_it() {
    let mut l = trader_long_one_btc();
    set_price(&mut l, Fixed::from_int(18_900), 60_000);
    // Closing against the only counterparty at the oracle would leave 100 USD owed by nobody.
    let before = l.clone();
    assert_eq!(
        l.fill(TRADER, LP, FEES, &trade(BTC, -ONE_BTC, "18900", 0)),
        Err(RiskError::DeficitUnresolved)
    );
    assert_eq!(l, before);
    // A keeper's liquidation covers it while the LP still holds its side (the keeper itself is
    // exempt), and the trader ends flat with nothing owed.
    let mut calls = 0;
    while !l.accounts[&TRADER].positions.is_empty() {
        l.liquidate(TRADER, KEEPER, BTC).unwrap();
        calls += 1;
    }
    assert_eq!(calls, 1, "a bankrupt account closes whole");
    assert!(l.accounts[&TRADER].collateral >= 0);
    assert!(l.conserved());
}

#[test]
fn withdrawals_face_the_target_initial_requirement() {
    let mut l = ledger(20_000);
    l.deposit(TRADER, 5_000 * USD).unwrap();
    l.deposit(LP, 10_000_000 * USD).unwrap();
    l.fill(TRADER, LP, FEES, &trade(BTC, ONE_BTC, "20000", 0))
        .unwrap();
    {
        // A volatility spike: the target initial term jumps; the applied one has not ramped yet.
        let m = l.market_mut(BTC).unwrap();
        m.state.update_volatility(&config(), fx("0.4"), 0).unwrap();
        m.state.applied = m.state.target;
        m.state.update_volatility(&config(), fx("1.5"), 0).unwrap();
        assert!(m.state.target.initial > m.state.applied.initial);
    }
    let trader = l.accounts[&TRADER].clone();
    let applied = account_health(&trader, &l.markets, HealthKind::Initial, None)
        .unwrap()
        .surplus()
        .unwrap();
    let target = initial_health_at_target(&trader, &l.markets)
        .unwrap()
        .surplus()
        .unwrap();
    assert!(target >= 0 && applied > target);
    // What the applied requirement would free but the target does not: refused.
    let before = l.clone();
    assert_eq!(
        l.withdraw(TRADER, target + 1),
        Err(RiskError::InsufficientMargin)
    );
    assert_eq!(l, before);
    l.withdraw(TRADER, target).unwrap();
    assert_eq!(
        initial_health_at_target(&l.accounts[&TRADER], &l.markets)
            .unwrap()
            .surplus()
            .unwrap(),
        0
    );
}

#[test]
fn a_recovered_account_is_never_liquidated_and_its_flag_clears() {
    let mut l = ledger(20_000);
    // A throttle of 100 USD per window, so the first call closes only part of what is needed.
    l.markets[0].config.liquidation.throttle = LiquidationThrottle::On;
    l.markets[0].config.liquidation.throttle_notional = 100 * USD;
    l.deposit(TRADER, 1_000 * USD).unwrap();
    l.deposit(LP, 10_000_000 * USD).unwrap();
    l.deposit(KEEPER, 1_000_000 * USD).unwrap();
    l.fill(TRADER, LP, FEES, &trade(BTC, ONE_BTC, "20000", 0))
        .unwrap();
    set_price(&mut l, Fixed::from_int(19_480), 60_000);
    l.liquidate(TRADER, KEEPER, BTC).unwrap();
    let flagged = &l.accounts[&TRADER];
    assert!(flagged.being_liquidated);
    assert_eq!(flagged.positions[0].1.liquidation_base, ONE_BTC);
    assert!(
        account_health(flagged, &l.markets, HealthKind::Maintenance, None)
            .unwrap()
            .surplus()
            .unwrap()
            < 0
    );
    // Days later the price is back: the flag alone no longer makes it liquidatable.
    set_price(&mut l, Fixed::from_int(20_500), 3 * 24 * HOUR);
    assert_eq!(
        l.clone().liquidate(TRADER, KEEPER, BTC),
        Err(RiskError::NotLiquidatable)
    );
    // The next operation that sees it healthy clears the flag and the chunk base.
    l.deposit(TRADER, 1).unwrap();
    let recovered = &l.accounts[&TRADER];
    assert!(!recovered.being_liquidated);
    assert_eq!(recovered.positions[0].1.liquidation_base, 0);
}

/// Two markets (BTC at 20,000, ETH at 1,500), the trader long both against the LP.
fn two_markets(eth_counterparty: u32) -> Ledger {
    let mut l = ledger(20_000);
    l.markets.push(MarketCtx {
        id: ETH,
        config: config(),
        state: MarketState::new(0),
        prices: prices(Fixed::from_int(1_500)),
        now_ms: 0,
    });
    l.deposit(TRADER, 2_000 * USD).unwrap();
    for who in [LP, KEEPER, OTHER, OTHER_LP] {
        l.deposit(who, 10_000_000 * USD).unwrap();
    }
    l.fill(TRADER, LP, FEES, &trade(BTC, ONE_BTC, "20000", 0))
        .unwrap();
    l.fill(
        TRADER,
        eth_counterparty,
        FEES,
        &trade(ETH, 10 * ONE_BTC, "1500", 0),
    )
    .unwrap();
    // Bystanders in BTC.
    l.fill(OTHER, OTHER_LP, FEES, &trade(BTC, ONE_BTC, "20000", 0))
        .unwrap();
    // A 10% crash in both: loss 3,500 on 2,000 of collateral, equity -1,500.
    for (id, price) in [(BTC, 18_000), (ETH, 1_350)] {
        let m = l.market_mut(id).unwrap();
        m.prices = prices(Fixed::from_int(price));
        m.now_ms = 60_000;
    }
    assert_eq!(equity(&l, TRADER), -1_500 * USD);
    l
}

#[test]
fn a_cross_margin_bankruptcy_is_shared_over_the_markets_held_pro_rata() {
    // ETH held against a bystander, so both markets have positions that pay.
    let mut l = two_markets(OTHER_LP);
    let pools = |l: &Ledger| {
        (
            l.markets[0].state.settlement_pool,
            l.markets[1].state.settlement_pool,
        )
    };
    let (btc_before, eth_before) = pools(&l);
    // The BTC call covers BTC's part of the deficit (18,000 of 31,500 of notional) and closes
    // the BTC position; the ETH call covers the rest. Each part is shared over both markets.
    let first = l.liquidate(TRADER, KEEPER, BTC).unwrap();
    assert_eq!(first.bankruptcy.unwrap().socialized, 857_142_858);
    let second = l.liquidate(TRADER, KEEPER, ETH).unwrap();
    let covered = first.bankruptcy.unwrap().deficit + second.bankruptcy.unwrap().deficit;
    assert!(
        (1_500 * USD..=1_500 * USD + 1).contains(&covered),
        "{covered}"
    );
    assert!(l.accounts[&TRADER].positions.is_empty());
    // In all, pro rata to the trader's notional: 18,000 BTC and 13,500 ETH of 31,500.
    let (btc_after, eth_after) = pools(&l);
    let (btc, eth) = (btc_before - btc_after, eth_before - eth_after);
    assert!((857_142_855..=857_142_860).contains(&btc), "{btc}");
    assert!((642_857_140..=642_857_145).contains(&eth), "{eth}");
    assert_eq!(btc + eth, covered);
    // The keeper took its positions over at the index after the loss: it owes nothing.
    let keeper = &l.accounts[&KEEPER];
    for (i, m) in [BTC, ETH].iter().enumerate() {
        let owed = keeper
            .position(*m)
            .unwrap()
            .pending_payment(&l.markets[i])
            .unwrap();
        assert_eq!(owed, 0);
    }
    assert!(l.conserved());
}

#[test]
fn a_liquidator_pays_its_share_for_what_it_held_before() {
    // ETH held against the keeper (short 10 ETH at 1,500), who then liquidates the trader:
    // for what it held before it pays its share of the loss like any holder (review finding
    // F5: the exemption once covered a liquidator's existing positions, so a large holder could
    // dodge its share by liquidating); for what it takes over it pays nothing.
    let mut l = two_markets(KEEPER);
    l.liquidate(TRADER, KEEPER, BTC).unwrap();
    let keeper_before = l.accounts[&KEEPER].collateral;
    let o = l.liquidate(TRADER, KEEPER, ETH).unwrap();
    let eth_part = o.bankruptcy.unwrap().socialized;
    assert!(eth_part > 600 * USD, "ETH's part of the 1,500: {eth_part}");
    // Taking over the trader's 10 ETH long closes the keeper's short at 1,350 (a 1,500 USD
    // gain), after it paid the loss on it: the ETH part, the only position paying in ETH.
    assert!(l.accounts[&KEEPER].position(ETH).is_none());
    let gain = l.accounts[&KEEPER].collateral - keeper_before;
    let expected = 1_500 * USD - eth_part + o.to_liquidator;
    assert!(
        (expected - 2..=expected + 2).contains(&gain),
        "{gain} vs {expected}"
    );
    assert!(l.conserved());
}

#[test]
fn an_options_mark_is_never_covered_into_collateral() {
    // Review finding F1: the whole negative equity, options mark included, used to be covered
    // into collateral while the mark stayed on the books, so a re-mark at zero left the
    // account 49,000 USD richer. Only the realized deficit is covered now.
    let mut l = trader_long_one_btc();
    l.insurance_fund = 5_000 * USD;
    l.net_deposits += 5_000 * USD;
    set_price(&mut l, Fixed::from_int(20_000), 60_000);
    let report = |mark: i128, at: u64| ballast_risk::OptionsReport {
        market: BTC,
        buckets: vec![],
        venue_initial: 0,
        venue_maintenance: 0,
        mark_value: mark,
        pnl: 0,
        timestamp_ms: at,
        trade: false,
    };
    let mut a = l.accounts[&TRADER].clone();
    let mut fund = l.insurance_fund;
    ballast_risk::apply_options_report(
        &mut a,
        &mut l.markets,
        report(-50_000 * USD, 30_000),
        &mut fund,
    )
    .unwrap();
    l.accounts.insert(TRADER, a);
    assert_eq!(equity(&l, TRADER), -49_000 * USD);
    // Liquidated: the perp equity is +1,000, so nothing is covered and no fund is spent.
    let o = l.liquidate(TRADER, KEEPER, BTC).unwrap();
    assert!(o.bankrupt);
    assert_eq!(o.bankruptcy, None);
    assert_eq!(l.insurance_fund, 5_000 * USD);
    assert!(l.accounts[&TRADER].collateral <= 1_000 * USD);
    assert!(l.conserved());
}

#[test]
fn a_bankrupt_account_closes_whole_so_no_covered_loss_is_left_to_gamble_with() {
    // Review finding F2: the whole deficit used to be covered while half the position stayed
    // open, so a rebound paid the bankrupt account with other traders' money.
    let mut l = trader_long_one_btc();
    l.deposit(OTHER, 100_000 * USD).unwrap();
    l.deposit(OTHER_LP, 100_000 * USD).unwrap();
    l.fill(OTHER, OTHER_LP, FEES, &trade(BTC, ONE_BTC, "20000", 0))
        .unwrap();
    set_price(&mut l, Fixed::from_int(18_900), 60_000);
    let o = l.liquidate(TRADER, KEEPER, BTC).unwrap();
    assert_eq!(o.closed_size, ONE_BTC, "closed whole in the covering call");
    assert_eq!(o.bankruptcy.unwrap().deficit, 100 * USD);
    assert!(l.accounts[&TRADER].positions.is_empty());
    assert!((0..=1).contains(&l.accounts[&TRADER].collateral));
    // The rebound belongs to whoever holds the position now, not to the bankrupt account.
    set_price(&mut l, Fixed::from_int(20_000), 120_000);
    assert!(l.accounts[&TRADER].collateral <= 1);
    assert!(l.conserved());
}

#[test]
fn a_liquidator_holding_an_unpriced_market_cannot_grow_on_it() {
    // Review finding F8: a liquidator whose ETH is dark took over BTC on the stale valuation.
    let mut l = two_markets(OTHER_LP);
    l.fill(KEEPER, OTHER, FEES, &trade(ETH, 60 * ONE_BTC, "1350", 0))
        .unwrap();
    l.market_mut(ETH).unwrap().prices.liquidation_valid = false;
    l.market_mut(ETH).unwrap().prices.opening_valid = false;
    // The trader holds ETH too (dark): no cover, and the keeper may not grow either.
    let before = l.clone();
    assert_eq!(
        l.liquidate(TRADER, KEEPER, BTC),
        Err(RiskError::MarketHalted)
    );
    assert_eq!(l, before);
}

/// Four accounts at 20,000: A and C long 1 BTC each, B and D short, 1,500 USD of collateral
/// each, and an insurance fund of 400 USD.
fn before_settlement() -> Ledger {
    let mut l = ledger(20_000);
    for who in 10..14 {
        l.deposit(who, 1_500 * USD).unwrap();
    }
    l.fill(10, 11, FEES, &trade(BTC, ONE_BTC, "20000", 0))
        .unwrap();
    l.fill(12, 13, FEES, &trade(BTC, ONE_BTC, "20000", 0))
        .unwrap();
    l.insurance_fund = 400 * USD;
    l.net_deposits += 400 * USD;
    l
}

#[test]
fn a_dead_oracle_settles_the_market_and_every_position_closes_at_the_twap() {
    let mut l = before_settlement();
    let breaker = config().breaker;
    // The feeders stop at minute 1; the last time-weighted average was 21,800.
    let last = LastPrice {
        twap: Fixed::from_int(21_800),
        formed_at_ms: 60_000,
    };
    {
        let m = l.market_mut(BTC).unwrap();
        m.prices.opening_valid = false;
        m.prices.liquidation_valid = false;
        m.now_ms = 60_000 + breaker.settle_after_ms - 1;
    }
    assert_eq!(
        l.settle_market(BTC, last, SettleReason::OracleDead),
        Err(RiskError::NotSettled)
    );
    let settled_at = 60_000 + breaker.settle_after_ms;
    l.market_mut(BTC).unwrap().now_ms = settled_at;
    let s = l
        .settle_market(BTC, last, SettleReason::OracleDead)
        .unwrap();
    assert_eq!(s.price, Fixed::from_int(21_800));
    // Nothing but closes now.
    assert_eq!(
        l.fill(10, 11, FEES, &trade(BTC, -ONE_BTC, "21800", 0)),
        Err(RiskError::MarketSettled)
    );
    assert_eq!(l.withdraw(10, USD), Err(RiskError::MarketSettled));
    assert_eq!(l.liquidate(11, 10, BTC), Err(RiskError::MarketSettled));
    // Winners (the longs, +1,800) are paid only out of what losers have paid in; losers close
    // at once.
    assert_eq!(l.close_settled(10, BTC), Err(RiskError::SettlementPending));
    // B loses 1,800 on 1,500: 300 from the fund.
    let b = l.close_settled(11, BTC).unwrap();
    assert_eq!(b.pnl, -1_800 * USD);
    assert_eq!(b.bankruptcy.unwrap().from_insurance, 300 * USD);
    // D: 100 from the fund, 200 shared by the open longs (1 BTC each: 100 USD each).
    let d = l.close_settled(13, BTC).unwrap();
    let covered = d.bankruptcy.unwrap();
    assert_eq!(
        (covered.from_insurance, covered.socialized),
        (100 * USD, 200 * USD)
    );
    assert_eq!(l.insurance_fund, 0);
    for long in [10, 12] {
        let c = l.close_settled(long, BTC).unwrap();
        // 1,800 of gain minus the 100 shared (rounded up against the payer).
        assert!(
            (1_699_999_999..=1_700_000_000).contains(&c.pnl),
            "{}",
            c.pnl
        );
        assert!(l.accounts[&long].positions.is_empty());
    }
    for who in 10..14 {
        assert!(l.accounts[&who].collateral >= 0);
        assert!(l.accounts[&who].positions.is_empty());
    }
    let m = &l.markets[0];
    assert_eq!(m.state.open_interest, 0);
    assert!(
        (0..=2).contains(&m.state.settlement_pool),
        "dust only: {}",
        m.state.settlement_pool
    );
    assert!(l.conserved());
    // Free collateral is withdrawable again.
    let free = l.accounts[&10].collateral;
    l.withdraw(10, free).unwrap();
}

#[test]
fn settlement_needs_a_dead_oracle_or_the_owner() {
    let mut l = before_settlement();
    // A time-weighted average away from the valid oracle (20,000) the owner could pick a moment
    // for (review finding F7): a delisting with a valid price settles at that price.
    let last = LastPrice {
        twap: Fixed::from_int(20_900),
        formed_at_ms: 0,
    };
    // Long after the last aggregate, but the price is still valid: no settlement.
    l.market_mut(BTC).unwrap().now_ms = 100 * 24 * HOUR;
    assert_eq!(
        l.settle_market(BTC, last, SettleReason::OracleDead),
        Err(RiskError::NotSettled)
    );
    // The owner's delisting needs no condition; a second settlement is refused.
    let s = l.settle_market(BTC, last, SettleReason::Delisted).unwrap();
    assert_eq!(s.price, Fixed::from_int(20_000));
    assert_eq!(
        l.settle_market(BTC, last, SettleReason::Delisted),
        Err(RiskError::MarketSettled)
    );
    // Nobody gains or loses at 20,000: everyone closes at once.
    for who in 10..14 {
        assert_eq!(l.close_settled(who, BTC).unwrap().pnl, 0);
        assert_eq!(l.accounts[&who].collateral, 1_500 * USD);
    }
    assert!(l.conserved());
}

#[test]
fn gainers_are_paid_only_out_of_what_losers_paid_in() {
    // Review finding F3: with a grace period, gainers that closed first left a loser's deficit
    // with nobody to share it and the books short of an unrelated depositor's 10,000 USD.
    let mut l = before_settlement();
    l.insurance_fund = 0;
    l.net_deposits -= 400 * USD;
    l.deposit(20, 10_000 * USD).unwrap();
    let last = LastPrice {
        twap: Fixed::from_int(21_800),
        formed_at_ms: 0,
    };
    {
        let m = l.market_mut(BTC).unwrap();
        m.prices.liquidation_valid = false;
        m.prices.opening_valid = false;
        m.now_ms = 100 * 24 * HOUR;
    }
    l.settle_market(BTC, last, SettleReason::OracleDead)
        .unwrap();
    // However late, a gainer goes first only as far as losers have paid in: not at all yet.
    l.market_mut(BTC).unwrap().now_ms = 200 * 24 * HOUR;
    assert_eq!(l.close_settled(10, BTC), Err(RiskError::SettlementPending));
    assert_eq!(l.close_settled(12, BTC), Err(RiskError::SettlementPending));
    // B pays 1,800 (300 of it shared by A, C and D): A's 1,700 fits, C's must wait for D.
    l.close_settled(11, BTC).unwrap();
    l.close_settled(10, BTC).unwrap();
    assert_eq!(l.close_settled(12, BTC), Err(RiskError::SettlementPending));
    let d = l.close_settled(13, BTC).unwrap();
    assert!(
        d.bankruptcy.is_some(),
        "D's deficit shared by C, still open"
    );
    l.close_settled(12, BTC).unwrap();
    for who in 10..14 {
        assert!(l.accounts[&who].positions.is_empty());
        assert!(l.accounts[&who].collateral >= 0);
    }
    let pool = l.markets[0].state.settlement_pool;
    assert!((0..=4).contains(&pool), "pool {pool}");
    // Everything but the dust is withdrawable: the unrelated depositor is whole.
    assert_eq!(l.accounts[&20].collateral, 10_000 * USD);
    assert!(l.conserved());
}

#[test]
fn a_settled_options_book_can_be_emptied_so_the_account_can_leave() {
    // Review finding F4: an options book in a settled market locked the account for ever.
    let mut l = ledger(20_000);
    l.deposit(TRADER, 10_000 * USD).unwrap();
    set_price(&mut l, Fixed::from_int(20_000), 60_000);
    let book = |buckets, at| ballast_risk::OptionsReport {
        market: BTC,
        buckets,
        venue_initial: 0,
        venue_maintenance: 0,
        mark_value: 0,
        pnl: 0,
        timestamp_ms: at,
        trade: true,
    };
    let straddle = vec![ballast_risk::ExpiryGreeks {
        expiry_ms: 7 * 24 * HOUR,
        delta: 0,
        gamma: -100 * USD,
        vega: -10 * USD,
        implied_vol: fx("0.6"),
    }];
    let mut a = l.accounts[&TRADER].clone();
    let mut fund = 0;
    ballast_risk::apply_options_report(
        &mut a,
        &mut l.markets,
        book(straddle.clone(), 10_000),
        &mut fund,
    )
    .unwrap();
    l.accounts.insert(TRADER, a);
    let last = LastPrice {
        twap: Fixed::from_int(20_000),
        formed_at_ms: 0,
    };
    l.settle_market(BTC, last, SettleReason::Delisted).unwrap();
    assert_eq!(l.withdraw(TRADER, USD), Err(RiskError::MarketSettled));
    let mut a = l.accounts[&TRADER].clone();
    // Growing the book in a settled market is refused; emptying it is accepted.
    let mut bigger = straddle.clone();
    bigger[0].gamma = -200 * USD;
    assert_eq!(
        ballast_risk::apply_options_report(
            &mut a.clone(),
            &mut l.markets,
            book(bigger, 20_000),
            &mut fund
        ),
        Err(RiskError::MarketSettled)
    );
    ballast_risk::apply_options_report(&mut a, &mut l.markets, book(vec![], 30_000), &mut fund)
        .unwrap();
    assert!(a.options.is_none());
    l.accounts.insert(TRADER, a);
    l.withdraw(TRADER, 10_000 * USD).unwrap();
    assert!(l.conserved());
}
