//! Replays candles through the oracle adapter and the risk core with the default market
//! configuration, printing per day the forecast volatility, the applied maximum leverage
//! (initial and maintenance) and the breaker state, and ending with one JSON line.
//!
//! Usage: `cargo run --release -p ballast-risk --example risk_replay -- FILE.csv`
//! (`scripts/risk-replay.sh` picks the default file).
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::float_arithmetic
)]

use std::collections::BTreeMap;

use ballast_math::{Decimals, Fixed, Rounding};
use ballast_oracle::candles::{format_timestamp_ms, read_csv, Candle};
use ballast_oracle::{FeedState, OracleConfig, Report};
use ballast_risk::breaker::BreakerState;
use ballast_risk::feed::observe;
use ballast_risk::health::position_requirements;
use ballast_risk::{MarketConfig, MarketCtx, MarketState};

const FEEDERS: u8 = 3;
const MINUTE: u64 = 60_000;
/// Reference position for the leverage figures: 100,000 USD of notional (first tier).
const REFERENCE_NOTIONAL: i128 = 100_000 * 1_000_000;

/// The UTC date of a millisecond timestamp.
fn day_of(ms: u64) -> String {
    format_timestamp_ms(ms)[..10].to_string()
}

fn f(x: Fixed) -> f64 {
    x.to_bits() as f64 / 2f64.powi(48)
}

/// Intra-bar path: open, then the extreme against the close's direction first, then the other,
/// then close, 15 minutes apart.
fn path(c: &Candle) -> [(u64, Fixed); 4] {
    let (first, second) = if c.close >= c.open {
        (c.low, c.high)
    } else {
        (c.high, c.low)
    };
    [
        (c.timestamp_ms, c.open),
        (c.timestamp_ms + 15 * MINUTE, first),
        (c.timestamp_ms + 30 * MINUTE, second),
        (c.timestamp_ms + 45 * MINUTE, c.close),
    ]
}

#[derive(Default)]
struct Day {
    close: f64,
    vol: f64,
    min_initial_leverage: f64,
    min_maintenance_leverage: f64,
    min_target_leverage: f64,
    end_state: Option<BreakerState>,
    trips: u32,
}

fn leverage(notional: i128, requirement: i128) -> f64 {
    if requirement <= 0 {
        0.0
    } else {
        notional as f64 / requirement as f64
    }
}

fn main() {
    let file = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/data/btcusdt-1h-2022-2025.csv".into());
    let candles = read_csv(&file).unwrap_or_else(|e| panic!("{file}: {e:?}"));
    let decimals = Decimals { base: 8, quote: 6 };
    let config = MarketConfig::default_large_cap(decimals);
    let oracle_config = OracleConfig::default();
    let mut feed = FeedState::default();
    let mut ctx = MarketCtx {
        id: 1,
        config: config.clone(),
        state: MarketState::new(candles.first().map_or(0, |c| c.timestamp_ms)),
        prices: ballast_risk::Prices {
            oracle: Fixed::ONE,
            dampened: Fixed::ONE,
            opening_valid: false,
            liquidation_valid: false,
        },
        now_ms: 0,
    };
    let mut days: BTreeMap<String, Day> = BTreeMap::new();
    let mut trips = 0u32;
    for candle in &candles {
        for (at, price) in path(candle) {
            let confidence = price
                .checked_mul(Fixed::from_ratio(1, 10_000).unwrap())
                .unwrap();
            for slot in 0..FEEDERS {
                feed.submit(
                    &oracle_config,
                    slot,
                    Report {
                        price,
                        confidence,
                        timestamp_ms: at,
                    },
                    at,
                )
                .expect("report accepted");
            }
            let obs = observe(&feed, &oracle_config, &config, &mut ctx.state, at).expect("observe");
            ctx.prices = obs.prices;
            ctx.now_ms = at;
            let day = days.entry(day_of(at)).or_insert_with(|| Day {
                min_initial_leverage: f64::MAX,
                min_maintenance_leverage: f64::MAX,
                min_target_leverage: f64::MAX,
                ..Day::default()
            });
            if matches!(obs.transition, Some(t) if t.to == BreakerState::ReduceOnly) {
                trips += 1;
                day.trips += 1;
            }
            let existing = position_requirements(&ctx, REFERENCE_NOTIONAL, false).unwrap();
            let opening = position_requirements(&ctx, REFERENCE_NOTIONAL, true).unwrap();
            day.min_initial_leverage = day
                .min_initial_leverage
                .min(leverage(REFERENCE_NOTIONAL, existing.initial));
            day.min_maintenance_leverage = day
                .min_maintenance_leverage
                .min(leverage(REFERENCE_NOTIONAL, existing.maintenance));
            day.min_target_leverage = day
                .min_target_leverage
                .min(leverage(REFERENCE_NOTIONAL, opening.initial));
            day.close = f(price);
            day.vol = obs.forecast_vol.map_or(0.0, f);
            day.end_state = Some(ctx.state.breaker.state);
        }
    }
    let _ = Rounding::Floor;
    println!("| day | close | forecast vol | max leverage: existing initial | maintenance | new positions | breaker at close | trips |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |");
    for (name, d) in &days {
        println!(
            "| {name} | {:.2} | {:.1}% | {:.2}x | {:.2}x | {:.2}x | {:?} | {} |",
            d.close,
            d.vol * 100.0,
            d.min_initial_leverage,
            d.min_maintenance_leverage,
            d.min_target_leverage,
            d.end_state.unwrap(),
            d.trips
        );
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        if v.is_empty() {
            0.0
        } else {
            v[v.len() / 2]
        }
    };
    let in_range = |lo: &str, hi: &str| {
        days.iter()
            .filter(|(k, _)| k.as_str() >= lo && k.as_str() <= hi)
            .map(|(_, d)| d.min_initial_leverage)
            .collect::<Vec<_>>()
    };
    let october = in_range("2022-10-01", "2022-10-31");
    let crash = in_range("2022-11-08", "2022-11-10");
    let (calm, stress, scope) = if october.is_empty() || crash.is_empty() {
        let all: Vec<f64> = days.values().map(|d| d.min_initial_leverage).collect();
        (
            median(all.clone()),
            all.iter().cloned().fold(f64::MAX, f64::min),
            "all days",
        )
    } else {
        (
            median(october),
            crash.iter().cloned().fold(f64::MAX, f64::min),
            "2022-10 median, 2022-11-08..10 minimum",
        )
    };
    eprintln!("calm/crash over: {scope}");
    println!(
        "{{\"calm_max_leverage\":{calm:.4},\"crash_min_max_leverage\":{stress:.4},\"breaker_trips\":{trips},\"days\":{}}}",
        days.len()
    );
}
