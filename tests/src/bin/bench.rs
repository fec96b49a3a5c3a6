//! Ballast benchmark: weight (ref_time, proof_size) of each engine message in one drink session,
//! against a PSP22 `transfer` of the collateral token measured in the same session; fill and
//! liquidation weight as an account's positions grow from 1 to 16; optimized Wasm sizes.
//! Prints a Markdown table, writes target/bench/report.json, and ends with one JSON line.
#![allow(
    clippy::cast_precision_loss,
    clippy::float_arithmetic,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use std::fmt::Write as _;

use ballast_drink_tests::interface::HealthReport;
use ballast_drink_tests::*;
use drink::AccountId32;

const T0: u64 = 1_667_865_600_000;
const MARKETS: u32 = 16;
const MINUTE: u64 = 60_000;

struct Bench {
    h: Harness,
    rows: Vec<(String, Gas)>,
    feeders: Vec<Vec<AccountId32>>,
}

impl Bench {
    fn measure(&mut self, label: &str) -> Gas {
        let gas = self.h.last_gas;
        self.rows.push((label.to_string(), gas));
        gas
    }

    fn report_market(&mut self, market: u32, price: Fixed) {
        let feeders = self.feeders[market as usize - 1].clone();
        self.h.report(market, &feeders, price);
    }

    fn report_all(&mut self, price: Fixed) {
        for m in 1..=MARKETS {
            self.report_market(m, price);
        }
    }
}

fn deposit(h: &mut Harness, who: &AccountId32, amount: u128) {
    h.give_tokens(who, amount);
    h.approve_engine(who, amount);
    h.engine::<()>(who, "deposit", (amount,)).expect("deposit");
}

/// `who` approves the venue in every market (as a trader of that venue does once).
fn join_venue(h: &mut Harness, who: &AccountId32, venue: &AccountId32) {
    for m in 1..=MARKETS {
        h.approve_venue(who, m, venue);
    }
}

fn fill(
    h: &mut Harness,
    venue: &AccountId32,
    market: u32,
    taker: &AccountId32,
    maker: &AccountId32,
    size: i128,
    price: Fixed,
) {
    h.engine::<()>(
        venue,
        "fill",
        (
            market,
            taker.clone(),
            maker.clone(),
            size,
            price,
            0u128,
            0u128,
            maker.clone(),
        ),
    )
    .unwrap_or_else(|e| {
        panic!(
            "fill in market {market}, size {size}, taker {taker}: {e:?}; taker health {:?}",
            h.read::<HealthReport>("health", (taker.clone(),))
        )
    });
}

/// Least-squares line through (x, y): (intercept, slope, max relative residual).
fn fit(points: &[(f64, f64)]) -> (f64, f64, f64) {
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let sxy: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = points.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let residual = points
        .iter()
        .map(|(x, y)| ((intercept + slope * x - y) / y).abs())
        .fold(0.0, f64::max);
    (intercept, slope, residual)
}

