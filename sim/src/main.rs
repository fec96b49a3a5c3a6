//! `ballast-sim replay`: see the crate docs and README ("Cascade simulator").

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use ballast_oracle::candles::{format_timestamp_ms, parse_timestamp_ms, read_csv, Candle};
use ballast_sim::ccp::{margin_series, CcpModel, CcpParams};
use ballast_sim::market::{exogenous_path, DepthCollapse};
use ballast_sim::plot::MarginLine;
use ballast_sim::population::Portfolio;
use ballast_sim::protocol::Protocol;
use ballast_sim::run::{run, LiquidationCapacity, Metrics, RunResult, SimParams, Unwind};
use ballast_sim::scenario::{impulse_response, synthetic, Recovery, Regime, Wick};
use ballast_sim::yardstick::{Judgement, Series};
use ballast_sim::{plot, report};
use clap::{Parser, Subcommand};

// The binary's own modules live in `src/main/` (the library's in `src/`).
#[path = "main/contagion.rs"]
mod contagion;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

#[derive(Parser)]
#[command(
    name = "ballast-sim",
    about = "Cascade simulator for the Ballast margin protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replays a candle file under each protocol and compares them.
    Replay(ReplayArgs),
    /// A synthetic crash: a calm regime, then a wick within one hour that recovers by its
    /// close or not, then calm again.
    Scenario(ScenarioArgs),
    /// The impulse test: synthetic prices whose volatility steps up and back down; how fast and
    /// how far each model's margin moves.
    Impulse(ImpulseArgs),
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// Candle CSV with header `timestamp,open,high,low,close,volume` (UTC, hourly or finer).
    /// Given twice or more (`--data BTC.csv --data ETH.csv`), the markets run on one clock in
    /// one ledger and the report is the cross-margin contagion report.
    #[arg(long, required = true)]
    data: Vec<PathBuf>,
    /// Start of trading: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` or Unix seconds/milliseconds.
    #[arg(long)]
    from: Option<String>,
    /// End (exclusive), same formats.
    #[arg(long)]
    to: Option<String>,
    /// Days before `--from` that feed the oracle (volatility estimate, ramps) without trading.
    #[arg(long, default_value_t = 90)]
    warmup_days: u64,
    #[command(flatten)]
    cross: CrossArgs,
    #[command(flatten)]
    run: RunArgs,
}

/// How the population spreads over several markets (see `ballast_sim::population::Portfolio`).
#[derive(clap::Args, Clone)]
struct CrossArgs {
    /// Share of the traders holding the first and second market together.
    #[arg(long, default_value_t = Portfolio::default().pair_share)]
    pair_share: f64,
    /// Of those pairs, the share whose second leg hedges the first.
    #[arg(long, default_value_t = Portfolio::default().hedged_share)]
    hedged_share: f64,
    /// Share of a pair's notional in the second market.
    #[arg(long, default_value_t = Portfolio::default().second_leg_weight)]
    second_leg_weight: f64,
    /// Share of the one-market traders in the second market.
    #[arg(long, default_value_t = Portfolio::default().second_market_share)]
    second_market_share: f64,
    /// Each further market's book depth as a share of the first's, comma-separated (ETH's
    /// depth within 1% runs at about half of BTC's on the large venues: an assumption).
    #[arg(long, default_value = "0.5")]
    depth_shares: String,
}

#[derive(clap::Args)]
struct ScenarioArgs {
    /// Annualized volatility of the calm regime.
    #[arg(long, default_value_t = 0.4)]
    calm_vol: f64,
    /// Days of calm before the wick (the first 90 only warm the oracle).
    #[arg(long, default_value_t = 104)]
    calm_days: u64,
    /// Fall within the wick's hour, fraction of the price.
    #[arg(long, default_value_t = 0.11)]
    wick: f64,
    /// Whether the wick recovers by its hour's close.
    #[arg(long, value_enum, default_value_t = RecoveryArg::Close)]
    recovery: RecoveryArg,
    /// Days of calm after the wick.
    #[arg(long, default_value_t = 7)]
    after_days: u64,
    /// Seed of the synthetic path.
    #[arg(long, default_value_t = 1)]
    path_seed: u64,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(clap::Args)]
