//! Liquidity-adjusted sizing: what a market's order book depth lets a position be.
//!
//! Venues and the market's feeders report depth: the notional resting within `depth_band`
//! (1%) of mid on each side. Closing a long sells into the bids, closing a short buys the asks.
//!
//! ```text
//! reports   = the latest report of each distinct reporter (at most 8)
//! target    = lower median over the reporters whose report is fresh (within max_age_ms),
//!             none unless at least `min_reporters` of them are
//! in_use    moves toward target at each report, by at most dt / 5 h of itself down and
//!           dt / 3 h of itself up, dt the time since it last moved but at most an hour (so a
//!           step too small to round to a unit is not lost). Within any hour it keeps at least
//!           1 - 2/5 and gains less than e^(2/3) - 1 of its value (the steps' times are
//!           disjoint, the first carries at most an hour from before): at most a factor 2
//!           either way (a depth of a unit or two rises by one unit after a full hour). It starts, when a target first exists, at
//!           max(target, open interest notional / haircut), where no position's charge
//!           exceeds `depth_band` of its notional
//! D_keep    = haircut * in_use                                  (positions held)
//! D_open    = haircut * min(in_use, target)                     (new risk: the cautious view)
//! impact(Q) = band * Q / D            for Q <= D                 (linear inside the book)
//!           = band * sqrt(Q / D)      beyond                     (square-root law), at most 1
//! charge(N) = N * impact(N)                                      (cost of closing the position)
//! ```
//!
//! - Maintenance adds `charge(N)` at `D_keep`, initial at `D_open`; the liquidation end sits
//!   between them as usual. `D_open <= D_keep`, so initial stays above maintenance.
//! - A position that grows must keep `impact(N) <= max_impact` at `D_open` (per-account cap).
//! - Open interest may grow by at most `oi_growth_fraction * D_open` per window.
//! - The dYdX open-interest term's caps become `min(configured, multiple * D_keep)`.
//! - The liquidation throttle becomes `throttle_depth_multiple * D_keep` per window, never
//!   below `throttle_floor_oi_fraction` of the open interest's notional.
//! - The per-account impact cap applies to the taker of a fill (a maker's size is bounded by
//!   its margin, which carries the same charge).
//! - Risk-reducing fills never face any of these.
//!
//! The terms apply while governance has them `On` and a depth is in use. Once one is, fewer
//! than `min_reporters` fresh reports stop new risk (`DepthStale`) but keep the charges.
//!
//! Bounds (tested as properties in `risk/tests/manipulation.rs`):
//! - One reporter alone sets nothing: `min_reporters >= 3`, and the lower median over three or
//!   more distinct reporters lies within the range of the others' values whatever the one
//!   reports, as often as it likes. (Identities are the market's venues and feeders, which the
//!   owner appoints; eight of them can replace every report.)
//! - Whoever reports: the depth in use changes by at most a factor 2 within any hour, so a
//!   held position's maintenance charge at most doubles within any hour (every impact regime
//!   is at most linear in 1 / depth), and starts at most `depth_band` of its notional when
//!   depth first applies. The initial charge (and the liquidation end) of new risk uses the
//!   target itself, which moves at once within the reporters' range.
//! - Limits: a depth in use of a few base units rises by a unit an hour, so a market started
//!   at a one-unit book by colluding reporters takes days to recover (or a governance switch
//!   of the terms to `Off`); a switch from `Off` to `On` meets the depth in use as it is,
//!   through the governance blend.

extern crate alloc;
use alloc::vec::Vec;

use ballast_math::{mul_div_i128, Fixed, MathError, Rounding};
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::config::{DepthTerms, LiquidityParams, MS_PER_HOUR};
use crate::error::{RiskError, RiskResult};

/// Most distinct reporters whose latest report is kept per market.
pub const MAX_DEPTH_REPORTERS: usize = 8;
/// Largest depth a report may state, quote base units (10^30: far above any market, and keeps
/// every product below in range).
pub const MAX_DEPTH: i128 = 1_000_000_000_000_000_000_000_000_000_000;

/// Who reported: the reporter's account id bytes.
pub type ReporterId = [u8; 32];

/// Depth of the two sides of the book, quote base units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode, TypeInfo)]
pub struct BookDepth {
    /// Bids (what closing a long sells into).
    pub bid: i128,
    /// Asks (what closing a short buys).
    pub ask: i128,
}