fn main() {
    let mut b = Bench {
        h: Harness::new(T0),
        rows: vec![],
        feeders: vec![],
    };
    let owner = b.h.owner.clone();
    let venue = account(200);
    let maker = account(201);
    let keeper = account(202);
    for who in [&venue, &maker, &keeper] {
        b.h.fund_native(who);
    }
    // Markets 1..=16; market 1 has 3 feeders, 2 has 1, 3 has 5, the rest 3.
    let price = Fixed::from_int(20_000);
    for m in 1..=MARKETS {
        let feeders = match m {
            2 => 1,
            3 => 5,
            _ => 3,
        };
        let oracle = OracleConfig {
            min_reports: feeders.min(3),
            ..OracleConfig::default()
        };
        let config = MarketConfig::default_large_cap(Decimals {
            base: 8,
            quote: QUOTE_DECIMALS,
        });
        let accounts: Vec<AccountId32> = (0..feeders)
            .map(|i| account(100 + (m as u8) * 8 + i))
            .collect();
        for f in &accounts {
            b.h.fund_native(f);
        }
        b.h.list_market_with_feeders(m, config, oracle, &accounts);
        b.feeders.push(accounts);
    }
    for m in 1..=MARKETS {
        b.h.authorize_venue(m, &venue);
    }
    b.report_all(price);

    // The unit: a PSP22 transfer of the collateral token.
    let (token, a1, a2) = (b.h.token.clone(), account(2), account(3));
    b.h.fund_native(&a1);
    b.h.fund_native(&a2);
    b.h.give_tokens(&a1, 1_000 * USD);
    let r: Result<(), psp22::PSP22Error> =
        b.h.call(
            &a1,
            &token,
            "PSP22::transfer",
            (a2.clone(), 10 * USD, Vec::<u8>::new()),
        )
        .unwrap();
    r.unwrap();
    let psp22 = b.measure("PSP22::transfer (collateral token)");

    // Deposit and withdraw.
    b.h.approve_engine(&a1, 500 * USD);
    b.h.engine::<()>(&a1, "deposit", (500 * USD,)).unwrap();
    b.measure("deposit");
    b.h.engine::<()>(&a1, "withdraw", (100 * USD,)).unwrap();
    b.measure("withdraw");
    b.h.approve_venue(&a1, 1, &venue);
    b.measure("approve_venue");
    deposit(&mut b.h, &maker, 1_000_000_000 * USD);
    join_venue(&mut b.h, &maker, &venue);
    deposit(&mut b.h, &keeper, 100_000_000 * USD);

    // Feeder reports with 1, 3 and 5 feeders (the last report of a round, a minute later).
    b.h.set_time(T0 + MINUTE);
    for (market, label) in [
        (2, "submit_report (1 feeder)"),
        (1, "submit_report (3 feeders)"),
        (3, "submit_report (5 feeders)"),
    ] {
        b.report_market(market, price);
        b.measure(label);
    }
    for m in 4..=MARKETS {
        b.report_market(m, price);
    }
    // One depth report (one reporter of three needed: the depth it starts is not in use yet).
    b.h.engine::<()>(
        &venue,
        "report_depth",
        (1u32, 1_000_000 * USD, 1_000_000 * USD),
    )
    .expect("depth");
    b.measure("report_depth");

    // Fill scaling: trader k holds k positions (markets 1..=k) at 10x in total, then one more
    // fill in market 1 is measured.
    let mut fill_points = vec![];
    let mut traders = vec![];
    for k in 1..=MARKETS {
        let trader = account(60 + k as u8);
        b.h.fund_native(&trader);
        deposit(&mut b.h, &trader, 10_000 * USD);
        join_venue(&mut b.h, &trader, &venue);
        // 8x overall: 80,000 USD of notional spread over k markets (4 BTC at 20,000), inside
        // the cap the adapter's starting volatility (100%) allows.
        let per_market = 4 * BTC / i128::from(k);
        for m in 1..=k {
            fill(&mut b.h, &venue, m, &trader, &maker, per_market, price);
        }
        fill(&mut b.h, &venue, 1, &trader, &maker, BTC / 100, price);
        let gas = b.measure(&format!("fill ({k} positions)"));
        fill_points.push((k as f64, gas.ref_time as f64));
        traders.push(trader);
    }

    // Queries on the 16-position account.
    let sixteen = traders.last().unwrap().clone();
    let _: HealthReport = b.h.read("health", (sixteen.clone(),)).unwrap();
    b.measure("health query (16 positions)");
    let _: i128 =
        b.h.read(
            "max_position",
            (sixteen.clone(), 1u32, true, price, Fixed::ZERO),
        )
        .unwrap();
    b.measure("max_position query (16 positions)");
    let one = traders[0].clone();
    let _: HealthReport = b.h.read("health", (one.clone(),)).unwrap();
    b.measure("health query (1 position)");
    // The parts of a call, for the cost breakdown: the account's records alone, then one
    // market loaded and priced (its listing, feed and state read, the feed observed).
    let _: interface::AccountView = b.h.query("account", (one.clone(),));
    b.measure("account query (1 position): code, root and account reads");
    let _: interface::MarketRisk = b.h.read("market_risk", (1u32,)).unwrap();
    b.measure("market_risk query: one market loaded and priced");
    let _: i128 =
        b.h.read("max_position", (one, 1u32, true, price, Fixed::ZERO))
            .unwrap();
    b.measure("max_position query (1 position)");

    // Liquidation scaling: prices fall 12%, every trader (8x) is below maintenance; one chunk
    // of each is measured.
    b.h.set_time(T0 + 2 * MINUTE);
    let crashed = Fixed::from_int(17_600);
    b.report_all(crashed);
    let mut liq_points = vec![];
    for (k, trader) in traders.iter().enumerate() {
        b.h.engine::<()>(&keeper, "liquidate", (trader.clone(), 1u32))
            .unwrap_or_else(|e| panic!("liquidate {k}: {e:?}"));
        let gas = b.measure(&format!("liquidate chunk ({} positions)", k + 1));
        liq_points.push(((k + 1) as f64, gas.ref_time as f64));
    }

    // Bankruptcy resolution: an account at its maximum leverage after a 25% gap is closed chunk by chunk; the
    // last chunk resolves the deficit (insurance fund, then socialized).
    // Three hours later the crash's velocity breakers have reset and the price is back.
    b.h.set_time(T0 + 180 * MINUTE);
    b.report_all(price);
    let bankrupt = account(90);
    b.h.fund_native(&bankrupt);
    deposit(&mut b.h, &bankrupt, 1_000 * USD);
    join_venue(&mut b.h, &bankrupt, &venue);
    let most: i128 =
        b.h.read(
            "max_position",
            (bankrupt.clone(), 1u32, true, price, Fixed::ZERO),
        )
        .unwrap();
    fill(&mut b.h, &venue, 1, &bankrupt, &maker, most, price);
    b.h.set_time(T0 + 181 * MINUTE);
    b.report_market(1, Fixed::from_int(15_000));
    let health: HealthReport = b.h.read("health", (bankrupt.clone(),)).unwrap();
    assert!(
        health.maintenance.equity < 0,
        "the gap must leave the account bankrupt: {health:?}"
    );
    let mut resolution = Gas::default();
    for _ in 0..64 {
        b.h.engine::<()>(&keeper, "liquidate", (bankrupt.clone(), 1u32))
            .expect("bankrupt liquidation");
        let resolved =
            !b.h.engine_events::<interface::events::BankruptcyResolved>()
                .is_empty();
        if resolved {
            resolution = b.measure("liquidate: last chunk + bankruptcy resolution");
            break;
        }
    }
    assert!(resolution.ref_time > 0, "no bankruptcy resolution measured");

    // Guardian halt.
    b.h.engine::<()>(&owner, "halt_market", (5u32,)).unwrap();
    b.measure("halt_market (guardian)");

    // Sizes.
    let contract_sizes: Vec<(String, usize)> = [
        "ballast_engine_router",
        "ballast_engine_trading",
        "ballast_engine_liquidation",
        "ballast_engine_feeds",
        "ballast_engine_admin",
        "ballast_engine_collateral",
        "ballast_engine_views",
        "ballast_token",
        "ballast_venue",
    ]
    .iter()
    .map(|name| (name.to_string(), load_bundle(name).wasm.len()))
    .collect();
    // What one call loads at most: the router and its largest facet.
    let engine_wasm = contract_sizes[0].1
        + contract_sizes[1..7]
            .iter()
            .map(|(_, b)| *b)
            .max()
            .unwrap_or(0);

    // Output.
    let ratio = |g: Gas| g.ref_time as f64 / psp22.ref_time as f64;
    let mut md = String::new();
    writeln!(
        md,
        "| message | ref_time | proof_size | x PSP22 transfer (ref_time) |"
    )
    .unwrap();
    writeln!(md, "| --- | ---: | ---: | ---: |").unwrap();
    for (label, g) in &b.rows {
        writeln!(
            md,
            "| {label} | {} | {} | {:.2} |",
            g.ref_time,
            g.proof_size,
            ratio(*g)
        )
        .unwrap();
    }
    let (fi, fs, fr) = fit(&fill_points);
    let (li, ls, lr) = fit(&liq_points);
    writeln!(md, "\nScaling over 1..16 positions (least squares):\n").unwrap();
    writeln!(
        md,
        "- fill: {fi:.3e} + {fs:.3e} per position (max deviation from the line {:.1}%)",
        fr * 100.0
    )
    .unwrap();
    writeln!(
        md,
        "- liquidation chunk: {li:.3e} + {ls:.3e} per position (max deviation {:.1}%)",
        lr * 100.0
    )
    .unwrap();
    writeln!(
        md,
        "\nOptimized Wasm (drink's MaxCodeLen is 123 KiB per contract):\n"
    )
    .unwrap();
    for (name, bytes) in &contract_sizes {
        writeln!(
            md,
            "- {name}: {bytes} bytes ({:.1} KiB)",
            *bytes as f64 / 1024.0
        )
        .unwrap();
    }
    print!("{md}");

    let get = |prefix: &str| {
        b.rows
            .iter()
            .find(|(l, _)| l.starts_with(prefix))
            .map(|(_, g)| *g)
            .unwrap()
    };
    let fill1 = get("fill (1 positions)");
    let fill16 = get("fill (16 positions)");
    let report3 = get("submit_report (3 feeders)");
    let liquidate = get("liquidate chunk (1 positions)");
    let liquidate16 = get("liquidate chunk (16 positions)");
    let halt = get("halt_market");
    // Blocks: 2 s of ref_time (2e12) on contracts-node and on a parachain with async backing,
    // 75% of it for normal extrinsics; a parachain's proof budget is 5 MiB, 3.75 MiB of it for
    // normal extrinsics. The figures are drink's (pallet-contracts 31).
    let normal_ref_time = 1_500_000_000_000u64;
    let normal_proof = 3_932_160u64;
    let per_block_ref = normal_ref_time / liquidate.ref_time.max(1);
    let per_block_proof = normal_proof / liquidate.proof_size.max(1);
    let mut wasm_json = String::from("{");
    for (i, (name, bytes)) in contract_sizes.iter().enumerate() {
        if i > 0 {
            wasm_json.push(',');
        }
        write!(wasm_json, "\"{name}\":{bytes}").unwrap();
    }
    wasm_json.push('}');
    let pair = |key: &str, g: Gas| {
        format!(
            "\"{key}_ref_time\":{},\"{key}_proof_size\":{},\"{key}_ratio\":{:.3},\"{key}_proof_ratio\":{:.3}",
            g.ref_time,
            g.proof_size,
            ratio(g),
            g.proof_size as f64 / psp22.proof_size as f64
        )
    };
    let json = format!(
        "{{\"psp22_transfer_ref_time\":{},\"psp22_transfer_proof_size\":{},{},{},{},{},{},{},\"engine_wasm_bytes\":{},\"contracts_wasm_bytes\":{},\"fill_slope_per_position\":{:.0},\"liquidate_slope_per_position\":{:.0},\"liquidations_per_block_contracts_node\":{},\"liquidations_per_block_parachain_5mib\":{}}}",
        psp22.ref_time,
        psp22.proof_size,
        pair("fill_1pos", fill1),
        pair("fill_16pos", fill16),
        pair("report_3feeders", report3),
        pair("liquidate", liquidate),
        pair("liquidate_16pos", liquidate16),
        pair("halt_market", halt),
        engine_wasm,
        wasm_json,
        fs,
        ls,
        per_block_ref,
        per_block_ref.min(per_block_proof)
    );
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let mut full = String::from("{\"rows\":[");
    for (i, (label, g)) in b.rows.iter().enumerate() {
        if i > 0 {
            full.push(',');
        }
        write!(
            full,
            "{{\"message\":\"{label}\",\"ref_time\":{},\"proof_size\":{}}}",
            g.ref_time, g.proof_size
        )
        .unwrap();
    }
    write!(full, "],\"summary\":{json}}}").unwrap();
    std::fs::write(dir.join("report.json"), full).unwrap();
    println!("{json}");
}
