//! The crate's one error type. Each guard rail has its own variant so that the contract can
//! tell a feeder (or a trader) exactly which check refused its call.

// parity-scale-codec's `Encode` derive writes the index of a variant that carries data as
// `(index_usize) as u8` without the `allow` it puts on unit variants; the derive itself checks
// at compile time that every index fits a byte. This module holds nothing but the two enums.
#![allow(clippy::cast_possible_truncation)]

use ballast_math::MathError;
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// Why the oracle adapter refused a report, a refresh or a price read.
///
/// Every function that returns an `OracleError` leaves the state it was called on unchanged.
/// The SCALE indices are explicit so that the encoding callers see never shifts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum OracleError {
    // --- Report guard rails (`FeedState::submit`), in the order they are checked. ---
    /// The feeder slot index is not below [`crate::MAX_FEEDERS`].
    #[codec(index = 0)]
    InvalidSlot,
    /// The reported price is zero or negative.
    #[codec(index = 1)]
    NonPositivePrice,
    /// The reported price lies outside [`crate::MIN_PRICE`, `crate::MAX_PRICE`], the range in
    /// which every ratio and accumulator of the adapter is guaranteed not to overflow.
    #[codec(index = 2)]
    PriceOutOfRange,
    /// The reported confidence interval is negative.
    #[codec(index = 3)]
    NegativeConfidence,
    /// The report's timestamp is more than `max_future_ms` ahead of the block time.
    #[codec(index = 4)]
    FromTheFuture,
    /// The report is already older than `max_report_age_ms`: it could never count as fresh.
    #[codec(index = 5)]
    TooOld,
    /// The report is older than the one this feeder slot already holds.
    #[codec(index = 6)]
    Replay,
    /// The report's confidence is more than `max_confidence` of its price.
    #[codec(index = 7)]
    ReportTooUncertain,
    /// The block time is earlier than the feed's last refresh.
    #[codec(index = 8)]
    TimeWentBackwards,

    // --- Price reads (`FeedState::price`). ---
    /// No aggregate price has ever been formed for this market.
    #[codec(index = 9)]
    NoPrice,
    /// The aggregate is older than `max_report_age_ms`: too old to open risk on.
    #[codec(index = 10)]
    StaleForOpening,
    /// The aggregate is older than `max_liquidation_age_ms`: too old even to liquidate on.
    #[codec(index = 11)]
    StaleForLiquidation,
    /// The aggregate is more than `max_jump` away from the dampened price.
    #[codec(index = 12)]
    TooVolatile,
    /// The aggregate's confidence is more than `max_confidence` of its price.
    #[codec(index = 13)]
    PriceTooUncertain,

    // --- Configuration and arithmetic. ---
    /// [`crate::OracleConfig::validate`] rejected the configuration; the payload names the check.
    #[codec(index = 14)]
    InvalidConfig(ConfigError),
    /// A checked fixed-point operation failed.
    #[codec(index = 15)]
    Math(MathError),
}

/// Which [`crate::OracleConfig`] check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum ConfigError {
    /// `min_reports` is zero or above [`crate::MAX_FEEDERS`].
    MinReports,
    /// `max_report_age_ms` is zero.
    ReportAge,
    /// `max_liquidation_age_ms` is below `max_report_age_ms`.
    LiquidationAge,
    /// `max_future_ms` is above `max_report_age_ms`.
    FutureTolerance,
    /// `max_confidence` is not in (0, 1).
    Confidence,
    /// `max_jump` is not positive.
    Jump,
    /// `damping_rate_per_sec` is not in (0, 1].
    DampingRate,
    /// `max_damping_step_ms` is zero or longer than `delay_interval_ms`.
    DampingStep,
    /// `twap_window_ms` is zero or longer than a day.
    TwapWindow,
    /// `vol_interval_ms` is zero.
    VolInterval,
    /// `ewma_lambda` is below 1/2 or gives a half-life above
    /// [`crate::config::MAX_EWMA_HALF_LIFE_MS`] of market time (90 days).
    Lambda,
    /// `intervals_per_year * vol_interval_ms * clock_compression` is not a year (360 to 367
    /// days).
    IntervalsPerYear,
    /// `initial_annualized_vol` is negative or above 100 (10,000 %).
    InitialVol,
    /// `delay_interval_ms` is zero or longer than a day.
    DelayInterval,
    /// `delay_growth_limit` is not in (0, 1).
    DelayGrowth,
    /// `clock_compression` is zero or above [`crate::config::MAX_CLOCK_COMPRESSION`].
    ClockCompression,
}

impl From<MathError> for OracleError {
    fn from(error: MathError) -> Self {
        OracleError::Math(error)
    }
}

impl From<ConfigError> for OracleError {
    fn from(error: ConfigError) -> Self {
        OracleError::InvalidConfig(error)
    }
}

impl core::fmt::Display for OracleError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            OracleError::InvalidSlot => f.write_str("feeder slot out of range"),
            OracleError::NonPositivePrice => f.write_str("price is not positive"),
            OracleError::PriceOutOfRange => f.write_str("price outside the supported range"),
            OracleError::NegativeConfidence => f.write_str("confidence is negative"),
            OracleError::FromTheFuture => f.write_str("report timestamp is in the future"),
            OracleError::TooOld => f.write_str("report is too old"),
            OracleError::Replay => f.write_str("report is older than the feeder's last one"),
            OracleError::ReportTooUncertain => f.write_str("report confidence too wide"),
            OracleError::TimeWentBackwards => f.write_str("time is before the last refresh"),
            OracleError::NoPrice => f.write_str("no price yet"),
            OracleError::StaleForOpening => f.write_str("price too old to open risk"),
            OracleError::StaleForLiquidation => f.write_str("price too old to liquidate"),
            OracleError::TooVolatile => f.write_str("price too far from the dampened price"),
            OracleError::PriceTooUncertain => f.write_str("price confidence too wide"),
            OracleError::InvalidConfig(check) => write!(f, "invalid oracle config: {check:?}"),
            OracleError::Math(error) => write!(f, "oracle arithmetic: {error}"),
        }
    }
}
