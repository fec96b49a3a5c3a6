//! One simulation run: a protocol, a population and an exogenous path, through the real oracle
//! adapter and risk core (`ballast_risk::ledger::Ledger` performs every deposit, fill and
//! liquidation exactly as the engine contract does).
//!
//! Each tick:
//! 1. the book refills (the impact offset decays) and the simulated price is the exogenous
//!    price times the offset;
//! 2. three feeders report the simulated price (none inside a data gap); the feed is observed,
//!    which ramps the volatility terms and advances the breaker;
//! 3. in one pass over the traders: a liquidator liquidates each account below maintenance,
//!    chunk by chunk, within the throttle; a stop-loss that is hit closes at the oracle price
//!    (forced flow); a position whose holding time is over closes (organic flow, no impact);
//!    a trader whose wait is over opens at the leverage it wants, capped by what the protocol
//!    allows (it retries next tick while the market is reduce-only or halted);
//! 4. the liquidator sells what it took over to the venue's market maker (forced flow);
//! 5. the net forced flow of the tick moves the price (see [`crate::market`]).
//!
//! Several markets (`--data` given more than once): one ledger lists them all on one clock, each
//! with its own feeders, oracle feed, book, impact and makers, and the same engine defaults.
//! Traders hold one market or a pair (see [`crate::population::Portfolio`]), cross-margined in one
//! account or isolated in one sub-account per market ([`MarginMode`]). The liquidator takes
//! over the positions of an account in several markets in the order [`LiquidationOrder`] says;
//! each chunk's forced flow lands in the market whose position it closed. A chunk counts as
//! contagion when the account's loss since its entry came mostly from the other markets.
//!
//! Option writers (`--option-writers`, see [`crate::options`] and `run/writers.rs`) act before
//! the traders in each tick. Protocols with Ballast's liquidity terms have the market's depth
//! reported to the risk core at the start, every hour and whenever the book moved by more than
//! 10% since the last report.
//!
//! The venue's market maker (the counterparty of every fill) and the liquidator are funded
//! far beyond their needs: they stand for the rest of the market. Fills are at the oracle
//! price with a 5 bp taker fee. Funding is not simulated.

use std::time::{Duration, Instant};

use ballast_math::{Decimals, Fixed, Rounding};
use ballast_oracle::{FeedState, OracleConfig, Report};
use ballast_risk::breaker::BreakerState;
use ballast_risk::feed::observe;
use ballast_risk::health::liquidity_charges;
use ballast_risk::health::{account_health, position_requirements, HealthKind};
use ballast_risk::ledger::{AccountId, Ledger};
use ballast_risk::liquidity::{BookDepth, CloseSide, Use};
use ballast_risk::ops::{BankruptcyOutcome, Fill};
use ballast_risk::state::MarketId;
use ballast_risk::{max_position, report_depth, MarketCtx, MarketState, Prices, RiskError};
use indicatif::ProgressBar;

use crate::market::{DepthCollapse, DepthModel, DepthParams, Impact, Tick};
use crate::options::{WriterParams, HOUR};
use crate::population::{
    draw_legs, draw_profiles, Clock, Demand, LegDirection, PopulationParams, Portfolio, Profile,
};
use crate::protocol::Protocol;
use crate::units::{from_f64 as fx, to_f64 as f};
use crate::yardstick::{percentile, Judgement, Series};

mod writers;
use writers::Writer;

/// Token decimals of the simulated market: BTC-like base (8), USDC-like quote (6).
pub const DECIMALS: Decimals = Decimals { base: 8, quote: 6 };
/// Id of the first market (the one option writers trade); market `k` of a run has id
/// `MARKET + k`.
const MARKET: MarketId = 1;
const MAKER_OF_LONGS: AccountId = 0;
const MAKER_OF_SHORTS: AccountId = 1;
/// Ids of the further makers of a pool (see [`Makers`]).
const MORE_MAKERS: AccountId = 1_000_000;
/// Makers per side. Where depth is reported, the per-account impact cap keeps each account's
/// notional within 4 x the haircut depth = 2 x depth, and the depth-based open-interest term
/// stops growth at 100 x the haircut depth = 50 x depth: 25 makers can hold any open interest
/// the core allows; 32 leave room for uneven filling.
const MAKERS_PER_SIDE: usize = 32;
const LIQUIDATOR_OF_LONGS: AccountId = 2;
const LIQUIDATOR_OF_SHORTS: AccountId = 3;
const VENUE: AccountId = 4;
const FIRST_TRADER: AccountId = 10;
/// Offset of the second sub-account of a trader in isolated margin (below [`MORE_MAKERS`]).
const ISOLATED_SUB_ACCOUNT: AccountId = 500_000;
const FEEDERS: u8 = 3;
/// Taker fee on every trader fill.
pub const TAKER_FEE: f64 = 0.0005;
/// Slack of the liquidation pre-filter, as a fraction of notional (see [`Hot::may_breach`]).
const PREFILTER_SLACK: f64 = 0.003;

/// Parameters of a run besides the protocol and the path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimParams {
    /// Number of trader accounts.
    pub accounts: usize,
    /// Seed of every random draw.
    pub seed: u64,
    /// Population distributions.
    pub population: PopulationParams,
    /// Depth within 1% of mid as a multiple of the population's initial collateral.
    pub depth_ratio: f64,
    /// Half-life of price impact, minutes.
    pub resilience_minutes: f64,
    /// Initial insurance fund as a fraction of the population's initial collateral.
    pub insurance_ratio: f64,
    /// Notional (quote whole units) at which the allowed leverage is measured.
    pub reference_notional: f64,
    /// Check every account exactly each tick and fail if the pre-filter missed a breach
    /// (tests; slow).
    pub check_prefilter: bool,
    /// Share of the accounts that write options instead of trading perps (the last ones drawn).
    pub option_writers: f64,
    /// What the option writers do.
    pub writer: WriterParams,
    /// Whether the book thins in stress (see [`crate::market`]).
    pub depth_collapse: DepthCollapse,
    /// The depth model's parameters.
    pub depth_model: DepthParams,
    /// How many liquidation calls the chain takes per block.
    pub capacity: LiquidationCapacity,
    /// How the liquidators sell what they took over.
    pub unwind: Unwind,
    /// How the traders spread over the markets (runs of several markets only).
    pub portfolio: Portfolio,
    /// One account per trader, or one sub-account per market.
    pub margin: MarginMode,
    /// Which position of an account in several markets the liquidator takes over first.
    pub order: LiquidationOrder,
    /// Whose forced flow moves its market's price.
    pub feedback: Feedback,
}

/// How a trader in several markets is margined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarginMode {
    /// One account: a gain in one market carries a loss in another, and a loss in one can
    /// force the sale of the other (the engine's account).
    Cross,
    /// One sub-account per market, the trader's collateral split by the legs' weights (the
    /// engine's sub-accounts): each liquidated on its own.
    Isolated,
}

/// Which position the liquidator takes over first, of an account below maintenance in several
/// markets (the engine lets the liquidator name the market; it checks the account as a whole).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiquidationOrder {
    /// The position that lost the most since its entry.
    WorstMarketFirst,
    /// The position in the market with the deepest book at the time.
    MostLiquidFirst,
}

/// Whose forced flow moves the price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// Every market's forced flow moves its price.
    EveryMarket,
    /// Every market's but this one's (by index in the run): its forced flow neither moves its
    /// price (which is then the exogenous path) nor thins its book, to measure how much of
    /// another market's amplification comes through it.
    AllBut(usize),
}

/// A market of a run: its exogenous path on the run's clock (see [`crate::market::align`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MarketPath {
    /// Name in the tables ("BTC").
    pub name: String,
    /// The path.
    pub ticks: Vec<Tick>,
    /// Its book's depth within 1% of mid as a share of the first market's.
    pub depth_share: f64,
}

