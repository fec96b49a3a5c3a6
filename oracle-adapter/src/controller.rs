//! State transitions: accepting a report and refreshing a market to the block time.
//!
//! Both work on a copy and commit it only on success, so any error leaves the state exactly as
//! it was.
//!
//! Order independence within a block: a refresh first advances everything that depends on
//! time (dampened price, TWAP, delay ring, volatility) from the last refresh to now, using the
//! aggregate that held during that period (prices are piecewise constant between refreshes),
//! and only then re-forms the aggregate from the slots. A second refresh at the same time
//! advances nothing, and the aggregate depends only on the slots, so a block's reports give
//! the same state in any order. Re-anchoring the dampened price (when the aggregate changed)
//! and initialising a new market (when the first aggregate is re-formed in its first block) are
//! done so that they, too, depend only on the state at the end of the block.

use ballast_math::{Fixed, MathError};

use crate::config::{OracleConfig, DELAY_SLOTS, MAX_FEEDERS, MAX_PRICE, MIN_PRICE};
use crate::error::OracleError;
use crate::math;
use crate::state::{
    Aggregate, Dampening, DelayRing, FeedState, PriceState, RefreshOutcome, Report, SubmitOutcome,
    VolState,
};

fn overflow() -> OracleError {
    OracleError::Math(MathError::Overflow)
}

/// Start of the interval after the one containing `t`.
fn next_boundary(t: u64, interval_ms: u64) -> Result<u64, OracleError> {
    t.checked_div(interval_ms)
        .and_then(|index| index.checked_add(1))
        .and_then(|index| index.checked_mul(interval_ms))
        .ok_or_else(overflow)
}

impl FeedState {
    /// Accepts `report` from feeder `slot` at block time `now_ms`, then refreshes the market.
    ///
    /// Guard rails, checked in this order, each a distinct error that leaves the state
    /// unchanged: slot out of range; non-positive price; price outside [`MIN_PRICE`,
    /// `MAX_PRICE`]; negative confidence; timestamp more than `max_future_ms` ahead of now;
    /// already older than `max_report_age_ms`; older than the slot's last report (an equal
    /// timestamp replaces it: the feeder corrects itself within a block); confidence above
    /// `max_confidence` of the price; block time before the last refresh.
    pub fn submit(
        &mut self,
        cfg: &OracleConfig,
        slot: u8,
        report: Report,
        now_ms: u64,
    ) -> Result<SubmitOutcome, OracleError> {
        cfg.validate()?;
        let index = usize::from(slot);
        if index >= MAX_FEEDERS {
            return Err(OracleError::InvalidSlot);
        }
        if !report.price.is_positive() {
            return Err(OracleError::NonPositivePrice);
        }
        if report.price < MIN_PRICE || report.price > MAX_PRICE {
            return Err(OracleError::PriceOutOfRange);
        }
        if report.confidence.is_negative() {
            return Err(OracleError::NegativeConfidence);
        }
        if report.timestamp_ms > now_ms.saturating_add(cfg.max_future_ms) {
            return Err(OracleError::FromTheFuture);
        }
        if now_ms.saturating_sub(report.timestamp_ms) > cfg.max_report_age_ms {
            return Err(OracleError::TooOld);
        }
        let previous = self.reports.get(index).ok_or(OracleError::InvalidSlot)?;
        if let Some(previous) = previous {
            if report.timestamp_ms < previous.timestamp_ms {
                return Err(OracleError::Replay);
            }
        }
        // confidence > max_confidence * price, the product rounded up: a borderline report passes.
        let confidence_limit = report
            .price
            .mul_rounded(cfg.max_confidence, ballast_math::Rounding::Ceil)?;
        if report.confidence > confidence_limit {
            return Err(OracleError::ReportTooUncertain);
        }
        if now_ms < self.last_refresh_ms {
            return Err(OracleError::TimeWentBackwards);
        }

        let mut next = self.clone();
        let stored = next
            .reports
            .get_mut(index)
            .ok_or(OracleError::InvalidSlot)?;
        *stored = Some(report);
        let outcome = next.refresh_in_place(cfg, now_ms)?;
        *self = next;
        Ok(outcome)
    }

