//! The market outside Ballast: the exogenous price path built from candles, and the finite
//! depth that forced flow (liquidations, stop-losses) trades against.
//!
//! Impact model. `depth` is the notional (quote whole units) resting within 1% of mid on each
//! side. Forced flow of notional `q` within one tick moves the price by
//! `1% * q / depth` up to `q = depth` and by `1% * sqrt(q / depth)` beyond (linear through the
//! visible book, square-root law past it, as in the liquidity-adjusted sizing design). The move
//! is applied to a log offset between the simulated and the exogenous price; the book refills,
//! so the offset decays with a half-life (`resilience`). The simulated price is
//! `exogenous * exp(offset)`. Voluntary opens and closes are taken to be part of the organic
//! flow already in the candles and do not move the price; only forced flow does.
//!
//! Depth in stress ([`DepthModel`], with `DepthCollapse::On`): real books thin when the price
//! runs (on 2025-10-10 depth within 1% fell by about 98% while BTC fell about 14%). With
//! `r` the log return of a tick and `dt` its length:
//!
//! ```text
//! fast, slow  = EWMAs of r^2 / dt, half-lives 30 min and 7 days
//! stress      = max(0, sqrt(fast / slow) - 2) + |forced flow of the tick| / normal depth
//! target      = max(2%, 1 / (1 + stress))                       (fraction of normal depth)
//! fraction    = target at once when it is lower (books pull in seconds), else it recovers
//!               toward target with a 2-hour half-life
//! ```
//!
//! The fast volatility must pass twice the slow before the book thins (calm noise moves
//! nothing); an 11% fall within 15 minutes out of a 40% regime leaves about 5% of the book. The
//! book does not thin before the model has seen one slow half-life (7 days) of prices. The
//! volatility is the exogenous market's (the candles stand for the whole market); the forced
//! flow is the population's own. Multi-day crashes thin the book less than a sudden move out
//! of calm, because the slow estimate catches up during them.

use ballast_oracle::candles::Candle;

use crate::units::to_f64;

/// Milliseconds per minute.
pub const MINUTE_MS: u64 = 60_000;

/// Relative price move of forced flow `q` against `depth` (both quote whole units).
pub fn impact_fraction(q: f64, depth: f64) -> f64 {
    if q <= 0.0 || depth <= 0.0 {
        return 0.0;
    }
    let x = q / depth;
    0.01 * if x <= 1.0 { x } else { x.sqrt() }
}

/// Price impact state: the log offset of the simulated price from the exogenous one.
#[derive(Debug, Clone, Copy)]
pub struct Impact {
    /// Depth within 1% of mid, quote whole units.
    pub depth: f64,
    /// Half-life of the offset, ms.
    pub half_life_ms: f64,
    /// ln(simulated / exogenous).
    pub log_offset: f64,
}

impl Impact {
    /// No offset yet.
    pub fn new(depth: f64, half_life_ms: f64) -> Impact {
        Impact {
            depth,
            half_life_ms,
            log_offset: 0.0,
        }
    }

    /// The book refills over `dt_ms`.
    pub fn decay(&mut self, dt_ms: u64) {
        if self.half_life_ms > 0.0 {
            self.log_offset *= 0.5f64.powf(dt_ms as f64 / self.half_life_ms);
        }
    }

    /// Net forced flow of one tick: positive buys, negative sells (quote whole units).
    pub fn trade(&mut self, net_flow: f64) {
        let f = impact_fraction(net_flow.abs(), self.depth).min(0.5);
        self.log_offset += if net_flow >= 0.0 {
            f.ln_1p()
        } else {
            (-f).ln_1p()
        };
    }

    /// The simulated price for an exogenous one.
    pub fn apply(&self, exogenous: f64) -> f64 {
        exogenous * self.log_offset.exp()
    }
}

/// Whether the book thins in stress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepthCollapse {
    /// Depth stays at its normal level.
    Off,
    /// Depth follows [`DepthModel`].
    On,
}

/// Parameters of the depth model (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DepthParams {
    /// Least fraction of normal depth left in the worst stress.
    pub floor: f64,
    /// Half-life of the fast volatility, ms.
    pub fast_half_life_ms: f64,
    /// Half-life of the slow volatility, ms.
    pub slow_half_life_ms: f64,
    /// Fast over slow volatility below which the book does not thin.
    pub vol_ratio_threshold: f64,
    /// Thinning per unit of forced flow over normal depth.
    pub flow_weight: f64,
    /// Half-life of the recovery toward the target, ms.
    pub recovery_half_life_ms: f64,
}

