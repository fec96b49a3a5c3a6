//! Clearing-house margin models, computed from the same candles as the runs: the comparators of
//! the yardstick (`crate::yardstick`). They are judged on the exogenous path only: the risk
//! core has one margin model, and listing these through it would need a second model in the
//! core, so they are not run through the liquidation loop (said in every report).
//!
//! ```text
//! sigma^2(t)  = lambda sigma^2(t-1) + (1 - lambda) r(t)^2   hourly log returns of closes,
//!               lambda = 0.94^(1/24) (RiskMetrics' daily 0.94), seeded by the first 30 days
//! b(t)        = q * sqrt(horizon * sigma^2(t))             q = t4(99.5%) of unit variance
//! EWMA-t4     IM = max(floor, b)
//! + buffer    B(t) = min((1 + buffer) b(t), max(b(t), B(t-1))), B(start) = (1 + buffer) b;
//!             IM = max(floor, B)       EMIR art. 28(a): the buffer is used up as margin rises
//!             and rebuilt as it falls; IM holds still while b moves inside the band
//! + stressed  IM = max(floor, q * sqrt(horizon * ((1 - w) sigma^2 + w * S)))   EMIR art. 28(b)
//!             S = the largest 30-day mean of r^2 seen so far (full windows only)
//! ```
//!
//! IM(t) uses the returns up to the close of the hour before t (what is known at t). These are
//! the recipes of the reference table in `ccp-margin.md` (a Python replication reproduced its
//! unfloored rows to their rounding; its stressed row uses the normal quantile, this one t4).
//! The simulator's figures differ from that table: its windows and lags run on the simulator's
//! hours (from the first trading hour, IM tested from the price at the hour), the floor is on
//! from the start, and breaches are the most over the 8 phases of the windows.

use ballast_oracle::candles::Candle;

use crate::units::to_f64;

/// One clearing-house model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CcpModel {
    /// EWMA volatility and the Student-t(4) 99.5% quantile.
    EwmaT4,
    /// The same with a 25% buffer (EMIR art. 28(a)).
    EwmaT4Buffer,
    /// The same with 25% weight on the largest 30-day variance seen (EMIR art. 28(b)).
    EwmaT4Stressed,
}

impl CcpModel {
    /// Every model, in report order.
    pub const ALL: [CcpModel; 3] = [
        CcpModel::EwmaT4,
        CcpModel::EwmaT4Buffer,
        CcpModel::EwmaT4Stressed,
    ];

    /// Short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            CcpModel::EwmaT4 => "ccp_ewma_t4",
            CcpModel::EwmaT4Buffer => "ccp_ewma_t4_buffer",
            CcpModel::EwmaT4Stressed => "ccp_ewma_t4_stressed",
        }
    }
}

/// Parameters shared by the models.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CcpParams {
    /// EWMA decay per hour.
    pub lambda: f64,
    /// Quantile of unit variance (Student-t(4) at 99.5%: 4.604095 * sqrt(1/2)).
    pub quantile: f64,
    /// Margin period of risk, hours.
    pub horizon_hours: f64,
    /// Least IM (Ballast's 5% first tier, 20x).
    pub floor: f64,
    /// Buffer of option (a).
    pub buffer: f64,
    /// Weight of the stressed variance in option (b).
    pub stressed_weight: f64,
    /// Window of the stressed variance, hours.
    pub stressed_window_hours: usize,
    /// Hours whose sample variance seeds the EWMA.
    pub seed_hours: usize,
}

impl Default for CcpParams {
    fn default() -> Self {
        CcpParams {
            lambda: 0.94f64.powf(1.0 / 24.0),
            quantile: 4.604_095 * std::f64::consts::FRAC_1_SQRT_2,
            horizon_hours: 8.0,
            floor: 0.05,
            buffer: 0.25,
            stressed_weight: 0.25,
            stressed_window_hours: 720,
            seed_hours: 720,
        }
    }
}