/// How the liquidators sell what they took over into the book. The takeover itself is
/// immediate either way (the account is out of the position at the oracle price); only the
/// liquidator's own selling is forced flow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unwind {
    /// All of it in the tick it was taken over.
    Immediate,
    /// At most this fraction of the book's current depth (within 1%) per tick and side; the
    /// rest waits in the liquidator's inventory.
    Paced {
        /// Fraction of depth per tick.
        depth_fraction_per_tick: f64,
    },
}

/// Block space for liquidation calls: a cascade waits for it as it would on chain. The price
/// is fixed within a tick, so the calls of one tick are spread over its blocks at that price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiquidationCapacity {
    /// Liquidation calls that fit one block.
    pub calls_per_block: u64,
    /// Block time, ms.
    pub block_ms: u64,
}

impl LiquidationCapacity {
    /// substrate-contracts-node: 191 one-position liquidations in 75% of a 2e12 ref_time block
    /// (`scripts/bench.sh`, after the clearing-house issue), 6-second blocks.
    pub const CONTRACTS_NODE: LiquidationCapacity = LiquidationCapacity {
        calls_per_block: 191,
        block_ms: 6_000,
    };
    /// A parachain at a 5 MiB proof budget: 38 per 6-second block (`scripts/bench.sh`).
    pub const PARACHAIN: LiquidationCapacity = LiquidationCapacity {
        calls_per_block: 38,
        block_ms: 6_000,
    };
    /// No limit.
    pub const UNLIMITED: LiquidationCapacity = LiquidationCapacity {
        calls_per_block: u64::MAX / 4,
        block_ms: 1,
    };

    /// Calls that fit in the blocks produced in `(from_ms, to_ms]` (block boundaries at
    /// multiples of the block time, so fractions of a block carry over between ticks).
    pub fn calls_between(&self, from_ms: u64, to_ms: u64) -> u64 {
        let block = self.block_ms.max(1);
        let blocks = (to_ms / block).saturating_sub(from_ms / block);
        self.calls_per_block.saturating_mul(blocks)
    }
}

impl Default for SimParams {
    fn default() -> Self {
        SimParams {
            accounts: 2_000,
            seed: 1,
            population: PopulationParams::default(),
            depth_ratio: 0.2,
            resilience_minutes: 30.0,
            insurance_ratio: 0.01,
            reference_notional: 10_000.0,
            check_prefilter: false,
            option_writers: 0.0,
            writer: WriterParams::default(),
            depth_collapse: DepthCollapse::Off,
            depth_model: DepthParams::default(),
            capacity: LiquidationCapacity::CONTRACTS_NODE,
            unwind: Unwind::Immediate,
            portfolio: Portfolio::default(),
            margin: MarginMode::Cross,
            order: LiquidationOrder::WorstMarketFirst,
            feedback: Feedback::EveryMarket,
        }
    }
}

/// Why a run stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum SimError {
    /// The risk core refused an operation the simulator relies on.
    Risk(&'static str, RiskError),
    /// The pre-filter skipped an account that was below maintenance.
    PrefilterMissed(AccountId, u64),
    /// No ticks in the trading window.
    EmptyWindow,
    /// The markets' paths are not on one clock.
    MisalignedMarkets,
    /// A pair's second-leg weight outside [0.01, 0.99] (a leg, or an isolated sub-account,
    /// with nothing in it).
    PairWeight,
    /// More accounts than the ids of isolated sub-accounts leave room for.
    TooManyAccounts,
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::Risk(what, e) => write!(f, "{what}: {e:?}"),
            SimError::PrefilterMissed(id, at) => {
                write!(f, "pre-filter missed account {id} at {at}")
            }
            SimError::EmptyWindow => write!(f, "no ticks in the trading window"),
            SimError::MisalignedMarkets => write!(f, "the markets' paths are not on one clock"),
            SimError::PairWeight => write!(f, "a pair's second-leg weight must be in [0.01, 0.99]"),
            SimError::TooManyAccounts => write!(f, "too many accounts for the sub-account ids"),
        }
    }
}

impl std::error::Error for SimError {}