/// One reporter's latest report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct DepthReport {
    /// Who reported.
    pub reporter: ReporterId,
    /// What it reported.
    pub depth: BookDepth,
    /// When, ms.
    pub at_ms: u64,
}

/// A market's reported depth and the depth the engine uses.
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TypeInfo)]
pub struct DepthState {
    /// The latest report of each distinct reporter (at most [`MAX_DEPTH_REPORTERS`]).
    pub reports: Vec<DepthReport>,
    /// Median of the fresh reports at the latest report, if enough reporters were fresh.
    pub target: Option<BookDepth>,
    /// The depth the engine uses (rate-limited toward `target`); `None`: no depth yet.
    pub in_use: Option<BookDepth>,
    /// When the depth in use last moved (or started), ms: the next step counts the time since.
    pub updated_ms: u64,
}

ballast_math::impl_leaf_layout!(BookDepth, DepthReport, DepthState);

/// The depth a side of a position closes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Opening or growing risk: `haircut * min(in_use, target)`.
    Open,
    /// Requirements of positions held: `haircut * in_use`.
    Keep,
}

/// Which side of the book a position closes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseSide {
    /// A long closes into the bids.
    Bids,
    /// A short closes into the asks.
    Asks,
}

impl CloseSide {
    /// The side a position of signed `size` closes into.
    pub fn of(size: i128) -> Self {
        if size > 0 {
            CloseSide::Bids
        } else {
            CloseSide::Asks
        }
    }
}

impl BookDepth {
    fn side(&self, side: CloseSide) -> i128 {
        match side {
            CloseSide::Bids => self.bid,
            CloseSide::Asks => self.ask,
        }
    }
    fn thinner(&self) -> i128 {
        self.bid.min(self.ask)
    }
}

fn lower_median(values: &mut [i128]) -> Option<i128> {
    values.sort_unstable();
    values.get(values.len().checked_sub(1)? / 2).copied()
}

/// One rate-limited step of `current` toward `target`: down by at most `current * elapsed /
/// 5 h`, up by at most `current * elapsed / 3 h`, `elapsed` at most an hour (steps rounded
/// down: the slower side).
fn step_toward(current: i128, target: i128, elapsed_ms: u64) -> RiskResult<i128> {
    let elapsed_ms = elapsed_ms.min(MS_PER_HOUR);
    let hours = |divisor: u64| {
        mul_div_i128(
            current,
            i128::from(elapsed_ms),
            i128::from(MS_PER_HOUR.saturating_mul(divisor)),
            Rounding::Floor,
        )
    };
    Ok(if target < current {
        current
            .checked_sub(hours(5)?)
            .ok_or(MathError::Overflow)?
            .max(target)
    } else {
        // A depth of a unit or two would round every step to zero and never recover: after a
        // full hour it rises by at least one unit.
        let step = match hours(3)? {
            0 if elapsed_ms >= MS_PER_HOUR => 1,
            step => step,
        };
        current
            .checked_add(step)
            .ok_or(MathError::Overflow)?
            .min(target)
    })
}

impl DepthState {
    /// Whether a depth is in use (the liquidity terms apply where governance has them on).
    pub fn active(&self) -> bool {
        self.in_use.is_some()
    }

    fn fresh(&self, params: &LiquidityParams, now_ms: u64) -> impl Iterator<Item = &DepthReport> {
        let max_age = params.max_age_ms;
        self.reports
            .iter()
            .filter(move |r| now_ms.saturating_sub(r.at_ms) <= max_age)
    }

    fn median_of_fresh(&self, params: &LiquidityParams, now_ms: u64) -> Option<BookDepth> {
        let mut bids = [0i128; MAX_DEPTH_REPORTERS];
        let mut asks = [0i128; MAX_DEPTH_REPORTERS];
        let mut n = 0usize;
        for (r, (b, a)) in self
            .fresh(params, now_ms)
            .zip(bids.iter_mut().zip(asks.iter_mut()))
        {
            *b = r.depth.bid;
            *a = r.depth.ask;
            n = n.saturating_add(1);
        }
        if n < usize::from(params.min_reporters) {
            return None;
        }
        Some(BookDepth {
            bid: lower_median(bids.get_mut(..n)?)?,
            ask: lower_median(asks.get_mut(..n)?)?,
        })
    }

