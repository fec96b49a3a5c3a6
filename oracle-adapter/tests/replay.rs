//! Replays two months of real BTC/USDT hourly closes (2022-10-01 to 2022-11-30, FTX collapse
//! included) through the adapter, and checks the volatility estimate against an independent
//! f64 computation.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    clippy::float_arithmetic,
    clippy::unwrap_used
)]

use std::path::PathBuf;

use ballast_math::{Fixed, Rounding};
use ballast_oracle::candles::{self, parse_timestamp_ms, Candle};
use ballast_oracle::{FeedState, OracleConfig, Report, Validity};

const HOUR: u64 = 3_600_000;
const FEEDERS: u8 = 3;

fn to_f64(value: Fixed) -> f64 {
    value.to_bits() as f64 / (1u64 << 48) as f64
}

fn load() -> Vec<Candle> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data/btcusdt-1h-2022-10-01_2022-11-30.csv");
    let candles = candles::read_csv(&path).unwrap();
    assert_eq!(candles.len(), 61 * 24);
    assert_eq!(
        candles[0].timestamp_ms,
        parse_timestamp_ms("2022-10-01 00:00:00").unwrap()
    );
    // No gaps in this window: one candle per hour.
    assert!(candles
        .windows(2)
        .all(|w| w[1].timestamp_ms - w[0].timestamp_ms == HOUR));
    candles
}

/// Three feeders report the candle's close at the candle's timestamp, with a 0.05 % confidence.
fn feed_hour(state: &mut FeedState, cfg: &OracleConfig, candle: &Candle) {
    let now = candle.timestamp_ms;
    let confidence = candle.close.div_int(2000, Rounding::Floor).unwrap();
    for slot in 0..FEEDERS {
        let report = Report {
            price: candle.close,
            confidence,
            timestamp_ms: now,
        };
        state.submit(cfg, slot, report, now).unwrap();
    }
}

/// Independent reference: the RiskMetrics recursion in f64, annualized.
///
/// The adapter samples, at each hourly boundary, the aggregate that held during the hour before
/// it. Reports arrive at the candle timestamps, so the sample at boundary k is close[k-1], and
/// the first boundary after the first price sees close[0] again: a zero return, then the log
/// returns of consecutive closes. Returns the annualized vol after each boundary.
fn reference_vols(closes: &[f64], lambda: f64, initial_vol: f64, per_year: f64) -> Vec<f64> {
    let mut variance = initial_vol * initial_vol;
    let returns =
        std::iter::once(0.0).chain(closes.windows(2).map(|pair| (pair[1] / pair[0]).ln()));
    returns
        .map(|r| {
            variance = lambda * variance + (1.0 - lambda) * r * r * per_year;
            variance.sqrt()
        })
        .collect()
}

/// Relative distance |dampened - close| / close over 2022-11-08..09 (48 hours), measured when
/// the new close arrives (what the engine compares at that moment), 5 minutes later, and an
/// hour later just before the next close (how far the chase got).
struct Lag {
    max: f64,
    mean: f64,
    max_after_5_min: f64,
    mean_after_5_min: f64,
    max_after_hour: f64,
    mean_after_hour: f64,
    too_volatile_hours: usize,
}

/// |dampened - close| / close after the market, unchanged, is refreshed `later_ms` on.
fn lag_after(state: &FeedState, cfg: &OracleConfig, candle: &Candle, later_ms: u64) -> f64 {
    let mut chased = state.clone();
    chased.refresh(cfg, candle.timestamp_ms + later_ms).unwrap();
    let raw = to_f64(candle.close);
    (to_f64(chased.price.unwrap().dampening.price) - raw).abs() / raw
}

