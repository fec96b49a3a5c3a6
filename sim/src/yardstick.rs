//! The clearing houses' yardstick for a margin model (see `../shared/reference/ccp-margin.md`):
//! coverage backtests, procyclicality and cost, computed from an hourly series of the initial
//! requirement IM(t) of a reference position, as a fraction of its notional, and the price path.
//!
//! Pure functions over plain series, so that the same code judges Ballast (whose IM comes from
//! the risk core in a run), the static baseline and the clearing-house comparators (`ccp`).
//!
//! - Coverage (EMIR RTS 153/2013 art. 24, BCBS traffic light): over non-overlapping windows of
//!   the margin period of risk, a breach when the adverse close-to-close move exceeds the margin
//!   held at the window's start, per side; zone from the binomial distribution of the count
//!   (green while its cumulative probability is below 95%, red from 99.99%); Kupiec's
//!   proportion-of-failures p-value (chi-square with one degree of freedom).
//! - Procyclicality (Murphy, Vasios and Vause 2014): P2T* = max_t IM(t) / min_{s<=t} IM(s), and
//!   the largest n-hour ratio IM(t) / IM(t - n), over the hours a new position could be opened
//!   (reduce-only and halted hours are excluded and counted).
//! - Cost: the median allowed leverage 1 / IM over the same hours.

/// Hours in a day and in 30 days, the lags of the n-period procyclicality ratios.
pub const DAY_HOURS: usize = 24;
/// 30 days, hours.
pub const MONTH_HOURS: usize = 30 * 24;
/// The margin period of risk of the backtest, hours (Ballast's horizon).
pub const WINDOW_HOURS: usize = 8;
/// One-tailed coverage the backtest checks (EMIR for OTC derivatives).
pub const COVERAGE: f64 = 0.995;

/// Traffic-light zone of a breach count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Zone {
    /// The count's cumulative probability under the model is below 95%.
    Green,
    /// From 95% to below 99.99%.
    Yellow,
    /// From 99.99%.
    Red,
}

impl Zone {
    /// Lower-case name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Zone::Green => "green",
            Zone::Yellow => "yellow",
            Zone::Red => "red",
        }
    }

    /// The zone of `breaches` in `windows` trials at breach probability `p`.
    pub fn of(breaches: u64, windows: u64, p: f64) -> Zone {
        let cumulative = binomial_cdf(breaches, windows, p);
        if cumulative < 0.95 {
            Zone::Green
        } else if cumulative < 0.9999 {
            Zone::Yellow
        } else {
            Zone::Red
        }
    }
}

/// P(X <= x) for X ~ Binomial(n, p), summed from the probability mass function by its
/// recurrence (exact enough for the few thousand windows of a backtest).
pub fn binomial_cdf(x: u64, n: u64, p: f64) -> f64 {
    if x >= n {
        return 1.0;
    }
    let q = 1.0 - p;
    // log P(X = 0), then P(X = k + 1) = P(X = k) * (n - k) / (k + 1) * p / q.
    let mut log_mass = n as f64 * q.ln();
    let mut sum = log_mass.exp();
    for k in 0..x {
        log_mass += ((n - k) as f64).ln() - ((k + 1) as f64).ln() + p.ln() - q.ln();
        sum += log_mass.exp();
    }
    sum.min(1.0)
}

/// Kupiec's proportion-of-failures test: the p-value of `breaches` in `windows` under a breach
/// probability `p` (likelihood ratio against the observed frequency, chi-square(1)).
pub fn kupiec_p_value(breaches: u64, windows: u64, p: f64) -> f64 {
    if windows == 0 {
        return 1.0;
    }
    let (x, n) = (breaches as f64, windows as f64);
    // x ln(a) with 0 ln(0) = 0.
    let term = |count: f64, prob: f64| {
        if count == 0.0 {
            0.0
        } else {
            count * prob.ln()
        }
    };
    let observed = x / n;
    let ratio = -2.0 * (term(n - x, 1.0 - p) + term(x, p))
        + 2.0 * (term(n - x, 1.0 - observed) + term(x, observed));
    libm::erfc((ratio.max(0.0) / 2.0).sqrt())
}