fn risk(what: &'static str) -> impl Fn(RiskError) -> SimError {
    move |e| SimError::Risk(what, e)
}

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
    fn count(&mut self, e: RiskError) {
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

    fn mean(runs: impl Iterator<Item = Refusals> + Clone) -> Refusals {
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

/// Quote whole units to base units.
pub(crate) fn usd(x: f64) -> i128 {
    (x * 1e6).round() as i128
}

fn whole(units: i128) -> f64 {
    units as f64 / 1e6
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Waiting { until_ms: u64 },
    Holding { until_ms: u64 },
}

/// The market makers on the other side of every fill: the rest of the market. One pool faces
/// the longs (and is short), another the shorts (and is long). An account always trades with the
/// same maker of each pool (by its slot), so that its close always reduces that maker's position
/// (a breaker in reduce-only refuses fills that grow either side), and the liquidators sell what
/// they took over of an account to that account's maker. A pool rather than one account per
/// side because, where depth is reported, the per-account impact cap applies to makers too, and
/// one account holding a whole side of the market would meet it (the real market's other side
/// is held by many accounts). Without depth reports the pool changes no figure of the traders
/// (checked: the same results as with one maker per side, to the unit).
#[derive(Debug, Clone)]
struct Makers {
    /// `pools[0]` faces longs, `pools[1]` shorts.
    pools: [Vec<AccountId>; 2],
    /// Size each liquidator (of longs, of shorts) took over of each maker's accounts and has
    /// not sold back yet.
    owed: [Vec<i128>; 2],
}

impl Makers {
    fn new(per_side: usize) -> Makers {
        let pool = |first: AccountId, parity: AccountId| -> Vec<AccountId> {
            (0..per_side as AccountId)
                .map(|k| {
                    if k == 0 {
                        first
                    } else {
                        MORE_MAKERS + 2 * k + parity
                    }
                })
                .collect()
        };
        Makers {
            pools: [pool(MAKER_OF_LONGS, 0), pool(MAKER_OF_SHORTS, 1)],
            owed: [vec![0; per_side], vec![0; per_side]],
        }
    }

    fn side(long: bool) -> usize {
        usize::from(!long)
    }

    /// The maker facing account `slot`'s positions of sign `long`.
    fn of(&self, long: bool, slot: usize) -> AccountId {
        let pool = &self.pools[Makers::side(long)];
        pool[slot % pool.len()]
    }

    /// A liquidator took over `size` of account `slot`'s position of sign `long`.
    fn owe(&mut self, long: bool, slot: usize, size: i128) {
        let owed = &mut self.owed[Makers::side(long)];
        let k = slot % owed.len();
        owed[k] += size;
    }
}

/// One market of a trader's account, with a float copy of its position for the pre-filter.
#[derive(Debug, Clone, Copy)]
struct Leg {
    /// Index of the market in the run.
    market: usize,
    long: bool,
    /// Share of the trader's notional in this market.
    weight: f64,
    // Copy of the ledger position, refreshed after every operation on the account.
    size_units: i128,
    size: f64,
    quote: f64,
    social_snapshot: f64,
    /// Oracle price at the open.
    entry_price: f64,
    /// What the part of the position already closed since the open (liquidation chunks, a
    /// close) had lost: it is in collateral now, and the remaining position no longer shows it.
    realized_loss: f64,
    /// In a liquidation in this market that has not ended.
    in_liquidation: bool,
}

impl Leg {
    /// What closing `units` (base units, at most the position) of the leg at `mark` loses
    /// against its entry, quote whole units (negative for a gain).
    fn loss_on(&self, units: i128, mark: Mark) -> f64 {
        let size = self.size_units.signum() as f64 * units.unsigned_abs() as f64 / 1e8;
        size * (self.entry_price - mark.price)
            + size.abs() * (mark.social_index - self.social_snapshot)
    }

    /// What the leg has lost since its open at `mark`: realized and on what is left.
    fn loss_since_entry(&self, mark: Mark) -> f64 {
        self.realized_loss + self.loss_on(self.size_units, mark)
    }
}

/// A trader: one account (or, isolated, one sub-account) with a position in one market or two.
#[derive(Debug, Clone)]
struct Trader {
    id: AccountId,
    profile: Profile,
    phase: Phase,
    entry_equity: f64,
    in_liquidation: bool,
    blocked: bool,
    legs: Vec<Leg>,
    /// Copy of the account's collateral.
    collateral: f64,
}

impl Trader {
    fn refresh(&mut self, ledger: &Ledger) {
        let account = ledger.accounts.get(&self.id);
        for leg in &mut self.legs {
            let position = account.and_then(|a| a.position(market_id(leg.market)));
            leg.size_units = position.map_or(0, |p| p.size);
            leg.size = leg.size_units as f64 / 1e8;
            leg.quote = position.map_or(0.0, |p| whole(p.quote));
            leg.social_snapshot = position.map_or(0.0, |p| f(p.social_snapshot));
        }
        self.collateral = account.map_or(0.0, |a| whole(a.collateral));
    }

    fn is_flat(&self) -> bool {
        self.legs.iter().all(|l| l.size_units == 0)
    }

    /// Collateral plus the positions' quote balances.
    fn base(&self) -> f64 {
        let mut base = self.collateral;
        for leg in &self.legs {
            base += leg.quote;
        }
        base
    }

    /// The compact copy the per-tick scan reads.
    fn hot(&self) -> Hot {
        let (holding, until_ms) = match self.phase {
            Phase::Holding { until_ms } => (true, until_ms),
            Phase::Waiting { until_ms } => (false, until_ms),
        };
        let mut legs = [HotLeg::default(); MAX_LEGS];
        for (hot, leg) in legs.iter_mut().zip(&self.legs) {
            *hot = HotLeg {
                market: leg.market,
                size: leg.size,
                social_snapshot: leg.social_snapshot,
            };
        }
        Hot {
            legs,
            leg_count: self.legs.len().min(MAX_LEGS),
            base: self.base(),
            stop_equity: self
                .profile
                .stop
                .map_or(f64::NEG_INFINITY, |stop| self.entry_equity * (1.0 - stop)),
            until_ms,
            holding,
        }
    }
}

/// Markets a trader holds at most.
const MAX_LEGS: usize = 2;

/// Id of market `k` of the run.
fn market_id(k: usize) -> MarketId {
    MARKET + k as MarketId
}

/// What the per-tick scan reads of a trader's position in one market.
#[derive(Debug, Clone, Copy, Default)]
struct HotLeg {
    market: usize,
    size: f64,
    social_snapshot: f64,
}

/// What the per-tick scan reads of a trader, kept in its own compact array (the scan over all
/// traders at every tick dominates the run time; a small stride keeps it in cache).
#[derive(Debug, Clone, Copy)]
struct Hot {
    legs: [HotLeg; MAX_LEGS],
    leg_count: usize,
    /// Collateral plus the positions' quote balances.
    base: f64,
    /// Equity at or below which the stop-loss fires (minus infinity without one).
    stop_equity: f64,
    until_ms: u64,
    holding: bool,
}

/// A market's price and socialized-loss index, as floats.
#[derive(Debug, Clone, Copy)]
struct Mark {
    price: f64,
    social_index: f64,
}

/// What the scan of one tick needs of a market.
#[derive(Debug, Clone)]
struct MarketView {
    mark: Mark,
    /// The applied volatility term of maintenance.
    vol_term: f64,
    /// Maintenance tiers: notional floor, rate.
    tiers: Vec<(f64, f64)>,
    depth: Option<KeepDepth>,
    /// The price may be used for liquidations and the market is not paused.
    liquidating: bool,
    /// The price may be used for liquidations (and so for stops and closes).
    price_known: bool,
}

impl Hot {
    fn legs(&self) -> &[HotLeg] {
        &self.legs[..self.leg_count]
    }

    fn is_flat(&self) -> bool {
        self.legs().iter().all(|l| l.size == 0.0)
    }

    fn equity(&self, marks: &[Mark]) -> f64 {
        let mut equity = self.base;
        for leg in self.legs() {
            let m = marks[leg.market];
            equity = equity + leg.size * m.price
                - leg.size.abs() * (m.social_index - leg.social_snapshot);
        }
        equity
    }

    fn notional(&self, marks: &[Mark]) -> f64 {
        let mut notional = 0.0;
        for leg in self.legs() {
            notional += leg.size.abs() * marks[leg.market].price;
        }
        notional
    }

    /// True unless the account is certainly above maintenance. The maintenance requirement of
    /// each position is at most `max(bracket rate, applied vol term) * notional` (the tier
    /// deductions are non-negative) plus, where depth is reported, the liquidity charge; equity
    /// is the float copy of the exact formula. The slack covers float and rounding differences;
    /// `check_prefilter` verifies it.
    fn may_breach(&self, views: &[MarketView], marks: &[Mark]) -> bool {
        if self.is_flat() {
            return false;
        }
        let mut requirement = 0.0;
        for leg in self.legs().iter().filter(|l| l.size != 0.0) {
            let view = &views[leg.market];
            let notional = leg.size.abs() * view.mark.price;
            let rate = view
                .tiers
                .iter()
                .rev()
                .find(|(floor, _)| notional >= *floor)
                .map_or(0.0, |t| t.1)
                .max(view.vol_term);
            let charge = view
                .depth
                .map_or(0.0, |d| d.charge_fraction(notional, leg.size > 0.0));
            requirement += (rate + charge + PREFILTER_SLACK) * notional;
        }
        self.equity(marks) < requirement
    }
}

/// What the pre-filter needs of the liquidity charge (`ballast_risk::liquidity`): the depth
/// band, and the depth (slow view, after the haircut) that longs and shorts close into, quote
/// whole units.
#[derive(Debug, Clone, Copy)]
struct KeepDepth {
    band: f64,
    long: f64,
    short: f64,
}

impl KeepDepth {
    /// The market's, or `None` where no depth is reported.
    fn of(ctx: &MarketCtx) -> Result<Option<KeepDepth>, SimError> {
        let side = |side| {
            ctx.state
                .depth
                .depth(&ctx.config.liquidity, side, Use::Keep)
                .map_err(risk("depth"))
        };
        Ok(match (side(CloseSide::Bids)?, side(CloseSide::Asks)?) {
            (Some(long), Some(short)) => Some(KeepDepth {
                band: f(ctx.config.liquidity.depth_band),
                long: whole(long),
                short: whole(short),
            }),
            _ => None,
        })
    }

    /// The charge as a fraction of the notional: the closing impact, linear up to the depth,
    /// square-root beyond, at most 1.
    fn charge_fraction(&self, notional: f64, long: bool) -> f64 {
        let depth = if long { self.long } else { self.short };
        if depth <= 0.0 {
            return 1.0;
        }
        let x = notional / depth;
        (self.band * if x <= 1.0 { x } else { x.sqrt() }).min(1.0)
    }
}

/// The simulator's side of one market: its feed, book, makers and what it measured.
struct Book {
    makers: Makers,
    /// This tick's net forced flow, quote whole units (negative sells).
    flow: f64,
    /// The book's depth within 1% this tick, quote whole units.
    depth_now: f64,
    /// Whether its forced flow moves its price (see [`Feedback`]).
    moves_price: bool,
    result: MarketResult,
}

struct Run<'a> {
    ledger: Ledger,
    traders: Vec<Trader>,
    // Kept apart from `traders` so that the per-tick scan over traders stays compact in cache.
    clocks: Vec<Clock>,
    hot: Vec<Hot>,
    params: &'a SimParams,
    metrics: Metrics,
    books: Vec<Book>,
    writers: Vec<Writer>,
    /// Next hour at which the writers report, sell, settle and hedge.
    writer_hour_ms: u64,
    /// Liquidation calls left in this tick's blocks.
    capacity_left: u64,
}

impl Run<'_> {
    /// The first market (the one option writers trade).
    fn ctx(&self) -> &MarketCtx {
        &self.ledger.markets[0]
    }

    fn marks(&self) -> Vec<Mark> {
        self.ledger
            .markets
            .iter()
            .map(|ctx| Mark {
                price: f(ctx.prices.oracle),
                social_index: f(ctx.state.social_loss_index),
            })
            .collect()
    }

    fn views(&self) -> Result<Vec<MarketView>, SimError> {
        self.ledger
            .markets
            .iter()
            .map(|ctx| {
                let price_known = ctx.prices.liquidation_valid;
                Ok(MarketView {
                    mark: Mark {
                        price: f(ctx.prices.oracle),
                        social_index: f(ctx.state.social_loss_index),
                    },
                    vol_term: f(ctx.state.applied.maintenance),
                    tiers: ctx
                        .config
                        .margin
                        .tiers
                        .iter()
                        .map(|t| (whole(t.notional_floor), f(t.maintenance_fraction)))
                        .collect(),
                    depth: KeepDepth::of(ctx)?,
                    liquidating: price_known && ctx.state.breaker.state != BreakerState::Paused,
                    price_known,
                })
            })
            .collect()
    }

    /// The market maker on the other side of trader `i`'s leg `k` (see [`Makers`]).
    fn maker_for(&self, i: usize, k: usize) -> AccountId {
        let leg = &self.traders[i].legs[k];
        self.books[leg.market].makers.of(leg.long, i)
    }

    /// Closes trader `i`'s positions at the oracle prices; `forced` flow moves the prices. An
    /// account whose equity is gone is left to the liquidator (its deficit must go through
    /// bankruptcy resolution).
    fn close(&mut self, i: usize, now_ms: u64, forced: bool) -> Result<bool, SimError> {
        if self.hot[i].equity(&self.marks()) <= 0.0 {
            return Ok(false);
        }
        let id = self.traders[i].id;
        let mut refused = false;
        for k in 0..self.traders[i].legs.len() {
            let leg = self.traders[i].legs[k];
            if leg.size_units == 0 {
                continue;
            }
            let price = self.ledger.markets[leg.market].prices.oracle;
            let notional = leg.size.abs() * f(price);
            let fill = Fill {
                market: market_id(leg.market),
                size: -leg.size_units,
                price,
                taker_fee: usd(notional * TAKER_FEE),
                maker_fee: 0,
            };
            let Ok(outcome) = self.ledger.fill(id, self.maker_for(i, k), VENUE, &fill) else {
                self.metrics.failed_closes += 1;
                refused = true;
                continue;
            };
            // The engine's fill covers the deficit of an account it leaves with nothing but
            // negative collateral; the simulator only records it.
            if let Some(b) = outcome.taker_bankruptcy {
                self.record_bankruptcy(&b, leg.market);
            }
            let mark = Mark {
                price: f(price),
                social_index: f(self.ledger.markets[leg.market].state.social_loss_index),
            };
            self.traders[i].legs[k].realized_loss += leg.loss_on(leg.size_units, mark);
            if forced {
                self.books[leg.market].flow -= leg.size * f(price);
            }
        }
        let t = &mut self.traders[i];
        t.refresh(&self.ledger);
        if refused {
            self.hot[i] = t.hot();
            return Ok(false);
        }
        let wait = self.clocks[i].wait_ms();
        t.phase = Phase::Waiting {
            until_ms: now_ms + wait,
        };
        self.hot[i] = t.hot();
        Ok(true)
    }

    fn record_bankruptcy(&mut self, b: &BankruptcyOutcome, market: usize) {
        let m = &mut self.metrics;
        m.bankruptcies += 1;
        m.bad_debt += whole(b.deficit);
        m.insurance_paid += whole(b.from_insurance);
        m.socialized += whole(b.socialized);
        let r = &mut self.books[market].result;
        r.bankruptcies += 1;
        r.bad_debt += whole(b.deficit);
    }

    /// Trader `i` opens its positions at the leverage it wants, capped by the protocol.
    fn open(&mut self, i: usize, now_ms: u64) -> Result<(), SimError> {
        let closed = self.traders[i].legs.iter().any(|leg| {
            let ctx = &self.ledger.markets[leg.market];
            ctx.state.breaker.state != BreakerState::Normal || !ctx.prices.opening_valid
        });
        if closed {
            if !self.traders[i].blocked {
                self.metrics.blocked_opens += 1;
                self.traders[i].blocked = true;
            }
            return Ok(());
        }
        let t = &self.traders[i];
        if t.collateral < t.profile.collateral / 2.0 {
            let top_up = usd(t.profile.collateral - t.collateral.max(0.0));
            self.ledger
                .deposit(t.id, top_up)
                .map_err(risk("top-up deposit"))?;
            self.traders[i].refresh(&self.ledger);
        }
        let t = &self.traders[i];
        let equity = t.collateral;
        let mut notional = match t.profile.demand {
            Demand::Fixed(l) => l * equity,
            Demand::Max => 1_000.0 * equity,
        };
        for _ in 0..6 {
            let mut requirement = 0.0;
            for leg in &t.legs {
                let ctx = &self.ledger.markets[leg.market];
                requirement += whole(
                    position_requirements(ctx, usd(notional * leg.weight), true)
                        .map_err(risk("requirements"))?
                        .initial,
                );
            }
            let fraction = requirement / notional;
            let most = equity / (fraction + TAKER_FEE);
            if notional <= most {
                break;
            }
            notional = most * 0.995;
        }
        let (mut opened, mut impact_capped, mut oi_capped) = (None::<f64>, false, false);
        for k in 0..self.traders[i].legs.len() {
            let weight = self.traders[i].legs[k].weight;
            let leg = self.open_leg(i, k, notional * weight)?;
            if let Some(n) = leg.opened {
                opened = Some(opened.map_or(n, |o| o + n));
            }
            impact_capped |= leg.impact_capped;
            oi_capped |= leg.oi_capped;
        }
        self.metrics.impact_capped += u64::from(impact_capped);
        self.metrics.oi_growth_capped += u64::from(oi_capped);
        let t = &mut self.traders[i];
        t.blocked = false;
        t.refresh(&self.ledger);
        match opened {
            Some(notional) => {
                self.metrics.opens += 1;
                self.metrics.mean_open_leverage += notional / equity;
                let mut entry = t.base();
                for leg in &mut t.legs {
                    let price = f(self.ledger.markets[leg.market].prices.oracle);
                    entry += leg.size * price;
                    leg.entry_price = price;
                    leg.realized_loss = 0.0;
                    leg.in_liquidation = false;
                }
                t.entry_equity = entry;
                t.in_liquidation = false;
                let hold = self.clocks[i].hold_ms();
                t.phase = Phase::Holding {
                    until_ms: now_ms + hold,
                };
            }
            None => {
                let wait = self.clocks[i].wait_ms();
                t.phase = Phase::Waiting {
                    until_ms: now_ms + wait,
                };
            }
        }
        self.hot[i] = t.hot();
        Ok(())
    }

    /// Opens trader `i`'s leg `k` at `notional` (quote whole units) or as much of it as the
    /// core allows.
    fn open_leg(&mut self, i: usize, k: usize, notional: f64) -> Result<OpenedLeg, SimError> {
        let leg = self.traders[i].legs[k];
        let price = self.ledger.markets[leg.market].prices.oracle;
        let mut size = DECIMALS
            .size_for_value(usd(notional), price, Rounding::Floor)
            .map_err(|e| SimError::Risk("size", e.into()))?;
        if !leg.long {
            size = -size;
        }
        let id = self.traders[i].id;
        let maker = self.maker_for(i, k);
        let mut outcome = OpenedLeg::default();
        for _ in 0..8 {
            if size == 0 {
                break;
            }
            let notional = (size as f64 / 1e8).abs() * f(price);
            let fill = Fill {
                market: market_id(leg.market),
                size,
                price,
                taker_fee: usd(notional * TAKER_FEE),
                maker_fee: 0,
            };
            match self.ledger.fill(id, maker, VENUE, &fill) {
                Ok(_) => {
                    outcome.opened = Some(notional);
                    break;
                }
                Err(RiskError::InsufficientMargin) => size = size / 100 * 97,
                // A depth term binds (only where depth is reported): take what the core allows.
                Err(e @ (RiskError::LiquidityCap | RiskError::OpenInterestGrowth)) => {
                    outcome.impact_capped |= e == RiskError::LiquidityCap;
                    outcome.oi_capped |= e == RiskError::OpenInterestGrowth;
                    let most = max_position(
                        &self.ledger.accounts[&id],
                        &self.ledger.markets,
                        market_id(leg.market),
                        size > 0,
                        price,
                        fx(TAKER_FEE),
                    )
                    .map_err(risk("max position"))?;
                    size = size.signum() * most.min(size.abs() - 1);
                }
                Err(_) => break,
            }
        }
        Ok(outcome)
    }

    /// One tick of trader activity. First the liquidator works through every account that may
    /// be below maintenance, worst health first (so the throttle's capacity goes to the accounts
    /// nearest bankruptcy), then each trader may stop out, close or open. Prices are fixed
    /// within the tick; its forced flow moves the next tick's price. Last, the liquidators sell
    /// what they took over.
    fn step(&mut self, now_ms: u64) -> Result<(), SimError> {
        self.writers_step(now_ms)?;
        let mut views = self.views()?;
        let marks: Vec<Mark> = views.iter().map(|v| v.mark).collect();
        let mut candidates: Vec<(f64, usize)> = Vec::new();
        for (i, h) in self.hot.iter().enumerate() {
            if h.is_flat()
                || !h
                    .legs()
                    .iter()
                    .any(|l| l.size != 0.0 && views[l.market].liquidating)
            {
                continue;
            }
            if h.may_breach(&views, &marks) {
                candidates.push((h.equity(&marks) / h.notional(&marks), i));
            } else if self.params.check_prefilter {
                self.check_above_maintenance(i, now_ms)?;
            }
        }
        candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (_, i) in candidates {
            self.liquidate(i, now_ms, &views)?;
        }
        // Liquidations may have socialized losses.
        for (view, ctx) in views.iter_mut().zip(&self.ledger.markets) {
            view.mark.social_index = f(ctx.state.social_loss_index);
        }
        let marks: Vec<Mark> = views.iter().map(|v| v.mark).collect();
        for i in 0..self.hot.len() {
            let h = self.hot[i];
            if !h.legs().iter().all(|l| views[l.market].price_known) {
                continue;
            }
            if h.holding {
                if h.equity(&marks) <= h.stop_equity {
                    if self.close(i, now_ms, true)? {
                        self.metrics.stop_outs += 1;
                    }
                } else if now_ms >= h.until_ms {
                    self.close(i, now_ms, false)?;
                }
            } else if now_ms >= h.until_ms {
                self.open(i, now_ms)?;
            }
        }
        self.flatten_liquidators()
    }

    /// Test mode: an account the pre-filter skipped must really be above maintenance.
    fn check_above_maintenance(&self, i: usize, now_ms: u64) -> Result<(), SimError> {
        let account = &self.ledger.accounts[&self.traders[i].id];
        let health = account_health(account, &self.ledger.markets, HealthKind::Maintenance, None)
            .map_err(risk("health"))?;
        if health.equity < health.requirement {
            return Err(SimError::PrefilterMissed(self.traders[i].id, now_ms));
        }
        Ok(())
    }

    /// The traders' liquidity maintenance charge in the first market (through the risk core)
    /// over their notional there; 0 where depth is not reported.
    fn liquidity_charge_fraction(&self) -> Result<f64, SimError> {
        let ctx = self.ctx();
        let price = f(ctx.prices.oracle);
        let (mut charge, mut notional) = (0.0, 0.0);
        for leg in self
            .hot
            .iter()
            .flat_map(|h| h.legs())
            .filter(|l| l.market == 0 && l.size != 0.0)
        {
            let n = leg.size.abs() * price;
            notional += n;
            if let Some(c) = liquidity_charges(
                ctx,
                usd(n),
                CloseSide::of(if leg.size > 0.0 { 1 } else { -1 }),
            )
            .map_err(risk("charge"))?
            {
                charge += whole(c.maintenance);
            }
        }
        Ok(if notional > 0.0 {
            charge / notional
        } else {
            0.0
        })
    }

    /// Trader `i`'s legs in the order the liquidator takes them over, each with whether a
    /// chunk of it is contagion: the account's loss since entry (realized and open) came mostly
    /// from its other markets.
    fn takeover_order(&self, i: usize, views: &[MarketView]) -> Vec<(usize, bool)> {
        let legs = &self.traders[i].legs;
        let loss: Vec<f64> = legs
            .iter()
            .map(|l| l.loss_since_entry(views[l.market].mark))
            .collect();
        let total: f64 = loss.iter().sum();
        let mut order: Vec<(usize, bool)> = (0..legs.len())
            .filter(|&k| legs[k].size_units != 0)
            .map(|k| (k, total - loss[k] > loss[k].max(0.0)))
            .collect();
        match self.params.order {
            LiquidationOrder::WorstMarketFirst => {
                order.sort_by(|a, b| loss[b.0].total_cmp(&loss[a.0]));
            }
            LiquidationOrder::MostLiquidFirst => order.sort_by(|a, b| {
                let depth = |k: usize| self.books[legs[k].market].depth_now;
                depth(b.0).total_cmp(&depth(a.0))
            }),
        }
        order
    }

    /// Liquidates trader `i` chunk by chunk until it is no longer liquidatable (above
    /// maintenance and its liquidation-end target, or closed) or the throttle stops it, taking
    /// its positions over in the order of [`LiquidationOrder`]: a market that refuses the call
    /// (throttled, halted) is left for this tick and the next position is taken.
    fn liquidate(&mut self, i: usize, now_ms: u64, views: &[MarketView]) -> Result<(), SimError> {
        let id = self.traders[i].id;
        let mut order = self.takeover_order(i, views).into_iter();
        let mut current = order.next();
        while let Some((k, contagion)) = current {
            let leg = self.traders[i].legs[k];
            if !views[leg.market].liquidating {
                current = order.next();
                continue;
            }
            if self.capacity_left == 0 {
                self.metrics.capacity_deferred += 1;
                break;
            }
            let liquidator = if leg.long {
                LIQUIDATOR_OF_LONGS
            } else {
                LIQUIDATOR_OF_SHORTS
            };
            // The liquidator checks off-chain whether a call would succeed: only calls that
            // execute (or that the throttle refuses, which the check cannot know ahead of the
            // block) take block space.
            match self.ledger.liquidate(id, liquidator, market_id(leg.market)) {
                Ok(outcome) => {
                    self.capacity_left -= 1;
                    // What the chunk took over had lost since the open; the copy's size is
                    // kept in step until the refresh after the loop.
                    let taken = &mut self.traders[i].legs[k];
                    taken.realized_loss +=
                        taken.loss_on(outcome.closed_size, views[leg.market].mark);
                    taken.size_units -=
                        taken.size_units.signum() * outcome.closed_size.min(taken.size_units.abs());
                    let book = &mut self.books[leg.market];
                    book.makers.owe(leg.long, i, outcome.closed_size);
                    let notional = whole(outcome.notional);
                    let r = &mut book.result;
                    r.liquidated_notional += notional;
                    if contagion {
                        r.contagion_notional += notional;
                    }
                    if !self.traders[i].legs[k].in_liquidation {
                        r.liquidations += 1;
                        r.contagion_liquidations += u64::from(contagion);
                        self.traders[i].legs[k].in_liquidation = true;
                    }
                    let m = &mut self.metrics;
                    m.liquidation_calls += 1;
                    m.liquidated_notional += notional;
                    if !self.traders[i].in_liquidation {
                        m.liquidations += 1;
                        self.traders[i].in_liquidation = true;
                    }
                    if let Some(b) = outcome.bankruptcy {
                        self.record_bankruptcy(&b, leg.market);
                        self.metrics.bankrupt_liquidations += 1;
                    }
                    // The next call finds out whether the position is closed (NoPosition) or
                    // the account is healthy again (NotLiquidatable).
                }
                Err(RiskError::LiquidationThrottled) => {
                    self.capacity_left -= 1;
                    self.metrics.throttled += 1;
                    current = order.next();
                }
                Err(RiskError::NotLiquidatable) => break,
                Err(_) => current = order.next(),
            }
        }
        let t = &mut self.traders[i];
        t.refresh(&self.ledger);
        if t.is_flat() && matches!(t.phase, Phase::Holding { .. }) {
            let wait = self.clocks[i].wait_ms();
            t.phase = Phase::Waiting {
                until_ms: now_ms + wait,
            };
        }
        self.hot[i] = t.hot();
        Ok(())
    }

    /// The liquidators sell the longs and buy back the shorts they took over, in each market to
    /// the makers of the accounts they took them from (whose positions that reduces).
    fn flatten_liquidators(&mut self) -> Result<(), SimError> {
        for m in 0..self.books.len() {
            let price = self.ledger.markets[m].prices.oracle;
            // Base units a liquidator may sell this tick, per side.
            let allowance = match self.params.unwind {
                Unwind::Immediate => i128::MAX,
                Unwind::Paced {
                    depth_fraction_per_tick,
                } => (depth_fraction_per_tick * self.books[m].depth_now / f(price) * 1e8) as i128,
            };
            for (side, liquidator) in [(0, LIQUIDATOR_OF_LONGS), (1, LIQUIDATOR_OF_SHORTS)] {
                let mut sold = 0i128;
                for k in 0..self.books[m].makers.owed[side].len() {
                    let owed = self.books[m].makers.owed[side][k];
                    let left = allowance.saturating_sub(sold.abs());
                    let size = owed.signum() * owed.abs().min(left);
                    if size == 0 {
                        continue;
                    }
                    let fill = Fill {
                        market: market_id(m),
                        size: -size,
                        price,
                        taker_fee: 0,
                        maker_fee: 0,
                    };
                    let maker = self.books[m].makers.pools[side][k];
                    if self.ledger.fill(liquidator, maker, VENUE, &fill).is_ok() {
                        self.books[m].makers.owed[side][k] -= size;
                        sold += size;
                    } else {
                        self.metrics.failed_closes += 1;
                    }
                }
                if sold != 0 {
                    self.books[m].flow -= sold as f64 / 1e8 * f(price);
                }
            }
        }
        Ok(())
    }
}

