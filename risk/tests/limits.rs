//! Greeks-aware limits, liquidity-adjusted sizing and stress fees (issue 9): unit cases and
//! properties over the public API of the risk core.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use ballast_math::{Fixed, Rounding};
use ballast_risk::greeks::{
    book_requirements, check_budgets, fallback_requirement, gamma_cap, gamma_loss,
    scenario_requirement, vega_cap, vol_shock, Level, Stress,
};
use ballast_risk::health::{account_health, position_requirements, HealthKind};
use ballast_risk::margin::VolFractions;
use ballast_risk::{
    apply_fill, apply_options_report, liquidity::BookDepth, max_position, report_depth, stress_fee,
    Account, BreakerState, ExpiryGreeks, Fill, MarketCtx, MarketState, OptionsReport, RiskError,
};
use common::{config, fx, prices, BTC, HOUR, ONE_BTC, USD};
use proptest::prelude::*;

const DAY: u64 = 86_400_000;
const NOW: u64 = 400 * DAY;

/// The market at `price` with forecast volatility `vol` fully ramped in, at `NOW`.
fn market(price: i64, vol: &str) -> MarketCtx {
    let cfg = config();
    let mut state = MarketState::new(0);
    let v = fx(vol);
    let fractions = VolFractions::for_vol(&cfg.margin, v).unwrap();
    state.applied = fractions;
    state.target = fractions;
    state.forecast_vol = v;
    state.last_ramp_ms = NOW;
    MarketCtx {
        id: BTC,
        config: cfg,
        state,
        prices: prices(Fixed::from_int(price)),
        now_ms: NOW,
    }
}

fn bucket(days: u64, delta: i128, gamma: i128, vega: i128, iv: &str) -> ExpiryGreeks {
    ExpiryGreeks {
        expiry_ms: NOW + days * DAY,
        delta,
        gamma,
        vega,
        implied_vol: fx(iv),
    }
}

fn report(buckets: Vec<ExpiryGreeks>, at: u64) -> OptionsReport {
    OptionsReport {
        market: BTC,
        buckets,
        venue_initial: 0,
        venue_maintenance: 0,
        mark_value: 0,
        pnl: 0,
        timestamp_ms: at,
        trade: true,
    }
}

fn initial(ctx: &MarketCtx) -> Stress {
    Stress::of(ctx, Level::Initial { opening: false }).unwrap()
}

fn close(a: i128, b: i128, units: i128) -> bool {
    (a - b).abs() <= units
}

// ----- Greeks -----

#[test]
fn a_delta_only_book_is_charged_what_a_perp_of_its_notional_is() {
    for vol in ["0.2", "0.6", "1.5"] {
        let ctx = market(20_000, vol);
        for (delta, notional) in [(5 * ONE_BTC, 100_000 * USD), (-ONE_BTC / 2, 10_000 * USD)] {
            let book = report(vec![bucket(30, delta, 0, 0, "0.6")], NOW);
            let perp = position_requirements(&ctx, notional, false).unwrap();
            let d = ctx.config.decimals;
            let im = scenario_requirement(&ctx.config.options, &book, &initial(&ctx), d).unwrap();
            let maintenance = Stress::of(&ctx, Level::Maintenance).unwrap();
            let mm = scenario_requirement(&ctx.config.options, &book, &maintenance, d).unwrap();
            assert!(
                close(im, perp.initial, 2),
                "vol {vol}: options {im} vs perp {}",
                perp.initial
            );
            assert!(
                close(mm, perp.maintenance, 2),
                "vol {vol}: {mm} vs {}",
                perp.maintenance
            );
        }
    }
}

/// A short 7-day straddle-like bucket: short gamma and vega.
fn short_straddle(gamma_usd: i128, vega_usd: i128) -> ExpiryGreeks {
    bucket(7, 0, -gamma_usd * USD, -vega_usd * USD, "0.6")
}