    /// Takes in `reporter`'s report of `bid` and `ask` depth (quote base units, each in
    /// `1..=MAX_DEPTH`): it replaces that reporter's previous one (a new reporter, when all
    /// slots are taken, replaces the oldest report). `open_interest_notional` (one side, quote
    /// base units) is where the depth in use starts when it first exists.
    pub fn report(
        &mut self,
        params: &LiquidityParams,
        reporter: ReporterId,
        depth: BookDepth,
        open_interest_notional: i128,
        now_ms: u64,
    ) -> RiskResult<()> {
        let in_range = |v: i128| v > 0 && v <= MAX_DEPTH;
        if !in_range(depth.bid) || !in_range(depth.ask) {
            return Err(RiskError::InvalidReport);
        }
        let mut next = self.clone();
        let report = DepthReport {
            reporter,
            depth,
            at_ms: now_ms,
        };
        if let Some(slot) = next.reports.iter_mut().find(|r| r.reporter == reporter) {
            *slot = DepthReport {
                at_ms: slot.at_ms.max(now_ms),
                ..report
            };
        } else if next.reports.len() < MAX_DEPTH_REPORTERS {
            next.reports.push(report);
        } else if let Some(oldest) = next.reports.iter_mut().min_by_key(|r| r.at_ms) {
            *oldest = report;
        }
        next.target = next.median_of_fresh(params, now_ms);
        next.advance(params, open_interest_notional, now_ms)?;
        *self = next;
        Ok(())
    }

    /// Moves the depth in use toward the target, within the rate limit.
    fn advance(
        &mut self,
        params: &LiquidityParams,
        open_interest_notional: i128,
        now_ms: u64,
    ) -> RiskResult<()> {
        let Some(target) = self.target else {
            return Ok(());
        };
        let Some(in_use) = self.in_use else {
            // Start where no held position's charge exceeds `depth_band` of its notional: a
            // depth (after haircut) of at least the open interest's notional.
            let start = mul_div_i128(
                open_interest_notional.max(0),
                Fixed::ONE.to_bits(),
                params.haircut.to_bits(),
                Rounding::Ceil,
            )?
            .min(MAX_DEPTH);
            let first = BookDepth {
                bid: target.bid.max(start),
                ask: target.ask.max(start),
            };
            self.in_use = Some(first);
            self.updated_ms = self.updated_ms.max(now_ms);
            return Ok(());
        };
        let elapsed = now_ms.saturating_sub(self.updated_ms);
        let moved = BookDepth {
            bid: step_toward(in_use.bid, target.bid, elapsed)?,
            ask: step_toward(in_use.ask, target.ask, elapsed)?,
        };
        if moved != in_use {
            self.in_use = Some(moved);
            self.updated_ms = self.updated_ms.max(now_ms);
        }
        Ok(())
    }

    fn raw(&self, params: &LiquidityParams, use_: Use) -> Option<BookDepth> {
        if params.terms == DepthTerms::Off {
            return None;
        }
        let in_use = self.in_use?;
        Some(match (use_, self.target) {
            (Use::Open, Some(t)) => BookDepth {
                bid: in_use.bid.min(t.bid),
                ask: in_use.ask.min(t.ask),
            },
            _ => in_use,
        })
    }

    /// Effective depth (after haircut) of the side a position closes into (`None`: no depth
    /// terms).
    pub fn depth(
        &self,
        params: &LiquidityParams,
        side: CloseSide,
        use_: Use,
    ) -> RiskResult<Option<i128>> {
        let Some(raw) = self.raw(params, use_) else {
            return Ok(None);
        };
        Ok(Some(
            params.haircut.mul_amount(raw.side(side), Rounding::Floor)?,
        ))
    }

    /// The thinner side's effective depth (`None`: no depth terms).
    pub fn both_sides(&self, params: &LiquidityParams, use_: Use) -> RiskResult<Option<i128>> {
        let Some(raw) = self.raw(params, use_) else {
            return Ok(None);
        };
        Ok(Some(
            params.haircut.mul_amount(raw.thinner(), Rounding::Floor)?,
        ))
    }

    /// Whether too few fresh reports are left for new risk (only once a depth is in use and
    /// the terms are on).
    pub fn stale(&self, params: &LiquidityParams, now_ms: u64) -> bool {
        params.terms == DepthTerms::On
            && self.active()
            && self.median_of_fresh(params, now_ms).is_none()
    }
}

