//! The feeder side: price sources, the pre-filter and configurations for replays.

use std::io::BufRead;
use std::path::Path;

use ballast_math::{Decimals, Fixed};
use ballast_oracle::candles::{parse_timestamp_ms, read_csv, Candle};
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

/// What a feeder reports: a price and the half-width of its confidence interval, both in
/// quote per base (Pyth's `price` and `conf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// The price.
    pub price: Fixed,
    /// Half-width of the interval the source says the price lies in.
    pub confidence: Fixed,
}

impl Observation {
    /// The report of this observation stamped `now_ms`.
    pub fn report(self, now_ms: u64) -> Report {
        Report {
            price: self.price,
            confidence: self.confidence,
            timestamp_ms: now_ms,
        }
    }
}

/// Where a feeder's prices come from: a replayed file here, a live exchange feed later. The
/// keeper asks once per round and reports what it gets to every feeder slot it runs.
pub trait PriceSource {
    /// The next observation; `None` when the source has nothing more.
    fn next_observation(&mut self) -> Option<Observation>;
    /// Observations left, where the source knows (a file does, a live feed does not).
    fn remaining(&self) -> Option<usize>;
}

/// The smallest confidence a source reports, as a fraction of the price (1 bp): no source
/// knows a price exactly, and a zero interval would claim it does.
pub fn confidence_floor(price: Fixed) -> Result<Fixed, OracleError> {
    Ok(price.checked_mul(Fixed::from_ratio(1, 10_000)?)?)
}

/// The confidence of a candle's close: half the candle's range (the close is known to lie
/// within the prices traded in its hour; half the range is the interval's half-width), at
/// least [`confidence_floor`]. In a crash hour this exceeds the market's `max_confidence`
/// (2 %: a range above 4 %), and the engine refuses the report: the feeder says what the data
/// says, and the pre-filter then does not send it.
pub fn confidence_from_candle(candle: &Candle) -> Result<Fixed, OracleError> {
    let half_range = candle
        .high
        .checked_sub(candle.low)?
        .div_int(2, ballast_math::Rounding::Ceil)?;
    Ok(half_range.max(confidence_floor(candle.close)?))
}

/// Candles replayed one per round: each close with the confidence of its range.
#[derive(Debug, Clone)]
pub struct CandleReplay {
    candles: Vec<Candle>,
    next: usize,
}

impl CandleReplay {
    /// A replay of a candle file, optionally limited to `[from, to)` (dates or Unix times).
    pub fn from_csv(
        path: impl AsRef<Path>,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<CandleReplay, String> {
        Ok(CandleReplay {
            candles: candles_from_csv(path, from, to)?,
            next: 0,
        })
    }
}

impl PriceSource for CandleReplay {
    fn next_observation(&mut self) -> Option<Observation> {
        let candle = self.candles.get(self.next)?;
        self.next = self.next.saturating_add(1);
        Some(Observation {
            price: candle.close,
            confidence: confidence_from_candle(candle).ok()?,
        })
    }

    fn remaining(&self) -> Option<usize> {
        Some(self.candles.len().saturating_sub(self.next))
    }
}

/// Observations read up front from text lines (see [`observations_from_lines`]).
#[derive(Debug, Clone)]
pub struct ListedPrices {
    observations: Vec<Observation>,
    next: usize,
}

impl ListedPrices {
    /// The observations in `input`'s lines.
    pub fn from_lines(input: impl BufRead) -> Result<ListedPrices, String> {
        Ok(ListedPrices {
            observations: observations_from_lines(input)?,
            next: 0,
        })
    }
}

impl PriceSource for ListedPrices {
    fn next_observation(&mut self) -> Option<Observation> {
        let o = *self.observations.get(self.next)?;
        self.next = self.next.saturating_add(1);
        Some(o)
    }