#[test]
fn offsets_between_expiries_get_partial_credit_and_tails_charge_short_gamma() {
    let ctx = market(20_000, "0.6");
    let p = &ctx.config.options;
    let d = ctx.config.decimals;
    let s = initial(&ctx);
    // A calendar: short 7-day vega against long 60-day vega.
    let near = bucket(7, 0, 0, -1_000 * USD, "0.6");
    let far = bucket(60, 0, 0, 1_000 * USD, "0.6");
    let alone = |b: ExpiryGreeks| scenario_requirement(p, &report(vec![b], NOW), &s, d).unwrap();
    let both = scenario_requirement(p, &report(vec![near, far], NOW), &s, d).unwrap();
    let netted = vol_shock(p, &near, &s)
        .unwrap()
        .checked_sub(vol_shock(p, &far, &s).unwrap())
        .unwrap()
        .mul_amount(1_000 * USD, Rounding::Ceil)
        .unwrap();
    let gross = alone(near) + alone(far);
    // grid = netted + (1 - credit) (gross - netted), credit 0.5.
    assert!(
        close(both, netted + (gross - netted) / 2, 4),
        "{both} vs {netted}, {gross}"
    );
    assert!(both < gross && both > netted);
    // Net short gamma: the tail scenario (2h, weight 0.5) charges gamma h^2, twice the grid.
    let short = report(vec![short_straddle(100_000, 0)], NOW);
    let h = s.price_move;
    let grid_loss = h
        .checked_mul(h)
        .unwrap()
        .div_int(2, Rounding::Nearest)
        .unwrap()
        .mul_amount(100_000 * USD, Rounding::Ceil)
        .unwrap();
    let charged = scenario_requirement(p, &short, &s, d).unwrap();
    assert!(
        close(charged, 2 * grid_loss, 4),
        "{charged} vs 2 x {grid_loss}"
    );
    // Long gamma of the same size has no loss in any scenario.
    let long = report(vec![bucket(7, 0, 100_000 * USD, 0, "0.6")], NOW);
    assert_eq!(scenario_requirement(p, &long, &s, d).unwrap(), 0);
}

#[test]
fn the_vol_shock_follows_the_dte_power_law() {
    let ctx = market(20_000, "0.6");
    let p = &ctx.config.options;
    let s = initial(&ctx);
    let shock = |days| vol_shock(p, &bucket(days, 0, 0, 1, "0.5"), &s).unwrap();
    let base = p.vol_of_vol.checked_mul(fx("0.5")).unwrap();
    let near =
        |a: Fixed, b: Fixed, tol: &str| a.checked_sub(b).unwrap().checked_abs().unwrap() < fx(tol);
    // 30 days: the factor is 1.
    assert!(near(shock(30), base, "0.000000001"));
    // 1 day: 30^0.3 = 2.774191; 120 days: (1/4)^0.13 = 0.835088.
    let f1 = shock(1).checked_div(base).unwrap();
    assert!(near(f1, fx("2.774191"), "0.000001"), "{f1}");
    let f120 = shock(120).checked_div(base).unwrap();
    assert!(near(f120, fx("0.835088"), "0.000001"), "{f120}");
    // Expired or expiring today: as 1 day.
    assert_eq!(shock(0), shock(1));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Short gamma costs more as volatility rises, whatever else the book holds.
    #[test]
    fn short_gamma_costs_more_as_volatility_rises(
        gamma in 1i128..1_000_000,
        delta in -100i128..100,
        vega in -10_000i128..10_000,
        days in 1u64..200,
        vol_low in 10u32..200,
        step in 1u32..200,
    ) {
        let low = market(20_000, &format!("{}.{:02}", vol_low / 100, vol_low % 100));
        let high = market(20_000, &format!("{}.{:02}", (vol_low + step) / 100, (vol_low + step) % 100));
        let book = report(vec![bucket(days, delta * ONE_BTC / 10, -gamma * USD, vega * USD, "0.6")], NOW);
        let p = &low.config.options;
        let d = low.config.decimals;
        for level in [Level::Initial { opening: false }, Level::Maintenance] {
            let (s1, s2) = (Stress::of(&low, level).unwrap(), Stress::of(&high, level).unwrap());
            let r1 = scenario_requirement(p, &book, &s1, d).unwrap();
            let r2 = scenario_requirement(p, &book, &s2, d).unwrap();
            prop_assert!(r2 >= r1, "{level:?}: {r2} < {r1}");
            if s2.price_move > s1.price_move {
                let pure = report(vec![bucket(days, 0, -gamma * USD, 0, "0.6")], NOW);
                prop_assert!(
                    scenario_requirement(p, &pure, &s2, d).unwrap()
                        > scenario_requirement(p, &pure, &s1, d).unwrap()
                );
            }
        }
    }
}