impl Default for DepthParams {
    fn default() -> Self {
        DepthParams {
            floor: 0.02,
            fast_half_life_ms: 30.0 * MINUTE_MS as f64,
            slow_half_life_ms: 7.0 * 24.0 * 60.0 * MINUTE_MS as f64,
            vol_ratio_threshold: 2.0,
            flow_weight: 1.0,
            recovery_half_life_ms: 120.0 * MINUTE_MS as f64,
        }
    }
}

/// Depth within 1% of mid as a function of stress: fast realized volatility against slow, and
/// forced flow (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct DepthModel {
    /// Depth in calm, quote whole units.
    pub normal: f64,
    /// What is left of it now.
    pub fraction: f64,
    params: DepthParams,
    collapse: DepthCollapse,
    fast: f64,
    slow: f64,
    last: Option<(u64, f64)>,
    /// Time folded into the slow estimate so far, ms.
    observed_ms: f64,
}

impl DepthModel {
    /// A book of `normal` depth.
    pub fn new(normal: f64, collapse: DepthCollapse, params: DepthParams) -> DepthModel {
        DepthModel {
            normal,
            fraction: 1.0,
            params,
            collapse,
            fast: 0.0,
            slow: 0.0,
            last: None,
            observed_ms: 0.0,
        }
    }

    /// The depth now, quote whole units.
    pub fn depth(&self) -> f64 {
        self.normal * self.fraction
    }

    /// Folds in the price at `at_ms` and the forced flow (quote whole units, either sign) that
    /// hit the book in the tick before it; returns the depth now.
    pub fn observe(&mut self, at_ms: u64, price: f64, forced_flow: f64) -> f64 {
        let Some((last_ms, last_price)) = self.last.replace((at_ms, price)) else {
            return self.depth();
        };
        let dt = at_ms.saturating_sub(last_ms) as f64;
        if dt <= 0.0 || price <= 0.0 || last_price <= 0.0 {
            return self.depth();
        }
        let rate = (price / last_price).ln().powi(2) / dt;
        let fold = |ewma: &mut f64, half_life: f64| {
            let keep = 0.5f64.powf(dt / half_life);
            *ewma = keep * *ewma + (1.0 - keep) * rate;
        };
        if self.slow == 0.0 {
            // The first return seeds both: no thinning before the regime is known.
            (self.fast, self.slow) = (rate, rate);
        } else {
            fold(&mut self.fast, self.params.fast_half_life_ms);
            fold(&mut self.slow, self.params.slow_half_life_ms);
        }
        self.observed_ms += dt;
        // The slow estimate starts from one return: the book does not thin before it has seen
        // one slow half-life of the market (a run's warm-up covers that).
        if self.collapse == DepthCollapse::Off || self.observed_ms < self.params.slow_half_life_ms {
            return self.depth();
        }
        let ratio = if self.slow > 0.0 {
            (self.fast / self.slow).sqrt()
        } else {
            1.0
        };
        let stress = (ratio - self.params.vol_ratio_threshold).max(0.0)
            + self.params.flow_weight * forced_flow.abs() / self.normal;
        let target = (1.0 / (1.0 + stress)).max(self.params.floor);
        self.fraction = if target <= self.fraction {
            target
        } else {
            let keep = 0.5f64.powf(dt / self.params.recovery_half_life_ms);
            target - (target - self.fraction) * keep
        };
        self.depth()
    }
}

/// One tick of the exogenous path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tick {
    /// Time, ms since the epoch.
    pub at_ms: u64,
    /// Exogenous price.
    pub price: f64,
    /// A candle covers this time (feeders report); false inside data gaps.
    pub live: bool,
}

