//! What a run measured: the figures, per run and per market, and the hourly samples.

use std::time::Duration;

use ballast_risk::RiskError;

use crate::protocol::Protocol;
use crate::yardstick::{percentile, Judgement};

/// Hourly sample for the plots.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Time, ms.
    pub at_ms: u64,
    /// Exogenous price.
    pub exogenous: f64,
    /// Simulated price.
    pub simulated: f64,
    /// Leverage allowed for a new position of the reference notional (0 while opening is
    /// refused).
    pub leverage: f64,
    /// 0 normal, 1 reduce-only, 2 oracle halt, 3 paused.
    pub breaker: u8,
    /// Cumulative liquidated notional over every market, quote whole units.
    pub liquidated: f64,
    /// Cumulative bad debt over every market, quote whole units.
    pub bad_debt: f64,
    /// Insurance fund, quote whole units.
    pub insurance: f64,
    /// Forecast volatility, annualized.
    pub forecast_vol: f64,
    /// Initial requirement of a new position of the reference notional, fraction of notional
    /// (also while opening is refused: what the model asks).
    pub initial_fraction: f64,
    /// Maintenance requirement of that position, fraction of notional.
    pub maintenance_fraction: f64,
    /// Lowest exogenous price since the previous sample.
    pub exogenous_low: f64,
    /// Highest exogenous price since the previous sample.
    pub exogenous_high: f64,
    /// Annualized EWMA volatility of the exogenous path's hourly log returns (RiskMetrics'
    /// 0.94 a day, over the warm-up too): the yardstick's common ranking of calm and stressed
    /// hours.
    pub exogenous_vol: f64,
}