#[test]
fn the_gamma_cap_falls_as_one_over_sigma_squared_and_binds() {
    let equity = 1_000_000 * USD;
    let calm = market(20_000, "0.8");
    let wild = market(20_000, "1.6");
    let (s1, s2) = (initial(&calm), initial(&wild));
    // Both vol terms are above the 5% floor, so h doubles with sigma.
    assert!(s1.price_move > calm.config.margin.min_initial_fraction);
    let p = &calm.config.options;
    let (c1, c2) = (
        gamma_cap(p, equity, &s1).unwrap(),
        gamma_cap(p, equity, &s2).unwrap(),
    );
    let ratio = Fixed::from_ratio(c1, c2).unwrap();
    let off = ratio
        .checked_sub(Fixed::from_int(4))
        .unwrap()
        .checked_abs()
        .unwrap();
    assert!(off < fx("0.000001"), "cap ratio {ratio}");
    // 2 b E / h^2 exactly (b = 0.25).
    let h2 = s1.price_move.checked_mul(s1.price_move).unwrap();
    let want = Fixed::from_ratio(1, 2)
        .unwrap()
        .checked_div(h2)
        .unwrap()
        .mul_amount(equity, Rounding::Floor)
        .unwrap();
    assert!(close(c1, want, want / 1_000_000 + 2));
    // At the cap the budget holds; a little beyond it does not.
    let at = |g: i128| report(vec![bucket(7, 0, -g, 0, "0.6")], NOW);
    let slack = c1 / 1_000_000 + 2;
    assert_eq!(check_budgets(p, &at(c1 - slack), &s1, equity), Ok(()));
    assert_eq!(
        check_budgets(p, &at(c1 + slack), &s1, equity),
        Err(RiskError::GammaBudget)
    );
    assert!(gamma_loss(&at(c1 - slack), &s1).unwrap() <= equity / 4);
}

#[test]
fn the_vega_cap_falls_with_the_vol_shock_and_binds() {
    let equity = 1_000_000 * USD;
    let ctx = market(20_000, "0.6");
    let p = &ctx.config.options;
    let s = initial(&ctx);
    let b = |iv: &str, vega: i128| bucket(10, 0, 0, vega, iv);
    let (k1, k2) = (
        vol_shock(p, &b("0.5", 1), &s).unwrap(),
        vol_shock(p, &b("1.0", 1), &s).unwrap(),
    );
    let (c1, c2) = (
        vega_cap(p, equity, k1).unwrap(),
        vega_cap(p, equity, k2).unwrap(),
    );
    assert!(close(c1, 2 * c2, 4), "{c1} vs 2 x {c2}");
    assert!(close(
        c1,
        Fixed::ONE
            .checked_div(k1)
            .unwrap()
            .mul_amount(equity / 4, Rounding::Floor)
            .unwrap(),
        2
    ));
    let slack = c1 / 1_000_000 + 2;
    for sign in [-1, 1] {
        let inside = report(vec![b("0.5", sign * (c1 - slack))], NOW);
        let beyond = report(vec![b("0.5", sign * (c1 + slack))], NOW);
        assert_eq!(check_budgets(p, &inside, &s, equity), Ok(()));
        assert_eq!(
            check_budgets(p, &beyond, &s, equity),
            Err(RiskError::VegaBudget)
        );
    }
}

