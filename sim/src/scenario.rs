//! Synthetic candle series for the stress scenarios (`ballast-sim scenario`) and the impulse test
//! (`ballast-sim impulse`): regimes of given volatility one after the other, and a wick.
//!
//! Each hour is twelve 5-minute steps of a driftless log random walk with Student-t(4) shocks
//! scaled to the regime's volatility; the candle is their open, high, low and close. Summed over
//! twelve steps the hourly returns are close to normal (thinner-tailed than BTC's), so coverage
//! on these paths flatters every volatility-scaled model; the wick is the tail event here. A wick is one hour whose price falls
//! by a given fraction at once and then either recovers by the close or stays down.

use ballast_math::Fixed;
use ballast_oracle::candles::Candle;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StudentT};

use crate::units::{from_f64, to_f64};

/// Hours in a year (volatility is annualized over 8,760 hours, as the oracle does).
pub const HOURS_PER_YEAR: f64 = 8_760.0;
const STEPS_PER_HOUR: u32 = 12;
const HOUR_MS: u64 = 3_600_000;

/// A stretch of hours at one annualized volatility.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Regime {
    /// Length, hours.
    pub hours: u64,
    /// Annualized volatility of the log price.
    pub annual_vol: f64,
}

/// Whether the price comes back within the wick's hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// The hour closes where it opened.
    ByTheClose,
    /// The hour closes at its low.
    None,
}

/// A fall of `depth` (fraction of the price) within one hour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wick {
    /// How far the price falls.
    pub depth: f64,
    /// Whether it recovers.
    pub recovery: Recovery,
}

fn candle(at_ms: u64, open: f64, high: f64, low: f64, close: f64) -> Candle {
    Candle {
        timestamp_ms: at_ms,
        open: from_f64(open),
        high: from_f64(high),
        low: from_f64(low),
        close: from_f64(close),
        volume: Fixed::ONE,
    }
}

/// Hourly candles through `regimes` from `start_ms` and `start_price`; with a wick, it is the
/// first hour after the first regime, and the remaining regimes follow it.
pub fn synthetic(
    regimes: &[Regime],
    wick: Option<Wick>,
    start_ms: u64,
    start_price: f64,
    seed: u64,
) -> Vec<Candle> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // t4 has variance 2: scale its draws to unit variance.
    let t4 = StudentT::new(4.0).unwrap_or_else(|_| unreachable!("4 degrees of freedom"));
    let (mut at, mut price) = (start_ms, start_price);
    let mut candles = Vec::new();
    for (k, regime) in regimes.iter().enumerate() {
        if k == 1 {
            if let Some(w) = wick {
                let low = price * (1.0 - w.depth);
                let close = match w.recovery {
                    Recovery::ByTheClose => price,
                    Recovery::None => low,
                };
                candles.push(candle(at, price, price, low, close));
                (at, price) = (at + HOUR_MS, close);
            }
        }
        let step_sd = regime.annual_vol / (HOURS_PER_YEAR * f64::from(STEPS_PER_HOUR)).sqrt();
        for _ in 0..regime.hours {
            let open = price;
            let (mut high, mut low) = (price, price);
            for _ in 0..STEPS_PER_HOUR {
                let shock: f64 = t4.sample(&mut rng) / 2f64.sqrt();
                price *= (shock * step_sd).exp();
                high = high.max(price);
                low = low.min(price);
            }
            candles.push(candle(at, open, high, low, price));
            at += HOUR_MS;
        }
    }
    candles
}

/// Realized annualized volatility of hourly log closes.
pub fn realized_vol(candles: &[Candle]) -> f64 {
    let closes: Vec<f64> = candles.iter().map(|c| to_f64(c.close)).collect();
    let n = closes.len().saturating_sub(1).max(1) as f64;
    let variance = closes
        .windows(2)
        .map(|w| (w[1] / w[0]).ln().powi(2))
        .sum::<f64>()
        / n;
    (variance * HOURS_PER_YEAR).sqrt()
}

/// How IM answered a step in volatility (the impulse test).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImpulseResponse {
    /// Mean IM over the last week before the step.
    pub before: f64,
    /// Mean IM over the last week of the high regime (the new level).
    pub after: f64,
    /// Hours from the step until IM first covers half of the way.
    pub hours_to_half: Option<u64>,
    /// Hours until 90% of the way.
    pub hours_to_ninety: Option<u64>,
    /// Largest IM in the high regime over the new level, minus 1.
    pub overshoot: f64,
    /// Hours of the high regime in which no new position could open.
    pub closed_hours: u64,
}

