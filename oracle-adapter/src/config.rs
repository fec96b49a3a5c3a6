//! Per-market oracle parameters, their defaults and why, and the limits the state relies on.

use ballast_math::Fixed;
use parity_scale_codec::{Decode, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

use crate::error::{ConfigError, OracleError};

/// Feeder slots per market. The contract maps feeder accounts to slot indices `0..MAX_FEEDERS`.
pub const MAX_FEEDERS: usize = 8;

/// Slots of the delay ring: with hourly intervals, the oldest slot is a day old (Mango v4).
pub const DELAY_SLOTS: usize = 24;

/// Smallest accepted price, 2^-24 (about 6e-8 quote per base).
///
/// With [`MAX_PRICE`] it bounds the ratio of any two prices the adapter holds to 2^74, below
/// `Fixed`'s 2^79, so quotients such as aggregate / dampened can never overflow. Near the lower
/// end the relative resolution is only 2^-24: a market should choose its base unit so that its
/// price is well above 1e-3.
pub const MIN_PRICE: Fixed = Fixed::from_bits(1 << 24);

/// Largest accepted price, 2^50 (about 1.1e15 quote per base).
///
/// The delay ring sums price x milliseconds over one interval of at most [`MAX_INTERVAL_MS`]
/// (< 2^27 ms); 2^50 x 2^27 = 2^77 stays below `Fixed`'s 2^79.
pub const MAX_PRICE: Fixed = Fixed::from_int(1 << 50);

/// Longest accepted delay interval: one day.
pub const MAX_INTERVAL_MS: u64 = 86_400_000;

const DAY_MS: u64 = 86_400_000;
/// `intervals_per_year * vol_interval_ms * clock_compression` must lie in [360, 367] days: it
/// converts the per-interval variance to an annual one, so a unit slip (e.g. 365 with hourly
/// intervals) would scale every volatility by sqrt(24).
const MIN_YEAR_MS: u64 = 360 * DAY_MS;
const MAX_YEAR_MS: u64 = 367 * DAY_MS;

/// Longest half-life of the volatility estimator, in market time (90 days): see
/// [`OracleConfig::validate`]'s bound on `ewma_lambda`.
pub const MAX_EWMA_HALF_LIFE_MS: u64 = 90 * 86_400_000;

/// Largest `clock_compression`: an hour of market time in one second of chain time.
pub const MAX_CLOCK_COMPRESSION: u64 = 3_600;

/// 0.02 on the 48-bit grid (rounded down; `tests::defaults_match_their_decimal_values` checks it).
const TWO_PERCENT: Fixed = Fixed::from_bits(5_629_499_534_213);
/// 0.25, exact.
const QUARTER: Fixed = Fixed::from_bits(70_368_744_177_664);
/// 0.0001, rounded down.
const ONE_BP: Fixed = Fixed::from_bits(28_147_497_671);
/// 0.06, rounded down.
const SIX_PERCENT: Fixed = Fixed::from_bits(16_888_498_602_639);

/// RiskMetrics' lambda 0.94 is per trading DAY. Sampling hourly with the same lambda would
/// shrink the memory 24-fold (half-life 11 hours instead of 11 days). The hourly value with the
/// same half-life in time is 0.94^(1/24) = 0.997425178731806957...; this is it rounded to the
/// nearest 48-bit value (`tests::hourly_lambda_keeps_the_daily_half_life` recomputes it with
/// `Fixed::powf` and in f64). Half-life: ln 0.5 / ln 0.94 = 11.2 days = 268.9 hours.
pub const HOURLY_LAMBDA: Fixed = Fixed::from_bits(280_750_228_954_157);

/// Oracle parameters of one market. Times are milliseconds (the chain's block timestamp unit);
/// rates are per second; fractions are plain `Fixed` fractions (0.02 = 2 %).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct OracleConfig {
    /// Fresh reports needed to form an aggregate. With fewer, the last good aggregate is kept
    /// and ages (Acala/ORML rule). Default 3: the smallest median that outvotes one bad feeder.
    pub min_reports: u8,
    /// A report counts as fresh, and an aggregate is good for opening risk, for this long.
    /// Default 60 s (Drift's margin staleness).
    pub max_report_age_ms: u64,
    /// Liquidations tolerate an aggregate this old (graduated validity, as Drift does): a
    /// feeder outage must not also stop the liquidations that protect solvency. Default 10 min.
    pub max_liquidation_age_ms: u64,
    /// Tolerated clock skew between feeders and the chain. Default 5 s (about one block).
    pub max_future_ms: u64,
    /// Largest confidence interval, as a fraction of the price, for a report to be accepted and
    /// for an aggregate to open risk on. Default 0.02 (Drift).
    pub max_confidence: Fixed,
    /// |aggregate / dampened - 1| above this is "too volatile": no opening and no liquidation
    /// until the dampened price catches up or the aggregate comes back. Default 0.25: above the
    /// largest hourly BTC move in 2022-2025 (7.2 %, 2022-05-11), so a real move does not trip it
    /// while the dampened price follows (see `damping_rate_per_sec`).
    pub max_jump: Fixed,
    /// Largest relative move of the dampened price per second, scaled by f^2 (see
    /// [`crate::math::damping_budget`]). Default 0.0001/s, a third of Mango's 0.0003:
    /// - one 6 s block of a manipulated aggregate moves the dampened price at most 0.06 %, and
    ///   it takes a manipulation held for more than 8 minutes to move it 5 %;
    /// - at f = 1 it still moves 36 % an hour, five times the largest hourly BTC move in
    ///   2022-2025, so real moves are followed within minutes (the FTX replay test prints the lag).
    pub damping_rate_per_sec: Fixed,
    /// At most this much of the time elapsed since the previous refresh moves the dampened
    /// price in one refresh (Mango clamps dt to 600 s). After an outage the held aggregate may
    /// be far from reality; the clamp stops one refresh from carrying the dampened price all the
    /// way to it. Below this gap, refresh frequency does not matter. Default 10 min; at most
    /// `delay_interval_ms`.
    pub max_damping_step_ms: u64,
    /// Time constant of the TWAP (an exponential moving average in time). Default 1 h.
    pub twap_window_ms: u64,
    /// Volatility sampling interval. Default 1 h.
    pub vol_interval_ms: u64,
    /// EWMA decay per volatility interval. Default [`HOURLY_LAMBDA`] = 0.94^(1/24).
    pub ewma_lambda: Fixed,
    /// Volatility intervals per year, to annualize. Default 8760 (hours in 365 days).
    pub intervals_per_year: u64,
    /// How many times faster than the chain's clock this market's time runs: 1 on a real market
    /// (the default), more only on a chain that replays history in compressed time (a test
    /// node fed an hour of candles every 2 s runs at 1800, with `vol_interval_ms` = 2000). It
    /// enters only the annualization check: a year of market time is
    /// `intervals_per_year * vol_interval_ms * clock_compression` milliseconds of chain time, so
    /// a compressed market samples volatility once per market hour and annualizes it by the
    /// market's calendar. At most [`MAX_CLOCK_COMPRESSION`].
    pub clock_compression: u64,
    /// Annualized volatility the EWMA starts from when a market gets its first price. Default
    /// 1.0 (100 %), above BTC's and ETH's realized vol in 2022-2025: a new market starts
    /// conservative, and the prior's weight decays as lambda^n (half after 11 days).
    pub initial_annualized_vol: Fixed,
    /// Length of one delay-ring interval. Default 1 h (24 slots = one day).
    pub delay_interval_ms: u64,
    /// Largest relative step between consecutive delay-ring slots. Default 0.06 (Mango).
    pub delay_growth_limit: Fixed,
}