/// An account with collateral and one perp-free options book, in one market.
fn options_account(collateral_usd: i128) -> Account {
    Account {
        collateral: collateral_usd * USD,
        ..Account::default()
    }
}

#[test]
fn stale_greeks_fall_back_to_the_conservative_charge() {
    let mut ctx = market(20_000, "0.6");
    let mut a = options_account(1_000_000);
    let mut book = report(
        vec![
            short_straddle(50_000, 2_000),
            bucket(60, 0, 20_000 * USD, 1_000 * USD, "0.6"),
        ],
        NOW,
    );
    book.venue_initial = 100 * USD;
    book.venue_maintenance = 50 * USD;
    apply_options_report(&mut a, &mut [ctx.clone()], book.clone(), &mut 0).unwrap();
    let held = a.options.clone().unwrap();
    let w = ctx.config.margin.liquidation_end_weight;
    let fresh = book_requirements(&held, &ctx, false, w).unwrap();
    let d = ctx.config.decimals;
    let scenario = scenario_requirement(&ctx.config.options, &book, &initial(&ctx), d).unwrap();
    let fallback = fallback_requirement(&ctx.config.options, &book, &initial(&ctx), d).unwrap();
    assert_eq!(fresh.initial, scenario.max(book.venue_initial));
    assert!(
        fallback > scenario,
        "fallback {fallback} must exceed scenario {scenario}"
    );
    // One hour later the Greeks are still fresh; a millisecond after that they are not.
    ctx.now_ms = NOW + ctx.config.options.max_age_ms;
    let later = scenario_requirement(&ctx.config.options, &book, &initial(&ctx), d).unwrap();
    assert_eq!(
        book_requirements(&held, &ctx, false, w).unwrap().initial,
        later.max(book.venue_initial)
    );
    ctx.now_ms += 1;
    let stale = book_requirements(&held, &ctx, false, w).unwrap();
    let expired_fallback =
        fallback_requirement(&ctx.config.options, &book, &initial(&ctx), d).unwrap();
    assert_eq!(stale.initial, expired_fallback);
    assert!(
        stale.maintenance > fresh.maintenance,
        "stale {stale:?} fresh {fresh:?}"
    );
}

#[test]
fn unexplained_pnl_falls_back_until_a_report_is_explained() {
    let ctx0 = market(20_000, "0.6");
    let mut a = options_account(1_000_000);
    let first = report(
        vec![bucket(30, ONE_BTC, -10_000 * USD, -500 * USD, "0.6")],
        NOW - 10,
    );
    apply_options_report(&mut a, &mut [ctx0.clone()], first, &mut 0).unwrap();
    // The price rises 2%: predicted P&L = 1 BTC x 20,000 x 2% - 10,000 x 0.02^2 / 2 = 398 USD.
    let mut ctx = ctx0.clone();
    ctx.prices = prices(Fixed::from_int(20_400));
    let mut second = report(
        vec![bucket(30, ONE_BTC, -10_000 * USD, -500 * USD, "0.6")],
        NOW,
    );
    second.pnl = 398 * USD;
    let explained =
        apply_options_report(&mut a.clone(), &mut [ctx.clone()], second.clone(), &mut 0).unwrap();
    assert!(explained.trusted);
    // A P&L of +5,000 USD is not what these Greeks earn on a 2% move.
    second.pnl = 5_000 * USD;
    let mut b = a.clone();
    let outcome = apply_options_report(&mut b, &mut [ctx.clone()], second.clone(), &mut 0).unwrap();
    assert!(!outcome.trusted);
    let book = b.options.clone().unwrap();
    assert!(!book.trusted);
    let fallback = fallback_requirement(
        &ctx.config.options,
        &second,
        &initial(&ctx),
        ctx.config.decimals,
    )
    .unwrap();
    assert_eq!(outcome.initial_requirement, fallback);
    // The next report whose P&L the distrusted Greeks explain restores the scenario charge.
    let mut third = second.clone();
    third.timestamp_ms = NOW + 1;
    third.pnl = 0;
    ctx.now_ms = NOW + 1;
    let restored = apply_options_report(&mut b, &mut [ctx.clone()], third, &mut 0).unwrap();
    assert!(restored.trusted);
    assert!(restored.initial_requirement < fallback);
}