/// Backtest of one side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SideCoverage {
    /// Windows whose adverse move exceeded the margin held at their start.
    pub breaches: u64,
    /// Traffic-light zone of the count.
    pub zone: Zone,
    /// Kupiec's p-value.
    pub kupiec_p: f64,
}

/// Coverage backtest over non-overlapping windows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coverage {
    /// Windows tested.
    pub windows: u64,
    /// Long positions (a fall breaches).
    pub long: SideCoverage,
    /// Short positions (a rise breaches).
    pub short: SideCoverage,
    /// Largest adverse move over the margin held, over windows and sides.
    pub worst_loss_to_margin: f64,
}

/// Backtests hourly margin fractions `margin[t]` against hourly prices `closes[t]` (the same
/// hours): windows start at hours `phase`, `phase + window`, ... and end `window` hours later.
pub fn backtest(
    margin: &[f64],
    closes: &[f64],
    window: usize,
    phase: usize,
    coverage: f64,
) -> Coverage {
    let hours = margin.len().min(closes.len());
    let (mut windows, mut long, mut short, mut worst) = (0u64, 0u64, 0u64, 0.0f64);
    let mut start = phase;
    while window > 0 && start + window < hours {
        let held = margin[start];
        let change = closes[start + window] / closes[start] - 1.0;
        windows += 1;
        let (fall, rise) = ((-change).max(0.0), change.max(0.0));
        long += u64::from(fall > held);
        short += u64::from(rise > held);
        if held > 0.0 {
            worst = worst.max(fall.max(rise) / held);
        }
        start += window;
    }
    let p = 1.0 - coverage;
    let side = |breaches| SideCoverage {
        breaches,
        zone: Zone::of(breaches, windows, p),
        kupiec_p: kupiec_p_value(breaches, windows, p),
    };
    Coverage {
        windows,
        long: side(long),
        short: side(short),
        worst_loss_to_margin: worst,
    }
}

/// The backtest at every phase of the windows (start hours 0 .. window - 1), judged on the worst:
/// breach counts depend on where the windows start (on the BTC file by up to a third), so a
/// model is credited with the most breaches any phase finds, per side. `windows` is phase 0's.
pub fn backtest_every_phase(
    margin: &[f64],
    closes: &[f64],
    window: usize,
    coverage: f64,
) -> Coverage {
    let phases: Vec<Coverage> = (0..window.max(1))
        .map(|phase| backtest(margin, closes, window, phase, coverage))
        .collect();
    let worst = |side: fn(&Coverage) -> SideCoverage| {
        phases
            .iter()
            .map(side)
            .max_by_key(|s| s.breaches)
            .unwrap_or_else(|| side(&phases[0]))
    };
    Coverage {
        windows: phases[0].windows,
        long: worst(|c| c.long),
        short: worst(|c| c.short),
        worst_loss_to_margin: phases
            .iter()
            .map(|c| c.worst_loss_to_margin)
            .fold(0.0, f64::max),
    }
}

/// Procyclicality of an hourly IM series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Procyclicality {
    /// P2T*: the largest rise from an earlier trough.
    pub peak_to_trough: f64,
    /// Largest IM(t) / IM(t - 24 h).
    pub largest_day_rise: f64,
    /// Largest IM(t) / IM(t - 30 d).
    pub largest_month_rise: f64,
    /// Hours left out (no new position could open: reduce-only or halted).
    pub excluded_hours: u64,
}