    /// Advances the market to `now_ms` and re-forms the aggregate from the fresh reports.
    ///
    /// Called by every submit; the contract may also call it on its own (a keeper, or before
    /// reading a price) so that the dampened price, the TWAP and staleness reflect now.
    pub fn refresh(
        &mut self,
        cfg: &OracleConfig,
        now_ms: u64,
    ) -> Result<RefreshOutcome, OracleError> {
        cfg.validate()?;
        if now_ms < self.last_refresh_ms {
            return Err(OracleError::TimeWentBackwards);
        }
        let mut next = self.clone();
        let outcome = next.refresh_in_place(cfg, now_ms)?;
        *self = next;
        Ok(outcome)
    }

    fn refresh_in_place(
        &mut self,
        cfg: &OracleConfig,
        now_ms: u64,
    ) -> Result<RefreshOutcome, OracleError> {
        if let Some(state) = self.price.as_mut() {
            state.advance(cfg, self.last_refresh_ms, now_ms)?;
        }
        self.last_refresh_ms = now_ms;

        let (fresh, formed) = self.aggregate_of_fresh_reports(cfg, now_ms)?;
        self.fresh_reports = fresh;
        let aggregate_formed = fresh >= cfg.min_reports;
        if aggregate_formed {
            if let Some(aggregate) = formed {
                match self.price.as_mut() {
                    // Time has moved since the first price: only the aggregate changes now;
                    // the time-dependent state follows it from the next advance on.
                    Some(state) if state.since_ms != now_ms => state.aggregate = aggregate,
                    // First price, or the first price re-formed within its first block.
                    _ => self.price = Some(PriceState::first(cfg, aggregate, now_ms)?),
                }
            }
        }
        Ok(RefreshOutcome {
            fresh_reports: fresh,
            aggregate_formed,
            aggregate: self.price.as_ref().map(|state| state.aggregate),
        })
    }

    /// Median of the fresh reports (age at most `max_report_age_ms`; reports stamped slightly
    /// in the future count as fresh), with its confidence and the lower median of the inputs'
    /// timestamps.
    fn aggregate_of_fresh_reports(
        &self,
        cfg: &OracleConfig,
        now_ms: u64,
    ) -> Result<(u8, Option<Aggregate>), OracleError> {
        let mut prices = [Fixed::ZERO; MAX_FEEDERS];
        let mut confidences = [Fixed::ZERO; MAX_FEEDERS];
        let mut stamps = [0u64; MAX_FEEDERS];
        let mut count: usize = 0;
        for report in self.reports.iter().flatten() {
            if now_ms.saturating_sub(report.timestamp_ms) > cfg.max_report_age_ms {
                continue;
            }
            *prices.get_mut(count).ok_or_else(overflow)? = report.price;
            *confidences.get_mut(count).ok_or_else(overflow)? = report.confidence;
            *stamps.get_mut(count).ok_or_else(overflow)? = report.timestamp_ms;
            count = count.checked_add(1).ok_or_else(overflow)?;
        }
        // The data's age is that of the lower median report: a minority of feeders stamping
        // their reports just inside the freshness bound (or in the future) cannot age (or
        // rejuvenate) it; with an even count the older of the two middle reports counts.
        let stamps = stamps.get_mut(..count).ok_or_else(overflow)?;
        stamps.sort_unstable();
        let median_ms = match count.checked_sub(1).and_then(|last| last.checked_div(2)) {
            Some(middle) => *stamps.get(middle).ok_or_else(overflow)?,
            None => 0,
        };
        let fresh = u8::try_from(count).map_err(|_| overflow())?;
        let prices = prices.get_mut(..count).ok_or_else(overflow)?;
        let Some(price) = math::median(prices)? else {
            return Ok((fresh, None));
        };
        let mut deviations = [Fixed::ZERO; MAX_FEEDERS];
        for (deviation, reported) in deviations.iter_mut().zip(prices.iter()) {
            *deviation = reported.checked_sub(price)?.checked_abs()?;
        }
        let deviations = deviations.get_mut(..count).ok_or_else(overflow)?;
        let confidences = confidences.get_mut(..count).ok_or_else(overflow)?;
        let spread = math::median(deviations)?.unwrap_or(Fixed::ZERO);
        let reported = math::median(confidences)?.unwrap_or(Fixed::ZERO);
        Ok((
            fresh,
            Some(Aggregate {
                price,
                confidence: reported.max(spread),
                formed_at_ms: median_ms,
            }),
        ))
    }
}

