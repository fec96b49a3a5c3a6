//! `ballast-sim replay --data A.csv --data B.csv`: the cross-margin contagion report (see
//! `ballast_sim::cross`).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use ballast_oracle::candles::{format_timestamp_ms, read_csv};
use ballast_sim::cross::{self, Row, Variant};
use ballast_sim::market::{align, exogenous_path};
use ballast_sim::plot;
use ballast_sim::population::Portfolio;
use ballast_sim::protocol::Protocol;
use ballast_sim::run::{run_markets, MarketPath, Metrics, RunResult, SimParams};

use super::{sim_params, window, ReplayArgs, Window};

/// "BTC" for `btcusdt-1h-2022-2025.csv`: the file name up to its first `-`, without a quote
/// currency suffix, upper case.
fn market_name(path: &Path) -> String {
    let stem = path
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned());
    let base = stem
        .split(['-', '.', '_'])
        .next()
        .unwrap_or_default()
        .to_uppercase();
    ["USDT", "USDC", "USD"]
        .iter()
        .find_map(|q| base.strip_suffix(q).filter(|b| !b.is_empty()))
        .unwrap_or(&base)
        .to_string()
}

pub(super) fn replay(args: &ReplayArgs) -> Result<(), Box<dyn std::error::Error>> {
    // The population holds the first market, the second, or both (see `Portfolio`): a third
    // would be listed and never traded.
    if args.data.len() != 2 {
        return Err("the contagion report takes two markets: --data A.csv --data B.csv".into());
    }
    let mut series = Vec::new();
    for path in &args.data {
        let candles = read_csv(path).map_err(|e| format!("{}: {e:?}", path.display()))?;
        series.push((market_name(path), candles));
    }
    // The run starts when every file has started (no price is carried backwards).
    let first = series
        .iter()
        .map(|(_, c)| c.first().map(|c| c.timestamp_ms).ok_or("no candles"))
        .collect::<Result<Vec<u64>, _>>()?
        .into_iter()
        .max()
        .unwrap_or_default();
    let Window {
        from,
        to,
        warm_from,
    } = window(args, first)?;
    // Every market's path on the first market's clock, ending where the shortest file ends.
    let mut paths: Vec<MarketPath> = Vec::new();
    let depth_shares: Vec<f64> = args
        .cross
        .depth_shares
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()?;
    for (k, (name, candles)) in series.iter().enumerate() {
        let window: Vec<_> = candles
            .iter()
            .filter(|c| c.timestamp_ms >= warm_from && c.timestamp_ms < to)
            .cloned()
            .collect();
        let (ticks, _) = exogenous_path(&window);
        let depth_share = if k == 0 {
            1.0
        } else {
            *depth_shares
                .get(k - 1)
                .or(depth_shares.last())
                .ok_or("--depth-shares is empty")?
        };
        paths.push(MarketPath {
            name: name.clone(),
            ticks,
            depth_share,
        });
    }
    let end = paths
        .iter()
        .filter_map(|p| p.ticks.last().map(|t| t.at_ms))
        .min()
        .ok_or("no ticks")?;
    paths[0].ticks.retain(|t| t.at_ms <= end);
    let timeline = paths[0].ticks.clone();
    for p in paths.iter_mut().skip(1) {
        p.ticks = align(&timeline, &p.ticks);
        // Files on another bar or phase would leave the market unpriced: refuse them.
        let live = p.ticks.iter().filter(|t| t.live).count();
        if live * 10 < timeline.len() * 9 {
            return Err(format!(
                "{}: only {live} of {} ticks on the first file's clock",
                p.name,
                timeline.len()
            )
            .into());
        }
    }
    let trading_start = from.max(warm_from);

    let protocols: Vec<Protocol> = if args.run.protocols == "all" {
        vec![Protocol::Baseline, Protocol::Ballast]
    } else {
        args.run
            .protocols
            .split(',')
            .map(|name| Protocol::parse(name.trim()).ok_or(format!("unknown protocol {name}")))
            .collect::<Result<_, _>>()?
    };
    let variants = cross::variants(paths.len());
    let base = SimParams {
        portfolio: Portfolio {
            pair_share: args.cross.pair_share,
            hedged_share: args.cross.hedged_share,
            second_leg_weight: args.cross.second_leg_weight,
            second_market_share: args.cross.second_market_share,
        },
        ..sim_params(&args.run)
    };
    let seeds: Vec<u64> = (0..args.run.seeds.max(1)).map(|k| base.seed + k).collect();
    // (protocol, variant, seed) jobs.
    let jobs: Vec<(usize, usize, u64)> = (0..protocols.len())
        .flat_map(|p| (0..variants.len()).map(move |v| (p, v)))
        .flat_map(|(p, v)| seeds.iter().map(move |s| (p, v, *s)))
        .collect();
    let names: Vec<&str> = paths.iter().map(|p| p.name.as_str()).collect();
    eprintln!(
        "{} markets ({}) on {} ticks from {} (trading from {}), {} accounts, portfolio {:?}, {} runs",
        paths.len(),
        names.join(", "),
        timeline.len(),
        timeline.first().map_or(String::new(), |t| format_timestamp_ms(t.at_ms)),
        format_timestamp_ms(trading_start),
        base.accounts,
        base.portfolio,
        jobs.len()
    );
    let started = Instant::now();
    let threads = args
        .run
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
                let Some(&(p, v, seed)) = jobs.get(k) else {
                    break;
                };
                let variant: Variant = variants[v];
                let params = SimParams {
                    seed,
                    margin: variant.margin,
                    order: variant.order,
                    feedback: variant.feedback,
                    ..base
                };
                let outcome = run_markets(protocols[p], &params, &paths, trading_start, None)
                    .map_err(|e| {
                        format!("{} {} seed {seed}: {e}", protocols[p].name(), variant.name)
                    });
                if let Ok(mut slots) = slots.lock() {
                    slots[k] = Some(outcome);
                }
            });
        }
    });
    let runs: Vec<RunResult> = slots
        .into_inner()
        .map_err(|_| "worker panicked")?
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("not run".into())))
        .collect::<Result<_, _>>()?;
    let wall = started.elapsed();
    let rows: Vec<Row<'_>> = runs
        .chunks(seeds.len())
        .enumerate()
        .map(|(k, per_seed)| {
            let refs: Vec<&RunResult> = per_seed.iter().collect();
            let totals: Vec<Metrics> = per_seed.iter().map(|r| r.metrics.clone()).collect();
            Row {
                protocol: protocols[k / variants.len()].name(),
                variant: variants[k % variants.len()],
                markets: cross::mean_markets(&refs),
                totals: Metrics::mean(&totals),
            }
        })
        .collect();
    let correlation = runs
        .first()
        .filter(|r| r.markets.len() >= 2)
        .map(|r| cross::correlation(&r.markets[0].hours, &r.markets[1].hours));

    println!(
        "## Cross margin: {} from {} to {}, {} accounts, portfolio {:?}, depth shares {:?}, seeds {}..={} (means)\n",
        names.join(" + "),
        format_timestamp_ms(trading_start),
        timeline.last().map_or(String::new(), |t| format_timestamp_ms(t.at_ms)),
        base.accounts,
        base.portfolio,
        paths.iter().map(|p| p.depth_share).collect::<Vec<_>>(),
        seeds[0],
        seeds[seeds.len() - 1]
    );
    println!("{}", cross::markdown(&rows, correlation));
    let per_run = runs.iter().map(|r| r.elapsed.as_secs_f64()).sum::<f64>() / runs.len() as f64;
    println!(
        "- {} runs, {:.1} s each on average, wall time {:.1} s on {threads} thread(s)\n",
        runs.len(),
        per_run,
        wall.as_secs_f64()
    );
    std::fs::create_dir_all(&args.run.out)?;
    if !args.run.no_plots {
        // One panel per protocol: cross margin, worst market first, the first seed.
        let panels: Vec<(String, &RunResult)> = protocols
            .iter()
            .enumerate()
            .map(|(p, protocol)| {
                (
                    format!("{}, cross margin, worst market first", protocol.name()),
                    &runs[p * variants.len() * seeds.len()],
                )
            })
            .collect();
        let label = format!(
            "{} {} .. {}",
            names.join(" + "),
            &format_timestamp_ms(trading_start)[..10],
            timeline
                .last()
                .map_or(String::new(), |t| format_timestamp_ms(t.at_ms)[..10].into())
        );
        let file = args.run.out.join("contagion.svg");
        plot::contagion(
            &panels,
            &format!("Liquidated notional per market: own market and contagion, {label}"),
            &file,
        )?;
        println!("plot: {}", file.display());
    }
    let line = cross::json(&rows, correlation).to_string();
    std::fs::write(args.run.out.join("contagion.json"), format!("{line}\n"))?;
    println!("{line}");
    Ok(())
}
