//! Manipulation resistance (issue 16) against the risk core: what one reporter of depth, or any
//! sequence of governance changes, can do to the requirements of accounts that did nothing.
//! Every check is on outcomes (requirements, depth in use, throttle), never a copy of the rule.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use ballast_math::{Fixed, Rounding};
use ballast_oracle::OracleConfig;
use ballast_risk::config::{DepthTerms, LiquidationThrottle};
use ballast_risk::governance::{self, AnnouncedChange};
use ballast_risk::health::{account_health, HealthKind};
use ballast_risk::liquidation::{liquidate, throttle_notional};
use ballast_risk::liquidity::{BookDepth, Use, MAX_DEPTH};
use ballast_risk::margin::VolFractions;
use ballast_risk::{
    apply_fill, apply_options_report, report_depth, Account, ExpiryGreeks, Fill, MarketConfig,
    MarketCtx, MarketState, OptionsReport, RiskError,
};
use common::{config, fx, prices, BTC, HOUR, ONE_BTC, USD};
use proptest::prelude::*;

const CASES: u32 = 10_000;
const DAY: u64 = 24 * HOUR;
const NOW: u64 = 400 * DAY;
const PRICE: i64 = 20_000;

/// The market at 20,000 with a 60% volatility fully ramped in, at `NOW`.
fn market() -> MarketCtx {
    let cfg = config();
    let mut state = MarketState::new(0);
    let vol = fx("0.6");
    let fractions = VolFractions::for_vol(&cfg.margin, vol).unwrap();
    state.applied = fractions;
    state.target = fractions;
    state.forecast_vol = vol;
    state.last_ramp_ms = NOW;
    MarketCtx {
        id: BTC,
        config: cfg,
        state,
        prices: prices(Fixed::from_int(PRICE)),
        now_ms: NOW,
    }
}

/// A long of `btc` at `leverage` (collateral that fraction of its notional) and its
/// counterparty.
fn open_long(ctx: &mut MarketCtx, btc: i128, leverage: i128) -> (Account, Account) {
    let notional = btc * PRICE as i128 * USD;
    let mut long = Account {
        collateral: notional / leverage,
        ..Account::default()
    };
    let mut short = Account {
        collateral: notional * 10,
        ..Account::default()
    };
    // Opened whatever the book: the properties are about positions already held.
    let mut opening = ctx.clone();
    opening.config.liquidity.oi_growth_fraction = Fixed::from_int(1_000_000);
    opening.config.liquidity.max_impact = Fixed::ONE;
    let mut m = vec![opening];
    let fill = Fill {
        market: BTC,
        size: btc * ONE_BTC,
        price: Fixed::from_int(PRICE),
        taker_fee: 0,
        maker_fee: 0,
    };
    apply_fill(&mut m, &mut long, &mut short, &fill, &mut 0).unwrap();
    ctx.state = m.remove(0).state;
    (long, short)
}

fn maintenance(account: &Account, ctx: &MarketCtx) -> i128 {
    account_health(account, &[ctx.clone()], HealthKind::Maintenance, None)
        .unwrap()
        .requirement
}

fn book(usd: i128) -> BookDepth {
    BookDepth {
        bid: usd * USD,
        ask: usd * USD,
    }
}

fn report(
    ctx: &mut MarketCtx,
    reporter: u8,
    depth: BookDepth,
    at_ms: u64,
) -> Result<(), RiskError> {
    ctx.now_ms = at_ms;
    report_depth(ctx, [reporter; 32], depth)
}

/// The market's requirement for `account` once `reporters` reporters all reported `usd`.
fn settled_at(base: &MarketCtx, account: &Account, usd: i128) -> i128 {
    let mut ctx = base.clone();
    ctx.state.depth = Default::default();
    for r in 0..3 {
        report(&mut ctx, 200 + r, book(usd), NOW).unwrap();
    }
    // No open interest counted at the start: the depth in use is the reports' value.
    ctx.state.depth.in_use = ctx.state.depth.target;
    maintenance(account, &ctx)
}