impl PriceState {
    /// The state of a market whose first aggregate was formed at `now_ms`: dampened price,
    /// TWAP and every delay slot start at it, and the volatility estimate at the prior.
    fn first(
        cfg: &OracleConfig,
        aggregate: Aggregate,
        now_ms: u64,
    ) -> Result<PriceState, OracleError> {
        let price = aggregate.price;
        Ok(PriceState {
            since_ms: now_ms,
            aggregate,
            dampening: Dampening {
                price,
                anchor: price,
                anchor_target: price,
                budget: Fixed::ZERO,
            },
            twap: price,
            delay: DelayRing::filled(price, now_ms),
            vol: VolState::starting_at(cfg, price, now_ms)?,
        })
    }

    /// Advances the time-dependent state over `[from_ms, to_ms)`, during which the aggregate
    /// held its current value.
    fn advance(&mut self, cfg: &OracleConfig, from_ms: u64, to_ms: u64) -> Result<(), OracleError> {
        let Some(elapsed_ms) = to_ms.checked_sub(from_ms).filter(|dt| *dt > 0) else {
            return Ok(());
        };
        let price = self.aggregate.price;
        self.dampening.retarget(price);

        // Walk the delay-interval boundaries in time order: the damping factor changes when a
        // new slot is pushed. The dampened price moves only during the first
        // `max_damping_step_ms` of the gap; once that budget is spent, whole intervals are
        // pushed in bulk, so the loop runs at most a few times whatever the gap.
        let interval_ms = cfg.delay_interval_ms;
        let mut damping_ms = elapsed_ms.min(cfg.max_damping_step_ms);
        let mut t = from_ms;
        while t < to_ms {
            let boundary = next_boundary(t, interval_ms)?;
            let segment_end = to_ms.min(boundary);
            let segment_ms = segment_end.checked_sub(t).ok_or_else(overflow)?;
            let moving_ms = segment_ms.min(damping_ms);
            damping_ms = damping_ms.saturating_sub(moving_ms);
            self.dampening
                .advance(cfg, price, self.delay.oldest_price()?, moving_ms)?;
            self.delay.accumulate(price, segment_ms)?;
            if segment_end < boundary {
                break;
            }
            self.delay.close_interval(cfg, boundary)?;
            t = boundary;
            if damping_ms == 0 {
                let whole = to_ms
                    .checked_sub(boundary)
                    .and_then(|rest| rest.checked_div(interval_ms))
                    .ok_or_else(overflow)?;
                if whole > 0 {
                    let span = whole.checked_mul(interval_ms).ok_or_else(overflow)?;
                    t = boundary.checked_add(span).ok_or_else(overflow)?;
                    self.delay.push_constant(cfg, price, whole, t)?;
                }
            }
        }

        self.twap = math::twap_after(self.twap, price, elapsed_ms, cfg.twap_window_ms)?;
        let interval = to_ms.checked_div(cfg.vol_interval_ms).unwrap_or(0);
        self.vol.sample(cfg, price, interval)?;
        Ok(())
    }
}

impl Dampening {
    /// Resets the anchor to the current dampened price if the aggregate changed since it was
    /// set. Done when time advances rather than when the aggregate changes, so that several
    /// changes within one block count once.
    fn retarget(&mut self, target: Fixed) {
        if self.anchor_target != target {
            self.anchor = self.price;
            self.anchor_target = target;
            self.budget = Fixed::ZERO;
        }
    }