#[test]
fn a_book_fine_in_calm_markets_is_refused_new_short_gamma_after_a_spike() {
    let calm = market(20_000, "0.5");
    let spike = market(20_000, "1.5");
    let mut a = options_account(100_000);
    let book = |g: i128, at: u64| report(vec![short_straddle(g, 0)], at);
    // Short gamma worth 60% of the calm cap is accepted.
    let equity = 100_000 * USD;
    let cap_calm = gamma_cap(
        &calm.config.options,
        equity,
        &Stress::of(&calm, Level::Initial { opening: true }).unwrap(),
    )
    .unwrap();
    let g = cap_calm * 6 / 10 / USD;
    apply_options_report(&mut a, &mut [calm.clone()], book(g, NOW - 100), &mut 0).unwrap();
    // After the spike, adding 10% more short gamma breaks the budget...
    let more = apply_options_report(
        &mut a.clone(),
        &mut [spike.clone()],
        book(g * 11 / 10, NOW - 50),
        &mut 0,
    );
    assert_eq!(more, Err(RiskError::GammaBudget));
    // ...while cutting it always passes, even in reduce-only and with the budget broken.
    let mut halted = spike.clone();
    halted.state.breaker.state = BreakerState::ReduceOnly;
    let cut = apply_options_report(
        &mut a.clone(),
        &mut [halted.clone()],
        book(g / 2, NOW - 50),
        &mut 0,
    )
    .unwrap();
    assert!(!cut.growing);
    assert_eq!(
        apply_options_report(
            &mut a.clone(),
            &mut [halted],
            book(g * 11 / 10, NOW - 50),
            &mut 0
        ),
        Err(RiskError::ReduceOnly)
    );
}

#[test]
fn malformed_reports_are_refused_and_change_nothing() {
    let ctx = market(20_000, "0.6");
    let mut a = options_account(100_000);
    apply_options_report(
        &mut a,
        &mut [ctx.clone()],
        report(vec![short_straddle(10, 1)], NOW - 5),
        &mut 0,
    )
    .unwrap();
    let before = a.clone();
    let mut margins = report(vec![], NOW);
    margins.venue_maintenance = 2;
    margins.venue_initial = 1;
    let cases = vec![
        report(vec![short_straddle(10, 1)], NOW + 1), // in the future
        report(vec![short_straddle(10, 1)], NOW - 5), // not newer
        report(vec![short_straddle(1, 1); 2], NOW),   // one expiry twice
        report(vec![bucket(7, 0, 0, 0, "0")], NOW),   // zero implied vol
        report((1..=5).map(|d| bucket(d, 0, 0, 0, "0.5")).collect(), NOW), // 5 buckets
        margins,                                      // maintenance above initial
    ];
    for case in cases {
        assert_eq!(
            apply_options_report(&mut a, &mut [ctx.clone()], case.clone(), &mut 0),
            Err(RiskError::InvalidReport),
            "{case:?}"
        );
        assert_eq!(a, before);
    }
}

// ----- liquidity -----

/// The market after reporter `i` reported `depth_usd[i]` on both sides, a minute apart, the
/// last a minute before `NOW`.
fn with_depth(ctx: MarketCtx, depth_usd: &[i128]) -> MarketCtx {
    let books: Vec<(i128, i128)> = depth_usd.iter().map(|d| (*d, *d)).collect();
    with_books(ctx, &books)
}