/// The procyclicality of `margin[t]` over the hours where `open[t]` (a new position could be
/// opened); a ratio needs both of its hours open. 1 where nothing can be compared.
pub fn procyclicality(margin: &[f64], open: &[bool]) -> Procyclicality {
    let hours = margin.len().min(open.len());
    let (mut trough, mut peak_to_trough) = (f64::INFINITY, 1.0f64);
    for t in (0..hours).filter(|&t| open[t] && margin[t] > 0.0) {
        trough = trough.min(margin[t]);
        peak_to_trough = peak_to_trough.max(margin[t] / trough);
    }
    let largest_rise = |lag: usize| {
        (lag..hours)
            .filter(|&t| open[t] && open[t - lag] && margin[t - lag] > 0.0)
            .map(|t| margin[t] / margin[t - lag])
            .fold(1.0f64, f64::max)
    };
    Procyclicality {
        peak_to_trough,
        largest_day_rise: largest_rise(DAY_HOURS),
        largest_month_rise: largest_rise(MONTH_HOURS),
        excluded_hours: open[..hours].iter().filter(|o| !**o).count() as u64,
    }
}

/// Median of 1 / IM over the open hours (the cost of the model as allowed leverage).
pub fn median_leverage(margin: &[f64], open: &[bool]) -> f64 {
    let mut leverage: Vec<f64> = margin
        .iter()
        .zip(open)
        .filter(|(m, o)| **o && **m > 0.0)
        .map(|(m, _)| 1.0 / m)
        .collect();
    percentile(&mut leverage, 0.5)
}

/// Mean IM over the open hours.
pub fn mean_margin(margin: &[f64], open: &[bool]) -> f64 {
    let kept: Vec<f64> = margin
        .iter()
        .zip(open)
        .filter(|(_, o)| **o)
        .map(|(m, _)| *m)
        .collect();
    if kept.is_empty() {
        return 0.0;
    }
    kept.iter().sum::<f64>() / kept.len() as f64
}

/// The `q` quantile (nearest rank on `(len - 1) q`) of `values`, sorting them; 0 if empty.
pub fn percentile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values
        .get(((values.len() as f64 - 1.0) * q).round() as usize)
        .copied()
        .unwrap_or(0.0)
}

/// How often a position opened at the cap is liquidated soon, in stressed against calm hours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CapLiquidationOdds {
    /// Share of calm hours (the classifying volatility below its median) whose position, long
    /// or short, opened at the cap reached maintenance within the horizon.
    pub calm: f64,
    /// The same in stressed hours (the classifying volatility in its top decile).
    pub stressed: f64,
    /// Stressed hours in which the model let no position open (left out of `stressed`).
    pub closed_stressed_hours: u64,
}

impl CapLiquidationOdds {
    /// Stressed over calm (1 when calm is 0 and stressed too; infinite when only calm is 0).
    pub fn ratio(&self) -> f64 {
        if self.calm > 0.0 {
            self.stressed / self.calm
        } else if self.stressed > 0.0 {
            f64::INFINITY
        } else {
            1.0
        }
    }
}

/// One hour of the path for [`cap_liquidation_odds`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hour {
    /// Initial requirement of a new position, fraction of notional.
    pub initial: f64,
    /// Maintenance requirement of that position, fraction of notional.
    pub maintenance: f64,
    /// A new position could open this hour.
    pub open: bool,
    /// Ex-ante volatility that ranks the hours into calm and stressed: the same series for
    /// every model judged on these hours.
    pub classifying_vol: f64,
    /// Close of the hour (the entry price).
    pub close: f64,
    /// Lowest price within the hour.
    pub low: f64,
    /// Highest price within the hour.
    pub high: f64,
}

