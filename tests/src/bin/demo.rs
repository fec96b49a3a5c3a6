//! Ballast demo: deploys the collateral token and the margin engine in the drink sandbox (the
//! real pallet-contracts runtime), replays the FTX crash (2022-11-07..10) from real BTC candles,
//! and prints prices, volatility, leverage caps, breaker events, liquidations, the insurance fund
//! and the weight of each call, ending with one JSON line.
//!
//! Usage: `demo [FILE.csv] [FROM-DATE] [TO-DATE]` (dates as YYYY-MM-DD, inclusive).
#![allow(
    clippy::cast_precision_loss,
    clippy::float_arithmetic,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use ballast_drink_tests::replay::{default_traders, run};
use ballast_drink_tests::{Fixed, Harness, USD};
use ballast_oracle::candles::{format_timestamp_ms, parse_timestamp_ms, read_csv};

fn f(x: Fixed) -> f64 {
    x.to_bits() as f64 / 2f64.powi(48)
}

fn usd(x: i128) -> f64 {
    x as f64 / USD as f64
}

/// `MM-DD HH:MM` (UTC) of a block time.
fn when(ms: u64) -> String {
    format_timestamp_ms(ms)[5..].to_string()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let manifest = env!("CARGO_MANIFEST_DIR");
    let shared = format!("{manifest}/../../shared/data/btcusdt-1h-2022-2025.csv");
    let excerpt = format!("{manifest}/../data/btcusdt-1h-2022-10-01_2022-11-30.csv");
    let file = args.next().unwrap_or_else(|| {
        if std::path::Path::new(&shared).exists() {
            shared
        } else {
            excerpt
        }
    });
    let from = args.next().unwrap_or_else(|| "2022-11-07".into());
    let to = args.next().unwrap_or_else(|| "2022-11-10".into());
    let from_ms = parse_timestamp_ms(&format!("{from} 00:00:00")).expect("from date");
    let to_ms = parse_timestamp_ms(&format!("{to} 23:59:59")).expect("to date");
    let all = read_csv(&file).expect("candles");
    let candles: Vec<_> = all
        .iter()
        .copied()
        .filter(|c| c.timestamp_ms >= from_ms && c.timestamp_ms <= to_ms)
        .collect();
    // Two weeks of hourly closes before the crash warm the volatility forecast up.
    let warmup: Vec<_> = all
        .iter()
        .copied()
        .filter(|c| c.timestamp_ms < from_ms && c.timestamp_ms + 14 * 86_400_000 >= from_ms)
        .collect();
    println!("# Ballast demo: {} hourly candles from {file}, {from} .. {to} (after {} hours of warm-up prices)", candles.len(), warmup.len());
    println!("Deploying token and engine in the drink sandbox; 14 traders, a venue, a keeper, 4 feeders (one of them out in each round).\n");

    let mut h = Harness::new(
        warmup
            .first()
            .or(candles.first())
            .expect("candles in range")
            .timestamp_ms,
    );
    let report = run(
        &mut h,
        &warmup,
        &candles,
        &default_traders(),
        250_000,
        50_000,
    );

    println!("## Market, every 6 hours\n");
    println!("| time (UTC) | oracle | dampened | forecast vol | leverage cap (existing) | (new positions) | breaker | liquidations | insurance fund |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |");
    for row in report.hours.iter().step_by(6) {
        println!(
            "| {} | {:.2} | {:.2} | {:.1}% | {:.2}x | {:.2}x | {:?} | {} | {:.2} |",
            when(row.at_ms),
            f(row.risk.oracle),
            f(row.risk.dampened),
            f(row.risk.forecast_vol) * 100.0,
            f(row.risk.applied_leverage_cap),
            f(row.risk.new_position_leverage_cap),
            row.risk.breaker,
            row.liquidations,
            usd(row.insurance_fund)
        );
    }
    println!("\n## Breaker events\n");
    for (at, e) in &report.breaker_events {
        println!(
            "- {} {:?} -> {:?} (move {:.2}%)",
            when(*at),
            e.from,
            e.to,
            f(e.move_fraction) * 100.0
        );
    }
    println!(
        "\nNew risk refused while reduce-only or halted: {} attempts",
        report.refused_opens
    );
    println!(
        "\n## Liquidations ({} chunks, {} deferred by the throttle)\n",
        report.liquidations.len(),
        report.throttled
    );
    for (at, l) in report.liquidations.iter().take(40) {
        println!(
            "- {} account {:02x}.. closed {:.4} BTC, notional {:.2}, penalty {:.2} (insurance {:.2}){}",
            when(*at),
            AsRef::<[u8; 32]>::as_ref(&l.account)[0],
            l.closed_size as f64 / 1e8,
            usd(l.notional),
            usd(l.penalty),
            usd(l.to_insurance),
            if l.bankrupt { ", bankrupt" } else { "" }
        );
    }
    if report.liquidations.len() > 40 {
        println!("- ... {} more", report.liquidations.len() - 40);
    }
    println!("\n## Bankruptcies\n");
    for (at, b) in &report.bankruptcies {
        println!(
            "- {} account {:02x}..: deficit {:.2}, insurance fund {:.2}, socialized {:.2}",
            when(*at),
            AsRef::<[u8; 32]>::as_ref(&b.account)[0],
            usd(b.deficit),
            usd(b.from_insurance),
            usd(b.socialized)
        );
    }
    println!("\n## Weight per call (drink, pallet-contracts reference weights)\n");
    println!("| message | calls | mean ref_time | max ref_time | mean proof_size |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (label, gas) in &report.gas {
        let n = gas.len() as u64;
        let mean_rt = gas.iter().map(|g| g.ref_time).sum::<u64>() / n;
        let max_rt = gas.iter().map(|g| g.ref_time).max().unwrap_or(0);
        let mean_ps = gas.iter().map(|g| g.proof_size).sum::<u64>() / n;
        println!("| {label} | {n} | {mean_rt} | {max_rt} | {mean_ps} |");
    }
    println!("\n## Reconciliation\n");
    println!("- token balance of the engine: {}", report.engine_balance);
    println!(
        "- engine deposits minus withdrawals: {}",
        report.net_deposits
    );
    println!(
        "- collateral + position quotes + insurance fund + settlement pool: {}",
        report.accounted
    );
    println!(
        "- insurance fund: {:.2} (seeded {:.2})",
        usd(report.insurance_fund),
        usd(report.insurance_seed)
    );
    let trips = report
        .breaker_events
        .iter()
        .filter(|(_, e)| e.to == ballast_risk::BreakerState::ReduceOnly)
        .count();
    println!(
        "{{\"liquidations\":{},\"bankruptcies\":{},\"breaker_trips\":{},\"reconciled\":{},\"insurance_fund\":{}}}",
        report.liquidations.len(),
        report.bankruptcies.len(),
        trips,
        report.reconciled(),
        report.insurance_fund
    );
}
