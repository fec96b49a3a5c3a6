//! The clearing-house issue's bounds on what a new position must post, attacked through the
//! calls the engine's observation makes (`feed::observe`: the stressed memory samples the
//! price, then the volatility terms update), with any forecasts, any prices, any timing (bursts
//! of calls within a second, gaps of hours): checked on the requirement a new position faces
//! (`position_requirements`), never on a copy of the rule.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::cast_precision_loss,
    clippy::float_arithmetic
)]

mod common;
use common::*;

use ballast_math::Fixed;
use ballast_oracle::OracleConfig;
use ballast_risk::health::position_requirements;
use ballast_risk::memory::sample_memory;
use ballast_risk::{MarketCtx, MarketState};
use proptest::prelude::*;

const CASES: u32 = 10_000;

fn f(x: Fixed) -> f64 {
    x.to_bits() as f64 / 281_474_976_710_656.0
}

fn market() -> MarketCtx {
    MarketCtx {
        id: BTC,
        config: config(),
        state: MarketState::new(0),
        prices: prices(Fixed::from_int(20_000)),
        now_ms: 0,
    }
}

/// One observation: time since the last (bursts of zero to a second, minutes, gaps of up to a
/// day), the oracle's forecast (1% to 500% a year) and the price's log move (up to 30%).
fn step() -> impl Strategy<Value = (u64, u32, i32)> {
    (
        prop_oneof![0u64..1_000, 60_000u64..3_600_000, 3_600_000u64..86_400_000],
        1u32..500,
        -300i32..300,
    )
}

/// The cushion the opening term keeps over the maintenance target, as documented.
const CUSHION: f64 = 1.5;

/// Drives the market through `steps` as the engine's observation does (the memory samples the
/// dampened price, here the price itself); returns, per observation, its time, the initial
/// requirement of a new 10,000 USD position and the cushion over the maintenance target of
/// that notional.
fn drive(steps: &[(u64, u32, i32)]) -> Vec<(u64, i128, f64)> {
    drive_market(steps).0
}

/// [`drive`], and whether the stressed memory had begun by the end.
fn drive_market(steps: &[(u64, u32, i32)]) -> (Vec<(u64, i128, f64)>, bool) {
    let mut ctx = market();
    let oracle = OracleConfig::default();
    let notional = 10_000 * USD;
    let (mut now, mut price) = (0u64, 20_000.0f64);
    let mut out = Vec::new();
    for &(dt, vol_percent, move_per_mille) in steps {
        now += dt;
        price *= (f64::from(move_per_mille) / 1_000.0).exp();
        let p = Fixed::from_bits((price * 281_474_976_710_656.0) as i128);
        let vol = Fixed::from_ratio(i128::from(vol_percent), 100).unwrap();
        let cfg = ctx.config.clone();
        sample_memory(&mut ctx.state.vol_memory, &oracle, &cfg.margin, vol, p, now).unwrap();
        ctx.state.update_volatility(&cfg, vol, now).unwrap();
        ctx.prices = prices(p);
        ctx.now_ms = now;
        let initial = position_requirements(&ctx, notional, true).unwrap().initial;
        let cushion = f(ctx.state.target.maintenance) * CUSHION;
        out.push((now, initial, cushion * notional as f64));
    }
    let started = ctx
        .state
        .vol_memory
        .is_some_and(|m| m.stressed_variance.is_some());
    (out, started)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// After the listing's first forecast (which applies at once), what a new position must
    /// post at t is at most the larger of what it posted at any earlier s times G(t - s) and
    /// of the cushion at any u in (s, t] times G(t - u), with G(T) = e^(0.0092 T / 1 h) (24.7%
    /// a day) and the cushion 1.5 times the maintenance target (what a position opened at the
    /// cap keeps above maintenance): rises come from the speed limit or from a maintenance term
    /// that moved first, nothing else.
    /// Half of the cases first run 70 calm days (hourly, 40% a year), so that the stressed
    /// memory has begun when the attack starts.
    #[test]
    fn the_opening_requirement_rises_at_most_its_speed_limit(
        warm in any::<bool>(),
        attack in prop::collection::vec(step(), 2..120),
    ) {
        let mut steps = Vec::new();
        if warm {
            steps.extend((0..70 * 24).map(|h| (3_600_000, 40, if h % 2 == 0 { 4 } else { -4 })));
        }
        let first = steps.len();
        steps.extend(attack);
        let (path, started) = drive_market(&steps);
        prop_assert!(started || !warm);
        let growth = |from: u64, to: u64| (0.0092 * (to - from) as f64 / 3_600_000.0).exp();
        for (k, &(t, im, _)) in path.iter().enumerate().skip(first.max(1)) {
            let mut cushion = 0.0f64;
            for j in (first.saturating_sub(1)..k).rev() {
                let (u, _, at_u) = path[j + 1];
                cushion = cushion.max(at_u * growth(u, t));
                let (s, earlier, _) = path[j];
                let hours = (t - s) as f64 / 3_600_000.0;
                // Rounding slack: a few units (the requirement rounds up).
                let limit = earlier as f64 * growth(s, t) * (1.0 + 1e-8) + 2.0;
                let bound = limit.max(cushion * (1.0 + 1e-8) + 2.0);
                prop_assert!(
                    im as f64 <= bound,
                    "{earlier} at {s} -> {im} at {t} ({hours:.2} h, cushion {cushion:.0})"
                );
            }
        }
    }
}

/// A forecast that triples at once reaches new positions over days: at once only up to the
/// cushion of 1.5 times the maintenance term, then at most 0.92% an hour; the calm after it
/// reaches them at once.
#[test]
fn a_tripling_forecast_reaches_new_positions_over_days() {
    let mut steps = vec![(0, 30, 0); 1];
    steps.extend(vec![(3_600_000, 30, 1); 48]);
    steps.extend(vec![(3_600_000, 90, 5); 96]);
    let path = drive(&steps);
    let notional = (10_000 * USD) as f64;
    let calm = path[48].1 as f64;
    let first = path[49].1 as f64;
    let day_later = path[49 + 24].1 as f64;
    let four_days = path[48 + 96].1 as f64;
    // 30%: the 5% floor. The storm's first hour: the cushion, 1.5 * 1.507 * 0.9 * sqrt(8 /
    // 8,760) = 6.15%. A day later: 1.0092^24 = 1.246 times that. Four days: the raw 8.85%
    // (3.256 * 0.9 * sqrt(8 / 8,760)), reached after about 40 hours.
    assert!((calm / notional - 0.05).abs() < 1e-6, "{calm}");
    assert!((first / notional - 0.0615).abs() < 2e-4, "{first}");
    assert!(
        (day_later / first - 1.0092f64.powi(24)).abs() < 1e-3,
        "{day_later}"
    );
    assert!((four_days / notional - 0.0885).abs() < 3e-4, "{four_days}");
    // The storm ends: the next hour is back at the 5% floor.
    let mut end = steps.clone();
    end.push((3_600_000, 30, 0));
    let after = drive(&end);
    assert!((after[after.len() - 1].1 as f64 / calm - 1.0).abs() < 1e-6);
}