/// What a run measured. Amounts in quote whole units, ratios as plain numbers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metrics {
    /// Deficits of bankrupt accounts (covered by the insurance fund, then socialized).
    pub bad_debt: f64,
    /// Part of the bad debt socialized over open interest.
    pub socialized: f64,
    /// Notional closed by liquidations.
    pub liquidated_notional: f64,
    /// Positions liquidated (one liquidation may take several chunks; a position liquidated
    /// again after recovering counts once).
    pub liquidations: u64,
    /// Bankruptcies resolved (after a liquidation or a close at a loss beyond collateral).
    pub bankruptcies: u64,
    /// Bad debt paid by the insurance fund (gross, before penalty inflows).
    pub insurance_paid: f64,
    /// Closes (by traders or liquidators) the core refused.
    pub failed_closes: u64,
    /// Accounts left at the end with no position and negative collateral (a deficit that
    /// escaped bankruptcy resolution; must be 0).
    pub unresolved_deficits: u64,
    /// Liquidation calls (chunks).
    pub liquidation_calls: u64,
    /// Largest peak-to-trough fall of the insurance fund.
    pub insurance_drawdown: f64,
    /// Largest peak-to-trough fall of the simulated price (fraction, hourly samples).
    pub max_drawdown: f64,
    /// The same for the exogenous path.
    pub exogenous_max_drawdown: f64,
    /// Realized vol of the simulated price / realized vol of the exogenous path, from hourly
    /// log returns (the resolution of the data and of the oracle's volatility estimate).
    pub amplification: f64,
    /// Mean allowed leverage while forecast vol is below its median.
    pub calm_leverage: f64,
    /// Mean allowed leverage while forecast vol is in its top decile.
    pub stress_leverage: f64,
    /// Stop-losses executed.
    pub stop_outs: u64,
    /// Positions opened.
    pub opens: u64,
    /// Mean leverage of opened positions (notional / equity at entry).
    pub mean_open_leverage: f64,
    /// Entry attempts refused because the market was reduce-only or halted.
    pub blocked_opens: u64,
    /// Breaker trips into reduce-only.
    pub breaker_trips: u64,
    /// Liquidation attempts deferred by the throttle.
    pub throttled: u64,
    /// Mean over the hours of the population's liquidity maintenance charge as a fraction of
    /// its notional (0 where depth is not reported).
    pub liquidity_charge: f64,
    /// Mean over the hours of the market's open interest (the sum of long positions, as
    /// notional at the oracle price; the makers hold the other side of every trader, so this is
    /// the traders' long plus short notional).
    pub open_interest: f64,
    /// Opens cut (or refused) by the per-account impact cap.
    pub impact_capped: u64,
    /// Opens cut (or refused) by the open-interest growth cap.
    pub oi_growth_capped: u64,
    /// Option writer accounts (the figures below are 0 without writers).
    pub writers: u64,
    /// Deficits of bankrupt writer accounts (after an expiry or a buy-back, including the
    /// liquidation of their hedges), resolved as perp deficits are.
    pub options_bad_debt: f64,
    /// Writer bankruptcies resolved.
    pub writer_bankruptcies: u64,
    /// Sum over writers of final equity minus the capital they brought (premiums are income).
    pub writer_pnl: f64,
    /// Premiums received (paid into the ledger by the outside buyers).
    pub premiums: f64,
    /// Expiry payoffs and buy-backs paid out of the ledger.
    pub option_payouts: f64,
    /// Straddles sold.
    pub options_sales: u64,
    /// Cash gamma sold, summed at each sale.
    pub gamma_sold: f64,
    /// Sales the core refused, by reason (attempts: a refused sale is retried hourly).
    pub refused_sales: Refusals,
    /// Hourly reports of a book the writer did not trade that the core refused, by reason:
    /// its Greeks drift (gamma grows toward expiry, vega with implied vol), so the core may
    /// find it growing.
    pub refused_refreshes: Refusals,
    /// Straddles the writer bought back so that a refused hourly report passes.
    pub derisk_buybacks: u64,
    /// Books the options venue bought back because the writer fell below maintenance.
    pub forced_option_closes: u64,
    /// Reports whose P&L the previous Greeks did not explain (charged the fallback).
    pub distrusted_reports: u64,
    /// Hedge trades the core refused (in full or in part).
    pub refused_hedges: u64,
    /// 90th percentile over writers of each writer's peak short cash gamma / equity (hourly).
    pub peak_short_gamma_over_equity: f64,
    /// Liquidated positions whose liquidation ended in bankruptcy (gap coverage is this over
    /// `liquidations`).
    pub bankrupt_liquidations: u64,
    /// Liquidations turned away for want of block space (one per account and tick in which
    /// the tick's blocks were full when its turn came).
    pub capacity_deferred: u64,
    /// Most liquidation calls executed in one tick.
    pub peak_calls_per_tick: u64,
    /// Least depth left over the run, fraction of normal depth (1 without the collapse).
    pub min_depth_fraction: f64,
    /// The clearing houses' yardstick on the run's hourly initial requirement.
    pub yardstick: Judgement,
    /// 95th percentile over seeds of the bad debt (Gauntlet's VaR); a single run's own.
    pub bad_debt_p95: f64,
    /// 95th percentile over seeds of the liquidated notional (Gauntlet's LaR).
    pub liquidated_notional_p95: f64,
    /// Value conserved to the unit at the end (ledger total equals net deposits).
    pub conserved: bool,
    /// Ticks simulated in the trading window.
    pub ticks: usize,
}