/// What opening one leg did.
#[derive(Debug, Clone, Copy, Default)]
struct OpenedLeg {
    /// Notional opened, quote whole units.
    opened: Option<f64>,
    impact_capped: bool,
    oi_capped: bool,
}

/// EWMA of hourly squared log returns, RiskMetrics' daily 0.94 per hour (0.94^(1/24)), seeded
/// by the first return.
#[derive(Debug, Clone, Copy, Default)]
struct HourlyEwma {
    variance: Option<f64>,
    last: Option<f64>,
}

impl HourlyEwma {
    fn fold(&mut self, price: f64) {
        if let Some(last) = self.last.replace(price) {
            let r2 = (price / last).ln().powi(2);
            let lambda = 0.94f64.powf(1.0 / 24.0);
            self.variance = Some(
                self.variance
                    .map_or(r2, |v| lambda * v + (1.0 - lambda) * r2),
            );
        }
    }

    fn annualized(&self) -> f64 {
        (self.variance.unwrap_or(0.0) * 8_760.0).sqrt()
    }
}

fn max_drawdown(prices: impl Iterator<Item = f64>) -> f64 {
    let mut peak = f64::MIN;
    let mut worst = 0.0f64;
    for p in prices {
        peak = peak.max(p);
        worst = worst.max(1.0 - p / peak);
    }
    worst
}