struct ImpulseArgs {
    /// Annualized volatility before and after the step.
    #[arg(long, default_value_t = 0.5)]
    low_vol: f64,
    /// Annualized volatility of the step.
    #[arg(long, default_value_t = 1.5)]
    high_vol: f64,
    /// Days before the step (the first 90 only warm the oracle).
    #[arg(long, default_value_t = 120)]
    low_days: u64,
    /// Days of the step.
    #[arg(long, default_value_t = 30)]
    high_days: u64,
    /// Days after it.
    #[arg(long, default_value_t = 30)]
    after_days: u64,
    /// Seed of the synthetic path.
    #[arg(long, default_value_t = 1)]
    path_seed: u64,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RecoveryArg {
    /// The wick's hour closes where it opened.
    Close,
    /// It closes at its low.
    None,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum CollapseArg {
    /// Constant depth.
    Off,
    /// Depth thins with stress (see `ballast_sim::market`).
    On,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum CapacityArg {
    /// substrate-contracts-node: 191 liquidations per 6-second block.
    Node,
    /// A parachain at its 5 MiB proof budget: 38 per 6-second block.
    Parachain,
    /// No limit.
    Unlimited,
}

/// What every command shares: the population, the protocols, the market and the outputs.
#[derive(clap::Args, Clone)]
struct RunArgs {
    /// Trader accounts.
    #[arg(long, default_value_t = 2_000)]
    accounts: usize,
    /// Seed of every random draw (the first one, with `--seeds`).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Runs seeds `seed .. seed + seeds` and reports the mean of each figure and the 95th
    /// percentile of bad debt and liquidated notional (plots show the first seed).
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// Output directory for the plots and report.json.
    #[arg(long, default_value = "target/sim")]
    out: PathBuf,
    /// Protocols to run, comma-separated: baseline, ballast, ballast_no_depth, margin_only,
    /// breaker_only, throttle_only, ballast_no_budgets, or `all` (every one; ballast_no_budgets
    /// only with option writers, since without them it is ballast).
    #[arg(long, default_value = "all")]
    protocols: String,
    /// Depth within 1% of mid, as a multiple of the population's initial collateral.
    #[arg(long, default_value_t = 0.2)]
    depth_ratio: f64,
    /// Whether depth collapses in stress.
    #[arg(long, value_enum, default_value_t = CollapseArg::Off)]
    depth_collapse: CollapseArg,
    /// Block space for liquidation calls.
    #[arg(long, value_enum, default_value_t = CapacityArg::Node)]
    capacity: CapacityArg,
    /// Half-life of price impact, minutes.
    #[arg(long, default_value_t = 30.0)]
    resilience_minutes: f64,
    /// Most a liquidator sells per 5-minute tick and side, as a fraction of the book's current
    /// depth within 1% (the rest waits in its inventory); 0 sells everything at once.
    #[arg(long, default_value_t = 0.0)]
    unwind_depth_fraction: f64,
    /// Share of the accounts that write options (sell delta-hedged 7-day straddles) instead of
    /// trading perps.
    #[arg(long, default_value_t = 0.0)]
    option_writers: f64,
    /// Worker threads (protocols run in parallel).
    #[arg(long)]
    threads: Option<usize>,
    /// Skip the plots.
    #[arg(long)]
    no_plots: bool,
}

fn timestamp(text: &str) -> Result<u64, String> {
    parse_timestamp_ms(text)
        .or_else(|| parse_timestamp_ms(&format!("{text} 00:00:00")))
        .ok_or_else(|| format!("not a timestamp: {text}"))
}

/// The replay's time window, ms: trading from `from`, ending before `to`, fed from `warm_from`.
struct Window {
    from: u64,
    to: u64,
    warm_from: u64,
}

/// The window `args` ask for over data that starts at `first` (ms). Without `--from`, trading
/// starts once the warm-up has passed.
fn window(args: &ReplayArgs, first: u64) -> Result<Window, Box<dyn std::error::Error>> {
    let from = args
        .from
        .as_deref()
        .map(timestamp)
        .transpose()?
        .unwrap_or(first + args.warmup_days * DAY_MS);
    let to = args
        .to
        .as_deref()
        .map(timestamp)
        .transpose()?
        .unwrap_or(u64::MAX);
    let warm_from = from.saturating_sub(args.warmup_days * DAY_MS).max(first);
    Ok(Window {
        from,
        to,
        warm_from,
    })
}

fn replay(args: ReplayArgs) -> Result<(), Box<dyn std::error::Error>> {
    if args.data.len() > 1 {
        return contagion::replay(&args);
    }
    let data = &args.data[0];
    let candles = read_csv(data).map_err(|e| format!("{}: {e:?}", data.display()))?;
    let first = candles.first().ok_or("no candles")?.timestamp_ms;
    let Window {
        from,
        to,
        warm_from,
    } = window(&args, first)?;
    let window: Vec<_> = candles
        .into_iter()
        .filter(|c| c.timestamp_ms >= warm_from && c.timestamp_ms < to)
        .collect();
    let source = data
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into());
    compare(&window, from.max(warm_from), &source, &args.run)?;
    Ok(())
}

/// Start of the synthetic series (2024-01-01, a date with no meaning but a calendar).
const SYNTHETIC_START_MS: u64 = 1_704_067_200_000;
const DAY_MS: u64 = 86_400_000;
/// Days of a synthetic series that only warm the oracle, as in a replay.
const WARMUP_DAYS: u64 = 90;

fn scenario(args: ScenarioArgs) -> Result<(), Box<dyn std::error::Error>> {
    let calm = |days: u64| Regime {
        hours: days * 24,
        annual_vol: args.calm_vol,
    };
    let wick = Wick {
        depth: args.wick,
        recovery: match args.recovery {
            RecoveryArg::Close => Recovery::ByTheClose,
            RecoveryArg::None => Recovery::None,
        },
    };
    let candles = synthetic(
        &[calm(args.calm_days), calm(args.after_days)],
        Some(wick),
        SYNTHETIC_START_MS,
        30_000.0,
        args.path_seed,
    );
    let source = format!(
        "scenario: {:.0}% calm, {:.0}% wick ({}), path seed {}",
        args.calm_vol * 100.0,
        args.wick * 100.0,
        match args.recovery {
            RecoveryArg::Close => "recovers by its close",
            RecoveryArg::None => "no recovery",
        },
        args.path_seed
    );
    let trading = SYNTHETIC_START_MS + WARMUP_DAYS.min(args.calm_days) * DAY_MS;
    compare(&candles, trading, &source, &args.run)?;
    Ok(())
}

fn impulse(args: ImpulseArgs) -> Result<(), Box<dyn std::error::Error>> {
    let regime = |days: u64, annual_vol| Regime {
        hours: days * 24,
        annual_vol,
    };
    let candles = synthetic(
        &[
            regime(args.low_days, args.low_vol),
            regime(args.high_days, args.high_vol),
            regime(args.after_days, args.low_vol),
        ],
        None,
        SYNTHETIC_START_MS,
        30_000.0,
        args.path_seed,
    );
    let source = format!(
        "impulse: volatility {:.0}% -> {:.0}% for {} days -> {:.0}%, path seed {}",
        args.low_vol * 100.0,
        args.high_vol * 100.0,
        args.high_days,
        args.low_vol * 100.0,
        args.path_seed
    );
    let trading = SYNTHETIC_START_MS + WARMUP_DAYS.min(args.low_days) * DAY_MS;
    let compared = compare(&candles, trading, &source, &args.run)?;
    // Hours of the trading window at which the step starts and ends.
    let step = ((args.low_days.saturating_sub(WARMUP_DAYS.min(args.low_days))) * 24) as usize;
    let length = (args.high_days * 24) as usize;
    println!("\n### Impulse response (IM of a new 10,000 USD position; step at hour {step} of trading)\n");
    println!("| model | IM before | IM at the new level | hours to 50% | hours to 90% | overshoot | hours closed in the step | back down: hours to 50% |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let hours = |h: Option<u64>| h.map_or("never".to_string(), |h| h.to_string());
    for (name, margin, open) in &compared.series {
        let up = impulse_response(margin, open, step, length);
        // The way back: the same measure on the fall (in negated IM).
        let negated: Vec<f64> = margin.iter().map(|m| -m).collect();
        let down = impulse_response(&negated, open, step + length, length);
        println!(
            "| {name} | {:.2}% | {:.2}% | {} | {} | {:.1}% | {} | {} |",
            up.before * 100.0,
            up.after * 100.0,
            hours(up.hours_to_half),
            hours(up.hours_to_ninety),
            up.overshoot * 100.0,
            up.closed_hours,
            hours(down.hours_to_half),
        );
    }
    Ok(())
}

/// The run parameters `args` ask for.
fn sim_params(args: &RunArgs) -> SimParams {
    SimParams {
        accounts: args.accounts,
        seed: args.seed,
        depth_ratio: args.depth_ratio,
        resilience_minutes: args.resilience_minutes,
        option_writers: args.option_writers,
        depth_collapse: match args.depth_collapse {
            CollapseArg::Off => DepthCollapse::Off,
            CollapseArg::On => DepthCollapse::On,
        },
        capacity: match args.capacity {
            CapacityArg::Node => LiquidationCapacity::CONTRACTS_NODE,
            CapacityArg::Parachain => LiquidationCapacity::PARACHAIN,
            CapacityArg::Unlimited => LiquidationCapacity::UNLIMITED,
        },
        unwind: if args.unwind_depth_fraction > 0.0 {
            Unwind::Paced {
                depth_fraction_per_tick: args.unwind_depth_fraction,
            }
        } else {
            Unwind::Immediate
        },
        ..SimParams::default()
    }
}

/// What a comparison produced besides its files: per model, the hourly IM series and whether
/// a new position could open (for the impulse response).
struct Compared {
    series: Vec<(String, Vec<f64>, Vec<bool>)>,
}

/// Runs every protocol (and seed) over `candles` with trading from `trading_start`, judges them
/// and the clearing-house comparators, prints the tables and writes the plots and report.json.
fn compare(
    candles: &[Candle],
    trading_start: u64,
    source: &str,
    args: &RunArgs,
) -> Result<Compared, Box<dyn std::error::Error>> {
    let (ticks, tick_ms) = exogenous_path(candles);
    let protocols: Vec<Protocol> = if args.protocols == "all" {
        Protocol::ALL
            .into_iter()
            .filter(|p| args.option_writers > 0.0 || *p != Protocol::BallastNoBudgets)
            .collect()
    } else {
        args.protocols
            .split(',')
            .map(|name| Protocol::parse(name.trim()).ok_or(format!("unknown protocol {name}")))
            .collect::<Result<_, _>>()?
    };
    let params = sim_params(args);
    eprintln!(
        "{} ticks of {} min from {} (trading from {}), {} accounts (option-writer share {}), seed {}, protocols {}",
        ticks.len(),
        tick_ms / 60_000,
        ticks
            .first()
            .map_or(String::new(), |t| format_timestamp_ms(t.at_ms)),
        format_timestamp_ms(trading_start),
        params.accounts,
        params.option_writers,
        params.seed,
        protocols
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(",")
    );

    let started = Instant::now();
    let seeds: Vec<u64> = (0..args.seeds.max(1)).map(|k| params.seed + k).collect();
    let jobs: Vec<(usize, u64)> = (0..protocols.len())
        .flat_map(|p| seeds.iter().map(move |s| (p, *s)))
        .collect();
    let bars = MultiProgress::new();
    let style = ProgressStyle::with_template("{prefix:>14} {bar:40} {pos}/{len} ticks {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    let progress: Vec<ProgressBar> = protocols
        .iter()
        .map(|p| {
            let bar = bars.add(ProgressBar::new((ticks.len() * seeds.len()) as u64));
            bar.set_style(style.clone());
            bar.set_prefix(p.name());
            bar
        })
        .collect();
    let threads = args
        .threads
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
        .clamp(1, jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<Result<RunResult, String>>>> = Mutex::new(vec![None; jobs.len()]);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(p, seed)) = jobs.get(k) else {
                    break;
                };
                let protocol = protocols[p];
                let job = SimParams { seed, ..params };
                let outcome = run(protocol, &job, &ticks, trading_start, Some(&progress[p]))
                    .map_err(|e| format!("{} seed {seed}: {e}", protocol.name()));
                if let Ok(mut slots) = slots.lock() {
                    slots[k] = Some(outcome);
                }
            });
        }
    });
    progress.iter().for_each(ProgressBar::finish_and_clear);
    let runs: Vec<RunResult> = slots
        .into_inner()
        .map_err(|_| "worker panicked")?
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("not run".into())))
        .collect::<Result<_, _>>()?;
    // Per protocol: the first seed's run, with the metrics averaged over the seeds.
    let results: Vec<RunResult> = runs
        .chunks(seeds.len())
        .map(|per_seed| {
            let metrics: Vec<_> = per_seed.iter().map(|r| r.metrics.clone()).collect();
            RunResult {
                metrics: Metrics::mean(&metrics),
                elapsed: per_seed.iter().map(|r| r.elapsed).sum(),
                ..per_seed[0].clone()
            }
        })
        .collect();
    let wall = started.elapsed();

    // The clearing-house models on the hours of the first run, with the hours Ballast closed
    // (reduce-only, halted) closed for them too, so that procyclicality and cost leave out the
    // same hours in every row.
    let hours = &results.first().ok_or("no protocol")?.samples;
    let closed_by: Option<&RunResult> = results
        .iter()
        .find(|r| r.protocol == Protocol::Ballast)
        .or(results.first());
    let ccp_params = CcpParams::default();
    let comparators: Vec<(CcpModel, Series, Vec<u64>)> = CcpModel::ALL
        .into_iter()
        .map(|model| {
            let by_hour: HashMap<u64, (f64, f64)> = margin_series(model, &ccp_params, candles)
                .into_iter()
                .map(|(at, im, vol)| (at, (im, vol)))
                .collect();
            let (mut series, mut times) = (Series::default(), Vec::new());
            let mut last = None;
            for (k, s) in hours.iter().enumerate() {
                // An hour without a candle (a gap in the data) keeps the last IM, so that the
                // series stays indexed by the hour.
                let Some((im, _)) = by_hour.get(&s.at_ms).copied().or(last) else {
                    continue;
                };
                last = Some((im, 0.0));
                series.initial.push(im);
                // Maintenance at half of initial, as the static tiers and Hyperliquid have it.
                series.maintenance.push(im / 2.0);
                series.open.push(
                    closed_by.is_none_or(|r| r.samples.get(k).is_none_or(|c| c.leverage > 0.0)),
                );
                series.classifying_vol.push(s.exogenous_vol);
                series.exogenous.push(s.exogenous);
                series.exogenous_low.push(s.exogenous_low);
                series.exogenous_high.push(s.exogenous_high);
                times.push(s.at_ms);
            }
            (model, series, times)
        })
        .collect();
    let judged: Vec<(&str, Judgement)> = comparators
        .iter()
        .map(|(model, series, _)| (model.name(), Judgement::of(series)))
        .collect();

    println!(
        "## {source}: {} to {}, {} accounts, depth ratio {} (collapse {}), capacity {}, option-writer share {}, seeds {}..={} (means)\n",
        format_timestamp_ms(trading_start),
        ticks
            .last()
            .map_or(String::new(), |t| format_timestamp_ms(t.at_ms)),
        params.accounts,
        params.depth_ratio,
        match params.depth_collapse {
            DepthCollapse::Off => "off",
            DepthCollapse::On => "on",
        },
        match args.capacity {
            CapacityArg::Node => "contracts-node",
            CapacityArg::Parachain => "parachain",
            CapacityArg::Unlimited => "unlimited",
        },
        params.option_writers,
        seeds[0],
        seeds[seeds.len() - 1]
    );
    println!("{}", report::markdown(&results));
    println!(
        "### Clearing-house yardstick (IM of a new 10,000 USD position; 8 h windows, 99.5%; comparators on the exogenous path only, not run through the liquidation loop)\n"
    );
    println!("{}", report::yardstick_markdown(&results, &judged));
    println!(
        "Breaches: the most over the 8 phases of the windows, per side (mean over seeds). Closed hours (reduce-only, halted) of `ballast` are left out of every row's procyclicality and cost; calm and stressed hours are ranked by one EWMA of the exogenous path for every row."
    );
    if seeds.len() < 20 {
        println!(
            "The 95th percentiles are over {} seed(s): below 20 seeds they are about the largest run's figure.",
            seeds.len()
        );
    }
    println!();
    for r in &results {
        println!(
            "- {}: {:.1} s for {} ticks x {} seed(s)",
            r.protocol.name(),
            r.elapsed.as_secs_f64(),
            r.metrics.ticks,
            seeds.len()
        );
    }
    println!(
        "- wall time {:.1} s on {threads} thread(s)\n",
        wall.as_secs_f64()
    );

    let mut series: Vec<(String, Vec<f64>, Vec<bool>)> = results
        .iter()
        .map(|r| {
            (
                r.protocol.name().to_string(),
                r.samples.iter().map(|s| s.initial_fraction).collect(),
                r.samples.iter().map(|s| s.leverage > 0.0).collect(),
            )
        })
        .collect();
    series.extend(
        comparators
            .iter()
            .map(|(model, s, _)| (model.name().to_string(), s.initial.clone(), s.open.clone())),
    );

    std::fs::create_dir_all(&args.out)?;
    if !args.no_plots {
        let label = format!(
            "{source} {} .. {}",
            &format_timestamp_ms(trading_start)[..10],
            ticks
                .last()
                .map_or(String::new(), |t| format_timestamp_ms(t.at_ms)[..10].into())
        );
        let main: Vec<RunResult> = results
            .iter()
            .filter(|r| matches!(r.protocol, Protocol::Baseline | Protocol::Ballast))
            .cloned()
            .collect();
        plot::prices(
            &main,
            &format!("Price: exogenous vs simulated, {label}"),
            &args.out.join("price.svg"),
        )?;
        plot::leverage(
            &main,
            &format!("Allowed leverage and breaker, {label}"),
            &args.out.join("leverage.svg"),
        )?;
        plot::liquidations(
            &results,
            &format!("Cumulative liquidations, {label}"),
            &args.out.join("liquidations.svg"),
        )?;
        let lines: Vec<MarginLine> = results
            .iter()
            .filter(|r| matches!(r.protocol, Protocol::Baseline | Protocol::Ballast))
            .map(|r| MarginLine {
                name: r.protocol.name().into(),
                points: r
                    .samples
                    .iter()
                    .map(|s| (s.at_ms, s.initial_fraction))
                    .collect(),
            })
            .chain(comparators.iter().map(|(model, s, times)| {
                MarginLine {
                    name: model.name().into(),
                    points: times
                        .iter()
                        .copied()
                        .zip(s.initial.iter().copied())
                        .collect(),
                }
            }))
            .collect();
        plot::margin(
            &lines,
            &format!("Initial margin of a new 10,000 USD position, {label}"),
            &args.out.join("margin.svg"),
        )?;
        println!(
            "plots: {}/{{price,leverage,liquidations,margin}}.svg",
            args.out.display()
        );
    }
    std::fs::write(args.out.join("samples.csv"), report::samples_csv(&results))?;
    let line = report::json(&results, &judged);
    std::fs::write(args.out.join("report.json"), format!("{line}\n"))?;
    println!("{line}");
    Ok(Compared { series })
}

fn main() {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Replay(args) => replay(args),
        Command::Scenario(args) => scenario(args),
        Command::Impulse(args) => impulse(args),
    };
    if let Err(e) = outcome {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
