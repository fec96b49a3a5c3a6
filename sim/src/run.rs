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

use std::time::Instant;

use ballast_math::{Decimals, Fixed};
use ballast_oracle::{FeedState, OracleConfig, Report};
use ballast_risk::breaker::BreakerState;
use ballast_risk::feed::observe;
use ballast_risk::health::liquidity_charges;
use ballast_risk::health::{account_health, position_requirements, HealthKind};
use ballast_risk::ledger::{AccountId, Ledger};
use ballast_risk::liquidity::{BookDepth, CloseSide};
use ballast_risk::state::MarketId;
use ballast_risk::{report_depth, MarketCtx, MarketState, Prices};
use indicatif::ProgressBar;

use crate::market::{DepthModel, Impact, Tick};
use crate::options::HOUR;
use crate::population::{draw_legs, draw_profiles, Clock, LegDirection, Profile};
use crate::protocol::Protocol;
use crate::units::{from_f64 as fx, to_f64 as f};
use crate::yardstick::{percentile, Judgement, Series};

mod accounts;
mod liquidation;
mod params;
mod results;
mod trading;
mod writers;

use accounts::{market_id, Hot, KeepDepth, Leg, Makers, Mark, MarketView, Phase, Trader};
use params::risk;
pub use params::{
    Feedback, LiquidationCapacity, LiquidationOrder, MarginMode, MarketPath, SimError, SimParams,
    Unwind,
};
pub use results::{MarketHour, MarketResult, Metrics, Refusals, RunResult, Sample};
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

/// Quote whole units to base units.
pub(crate) fn usd(x: f64) -> i128 {
    (x * 1e6).round() as i128
}

fn whole(units: i128) -> f64 {
    units as f64 / 1e6
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
