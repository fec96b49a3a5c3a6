//! Solvency through the deployed contracts: the underwater close the review found, a market
//! whose oracle dies and is settled, and halts that lapse. Each ends with the books reconciled
//! to the unit against the token balance the engine holds.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use ballast_drink_tests::interface::events::*;
use ballast_drink_tests::interface::{AccountView, EngineError};
use ballast_drink_tests::*;
use ballast_risk::{BreakerState, RiskError, SettleReason};
use drink::AccountId32;

const MARKET: u32 = 1;
const T0: u64 = 1_667_865_600_000; // 2022-11-08 00:00 UTC
const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;
const BTC: i128 = 100_000_000;

fn feeders() -> [AccountId32; 3] {
    [account(11), account(12), account(13)]
}
fn venue() -> AccountId32 {
    account(20)
}
fn treasury() -> AccountId32 {
    account(21)
}
fn px(v: i64) -> Fixed {
    Fixed::from_int(v)
}
fn iusd(v: i128) -> i128 {
    v * USD as i128
}

/// Token, engine, one BTC market at 20,000 with three feeders and a calm prior volatility, an
/// authorized venue, and the accounts 2..=9 funded with gas.
fn world() -> Harness {
    let mut h = Harness::new(T0);
    for n in (2u8..=9).chain([11, 12, 13, 20, 21]) {
        h.fund_native(&account(n));
    }
    let config = MarketConfig::default_large_cap(Decimals {
        base: 8,
        quote: QUOTE_DECIMALS,
    });
    // A calm prior volatility (30%), so that the tiers rule and 20x is allowed at once.
    let calm = OracleConfig {
        initial_annualized_vol: Fixed::from_ratio(30, 100).unwrap(),
        ..OracleConfig::default()
    };
    h.list_market_with_feeders(MARKET, config, calm, &feeders());
    h.report(MARKET, &feeders(), px(20_000));
    h.authorize_venue(MARKET, &venue());
    h
}

/// `who` deposits `amount` and approves the venue in the market (a trader signing up).
fn deposit(h: &mut Harness, who: &AccountId32, amount: u128) {
    h.give_tokens(who, amount);
    h.approve_engine(who, amount);
    h.engine::<()>(who, "deposit", (amount,)).expect("deposit");
    h.approve_venue(who, MARKET, &venue());
}

fn fund_insurance(h: &mut Harness, amount: u128) {
    let donor = account(9);
    h.give_tokens(&donor, amount);
    h.approve_engine(&donor, amount);
    h.engine::<()>(&donor, "fund_insurance", (amount,))
        .expect("fund");
}

fn fill(
    h: &mut Harness,
    taker: &AccountId32,
    maker: &AccountId32,
    size: i128,
    price: Fixed,
    taker_fee: u128,
) -> Result<(), EngineError> {
    h.engine(
        &venue(),
        "fill",
        (
            MARKET,
            taker.clone(),
            maker.clone(),
            size,
            price,
            taker_fee,
            0u128,
            treasury(),
        ),
    )
}

fn view(h: &mut Harness, who: &AccountId32) -> AccountView {
    h.query("account", (who.clone(),))
}

/// The books against the token, to the unit (see `Harness::assert_reconciled`).
fn reconcile(h: &mut Harness, accounts: &[AccountId32]) {
    h.assert_reconciled(accounts, &[MARKET]);
}

