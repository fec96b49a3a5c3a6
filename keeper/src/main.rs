//! `ballast-keeper`: the off-chain side of a Ballast deployment on a contracts chain.
//!
//! - `run`: as feeder(s), reports a price source (candle CSV, each close with the confidence of
//!   its range, or stdin lines) to the engine, skipping reports the oracle adapter's guard rails
//!   would reject; as liquidator, watches the accounts it sees in the engine's events, reads
//!   their health with dry runs and liquidates those below maintenance, stopping for a market
//!   when the engine says its throttle is used up; with a venue, unwinds what it took over
//!   through it within an inventory bound (`ballast_keeper::liquidation`), so that bounded
//!   collateral keeps liquidating through a cascade. Reconnects when the node goes away. Prints
//!   a JSON summary: counts, the liquidator's inventory and P&L, the market's leverage caps
//!   over the run and the weights the chain charged.
//! - `admin`: owner calls whose arguments are Rust types (listing a market with its full
//!   configuration, feeder slots, venues), SCALE-encoded from the same crates the engine uses.

mod chain;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ballast_interface::events::{Deposited, Filled, Liquidated};
use ballast_interface::{AccountView, EngineError, HealthReport, MarketRisk};
use ballast_keeper::abi::{decode_return, Abi, OpaqueError};
use ballast_keeper::feed::{scaled_configs, CandleReplay, ListedPrices, Prefilter, PriceSource};
use ballast_keeper::liquidation::{
    liquidatable, markets_by_size, notional, unwind_trade, InventoryBound,
};
use ballast_keeper::listing::Listing;
use ballast_math::{Decimals, Fixed};
use ballast_risk::{MarketId, RiskError};
use chain::{account_of, connection_lost, parse_account, signer, ss58, Chain, Weight, GAS_CAP};
use clap::{Args, Parser, Subcommand};
use ink::env::Event;
use parity_scale_codec::{Decode, Encode};
use subxt_signer::sr25519::Keypair;

#[derive(Parser)]
#[command(
    name = "ballast-keeper",
    about = "Feeder and liquidator for a Ballast engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Target {
    /// Node RPC endpoint.
    #[arg(long, default_value = "ws://127.0.0.1:9944")]
    url: String,
    /// Engine contract address (SS58).
    #[arg(long)]
    engine: String,
    /// Engine metadata: the joined bundle `scripts/build-contracts.sh` writes (router and facets).
    #[arg(long, default_value = "target/contracts/ballast_engine.contract")]
    engine_metadata: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Feed prices and liquidate.
    Run(RunArgs),
    /// Print the SS58 address of a secret URI, or check that an address is one.
    Address {
        #[arg(long, required_unless_present = "check", conflicts_with = "check")]
        suri: Option<String>,
        /// An SS58 address to check (printed back when valid).
        #[arg(long)]
        check: Option<String>,
    },
    /// Check that the engine's books add up, reading everything from the chain: the token
    /// balance the engine holds equals its net deposits, which equal the sum over every
    /// account seen in the engine's events (and `--watch`) of collateral and position quote
    /// balances, plus the insurance fund and the markets' settlement pools.
    Reconcile {
        #[command(flatten)]
        target: Target,
        /// Collateral token address (SS58).
        #[arg(long)]
        token: String,
        /// Token metadata.
        #[arg(long, default_value = "target/ink/ballast_token/ballast_token.json")]
        token_metadata: PathBuf,
        /// Markets whose settlement pools count.
        #[arg(long = "market", default_value = "1")]
        markets: Vec<MarketId>,
        /// Accounts that hold value without appearing in deposit or fill events (fee
        /// recipients).
        #[arg(long = "watch")]
        watch: Vec<String>,
    },
    /// Listing files: print the default, or check one as the engine would (offline).
    Listing {
        #[command(subcommand)]
        call: ListingCall,
    },
    /// Owner calls with typed arguments.
    Admin {
        #[command(flatten)]
        target: Target,
        /// The owner's secret URI.
        #[arg(long, default_value = "//Alice")]
        suri: String,
        #[command(subcommand)]
        call: AdminCall,
    },
}

/// The default large-cap listing's parameters on the command line.
#[derive(Args)]
struct DefaultListing {
    #[arg(long, default_value_t = 8)]
    base_decimals: u8,
    #[arg(long, default_value_t = 6)]
    quote_decimals: u8,
    /// The market's clock compression (1: real time).
    #[arg(long, default_value_t = 1)]
    time_scale: u64,
}

impl DefaultListing {
    fn listing(&self) -> Listing {
        Listing::default_large_cap(
            Decimals {
                base: self.base_decimals,
                quote: self.quote_decimals,
            },
            self.time_scale,
        )
    }
}

