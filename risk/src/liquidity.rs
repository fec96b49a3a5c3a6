//! Liquidity-adjusted sizing: what a market's order book depth lets a position be.
//!
//! Venues (or the market's feeders) report depth: the notional resting within `depth_band`
//! (1%) of mid on each side. Closing a long sells into the bids, closing a short buys the asks.
//!
//! ```text
//! median    = lower median of the last 5 reports            (one report cannot move it alone)
//! slow     += min(1, dt / tau) * (median - slow)             (time-smoothed, follows the median)
//! D_open    = haircut * min(latest, slow, median)            (new risk: the most cautious view)
//! D_keep    = haircut * slow                                 (existing positions: no jumps)
//! impact(Q) = band * Q / D            for Q <= D              (linear inside the book)
//!           = band * sqrt(Q / D)      beyond                  (square-root law), at most 1
//! charge(N) = N * impact(N)                                   (cost of closing the position)
//! ```
//!
//! - Maintenance adds `charge(N)` at `D_keep`, initial at `D_open`; the liquidation end sits
//!   between them as usual. `D_open <= D_keep`, so initial stays above maintenance.
//! - A position that grows must keep `impact(N) <= max_impact` at `D_open` (per-account cap).
//! - Open interest may grow by at most `oi_growth_fraction * D_open` per window.
//! - The dYdX open-interest term's caps become `min(configured, multiple * D_keep)`.
//! - The liquidation throttle becomes `throttle_depth_multiple * D_keep` per window.
//! - The per-account impact cap applies to the taker of a fill (a maker's size is bounded by
//!   its margin, which carries the same charge).
//! - Risk-reducing fills never face any of these.
//!
//! A market nobody reports depth for keeps none of these terms. Once depth is reported, a
//! report older than `max_age_ms` stops new risk (`DepthStale`) but keeps the charges.
//!
//! Bound on one inflated report: with at least two reports in the window, the lower median
//! after any single report is at most the largest of the other reports in the window, and
//! `slow` moves toward that median, so the allowed size after one report is at most the size
//! allowed at `haircut * max(other reports)` (tested as a property).

use ballast_math::{mul_div_i128, Fixed, MathError, Rounding};
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::config::LiquidityParams;
use crate::error::{RiskError, RiskResult};

/// Reports kept for the median.
pub const DEPTH_WINDOW_REPORTS: u8 = 5;
/// The same, as an index bound.
pub const DEPTH_WINDOW: usize = DEPTH_WINDOW_REPORTS as usize;
/// Largest depth a report may state, quote base units (10^30: far above any market, and keeps
/// every product below in range).
pub const MAX_DEPTH: i128 = 1_000_000_000_000_000_000_000_000_000_000;

/// Depth of one side of the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode, TypeInfo)]
pub struct SideDepth {
    /// Latest report, quote base units.
    pub latest: i128,
    /// Time-smoothed depth following the window median.
    pub slow: i128,
    /// The last reports (ring, `DepthState::next` is the next slot).
    pub window: [i128; DEPTH_WINDOW],
}

/// A market's reported depth. `reports == 0`: never reported, liquidity terms off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode, TypeInfo)]
pub struct DepthState {
    /// Bids (what closing a long sells into).
    pub bid: SideDepth,
    /// Asks (what closing a short buys).
    pub ask: SideDepth,
    /// Reports in the window (at most `DEPTH_WINDOW`).
    pub reports: u8,
    /// Next window slot.
    pub next: u8,
    /// Time of the latest report, ms.
    pub updated_ms: u64,
}

ballast_math::impl_leaf_layout!(SideDepth, DepthState);

/// The depth a side of a position closes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Opening or growing risk: `haircut * min(latest, slow, median)`.
    Open,
    /// Requirements of positions held: `haircut * slow`.
    Keep,
}

fn lower_median(values: &[i128]) -> i128 {
    let mut sorted = [0i128; DEPTH_WINDOW];
    let n = values.len().min(DEPTH_WINDOW);
    for (slot, v) in sorted.iter_mut().zip(values) {
        *slot = *v;
    }
    let filled = sorted.get_mut(..n).unwrap_or(&mut []);
    filled.sort_unstable();
    filled.get(n.saturating_sub(1) / 2).copied().unwrap_or(0)
}

impl SideDepth {
    fn median(&self, reports: u8) -> i128 {
        let n = usize::from(reports).min(DEPTH_WINDOW);
        lower_median(self.window.get(..n).unwrap_or(&[]))
    }