/// Measures the response of an hourly IM series to a volatility step at hour `step` lasting
/// `length` hours (`open[t]`: a new position could open at hour t).
pub fn impulse_response(
    margin: &[f64],
    open: &[bool],
    step: usize,
    length: usize,
) -> ImpulseResponse {
    let week = 7 * 24;
    let end = (step + length).min(margin.len());
    let mean = |range: std::ops::Range<usize>| {
        let slice = &margin[range];
        slice.iter().sum::<f64>() / slice.len().max(1) as f64
    };
    let before = mean(step.saturating_sub(week)..step);
    let after = mean(end.saturating_sub(week)..end);
    let reach = |share: f64| {
        let level = before + share * (after - before);
        (step..end)
            .find(|&t| margin[t] >= level)
            .map(|t| (t - step) as u64)
    };
    let peak = margin[step..end].iter().copied().fold(0.0f64, f64::max);
    ImpulseResponse {
        before,
        after,
        hours_to_half: reach(0.5),
        hours_to_ninety: reach(0.9),
        overshoot: if after > 0.0 { peak / after - 1.0 } else { 0.0 },
        closed_hours: open[step..end].iter().filter(|o| !**o).count() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regimes_have_the_volatility_asked_for() {
        let regimes = [
            Regime {
                hours: 24 * 120,
                annual_vol: 0.5,
            },
            Regime {
                hours: 24 * 120,
                annual_vol: 1.5,
            },
        ];
        let candles = synthetic(&regimes, None, 0, 30_000.0, 7);
        assert_eq!(candles.len(), 24 * 240);
        let calm = realized_vol(&candles[..24 * 120]);
        let stressed = realized_vol(&candles[24 * 120..]);
        assert!((calm - 0.5).abs() < 0.05, "{calm}");
        assert!((stressed - 1.5).abs() < 0.15, "{stressed}");
        // Deterministic per seed.
        assert_eq!(candles, synthetic(&regimes, None, 0, 30_000.0, 7));
    }

    #[test]
    fn a_wick_falls_within_its_hour_and_recovers_or_not() {
        let regimes = [
            Regime {
                hours: 10,
                annual_vol: 0.4,
            },
            Regime {
                hours: 10,
                annual_vol: 0.4,
            },
        ];
        for recovery in [Recovery::ByTheClose, Recovery::None] {
            let wick = Wick {
                depth: 0.11,
                recovery,
            };
            let candles = synthetic(&regimes, Some(wick), 0, 100.0, 1);
            assert_eq!(candles.len(), 21);
            let w = candles[10];
            assert_eq!(w.timestamp_ms, 10 * HOUR_MS);
            let (open, low, close) = (to_f64(w.open), to_f64(w.low), to_f64(w.close));
            assert!((low / open - 0.89).abs() < 1e-9);
            match recovery {
                Recovery::ByTheClose => assert!((close - open).abs() < 1e-6),
                Recovery::None => assert!((close - low).abs() < 1e-6),
            }
            // The next hour opens at the wick's close.
            assert!((to_f64(candles[11].open) - close).abs() < 1e-6);
        }
    }

    #[test]
    fn impulse_response_on_a_hand_made_series() {
        // 0.05 for a week, then a climb of 0.0051 per hour (10 hours, to 0.101), 0.10 after
        // (two weeks in all), with a one-hour spike to 0.12 on the way.
        let mut margin = vec![0.05; 168];
        margin.extend((1..=10).map(|h| 0.05 + 0.0051 * h as f64));
        margin.extend(vec![0.10; 326]);
        margin[170] = 0.12;
        let open = vec![true; margin.len()];
        let r = impulse_response(&margin, &open, 168, 336);
        assert!((r.before - 0.05).abs() < 1e-12);
        assert!((r.after - 0.10).abs() < 1e-12);
        // Both 0.075 and 0.095 are first covered by the spike, at hour 168 + 2.
        assert_eq!(r.hours_to_half, Some(2));
        assert_eq!(r.hours_to_ninety, Some(2));
        assert!((r.overshoot - 0.2).abs() < 1e-9);
        // Without the spike: 0.075 at the fifth hour (0.0755, index 4), 0.095 at the ninth
        // (0.0959); the climb's last hour, 0.101, overshoots the level by 1%.
        margin[170] = 0.0653;
        let r = impulse_response(&margin, &open, 168, 336);
        assert_eq!(r.hours_to_half, Some(4));
        assert_eq!(r.hours_to_ninety, Some(8));
        assert!((r.overshoot - 0.01).abs() < 1e-9);
        assert_eq!(r.closed_hours, 0);
    }
}
