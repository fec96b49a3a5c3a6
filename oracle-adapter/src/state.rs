//! The adapter's data: what a feeder reports, what a market stores, and what a reader gets.
//! Everything here is fixed-size (bounded arrays, no `Vec`) so one market's state is a single
//! storage value of under 1 KiB. Transitions live in [`crate::controller`]; reads are here.

use ballast_math::{Fixed, Rounding};
use parity_scale_codec::{Decode, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

use crate::config::{OracleConfig, DELAY_SLOTS, MAX_FEEDERS};
use crate::error::OracleError;

/// One feeder's observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct Report {
    /// Quote per base, whole units.
    pub price: Fixed,
    /// Half-width of the feeder's confidence interval, in the price's unit (Pyth's `conf`).
    pub confidence: Fixed,
    /// When the feeder observed the price, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
}

/// The median of the fresh reports, as last formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct Aggregate {
    /// Median price of the fresh reports.
    pub price: Fixed,
    /// max(median of the reported confidences, median absolute deviation of the prices from
    /// `price`): the feeders' own uncertainty or their disagreement, whichever is larger. Both
    /// are medians, so fewer than half of the feeders cannot inflate or hide it.
    pub confidence: Fixed,
    /// Lower median of the timestamps of the reports the median was formed from: the age of
    /// the data as most feeders saw it, not of the refresh (a minority stamping old reports
    /// cannot age it). Not updated while too few reports are fresh, so a kept aggregate ages.
    pub formed_at_ms: u64,
}

/// The dampened ("stable") price and the bound it moves under; see
/// [`crate::math::dampened_price`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct Dampening {
    /// Current dampened price.
    pub price: Fixed,
    /// Dampened price when the aggregate last changed: the move bound is measured from here.
    pub anchor: Fixed,
    /// The aggregate the anchor was set for. When the aggregate differs at the next time
    /// advance, the anchor is reset (lazily, so same-block reports commute).
    pub anchor_target: Fixed,
    /// Relative move allowed since the anchor: the sum of `rate * f^2 * dt` (dimensionless).
    pub budget: Fixed,
}

/// Mango-style delay prices: one slot per delay interval, each within `delay_growth_limit` of
/// the one before. The oldest slot (a day old with the defaults) sets the damping factor f.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct DelayRing {
    /// Slot prices; `newest` indexes the last one written, `newest + 1` (mod the length) the oldest.
    pub prices: [Fixed; DELAY_SLOTS],
    /// Index of the newest slot.
    pub newest: u8,
    /// Boundary time at which the newest slot was written (or the first price's time).
    pub updated_ms: u64,
    /// Sum of aggregate price x milliseconds over the current interval so far.
    pub accumulator: Fixed,
    /// Milliseconds the accumulator covers (the first interval may be partial).
    pub accumulated_ms: u64,
}

impl DelayRing {
    /// A ring whose every slot is `price`: a new market has no history to compare with.
    pub fn filled(price: Fixed, now_ms: u64) -> DelayRing {
        DelayRing {
            prices: [price; DELAY_SLOTS],
            newest: 0,
            updated_ms: now_ms,
            accumulator: Fixed::ZERO,
            accumulated_ms: 0,
        }
    }

    /// The slot written most recently.
    pub fn newest_price(&self) -> Result<Fixed, OracleError> {
        self.slot(usize::from(self.newest))
    }

    /// The oldest slot: the reference price for the damping factor.
    pub fn oldest_price(&self) -> Result<Fixed, OracleError> {
        let index = usize::from(self.newest)
            .checked_add(1)
            .ok_or(OracleError::Math(ballast_math::MathError::Overflow))?;
        self.slot(index.checked_rem(DELAY_SLOTS).unwrap_or(0))
    }

    fn slot(&self, index: usize) -> Result<Fixed, OracleError> {
        self.prices
            .get(index)
            .copied()
            .ok_or(OracleError::Math(ballast_math::MathError::Domain))
    }
}

/// EWMA volatility state, sampled once per volatility interval.
///
/// Stored annualized (per-interval variance times `intervals_per_year`, which is exact because
/// the EWMA is linear) rather than per interval: an hourly BTC variance of about 2.5e-5 would
/// keep only 9 to 10 significant digits on the 48-bit grid, the annualized 0.2 to 0.6 keeps 13
/// to 14, and the volatility read from it needs no further scaling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct VolState {
    /// EWMA of squared log returns times `intervals_per_year` (annual variance).
    pub annualized_variance: Fixed,
    /// Aggregate price at the last sample.
    pub last_price: Fixed,
    /// Index (time / `vol_interval_ms`) of the interval boundary of the last sample.
    pub last_interval: u64,
    /// Intervals folded into the estimate since the first price (a gap of n counts n); the
    /// initial prior's remaining weight is lambda^observations.
    pub observations: u32,
}

