//! The feeder side: price sources, the pre-filter and configurations for replays.

use std::io::BufRead;
use std::path::Path;

use ballast_math::{Decimals, Fixed};
use ballast_oracle::candles::{parse_timestamp_ms, read_csv};
use ballast_oracle::{FeedState, OracleConfig, OracleError, Report};
use ballast_risk::config::MIN_GOVERNANCE_MS;
use ballast_risk::MarketConfig;

/// Mirrors the engine's guard rails for one feeder slot with the oracle adapter itself: a
/// report is sent only if the adapter, fed this feeder's reports in the same order, accepts it.
/// The guard rails are all per report and per slot (range, confidence, future, age, replay,
/// time going backwards), so the mirror needs no other feeder's reports.
#[derive(Debug, Clone)]
pub struct Prefilter {
    cfg: OracleConfig,
    slot: u8,
    mirror: FeedState,
}

impl Prefilter {
    /// A pre-filter for `slot` under the market's oracle configuration.
    pub fn new(cfg: OracleConfig, slot: u8) -> Prefilter {
        Prefilter {
            cfg,
            slot,
            mirror: FeedState::default(),
        }
    }

    /// `Ok` when the engine would accept `report` at block time `now_ms` (the mirror takes it
    /// in); the adapter's error otherwise (the mirror is unchanged).
    pub fn admit(&mut self, report: Report, now_ms: u64) -> Result<(), OracleError> {
        let mut next = self.mirror.clone();
        next.submit(&self.cfg, self.slot, report, now_ms)?;
        self.mirror = next;
        Ok(())
    }
}

/// A report of `price` stamped `now_ms` with a confidence of 1 bp of the price.
pub fn report(price: Fixed, now_ms: u64) -> Result<Report, OracleError> {
    Ok(Report {
        price,
        confidence: price.checked_mul(Fixed::from_ratio(1, 10_000)?)?,
        timestamp_ms: now_ms,
    })
}