    fn remaining(&self) -> Option<usize> {
        Some(self.observations.len().saturating_sub(self.next))
    }
}

/// Candles of a file, optionally limited to `[from, to)` (dates or Unix times).
pub fn candles_from_csv(
    path: impl AsRef<Path>,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Vec<Candle>, String> {
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
        .into_iter()
        .filter(|c| {
            from.is_none_or(|f| c.timestamp_ms >= f) && to.is_none_or(|t| c.timestamp_ms < t)
        })
        .collect())
}

/// Observations from text lines: `price` or `price confidence` (decimals, separated by white
/// space); a price alone gets [`confidence_floor`]. Blank lines and `#` comments are skipped.
pub fn observations_from_lines(input: impl BufRead) -> Result<Vec<Observation>, String> {
    let mut out = Vec::new();
    for (n, line) in input.lines().enumerate() {
        let line = line.map_err(|e| e.to_string())?;
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let bad = |e: String| format!("line {}: {e}", n + 1);
        let mut fields = text.split_whitespace();
        let number = |field: Option<&str>| -> Result<Option<Fixed>, String> {
            field
                .map(|f| Fixed::parse_decimal(f).map_err(|e| bad(format!("{e:?}"))))
                .transpose()
        };
        let price = number(fields.next())?.ok_or_else(|| bad("no price".into()))?;
        let confidence = match number(fields.next())? {
            Some(c) => c,
            None => confidence_floor(price).map_err(|e| bad(format!("{e:?}")))?,
        };
        if fields.next().is_some() {
            return Err(bad("more than a price and a confidence".into()));
        }
        out.push(Observation { price, confidence });
    }
    Ok(out)
}

/// The default market and oracle configuration with the market's clock compressed `scale`
/// times, for replaying hours of candles in seconds of chain time: every window, interval and
/// ramp of the breaker, the ramps, the dampened price, the throttle, depth and Greeks age is
/// divided by `scale` (rates multiplied), except the governance ramp, which keeps the engine's
/// one-hour floor, and the depth rate limit, which is fixed per hour. Report ages stay in real
/// time (they measure network latency). Volatility is sampled once per market hour and
/// annualized by the market's calendar (`OracleConfig::clock_compression`), so the forecast
/// and the caps move in a compressed replay as they would in real time.
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
    o.vol_interval_ms = ms(o.vol_interval_ms);
    o.clock_compression = s;
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
        let report = |price: Fixed, at: u64| {
            Ok::<_, OracleError>(
                Observation {
                    price,
                    confidence: confidence_floor(price)?,
                }
                .report(at),
            )
        };
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

    const FTX_FILE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/btcusdt-1h-2022-10-01_2022-11-30.csv"
    );

    fn decimal(text: &str) -> Fixed {
        Fixed::parse_decimal(text).unwrap()
    }

    #[test]
    fn prices_come_from_candle_files_and_lines() {
        let all = candles_from_csv(FTX_FILE, None, None).unwrap();
        let crash = candles_from_csv(FTX_FILE, Some("2022-11-08"), Some("2022-11-10")).unwrap();
        assert_eq!(crash.len(), 48);
        assert!(all.len() > crash.len());
        let mut replay = CandleReplay::from_csv(FTX_FILE, Some("2022-11-08"), None).unwrap();
        let before = replay.remaining().unwrap();
        let first = replay.next_observation().unwrap();
        assert_eq!(first.price, crash[0].close);
        assert_eq!(replay.remaining(), Some(before - 1));
        let lines = observations_from_lines(&b"# header\n20000.5\n\n19000 95.5\n"[..]).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].price, decimal("20000.5"));
        assert_eq!(
            lines[0].confidence,
            confidence_floor(decimal("20000.5")).unwrap()
        );
        assert_eq!(lines[1].price, px(19_000));
        assert_eq!(lines[1].confidence, decimal("95.5"));
        assert!(observations_from_lines(&b"abc\n"[..]).is_err());
        assert!(observations_from_lines(&b"1 2 3\n"[..]).is_err());
    }

    fn candle(low: &str, high: &str, close: &str) -> Candle {
        Candle {
            timestamp_ms: 0,
            open: decimal(close),
            high: decimal(high),
            low: decimal(low),
            close: decimal(close),
            volume: Fixed::ZERO,
        }
    }

    #[test]
    fn a_candles_confidence_is_half_its_range_and_at_least_a_basis_point() {
        // A 400 USD range: 200 either side.
        assert_eq!(
            confidence_from_candle(&candle("19800", "20200", "20000")).unwrap(),
            px(200)
        );
        // A flat hour still reports 1 bp.
        assert_eq!(
            confidence_from_candle(&candle("20000", "20000", "20000")).unwrap(),
            confidence_floor(px(20_000)).unwrap()
        );
    }

    #[test]
    fn in_the_ftx_crash_the_widest_hours_are_refused_and_the_calm_ones_pass() {
        // The adapter's own guard rail decides: a report whose half-range exceeds 2 % of its
        // close is refused as too uncertain; the rest of the window goes through.
        let cfg = OracleConfig::default();
        let mut filter = Prefilter::new(cfg, 0);
        let mut replay =
            CandleReplay::from_csv(FTX_FILE, Some("2022-11-07"), Some("2022-11-10")).unwrap();
        let (mut sent, mut too_uncertain) = (0, 0);
        let mut now = 1_000_000u64;
        while let Some(o) = replay.next_observation() {
            now += 1_000;
            match filter.admit(o.report(now), now) {
                Ok(()) => sent += 1,
                Err(OracleError::ReportTooUncertain) => too_uncertain += 1,
                Err(e) => panic!("unexpected refusal {e:?}"),
            }
        }
        assert_eq!(sent + too_uncertain, 72);
        // 2022-11-08 16:00 to 19:00 and 2022-11-09 15:00 and 20:00 had ranges above 4 %.
        assert_eq!(too_uncertain, 6);
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
        assert_eq!(o.vol_interval_ms, 2_000);
        assert_eq!(o.clock_compression, 1_800);
    }
}
