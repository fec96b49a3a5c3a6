//! Load run in the drink sandbox: 1,000 accounts across two markets (BTC and ETH, real hourly
//! candles from ../shared/data) through the FTX crash (2022-11-07..10). Feeders report both
//! markets at four points per candle; a keeper liquidates under the default listing (no
//! throttle since the clearing-house issue) over as many blocks as it takes, and sells what it
//! takes over. At the
//! end the token contract, the engine's totals and the sum over every account reconcile to the
//! unit. Prints weight per message, the total, and the largest single call against the block
//! limits, ending with one JSON line.
//!
//! Usage: `load [ACCOUNTS]` (default 1,000); `scripts/load.sh`.
#![allow(
    clippy::cast_precision_loss,
    clippy::float_arithmetic,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use std::collections::BTreeMap;

use ballast_drink_tests::interface::{AccountView, EngineError, HealthReport, MarketRisk};
use ballast_drink_tests::*;
use ballast_math::Rounding;
use ballast_oracle::candles::{parse_timestamp_ms, read_csv, Candle};
use ballast_risk::RiskError;
use drink::AccountId32;

const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;
const DECIMALS: Decimals = Decimals {
    base: 8,
    quote: QUOTE_DECIMALS,
};
/// contracts-node: 2 s of ref_time per block, 75% of it for normal calls.
const BLOCK_REF_TIME: u64 = 1_500_000_000_000;
/// Aleph Zero: 400 ms per block, 75% for normal calls.
const SMALL_BLOCK_REF_TIME: u64 = 300_000_000_000;
/// Proof size limit of a parachain block (5 MiB).
const BLOCK_PROOF: u64 = 5 * 1024 * 1024;

/// A distinct account for any `n` (the harness's `account(u8)` ids are 32 copies of one byte).
fn acct(n: u32) -> AccountId32 {
    let mut bytes = [0xA5u8; 32];
    bytes[..4].copy_from_slice(&n.to_le_bytes());
    AccountId32::new(bytes)
}

fn f(x: Fixed) -> f64 {
    x.to_bits() as f64 / 2f64.powi(48)
}

#[derive(Default)]
struct Stats {
    calls: BTreeMap<&'static str, (u64, u128, u128, Gas)>,
    largest: (Gas, &'static str),
}

impl Stats {
    fn record(&mut self, label: &'static str, gas: Gas) {
        let e = self.calls.entry(label).or_default();
        e.0 += 1;
        e.1 += u128::from(gas.ref_time);
        e.2 += u128::from(gas.proof_size);
        if gas.ref_time > e.3.ref_time {
            e.3 = gas;
        }
        if gas.ref_time > self.largest.0.ref_time {
            self.largest = (gas, label);
        }
    }
}

struct World {
    h: Harness,
    stats: Stats,
    venue: AccountId32,
    maker: AccountId32,
    keeper: AccountId32,
    treasury: AccountId32,
    feeders: BTreeMap<u32, Vec<AccountId32>>,
    traders: Vec<AccountId32>,
    /// Cached views for the keeper's pre-filter, refreshed after every call that touches one.
    views: BTreeMap<AccountId32, AccountView>,
}

impl World {
    fn call(
        &mut self,
        who: &AccountId32,
        label: &'static str,
        args: impl parity_scale_codec::Encode,
    ) -> Result<(), EngineError> {
        let r = self.h.engine::<()>(who, label, args);
        self.stats.record(label, self.h.last_gas);
        r
    }

    fn view(&mut self, who: &AccountId32) -> AccountView {
        let v: AccountView = self.h.query("account", (who.clone(),));
        self.views.insert(who.clone(), v.clone());
        v
    }

    fn risk(&mut self, market: u32) -> MarketRisk {
        self.h.read("market_risk", (market,)).expect("market risk")
    }

    fn report(&mut self, market: u32, price: Fixed) {
        let now = self.h.now_ms;
        let confidence = price
            .checked_mul(Fixed::from_ratio(1, 10_000).unwrap())
            .unwrap();
        for feeder in self.feeders[&market].clone() {
            self.call(&feeder, "submit_report", (market, price, confidence, now))
                .expect("report");
        }
    }

    /// Deposits for `who` and approves the venue in every market: a venue's sign-up.
    fn fund(&mut self, who: &AccountId32, amount: u128) {
        self.h.give_tokens(who, amount);
        self.h.approve_engine(who, amount);
        self.call(who, "deposit", (amount,)).expect("deposit");
        let venue = self.venue.clone();
        let markets: Vec<u32> = self.feeders.keys().copied().collect();
        for market in markets {
            let granted = interface::Approval::Granted;
            self.call(who, "approve_venue", (0u8, market, venue.clone(), granted))
                .expect("approve venue");
        }
    }