#[derive(Subcommand)]
enum ListingCall {
    /// Print the default large-cap listing as JSON, to edit into a listing file.
    Default(DefaultListing),
    /// Check a listing file with the engine's own validation; prints it back as JSON.
    Check {
        #[arg(long)]
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum AdminCall {
    /// List a market from a listing file (`--config`), or with the default large-cap
    /// configuration and the default oracle config, the market's clock compressed
    /// `--time-scale` times (1: real time). The listing is validated before it is sent.
    ListMarket {
        #[arg(long)]
        market: MarketId,
        /// Listing file (JSON: `ballast-keeper listing default` prints one to edit).
        #[arg(long, conflicts_with_all = ["base_decimals", "quote_decimals", "time_scale"])]
        config: Option<PathBuf>,
        #[command(flatten)]
        default: DefaultListing,
    },
    /// Give a feeder a report slot.
    SetFeeder {
        #[arg(long)]
        market: MarketId,
        #[arg(long)]
        feeder: String,
        #[arg(long)]
        slot: u8,
    },
    /// Authorize a venue in a market (`authorize_venue`: at once while nobody holds a position or
    /// an options book there, else after the market's announcement delay).
    SetVenue {
        #[arg(long)]
        market: MarketId,
        #[arg(long)]
        venue: String,
    },
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    target: Target,
    /// Market to feed and watch.
    #[arg(long, default_value_t = 1)]
    market: MarketId,
    /// Feeder secret URIs, in slot order (slot 0 first). None: no feeding.
    #[arg(long = "feeder")]
    feeders: Vec<String>,
    /// Candle CSV whose closes are fed, one per interval, each with half its candle's range as
    /// confidence; `-` reads `price [confidence]` lines from stdin.
    #[arg(long)]
    prices: Option<String>,
    /// First candle time (date or Unix time).
    #[arg(long)]
    from: Option<String>,
    /// End of the candles (exclusive).
    #[arg(long)]
    to: Option<String>,
    /// Milliseconds between two price rounds (and liquidation scans).
    #[arg(long, default_value_t = 2_000)]
    interval_ms: u64,
    /// Liquidator secret URI. None: no liquidation.
    #[arg(long)]
    liquidator: Option<String>,
    /// Extra accounts to watch (SS58), besides those seen in the engine's events.
    #[arg(long = "watch")]
    watch: Vec<String>,
    /// The market's time scale, as given to `admin list-market` (the pre-filter uses the same
    /// oracle configuration) when the market was listed with the default listing.
    #[arg(long, default_value_t = 1)]
    time_scale: u64,
    /// The listing file the market was listed with (BALLAST_LISTING of the deploy): the
    /// pre-filter then mirrors its oracle configuration instead of the default's.
    #[arg(long, conflicts_with = "time_scale")]
    listing: Option<PathBuf>,
    /// Keep liquidating this long after the last price.
    #[arg(long, default_value_t = 20)]
    linger_secs: u64,
    /// Most liquidation calls per scan.
    #[arg(long, default_value_t = 16)]
    max_liquidations_per_scan: usize,
    /// Venue the liquidator unwinds its inventory through (SS58; the liquidator must have
    /// approved it in the engine). None: it keeps what it takes over.
    #[arg(long)]
    venue: Option<String>,
    /// Venue metadata.
    #[arg(long, default_value = "target/contracts/ballast_venue.contract")]
    venue_metadata: PathBuf,
    /// Take nothing over while the liquidator's inventory is worth this much or more (notional
    /// at the oracle, quote base units). None: no bound.
    #[arg(long)]
    max_inventory_notional: Option<u128>,
    /// Largest notional unwound per market per round (quote base units; default 100,000 at 6
    /// decimals).
    #[arg(long, default_value_t = 100_000_000_000)]
    unwind_per_round: u128,
}

impl RunArgs {
    fn inventory_bound(&self) -> InventoryBound {
        let cap = |v: u128| i128::try_from(v).unwrap_or(i128::MAX);
        InventoryBound {
            max_notional: self.max_inventory_notional.map_or(i128::MAX, cap),
            unwind_per_round: cap(self.unwind_per_round),
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn log(started: Instant, text: impl AsRef<str>) {
    eprintln!(
        "[keeper {:>7.1}s] {}",
        started.elapsed().as_secs_f64(),
        text.as_ref()
    );
}

/// Weights the chain charged, per message.
#[derive(Default)]
struct Weights(BTreeMap<&'static str, Vec<Weight>>);

impl Weights {
    fn add(&mut self, label: &'static str, w: Weight) {
        self.0.entry(label).or_default().push(w);
    }

    fn json(&self) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        for (label, list) in &self.0 {
            let n = list.len().max(1) as u64;
            let sum = |f: fn(&Weight) -> u64| list.iter().map(f).sum::<u64>();
            let max = |f: fn(&Weight) -> u64| list.iter().map(f).max().unwrap_or(0);
            out.insert(
                (*label).to_string(),
                serde_json::json!({
                    "count": list.len(),
                    "mean_ref_time": sum(|w| w.ref_time) / n,
                    "max_ref_time": max(|w| w.ref_time),
                    "mean_proof_size": sum(|w| w.proof_size) / n,
                    "max_proof_size": max(|w| w.proof_size),
                }),
            );
        }
        serde_json::Value::Object(out)
    }
}

/// Gas limit of a feeder report (about 6e9 ref_time and 125 KB of proof in drink).
const REPORT_GAS: Weight = Weight {
    ref_time: 30_000_000_000,
    proof_size: 512 * 1024,
};

/// Gas limit for a call the dry run sized: 50% margin (state may move between the dry run and
/// the block), within the cap.
fn limit(required: Weight) -> Weight {
    Weight {
        ref_time: required.ref_time.saturating_mul(3) / 2,
        proof_size: required.proof_size.saturating_mul(3) / 2,
    }
    .min_with(GAS_CAP)
}

trait MinWith {
    fn min_with(self, cap: (u64, u64)) -> Self;
}

impl MinWith for Weight {
    fn min_with(self, cap: (u64, u64)) -> Self {
        Weight {
            ref_time: self.ref_time.min(cap.0),
            proof_size: self.proof_size.min(cap.1),
        }
    }
}

/// A message's answer in a dry run: its `Result<T, E>`.
fn answer<T: Decode, E: Decode>(data: Option<Vec<u8>>) -> Result<Result<T, E>, String> {
    let data = data.ok_or("the call trapped")?;
    decode_return::<Result<T, E>>(&data)
}

/// A contract the keeper calls besides the engine: its address and metadata.
struct Contract {
    address: [u8; 32],
    abi: Abi,
}

struct Keeper {
    abi: Abi,
    engine: [u8; 32],
    venue: Option<Contract>,
    started: Instant,
    weights: Weights,
    counts: BTreeMap<&'static str, u64>,
}

impl Keeper {
    fn new(abi: Abi, engine: [u8; 32], started: Instant) -> Keeper {
        Keeper {
            abi,
            engine,
            venue: None,
            started,
            weights: Weights::default(),
            counts: BTreeMap::new(),
        }
    }

    fn count(&mut self, what: &'static str) {
        *self.counts.entry(what).or_default() += 1;
    }

    /// Dry-runs then submits an engine call; returns the engine's answer and, if submitted,
    /// the included call.
    async fn call<T: Decode>(
        &mut self,
        chain: &Chain,
        who: &Keypair,
        label: &'static str,
        args: impl Encode,
    ) -> Result<Result<Option<chain::Included>, EngineError>, subxt::Error> {
        let data = self.abi.call(label, args).map_err(subxt::Error::Other)?;
        self.checked_submit::<T, EngineError>(chain, who, self.engine, data, label)
            .await
    }

    /// Dry-runs then submits a venue call (`None` when the keeper has no venue).
    async fn call_venue(
        &mut self,
        chain: &Chain,
        who: &Keypair,
        label: &'static str,
        args: impl Encode,
    ) -> Result<Option<Result<Option<chain::Included>, OpaqueError>>, subxt::Error> {
        let Some(venue) = &self.venue else {
            return Ok(None);
        };
        let address = venue.address;
        let data = venue.abi.call(label, args).map_err(subxt::Error::Other)?;
        self.checked_submit::<(), OpaqueError>(chain, who, address, data, label)
            .await
            .map(Some)
    }

    /// Submits `data` to `contract` if its dry run answers `Ok`; the refusal otherwise.
    async fn checked_submit<T: Decode, E: Decode>(
        &mut self,
        chain: &Chain,
        who: &Keypair,
        contract: [u8; 32],
        data: Vec<u8>,
        label: &'static str,
    ) -> Result<Result<Option<chain::Included>, E>, subxt::Error> {
        let dry = chain
            .dry_run(account_of(who), contract, data.clone())
            .await?;
        match answer::<T, E>(dry.data.clone()) {
            Ok(Ok(_)) if !dry.reverted => {}
            Ok(Err(e)) => return Ok(Err(e)),
            Ok(Ok(_)) => return Err(subxt::Error::Other(format!("{label}: reverted"))),
            Err(e) => return Err(subxt::Error::Other(format!("{label}: {e}"))),
        }
        let included = chain
            .submit(who, contract, data, limit(dry.gas_required))
            .await?;
        if !included.success {
            // Not counted as done: the state may have moved between the dry run and the block.
            return Err(subxt::Error::Other(format!(
                "{label}: failed in block {:?}",
                included.block
            )));
        }
        self.weights.add(label, included.weight);
        Ok(Ok(Some(included)))
    }

    /// Submits an engine call without a dry run, with a fixed gas limit. For feeder reports:
    /// a dry run executes at the best block's timestamp, which on an instant-seal node is the
    /// time of the last transaction, so after a quiet spell a report stamped now looks like
    /// one from the future there, while the block that includes it is stamped now.
    async fn send(
        &mut self,
        chain: &Chain,
        who: &Keypair,
        label: &'static str,
        args: impl Encode,
        gas: Weight,
    ) -> Result<chain::Included, subxt::Error> {
        let data = self.abi.call(label, args).map_err(subxt::Error::Other)?;
        let included = chain.submit(who, self.engine, data, gas).await?;
        if included.success {
            self.weights.add(label, included.weight);
        }
        Ok(included)
    }

    async fn query<T: Decode>(
        &self,
        chain: &Chain,
        label: &'static str,
        args: impl Encode,
    ) -> Result<T, subxt::Error> {
        let data = self.abi.call(label, args).map_err(subxt::Error::Other)?;
        let dry = chain.dry_run(self.engine, self.engine, data).await?;
        let raw = dry
            .data
            .ok_or_else(|| subxt::Error::Other(format!("{label} trapped")))?;
        decode_return::<T>(&raw).map_err(subxt::Error::Other)
    }
}

async fn connect_with_retry(url: &str, started: Instant) -> Chain {
    let mut wait = Duration::from_millis(500);
    loop {
        match Chain::connect(url).await {
            Ok(c) => return c,
            Err(e) => {
                log(
                    started,
                    format!("node at {url} not reachable ({e}); retrying in {wait:?}"),
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

struct Feeder {
    key: Keypair,
    filter: Prefilter,
}

/// The market's leverage caps and volatility over the run, read once per round while the
/// price is valid for opening risk (the caps of a market without a usable price say nothing
/// about its volatility).
#[derive(Default)]
struct CapsSeen {
    first: Option<MarketRisk>,
    last: Option<MarketRisk>,
    lowest_new_position_cap: Option<Fixed>,
    lowest_applied_cap: Option<Fixed>,
    highest_forecast_vol: Option<Fixed>,
}

impl CapsSeen {
    fn note(&mut self, risk: MarketRisk) {
        if !risk.opening_valid {
            return;
        }
        let lowest = |seen: Option<Fixed>, cap: Fixed| Some(seen.map_or(cap, |c| c.min(cap)));
        self.lowest_new_position_cap =
            lowest(self.lowest_new_position_cap, risk.new_position_leverage_cap);
        self.lowest_applied_cap = lowest(self.lowest_applied_cap, risk.applied_leverage_cap);
        let vol = risk.forecast_vol;
        self.highest_forecast_vol = Some(self.highest_forecast_vol.map_or(vol, |v| v.max(vol)));
        self.first.get_or_insert(risk);
        self.last = Some(risk);
    }

    fn json(&self) -> serde_json::Value {
        let text = |v: Option<Fixed>| v.map(|f| f.to_string());
        serde_json::json!({
            "new_position_cap_first": text(self.first.as_ref().map(|r| r.new_position_leverage_cap)),
            "new_position_cap_lowest": text(self.lowest_new_position_cap),
            "new_position_cap_last": text(self.last.as_ref().map(|r| r.new_position_leverage_cap)),
            "applied_cap_first": text(self.first.as_ref().map(|r| r.applied_leverage_cap)),
            "applied_cap_lowest": text(self.lowest_applied_cap),
            "applied_cap_last": text(self.last.as_ref().map(|r| r.applied_leverage_cap)),
            "forecast_vol_first": text(self.first.as_ref().map(|r| r.forecast_vol)),
            "forecast_vol_highest": text(self.highest_forecast_vol),
        })
    }
}

/// The liquidator's own book over the run, quote base units.
#[derive(Default)]
struct LiquidatorBook {
    start_equity: Option<i128>,
    inventory_peak_notional: i128,
    unwound_notional: i128,
}

struct RunState {
    source: Box<dyn PriceSource>,
    /// The observation being reported: kept until every feeder has had it, so that a
    /// connection lost in the middle of a round does not drop a price.
    pending: Option<ballast_keeper::feed::Observation>,
    prices_sent: usize,
    feeders: Vec<Feeder>,
    liquidator: Option<Keypair>,
    watched: BTreeSet<[u8; 32]>,
    scanned_to: Option<u64>,
    caps: CapsSeen,
    book: LiquidatorBook,
}

/// An account's equity at the oracle (maintenance terms), quote base units; its collateral when
/// the engine has no health for it (no positions).
async fn equity_of(k: &Keeper, chain: &Chain, who: [u8; 32]) -> Result<i128, subxt::Error> {
    let id = ink::primitives::AccountId::from(who);
    let health: Result<HealthReport, EngineError> = k.query(chain, "health", (id,)).await?;
    match health {
        Ok(h) => Ok(h.maintenance.equity),
        Err(_) => {
            let view: AccountView = k.query(chain, "account", (id,)).await?;
            Ok(view.collateral)
        }
    }
}

/// The notional of every position `who` holds, at each market's oracle.
async fn inventory_notional(
    k: &Keeper,
    chain: &Chain,
    who: [u8; 32],
) -> Result<i128, subxt::Error> {
    let view: AccountView = k
        .query(chain, "account", (ink::primitives::AccountId::from(who),))
        .await?;
    let mut total = 0i128;
    for (market, p) in &view.positions {
        let risk: Result<MarketRisk, EngineError> =
            k.query(chain, "market_risk", (*market,)).await?;
        let Ok(risk) = risk else { continue };
        let value = notional(p.size, risk.oracle, risk.decimals)
            .map_err(|e| subxt::Error::Other(format!("notional: {e:?}")))?;
        total = total.saturating_add(value);
    }
    Ok(total)
}

/// Unwinds the liquidator's inventory in the venue's market by one round's bound.
async fn unwind(
    k: &mut Keeper,
    chain: &Chain,
    s: &mut RunState,
    args: &RunArgs,
    liquidator: &Keypair,
) -> Result<(), subxt::Error> {
    if k.venue.is_none() {
        return Ok(());
    }
    let me = account_of(liquidator);
    let view: AccountView = k
        .query(chain, "account", (ink::primitives::AccountId::from(me),))
        .await?;
    let Some((_, held)) = view.positions.iter().find(|(m, _)| *m == args.market) else {
        return Ok(());
    };
    let risk: Result<MarketRisk, EngineError> =
        k.query(chain, "market_risk", (args.market,)).await?;
    let Ok(risk) = risk else { return Ok(()) };
    let trade = unwind_trade(
        held.size,
        risk.oracle,
        risk.decimals,
        &args.inventory_bound(),
    )
    .map_err(|e| subxt::Error::Other(format!("unwind size: {e:?}")))?;
    if trade == 0 {
        return Ok(());
    }
    match k.call_venue(chain, liquidator, "trade", (trade,)).await? {
        Some(Ok(_)) => {
            k.count("unwinds");
            let value = notional(trade, risk.oracle, risk.decimals).unwrap_or(0);
            s.book.unwound_notional = s.book.unwound_notional.saturating_add(value);
            log(
                k.started,
                format!(
                    "unwound {trade} of {} in market {} through the venue (notional {value})",
                    held.size, args.market
                ),
            );
        }
        Some(Err(refusal)) => {
            k.count("unwinds_refused");
            log(
                k.started,
                format!("the venue refused an unwind of {trade}: {:02x?}", refusal.0),
            );
        }
        None => {}
    }
    Ok(())
}

/// One round: a price from every feeder, new accounts from recent blocks, a liquidation scan.
async fn round(
    k: &mut Keeper,
    chain: &Chain,
    s: &mut RunState,
    args: &RunArgs,
) -> Result<(), subxt::Error> {
    if s.pending.is_none() {
        s.pending = s.source.next_observation();
    }
    if let Some(observation) = s.pending {
        let price = observation.price;
        for (slot, f) in s.feeders.iter_mut().enumerate() {
            let now = now_ms();
            let r = observation.report(now);
            if let Err(e) = f.filter.admit(r, now) {
                k.count("reports_skipped");
                log(
                    k.started,
                    format!(
                        "feeder {slot}: skip {price} (confidence {}): {e:?}",
                        r.confidence
                    ),
                );
                continue;
            }
            let included = k
                .send(
                    chain,
                    &f.key,
                    "submit_report",
                    (args.market, r.price, r.confidence, r.timestamp_ms),
                    REPORT_GAS,
                )
                .await?;
            if included.success {
                k.count("reports");
            } else {
                k.count("reports_refused");
                log(
                    k.started,
                    format!("feeder {slot}: report of {price} failed in its block"),
                );
            }
        }
        s.pending = None;
        s.prices_sent += 1;
        log(
            k.started,
            format!(
                "price {} ({} left): {price} confidence {}",
                s.prices_sent,
                s.source
                    .remaining()
                    .map_or_else(|| "?".to_string(), |n| n.to_string()),
                observation.confidence
            ),
        );
    }
    let risk: Result<MarketRisk, EngineError> =
        k.query(chain, "market_risk", (args.market,)).await?;
    if let Ok(risk) = risk {
        s.caps.note(risk);
    }
    // Accounts from the engine's events since the last scan.
    let best = chain.best_number().await?;
    let from = s.scanned_to.map_or(0, |n| n + 1);
    note_accounts(chain, k.engine, from..=best, &mut s.watched).await?;
    s.scanned_to = Some(best);
    let Some(liquidator) = s.liquidator.clone() else {
        return Ok(());
    };
    let me = account_of(&liquidator);
    if s.book.start_equity.is_none() {
        s.book.start_equity = Some(equity_of(k, chain, me).await?);
    }
    let bound = args.inventory_bound();
    let mut calls = 0usize;
    let watched: Vec<[u8; 32]> = s.watched.iter().copied().filter(|a| *a != me).collect();
    'accounts: for who in watched {
        let id = ink::primitives::AccountId::from(who);
        let view: AccountView = k.query(chain, "account", (id,)).await?;
        if view.positions.is_empty() {
            continue;
        }
        let health: Result<HealthReport, EngineError> = k.query(chain, "health", (id,)).await?;
        let Ok(health) = health else { continue };
        if !liquidatable(&health, &view) {
            continue;
        }
        for market in markets_by_size(&view) {
            // With a venue, take over only what can be unwound: the venue's market.
            if k.venue.is_some() && market != args.market {
                continue;
            }
            // Chunk after chunk while the engine accepts (it stops at the liquidation-end
            // target), within the calls allowed per scan.
            loop {
                if calls >= args.max_liquidations_per_scan {
                    break 'accounts;
                }
                let carried = inventory_notional(k, chain, me).await?;
                s.book.inventory_peak_notional = s.book.inventory_peak_notional.max(carried);
                if !bound.may_take_over(carried) {
                    k.count("takeovers_deferred_at_bound");
                    log(
                        k.started,
                        format!(
                            "inventory {carried} at the bound: unwinding before taking more over"
                        ),
                    );
                    break 'accounts;
                }
                match k
                    .call::<()>(chain, &liquidator, "liquidate", (id, market))
                    .await?
                {
                    Ok(Some(included)) => {
                        calls += 1;
                        k.count("liquidations");
                        log_liquidation(k, &included, who, market);
                    }
                    Ok(None) => break,
                    Err(EngineError::Risk(RiskError::LiquidationThrottled)) => {
                        k.count("throttled");
                        log(
                            k.started,
                            format!(
                                "market {market}: throttle used up, waiting for the next window"
                            ),
                        );
                        break 'accounts;
                    }
                    Err(EngineError::Risk(RiskError::NotLiquidatable | RiskError::NoPosition)) => {
                        break
                    }
                    Err(EngineError::Risk(RiskError::InsufficientMargin)) => {
                        // The liquidator's own initial margin binds: it cannot take this over
                        // until it has unwound.
                        k.count("liquidations_missed_margin");
                        log(
                            k.started,
                            format!(
                                "cannot take over {} in {market}: the liquidator's margin binds",
                                ss58(who)
                            ),
                        );
                        break 'accounts;
                    }
                    Err(e) => {
                        log(
                            k.started,
                            format!("liquidate {} in {market}: {e:?}", ss58(who)),
                        );
                        break;
                    }
                }
            }
        }
    }
    let carried = inventory_notional(k, chain, me).await?;
    s.book.inventory_peak_notional = s.book.inventory_peak_notional.max(carried);
    unwind(k, chain, s, args, &liquidator).await
}

fn log_liquidation(k: &Keeper, included: &chain::Included, who: [u8; 32], market: MarketId) {
    for (c, data, topics) in &included.emitted {
        if *c == k.engine && topics.first().copied() == Liquidated::SIGNATURE_TOPIC {
            if let Ok(e) = Liquidated::decode(&mut &data[..]) {
                log(
                    k.started,
                    format!(
                        "liquidated {} in market {market}: size {} notional {} penalty {}{} (ref_time {})",
                        ss58(who),
                        e.closed_size,
                        e.notional,
                        e.penalty,
                        if e.bankrupt { " BANKRUPT" } else { "" },
                        included.weight.ref_time
                    ),
                );
            }
        }
    }
}

async fn run(args: RunArgs) -> Result<(), String> {
    let started = Instant::now();
    let abi = Abi::load(&args.target.engine_metadata)?;
    let engine = parse_account(&args.target.engine)?;
    let source: Box<dyn PriceSource> = match args.prices.as_deref() {
        None => Box::new(ListedPrices::from_lines(&b""[..])?),
        Some("-") => Box::new(ListedPrices::from_lines(std::io::stdin().lock())?),
        Some(path) => Box::new(CandleReplay::from_csv(
            path,
            args.from.as_deref(),
            args.to.as_deref(),
        )?),
    };
    // The pre-filter must mirror the guard rails the market was listed with: a stricter or
    // looser mirror would skip reports the engine takes or send ones it refuses.
    let oracle = match &args.listing {
        Some(path) => Listing::load(path)?.oracle,
        None => scaled_configs(Decimals { base: 8, quote: 6 }, args.time_scale).1,
    };
    let feeders = args
        .feeders
        .iter()
        .enumerate()
        .map(|(slot, suri)| {
            Ok(Feeder {
                key: signer(suri)?,
                filter: Prefilter::new(
                    oracle.clone(),
                    u8::try_from(slot).map_err(|e| e.to_string())?,
                ),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let liquidator = args.liquidator.as_deref().map(signer).transpose()?;
    let mut watched = BTreeSet::new();
    for a in &args.watch {
        watched.insert(parse_account(a)?);
    }
    let mut k = Keeper::new(abi, engine, started);
    if let Some(venue) = &args.venue {
        k.venue = Some(Contract {
            address: parse_account(venue)?,
            abi: Abi::load(&args.venue_metadata)?,
        });
    }
    let mut s = RunState {
        source,
        pending: None,
        prices_sent: 0,
        feeders,
        liquidator,
        watched,
        scanned_to: None,
        caps: CapsSeen::default(),
        book: LiquidatorBook::default(),
    };
    log(
        started,
        format!(
            "engine {}, market {}, {} prices, {} feeders, liquidator {}",
            args.target.engine,
            args.market,
            s.source
                .remaining()
                .map_or_else(|| "live".to_string(), |n| n.to_string()),
            s.feeders.len(),
            s.liquidator
                .as_ref()
                .map(|l| ss58(account_of(l)))
                .unwrap_or_else(|| "none".into())
        ),
    );
    let mut chain = connect_with_retry(&args.target.url, started).await;
    let mut finished_at: Option<Instant> = None;
    loop {
        let tick = Instant::now();
        match round(&mut k, &chain, &mut s, &args).await {
            Ok(()) => {}
            Err(e) if connection_lost(&e) => {
                k.count("reconnects");
                log(started, format!("connection lost ({e}); reconnecting"));
                let genesis = chain.genesis;
                chain = connect_with_retry(&args.target.url, started).await;
                if chain.genesis != genesis {
                    log(started, "the node came back as a new chain (fresh database): its contracts are gone");
                    s.scanned_to = None;
                } else {
                    log(started, "reconnected to the same chain");
                }
            }
            Err(e) => log(started, format!("error: {e}")),
        }
        if s.pending.is_none() && s.source.remaining() == Some(0) {
            let since = *finished_at.get_or_insert_with(Instant::now);
            if since.elapsed() >= Duration::from_secs(args.linger_secs) {
                break;
            }
        }
        let spent = tick.elapsed();
        let interval = Duration::from_millis(args.interval_ms);
        if spent < interval {
            tokio::time::sleep(interval - spent).await;
        }
    }
    let liquidator_json = match &s.liquidator {
        None => serde_json::Value::Null,
        Some(l) => {
            let me = account_of(l);
            // Read after the run; null where the node does not answer.
            let end_equity = equity_of(&k, &chain, me).await.ok();
            let end_inventory = inventory_notional(&k, &chain, me).await.ok();
            let start = s.book.start_equity;
            let pnl = start.zip(end_equity).map(|(a, b)| (b - a).to_string());
            serde_json::json!({
                "start_equity": start.map(|v| v.to_string()),
                "end_equity": end_equity.map(|v| v.to_string()),
                "pnl": pnl,
                "inventory_peak_notional": s.book.inventory_peak_notional.to_string(),
                "inventory_end_notional": end_inventory.map(|v| v.to_string()),
                "unwound_notional": s.book.unwound_notional.to_string(),
                "max_inventory_notional": args.max_inventory_notional.map(|v| v.to_string()),
            })
        }
    };
    let summary = serde_json::json!({
        "counts": k.counts,
        "watched_accounts": s.watched.len(),
        "liquidator": liquidator_json,
        "caps": s.caps.json(),
        "weights": k.weights.json(),
        "seconds": started.elapsed().as_secs_f64(),
    });
    println!("{summary}");
    Ok(())
}

async fn admin(target: Target, suri: String, call: AdminCall) -> Result<(), String> {
    let started = Instant::now();
    let abi = Abi::load(&target.engine_metadata)?;
    let engine = parse_account(&target.engine)?;
    let owner = signer(&suri)?;
    let chain = Chain::connect(&target.url)
        .await
        .map_err(|e| e.to_string())?;
    let mut k = Keeper::new(abi, engine, started);
    let account = |s: &str| parse_account(s).map(ink::primitives::AccountId::from);
    let answer = match call {
        AdminCall::ListMarket {
            market,
            config,
            default,
        } => {
            let listing = match config {
                Some(path) => Listing::load(path)?,
                // Through the same check as a file.
                None => Listing::from_json(&default.listing().to_json()?)?,
            };
            k.call::<()>(
                &chain,
                &owner,
                "list_market",
                (market, listing.market, listing.oracle),
            )
            .await
        }
        AdminCall::SetFeeder {
            market,
            feeder,
            slot,
        } => {
            k.call::<()>(
                &chain,
                &owner,
                "set_feeder",
                (market, account(&feeder)?, Some(slot)),
            )
            .await
        }
        AdminCall::SetVenue { market, venue } => {
            k.call::<()>(
                &chain,
                &owner,
                "authorize_venue",
                (market, account(&venue)?),
            )
            .await
        }
    }
    .map_err(|e| e.to_string())?;
    match answer {
        Ok(Some(included)) => {
            println!(
                "{}",
                serde_json::json!({"ok": true, "ref_time": included.weight.ref_time, "proof_size": included.weight.proof_size})
            );
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(e) => Err(format!("the engine refused: {e:?}")),
    }
}

/// Adds every account the engine's deposit, fill and liquidation events name in `blocks`.
async fn note_accounts(
    chain: &Chain,
    engine: [u8; 32],
    blocks: std::ops::RangeInclusive<u64>,
    out: &mut BTreeSet<[u8; 32]>,
) -> Result<(), subxt::Error> {
    for n in blocks {
        for (contract, data, topics) in chain.emitted_in(n).await? {
            if contract != engine {
                continue;
            }
            let sig = topics.first().copied();
            if sig == Deposited::SIGNATURE_TOPIC {
                if let Ok(e) = Deposited::decode(&mut &data[..]) {
                    out.insert(*e.account.as_ref());
                }
            } else if sig == Filled::SIGNATURE_TOPIC {
                if let Ok(e) = Filled::decode(&mut &data[..]) {
                    out.insert(*e.taker.as_ref());
                    out.insert(*e.maker.as_ref());
                }
            } else if sig == Liquidated::SIGNATURE_TOPIC {
                if let Ok(e) = Liquidated::decode(&mut &data[..]) {
                    out.insert(*e.account.as_ref());
                    out.insert(*e.liquidator.as_ref());
                }
            }
        }
    }
    Ok(())
}

async fn reconcile(
    target: Target,
    token: String,
    token_metadata: PathBuf,
    markets: Vec<MarketId>,
    watch: Vec<String>,
) -> Result<(), String> {
    let started = Instant::now();
    let engine = parse_account(&target.engine)?;
    let token = parse_account(&token)?;
    let token_abi = Abi::load(&token_metadata)?;
    let chain = Chain::connect(&target.url)
        .await
        .map_err(|e| e.to_string())?;
    let k = Keeper::new(Abi::load(&target.engine_metadata)?, engine, started);
    let e = |err: subxt::Error| err.to_string();
    let mut accounts = BTreeSet::new();
    let best = chain.best_number().await.map_err(e)?;
    note_accounts(&chain, engine, 0..=best, &mut accounts)
        .await
        .map_err(e)?;
    for w in &watch {
        accounts.insert(parse_account(w)?);
    }
    let mut collateral = 0i128;
    let mut quote = 0i128;
    let mut open_size = 0i128;
    for who in &accounts {
        let view: AccountView = k
            .query(&chain, "account", (ink::primitives::AccountId::from(*who),))
            .await
            .map_err(e)?;
        collateral += view.collateral;
        for (_, p) in &view.positions {
            quote += p.quote;
            open_size += p.size;
        }
    }
    let insurance: i128 = k.query(&chain, "insurance_fund", ()).await.map_err(e)?;
    let net_deposits: i128 = k.query(&chain, "net_deposits", ()).await.map_err(e)?;
    let mut pools = 0i128;
    for m in &markets {
        let pool: Result<i128, EngineError> =
            k.query(&chain, "settlement_pool", (*m,)).await.map_err(e)?;
        pools += pool.map_err(|err| format!("settlement_pool({m}): {err:?}"))?;
    }
    let data = token_abi.call(
        "PSP22::balance_of",
        (ink::primitives::AccountId::from(engine),),
    )?;
    let dry = chain.dry_run(engine, token, data).await.map_err(e)?;
    let held: u128 = decode_return(&dry.data.ok_or("balance_of trapped")?)?;
    let total = collateral + quote + insurance + pools;
    let reconciled =
        i128::try_from(held).ok() == Some(net_deposits) && total == net_deposits && open_size == 0;
    println!(
        "{}",
        serde_json::json!({
            "accounts": accounts.len(),
            "token_balance_of_engine": held.to_string(),
            "net_deposits": net_deposits.to_string(),
            "collateral": collateral.to_string(),
            "position_quote": quote.to_string(),
            "insurance_fund": insurance.to_string(),
            "settlement_pools": pools.to_string(),
            "sum": total.to_string(),
            "net_open_size": open_size.to_string(),
            "reconciled": reconciled,
        })
    );
    if reconciled {
        Ok(())
    } else {
        Err("the books do not add up".into())
    }
}

fn listing(call: ListingCall) -> Result<(), String> {
    let listing = match call {
        ListingCall::Default(default) => default.listing(),
        ListingCall::Check { file } => Listing::load(file)?,
    };
    println!("{}", listing.to_json()?);
    Ok(())
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args).await,
        Command::Address { suri, check } => match (suri, check) {
            (Some(suri), _) => signer(&suri).map(|k| println!("{}", ss58(account_of(&k)))),
            (None, Some(address)) => parse_account(&address).map(|a| println!("{}", ss58(a))),
            (None, None) => Err("--suri or --check".into()),
        },
        Command::Reconcile {
            target,
            token,
            token_metadata,
            markets,
            watch,
        } => reconcile(target, token, token_metadata, markets, watch).await,
        Command::Admin { target, suri, call } => admin(target, suri, call).await,
        Command::Listing { call } => listing(call),
    };
    if let Err(e) = result {
        eprintln!("ballast-keeper: {e}");
        std::process::exit(1);
    }
}