    fn take(
        &mut self,
        value: i128,
        slot: usize,
        reports: u8,
        weight_ms: (u64, u64),
    ) -> RiskResult<()> {
        if let Some(s) = self.window.get_mut(slot) {
            *s = value;
        }
        self.latest = value;
        let median = self.median(reports);
        let (elapsed, tau) = weight_ms;
        self.slow = if reports <= 1 || elapsed >= tau {
            median
        } else {
            // slow + (median - slow) * elapsed / tau, rounded down (the cautious side either way).
            let step = mul_div_i128(
                median.checked_sub(self.slow).ok_or(MathError::Overflow)?,
                i128::from(elapsed),
                i128::from(tau),
                Rounding::Floor,
            )?;
            self.slow.checked_add(step).ok_or(MathError::Overflow)?
        };
        Ok(())
    }

    fn depth(&self, reports: u8, params: &LiquidityParams, use_: Use) -> RiskResult<i128> {
        let raw = match use_ {
            Use::Keep => self.slow,
            Use::Open => self.latest.min(self.slow).min(self.median(reports)),
        };
        Ok(params.haircut.mul_amount(raw, Rounding::Floor)?)
    }
}

impl DepthState {
    /// Whether depth was ever reported (the liquidity terms apply).
    pub fn active(&self) -> bool {
        self.reports > 0
    }

    /// Takes in a report of `bid` and `ask` depth (quote base units, each in `1..=MAX_DEPTH`).
    pub fn report(
        &mut self,
        params: &LiquidityParams,
        bid: i128,
        ask: i128,
        now_ms: u64,
    ) -> RiskResult<()> {
        let in_range = |v: i128| v > 0 && v <= MAX_DEPTH;
        if !in_range(bid) || !in_range(ask) {
            return Err(RiskError::InvalidReport);
        }
        let slot = usize::from(self.next) % DEPTH_WINDOW;
        let reports = self.reports.saturating_add(1).min(DEPTH_WINDOW_REPORTS);
        let weight = (now_ms.saturating_sub(self.updated_ms), params.ema_tau_ms);
        let mut next = *self;
        next.reports = reports;
        next.bid.take(bid, slot, reports, weight)?;
        next.ask.take(ask, slot, reports, weight)?;
        next.next = u8::try_from(slot.saturating_add(1) % DEPTH_WINDOW).unwrap_or(0);
        next.updated_ms = self.updated_ms.max(now_ms);
        *self = next;
        Ok(())
    }

    /// Effective depth of the side a position of sign `long` closes into (`None`: never
    /// reported).
    pub fn depth(
        &self,
        params: &LiquidityParams,
        long: bool,
        use_: Use,
    ) -> RiskResult<Option<i128>> {
        if !self.active() {
            return Ok(None);
        }
        let side = if long { &self.bid } else { &self.ask };
        Ok(Some(side.depth(self.reports, params, use_)?))
    }

    /// The smaller side's effective depth (`None`: never reported).
    pub fn both_sides(&self, params: &LiquidityParams, use_: Use) -> RiskResult<Option<i128>> {
        if !self.active() {
            return Ok(None);
        }
        Ok(Some(
            self.bid
                .depth(self.reports, params, use_)?
                .min(self.ask.depth(self.reports, params, use_)?),
        ))
    }

    /// Whether the latest report is too old for new risk.
    pub fn stale(&self, params: &LiquidityParams, now_ms: u64) -> bool {
        self.active() && now_ms.saturating_sub(self.updated_ms) > params.max_age_ms
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

    #[test]
    fn slow_depth_follows_the_median_over_tau() {
        let p = params();
        let mut s = DepthState::default();
        s.report(&p, 1_000, 1_000, 0).unwrap();
        assert_eq!(s.bid.slow, 1_000);
        for i in 1..5u64 {
            s.report(&p, 1_000, 1_000, i * 1_000).unwrap();
        }
        // Depth halves for good: the median follows after three reports, the slow depth
        // follows the median by dt / tau per report.
        let hour = p.ema_tau_ms;
        s.report(&p, 500, 500, hour / 4).unwrap();
        s.report(&p, 500, 500, hour / 2).unwrap();
        assert_eq!(s.bid.slow, 1_000, "median unchanged after two low reports");
        assert_eq!(
            s.depth(&p, true, Use::Open).unwrap(),
            Some(250),
            "latest counts at once"
        );
        s.report(&p, 500, 500, 3 * hour / 4).unwrap();
        assert_eq!(s.bid.median(s.reports), 500);
        assert_eq!(
            s.bid.slow,
            1_000 - 125,
            "a quarter of tau: a quarter of the way"
        );
        s.report(&p, 500, 500, 2 * hour).unwrap();
        assert_eq!(s.bid.slow, 500);
    }

    #[test]
    fn bad_reports_change_nothing() {
        let p = params();
        let mut s = DepthState::default();
        s.report(&p, 1_000, 2_000, 5).unwrap();
        let before = s;
        for (bid, ask) in [(0, 1), (1, -1), (MAX_DEPTH + 1, 1)] {
            assert_eq!(s.report(&p, bid, ask, 10), Err(RiskError::InvalidReport));
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
