//! Manipulation resistance through the deployed contracts (issue 16): what one depth reporter,
//! a governance sequence and a venue an account never approved can do to an account that did
//! nothing. Each check is on the account's own figures (health, collateral, positions).
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use ballast_drink_tests::interface::{AccountView, EngineError, HealthReport, MarketRisk};
use ballast_drink_tests::*;
use ballast_risk::{ExpiryGreeks, OptionsReport, RiskError};
use drink::AccountId32;
use proptest::prelude::*;

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
fn hostile_venue() -> AccountId32 {
    account(22)
}
fn treasury() -> AccountId32 {
    account(21)
}
fn trader() -> AccountId32 {
    account(2)
}
fn maker() -> AccountId32 {
    account(3)
}
fn px(v: i64) -> Fixed {
    Fixed::from_int(v)
}

/// One BTC market at 20,000 with three feeders and a calm prior volatility (the tiers rule),
/// two authorized venues, and the trader holding 2 BTC long at 10x through the first venue.
fn world() -> Harness {
    let mut h = Harness::new(T0);
    for n in [2u8, 3, 11, 12, 13, 20, 21, 22, 30] {
        h.fund_native(&account(n));
    }
    let calm = OracleConfig {
        initial_annualized_vol: Fixed::from_ratio(30, 100).unwrap(),
        ..OracleConfig::default()
    };
    h.list_market_with_feeders(MARKET, config(), calm, &feeders());
    h.report(MARKET, &feeders(), px(20_000));
    h.authorize_venue(MARKET, &venue());
    h.authorize_venue(MARKET, &hostile_venue());
    for (who, amount) in [(trader(), 4_000 * USD), (maker(), 10_000_000 * USD)] {
        h.give_tokens(&who, amount);
        h.approve_engine(&who, amount);
        h.engine::<()>(&who, "deposit", (amount,)).expect("deposit");
        h.approve_venue(&who, MARKET, &venue());
    }
    // The maker also trades through the hostile venue; the trader never approved it.
    h.approve_venue(&maker(), MARKET, &hostile_venue());
    h.engine::<()>(
        &venue(),
        "fill",
        (
            MARKET,
            trader(),
            maker(),
            2 * BTC,
            px(20_000),
            0u128,
            0u128,
            treasury(),
        ),
    )
    .expect("the trader opens 40,000 of notional on 4,000");
    h
}

fn config() -> MarketConfig {
    MarketConfig::default_large_cap(Decimals {
        base: 8,
        quote: QUOTE_DECIMALS,
    })
}

fn health(h: &mut Harness, who: &AccountId32) -> HealthReport {
    h.read("health", (who.clone(),)).expect("health")
}

fn view(h: &mut Harness, who: &AccountId32) -> AccountView {
    h.query("account", (who.clone(),))
}

/// Issue 16, finding 1: one feeder (or one venue), reporting a 1-unit book as often as it
/// likes, re-margins nobody: the trader's health is the same to the unit and the market shows
/// no depth; with a second reporter of its own still nothing; the liquidation it was after is
/// refused as `NotLiquidatable`.
#[test]
fn one_or_two_depth_reporters_cannot_remargin_a_ten_x_account() {
    let mut h = world();
    let before = health(&mut h, &trader());
    assert!(before.maintenance.surplus().unwrap() > 0);
    let feeder = feeders()[0].clone();
    for _ in 0..10 {
        h.engine::<()>(&feeder, "report_depth", (MARKET, 1u128, 1u128))
            .expect("the report is taken");
    }
    assert_eq!(health(&mut h, &trader()), before);
    h.engine::<()>(&venue(), "report_depth", (MARKET, 1u128, 1u128))
        .expect("the report is taken");
    assert_eq!(health(&mut h, &trader()), before);
    let risk: MarketRisk = h.read("market_risk", (MARKET,)).unwrap();
    assert_eq!(risk.depth, None);
    let keeper = account(30);
    h.give_tokens(&keeper, 1_000_000 * USD);
    h.approve_engine(&keeper, 1_000_000 * USD);
    h.engine::<()>(&keeper, "deposit", (1_000_000 * USD,))
        .unwrap();
    assert_eq!(
        h.engine::<()>(&keeper, "liquidate", (trader(), MARKET)),
        Err(EngineError::Risk(RiskError::NotLiquidatable))
    );
    assert_eq!(health(&mut h, &trader()), before);
}