/// Price impact (fraction of price) of closing `notional` into `depth`: linear up to the
/// depth, square-root beyond, at most 1. Zero depth means the whole price.
pub fn impact(params: &LiquidityParams, notional: i128, depth: i128) -> RiskResult<Fixed> {
    if notional <= 0 {
        return Ok(Fixed::ZERO);
    }
    if depth <= 0 {
        return Ok(Fixed::ONE);
    }
    let ratio = Fixed::from_ratio(notional.min(MAX_DEPTH.saturating_mul(1_000_000)), depth)?;
    let scaled = if ratio <= Fixed::ONE {
        ratio
    } else {
        ratio.sqrt()?
    };
    Ok(params.depth_band.checked_mul(scaled)?.min(Fixed::ONE))
}

/// What closing `notional` costs at `depth`: `notional * impact`, rounded up.
pub fn charge(params: &LiquidityParams, notional: i128, depth: i128) -> RiskResult<i128> {
    Ok(impact(params, notional, depth)?.mul_amount(notional, Rounding::Ceil)?)
}

/// Whether a position of `notional` stays within the per-account impact cap at `depth`.
pub fn within_cap(params: &LiquidityParams, notional: i128, depth: i128) -> RiskResult<bool> {
    Ok(impact(params, notional, depth)? <= params.max_impact)
}