/// The bar length of a candle series: the most common spacing (hourly or finer).
pub fn bar_ms(candles: &[Candle]) -> u64 {
    let mut gaps: Vec<u64> = candles
        .windows(2)
        .map(|w| w[1].timestamp_ms.saturating_sub(w[0].timestamp_ms))
        .filter(|g| *g > 0)
        .collect();
    gaps.sort_unstable();
    gaps.get(gaps.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(3_600_000)
}

/// The exogenous path at a fixed tick: each bar visits open, the extreme against the close's
/// direction, the other extreme and the close at quarters of the bar (the adverse extreme
/// first, as the risk replay does), linearly interpolated between those points. Ticks are
/// `min(5 min, bar / 4)` apart. Ticks inside a data gap carry the last close and are not live.
pub fn exogenous_path(candles: &[Candle]) -> (Vec<Tick>, u64) {
    let bar = bar_ms(candles);
    let tick = (5 * MINUTE_MS).min(bar / 4).max(1);
    let mut points: Vec<(u64, f64)> = Vec::with_capacity(candles.len() * 4);
    for c in candles {
        let (first, second) = if c.close >= c.open {
            (c.low, c.high)
        } else {
            (c.high, c.low)
        };
        for (k, p) in [c.open, first, second, c.close].into_iter().enumerate() {
            points.push((c.timestamp_ms + bar * k as u64 / 4, to_f64(p)));
        }
    }
    let mut ticks = Vec::new();
    let (Some(first), Some(last)) = (points.first(), candles.last()) else {
        return (ticks, tick);
    };
    let end = last.timestamp_ms + bar;
    let mut i = 0usize; // candle index covering or preceding `t`
    let mut j = 0usize; // point index with points[j].0 <= t
    let mut t = first.0;
    while t < end {
        while i + 1 < candles.len() && candles[i + 1].timestamp_ms <= t {
            i += 1;
        }
        while j + 1 < points.len() && points[j + 1].0 <= t {
            j += 1;
        }
        let live = t >= candles[i].timestamp_ms && t < candles[i].timestamp_ms + bar;
        let (t0, p0) = points[j];
        let price = match points.get(j + 1) {
            Some(&(t1, p1)) if live && t1 > t0 && t1 <= candles[i].timestamp_ms + bar => {
                p0 + (p1 - p0) * (t - t0) as f64 / (t1 - t0) as f64
            }
            _ => p0,
        };
        ticks.push(Tick {
            at_ms: t,
            price,
            live,
        });
        t += tick;
    }
    (ticks, tick)
}

/// `other`'s path on `timeline`'s ticks: at a tick `other` lacks (a gap in its file, or past
/// its end) it carries its last price and is not live, so that several markets share one clock.
/// Ticks of `other` off the timeline are dropped.
pub fn align(timeline: &[Tick], other: &[Tick]) -> Vec<Tick> {
    let mut k = 0usize;
    let mut last = other.first().map_or(0.0, |t| t.price);
    timeline
        .iter()
        .map(|t| {
            while k < other.len() && other[k].at_ms < t.at_ms {
                last = other[k].price;
                k += 1;
            }
            match other.get(k) {
                Some(o) if o.at_ms == t.at_ms => {
                    last = o.price;
                    *o
                }
                _ => Tick {
                    at_ms: t.at_ms,
                    price: last,
                    live: false,
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_math::Fixed;

    fn candle(ts: u64, o: i64, h: i64, l: i64, c: i64) -> Candle {
        Candle {
            timestamp_ms: ts,
            open: Fixed::from_int(o),
            high: Fixed::from_int(h),
            low: Fixed::from_int(l),
            close: Fixed::from_int(c),
            volume: Fixed::ONE,
        }
    }

    /// Ticks of 5 minutes at a steady 40% a year (alternating up and down), from `start_ms`.
    fn calm(model: &mut DepthModel, start_ms: u64, ticks: u64, price: &mut f64) -> u64 {
        let step = 0.4 / (365.0f64 * 24.0 * 12.0).sqrt();
        let mut at = start_ms;
        for k in 0..ticks {
            at += 5 * MINUTE_MS;
            *price *= if k % 2 == 0 {
                1.0 + step
            } else {
                1.0 / (1.0 + step)
            };
            model.observe(at, *price, 0.0);
        }
        at
    }

    #[test]
    fn depth_collapses_in_a_wick_to_its_floor_at_worst_and_recovers() {
        let mut model = DepthModel::new(1e6, DepthCollapse::On, DepthParams::default());
        let mut price = 100.0;
        // Ten days of calm: the book stays whole.
        let mut at = calm(&mut model, 0, 10 * 288, &mut price);
        assert_eq!(model.fraction, 1.0);
        // An 11% fall in three 5-minute ticks: the book keeps 2-10% of itself.
        for _ in 0..3 {
            at += 5 * MINUTE_MS;
            price *= 0.89f64.powf(1.0 / 3.0);
            model.observe(at, price, 0.0);
        }
        assert!(
            model.fraction < 0.10 && model.fraction >= 0.02,
            "{}",
            model.fraction
        );
        // Forced flow of a hundred books at once takes it to the 2% floor, and no further.
        model.observe(at + 5 * MINUTE_MS, price, -1e8);
        assert_eq!(model.fraction, 0.02);
        // Calm again: back above half within six hours and close to whole within a day.
        let at = calm(&mut model, at + 5 * MINUTE_MS, 72, &mut price);
        assert!(model.fraction > 0.5, "{}", model.fraction);
        calm(&mut model, at, 216, &mut price);
        assert!(model.fraction > 0.95, "{}", model.fraction);
    }

    #[test]
    fn without_collapse_depth_never_moves() {
        let mut model = DepthModel::new(1e6, DepthCollapse::Off, DepthParams::default());
        let mut price = 100.0;
        let at = calm(&mut model, 0, 288, &mut price);
        model.observe(at + 5 * MINUTE_MS, price * 0.8, -1e7);
        assert_eq!(model.depth(), 1e6);
    }

    #[test]
    fn impact_is_linear_then_square_root() {
        assert_eq!(impact_fraction(0.0, 100.0), 0.0);
        assert!((impact_fraction(50.0, 100.0) - 0.005).abs() < 1e-15);
        assert!((impact_fraction(100.0, 100.0) - 0.01).abs() < 1e-15);
        assert!((impact_fraction(400.0, 100.0) - 0.02).abs() < 1e-15);
    }

    #[test]
    fn offset_decays_with_its_half_life() {
        let mut i = Impact::new(1_000.0, 1_800_000.0);
        i.trade(-1_000.0);
        assert!((i.apply(100.0) - 99.0).abs() < 1e-9);
        i.decay(1_800_000);
        assert!((i.log_offset - 0.99f64.ln() / 2.0).abs() < 1e-12);
        i.trade(500.0);
        assert!(i.log_offset > 0.99f64.ln() / 2.0);
    }

    #[test]
    fn an_aligned_path_keeps_the_timeline_and_marks_what_it_lacks() {
        let at = |ms: u64, price: f64, live: bool| Tick {
            at_ms: ms,
            price,
            live,
        };
        let timeline: Vec<Tick> = (0..6).map(|k| at(k * 10, 1.0, true)).collect();
        // The other market misses tick 20, has one off the grid (25) and ends at 30.
        let other = [
            at(0, 5.0, true),
            at(10, 6.0, true),
            at(25, 9.0, true),
            at(30, 7.0, true),
        ];
        let aligned = align(&timeline, &other);
        assert_eq!(
            aligned,
            vec![
                at(0, 5.0, true),
                at(10, 6.0, true),
                at(20, 6.0, false),
                at(30, 7.0, true),
                at(40, 7.0, false),
                at(50, 7.0, false),
            ]
        );
    }

    #[test]
    fn path_visits_the_adverse_extreme_first_and_marks_gaps() {
        let h = 3_600_000;
        let candles = vec![
            candle(0, 100, 110, 90, 95),
            candle(h, 95, 96, 94, 96),
            // two hours missing
            candle(4 * h, 96, 97, 95, 97),
        ];
        let (ticks, step) = exogenous_path(&candles);
        assert_eq!(step, 5 * MINUTE_MS);
        let at = |ms: u64| ticks.iter().find(|t| t.at_ms == ms).copied().unwrap();
        assert_eq!(at(0).price, 100.0);
        // A falling bar goes to its high first.
        assert_eq!(at(15 * MINUTE_MS).price, 110.0);
        assert_eq!(at(30 * MINUTE_MS).price, 90.0);
        assert!((at(35 * MINUTE_MS).price - (90.0 + 5.0 / 15.0 * 5.0)).abs() < 1e-9);
        assert_eq!(at(45 * MINUTE_MS).price, 95.0);
        assert!(at(h).live);
        assert!(!at(2 * h + 10 * MINUTE_MS).live);
        assert_eq!(at(2 * h + 10 * MINUTE_MS).price, 96.0);
        assert!(at(4 * h).live);
        assert_eq!(ticks.last().unwrap().at_ms, 5 * h - 5 * MINUTE_MS);
    }
}