impl VolState {
    /// A fresh estimate starting from the configured prior at `price`.
    pub fn starting_at(cfg: &OracleConfig, price: Fixed, now_ms: u64) -> Result<Self, OracleError> {
        let initial = cfg.initial_annualized_vol;
        Ok(VolState {
            annualized_variance: initial.checked_mul(initial)?,
            last_price: price,
            last_interval: now_ms.checked_div(cfg.vol_interval_ms).unwrap_or(0),
            observations: 0,
        })
    }

    /// Folds in the return from the last sample to `price` at interval boundary `interval`,
    /// spread over the intervals passed (see [`crate::ewma_update`]). Earlier or equal
    /// intervals change nothing.
    pub fn sample(
        &mut self,
        cfg: &OracleConfig,
        price: Fixed,
        interval: u64,
    ) -> Result<(), OracleError> {
        let Some(passed) = interval.checked_sub(self.last_interval).filter(|n| *n > 0) else {
            return Ok(());
        };
        let r_squared = crate::math::annualized_squared_log_return(
            price,
            self.last_price,
            cfg.intervals_per_year,
        )?;
        self.annualized_variance =
            crate::math::ewma_update(self.annualized_variance, cfg.ewma_lambda, r_squared, passed)?;
        self.last_price = price;
        self.last_interval = interval;
        let passed_u32 = u32::try_from(passed).unwrap_or(u32::MAX);
        self.observations = self.observations.saturating_add(passed_u32);
        Ok(())
    }

    /// Annualized volatility: `sqrt(annual variance)`, a fraction (0.6 = 60 %).
    pub fn annualized_vol(&self) -> Result<Fixed, OracleError> {
        Ok(self.annualized_variance.sqrt()?)
    }

    /// Variance of one interval's log return: `annualized_variance / intervals_per_year`.
    pub fn variance_per_interval(&self, cfg: &OracleConfig) -> Result<Fixed, OracleError> {
        Ok(self
            .annualized_variance
            .div_int(i128::from(cfg.intervals_per_year), Rounding::Nearest)?)
    }

    /// Number of intervals folded in (see [`VolState::observations`]).
    pub fn observations(&self) -> u32 {
        self.observations
    }
}

/// Everything a market tracks once it has had a first aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct PriceState {
    /// When the first aggregate was formed. While time has not moved past it, a re-formed
    /// aggregate re-initialises everything, so the reports of that first block commute.
    pub since_ms: u64,
    /// Latest aggregate (possibly kept while too few reports are fresh).
    pub aggregate: Aggregate,
    /// Dampened price.
    pub dampening: Dampening,
    /// Time-weighted average of the aggregate; see [`crate::math::twap_after`].
    pub twap: Fixed,
    /// Delay prices for the damping factor.
    pub delay: DelayRing,
    /// Volatility estimate.
    pub vol: VolState,
}

/// One market's oracle state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct FeedState {
    /// Latest accepted report of each feeder slot.
    pub reports: [Option<Report>; MAX_FEEDERS],
    /// Time of the last refresh (0 before the first).
    pub last_refresh_ms: u64,
    /// Fresh reports counted at the last refresh; below `min_reports` the aggregate is stale.
    pub fresh_reports: u8,
    /// `None` until enough fresh reports formed a first aggregate.
    pub price: Option<PriceState>,
}

/// What a price is read for. Validity is graduated, as in Drift: liquidations accept an older
/// price than opening risk does, so a feeder outage does not also stop liquidations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub enum PriceUse {
    /// Opening or increasing risk, withdrawals: needs a fresh, calm, precise price.
    Opening,
    /// Liquidation and maintenance checks: tolerate staleness up to `max_liquidation_age_ms`
    /// and any confidence, never a missing or too-volatile price.
    Liquidation,
}

/// The state of a market's price for the engine's circuit breaker, worst condition first in
/// the checking order: `NoPrice`, `StaleForLiquidation`, `TooVolatile`, `StaleForOpening`,
/// `TooUncertain`, `Valid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub enum Validity {
    /// Good for every use.
    Valid,
    /// Older than `max_report_age_ms`: liquidations only.
    StaleForOpening,
    /// Confidence above `max_confidence` of the price: liquidations only.
    TooUncertain,
    /// More than `max_jump` from the dampened price: nothing.
    TooVolatile,
    /// Older than `max_liquidation_age_ms`: nothing.
    StaleForLiquidation,
    /// No price ever: nothing.
    NoPrice,
}

impl Validity {
    /// Whether a price in this condition may be used for `use_`.
    pub fn allows(self, use_: PriceUse) -> bool {
        match self {
            Validity::Valid => true,
            Validity::StaleForOpening | Validity::TooUncertain => use_ == PriceUse::Liquidation,
            Validity::TooVolatile | Validity::StaleForLiquidation | Validity::NoPrice => false,
        }
    }