impl Default for OracleConfig {
    fn default() -> Self {
        OracleConfig {
            min_reports: 3,
            max_report_age_ms: 60_000,
            max_liquidation_age_ms: 600_000,
            max_future_ms: 5_000,
            max_confidence: TWO_PERCENT,
            max_jump: QUARTER,
            damping_rate_per_sec: ONE_BP,
            max_damping_step_ms: 600_000,
            twap_window_ms: 3_600_000,
            vol_interval_ms: 3_600_000,
            ewma_lambda: HOURLY_LAMBDA,
            intervals_per_year: 8_760,
            clock_compression: 1,
            initial_annualized_vol: Fixed::ONE,
            delay_interval_ms: 3_600_000,
            delay_growth_limit: SIX_PERCENT,
        }
    }
}

fn in_open_unit_interval(value: Fixed) -> bool {
    value.is_positive() && value < Fixed::ONE
}

impl OracleConfig {
    /// Rejects parameters that make no sense or would break an invariant the state relies on
    /// (non-zero divisors, bounded loops, no overflow). Called by every state transition.
    pub fn validate(&self) -> Result<(), OracleError> {
        if self.min_reports == 0 || usize::from(self.min_reports) > MAX_FEEDERS {
            return Err(ConfigError::MinReports.into());
        }
        if self.max_report_age_ms == 0 {
            return Err(ConfigError::ReportAge.into());
        }
        if self.max_liquidation_age_ms < self.max_report_age_ms {
            return Err(ConfigError::LiquidationAge.into());
        }
        if self.max_future_ms > self.max_report_age_ms {
            return Err(ConfigError::FutureTolerance.into());
        }
        if !in_open_unit_interval(self.max_confidence) {
            return Err(ConfigError::Confidence.into());
        }
        if !self.max_jump.is_positive() {
            return Err(ConfigError::Jump.into());
        }
        if !self.damping_rate_per_sec.is_positive() || self.damping_rate_per_sec > Fixed::ONE {
            return Err(ConfigError::DampingRate.into());
        }
        if self.delay_interval_ms == 0 || self.delay_interval_ms > MAX_INTERVAL_MS {
            return Err(ConfigError::DelayInterval.into());
        }
        // Bounded by the delay interval so that one refresh moves the dampened price across at
        // most two delay-ring boundaries (the loop in `PriceState::advance` stays short).
        if self.max_damping_step_ms == 0 || self.max_damping_step_ms > self.delay_interval_ms {
            return Err(ConfigError::DampingStep.into());
        }
        // Bounded: a window of years would round every step's weight to zero and freeze the
        // TWAP that settlement closes positions at.
        if self.twap_window_ms == 0 || self.twap_window_ms > MAX_INTERVAL_MS {
            return Err(ConfigError::TwapWindow.into());
        }
        if self.vol_interval_ms == 0 {
            return Err(ConfigError::VolInterval.into());
        }
        if self.clock_compression == 0 || self.clock_compression > MAX_CLOCK_COMPRESSION {
            return Err(ConfigError::ClockCompression.into());
        }
        let year_ms = self
            .intervals_per_year
            .checked_mul(self.vol_interval_ms)
            .and_then(|ms| ms.checked_mul(self.clock_compression))
            .ok_or(ConfigError::IntervalsPerYear)?;
        if !(MIN_YEAR_MS..=MAX_YEAR_MS).contains(&year_ms) {
            return Err(ConfigError::IntervalsPerYear.into());
        }
        // After the calendar: the half-life is measured in market time.
        if !self.ewma_half_life_in_bounds()? {
            return Err(ConfigError::Lambda.into());
        }
        if self.initial_annualized_vol.is_negative()
            || self.initial_annualized_vol > Fixed::from_int(100)
        {
            return Err(ConfigError::InitialVol.into());
        }
        if !in_open_unit_interval(self.delay_growth_limit) {
            return Err(ConfigError::DelayGrowth.into());
        }
        Ok(())
    }
}