/// IM at the start of each candle's hour, with the annualized EWMA volatility known then:
/// `(timestamp_ms, im, annual_vol)`. The first `seed_hours` candles only seed the estimate and
/// get no value.
pub fn margin_series(
    model: CcpModel,
    params: &CcpParams,
    candles: &[Candle],
) -> Vec<(u64, f64, f64)> {
    let returns: Vec<f64> = candles
        .windows(2)
        .map(|w| (to_f64(w[1].close) / to_f64(w[0].close)).ln())
        .collect();
    let seed = params.seed_hours.min(returns.len());
    if seed == 0 {
        return Vec::new();
    }
    let mut variance = returns[..seed].iter().map(|r| r * r).sum::<f64>() / seed as f64;
    // Rolling 30-day sum of r^2 and the largest 30-day mean seen.
    let window = params.stressed_window_hours.max(1);
    let mut rolling: f64 = returns[..seed.min(window)].iter().map(|r| r * r).sum();
    let mut stressed = rolling / seed.min(window) as f64;
    let mut band: Option<f64> = None;
    let mut out = Vec::with_capacity(candles.len().saturating_sub(seed));
    // Return k runs from close k to close k + 1; IM for hour k + 1 + 1 (the hour after close
    // k + 1) is known once it is folded in. Candle index c's hour starts after close c - 1.
    for k in seed..returns.len() {
        let r2 = returns[k] * returns[k];
        variance = params.lambda * variance + (1.0 - params.lambda) * r2;
        rolling += r2;
        if k >= window {
            rolling -= returns[k - window] * returns[k - window];
        }
        if k + 1 >= window {
            stressed = stressed.max(rolling / window as f64);
        }
        let blended = match model {
            CcpModel::EwmaT4Stressed => {
                (1.0 - params.stressed_weight) * variance + params.stressed_weight * stressed
            }
            _ => variance,
        };
        let mut im = params.quantile * (params.horizon_hours * blended).sqrt();
        if model == CcpModel::EwmaT4Buffer {
            let top = (1.0 + params.buffer) * im;
            im = band.map_or(top, |held| top.min(im.max(held)));
            band = Some(im);
        }
        let annual_vol = (variance * 8_760.0).sqrt();
        // Returns[k] ends at close k + 1: known at the start of candle k + 2.
        if let Some(next) = candles.get(k + 2) {
            out.push((next.timestamp_ms, im.max(params.floor), annual_vol));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::from_f64;
    use ballast_math::Fixed;

    /// Closes from 100 over `hours` log returns of +sigma(k), -sigma(k), +sigma(k), ...: an
    /// hourly volatility of exactly sigma(k).
    fn alternating(hours: usize, sigma: impl Fn(usize) -> f64) -> Vec<f64> {
        let mut closes = vec![100.0];
        for k in 0..hours {
            let r = if k % 2 == 0 { sigma(k) } else { -sigma(k) };
            closes.push(closes[k] * r.exp());
        }
        closes
    }

    fn candles(closes: &[f64]) -> Vec<Candle> {
        closes
            .iter()
            .enumerate()
            .map(|(k, c)| {
                let p = from_f64(*c);
                Candle {
                    timestamp_ms: k as u64 * 3_600_000,
                    open: p,
                    high: p,
                    low: p,
                    close: p,
                    volume: Fixed::ONE,
                }
            })
            .collect()
    }

    #[test]
    fn ewma_t4_on_a_constant_volatility_path_is_the_quantile_times_the_horizon_volatility() {
        // Returns alternating +1% and -1% (log): sigma = 1% an hour; IM = 3.2556 * sqrt(8) * 1%.
        let closes = alternating(2_000, |_| 0.01);
        let params = CcpParams {
            floor: 0.0,
            ..CcpParams::default()
        };
        let series = margin_series(CcpModel::EwmaT4, &params, &candles(&closes));
        let expected = 3.255_606 * 8f64.sqrt() * 0.01;
        let (at, im, vol) = series[series.len() - 1];
        assert!((im - expected).abs() < 1e-4, "{im} vs {expected}");
        assert!((vol - 0.01 * 8_760f64.sqrt()).abs() < 1e-3);
        assert_eq!(at, 2_000 * 3_600_000);
        // At constant volatility the buffer holds IM at 1.25 times the model; the floor binds
        // below it.
        let buffered = margin_series(CcpModel::EwmaT4Buffer, &params, &candles(&closes));
        assert!((buffered[buffered.len() - 1].1 - 1.25 * expected).abs() < 1e-4);
        let floored = margin_series(
            CcpModel::EwmaT4,
            &CcpParams {
                floor: 0.5,
                ..params
            },
            &candles(&closes),
        );
        assert_eq!(floored[0].1, 0.5);
    }

    #[test]
    fn im_for_an_hour_knows_the_closes_before_it_and_no_later_one() {
        // Flat at 1% an hour, then one return of 20% into the close of candle 1,000: the IM of
        // the hour of candle 1,001 (which starts at that close) is the first to see it.
        let mut closes = alternating(2_000, |_| 0.01);
        // Return 999 (into close 1,000) becomes +20%; every later close moves with it.
        for c in &mut closes[1_000..] {
            *c *= (0.2f64 + 0.01).exp();
        }
        let series = margin_series(CcpModel::EwmaT4, &CcpParams::default(), &candles(&closes));
        let at = |hour: u64| {
            series
                .iter()
                .find(|p| p.0 == hour * 3_600_000)
                .map(|p| p.1)
                .unwrap()
        };
        assert!(
            (at(1_000) / at(999) - 1.0).abs() < 1e-3,
            "{} {}",
            at(999),
            at(1_000)
        );
        // One 20% hour against 1% ones adds (1 - lambda) * 0.04 to a variance of 1e-4: IM
        // rises by about 42%.
        assert!(at(1_001) > 1.4 * at(1_000), "{} {}", at(1_000), at(1_001));
    }

    #[test]
    fn the_buffer_is_used_up_as_margin_rises_and_rebuilt_as_it_falls() {
        // 100 days at 1% an hour, 100 at 1.2% (a 20% rise of b, inside the band), 100 at 2%
        // (the EWMA's half-life is 11 days: each regime is 9 half-lives).
        let closes = alternating(300 * 24, |k| match k / (100 * 24) {
            0 => 0.01,
            1 => 0.012,
            _ => 0.02,
        });
        let params = CcpParams {
            floor: 0.0,
            seed_hours: 24,
            ..CcpParams::default()
        };
        let q = 3.255_606 * 8f64.sqrt();
        let series = margin_series(CcpModel::EwmaT4Buffer, &params, &candles(&closes));
        let at_day = |day: u64| {
            series
                .iter()
                .find(|(at, _, _)| *at >= day * 24 * 3_600_000)
                .map(|p| p.1)
                .unwrap()
        };
        let near = |value: f64, expected: f64| (value / expected - 1.0).abs() < 0.01;
        // Calm: 1.25 b. A 20% rise of b is absorbed (IM does not move); a 67% rise is not:
        // IM = b once the buffer is gone, 1.6 times the calm IM, where the plain model rises 2x.
        assert!(near(at_day(99), 1.25 * q * 0.01), "{}", at_day(99));
        assert!(near(at_day(199), 1.25 * q * 0.01), "{}", at_day(199));
        assert!(near(at_day(299), q * 0.02), "{}", at_day(299));
    }

    #[test]
    fn the_stressed_variance_remembers_the_worst_month() {
        // 60 days at 3% an hour, then 150 days at 0.5%: the plain EWMA forgets the stress, the
        // stressed model keeps a quarter of its variance.
        let closes = alternating(210 * 24, |k| if k < 60 * 24 { 0.03 } else { 0.005 });
        let params = CcpParams {
            floor: 0.0,
            seed_hours: 24,
            ..CcpParams::default()
        };
        let plain = margin_series(CcpModel::EwmaT4, &params, &candles(&closes));
        let stressed = margin_series(CcpModel::EwmaT4Stressed, &params, &candles(&closes));
        let q = 3.255_606 * 8f64.sqrt();
        let last_plain = plain[plain.len() - 1].1;
        let last_stressed = stressed[stressed.len() - 1].1;
        assert!(
            (last_plain / (q * 0.005) - 1.0).abs() < 0.01,
            "{last_plain}"
        );
        let expected = q * (0.75 * 0.005f64.powi(2) + 0.25 * 0.03f64.powi(2)).sqrt();
        assert!(
            (last_stressed / expected - 1.0).abs() < 0.01,
            "{last_stressed} vs {expected}"
        );
    }
}