/// Closing prices of a candle file, optionally limited to `[from, to)` (dates or Unix times).
pub fn closes_from_csv(
    path: impl AsRef<Path>,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Vec<Fixed>, String> {
    let candles = read_csv(path).map_err(|e| e.to_string())?;
    let bound = |t: Option<&str>| -> Result<Option<u64>, String> {
        t.map(|s| {
            let full = if s.len() == 10 {
                format!("{s} 00:00:00")
            } else {
                s.to_string()
            };
            parse_timestamp_ms(&full).ok_or_else(|| format!("bad time {s}"))
        })
        .transpose()
    };
    let (from, to) = (bound(from)?, bound(to)?);
    Ok(candles
        .iter()
        .filter(|c| {
            from.is_none_or(|f| c.timestamp_ms >= f) && to.is_none_or(|t| c.timestamp_ms < t)
        })
        .map(|c| c.close)
        .collect())
}

/// Prices from text lines (one decimal price per line; blank lines and `#` comments skipped).
pub fn prices_from_lines(input: impl BufRead) -> Result<Vec<Fixed>, String> {
    let mut out = Vec::new();
    for (n, line) in input.lines().enumerate() {
        let line = line.map_err(|e| e.to_string())?;
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let price = Fixed::parse_decimal(text).map_err(|e| format!("line {}: {e:?}", n + 1))?;
        out.push(price);
    }
    Ok(out)
}

/// The default market and oracle configuration with the market's clock compressed `scale`
/// times, for replaying hours of candles in seconds of chain time: every window, interval and
/// ramp of the breaker, the ramps, the dampened price, the throttle, depth and Greeks age is
/// divided by `scale` (rates multiplied), except the governance ramp, which keeps the engine's
/// one-hour floor, and the depth rate limit, which is fixed per hour. Report ages stay in real time (they measure network
/// latency), and so does the volatility interval (the adapter annualizes by the calendar), so
/// forecast volatility stays near its prior during a compressed replay.
pub fn scaled_configs(decimals: Decimals, scale: u64) -> (MarketConfig, OracleConfig) {
    let s = scale.max(1);
    let ms = |v: u64| (v / s).max(1);
    let rate = |v: Fixed| v.checked_mul_int(i128::from(s)).unwrap_or(v);
    let mut m = MarketConfig::default_large_cap(decimals);
    m.ramps.initial_per_hour = rate(m.ramps.initial_per_hour);
    m.ramps.maintenance_per_hour = rate(m.ramps.maintenance_per_hour);
    // The largest valid rise (100% an hour) where the scale asks more.
    m.ramps.opening_rise_per_hour = rate(m.ramps.opening_rise_per_hour).min(Fixed::ONE);
    // Governance ramps and delays keep their one-hour floor: nothing in a replay changes
    // the config, and the engine refuses anything shorter.
    m.ramps.params_ramp_ms = ms(m.ramps.params_ramp_ms).max(MIN_GOVERNANCE_MS);
    m.breaker.window_ms = ms(m.breaker.window_ms);
    m.breaker.cooldown_ms = ms(m.breaker.cooldown_ms);
    m.liquidation.throttle_window_ms = ms(m.liquidation.throttle_window_ms);
    m.max_funding_per_hour = rate(m.max_funding_per_hour);
    m.liquidity.max_age_ms = ms(m.liquidity.max_age_ms);
    m.liquidity.oi_growth_window_ms = ms(m.liquidity.oi_growth_window_ms);
    m.options.max_age_ms = ms(m.options.max_age_ms);
    let mut o = OracleConfig::default();
    o.damping_rate_per_sec = rate(o.damping_rate_per_sec).min(Fixed::ONE);
    o.delay_interval_ms = ms(o.delay_interval_ms);
    o.max_damping_step_ms = ms(o.max_damping_step_ms).min(o.delay_interval_ms);
    o.twap_window_ms = ms(o.twap_window_ms);
    o.initial_annualized_vol = Fixed::from_ratio(60, 100).unwrap_or(o.initial_annualized_vol);
    (m, o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(v: i64) -> Fixed {
        Fixed::from_int(v)
    }

    #[test]
    fn the_prefilter_rejects_what_the_engine_would_and_keeps_its_state() {
        let cfg = OracleConfig::default();
        let mut p = Prefilter::new(cfg.clone(), 0);
        let now = 1_000_000;
        assert_eq!(p.admit(report(px(20_000), now).unwrap(), now), Ok(()));
        // From the future, older than the last, too uncertain, out of range: all refused.
        let future = report(px(20_000), now + cfg.max_future_ms + 1).unwrap();
        assert_eq!(p.admit(future, now), Err(OracleError::FromTheFuture));
        let replay = report(px(20_000), now - 1).unwrap();
        assert_eq!(p.admit(replay, now), Err(OracleError::Replay));
        let mut vague = report(px(20_000), now).unwrap();
        vague.confidence = px(1_000);
        assert_eq!(p.admit(vague, now), Err(OracleError::ReportTooUncertain));
        let zero = Report {
            price: Fixed::ZERO,
            confidence: Fixed::ZERO,
            timestamp_ms: now,
        };
        assert_eq!(p.admit(zero, now), Err(OracleError::NonPositivePrice));
        // After refusals the next good report goes through.
        assert_eq!(
            p.admit(report(px(20_100), now + 10).unwrap(), now + 10),
            Ok(())
        );
        // A block time before the last refresh is refused too.
        assert_eq!(
            p.admit(report(px(20_100), now + 5).unwrap(), now + 5),
            Err(OracleError::Replay)
        );
    }

    #[test]
    fn prices_come_from_candle_files_and_lines() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../data/btcusdt-1h-2022-10-01_2022-11-30.csv"
        );
        let all = closes_from_csv(path, None, None).unwrap();
        let crash = closes_from_csv(path, Some("2022-11-08"), Some("2022-11-10")).unwrap();
        assert_eq!(crash.len(), 48);
        assert!(all.len() > crash.len());
        let lines = prices_from_lines(&b"# header\n20000.5\n\n19000\n"[..]).unwrap();
        assert_eq!(
            lines,
            vec![Fixed::parse_decimal("20000.5").unwrap(), px(19_000)]
        );
        assert!(prices_from_lines(&b"abc\n"[..]).is_err());
    }

    #[test]
    fn scaled_configs_stay_valid_and_compress_the_clock() {
        let d = Decimals { base: 8, quote: 6 };
        for scale in [1, 60, 1_800, 3_600] {
            let (m, o) = scaled_configs(d, scale);
            assert_eq!(m.validate(), Ok(()), "scale {scale}");
            assert_eq!(o.validate(), Ok(()), "scale {scale}");
        }
        let (m, o) = scaled_configs(d, 1_800);
        assert_eq!(m.breaker.window_ms, 2_000);
        assert_eq!(o.delay_interval_ms, 2_000);
        assert_eq!(o.vol_interval_ms, OracleConfig::default().vol_interval_ms);
    }
}