impl OracleConfig {
    /// Whether `ewma_lambda` gives the estimator a half-life between one interval
    /// (lambda >= 1/2) and [`MAX_EWMA_HALF_LIFE_MS`] of market time: a lambda nearer 1 would
    /// hold the forecast (and every volatility term following it) still through a storm.
    /// The half-life is ln 2 / (1 - lambda) intervals; 7/10 stands in for ln 2 (0.693), so
    /// the bound errs to the shorter side.
    fn ewma_half_life_in_bounds(&self) -> Result<bool, OracleError> {
        let lambda = self.ewma_lambda;
        if lambda < Fixed::from_ratio(1, 2)? || lambda >= Fixed::ONE {
            return Ok(false);
        }
        let market_interval_ms = self
            .vol_interval_ms
            .checked_mul(self.clock_compression)
            .ok_or(ConfigError::IntervalsPerYear)?;
        let decay_per_half_life = Fixed::ONE
            .checked_sub(lambda)?
            .checked_mul_int(i128::from(MAX_EWMA_HALF_LIFE_MS))?;
        let needed = Fixed::from_ratio(i128::from(market_interval_ms).saturating_mul(7), 10)?;
        Ok(decay_per_half_life >= needed)
    }
}

ballast_math::impl_leaf_layout!(OracleConfig);

#[cfg(test)]
mod tests {
    use super::*;

    fn ratio(n: i128, d: i128) -> Fixed {
        Fixed::from_ratio(n, d).unwrap()
    }

    #[test]
    fn defaults_match_their_decimal_values() {
        let cfg = OracleConfig::default();
        assert_eq!(cfg.max_confidence, ratio(2, 100));
        assert_eq!(cfg.max_jump, ratio(1, 4));
        assert_eq!(cfg.damping_rate_per_sec, ratio(1, 10_000));
        assert_eq!(cfg.delay_growth_limit, ratio(6, 100));
        assert_eq!(cfg.validate(), Ok(()));
        assert_eq!(MIN_PRICE, ratio(1, 1 << 24));
    }

    #[test]
    fn hourly_lambda_keeps_the_daily_half_life() {
        // Fixed: 0.94^(1/24) through ln/exp, within a few ulps of the constant.
        let computed = ratio(94, 100).powf(ratio(1, 24)).unwrap();
        assert!((computed.to_bits() - HOURLY_LAMBDA.to_bits()).abs() <= 4);
        // f64: the same number, and 24 hourly decays equal one daily decay.
        let lambda = HOURLY_LAMBDA.to_bits() as f64 / (1u64 << 48) as f64;
        assert!((lambda - 0.94f64.powf(1.0 / 24.0)).abs() < 1e-14);
        assert!((lambda.powi(24) - 0.94).abs() < 1e-13);
        // Half-life in hours = 24 x the daily half-life in days.
        let half_life_hours = 0.5f64.ln() / lambda.ln();
        let half_life_days = 0.5f64.ln() / 0.94f64.ln();
        assert!((half_life_hours - 24.0 * half_life_days).abs() < 1e-6);
    }