fn quantile(values: &[f64], q: f64) -> f64 {
    percentile(&mut values.to_vec(), q)
}

/// Runs `protocol` over `ticks` (one market); trading (and measuring) starts at
/// `trade_from_ms`, the ticks before it warm up the oracle's volatility estimate and the ramps.
pub fn run(
    protocol: Protocol,
    params: &SimParams,
    ticks: &[Tick],
    trade_from_ms: u64,
    progress: Option<&ProgressBar>,
) -> Result<RunResult, SimError> {
    let market = MarketPath {
        name: "BTC".into(),
        ticks: ticks.to_vec(),
        depth_share: 1.0,
    };
    run_markets(protocol, params, &[market], trade_from_ms, progress)
}

/// What the run loop keeps of one market besides the [`Book`]: the world outside the ledger
/// (impact, depth, feeders) and the hourly series it measures.
struct Outside {
    impact: Impact,
    depth: DepthModel,
    feed: FeedState,
    /// Depth within 1% of mid as the venues report it: the book's, both sides; a venue reports
    /// hourly and whenever the book moved by more than 10% since its last report.
    reported_depth: f64,
    next_depth_report_ms: u64,
    exogenous_vol: HourlyEwma,
    hour_low: f64,
    hour_high: f64,
    exo_prices: Vec<f64>,
    sim_prices: Vec<f64>,
    series: Series,
    /// The simulated price this tick.
    simulated: f64,
}