fn with_books(mut ctx: MarketCtx, books_usd: &[(i128, i128)]) -> MarketCtx {
    for (i, (bid, ask)) in books_usd.iter().enumerate() {
        ctx.now_ms = NOW - (books_usd.len() - i) as u64 * 60_000;
        let depth = BookDepth {
            bid: bid * USD,
            ask: ask * USD,
        };
        report_depth(&mut ctx, [i as u8; 32], depth).unwrap();
    }
    ctx.now_ms = NOW;
    ctx
}

fn max_buy(a: &Account, ctx: &MarketCtx) -> i128 {
    max_position(a, &[ctx.clone()], BTC, true, ctx.prices.oracle, Fixed::ZERO).unwrap()
}

#[test]
fn a_thin_market_refuses_size_that_a_deep_one_accepts() {
    let a = Account {
        collateral: 200_000 * USD,
        ..Account::default()
    };
    let deep = with_depth(market(20_000, "0.5"), &[50_000_000; 5]);
    let thin = with_depth(market(20_000, "0.5"), &[200_000; 5]);
    let none = market(20_000, "0.5");
    let (in_deep, in_thin, without) = (max_buy(&a, &deep), max_buy(&a, &thin), max_buy(&a, &none));
    assert!(
        in_thin < in_deep && in_deep <= without,
        "{in_thin} {in_deep} {without}"
    );
    // Thin: effective depth 100k (haircut 0.5); impact <= 2% allows 4 x 100k = 400k notional,
    // and the growth window allows 50k of new open interest in the hour.
    let thin_cap = thin
        .config
        .decimals
        .size_for_value(50_000 * USD, Fixed::from_int(20_000), Rounding::Floor)
        .unwrap();
    assert_eq!(in_thin, thin_cap);
    // A fill of the deep market's size is refused in the thin one.
    let fill = Fill {
        market: BTC,
        size: in_deep,
        price: Fixed::from_int(20_000),
        taker_fee: 0,
        maker_fee: 0,
    };
    let maker = Account {
        collateral: 100_000_000 * USD,
        ..Account::default()
    };
    let try_fill = |ctx: &MarketCtx| {
        let mut m = vec![ctx.clone()];
        apply_fill(&mut m, &mut a.clone(), &mut maker.clone(), &fill, &mut 0)
    };
    assert!(try_fill(&deep).is_ok());
    assert_eq!(try_fill(&thin), Err(RiskError::OpenInterestGrowth));
}