    #[test]
    fn validate_rejects_each_nonsense_setting() {
        let good = OracleConfig::default();
        type Spoil = fn(&mut OracleConfig);
        let cases: [(Spoil, ConfigError); 26] = [
            (|c| c.min_reports = 0, ConfigError::MinReports),
            (|c| c.min_reports = 9, ConfigError::MinReports),
            (|c| c.max_report_age_ms = 0, ConfigError::ReportAge),
            (
                |c| c.max_liquidation_age_ms = 59_999,
                ConfigError::LiquidationAge,
            ),
            (|c| c.max_future_ms = 60_001, ConfigError::FutureTolerance),
            (|c| c.max_confidence = Fixed::ZERO, ConfigError::Confidence),
            (|c| c.max_confidence = Fixed::ONE, ConfigError::Confidence),
            (|c| c.max_jump = Fixed::ZERO, ConfigError::Jump),
            (
                |c| c.damping_rate_per_sec = Fixed::ZERO,
                ConfigError::DampingRate,
            ),
            (|c| c.max_damping_step_ms = 0, ConfigError::DampingStep),
            (
                |c| c.max_damping_step_ms = 3_600_001,
                ConfigError::DampingStep,
            ),
            (|c| c.twap_window_ms = 0, ConfigError::TwapWindow),
            (
                |c| c.twap_window_ms = MAX_INTERVAL_MS + 1,
                ConfigError::TwapWindow,
            ),
            // A half-life under one interval, and hourly sampling with a half-life of 289
            // days (the forecast would hardly move in a storm).
            (|c| c.ewma_lambda = ratio(49, 100), ConfigError::Lambda),
            (
                |c| c.ewma_lambda = ratio(9_999, 10_000),
                ConfigError::Lambda,
            ),
            (
                |c| c.ewma_lambda = Fixed::from_bits((1 << 48) - 1),
                ConfigError::Lambda,
            ),
            (|c| c.vol_interval_ms = 0, ConfigError::VolInterval),
            (|c| c.ewma_lambda = Fixed::ONE, ConfigError::Lambda),
            (|c| c.ewma_lambda = Fixed::ZERO, ConfigError::Lambda),
            (
                |c| c.intervals_per_year = 365,
                ConfigError::IntervalsPerYear,
            ),
            (|c| c.clock_compression = 0, ConfigError::ClockCompression),
            (
                |c| c.clock_compression = MAX_CLOCK_COMPRESSION + 1,
                ConfigError::ClockCompression,
            ),
            // Compressed time with a real-time sampling interval: a year would last 1,800.
            (
                |c| c.clock_compression = 1_800,
                ConfigError::IntervalsPerYear,
            ),
            (
                |c| c.initial_annualized_vol = Fixed::from_int(-1),
                ConfigError::InitialVol,
            ),
            (|c| c.delay_interval_ms = 0, ConfigError::DelayInterval),
            (
                |c| c.delay_growth_limit = Fixed::ONE,
                ConfigError::DelayGrowth,
            ),
        ];
        for (spoil, expected) in cases {
            let mut cfg = good.clone();
            spoil(&mut cfg);
            assert_eq!(cfg.validate(), Err(OracleError::InvalidConfig(expected)));
        }
        // Daily sampling with 365 intervals a year is consistent, with a daily lambda
        // (RiskMetrics' 0.94, a half-life of 11 days); the hourly lambda would give 273 days.
        let mut daily = good.clone();
        daily.vol_interval_ms = DAY_MS;
        daily.intervals_per_year = 365;
        assert_eq!(
            daily.validate(),
            Err(OracleError::InvalidConfig(ConfigError::Lambda))
        );
        daily.ewma_lambda = ratio(94, 100);
        assert_eq!(daily.validate(), Ok(()));
        // Near the bound: 0.9993 hourly is a half-life of 41 days, 0.9997 of 96.
        let mut slow = good.clone();
        slow.ewma_lambda = ratio(9_993, 10_000);
        assert_eq!(slow.validate(), Ok(()));
        slow.ewma_lambda = ratio(9_997, 10_000);
        assert_eq!(
            slow.validate(),
            Err(OracleError::InvalidConfig(ConfigError::Lambda))
        );
        // A replay chain at 1800x samples once per market hour (2 s of chain time).
        let mut compressed = good.clone();
        compressed.clock_compression = 1_800;
        compressed.vol_interval_ms = 2_000;
        assert_eq!(compressed.validate(), Ok(()));
    }
}