/// A position opened at the price of hour t at the cap (equity = the initial requirement of
/// hour t) is liquidated once its loss passes initial - maintenance, with the maintenance of
/// each hour ahead (a model's maintenance may rise after the entry); this counts, per hour and
/// side, whether the lows (longs) or highs (shorts) of the next `horizon` hours (each the
/// extreme since the hour before) reach that point, and compares stressed with calm hours.
/// Hours are ranked over all hours (open or not) by the classifying volatility, so every model
/// judged on the same hours is judged on the same calm and stressed hours.
pub fn cap_liquidation_odds(hours: &[Hour], horizon: usize) -> CapLiquidationOdds {
    let candidates: Vec<usize> = (0..hours.len().saturating_sub(horizon)).collect();
    let mut vols: Vec<f64> = candidates
        .iter()
        .map(|&t| hours[t].classifying_vol)
        .collect();
    let median = percentile(&mut vols, 0.5);
    let top_decile = percentile(&mut vols, 0.9);
    let liquidated = |t: usize| {
        let h = hours[t];
        let ahead = &hours[t + 1..=t + horizon];
        let reached = |a: &Hour, adverse: f64| adverse > h.initial - a.maintenance;
        let long = ahead.iter().any(|a| reached(a, 1.0 - a.low / h.close));
        let short = ahead.iter().any(|a| reached(a, a.high / h.close - 1.0));
        u64::from(long) + u64::from(short)
    };
    let share = |keep: &dyn Fn(f64) -> bool| {
        let picked: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&t| hours[t].open && keep(hours[t].classifying_vol))
            .collect();
        if picked.is_empty() {
            return 0.0;
        }
        picked.iter().map(|&t| liquidated(t)).sum::<u64>() as f64 / (2 * picked.len()) as f64
    };
    CapLiquidationOdds {
        calm: share(&|v| v < median),
        stressed: share(&|v| v >= top_decile),
        closed_stressed_hours: candidates
            .iter()
            .filter(|&&t| !hours[t].open && hours[t].classifying_vol >= top_decile)
            .count() as u64,
    }
}

/// The hourly series a model is judged on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Initial requirement of the reference position, fraction of notional.
    pub initial: Vec<f64>,
    /// Its maintenance requirement, fraction of notional.
    pub maintenance: Vec<f64>,
    /// A new position could open (not reduce-only or halted).
    pub open: Vec<bool>,
    /// Ex-ante volatility of the exogenous path (annualized EWMA of its hourly log returns,
    /// RiskMetrics' 0.94 a day), the same for every model: ranks the hours into calm and
    /// stressed.
    pub classifying_vol: Vec<f64>,
    /// Exogenous price at the hour.
    pub exogenous: Vec<f64>,
    /// Lowest exogenous price since the previous hour.
    pub exogenous_low: Vec<f64>,
    /// Highest exogenous price since the previous hour.
    pub exogenous_high: Vec<f64>,
    /// Simulated price at the hour (empty for a model judged on the exogenous path only).
    pub simulated: Vec<f64>,
}

/// Every figure of the yardstick for one model on one path, as plain numbers (so that runs over
/// several seeds can be averaged; zones and p-values follow from the counts, see
/// [`Judgement::zone`]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Judgement {
    /// Non-overlapping 8-hour windows backtested (at one phase).
    pub windows: f64,
    /// Breaches of longs on the exogenous path (the most over the 8 phases of the windows).
    pub exogenous_long_breaches: f64,
    /// Breaches of shorts on the exogenous path.
    pub exogenous_short_breaches: f64,
    /// Breaches of longs on the simulated path (NaN without one).
    pub simulated_long_breaches: f64,
    /// Breaches of shorts on the simulated path (NaN without one).
    pub simulated_short_breaches: f64,
    /// Largest adverse 8-hour move over the margin held, both paths, both sides.
    pub worst_loss_to_margin: f64,
    /// P2T* of IM over the open hours.
    pub peak_to_trough: f64,
    /// Largest 24-hour rise of IM.
    pub largest_day_rise: f64,
    /// Largest 30-day rise of IM.
    pub largest_month_rise: f64,
    /// Hours in which no new position could open (left out of the above).
    pub closed_hours: f64,
    /// Median allowed leverage (1 / IM) over the open hours.
    pub median_leverage: f64,
    /// Mean IM over the open hours.
    pub mean_initial: f64,
    /// Odds that a position opened at the cap in a calm hour is liquidated within 8 h.
    pub cap_liquidation_calm: f64,
    /// The same in a stressed hour.
    pub cap_liquidation_stressed: f64,
    /// Stressed hours in which no position could open (left out of the odds).
    pub closed_stressed_hours: f64,
}