/// Runs `protocol` over several markets on one clock (every path has the same ticks; see
/// [`crate::market::align`]); the first is the one option writers trade and whose figures
/// fill [`RunResult::metrics`] and [`RunResult::samples`].
pub fn run_markets(
    protocol: Protocol,
    params: &SimParams,
    paths: &[MarketPath],
    trade_from_ms: u64,
    progress: Option<&ProgressBar>,
) -> Result<RunResult, SimError> {
    let started = Instant::now();
    let ticks = &paths.first().ok_or(SimError::EmptyWindow)?.ticks;
    let first_ms = ticks.first().ok_or(SimError::EmptyWindow)?.at_ms;
    let on_one_clock = paths.iter().all(|p| {
        p.ticks.len() == ticks.len() && p.ticks.iter().zip(ticks).all(|(a, b)| a.at_ms == b.at_ms)
    });
    if !on_one_clock {
        return Err(SimError::MisalignedMarkets);
    }
    let pairs = paths.len() > 1 && params.portfolio.pair_share > 0.0;
    if pairs && !(0.01..=0.99).contains(&params.portfolio.second_leg_weight) {
        return Err(SimError::PairWeight);
    }
    if FIRST_TRADER as usize + params.accounts >= ISOLATED_SUB_ACCOUNT as usize {
        return Err(SimError::TooManyAccounts);
    }
    let oracle_config = OracleConfig::default();
    let config = protocol.config(DECIMALS);
    let profiles = draw_profiles(&params.population, params.accounts, params.seed);
    let population_collateral: f64 = profiles.iter().map(|p| p.collateral).sum();

    let mut ledger = Ledger::default();
    for k in 0..paths.len() {
        ledger.markets.push(MarketCtx {
            id: market_id(k),
            config: config.clone(),
            state: MarketState::new(first_ms),
            prices: Prices {
                oracle: Fixed::ONE,
                dampened: Fixed::ONE,
                opening_valid: false,
                liquidation_valid: false,
            },
            now_ms: first_ms,
        });
    }
    let deposit = |ledger: &mut Ledger, id, amount| {
        ledger
            .deposit(id, usd(amount))
            .map_err(risk("initial deposit"))
    };
    // The makers and liquidators are the same accounts in every market.
    let makers = Makers::new(MAKERS_PER_SIDE);
    for &maker in makers.pools.iter().flatten() {
        deposit(&mut ledger, maker, population_collateral * 1_000.0)?;
    }
    for liquidator in [LIQUIDATOR_OF_LONGS, LIQUIDATOR_OF_SHORTS] {
        deposit(&mut ledger, liquidator, population_collateral * 100.0)?;
    }
    let fund = usd(population_collateral * params.insurance_ratio);
    ledger.insurance_fund = fund;
    ledger.net_deposits += fund;

    // The last drawn accounts write options instead of trading perps.
    let writer_count = (params.option_writers.clamp(0.0, 1.0) * profiles.len() as f64).round();
    let first_writer = profiles.len() - writer_count as usize;
    let mut writers = Vec::new();
    let mut traders = Vec::with_capacity(first_writer);
    let mut clocks = Vec::with_capacity(first_writer);
    for (k, profile) in profiles.into_iter().enumerate() {
        let id = FIRST_TRADER + k as AccountId;
        if k >= first_writer {
            deposit(&mut ledger, id, profile.collateral)?;
            // Sales are staggered over the hours of one sale interval.
            let offset = (k - first_writer) as u64 % params.writer.sale_every_hours.max(1);
            writers.push(Writer::new(
                id,
                profile.collateral,
                trade_from_ms + offset * HOUR,
            ));
            continue;
        }
        let plan = draw_legs(&params.portfolio, paths.len(), params.seed, id);
        let leg = |p: &crate::population::LegPlan, weight: f64| Leg {
            market: p.market,
            long: profile.long == (p.direction == LegDirection::WithProfile),
            weight,
            size_units: 0,
            size: 0.0,
            quote: 0.0,
            social_snapshot: 0.0,
            entry_price: 0.0,
            realized_loss: 0.0,
            in_liquidation: false,
        };
        // Isolated, a pair is two sub-accounts, the collateral split by the legs' weights; both
        // keep the trader's clock (they open and close together unless one is liquidated).
        let accounts: Vec<(AccountId, f64, Vec<Leg>)> = match (params.margin, plan.as_slice()) {
            (MarginMode::Isolated, [first, second]) => {
                let second_collateral = (profile.collateral * second.weight).round();
                vec![
                    (
                        id,
                        profile.collateral - second_collateral,
                        vec![leg(first, 1.0)],
                    ),
                    (
                        id + ISOLATED_SUB_ACCOUNT,
                        second_collateral,
                        vec![leg(second, 1.0)],
                    ),
                ]
            }
            _ => vec![(
                id,
                profile.collateral,
                plan.iter().map(|p| leg(p, p.weight)).collect(),
            )],
        };
        for (account, collateral, legs) in accounts {
            deposit(&mut ledger, account, collateral)?;
            let mut clock = Clock::new(&params.population, params.seed, id);
            let first = clock.first_entry_ms();
            let mut t = Trader {
                id: account,
                profile: Profile {
                    collateral,
                    ..profile
                },
                phase: Phase::Waiting {
                    until_ms: trade_from_ms + first,
                },
                entry_equity: 0.0,
                in_liquidation: false,
                blocked: false,
                legs,
                collateral: 0.0,
            };
            t.refresh(&ledger);
            traders.push(t);
            clocks.push(clock);
        }
    }

    let normal_depth = population_collateral * params.depth_ratio;
    let books = paths
        .iter()
        .enumerate()
        .map(|(k, p)| Book {
            makers: makers.clone(),
            flow: 0.0,
            depth_now: 0.0,
            moves_price: params.feedback != Feedback::AllBut(k),
            result: MarketResult {
                name: p.name.clone(),
                ..MarketResult::default()
            },
        })
        .collect();
    let hot = traders.iter().map(Trader::hot).collect();
    let mut run = Run {
        ledger,
        traders,
        clocks,
        hot,
        params,
        metrics: Metrics::default(),
        books,
        writers,
        writer_hour_ms: trade_from_ms,
        capacity_left: 0,
    };
    run.metrics.writers = run.writers.len() as u64;
    let mut outside: Vec<Outside> = paths
        .iter()
        .map(|p| {
            let depth = normal_depth * p.depth_share;
            Outside {
                impact: Impact::new(depth, params.resilience_minutes * 60_000.0),
                depth: DepthModel::new(depth, params.depth_collapse, params.depth_model),
                feed: FeedState::default(),
                reported_depth: 0.0,
                next_depth_report_ms: first_ms,
                exogenous_vol: HourlyEwma::default(),
                hour_low: f64::INFINITY,
                hour_high: 0.0,
                exo_prices: Vec::new(),
                sim_prices: Vec::new(),
                series: Series::default(),
                simulated: 0.0,
            }
        })
        .collect();
    run.metrics.min_depth_fraction = 1.0;
    let reference = usd(params.reference_notional);
    let mut samples = Vec::new();
    let (mut vols, mut leverages) = (Vec::new(), Vec::new());
    let (mut fund_peak, mut previous_ms) = (whole(fund), first_ms);
    let (mut charges, mut open_interest) = (Vec::new(), Vec::new());

    for k in 0..ticks.len() {
        if k % 4096 == 0 {
            if let Some(bar) = progress {
                bar.inc(4096.min((ticks.len() - k) as u64));
            }
        }
        let now = ticks[k].at_ms;
        let trading = now >= trade_from_ms;
        let calls_before = run.metrics.liquidation_calls;
        run.capacity_left = params.capacity.calls_between(previous_ms, now);
        for (m, (path, world)) in paths.iter().zip(outside.iter_mut()).enumerate() {
            let tick = path.ticks[k];
            let book = &mut run.books[m];
            let flow = if book.moves_price { book.flow } else { 0.0 };
            // Last tick's forced flow meets the book as it stood; then the book thins (or
            // refills) with the market's move and that flow, for what comes next.
            world.impact.depth = world.depth.depth();
            // The price impact decays, then last tick's forced flow hits the book at full
            // strength.
            world.impact.decay(now.saturating_sub(previous_ms));
            world.impact.trade(flow);
            world.impact.depth = world.depth.observe(now, tick.price, flow);
            book.depth_now = world.impact.depth;
            if trading && m == 0 {
                run.metrics.min_depth_fraction =
                    run.metrics.min_depth_fraction.min(world.depth.fraction);
            }
            book.flow = 0.0;
            world.simulated = world.impact.apply(tick.price);
            if tick.live {
                let price = fx(world.simulated);
                let report = Report {
                    price,
                    confidence: fx(world.simulated * 1e-4),
                    timestamp_ms: now,
                };
                for slot in 0..FEEDERS {
                    // A report the guard rails reject is skipped, as a feeder's would be.
                    let _ = world.feed.submit(&oracle_config, slot, report, now);
                }
            }
            if now % 3_600_000 == 0 {
                world.exogenous_vol.fold(tick.price);
            }
            world.hour_low = world.hour_low.min(tick.price);
            world.hour_high = world.hour_high.max(tick.price);
            let ctx = &mut run.ledger.markets[m];
            let obs = observe(
                &world.feed,
                &oracle_config,
                &ctx.config,
                &mut ctx.state,
                now,
            )
            .map_err(risk("observe"))?;
            ctx.prices = obs.prices;
            ctx.now_ms = now;
            if trading && matches!(obs.transition, Some(t) if t.to == BreakerState::ReduceOnly) {
                run.metrics.breaker_trips += 1;
                book.result.breaker_trips += 1;
            }
            let moved =
                (world.impact.depth - world.reported_depth).abs() > 0.1 * world.reported_depth;
            if protocol.reports_depth() && (now >= world.next_depth_report_ms || moved) {
                world.reported_depth = world.impact.depth;
                let depth = usd(world.reported_depth);
                // The venue and two feeders report the same book: the market needs three
                // distinct reporters before any depth counts.
                for reporter in 0..ctx.config.liquidity.min_reporters {
                    let book = BookDepth {
                        bid: depth,
                        ask: depth,
                    };
                    report_depth(ctx, [reporter; 32], book).map_err(risk("depth report"))?;
                }
                world.next_depth_report_ms = now + HOUR;
            }
            if !trading && now % 3_600_000 == 0 {
                (world.hour_low, world.hour_high) = (f64::INFINITY, 0.0);
            }
        }
        previous_ms = now;
        if !trading {
            continue;
        }
        run.step(now)?;
        run.metrics.peak_calls_per_tick = run
            .metrics
            .peak_calls_per_tick
            .max(run.metrics.liquidation_calls - calls_before);

        let ctx = run.ctx();
        let opening = ctx.state.breaker.state == BreakerState::Normal && ctx.prices.opening_valid;
        let leverage = if opening {
            let req = position_requirements(ctx, reference, true)
                .map_err(risk("reference requirements"))?;
            reference as f64 / req.initial.max(1) as f64
        } else {
            0.0
        };
        let vol = f(ctx.state.forecast_vol);
        let breaker = match ctx.state.breaker.state {
            BreakerState::Normal => 0,
            BreakerState::ReduceOnly => 1,
            BreakerState::OracleHalt => 2,
            BreakerState::Paused => 3,
            BreakerState::Settled => 4,
        };
        vols.push(vol);
        leverages.push(leverage);
        let hourly = now % 3_600_000 == 0;
        if hourly {
            charges.push(run.liquidity_charge_fraction()?);
            let ctx = run.ctx();
            open_interest.push(ctx.state.open_interest as f64 / 1e8 * f(ctx.prices.oracle));
        }
        let fund_now = whole(run.ledger.insurance_fund);
        fund_peak = fund_peak.max(fund_now);
        run.metrics.insurance_drawdown = run.metrics.insurance_drawdown.max(fund_peak - fund_now);
        if !hourly {
            continue;
        }
        for (m, (path, world)) in paths.iter().zip(outside.iter_mut()).enumerate() {
            let tick = path.ticks[k];
            let ctx = &run.ledger.markets[m];
            let opening =
                ctx.state.breaker.state == BreakerState::Normal && ctx.prices.opening_valid;
            let req = position_requirements(ctx, reference, true)
                .map_err(risk("reference requirements"))?;
            let (initial, maintenance) = (
                req.initial as f64 / reference as f64,
                req.maintenance as f64 / reference as f64,
            );
            world.exo_prices.push(tick.price);
            world.sim_prices.push(world.simulated);
            let series = &mut world.series;
            series.initial.push(initial);
            series.maintenance.push(maintenance);
            series.open.push(opening);
            series
                .classifying_vol
                .push(world.exogenous_vol.annualized());
            series.exogenous.push(tick.price);
            series.exogenous_low.push(world.hour_low);
            series.exogenous_high.push(world.hour_high);
            series.simulated.push(world.simulated);
            let result = &mut run.books[m].result;
            result.hours.push(MarketHour {
                at_ms: now,
                exogenous: tick.price,
                simulated: world.simulated,
                exogenous_vol: world.exogenous_vol.annualized(),
                live: tick.live,
                own_liquidated: result.liquidated_notional - result.contagion_notional,
                contagion_liquidated: result.contagion_notional,
            });
            if m == 0 {
                samples.push(Sample {
                    initial_fraction: initial,
                    maintenance_fraction: maintenance,
                    exogenous_low: world.hour_low,
                    exogenous_high: world.hour_high,
                    exogenous_vol: world.exogenous_vol.annualized(),
                    at_ms: now,
                    exogenous: tick.price,
                    simulated: world.simulated,
                    leverage,
                    breaker,
                    liquidated: run.metrics.liquidated_notional,
                    bad_debt: run.metrics.bad_debt,
                    insurance: fund_now,
                    forecast_vol: vol,
                });
            }
            (world.hour_low, world.hour_high) = (f64::INFINITY, 0.0);
        }
    }
    if vols.is_empty() {
        return Err(SimError::EmptyWindow);
    }

    run.finish_writers()?;
    let mut m = run.metrics;
    m.ticks = vols.len();
    m.conserved = run.ledger.conserved();
    // (A writer still holding an options book is margined, not a deficit to resolve.)
    m.unresolved_deficits = run
        .ledger
        .accounts
        .values()
        .filter(|a| a.positions.is_empty() && a.options.is_none() && a.collateral < 0)
        .count() as u64;
    m.liquidity_charge = charges.iter().sum::<f64>() / charges.len().max(1) as f64;
    m.open_interest = open_interest.iter().sum::<f64>() / open_interest.len().max(1) as f64;
    if m.opens > 0 {
        m.mean_open_leverage /= m.opens as f64;
    }
    let mut markets: Vec<MarketResult> = Vec::with_capacity(paths.len());
    for (book, world) in run.books.into_iter().zip(&outside) {
        let mut r = book.result;
        r.max_drawdown = max_drawdown(world.sim_prices.iter().copied());
        r.exogenous_max_drawdown = max_drawdown(world.exo_prices.iter().copied());
        r.amplification = amplification(&world.exo_prices, &world.sim_prices);
        r.yardstick = Judgement::of(&world.series);
        markets.push(r);
    }
    let first = &markets[0];
    m.max_drawdown = first.max_drawdown;
    m.exogenous_max_drawdown = first.exogenous_max_drawdown;
    m.amplification = first.amplification;
    m.yardstick = first.yardstick;
    let (median, top_decile) = (quantile(&vols, 0.5), quantile(&vols, 0.9));
    let mean_where = |keep: &dyn Fn(f64) -> bool| {
        let picked: Vec<f64> = vols
            .iter()
            .zip(&leverages)
            .filter(|(v, _)| keep(**v))
            .map(|(_, l)| *l)
            .collect();
        if picked.is_empty() {
            0.0
        } else {
            picked.iter().sum::<f64>() / picked.len() as f64
        }
    };
    m.bad_debt_p95 = m.bad_debt;
    m.liquidated_notional_p95 = m.liquidated_notional;
    m.calm_leverage = mean_where(&|v| v < median);
    m.stress_leverage = mean_where(&|v| v >= top_decile);
    Ok(RunResult {
        protocol,
        metrics: m,
        samples,
        markets,
        elapsed: started.elapsed(),
    })
}

/// Realized vol of the simulated price over that of the exogenous path, from hourly log
/// returns (1 on a path that does not move).
fn amplification(exogenous: &[f64], simulated: &[f64]) -> f64 {
    let realized = |p: &[f64]| {
        p.windows(2)
            .map(|w| (w[1] / w[0]).ln().powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let exo_vol = realized(exogenous);
    if exo_vol > 0.0 {
        realized(simulated) / exo_vol
    } else {
        1.0
    }
}