    fn fill(&mut self, market: u32, taker: &AccountId32, size: i128) -> Result<(), EngineError> {
        let price = self.risk(market).oracle;
        let notional = DECIMALS
            .quote_value(size.abs(), price, Rounding::Ceil)
            .unwrap();
        let fee = u128::try_from(notional / 2_000).unwrap_or(0);
        let (maker, treasury, venue) = (
            self.maker.clone(),
            self.treasury.clone(),
            self.venue.clone(),
        );
        let args = (
            market,
            taker.clone(),
            maker,
            size,
            price,
            fee,
            0u128,
            treasury,
        );
        let r = self.call(&venue, "fill", args);
        self.view(taker);
        r
    }

    /// Liquidates every account that may be below maintenance, worst first, as far as the
    /// throttle allows; then sells what the keeper took over. Returns (chunks, throttled).
    fn keeper_round(&mut self, prices: &BTreeMap<u32, (f64, f64)>) -> (u32, u32) {
        // Pre-filter on the cached views: equity against max(tier rate, applied maintenance
        // term) x notional with a 1% slack; the engine's health answer decides.
        let tiers: Vec<(f64, f64)> = MarketConfig::default_large_cap(DECIMALS)
            .margin
            .tiers
            .iter()
            .map(|t| {
                (
                    t.notional_floor as f64 / USD as f64,
                    f(t.maintenance_fraction),
                )
            })
            .collect();
        let mut candidates: Vec<(f64, AccountId32)> = Vec::new();
        for who in &self.traders {
            let v = &self.views[who];
            if v.positions.is_empty() {
                continue;
            }
            let mut equity = v.collateral as f64 / USD as f64;
            let mut requirement = 0.0;
            for (market, p) in &v.positions {
                let (price, maintenance) = prices[market];
                let size = p.size as f64 / 1e8;
                equity += p.quote as f64 / USD as f64 + size * price;
                let notional = size.abs() * price;
                // Upper bound of the continuous bracket requirement: the bracket's own rate.
                let tier = tiers
                    .iter()
                    .rev()
                    .find(|(floor, _)| notional >= *floor)
                    .map_or(0.0, |t| t.1);
                requirement += (maintenance.max(tier) + 0.01) * notional;
            }
            if equity < requirement {
                candidates.push((equity / requirement.max(1e-9), who.clone()));
            }
        }
        candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (mut chunks, mut throttled) = (0, 0);
        let keeper = self.keeper.clone();
        for (_, who) in candidates {
            let markets: Vec<u32> = self.views[&who].positions.iter().map(|(m, _)| *m).collect();
            for market in markets {
                loop {
                    let health: HealthReport =
                        self.h.read("health", (who.clone(),)).expect("health");
                    let view = self.view(&who);
                    if view.positions.iter().all(|(m, _)| *m != market)
                        || health.maintenance.surplus().unwrap_or(0) >= 0
                    {
                        break;
                    }
                    match self.call(&keeper, "liquidate", (who.clone(), market)) {
                        Ok(()) => chunks += 1,
                        Err(EngineError::Risk(RiskError::LiquidationThrottled)) => {
                            throttled += 1;
                            break;
                        }
                        Err(EngineError::Risk(
                            RiskError::NotLiquidatable | RiskError::NoPosition,
                        )) => break,
                        Err(e) => panic!("liquidation of {who:?} failed: {e:?}"),
                    }
                }
            }
            self.view(&who);
        }
        let held = self.view(&keeper);
        for (market, p) in held.positions {
            let _ = self.fill(market, &keeper, -p.size);
        }
        (chunks, throttled)
    }
}

fn candles(file: &str, from: u64, to: u64) -> Vec<Candle> {
    read_csv(file)
        .unwrap_or_else(|e| panic!("{file}: {e:?}"))
        .into_iter()
        .filter(|c| c.timestamp_ms >= from && c.timestamp_ms < to)
        .collect()
}

fn main() {
    let accounts: u32 = std::env::args()
        .nth(1)
        .map_or(1_000, |a| a.parse().expect("ACCOUNTS"));
    let data = format!("{}/../../shared/data", env!("CARGO_MANIFEST_DIR"));
    let from = parse_timestamp_ms("2022-11-07 00:00:00").unwrap();
    let to = parse_timestamp_ms("2022-11-10 00:00:00").unwrap();
    let warm_from = from - 14 * 24 * HOUR;
    let files = [(1u32, "btcusdt"), (2u32, "ethusdt")];
    let series: BTreeMap<u32, Vec<Candle>> = files
        .iter()
        .map(|(m, name)| {
            (
                *m,
                candles(&format!("{data}/{name}-1h-2022-2025.csv"), warm_from, to),
            )
        })
        .collect();
    let started = std::time::Instant::now();

    let mut w = World {
        h: Harness::new(warm_from),
        stats: Stats::default(),
        venue: acct(1_000_001),
        maker: acct(1_000_002),
        keeper: acct(1_000_003),
        treasury: acct(1_000_004),
        feeders: files
            .iter()
            .map(|(m, _)| (*m, (0..3).map(|k| acct(2_000_000 + m * 10 + k)).collect()))
            .collect(),
        traders: (0..accounts).map(acct).collect(),
        views: BTreeMap::new(),
    };
    let owner = w.h.owner.clone();
    let mut everyone = vec![
        w.venue.clone(),
        w.maker.clone(),
        w.keeper.clone(),
        w.treasury.clone(),
    ];
    everyone.extend(w.feeders.values().flatten().cloned());
    everyone.extend(w.traders.iter().cloned());
    for who in &everyone {
        w.h.fund_native(who);
    }
    let oracle = OracleConfig {
        // Prices arrive every 15 minutes here, every block on chain.
        max_report_age_ms: 65 * MINUTE,
        max_liquidation_age_ms: 120 * MINUTE,
        ..OracleConfig::default()
    };
    for (market, _) in files {
        let feeders = w.feeders[&market].clone();
        w.h.list_market_with_feeders(
            market,
            MarketConfig::default_large_cap(DECIMALS),
            oracle.clone(),
            &feeders,
        );
    }
    let venue = w.venue.clone();
    let markets: Vec<u32> = w.feeders.keys().copied().collect();
    for market in markets {
        w.call(&owner, "authorize_venue", (market, venue.clone()))
            .expect("venue");
    }
    w.h.give_tokens(&owner, 1_000_000 * USD);
    w.h.approve_engine(&owner, 1_000_000 * USD);
    w.call(&owner, "fund_insurance", (1_000_000 * USD,))
        .expect("insurance");
    let (maker, keeper) = (w.maker.clone(), w.keeper.clone());
    w.fund(&maker, 1_000_000_000 * USD);
    w.fund(&keeper, 200_000_000 * USD);

    // Two weeks of hourly closes warm the volatility forecasts up.
    let warm: Vec<(u64, Vec<(u32, Fixed)>)> = series[&1]
        .iter()
        .filter(|c| c.timestamp_ms < from)
        .map(|c| {
            let eth = series[&2]
                .iter()
                .find(|e| e.timestamp_ms == c.timestamp_ms)
                .map_or(Fixed::ZERO, |e| e.close);
            (c.timestamp_ms, vec![(1, c.close), (2, eth)])
        })
        .collect();
    for (at, prices) in warm {
        w.h.set_time(at);
        for (m, p) in prices {
            if p.is_positive() {
                w.report(m, p);
            }
        }
    }
    w.h.set_time(from);
    for (m, s) in &series {
        let open = s
            .iter()
            .find(|c| c.timestamp_ms == from)
            .expect("first candle")
            .open;
        w.report(*m, open);
    }

    // Traders: 2,000 to 19,000 USD; BTC only, ETH only or both; 3x to 19x per position, as the
    // engine allows; one in five short.
    let mut opened = 0u32;
    for i in 0..accounts {
        let who = acct(i);
        let collateral = (2_000 + u128::from(i * 7_919 % 18) * 1_000) * USD;
        w.fund(&who, collateral);
        w.view(&who);
        let markets: &[u32] = match i % 3 {
            0 => &[1],
            1 => &[2],
            _ => &[1, 2],
        };
        let leverage = i128::from(3 + i * 31 % 17) / markets.len() as i128;
        let long = i % 5 != 0;
        for &m in markets {
            let price = w.risk(m).oracle;
            let notional = collateral as i128 * leverage.max(1);
            let wanted = DECIMALS
                .size_for_value(notional, price, Rounding::Floor)
                .unwrap();
            let allowed: i128 =
                w.h.read(
                    "max_position",
                    (
                        who.clone(),
                        m,
                        long,
                        price,
                        Fixed::from_ratio(5, 10_000).unwrap(),
                    ),
                )
                .expect("max position");
            let size = wanted.min(allowed);
            if size > 0 && w.fill(m, &who, if long { size } else { -size }).is_ok() {
                opened += 1;
            }
        }
    }
    let setup_s = started.elapsed().as_secs_f64();
    println!(
        "# Load: {accounts} accounts, {opened} positions in BTC and ETH, set up in {setup_s:.0} s"
    );

    // The crash: four points per candle, 15 minutes apart; a keeper round after each.
    let (mut chunks, mut throttled, mut trips) = (0u32, 0u32, 0u32);
    let crash: Vec<&Candle> = series[&1]
        .iter()
        .filter(|c| c.timestamp_ms >= from)
        .collect();
    for c in crash {
        let eth = series[&2]
            .iter()
            .find(|e| e.timestamp_ms == c.timestamp_ms)
            .copied();
        for k in 0..4u64 {
            w.h.set_time(c.timestamp_ms + 15 * MINUTE * k);
            let point = |c: &Candle| {
                let (a, b) = if c.close >= c.open {
                    (c.low, c.high)
                } else {
                    (c.high, c.low)
                };
                [c.open, a, b, c.close][k as usize]
            };
            w.report(1, point(c));
            if let Some(e) = &eth {
                w.report(2, point(e));
            }
            let mut prices = BTreeMap::new();
            for m in [1u32, 2] {
                let r = w.risk(m);
                if r.breaker != ballast_risk::BreakerState::Normal {
                    trips += 1;
                }
                prices.insert(m, (f(r.oracle), f(r.applied_maintenance_fraction)));
            }
            let (c1, t1) = w.keeper_round(&prices);
            chunks += c1;
            throttled += t1;
        }
    }

    // Reconciliation to the unit: token balance of the engine = net deposits = collateral +
    // position quotes + insurance fund + settlement pools.
    let engine = w.h.engine.clone();
    let balance = w.h.balance(&engine);
    let net: i128 = w.h.query("net_deposits", ());
    let mut accounted: i128 = w.h.query("insurance_fund", ());
    for m in [1u32, 2] {
        accounted += w.h.read::<i128>("settlement_pool", (m,)).expect("pool");
    }
    let mut all = w.traders.clone();
    all.extend([
        w.maker.clone(),
        w.keeper.clone(),
        w.treasury.clone(),
        owner.clone(),
    ]);
    for who in &all {
        let v: AccountView = w.h.query("account", (who.clone(),));
        accounted += v.collateral + v.positions.iter().map(|(_, p)| p.quote).sum::<i128>();
    }
    let reconciled = i128::try_from(balance) == Ok(net) && net == accounted;
    let elapsed = started.elapsed().as_secs_f64();

    println!("\n| message | calls | mean ref_time | max ref_time | mean proof_size |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let (mut calls, mut ref_total, mut proof_total) = (0u64, 0u128, 0u128);
    for (label, (n, r, p, max)) in &w.stats.calls {
        calls += n;
        ref_total += r;
        proof_total += p;
        println!(
            "| `{label}` | {n} | {:.2}e9 | {:.2}e9 | {:.0} |",
            *r as f64 / *n as f64 / 1e9,
            max.ref_time as f64 / 1e9,
            *p as f64 / *n as f64
        );
    }
    let (largest, label) = w.stats.largest;
    println!(
        "\n{calls} calls, total {:.1}e12 ref_time and {:.1} MB of proof; {chunks} liquidation chunks, {throttled} deferred by the throttle, {trips} market-points not Normal",
        ref_total as f64 / 1e12,
        proof_total as f64 / 1e6
    );
    println!(
        "largest single call: `{label}` {:.2}e9 ref_time = {:.2}% of a contracts-node block (1.5e12 for normal calls), {:.1}% of an Aleph Zero block (0.3e12); proof {} bytes = {:.2}% of 5 MiB",
        largest.ref_time as f64 / 1e9,
        largest.ref_time as f64 / BLOCK_REF_TIME as f64 * 100.0,
        largest.ref_time as f64 / SMALL_BLOCK_REF_TIME as f64 * 100.0,
        largest.proof_size,
        largest.proof_size as f64 / BLOCK_PROOF as f64 * 100.0
    );
    println!("reconciled: {reconciled} (engine balance {balance}, net deposits {net}, accounted {accounted}); run time {elapsed:.0} s");
    println!(
        "{{\"accounts\":{accounts},\"positions\":{opened},\"calls\":{calls},\"total_ref_time\":{ref_total},\"total_proof_size\":{proof_total},\"largest_call\":\"{label}\",\"largest_ref_time\":{},\"largest_proof_size\":{},\"liquidation_chunks\":{chunks},\"throttled\":{throttled},\"reconciled\":{reconciled},\"seconds\":{elapsed:.0}}}",
        largest.ref_time, largest.proof_size
    );
    assert!(reconciled, "books and tokens disagree");
}