/// Issue 16, finding 1, replayed: a 10x account with a maintenance surplus, no depth reports.
/// One reporter's `report_depth(1, 1)`, repeated, changes nothing; three reporters agreeing on
/// it raise the account's liquidity charge to at most the band (1%) of its notional at once,
/// not to 100%, and liquidations are not throttled to the 1-unit book.
#[test]
fn one_depth_reporter_cannot_remargin_a_ten_x_account() {
    let mut ctx = market();
    let (long, _) = open_long(&mut ctx, 10, 10); // 200,000 notional, 20,000 collateral
    let before = maintenance(&long, &ctx);
    for t in 0..20 {
        report(&mut ctx, 7, BookDepth { bid: 1, ask: 1 }, NOW + t * 60_000).unwrap();
    }
    assert_eq!(maintenance(&long, &ctx), before, "one reporter set a depth");
    assert_eq!(
        ctx.state
            .depth
            .both_sides(&ctx.config.liquidity, Use::Keep)
            .unwrap(),
        None
    );
    // Three reporters all say 1 unit: the charge starts at no more than 1% of notional.
    report(&mut ctx, 8, BookDepth { bid: 1, ask: 1 }, NOW + HOUR / 2).unwrap();
    report(&mut ctx, 9, BookDepth { bid: 1, ask: 1 }, NOW + HOUR / 2).unwrap();
    let charged = maintenance(&long, &ctx);
    assert!(
        charged - before <= 2_000 * USD + 1,
        "charge {} on 200,000 of notional",
        charged - before
    );
    // The liquidation throttle is at least 2% of the open interest per window, not 5 units.
    assert!(throttle_notional(&ctx).unwrap() >= 4_000 * USD);
}

/// The throttle floor holds for a liquidation itself: with a 1-unit book in use, a liquidatable
/// account still has at least 2% of the open interest liquidated in one window.
#[test]
fn a_thin_depth_report_does_not_stop_liquidations() {
    let mut ctx = market();
    ctx.config.liquidation.throttle = LiquidationThrottle::On;
    let (mut long, _) = open_long(&mut ctx, 50, 10);
    for r in 0..3 {
        report(&mut ctx, r, BookDepth { bid: 1, ask: 1 }, NOW).unwrap();
    }
    ctx.state.depth.in_use = ctx.state.depth.target; // the worst depth already in use
    ctx.prices = prices(Fixed::from_int(PRICE * 90 / 100));
    let mut liquidator = Account {
        collateral: 100_000_000 * USD,
        ..Account::default()
    };
    let mut m = vec![ctx];
    let out = liquidate(&mut m, &mut long, &mut liquidator, BTC, &mut 0).unwrap();
    // 2% of 50 BTC of open interest at 18,000: 18,000 of notional.
    assert!(out.notional >= 18_000 * USD, "{out:?}");
}