impl Judgement {
    /// Judges `series`.
    pub fn of(series: &Series) -> Judgement {
        let exogenous =
            backtest_every_phase(&series.initial, &series.exogenous, WINDOW_HOURS, COVERAGE);
        let simulated = (!series.simulated.is_empty()).then(|| {
            backtest_every_phase(&series.initial, &series.simulated, WINDOW_HOURS, COVERAGE)
        });
        let cycle = procyclicality(&series.initial, &series.open);
        let hours: Vec<Hour> = (0..series.initial.len())
            .map(|t| Hour {
                initial: series.initial[t],
                maintenance: series.maintenance[t],
                open: series.open[t],
                classifying_vol: series.classifying_vol[t],
                close: series.exogenous[t],
                low: series.exogenous_low[t],
                high: series.exogenous_high[t],
            })
            .collect();
        let odds = cap_liquidation_odds(&hours, WINDOW_HOURS);
        let nan = f64::NAN;
        Judgement {
            windows: exogenous.windows as f64,
            exogenous_long_breaches: exogenous.long.breaches as f64,
            exogenous_short_breaches: exogenous.short.breaches as f64,
            simulated_long_breaches: simulated.map_or(nan, |c| c.long.breaches as f64),
            simulated_short_breaches: simulated.map_or(nan, |c| c.short.breaches as f64),
            worst_loss_to_margin: exogenous
                .worst_loss_to_margin
                .max(simulated.map_or(0.0, |c| c.worst_loss_to_margin)),
            peak_to_trough: cycle.peak_to_trough,
            largest_day_rise: cycle.largest_day_rise,
            largest_month_rise: cycle.largest_month_rise,
            closed_hours: cycle.excluded_hours as f64,
            median_leverage: median_leverage(&series.initial, &series.open),
            mean_initial: mean_margin(&series.initial, &series.open),
            cap_liquidation_calm: odds.calm,
            cap_liquidation_stressed: odds.stressed,
            closed_stressed_hours: odds.closed_stressed_hours as f64,
        }
    }

    /// The mean of each figure over several runs.
    pub fn mean(runs: &[Judgement]) -> Judgement {
        let n = runs.len().max(1) as f64;
        let avg = |get: fn(&Judgement) -> f64| runs.iter().map(get).sum::<f64>() / n;
        Judgement {
            windows: avg(|j| j.windows),
            exogenous_long_breaches: avg(|j| j.exogenous_long_breaches),
            exogenous_short_breaches: avg(|j| j.exogenous_short_breaches),
            simulated_long_breaches: avg(|j| j.simulated_long_breaches),
            simulated_short_breaches: avg(|j| j.simulated_short_breaches),
            worst_loss_to_margin: avg(|j| j.worst_loss_to_margin),
            peak_to_trough: avg(|j| j.peak_to_trough),
            largest_day_rise: avg(|j| j.largest_day_rise),
            largest_month_rise: avg(|j| j.largest_month_rise),
            closed_hours: avg(|j| j.closed_hours),
            median_leverage: avg(|j| j.median_leverage),
            mean_initial: avg(|j| j.mean_initial),
            cap_liquidation_calm: avg(|j| j.cap_liquidation_calm),
            cap_liquidation_stressed: avg(|j| j.cap_liquidation_stressed),
            closed_stressed_hours: avg(|j| j.closed_stressed_hours),
        }
    }

    /// The traffic-light zone of a (mean) breach count over these windows, at 99.5%.
    pub fn zone(&self, breaches: f64) -> Zone {
        Zone::of(breaches.round() as u64, self.windows as u64, 1.0 - COVERAGE)
    }

    /// Kupiec's p-value of a (mean) breach count over these windows, at 99.5%.
    pub fn kupiec_p(&self, breaches: f64) -> f64 {
        kupiec_p_value(breaches.round() as u64, self.windows as u64, 1.0 - COVERAGE)
    }