#[test]
fn the_underwater_close_below_the_oracle_is_refused_and_at_the_oracle_resolved() {
    let mut h = world();
    let (trader, lp, other, other_lp) = (account(2), account(3), account(4), account(5));
    deposit(&mut h, &trader, 1_000 * USD);
    for who in [&lp, &other, &other_lp] {
        deposit(&mut h, who, 100_000 * USD);
    }
    fund_insurance(&mut h, 40 * USD);
    fill(&mut h, &trader, &lp, BTC, px(20_000), 0).unwrap();
    fill(&mut h, &other, &other_lp, -BTC, px(20_000), 0).unwrap();
    h.set_time(T0 + MINUTE);
    h.report(MARKET, &feeders(), px(18_900));
    let health: ballast_drink_tests::interface::HealthReport =
        h.read("health", (trader.clone(),)).unwrap();
    assert_eq!(health.maintenance.equity, -iusd(100));

    // The review's attack: sell the whole BTC at 18,541 (inside the 2% band).
    let before = view(&mut h, &trader);
    assert_eq!(
        fill(&mut h, &trader, &lp, -BTC, px(18_541), 0),
        Err(EngineError::Risk(RiskError::NegativeEquity))
    );
    // At the oracle price, but with a fee: refused too.
    assert_eq!(
        fill(&mut h, &trader, &lp, -BTC, px(18_900), 1),
        Err(EngineError::Risk(RiskError::NegativeEquity))
    );
    assert_eq!(view(&mut h, &trader), before);

    // At the oracle price without a fee: accepted, and the deficit is covered in the same call.
    fill(&mut h, &trader, &lp, -BTC, px(18_900), 0).unwrap();
    let covered: Vec<BankruptcyResolved> = h.engine_events();
    assert_eq!(covered.len(), 1);
    let c = &covered[0];
    assert_eq!((c.market, c.deficit), (MARKET, iusd(100)));
    assert_eq!((c.from_insurance, c.socialized), (iusd(40), iusd(60)));
    let after = view(&mut h, &trader);
    assert_eq!((after.collateral, after.positions.len()), (0, 0));
    assert_eq!(h.query::<i128>("insurance_fund", ()), 0);
    assert_eq!(
        h.read::<i128>("settlement_pool", (MARKET,)),
        Ok(-iusd(60)),
        "advanced by the pool, owed by the two open positions"
    );
    reconcile(&mut h, &[trader, lp, other, other_lp, treasury()]);
}

#[test]
fn a_dead_oracle_settles_the_market_losers_pay_first_and_everyone_leaves() {
    let mut h = world();
    let (a, b, c, d) = (account(2), account(3), account(4), account(5));
    let everyone = [a.clone(), b.clone(), c.clone(), d.clone(), treasury()];
    for who in [&a, &b, &c, &d] {
        deposit(&mut h, who, 1_000 * USD);
    }
    fund_insurance(&mut h, 500 * USD);
    // A and C long 1 BTC each, B and D short.
    fill(&mut h, &a, &b, BTC, px(20_000), 0).unwrap();
    fill(&mut h, &c, &d, BTC, px(20_000), 0).unwrap();
    // The price climbs to 21,800 and holds for three hours (the TWAP window is one hour), then
    // every feeder goes silent.
    let mut t = T0;
    while t < T0 + 3 * HOUR {
        t += 10 * MINUTE;
        h.set_time(t);
        h.report(MARKET, &feeders(), px(21_800));
    }
    let last_report = t;
    // Too early: the oracle is stale but not yet dead for the market's 12 hours.
    h.set_time(last_report + 11 * HOUR);
    assert_eq!(
        h.engine::<()>(&account(6), "settle_market", (MARKET,)),
        Err(EngineError::Risk(RiskError::NotSettled))
    );
    let settled_at = last_report + 12 * HOUR + 1;
    h.set_time(settled_at);
    h.engine::<()>(&account(6), "settle_market", (MARKET,))
        .expect("anyone settles a dead market");
    let settled: Vec<MarketSettled> = h.engine_events();
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].reason, SettleReason::OracleDead);
    let price = settled[0].price;
    assert!(price > px(21_600) && price < px(21_800), "TWAP {price:?}");
    let breaker: Vec<BreakerChanged> = h.engine_events();
    assert_eq!(breaker.last().map(|e| e.to), Some(BreakerState::Settled));
    // Nothing but closes: no fill, no liquidation, no withdrawal with a settled position.
    assert_eq!(
        fill(&mut h, &a, &b, -BTC, price, 0),
        Err(EngineError::Risk(RiskError::MarketSettled))
    );
    assert_eq!(
        h.engine::<()>(&a, "withdraw", (USD,)),
        Err(EngineError::Risk(RiskError::MarketSettled))
    );
    // The longs gain: they are paid only out of what the losers have paid in, so they wait.
    assert_eq!(
        h.engine::<()>(&account(6), "close_settled", (a.clone(), MARKET)),
        Err(EngineError::Risk(RiskError::SettlementPending))
    );
    // The shorts lose about 1,690 on 1,000 of collateral: their deficits are covered as they
    // close, by the fund first and then by the positions still open.
    let mut deficits = Vec::new();
    for loser in [&b, &d] {
        h.engine::<()>(&account(6), "close_settled", (loser.clone(), MARKET))
            .expect("losers close at once");
        let closed: Vec<SettledClosed> = h.engine_events();
        assert_eq!((closed.len(), closed[0].size), (1, -BTC));
        assert!(closed[0].pnl < -iusd(1_600));
        let mut covered: Vec<BankruptcyResolved> = h.engine_events();
        assert_eq!(covered.len(), 1);
        let e = covered.remove(0);
        assert_eq!(e.from_insurance + e.socialized, e.deficit);
        deficits.push(e);
        assert_eq!(view(&mut h, loser).collateral, 0);
    }
    assert_eq!(deficits[0].from_insurance, iusd(500), "the fund goes first");
    assert_eq!(h.query::<i128>("insurance_fund", ()), 0);
    reconcile(&mut h, &everyone);
    for winner in [&a, &c] {
        h.engine::<()>(&account(6), "close_settled", (winner.clone(), MARKET))
            .expect("once the losers have paid in");
        let closed: Vec<SettledClosed> = h.engine_events();
        assert!(closed[0].pnl > 0);
    }
    // Everyone is flat; the pool holds at most rounding dust; the winners leave with what is
    // theirs and the engine keeps only that dust.
    let pool = h.read::<i128>("settlement_pool", (MARKET,)).unwrap();
    assert!((0..=4).contains(&pool), "pool {pool}");
    reconcile(&mut h, &everyone);
    for who in &everyone {
        let v = view(&mut h, who);
        assert!(v.positions.is_empty() && v.collateral >= 0);
        if v.collateral > 0 {
            h.engine::<()>(who, "withdraw", (v.collateral as u128,))
                .expect("free collateral leaves");
        }
    }
    let engine = h.engine.clone();
    assert_eq!(h.balance(&engine) as i128, pool);
}