    /// Earns the move budget of `elapsed_ms` (f from the anchor and the day-old delay price)
    /// and moves the dampened price within it.
    fn advance(
        &mut self,
        cfg: &OracleConfig,
        target: Fixed,
        delay_price: Fixed,
        elapsed_ms: u64,
    ) -> Result<(), OracleError> {
        if elapsed_ms == 0 {
            return Ok(());
        }
        let factor_squared = math::damping_factor_squared(self.anchor, delay_price)?;
        let earned = math::damping_budget(cfg.damping_rate_per_sec, factor_squared, elapsed_ms)?;
        self.budget = self.budget.saturating_add(earned);
        self.price = math::dampened_price(self.anchor, target, self.budget)?;
        Ok(())
    }
}

impl DelayRing {
    /// Adds `price` held for `elapsed_ms` to the current interval (exact: price x integer ms).
    fn accumulate(&mut self, price: Fixed, elapsed_ms: u64) -> Result<(), OracleError> {
        let weighted = price.checked_mul_int(i128::from(elapsed_ms))?;
        self.accumulator = self.accumulator.checked_add(weighted)?;
        self.accumulated_ms = self
            .accumulated_ms
            .checked_add(elapsed_ms)
            .ok_or_else(overflow)?;
        Ok(())
    }

    /// Ends the current interval at `boundary_ms`: pushes its time-weighted average, clamped.
    fn close_interval(&mut self, cfg: &OracleConfig, boundary_ms: u64) -> Result<(), OracleError> {
        if self.accumulated_ms > 0 {
            let average = self.accumulator.div_int(
                i128::from(self.accumulated_ms),
                ballast_math::Rounding::Nearest,
            )?;
            let previous = self.newest_price()?;
            let slot = math::delay_step(previous, average, cfg.delay_growth_limit)?;
            self.write_next(slot, 1)?;
        }
        self.accumulator = Fixed::ZERO;
        self.accumulated_ms = 0;
        self.updated_ms = boundary_ms;
        Ok(())
    }

    /// Pushes `count` whole intervals during which the aggregate was `price`. Only the last
    /// [`DELAY_SLOTS`] pushes stay visible; the earlier ones only walk the newest value toward
    /// `price`, which [`math::delay_approach`] does in closed form.
    fn push_constant(
        &mut self,
        cfg: &OracleConfig,
        price: Fixed,
        count: u64,
        last_boundary_ms: u64,
    ) -> Result<(), OracleError> {
        let slots = u64::try_from(DELAY_SLOTS).map_err(|_| overflow())?;
        let mut previous = self.newest_price()?;
        let mut skip = 0;
        if count > slots {
            skip = count.checked_sub(slots).ok_or_else(overflow)?;
            previous = math::delay_approach(previous, price, cfg.delay_growth_limit, skip)?;
        }
        let visible = count.checked_sub(skip).ok_or_else(overflow)?;
        let mut first = true;
        for _ in 0..visible {
            previous = math::delay_step(previous, price, cfg.delay_growth_limit)?;
            // The skipped pushes only move the index; apply that with the first visible one.
            let advance = if first {
                skip.checked_add(1).ok_or_else(overflow)?
            } else {
                1
            };
            first = false;
            self.write_next(previous, advance)?;
        }
        self.updated_ms = last_boundary_ms;
        Ok(())
    }

    /// Moves `newest` forward by `advance` slots (mod the length) and writes `price` there.
    fn write_next(&mut self, price: Fixed, advance: u64) -> Result<(), OracleError> {
        let slots = u64::try_from(DELAY_SLOTS).map_err(|_| overflow())?;
        let step = advance.checked_rem(slots).ok_or_else(overflow)?;
        let index = u64::from(self.newest)
            .checked_add(step)
            .and_then(|i| i.checked_rem(slots))
            .ok_or_else(overflow)?;
        let index = u8::try_from(index).map_err(|_| overflow())?;
        let slot = self
            .prices
            .get_mut(usize::from(index))
            .ok_or_else(overflow)?;
        *slot = price;
        self.newest = index;
        Ok(())
    }
}
