//! `ballast-sim replay`: see the crate docs and README ("Cascade simulator").

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use ballast_oracle::candles::{format_timestamp_ms, parse_timestamp_ms, read_csv};
use ballast_sim::market::exogenous_path;
use ballast_sim::protocol::Protocol;
use ballast_sim::run::{run, Metrics, RunResult, SimParams};
use ballast_sim::{plot, report};
use clap::{Parser, Subcommand};
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
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// Candle CSV with header `timestamp,open,high,low,close,volume` (UTC, hourly or finer).
    #[arg(long)]
    data: PathBuf,
    /// Start of trading: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` or Unix seconds/milliseconds.
    #[arg(long)]
    from: Option<String>,
    /// End (exclusive), same formats.
    #[arg(long)]
    to: Option<String>,
    /// Trader accounts.
    #[arg(long, default_value_t = 2_000)]
    accounts: usize,
    /// Seed of every random draw (the first one, with `--seeds`).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Runs seeds `seed .. seed + seeds` and reports the mean of each figure (plots show the
    /// first seed).
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
    /// Half-life of price impact, minutes.
    #[arg(long, default_value_t = 30.0)]
    resilience_minutes: f64,
    /// Days before `--from` that feed the oracle (volatility estimate, ramps) without trading.
    #[arg(long, default_value_t = 90)]
    warmup_days: u64,
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

fn replay(args: ReplayArgs) -> Result<(), Box<dyn std::error::Error>> {
    let candles = read_csv(&args.data).map_err(|e| format!("{}: {e:?}", args.data.display()))?;
    let first = candles.first().ok_or("no candles")?.timestamp_ms;
    // Without --from, trading starts once the warm-up has passed.
    let from = args
        .from
        .as_deref()
        .map(timestamp)
        .transpose()?
        .unwrap_or(first + args.warmup_days * 86_400_000);
    let to = args
        .to
        .as_deref()
        .map(timestamp)
        .transpose()?
        .unwrap_or(u64::MAX);
    let warm_from = from
        .saturating_sub(args.warmup_days * 86_400_000)
        .max(first);
    let window: Vec<_> = candles
        .into_iter()
        .filter(|c| c.timestamp_ms >= warm_from && c.timestamp_ms < to)
        .collect();
    let (ticks, tick_ms) = exogenous_path(&window);
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
    let params = SimParams {
        accounts: args.accounts,
        seed: args.seed,
        depth_ratio: args.depth_ratio,
        resilience_minutes: args.resilience_minutes,
        option_writers: args.option_writers,
        ..SimParams::default()
    };
    let trading_start = from.max(warm_from);
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

    println!(
        "## Cascade replay: {} to {}, {} accounts, depth ratio {}, option-writer share {}, seeds {}..={} (means)\n",
        format_timestamp_ms(trading_start),
        ticks
            .last()
            .map_or(String::new(), |t| format_timestamp_ms(t.at_ms)),
        params.accounts,
        params.depth_ratio,
        params.option_writers,
        seeds[0],
        seeds[seeds.len() - 1]
    );
    println!("{}", report::markdown(&results));
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

    std::fs::create_dir_all(&args.out)?;
    if !args.no_plots {
        let label = format!(
            "{} {} .. {}",
            args.data
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into()),
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
        println!(
            "plots: {}/{{price,leverage,liquidations}}.svg",
            args.out.display()
        );
    }
    std::fs::write(args.out.join("samples.csv"), report::samples_csv(&results))?;
    let line = report::json(&results);
    std::fs::write(args.out.join("report.json"), format!("{line}\n"))?;
    println!("{line}");
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Replay(args) => replay(args),
    };
    if let Err(e) = outcome {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