#[test]
fn an_unconfirmed_halt_lapses_and_a_confirmed_one_holds() {
    let mut h = world();
    let owner = h.owner.clone();
    let guardian = owner.clone();
    // A market halt lapses 24 hours later at the next report.
    h.engine::<()>(&guardian, "halt_market", (MARKET,)).unwrap();
    h.set_time(T0 + 24 * HOUR + MINUTE);
    h.report(MARKET, &feeders(), px(20_000));
    let risk: ballast_drink_tests::interface::MarketRisk =
        h.read("market_risk", (MARKET,)).unwrap();
    assert_eq!(risk.breaker, BreakerState::Normal);
    // Confirmed by the owner, it holds.
    h.engine::<()>(&guardian, "halt_market", (MARKET,)).unwrap();
    h.engine::<()>(&owner, "confirm_halt", (Some(MARKET),))
        .unwrap();
    let confirmed: Vec<HaltConfirmed> = h.engine_events();
    assert_eq!(confirmed[0].market, Some(MARKET));
    assert_eq!(
        h.engine::<()>(&owner, "confirm_halt", (Some(MARKET),)),
        Err(EngineError::NotHalted)
    );
    h.set_time(T0 + 100 * HOUR);
    h.report(MARKET, &feeders(), px(20_000));
    let risk: ballast_drink_tests::interface::MarketRisk =
        h.read("market_risk", (MARKET,)).unwrap();
    assert_eq!(risk.breaker, BreakerState::Paused);

    // The global halt: deposits stop, a flat account still withdraws, and it lapses.
    let flat = account(2);
    deposit(&mut h, &flat, 100 * USD);
    h.engine::<()>(&guardian, "halt_all", ()).unwrap();
    h.give_tokens(&flat, USD);
    h.approve_engine(&flat, USD);
    assert_eq!(
        h.engine::<()>(&flat, "deposit", (USD,)),
        Err(EngineError::Halted)
    );
    h.engine::<()>(&flat, "withdraw", (10 * USD,))
        .expect("flat accounts leave during a halt");
    h.set_time(T0 + 124 * HOUR + 1);
    h.engine::<()>(&flat, "deposit", (USD,))
        .expect("the halt lapsed");
    // Halting again while halted does not extend the halt (review finding F6).
    h.engine::<()>(&guardian, "halt_all", ()).unwrap();
    h.set_time(T0 + 140 * HOUR);
    h.engine::<()>(&guardian, "halt_all", ()).unwrap();
    h.set_time(T0 + 148 * HOUR + 2);
    h.give_tokens(&flat, USD);
    h.approve_engine(&flat, USD);
    h.engine::<()>(&flat, "deposit", (USD,))
        .expect("24 h after the first call, not the last");
    // Confirmed, it holds.
    h.engine::<()>(&guardian, "halt_all", ()).unwrap();
    h.engine::<()>(&owner, "confirm_halt", (None::<u32>,))
        .unwrap();
    h.set_time(T0 + 500 * HOUR);
    assert_eq!(
        h.engine::<()>(&flat, "deposit", (USD,)),
        Err(EngineError::Halted)
    );
}