fn depth_event() -> impl Strategy<Value = (u8, i128, u64)> {
    (
        0u8..5,
        prop_oneof![
            Just(1i128),
            1i128..1_000,
            1_000i128..100_000_000,
            Just(MAX_DEPTH)
        ],
        prop_oneof![0u64..60_000, 0u64..HOUR, 0u64..4 * HOUR],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// One reporter among at least `min_reporters` honest ones, reporting anything (any value from 1 unit to the largest
    /// allowed, as often as it likes, with any gaps): a held position's maintenance requirement
    /// stays between what it is when every reporter reports the smallest honest value and when
    /// every reporter reports the largest; and the liquidation throttle never falls below 2% of
    /// the open interest's notional.
    #[test]
    fn one_reporter_keeps_requirements_inside_the_honest_range(
        honest in proptest::collection::vec(50_000i128..5_000_000, 3..7),
        attack in proptest::collection::vec(depth_event(), 1..60),
        btc in 1i128..200,
    ) {
        let mut ctx = market();
        let mut now = NOW;
        for (i, h) in honest.iter().enumerate() {
            report(&mut ctx, i as u8, book(*h), now).unwrap();
        }
        let (long, _) = open_long(&mut ctx, btc, 1);
        let lowest = *honest.iter().min().unwrap();
        let highest = *honest.iter().max().unwrap();
        let most = settled_at(&ctx, &long, lowest);
        let least = settled_at(&ctx, &long, highest);
        let floor = fx("0.02").mul_amount(btc * PRICE as i128 * USD, Rounding::Ceil).unwrap();
        for (_, value, dt) in attack {
            now += dt;
            report(&mut ctx, 99, BookDepth { bid: value, ask: value }, now).unwrap();
            // The honest reporters keep reporting (every ten minutes at most in effect).
            for (i, h) in honest.iter().enumerate() {
                report(&mut ctx, i as u8, book(*h), now).unwrap();
            }
            let m = maintenance(&long, &ctx);
            prop_assert!(least <= m && m <= most, "{least} <= {m} <= {most}");
            prop_assert!(throttle_notional(&ctx).unwrap() >= floor);
        }
    }

    /// Whoever reports (every reporter hostile: any values, any timing, any gaps), the depth in
    /// use changes by at most a factor 2 within any hour, a held position's liquidity charge
    /// at most doubles within any hour, and when depth first applies to a position already held
    /// its charge is at most the band (1%) of its notional.
    #[test]
    fn depth_in_use_and_charges_move_at_a_bounded_rate(
        events in proptest::collection::vec(depth_event(), 1..80),
        btc in 1i128..200,
    ) {
        let mut ctx = market();
        let (long, _) = open_long(&mut ctx, btc, 10);
        let notional = btc * PRICE as i128 * USD;
        let mut no_depth = ctx.clone();
        no_depth.state.depth = Default::default();
        let margin_only = maintenance(&long, &no_depth);
        let mut seen: Vec<(u64, i128, i128)> = Vec::new(); // (time, depth in use, charge)
        let mut now = NOW;
        for (reporter, value, dt) in events {
            now += dt;
            let _ = report(&mut ctx, reporter, BookDepth { bid: value, ask: value }, now);
            let Some(depth) = ctx.state.depth.both_sides(&ctx.config.liquidity, Use::Keep).unwrap() else {
                continue;
            };
            let charge = maintenance(&long, &ctx) - margin_only;
            if seen.is_empty() {
                prop_assert!(charge <= notional / 100 + 1, "first charge {charge} on {notional}");
            }
            for &(t, d, c) in seen.iter().rev().take_while(|(t, ..)| now - t <= HOUR) {
                prop_assert!(depth * 2 >= d && depth <= d * 2, "depth {d} at {t} -> {depth} at {now}");
                prop_assert!(charge <= 2 * c + 2, "charge {c} at {t} -> {charge} at {now}");
            }
            seen.push((now, depth, charge));
        }
    }
}

// ----- governance -----

/// A config whose margin tiers are scaled by `scale_pct` percent, with the depth terms on or
/// off, a haircut of `haircut_pct` percent, the given governance ramp and delay (hours), and
/// the options vol-of-vol and Greeks age given. (Changes of the volatility terms themselves
/// are the unit case `a_change_to_instant_volatility_ramps_reaches_held_positions_only_through_the_blend`.)
fn variant(v: &Variant) -> MarketConfig {
    let mut c = config();
    c.ramps.params_ramp_ms = v.ramp_h * HOUR;
    c.ramps.change_delay_ms = v.delay_h * HOUR;
    let scale = Fixed::from_ratio(v.scale_pct, 100).unwrap();
    for t in &mut c.margin.tiers {
        t.initial_fraction = t
            .initial_fraction
            .checked_mul(scale)
            .unwrap()
            .min(Fixed::ONE);
        t.maintenance_fraction = t
            .maintenance_fraction
            .checked_mul(scale)
            .unwrap()
            .min(t.initial_fraction);
    }
    c.margin.min_initial_fraction = c
        .margin
        .min_initial_fraction
        .checked_mul(scale)
        .unwrap()
        .min(Fixed::ONE);
    c.liquidity.terms = if v.depth_on {
        DepthTerms::On
    } else {
        DepthTerms::Off
    };
    c.liquidity.haircut = Fixed::from_ratio(v.haircut_pct, 100).unwrap();
    c.options.vol_of_vol = Fixed::from_ratio(v.vol_of_vol_pct, 100).unwrap();
    c.options.max_age_ms = v.greeks_age_ms;
    c
}

/// Issue 16 review, G1: a change that makes the volatility ramps instant and the quantiles
/// 30-fold. One minute after it applies, the held 10x position's maintenance requirement has
/// moved at most a minute's share of the gap the blend closes plus a minute of the old
/// maintenance ramp (0.5 point of notional per hour), not to the new config's value at once;
/// every hour of the blend, and the hour it ends, it moves at most an hour's share; after the
/// blend it is there.
#[test]
fn a_change_to_instant_volatility_ramps_reaches_held_positions_only_through_the_blend() {
    let vol = fx("0.6");
    let mut ctx = market();
    let (long, _) = open_long(&mut ctx, 10, 10);
    let mut fast = config();
    fast.ramps.initial_per_hour = Fixed::from_int(1_000);
    fast.ramps.maintenance_per_hour = Fixed::from_int(1_000);
    fast.margin.initial_quantile = fast.margin.initial_quantile.checked_mul_int(30).unwrap();
    fast.margin.maintenance_quantile = fast
        .margin
        .maintenance_quantile
        .checked_mul_int(30)
        .unwrap();
    let before = maintenance(&long, &ctx);
    let change = governance::announce(
        &ctx.config,
        &OracleConfig::default(),
        &ctx.state,
        None,
        fast,
        OracleConfig::default(),
        NOW,
    )
    .unwrap();
    let at = NOW + ctx.config.ramps.change_delay_ms;
    let ramp_ms = ctx.config.ramps.params_ramp_ms;
    let observe = |ctx: &mut MarketCtx, now: u64| {
        ctx.now_ms = now;
        let cfg = ctx.config.clone();
        ctx.state.update_volatility(&cfg, vol, now).unwrap();
        // As the engine's observation does (`ballast_risk::feed::observe`).
        ctx.state.finish_params_ramp(now);
    };
    observe(&mut ctx, at);
    let (cfg, _) = governance::apply(&ctx.config, &mut ctx.state, change, at).unwrap();
    ctx.config = cfg;
    assert_eq!(maintenance(&long, &ctx), before, "no jump on application");
    observe(&mut ctx, at + 60_000);
    let minute = maintenance(&long, &ctx);
    // Where the new config ends up on its own, once its terms have ramped in.
    let mut settled = ctx.clone();
    settled.state.previous_terms = None;
    settled.state.applied = VolFractions::for_vol(&settled.config.margin, vol).unwrap();
    let full = maintenance(&long, &settled);
    let notional = 10 * PRICE as i128 * USD;
    let allowed = (full - before) / (ramp_ms / 60_000) as i128 + notional / 200 / 60 + 2;
    assert!(
        minute - before <= allowed,
        "{before} -> {minute} in a minute (new config alone: {full})"
    );
    // Hour by hour, through the end of the blend and after it: never more than an hour's share
    // of the gap (plus an hour of the old maintenance ramp), no jump when the blend ends.
    let mut last = minute;
    for hour in 1..=48 {
        observe(&mut ctx, at + hour * HOUR);
        let now = maintenance(&long, &ctx);
        assert!(
            (now - last).abs() <= (full - before) / 24 + notional / 200 + 2,
            "hour {hour}: {last} -> {now} (gap {})",
            full - before
        );
        last = now;
    }
    assert_eq!(last, full, "blended in after the ramp");
}

#[derive(Debug, Clone)]
struct Variant {
    scale_pct: i128,
    depth_on: bool,
    haircut_pct: i128,
    ramp_h: u64,
    delay_h: u64,
    vol_of_vol_pct: i128,
    greeks_age_ms: u64,
}

fn any_variant() -> impl Strategy<Value = Variant> {
    (
        (25i128..400, any::<bool>(), 10i128..100),
        (1u64..72, 1u64..48),
        (
            10i128..300,
            prop_oneof![Just(1u64), Just(HOUR), Just(10 * DAY)],
        ),
    )
        .prop_map(
            |(
                (scale_pct, depth_on, haircut_pct),
                (ramp_h, delay_h),
                (vol_of_vol_pct, greeks_age_ms),
            )| Variant {
                scale_pct,
                depth_on,
                haircut_pct,
                ramp_h,
                delay_h,
                vol_of_vol_pct,
                greeks_age_ms,
            },
        )
}

#[derive(Debug, Clone)]
enum Gov {
    Announce(Variant),
    Apply,
    Cancel,
}

fn gov() -> impl Strategy<Value = (Gov, u64)> {
    (
        prop_oneof![
            3 => any_variant().prop_map(Gov::Announce),
            3 => Just(Gov::Apply),
            1 => Just(Gov::Cancel),
        ],
        prop_oneof![0u64..HOUR, 0u64..30 * HOUR],
    )
}

/// The venue re-reports the account's book at `now`: short 30-day gamma and vega, unchanged.
fn report_book(ctx: &mut MarketCtx, account: &mut Account) {
    if account
        .options
        .as_ref()
        .is_some_and(|b| b.report.timestamp_ms >= ctx.now_ms)
    {
        return;
    }
    report_book_with_pnl(ctx, account, 0);
}

/// The venue reports the account's book at `now` with `pnl` since the last report.
fn report_book_with_pnl(ctx: &mut MarketCtx, account: &mut Account, pnl: i128) {
    let now = ctx.now_ms;
    let report = OptionsReport {
        market: BTC,
        buckets: vec![ExpiryGreeks {
            expiry_ms: now + 30 * DAY,
            delta: 0,
            gamma: -20_000 * USD,
            vega: -2_000 * USD,
            implied_vol: fx("0.6"),
        }],
        venue_initial: 0,
        venue_maintenance: 0,
        mark_value: 0,
        pnl,
        timestamp_ms: now,
        trade: false,
    };
    let mut m = vec![ctx.clone()];
    apply_options_report(account, &mut m, report, &mut 0).unwrap();
    *ctx = m.remove(0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Any sequence of governance calls (announcements of any margin scale, depth terms on or
    /// off, any haircut, any governance ramp and delay, any options vol-of-vol and Greeks age;
    /// applications at any time, early ones included;
    /// cancellations) on a market where a position and an options book are held, depth is
    /// reported and the volatility terms keep ramping with the config in force: nothing changes
    /// the account's requirement before the delay after an announcement; and between any two
    /// moments its maintenance requirement moves by at most `elapsed / params_ramp_ms` (the
    /// shortest ramp of a config in force) of the largest gap between the requirements the
    /// configs involved set on their own at the market's volatility (plus rounding).
    #[test]
    fn governance_moves_a_held_requirement_at_most_at_the_ramp_rate(
        calls in proptest::collection::vec(gov(), 1..40),
        btc in 1i128..100,
        first_governance in (1u64..72, 1u64..48),
    ) {
        let vol = fx("0.6");
        let mut ctx = market();
        ctx.config.ramps.params_ramp_ms = first_governance.0 * HOUR;
        ctx.config.ramps.change_delay_ms = first_governance.1 * HOUR;
        for r in 0..3 {
            report(&mut ctx, r, book(2_000_000), NOW).unwrap();
        }
        let (mut long, _) = open_long(&mut ctx, btc, 3);
        report_book(&mut ctx, &mut long);
        let on_its_own = |cfg: &MarketConfig, base: &MarketCtx, account: &Account| {
            let mut alone = base.clone();
            alone.config = cfg.clone();
            alone.state.previous_terms = None;
            let steady = VolFractions::for_vol(&cfg.margin, vol).unwrap();
            alone.state.applied = steady;
            alone.state.target = steady;
            maintenance(account, &alone)
        };
        // The shortest ramp of any config in force so far.
        let mut ramp_ms = ctx.config.ramps.params_ramp_ms;
        let (mut lowest, mut highest) = {
            let m = on_its_own(&ctx.config, &ctx, &long);
            (m, m)
        };
        let mut waiting: Option<AnnouncedChange> = None;
        let mut announced_at = 0u64;
        let mut announced_delay_ms = 0u64;
        let mut last = (ctx.now_ms, maintenance(&long, &ctx));
        let mut now = ctx.now_ms;
        for (call, dt) in calls {
            now += dt;
            ctx.now_ms = now;
            // The market goes on: volatility terms ramp with the config in force, the venue
            // re-reports the book.
            let cfg = ctx.config.clone();
            ctx.state.update_volatility(&cfg, vol, now).unwrap();
            report_book(&mut ctx, &mut long);
            match call {
                Gov::Announce(v) => {
                    let cfg = variant(&v);
                    let delay_ms = ctx.config.ramps.change_delay_ms;
                    let state_before = ctx.state.clone();
                    match governance::announce(&ctx.config, &OracleConfig::default(), &ctx.state, waiting.as_ref(), cfg.clone(), OracleConfig::default(), now) {
                        Ok(change) => {
                            prop_assert_eq!(change.effective_ms, now + delay_ms);
                            let m = on_its_own(&cfg, &ctx, &long);
                            lowest = lowest.min(m);
                            highest = highest.max(m);
                            waiting = Some(change);
                            announced_at = now;
                            announced_delay_ms = delay_ms;
                        }
                        Err(e) => {
                            prop_assert!(matches!(e, RiskError::ChangePending | RiskError::GovernanceRampInProgress | RiskError::InvalidConfig(_)), "{e:?}");
                        }
                    }
                    prop_assert_eq!(&ctx.state, &state_before);
                }
                Gov::Apply => {
                    let Some(change) = waiting.clone() else { continue };
                    let state_before = ctx.state.clone();
                    match governance::apply(&ctx.config, &mut ctx.state, change, now) {
                        Ok((cfg, _)) => {
                            prop_assert!(now >= announced_at + announced_delay_ms);
                            ctx.config = cfg;
                            waiting = None;
                        }
                        Err(RiskError::ChangeExpired) => {
                            prop_assert_eq!(&ctx.state, &state_before);
                            waiting = None;
                        }
                        Err(e) => {
                            prop_assert_eq!(e, RiskError::ChangeNotDue);
                            prop_assert!(now < announced_at + announced_delay_ms);
                            prop_assert_eq!(&ctx.state, &state_before);
                        }
                    }
                }
                Gov::Cancel => waiting = None,
            }
            let m = maintenance(&long, &ctx);
            let gap = highest - lowest;
            let elapsed = now - last.0;
            let allowed = gap * elapsed.min(ramp_ms) as i128 / ramp_ms as i128 + 2;
            prop_assert!((m - last.1).abs() <= allowed, "{} -> {m} in {elapsed} ms (gap {gap})", last.1);
            last = (now, m);
            ramp_ms = ramp_ms.min(ctx.config.ramps.params_ramp_ms);
        }
    }
}

/// Issue 16 review, C1: an account holds one options book, in one market; a venue of another
/// market (where the account may have approved it) can neither replace nor empty it.
#[test]
fn a_report_for_another_market_cannot_replace_or_empty_a_book() {
    let mut btc = market();
    let (mut long, _) = open_long(&mut btc, 1, 2);
    report_book(&mut btc, &mut long);
    // The market counts its books (an instant appointment needs none).
    assert_eq!(btc.state.options_books, 1);
    let mut eth = market();
    eth.id = BTC + 1;
    eth.now_ms = NOW + 1;
    let before = long.clone();
    let empty_elsewhere = OptionsReport {
        market: eth.id,
        buckets: vec![],
        venue_initial: 0,
        venue_maintenance: 0,
        mark_value: 0,
        pnl: 0,
        timestamp_ms: NOW + 1,
        trade: false,
    };
    let mut markets = vec![btc, eth];
    assert_eq!(
        apply_options_report(&mut long, &mut markets, empty_elsewhere.clone(), &mut 0).err(),
        Some(RiskError::OptionsBookElsewhere)
    );
    assert_eq!(long, before);
    // Its own market's venue empties it: the count goes back to zero.
    let empty_here = OptionsReport {
        market: BTC,
        ..empty_elsewhere
    };
    markets[0].now_ms = NOW + 1;
    apply_options_report(&mut long, &mut markets, empty_here, &mut 0).unwrap();
    assert_eq!(
        (long.options.is_none(), markets[0].state.options_books),
        (true, 0)
    );
}

/// The validation floors the bounds rely on: three distinct depth reporters at least, and a
/// governance delay and ramp of an hour at least; each refused with its rule.
#[test]
fn the_floors_the_bounds_rely_on_are_validated() {
    use ballast_risk::ConfigRule;
    let mut two_reporters = config();
    two_reporters.liquidity.min_reporters = 2;
    assert_eq!(
        two_reporters.validate(),
        Err(RiskError::InvalidConfig(ConfigRule::Depth))
    );
    let mut quick = config();
    quick.ramps.change_delay_ms = HOUR - 1;
    assert_eq!(
        quick.validate(),
        Err(RiskError::InvalidConfig(ConfigRule::Ramps))
    );
    let mut quick = config();
    quick.ramps.params_ramp_ms = HOUR - 1;
    assert_eq!(
        quick.validate(),
        Err(RiskError::InvalidConfig(ConfigRule::Ramps))
    );
    assert_eq!(config().validate(), Ok(()));
}

/// An announced change applies from its delay's end until 7 days after it, not a millisecond
/// later (`ChangeExpired`, nothing changed); a new announcement may then replace it.
#[test]
fn an_announcement_nobody_applies_lapses_after_seven_days() {
    let ctx = market();
    let change = governance::announce(
        &ctx.config,
        &OracleConfig::default(),
        &ctx.state,
        None,
        config(),
        OracleConfig::default(),
        NOW,
    )
    .unwrap();
    let last = change.effective_ms + governance::APPLY_WINDOW_MS;
    assert_eq!(last, NOW + 24 * HOUR + 7 * DAY);
    let mut state = ctx.state.clone();
    assert_eq!(
        governance::apply(&ctx.config, &mut state, change.clone(), last + 1).err(),
        Some(RiskError::ChangeExpired)
    );
    assert_eq!(state, ctx.state);
    assert!(governance::apply(&ctx.config, &mut state, change.clone(), last).is_ok());
    // Once lapsed it no longer blocks the next announcement.
    assert!(governance::announce(
        &ctx.config,
        &OracleConfig::default(),
        &ctx.state,
        Some(&change),
        config(),
        OracleConfig::default(),
        last + 1
    )
    .is_ok());
    assert_eq!(
        governance::announce(
            &ctx.config,
            &OracleConfig::default(),
            &ctx.state,
            Some(&change),
            config(),
            OracleConfig::default(),
            last
        )
        .err(),
        Some(RiskError::ChangePending)
    );
}

/// A listed market keeps its sampling clocks: the estimator's state counts intervals of the
/// clock it started on, so a longer interval would freeze it until the new index caught
/// up with the old (24x the time the market had run, for hours to days) and a shorter one would
/// fold the whole history in as one gap (and a new delay interval would age the dampened
/// price's reference by up to 24 days). Each clock field is refused alone and with the others
/// kept valid (`SamplingClock`); the estimator's other parameters still change by announcement.
#[test]
fn governance_cannot_change_a_listed_markets_sampling_clock() {
    use ballast_risk::ConfigRule;
    let ctx = market();
    let listed = OracleConfig::default();
    let announce = |oracle: OracleConfig| {
        governance::announce(
            &ctx.config,
            &listed,
            &ctx.state,
            None,
            config(),
            oracle,
            NOW,
        )
    };
    let mut daily = listed.clone();
    daily.vol_interval_ms = DAY;
    daily.intervals_per_year = 365;
    daily.ewma_lambda = fx("0.94");
    let mut compressed = listed.clone();
    compressed.vol_interval_ms = 2_000;
    compressed.clock_compression = 1_800;
    let mut recounted = listed.clone();
    recounted.intervals_per_year = 8_784;
    let mut daily_delay = listed.clone();
    daily_delay.delay_interval_ms = DAY;
    for other in [daily, compressed, recounted, daily_delay] {
        assert_eq!(other.validate(), Ok(()));
        assert_eq!(
            announce(other).err(),
            Some(RiskError::InvalidConfig(ConfigRule::SamplingClock))
        );
    }
    let mut slower_decay = listed.clone();
    slower_decay.ewma_lambda = fx("0.97");
    slower_decay.initial_annualized_vol = fx("0.8");
    assert_eq!(slower_decay.validate(), Ok(()));
    assert!(announce(slower_decay).is_ok());
}

/// Stale depth (fewer than three fresh reporters) stops new risk but keeps the charges held
/// positions carry: their maintenance requirement is the same as with fresh reports.
#[test]
fn stale_depth_keeps_the_charges_of_held_positions() {
    let mut ctx = market();
    for r in 0..3 {
        report(&mut ctx, r, book(500_000), NOW).unwrap();
    }
    let (long, _) = open_long(&mut ctx, 20, 4);
    let fresh = maintenance(&long, &ctx);
    let mut no_depth = ctx.clone();
    no_depth.state.depth = Default::default();
    assert!(fresh > maintenance(&long, &no_depth), "a charge is held");
    ctx.now_ms = NOW + 2 * HOUR;
    assert!(ctx.state.depth.stale(&ctx.config.liquidity, ctx.now_ms));
    assert_eq!(maintenance(&long, &ctx), fresh);
}

/// While a change that tightens the options explanation test blends in, a re-mark the old
/// configuration explains stays trusted (no jump to the fallback charge); once the change has
/// blended in, the new test applies.
#[test]
fn during_a_blend_a_report_either_configuration_explains_is_trusted() {
    let mut ctx = market();
    let (mut long, _) = open_long(&mut ctx, 1, 2);
    report_book(&mut ctx, &mut long);
    let mut strict = config();
    strict.options.explain_tolerance = Fixed::ZERO;
    strict.options.explain_floor = 0;
    let change = governance::announce(
        &ctx.config,
        &OracleConfig::default(),
        &ctx.state,
        None,
        strict,
        OracleConfig::default(),
        NOW,
    )
    .unwrap();
    let at = change.effective_ms;
    let ramp_ms = ctx.config.ramps.params_ramp_ms;
    let (cfg, _) = governance::apply(&ctx.config, &mut ctx.state, change, at).unwrap();
    ctx.config = cfg;
    // The same book, 5 USD of P&L the Greeks do not predict: inside the old floor (10 USD),
    // outside the new test (no tolerance at all).
    let remark = |ctx: &mut MarketCtx, account: &mut Account, now: u64| {
        ctx.now_ms = now;
        report_book_with_pnl(ctx, account, 5 * USD);
        account.options.as_ref().map(|b| b.trusted)
    };
    assert_eq!(
        remark(&mut ctx, &mut long, at + HOUR),
        Some(true),
        "during the blend"
    );
    assert_eq!(
        remark(&mut ctx, &mut long, at + ramp_ms + HOUR),
        Some(false),
        "once blended in"
    );
}