#[test]
fn the_impact_cap_and_the_liquidity_charge_bind_per_account() {
    // Depth 1M each side (effective 500k); growth room is ample with a fresh window of 10M OI.
    let mut ctx = with_depth(market(20_000, "0.5"), &[1_000_000; 5]);
    ctx.config.liquidity.oi_growth_fraction = Fixed::from_int(1_000);
    let rich = Account {
        collateral: 10_000_000 * USD,
        ..Account::default()
    };
    // impact <= 2% allows 4 x 500k = 2M notional = 100 BTC.
    assert_eq!(max_buy(&rich, &ctx), 100 * ONE_BTC);
    let maker = Account {
        collateral: 100_000_000 * USD,
        ..Account::default()
    };
    let fill = |size| Fill {
        market: BTC,
        size,
        price: Fixed::from_int(20_000),
        taker_fee: 0,
        maker_fee: 0,
    };
    let mut m = vec![ctx.clone()];
    assert_eq!(
        apply_fill(
            &mut m,
            &mut rich.clone(),
            &mut maker.clone(),
            &fill(100 * ONE_BTC + 1),
            &mut 0
        ),
        Err(RiskError::LiquidityCap)
    );
    // The charge: a 1M notional position closes at impact 1% x sqrt(1M / 500k) = 1.414%.
    let mut held = rich.clone();
    let mut mk = maker.clone();
    apply_fill(&mut m, &mut held, &mut mk, &fill(50 * ONE_BTC), &mut 0).unwrap();
    let with = account_health(&held, &m, HealthKind::Maintenance, None)
        .unwrap()
        .requirement;
    let mut no_depth = m.clone();
    no_depth[0].state.depth = Default::default();
    let without = account_health(&held, &no_depth, HealthKind::Maintenance, None)
        .unwrap()
        .requirement;
    let expected = fx("0.0141421356237")
        .mul_amount(1_000_000 * USD, Rounding::Ceil)
        .unwrap();
    assert!(
        close(with - without, expected, 20),
        "charge {} vs {expected}",
        with - without
    );
    // Stale depth stops growth but not reduction.
    let mut stale = m.clone();
    stale[0].now_ms = NOW + HOUR + 1;
    stale[0].prices = prices(Fixed::from_int(20_000));
    assert_eq!(
        apply_fill(
            &mut stale.clone(),
            &mut held.clone(),
            &mut maker.clone(),
            &fill(ONE_BTC),
            &mut 0
        ),
        Err(RiskError::DepthStale)
    );
    assert!(apply_fill(&mut stale, &mut held, &mut mk, &fill(-ONE_BTC), &mut 0).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// A fill that only reduces both sides passes whatever depth, its age, the breaker or the
    /// accounts' health say.
    #[test]
    fn a_risk_reducing_fill_always_passes(
        long_btc in 1i128..50,
        cut_share in 1i128..=100,
        depth in 1i128..10_000_000,
        crash_bps in 0i64..3_000,
        stale in any::<bool>(),
        reduce_only in any::<bool>(),
    ) {
        let ctx = with_depth(market(20_000, "0.6"), &[100_000_000; 5]);
        let mut m = vec![ctx];
        let (mut long, mut short) = (
            Account { collateral: long_btc * 2_000 * USD, ..Account::default() },
            Account { collateral: long_btc * 2_000 * USD, ..Account::default() },
        );
        let size = long_btc * ONE_BTC;
        let price = Fixed::from_int(20_000);
        apply_fill(&mut m, &mut long, &mut short, &Fill { market: BTC, size, price, taker_fee: 0, maker_fee: 0 }, &mut 0).unwrap();
        // Now the book collapses, the price falls, time passes, the breaker trips.
        let ctx = &mut m[0];
        for reporter in 0..3u8 {
            report_depth(ctx, [reporter; 32], BookDepth { bid: depth, ask: depth }).unwrap();
        }
        let crashed = ballast_risk::sequence::bps_of(price, -crash_bps).unwrap();
        ctx.prices = prices(crashed);
        if stale { ctx.now_ms += 2 * HOUR; }
        if reduce_only { ctx.state.breaker.state = BreakerState::ReduceOnly; }
        let cut = (size * cut_share / 100).max(1);
        // An insurance fund, so that a close that ends underwater by a rounding unit has its
        // deficit covered (with no fund and nobody else holding, it is refused instead).
        let mut fund = 1_000_000 * USD;
        let r = apply_fill(&mut m, &mut long, &mut short, &Fill { market: BTC, size: -cut, price: crashed, taker_fee: 0, maker_fee: 0 }, &mut fund);
        prop_assert!(r.is_ok(), "reducing fill refused: {r:?}");
        prop_assert!(long.collateral >= 0 || !long.positions.is_empty());
    }
}

// ----- stress fees -----

#[test]
fn the_stress_multiplier_follows_its_formula() {
    let mut ctx = market(20_000, "0.5");
    // Calm: no fast vol yet, no depth: multiplier 1.
    let calm = stress_fee(&ctx).unwrap();
    assert_eq!(calm.multiplier, Fixed::ONE);
    // Short-horizon vol at 1.0 against a 0.5 forecast: ratio 2, +1 (vol weight 1).
    ctx.state.fast_vol = Some(ballast_oracle::VolState {
        annualized_variance: Fixed::ONE,
        last_price: Fixed::from_int(20_000),
        last_interval: 0,
        observations: 1,
    });
    let vol_only = stress_fee(&ctx).unwrap();
    assert_eq!(vol_only.vol_ratio, Fixed::from_int(2));
    assert_eq!(vol_only.multiplier, Fixed::from_int(2));
    // The reported book thins to a quarter of the depth in use: +2 x 0.75, capped at 4 in all.
    let thinning = with_depth(with_depth(ctx.clone(), &[1_000_000; 3]), &[250_000; 3]);
    let both = stress_fee(&thinning).unwrap();
    assert_eq!(both.depth_thinning, fx("0.75"));
    assert_eq!(both.multiplier, fx("3.5"));
    let mut wild = thinning.clone();
    wild.state.fast_vol.as_mut().unwrap().annualized_variance = Fixed::from_int(4);
    assert_eq!(stress_fee(&wild).unwrap().multiplier, Fixed::from_int(4));
}

#[test]
fn the_liquidation_throttle_is_sized_from_depth_once_depth_is_reported() {
    use ballast_risk::liquidation::throttle_notional;
    let ctx = market(20_000, "0.6");
    assert_eq!(
        throttle_notional(&ctx).unwrap(),
        ctx.config.liquidation.throttle_notional
    );
    // 40M of bids, 30M of asks: five times the thinner side after the haircut, per window.
    let deep = with_books(ctx.clone(), &[(40_000_000, 30_000_000); 3]);
    assert_eq!(throttle_notional(&deep).unwrap(), 75_000_000 * USD);
    // However thin the book is said to be, 2% of the open interest's notional gets through:
    // 1,000 BTC open at 20,000 is 20M, so 400k, far above five times a 1-unit book.
    let mut crowded = with_depth(ctx.clone(), &[1; 3]);
    crowded.state.open_interest = 1_000 * ONE_BTC;
    assert_eq!(throttle_notional(&crowded).unwrap(), 400_000 * USD);
}

/// An isolated account holds one market, options book included: a book in another market than
/// its position is refused, and so is a position in another market than its book, each
/// leaving the account as it was.
#[test]
fn an_isolated_account_holds_one_market_books_included() {
    let btc = market(20_000, "0.6");
    let mut eth = market(1_500, "0.6");
    eth.id = BTC + 1;
    let mut markets = [btc.clone(), eth.clone()];
    let isolated = Account {
        collateral: 1_000_000 * USD,
        isolated: true,
        ..Account::default()
    };

    // A book first (in ETH), then a BTC position: refused.
    let mut with_book = isolated.clone();
    let mut eth_book = report(vec![bucket(30, 0, 1_000 * USD, 100 * USD, "0.6")], NOW);
    eth_book.market = eth.id;
    apply_options_report(&mut with_book, &mut markets, eth_book, &mut 0).unwrap();
    let before = with_book.clone();
    assert_eq!(
        with_book.position_mut(BTC, &btc.state).err(),
        Some(RiskError::IsolatedAccount)
    );
    assert_eq!(with_book, before);
    assert!(
        with_book.position_mut(eth.id, &eth.state).is_ok(),
        "its own market"
    );

    // A BTC position first, then an ETH book: refused, whether the report trades or not.
    let mut with_perp = isolated.clone();
    with_perp.position_mut(BTC, &btc.state).unwrap().size = 1;
    let before = with_perp.clone();
    for trade in [true, false] {
        let mut book = report(vec![bucket(30, 0, 1_000 * USD, 100 * USD, "0.6")], NOW);
        book.market = eth.id;
        book.trade = trade;
        assert_eq!(
            apply_options_report(&mut with_perp, &mut markets, book, &mut 0).err(),
            Some(RiskError::IsolatedAccount)
        );
        assert_eq!(with_perp, before);
    }
    // A cross account may hold both.
    let mut cross = Account {
        isolated: false,
        ..before.clone()
    };
    let mut book = report(vec![bucket(30, 0, 1_000 * USD, 100 * USD, "0.6")], NOW);
    book.market = eth.id;
    assert!(apply_options_report(&mut cross, &mut markets, book, &mut 0).is_ok());
}