/// The open-interest caps of the dYdX term, tightened by depth: `min(configured, multiple *
/// depth)`, with the upper cap kept above the lower one.
pub fn oi_caps(
    params: &LiquidityParams,
    configured: (i128, i128),
    depth: Option<i128>,
) -> RiskResult<(i128, i128)> {
    let Some(depth) = depth else {
        return Ok(configured);
    };
    let lower = configured.0.min(
        params
            .oi_lower_depth_multiple
            .mul_amount(depth, Rounding::Floor)?,
    );
    let upper = configured
        .1
        .min(
            params
                .oi_upper_depth_multiple
                .mul_amount(depth, Rounding::Floor)?,
        )
        .max(lower.saturating_add(1));
    Ok((lower, upper))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MarketConfig;
    use ballast_math::Decimals;

    fn params() -> LiquidityParams {
        MarketConfig::default_large_cap(Decimals { base: 8, quote: 6 }).liquidity
    }

    #[test]
    fn impact_is_linear_then_square_root_and_continuous() {
        let p = params();
        let d = 1_000_000;
        assert_eq!(impact(&p, 0, d).unwrap(), Fixed::ZERO);
        assert_eq!(
            impact(&p, d / 2, d).unwrap(),
            p.depth_band
                .checked_mul(Fixed::from_ratio(1, 2).unwrap())
                .unwrap()
        );
        assert_eq!(impact(&p, d, d).unwrap(), p.depth_band);
        assert_eq!(
            impact(&p, 4 * d, d).unwrap(),
            p.depth_band.checked_mul_int(2).unwrap()
        );
        // Continuous at the depth: one unit beyond moves the impact by about band / (2 D).
        let just_above = impact(&p, d + 1, d).unwrap();
        assert!(just_above > p.depth_band);
        assert!(
            just_above.checked_sub(p.depth_band).unwrap()
                < Fixed::from_ratio(1, 100_000_000).unwrap()
        );
        assert_eq!(impact(&p, 5, 0).unwrap(), Fixed::ONE);
    }

    #[test]
    fn the_cap_allows_max_impact_over_band_squared_times_depth() {
        let p = params();
        // max_impact 2%, band 1%: sqrt(N / D) <= 2, N <= 4 D.
        let d = 1_000_000;
        assert!(within_cap(&p, 4 * d, d).unwrap());
        assert!(!within_cap(&p, 4 * d + 1, d).unwrap());
    }

    const HOUR: u64 = MS_PER_HOUR;
    fn id(n: u8) -> ReporterId {
        [n; 32]
    }
    fn book(v: i128) -> BookDepth {
        BookDepth { bid: v, ask: v }
    }

    #[test]
    fn no_depth_until_enough_distinct_reporters() {
        let p = params(); // three distinct reporters
        let mut s = DepthState::default();
        for t in 0..5 {
            s.report(&p, id(1), book(1_000), 0, t).unwrap();
        }
        s.report(&p, id(2), book(1_000), 0, 10).unwrap();
        assert_eq!(s.reports.len(), 2, "one slot per reporter");
        assert_eq!(s.depth(&p, CloseSide::Bids, Use::Keep).unwrap(), None);
        s.report(&p, id(3), book(1_000), 0, 20).unwrap();
        assert_eq!(
            s.depth(&p, CloseSide::Bids, Use::Keep).unwrap(),
            Some(500),
            "haircut half"
        );
    }

    #[test]
    fn the_first_depth_starts_at_the_open_interest_then_falls_a_fifth_per_hour() {
        let mut p = params();
        p.max_age_ms = 10 * HOUR; // every report stays fresh here
        let mut s = DepthState::default();
        // Open interest notional 8,000: the depth in use starts at 8,000 / haircut = 16,000.
        for r in 1..=3 {
            s.report(&p, id(r), book(1_000), 8_000, 0).unwrap();
        }
        assert_eq!(s.in_use, Some(book(16_000)));
        s.report(&p, id(1), book(1_000), 8_000, HOUR / 2).unwrap();
        assert_eq!(s.in_use, Some(book(14_400)), "a tenth in half an hour");
        // Three hours of silence count as one.
        s.report(&p, id(2), book(1_000), 8_000, 4 * HOUR).unwrap();
        assert_eq!(s.in_use.unwrap().bid, 14_400 - 2_880);
        for h in 5..40 {
            for r in 1..=3 {
                s.report(
                    &p,
                    id(r),
                    book(1_000),
                    8_000,
                    h * HOUR + u64::from(r) * 1_200_000,
                )
                .unwrap();
            }
        }
        assert_eq!(s.in_use, Some(book(1_000)), "reaches the target and stays");
    }

    #[test]
    fn rising_depth_gains_at_most_a_third_per_hour() {
        let p = params();
        let mut s = DepthState::default();
        for r in 1..=3 {
            s.report(&p, id(r), book(3_000), 0, 0).unwrap();
        }
        for r in 1..=3 {
            s.report(&p, id(r), book(1_000_000), 0, HOUR / 4 * u64::from(r))
                .unwrap();
        }
        // The median moved with the second report (half an hour after the depth last moved,
        // which it had not since it started): a sixth; the third, a quarter hour on, a twelfth.
        assert_eq!(s.in_use, Some(book(3_000 + 500 + 291)));
        assert_eq!(
            s.depth(&p, CloseSide::Asks, Use::Open).unwrap(),
            Some(1_895),
            "new risk sees the smaller of in use and target"
        );
    }

    #[test]
    fn stale_when_too_few_fresh_reports_and_off_means_no_terms() {
        let mut p = params();
        let mut s = DepthState::default();
        for r in 1..=3 {
            s.report(&p, id(r), book(1_000), 0, u64::from(r)).unwrap();
        }
        assert!(!s.stale(&p, p.max_age_ms));
        assert!(s.stale(&p, p.max_age_ms + 2), "the first report aged out");
        p.terms = DepthTerms::Off;
        assert!(!s.stale(&p, p.max_age_ms + 2));
        assert_eq!(s.both_sides(&p, Use::Keep).unwrap(), None);
    }

    #[test]
    fn bad_reports_change_nothing() {
        let p = params();
        let mut s = DepthState::default();
        s.report(
            &p,
            id(1),
            BookDepth {
                bid: 1_000,
                ask: 2_000,
            },
            0,
            5,
        )
        .unwrap();
        let before = s.clone();
        for (bid, ask) in [(0, 1), (1, -1), (MAX_DEPTH + 1, 1)] {
            assert_eq!(
                s.report(&p, id(2), BookDepth { bid, ask }, 0, 10),
                Err(RiskError::InvalidReport)
            );
            assert_eq!(s, before);
        }
    }

    #[test]
    fn depth_caps_the_open_interest_term() {
        let p = params();
        assert_eq!(oi_caps(&p, (1_000, 5_000), None).unwrap(), (1_000, 5_000));
        // 100x and 400x of a depth of 3.
        assert_eq!(oi_caps(&p, (1_000, 5_000), Some(3)).unwrap(), (300, 1_200));
        assert_eq!(oi_caps(&p, (10, 5_000), Some(3)).unwrap(), (10, 1_200));
        assert_eq!(oi_caps(&p, (1_000, 5_000), Some(0)).unwrap(), (0, 1));
    }
}