impl Metrics {
    /// Mean of each figure over several runs (seeds), the 95th percentiles of bad debt and
    /// liquidated notional over them; `conserved` only if every run conserved.
    pub fn mean(runs: &[Metrics]) -> Metrics {
        let n = runs.len().max(1) as f64;
        let p95 = |get: fn(&Metrics) -> f64| {
            let mut values: Vec<f64> = runs.iter().map(get).collect();
            percentile(&mut values, 0.95)
        };
        let avg = |get: &dyn Fn(&Metrics) -> f64| runs.iter().map(get).sum::<f64>() / n;
        let count = |get: &dyn Fn(&Metrics) -> u64| (avg(&|m| get(m) as f64)).round() as u64;
        Metrics {
            bad_debt: avg(&|m| m.bad_debt),
            socialized: avg(&|m| m.socialized),
            liquidated_notional: avg(&|m| m.liquidated_notional),
            liquidations: count(&|m| m.liquidations),
            bankruptcies: count(&|m| m.bankruptcies),
            insurance_paid: avg(&|m| m.insurance_paid),
            failed_closes: count(&|m| m.failed_closes),
            unresolved_deficits: count(&|m| m.unresolved_deficits),
            liquidation_calls: count(&|m| m.liquidation_calls),
            insurance_drawdown: avg(&|m| m.insurance_drawdown),
            max_drawdown: avg(&|m| m.max_drawdown),
            exogenous_max_drawdown: avg(&|m| m.exogenous_max_drawdown),
            amplification: avg(&|m| m.amplification),
            calm_leverage: avg(&|m| m.calm_leverage),
            stress_leverage: avg(&|m| m.stress_leverage),
            stop_outs: count(&|m| m.stop_outs),
            opens: count(&|m| m.opens),
            mean_open_leverage: avg(&|m| m.mean_open_leverage),
            blocked_opens: count(&|m| m.blocked_opens),
            breaker_trips: count(&|m| m.breaker_trips),
            throttled: count(&|m| m.throttled),
            liquidity_charge: avg(&|m| m.liquidity_charge),
            open_interest: avg(&|m| m.open_interest),
            impact_capped: count(&|m| m.impact_capped),
            oi_growth_capped: count(&|m| m.oi_growth_capped),
            writers: count(&|m| m.writers),
            options_bad_debt: avg(&|m| m.options_bad_debt),
            writer_bankruptcies: count(&|m| m.writer_bankruptcies),
            writer_pnl: avg(&|m| m.writer_pnl),
            premiums: avg(&|m| m.premiums),
            option_payouts: avg(&|m| m.option_payouts),
            options_sales: count(&|m| m.options_sales),
            gamma_sold: avg(&|m| m.gamma_sold),
            refused_sales: Refusals::mean(runs.iter().map(|m| m.refused_sales)),
            refused_refreshes: Refusals::mean(runs.iter().map(|m| m.refused_refreshes)),
            derisk_buybacks: count(&|m| m.derisk_buybacks),
            forced_option_closes: count(&|m| m.forced_option_closes),
            distrusted_reports: count(&|m| m.distrusted_reports),
            refused_hedges: count(&|m| m.refused_hedges),
            peak_short_gamma_over_equity: avg(&|m| m.peak_short_gamma_over_equity),
            bankrupt_liquidations: count(&|m| m.bankrupt_liquidations),
            capacity_deferred: count(&|m| m.capacity_deferred),
            peak_calls_per_tick: runs
                .iter()
                .map(|m| m.peak_calls_per_tick)
                .max()
                .unwrap_or(0),
            min_depth_fraction: avg(&|m| m.min_depth_fraction),
            yardstick: Judgement::mean(&runs.iter().map(|m| m.yardstick).collect::<Vec<_>>()),
            bad_debt_p95: p95(|m| m.bad_debt),
            liquidated_notional_p95: p95(|m| m.liquidated_notional),
            conserved: runs.iter().all(|m| m.conserved),
            ticks: runs.first().map_or(0, |m| m.ticks),
        }
    }
}

/// Options reports the core refused, by its error.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Refusals {
    /// `GammaBudget`.
    pub gamma_budget: u64,
    /// `VegaBudget`.
    pub vega_budget: u64,
    /// `InsufficientMargin` (initial health).
    pub margin: u64,
    /// `ReduceOnly` (the breaker tripped).
    pub reduce_only: u64,
    /// Any other (halted market, ...).
    pub other: u64,
}