/// Issue 16, finding 4: the owner announces tiers at twice the maintenance rates. The held
/// position's requirement does not move for the 24 h delay, does not jump when the change
/// applies, and then moves at most its share of the gap per hour of the 24 h blend (6 h: at
/// most a quarter); a second announcement during the blend is refused, so no sequence of
/// changes re-bases the blend.
#[test]
fn a_governance_change_moves_a_held_requirement_only_at_the_ramp_rate() {
    let mut h = world();
    let mut doubled = config();
    for t in &mut doubled.margin.tiers {
        t.maintenance_fraction = t.maintenance_fraction.checked_mul_int(2).unwrap();
        t.initial_fraction = t.initial_fraction.checked_mul_int(2).unwrap();
    }
    doubled.margin.min_initial_fraction = doubled
        .margin
        .min_initial_fraction
        .checked_mul_int(2)
        .unwrap();
    let oracle = OracleConfig {
        initial_annualized_vol: Fixed::from_ratio(30, 100).unwrap(),
        ..OracleConfig::default()
    };
    let owner = h.owner.clone();
    let maintenance = |h: &mut Harness| health(h, &trader()).maintenance.requirement;
    let at = |h: &mut Harness, ms: u64| {
        h.set_time(ms);
        h.report(MARKET, &feeders(), px(20_000));
    };
    let start = maintenance(&mut h);
    h.engine::<()>(
        &owner,
        "announce_market_change",
        (MARKET, doubled.clone(), oracle.clone()),
    )
    .unwrap();
    for hour in [1, 12, 23] {
        at(&mut h, T0 + hour * HOUR);
        assert_eq!(
            maintenance(&mut h),
            start,
            "moved {hour} h after the announcement"
        );
    }
    at(&mut h, T0 + 24 * HOUR);
    h.engine::<()>(&account(30), "apply_market_change", (MARKET,))
        .unwrap();
    let applied = maintenance(&mut h);
    assert!(
        applied - start <= 1,
        "jumped on application: {start} -> {applied}"
    );
    assert_eq!(
        h.engine::<()>(
            &owner,
            "announce_market_change",
            (MARKET, config(), oracle.clone())
        ),
        Err(EngineError::Risk(RiskError::GovernanceRampInProgress))
    );
    at(&mut h, T0 + 30 * HOUR);
    let six_hours = maintenance(&mut h);
    at(&mut h, T0 + 48 * HOUR);
    let blended = maintenance(&mut h);
    let gap = blended - start;
    assert!(
        gap > 0,
        "the change raises the requirement: {start} -> {blended}"
    );
    assert!(
        six_hours > start && six_hours - start <= gap / 4 + 1,
        "6 h into the blend: {start} -> {six_hours}, full gap {gap}"
    );
}

#[derive(Debug, Clone)]
enum Hostile {
    /// The hostile venue fills the trader (taker or maker) at `bps` off the oracle with fees.
    Fill {
        trader_is_taker: bool,
        size: i128,
        bps: i64,
        fee: u128,
    },
    /// It reports an options book for the trader.
    Options { gamma_usd: i128 },
    /// It reports the book depth (one reporter of the market).
    ReportDepth { usd: u128 },
}

fn hostile() -> impl Strategy<Value = Hostile> {
    prop_oneof![
        4 => (any::<bool>(), prop_oneof![-10 * BTC..10 * BTC, Just(1i128), Just(-1i128)], -199i64..=199, 0u128..400 * USD)
            .prop_map(|(trader_is_taker, size, bps, fee)| Hostile::Fill { trader_is_taker, size, bps, fee }),
        1 => (-1_000_000i128..1_000_000).prop_map(|gamma_usd| Hostile::Options { gamma_usd }),
        1 => (1u128..1_000_000_000).prop_map(|usd| Hostile::ReportDepth { usd }),
    ]
}

proptest! {
    // Each case deploys the contracts and makes up to twelve calls through them.
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Issue 16, finding 6: a venue the trader never approved, calling whatever it may call as
    /// a venue of the market (fills with the trader as taker or as maker, any size, any price
    /// inside the band, any fee; options books for the trader; depth reports), never changes
    /// the trader's collateral, positions or health.
    #[test]
    fn a_venue_the_account_never_approved_cannot_touch_it(ops in prop::collection::vec(hostile(), 1..12)) {
        let mut h = world();
        let before = (view(&mut h, &trader()), health(&mut h, &trader()));
        let v = hostile_venue();
        for op in ops {
            let result = match op {
                Hostile::Fill { trader_is_taker, size, bps, fee } => {
                    let price = Fixed::from_int(20_000)
                        .checked_mul(Fixed::from_ratio(10_000 + i128::from(bps), 10_000).unwrap())
                        .unwrap();
                    let (taker, maker_) = if trader_is_taker { (trader(), maker()) } else { (maker(), trader()) };
                    h.engine::<()>(&v, "fill", (MARKET, taker, maker_, size, price, fee, fee, v.clone()))
                }
                Hostile::Options { gamma_usd } => {
                    let now = h.now_ms;
                    let report = OptionsReport {
                        market: MARKET,
                        buckets: vec![ExpiryGreeks {
                            expiry_ms: now + 7 * 86_400_000,
                            delta: 0,
                            gamma: gamma_usd * USD as i128,
                            vega: 0,
                            implied_vol: Fixed::from_ratio(5, 10).unwrap(),
                        }],
                        venue_initial: 0,
                        venue_maintenance: 0,
                        mark_value: 0,
                        pnl: 0,
                        timestamp_ms: now,
                        trade: true,
                    };
                    h.engine::<()>(&v, "report_options", (trader(), report))
                }
                Hostile::ReportDepth { usd } => {
                    h.engine::<()>(&v, "report_depth", (MARKET, usd * USD, usd * USD))
                }
            };
            if let Err(e) = &result {
                prop_assert!(
                    matches!(e, EngineError::VenueNotApproved | EngineError::Risk(_) | EngineError::InvalidAmount | EngineError::SameAccount),
                    "unexpected {e:?}"
                );
            }
            prop_assert_eq!(&(view(&mut h, &trader()), health(&mut h, &trader())), &before);
        }
    }
}