    fn as_error(self) -> Option<OracleError> {
        match self {
            Validity::Valid => None,
            Validity::StaleForOpening => Some(OracleError::StaleForOpening),
            Validity::TooUncertain => Some(OracleError::PriceTooUncertain),
            Validity::TooVolatile => Some(OracleError::TooVolatile),
            Validity::StaleForLiquidation => Some(OracleError::StaleForLiquidation),
            Validity::NoPrice => Some(OracleError::NoPrice),
        }
    }
}

/// A price as handed to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct PriceView {
    /// The aggregate (median of fresh reports).
    pub oracle: Fixed,
    /// The dampened price (value assets at min(oracle, dampened), liabilities at the max, as
    /// Mango's initial health does).
    pub dampened: Fixed,
    /// Time-weighted average of the aggregate.
    pub twap: Fixed,
    /// The aggregate's confidence (price units).
    pub confidence: Fixed,
    /// Milliseconds since the aggregate's median input report.
    pub age_ms: u64,
    /// EWMA volatility, annualized fraction.
    pub annualized_vol: Fixed,
    /// Intervals folded into the volatility estimate.
    pub vol_observations: u32,
}

/// Result of a report or a refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct RefreshOutcome {
    /// Fresh reports at this refresh.
    pub fresh_reports: u8,
    /// Whether they were enough to (re)form the aggregate; if not, the last one is kept.
    pub aggregate_formed: bool,
    /// The aggregate now held, if any.
    pub aggregate: Option<Aggregate>,
}

/// Result of [`FeedState::submit`]: the refresh it triggered.
pub type SubmitOutcome = RefreshOutcome;

impl PriceState {
    /// |aggregate / dampened - 1| > max_jump. Fails closed: a quotient that cannot be formed
    /// counts as too volatile.
    fn too_volatile(&self, cfg: &OracleConfig) -> bool {
        let deviation = self
            .aggregate
            .price
            .div_rounded(self.dampening.price, Rounding::Nearest)
            .and_then(|ratio| ratio.checked_sub(Fixed::ONE))
            .and_then(Fixed::checked_abs);
        deviation.map_or(true, |d| d > cfg.max_jump)
    }

    /// confidence > max_confidence * price (the same test as for a report), failing closed
    /// like [`PriceState::too_volatile`].
    fn too_uncertain(&self, cfg: &OracleConfig) -> bool {
        self.aggregate
            .price
            .mul_rounded(cfg.max_confidence, Rounding::Ceil)
            .map_or(true, |limit| self.aggregate.confidence > limit)
    }
}

impl FeedState {
    /// The condition of the market's price at `now_ms`, for the engine's circuit breaker.
    ///
    /// Reads the state as of the last refresh: call [`FeedState::refresh`] first to advance
    /// the dampened price and the TWAP to `now_ms`.
    pub fn validity(&self, cfg: &OracleConfig, now_ms: u64) -> Validity {
        let Some(state) = &self.price else {
            return Validity::NoPrice;
        };
        let age_ms = now_ms.saturating_sub(state.aggregate.formed_at_ms);
        if age_ms > cfg.max_liquidation_age_ms {
            Validity::StaleForLiquidation
        } else if state.too_volatile(cfg) {
            Validity::TooVolatile
        } else if age_ms > cfg.max_report_age_ms {
            Validity::StaleForOpening
        } else if state.too_uncertain(cfg) {
            Validity::TooUncertain
        } else {
            Validity::Valid
        }
    }

    /// The price for `use_` at `now_ms`, or the error naming the check that refused it.
    pub fn price(
        &self,
        cfg: &OracleConfig,
        use_: PriceUse,
        now_ms: u64,
    ) -> Result<PriceView, OracleError> {
        let validity = self.validity(cfg, now_ms);
        if !validity.allows(use_) {
            return Err(validity.as_error().unwrap_or(OracleError::NoPrice));
        }
        let state = self.price.as_ref().ok_or(OracleError::NoPrice)?;
        Ok(PriceView {
            oracle: state.aggregate.price,
            dampened: state.dampening.price,
            twap: state.twap,
            confidence: state.aggregate.confidence,
            age_ms: now_ms.saturating_sub(state.aggregate.formed_at_ms),
            annualized_vol: state.vol.annualized_vol()?,
            vol_observations: state.vol.observations,
        })
    }
}

ballast_math::impl_leaf_layout!(
    Report,
    Aggregate,
    Dampening,
    DelayRing,
    VolState,
    PriceState,
    FeedState,
    PriceUse,
    Validity,
    PriceView,
    RefreshOutcome,
);