impl Refusals {
    pub(super) fn count(&mut self, e: RiskError) {
        match e {
            RiskError::GammaBudget => self.gamma_budget += 1,
            RiskError::VegaBudget => self.vega_budget += 1,
            RiskError::InsufficientMargin => self.margin += 1,
            RiskError::ReduceOnly => self.reduce_only += 1,
            _ => self.other += 1,
        }
    }

    /// Refusals by a budget.
    pub fn budgets(&self) -> u64 {
        self.gamma_budget + self.vega_budget
    }

    /// Named counts, for the report.
    pub fn named(&self) -> [(&'static str, u64); 5] {
        [
            ("gamma_budget", self.gamma_budget),
            ("vega_budget", self.vega_budget),
            ("margin", self.margin),
            ("reduce_only", self.reduce_only),
            ("other", self.other),
        ]
    }

    pub(super) fn mean(runs: impl Iterator<Item = Refusals> + Clone) -> Refusals {
        let n = runs.clone().count().max(1) as f64;
        let avg = |get: fn(&Refusals) -> u64| {
            (runs.clone().map(|r| get(&r) as f64).sum::<f64>() / n).round() as u64
        };
        Refusals {
            gamma_budget: avg(|r| r.gamma_budget),
            vega_budget: avg(|r| r.vega_budget),
            margin: avg(|r| r.margin),
            reduce_only: avg(|r| r.reduce_only),
            other: avg(|r| r.other),
        }
    }
}

/// What a run measured in one of its markets: the perp traders' positions there (an option
/// writer's hedge liquidations count only in the totals). Amounts in quote whole units.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MarketResult {
    /// The market's name.
    pub name: String,
    /// Notional closed by liquidations in this market.
    pub liquidated_notional: f64,
    /// Positions in this market liquidated (as [`Metrics::liquidations`] counts them).
    pub liquidations: u64,
    /// The part of `liquidated_notional` taken from accounts whose loss since entry came
    /// mostly from other markets.
    pub contagion_notional: f64,
    /// Liquidations whose first chunk was contagion.
    pub contagion_liquidations: u64,
    /// Deficits realized by a liquidation or a close in this market.
    pub bad_debt: f64,
    /// Bankruptcies realized in this market.
    pub bankruptcies: u64,
    /// Breaker trips into reduce-only.
    pub breaker_trips: u64,
    /// As [`Metrics::amplification`], for this market.
    pub amplification: f64,
    /// As [`Metrics::max_drawdown`].
    pub max_drawdown: f64,
    /// As [`Metrics::exogenous_max_drawdown`].
    pub exogenous_max_drawdown: f64,
    /// The clearing houses' yardstick on this market's requirement.
    pub yardstick: Judgement,
    /// Hourly samples.
    pub hours: Vec<MarketHour>,
}

/// An hour of one market.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarketHour {
    /// Time, ms.
    pub at_ms: u64,
    /// Exogenous price.
    pub exogenous: f64,
    /// Simulated price.
    pub simulated: f64,
    /// Annualized EWMA volatility of the exogenous path (as [`Sample::exogenous_vol`]).
    pub exogenous_vol: f64,
    /// The market's file has a candle for this hour (else the price is carried).
    pub live: bool,
    /// Cumulative notional liquidated in this market whose loss came from this market.
    pub own_liquidated: f64,
    /// Cumulative notional liquidated in this market whose loss came from the others.
    pub contagion_liquidated: f64,
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Protocol simulated.
    pub protocol: Protocol,
    /// Figures: totals over every market for what accounts and calls did (liquidations,
    /// bankruptcies, bad debt, breaker trips, opens, stops, throttle, capacity); the first
    /// market's for what a market is (drawdowns, amplification, leverage, yardstick, depth,
    /// liquidity charge, open interest, writers).
    pub metrics: Metrics,
    /// Hourly samples of the first market.
    pub samples: Vec<Sample>,
    /// Per market.
    pub markets: Vec<MarketResult>,
    /// Wall time of the run.
    pub elapsed: Duration,
}