    /// The worse zone of the two sides on the exogenous path and, where there is one, on the
    /// simulated path.
    pub fn worst_zone(&self) -> Zone {
        [
            self.exogenous_long_breaches,
            self.exogenous_short_breaches,
            self.simulated_long_breaches,
            self.simulated_short_breaches,
        ]
        .into_iter()
        .filter(|b| b.is_finite())
        .map(|b| self.zone(b))
        .max()
        .unwrap_or(Zone::Green)
    }

    /// Stressed over calm odds of a cap position's liquidation within 8 h.
    pub fn cap_liquidation_ratio(&self) -> f64 {
        CapLiquidationOdds {
            calm: self.cap_liquidation_calm,
            stressed: self.cap_liquidation_stressed,
            closed_stressed_hours: 0,
        }
        .ratio()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_light_thresholds_match_the_reference_tables() {
        // ccp-margin.md at p = 0.5%: yellow from 24 and red from 34 in 3,392 windows, from 10
        // and 16 in 1,095, from 3 and 7 in 250.
        for (windows, yellow, red) in [(3_392, 24, 34), (1_095, 10, 16), (250, 3, 7)] {
            assert_eq!(
                Zone::of(yellow - 1, windows, 0.005),
                Zone::Green,
                "{windows}"
            );
            assert_eq!(Zone::of(yellow, windows, 0.005), Zone::Yellow, "{windows}");
            assert_eq!(Zone::of(red - 1, windows, 0.005), Zone::Yellow, "{windows}");
            assert_eq!(Zone::of(red, windows, 0.005), Zone::Red, "{windows}");
        }
    }

    #[test]
    fn binomial_cdf_matches_hand_computed_values() {
        // n = 4, p = 1/2: P(X <= 1) = 5/16, P(X <= 2) = 11/16.
        assert!((binomial_cdf(1, 4, 0.5) - 5.0 / 16.0).abs() < 1e-12);
        assert!((binomial_cdf(2, 4, 0.5) - 11.0 / 16.0).abs() < 1e-12);
        assert_eq!(binomial_cdf(4, 4, 0.5), 1.0);
        // n = 10, p = 0.1: P(X = 0) = 0.9^10.
        assert!((binomial_cdf(0, 10, 0.1) - 0.9f64.powi(10)).abs() < 1e-12);
    }

    #[test]
    fn kupiec_p_value_is_one_at_the_expected_count_and_falls_away_from_it() {
        assert!((kupiec_p_value(5, 1_000, 0.005) - 1.0).abs() < 1e-9);
        // x = 0 of N = 1,000 at p = 0.5%: LR = -2 * 1,000 ln(0.995) = 10.025; p = 0.00154.
        let p = kupiec_p_value(0, 1_000, 0.005);
        assert!((p - 0.001_544).abs() < 2e-5, "{p}");
        // LR = 3.84 is the 5% point: 9 of 1,000 (LR 2.60) passes, 10 (LR 3.89) fails; and 2
        // (LR 2.34) passes, 1 (LR 4.80) fails.
        assert!(kupiec_p_value(9, 1_000, 0.005) > 0.05);
        assert!(kupiec_p_value(10, 1_000, 0.005) < 0.05);
        assert!(kupiec_p_value(2, 1_000, 0.005) > 0.05);
        assert!(kupiec_p_value(1, 1_000, 0.005) < 0.05);
    }

    #[test]
    fn backtest_counts_breaches_per_side_on_a_hand_made_series() {
        // Windows of 2 hours start at hours 0, 2 and 4 (hour 6 has no end).
        let closes = [100.0, 101.0, 90.0, 91.0, 100.0, 98.0, 200.0];
        // Held margins 5%, 5%, 20%: window 0 falls 10% (long breach), window 1 rises 11% (short
        // breach), window 2 rises 100% against 20% (short breach, loss/margin 5).
        let margin = [0.05, 0.05, 0.05, 0.05, 0.2, 0.2, 0.2];
        let c = backtest(&margin, &closes, 2, 0, 0.995);
        assert_eq!(c.windows, 3);
        assert_eq!(c.long.breaches, 1);
        assert_eq!(c.short.breaches, 2);
        assert!((c.worst_loss_to_margin - 5.0).abs() < 1e-9);
        // A move equal to the margin is no breach.
        let c = backtest(&[0.1, 0.1], &[100.0, 90.0], 1, 0, 0.995);
        assert_eq!(c.long.breaches, 0);
        // Phase 1 tests windows from hours 1, 3 and 5: 101 -> 91 (-9.9%, long breach at 5%),
        // 91 -> 98 (+7.7%, short breach at 5%), and none from hour 5 (no end).
        let c = backtest(&margin, &closes, 2, 1, 0.995);
        assert_eq!((c.windows, c.long.breaches, c.short.breaches), (2, 1, 1));
        // Every phase: the most breaches of either phase per side (1 long at phase 0 and 1; 2
        // short at phase 0), and phase 0's window count.
        let c = backtest_every_phase(&margin, &closes, 2, 0.995);
        assert_eq!((c.windows, c.long.breaches, c.short.breaches), (3, 1, 2));
    }

    #[test]
    fn the_day_and_month_ratios_use_exactly_their_lag() {
        // A one-hour spike to 0.10 at hour 800 out of 0.05: the spike's 24 h and 30 d ratios
        // are 2; one hour later the series is back at 0.05, so a ratio taken at a lag off by
        // one in either direction still sees 2 only if it lands on the spike. A step of 0.01
        // at hour 900 lasting exactly 24 hours then checks the lag: 0.06 / 0.05 at hours
        // 900..923, and at hour 924 (0.05) against hour 900 (0.06) it is below 1.
        let mut margin = vec![0.05; 2_000];
        margin[800] = 0.10;
        let p = procyclicality(&margin, &vec![true; 2_000]);
        assert!((p.largest_day_rise - 2.0).abs() < 1e-12);
        assert!((p.largest_month_rise - 2.0).abs() < 1e-12);
        // The spike excluded: nothing rises.
        let mut open = vec![true; 2_000];
        open[800] = false;
        let p = procyclicality(&margin, &open);
        assert_eq!((p.largest_day_rise, p.largest_month_rise), (1.0, 1.0));
        // A series rising 1% an hour: the day ratio is 1.01^24 exactly, not 1.01^23 or ^25.
        let rising: Vec<f64> = (0..100).map(|h| 0.05 * 1.01f64.powi(h)).collect();
        let p = procyclicality(&rising, &[true; 100]);
        assert!((p.largest_day_rise - 1.01f64.powi(24)).abs() < 1e-9);
    }

    #[test]
    fn procyclicality_of_a_hand_made_series() {
        // Hourly: 0.05 for 30 days, a step to 0.08 for one day, 0.06 after; the trough before
        // the peak is 0.05.
        let mut margin = vec![0.05; MONTH_HOURS];
        margin.extend(vec![0.08; DAY_HOURS]);
        margin.extend(vec![0.06; MONTH_HOURS]);
        let open = vec![true; margin.len()];
        let p = procyclicality(&margin, &open);
        assert!((p.peak_to_trough - 1.6).abs() < 1e-12);
        assert!((p.largest_day_rise - 1.6).abs() < 1e-12);
        assert!((p.largest_month_rise - 1.6).abs() < 1e-12);
        assert_eq!(p.excluded_hours, 0);
        // The trough must come first: a fall is not procyclical.
        let falling: Vec<f64> = (0..100).map(|h| 0.2 - h as f64 * 0.001).collect();
        let p = procyclicality(&falling, &[true; 100]);
        assert_eq!(p.peak_to_trough, 1.0);
        // Excluded hours take no part: a spike while reduce-only does not count.
        let mut open = vec![true; margin.len()];
        for o in &mut open[MONTH_HOURS..MONTH_HOURS + DAY_HOURS] {
            *o = false;
        }
        let p = procyclicality(&margin, &open);
        assert!((p.peak_to_trough - 1.2).abs() < 1e-12, "{p:?}");
        assert_eq!(p.excluded_hours, DAY_HOURS as u64);
        // A ratio needs both ends open: no 24-hour pair spans the excluded day, so the day's
        // largest rise is 1; 30 days back from the 0.06 hours lie the 0.05 ones.
        assert_eq!(p.largest_day_rise, 1.0);
        assert!((p.largest_month_rise - 1.2).abs() < 1e-12);
    }

    #[test]
    fn median_leverage_and_mean_margin_skip_closed_hours() {
        let margin = [0.05, 0.1, 0.04, 0.5];
        let open = [true, true, true, false];
        assert!((median_leverage(&margin, &open) - 20.0).abs() < 1e-9);
        assert!((mean_margin(&margin, &open) - 0.19 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn cap_liquidation_odds_compare_stressed_with_calm_hours() {
        let hour = |vol: f64, low: f64, high: f64| Hour {
            initial: 0.05,
            maintenance: 0.025,
            open: true,
            classifying_vol: vol,
            close: 100.0,
            low,
            high,
        };
        // Hours 0-9 calm (vol 0.1..) and flat, hour 10 stressed and flat, hours 11-20 stressed
        // and each dips 3%, beyond the 2.5% room: the long opened in any stressed hour is
        // liquidated in the next, no short is, and no calm position meets a dip.
        let mut hours: Vec<Hour> = (0..10)
            .map(|k| hour(0.1 + k as f64 * 1e-3, 100.0, 100.0))
            .collect();
        hours.push(hour(1.0, 100.0, 100.0));
        hours.extend((1..=10).map(|k| hour(1.0 + k as f64 * 1e-3, 97.0, 100.0)));
        let odds = cap_liquidation_odds(&hours, 1);
        // Hours 0-19 open a position (hour 20 has no next hour); the median vol is hour 10's.
        assert_eq!(odds.calm, 0.0);
        // The top decile (rank 17 of 0..19 and up) is hours 17-19: each long liquidated.
        assert_eq!(odds.stressed, 0.5);
        assert_eq!(odds.ratio(), f64::INFINITY);
        assert_eq!(odds.closed_stressed_hours, 0);

        // The hours ahead start after the entry: a dip in the entry hour itself (its low is
        // the extreme since the hour before) does not liquidate what opens at its close.
        let mut flat: Vec<Hour> = (0..20)
            .map(|k| hour(0.1 + k as f64 * 1e-3, 100.0, 100.0))
            .collect();
        flat[5].low = 90.0;
        let odds = cap_liquidation_odds(&flat, 1);
        // Hours 0-18 may open (19 has no next hour), the median is hour 9's vol, so hours 0-8
        // are calm: only hour 4's long (whose next hour is hour 5) is liquidated, 1 of 18.
        assert!((odds.calm - 1.0 / 18.0).abs() < 1e-12, "{odds:?}");

        // Maintenance that rises after the entry liquidates sooner: 2% down stays within the
        // 2.5-point room, but not once maintenance is 3.5%.
        let mut rising: Vec<Hour> = (0..20)
            .map(|k| hour(0.1 + k as f64 * 1e-3, 98.0, 100.0))
            .collect();
        assert_eq!(cap_liquidation_odds(&rising, 1).calm, 0.0);
        for h in &mut rising {
            h.maintenance = 0.035;
        }
        assert_eq!(cap_liquidation_odds(&rising, 1).calm, 0.5);

        // A model that closes its stressed hours is judged on the others and says how many it
        // closed; the ranking is over all hours, so closing does not move the deciles.
        for h in &mut hours[17..] {
            h.open = false;
        }
        let odds = cap_liquidation_odds(&hours, 1);
        assert_eq!(odds.closed_stressed_hours, 3);
        assert_eq!(odds.stressed, 0.0);
    }
}