/// Replays all candles with `cfg`; returns the largest difference between the adapter's and
/// the reference's annualized vol, and the dampened price's lag during 2022-11-08..09.
fn replay(cfg: &OracleConfig, candles: &[Candle]) -> (f64, Lag, FeedState) {
    let closes: Vec<f64> = candles.iter().map(|c| to_f64(c.close)).collect();
    let reference = reference_vols(
        &closes,
        to_f64(cfg.ewma_lambda),
        to_f64(cfg.initial_annualized_vol),
        cfg.intervals_per_year as f64,
    );
    let ftx_start = parse_timestamp_ms("2022-11-08 00:00:00").unwrap();
    let ftx_end = parse_timestamp_ms("2022-11-09 23:00:00").unwrap();

    let mut state = FeedState::default();
    let mut max_error = 0.0f64;
    let mut lags = Vec::new();
    let mut lags_after_5_min = Vec::new();
    let mut lags_after_hour = Vec::new();
    let mut too_volatile_hours = 0;
    for (k, candle) in candles.iter().enumerate() {
        feed_hour(&mut state, cfg, candle);
        let held = state.price.unwrap();
        assert_eq!(held.aggregate.price, candle.close);
        assert_eq!(held.vol.observations as usize, k);
        if k > 0 {
            let vol = to_f64(held.vol.annualized_vol().unwrap());
            max_error = max_error.max((vol - reference[k - 1]).abs());
        }
        if (ftx_start..=ftx_end).contains(&candle.timestamp_ms) {
            let raw = to_f64(candle.close);
            lags.push((to_f64(held.dampening.price) - raw).abs() / raw);
            lags_after_5_min.push(lag_after(&state, cfg, candle, 5 * 60_000));
            lags_after_hour.push(lag_after(&state, cfg, candle, HOUR));
            if state.validity(cfg, candle.timestamp_ms) == Validity::TooVolatile {
                too_volatile_hours += 1;
            }
        }
    }
    // One more boundary folds in the last return.
    let last = candles.last().unwrap().timestamp_ms;
    state.refresh(cfg, last + HOUR).unwrap();
    let vol = to_f64(state.price.unwrap().vol.annualized_vol().unwrap());
    max_error = max_error.max((vol - reference[candles.len() - 1]).abs());
    assert_eq!(
        state.price.unwrap().vol.observations as usize,
        candles.len()
    );

    let max = |values: &[f64]| values.iter().copied().fold(0.0, f64::max);
    let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len() as f64;
    assert_eq!(lags.len(), 48);
    let lag = Lag {
        max: max(&lags),
        mean: mean(&lags),
        max_after_5_min: max(&lags_after_5_min),
        mean_after_5_min: mean(&lags_after_5_min),
        max_after_hour: max(&lags_after_hour),
        mean_after_hour: mean(&lags_after_hour),
        too_volatile_hours,
    };
    (max_error, lag, state)
}

#[test]
fn btc_october_november_2022_replay() {
    let candles = load();
    let cfg = OracleConfig::default();
    let (max_error, lag, state) = replay(&cfg, &candles);
    let final_vol = to_f64(state.price.unwrap().vol.annualized_vol().unwrap());

    println!(
        "replay: {} hourly candles, 3 feeders, default config",
        candles.len()
    );
    println!(
        "  EWMA vol vs f64 reference: max |difference| = {max_error:.3e} (annualized fraction)"
    );
    println!("  annualized vol at 2022-12-01 00:00: {:.4}", final_vol);
    println!("  dampened price's relative lag behind the close, 2022-11-08..09 (48 hours):");
    println!(
        "    when the close arrives: max {:.3} %, mean {:.3} %",
        lag.max * 100.0,
        lag.mean * 100.0
    );
    println!(
        "    5 minutes later:        max {:.3} %, mean {:.3} %",
        lag.max_after_5_min * 100.0,
        lag.mean_after_5_min * 100.0
    );
    println!(
        "    1 hour later:           max {:.3e} %, mean {:.3e} %",
        lag.max_after_hour * 100.0,
        lag.mean_after_hour * 100.0
    );
    println!("    hours flagged too volatile: {}", lag.too_volatile_hours);

    // Absolute error on the annualized vol (a fraction: 0.5 = 50 %).
    assert!(max_error < 1e-9, "{max_error}");
    // BTC's realized vol in late 2022 was in the 30 % to 90 % range.
    assert!(final_vol > 0.2 && final_vol < 1.0, "{final_vol}");
    // The dampened price follows real moves: never more than a few percent behind, and the
    // opening circuit breaker (25 %) never trips on real data.
    // When a close arrives the dampened price is where the previous close was, so the lag is
    // the hourly move (at most 5.3 % in these 48 hours); after 5 minutes, at most 3 % of it
    // (0.0001/s x 300 s) has been recovered; within the hour it is gone.
    assert!(lag.max > 0.05 && lag.max < 0.06, "{}", lag.max);
    assert!(lag.max_after_5_min < lag.max && lag.max_after_5_min > lag.max - 0.031);
    assert!(lag.max_after_hour < 1e-12, "{}", lag.max_after_hour);
    assert_eq!(lag.too_volatile_hours, 0);
}
