//! A crash replayed through the deployed contracts: feeders report a real candle path, traders
//! open leveraged positions through a venue, a keeper liquidates under the throttle and unwinds
//! what it takes over, and at the end every token is accounted for. The demo prints what this
//! returns; the scenario test asserts on it.

use std::collections::BTreeMap;

use ballast_interface::events::{BankruptcyResolved, BreakerChanged, Liquidated};
use ballast_interface::{AccountView, EngineError, HealthReport, MarketRisk};
use ballast_math::Rounding;
use ballast_oracle::candles::Candle;
use ballast_risk::config::LiquidationThrottle;
use ballast_risk::RiskError;
use drink::AccountId32;

use crate::{
    account, Decimals, Fixed, Gas, Harness, MarketConfig, OracleConfig, BTC, QUOTE_DECIMALS, USD,
};

/// The market id of the replay.
pub const MARKET: u32 = 1;
const MINUTE: u64 = 60_000;
const DECIMALS: Decimals = Decimals {
    base: 8,
    quote: QUOTE_DECIMALS,
};

/// Who opens what at the start of the replay.
#[derive(Debug, Clone)]
pub struct TraderSpec {
    /// Collateral deposited, whole USD.
    pub collateral_usd: u128,
    /// Leverage asked for (notional / collateral); positive long, negative short.
    pub leverage: i64,
}

/// The default population: longs from 3x to 19x, a few shorts, and a large long.
pub fn default_traders() -> Vec<TraderSpec> {
    let mut v: Vec<TraderSpec> = [3, 5, 8, 10, 12, 14, 16, 17, 18, 19]
        .iter()
        .enumerate()
        .map(|(i, &lev)| TraderSpec {
            collateral_usd: 2_000 + 2_000 * i as u128,
            leverage: lev,
        })
        .collect();
    v.extend([-5, -10, -15].iter().map(|&lev| TraderSpec {
        collateral_usd: 10_000,
        leverage: lev,
    }));
    v.push(TraderSpec {
        collateral_usd: 250_000,
        leverage: 11,
    });
    v
}

/// One line per hour of the replay.
#[derive(Debug, Clone)]
pub struct HourRow {
    /// Block time, ms.
    pub at_ms: u64,
    /// Market risk state at the end of the hour.
    pub risk: MarketRisk,
    /// Liquidation calls that succeeded during the hour.
    pub liquidations: u32,
    /// Insurance fund at the end of the hour.
    pub insurance_fund: i128,
}

/// Everything the replay observed.
#[derive(Default)]
pub struct ReplayReport {
    /// Hourly rows.
    pub hours: Vec<HourRow>,
    /// Every liquidation chunk, with its block time.
    pub liquidations: Vec<(u64, Liquidated)>,
    /// Every bankruptcy resolution.
    pub bankruptcies: Vec<(u64, BankruptcyResolved)>,
    /// Every breaker transition.
    pub breaker_events: Vec<(u64, BreakerChanged)>,
    /// Fills refused because the market was reduce-only or halted.
    pub refused_opens: u32,
    /// Liquidation attempts deferred by the throttle.
    pub throttled: u32,
    /// Weight per message label.
    pub gas: BTreeMap<&'static str, Vec<Gas>>,
    /// Token balance of the engine at the end.
    pub engine_balance: u128,
    /// Sum of collateral, position quotes, insurance fund and settlement pool at the end.
    pub accounted: i128,
    /// Engine's deposits minus withdrawals at the end.
    pub net_deposits: i128,
    /// Insurance fund at the end.
    pub insurance_fund: i128,
    /// Insurance fund at the start (seeded).
    pub insurance_seed: i128,
}

impl ReplayReport {
    /// True when the token contract, the engine's ledger and the sum over accounts agree to
    /// the unit.
    pub fn reconciled(&self) -> bool {
        i128::try_from(self.engine_balance) == Ok(self.accounted)
            && self.accounted == self.net_deposits
    }
}

struct Actors {
    venue: AccountId32,
    treasury: AccountId32,
    maker: AccountId32,
    keeper: AccountId32,
    /// Four feeders for a market that needs three reports: one may be out at any time.
    feeders: [AccountId32; 4],
    traders: Vec<AccountId32>,
}

impl Actors {
    fn all_accounts(&self) -> Vec<AccountId32> {
        let mut v = vec![
            self.treasury.clone(),
            self.maker.clone(),
            self.keeper.clone(),
        ];
        v.extend(self.traders.iter().cloned());
        v
    }
}

fn record(report: &mut ReplayReport, label: &'static str, gas: Gas) {
    report.gas.entry(label).or_default().push(gas);
}

fn report_price(h: &mut Harness, a: &Actors, report: &mut ReplayReport, price: Fixed) {
    let now = h.now_ms;
    // Each round one feeder is out, in turn: three reports still form the price.
    let out = usize::try_from(now / (15 * MINUTE) % 4).unwrap_or(0);
    let reporting: Vec<AccountId32> = a
        .feeders
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != out)
        .map(|(_, f)| f.clone())
        .collect();
    let reported = h.report(MARKET, &reporting, price);
    report
        .gas
        .entry("submit_report")
        .or_default()
        .extend(reported.gas);
    report
        .breaker_events
        .extend(reported.transitions.into_iter().map(|e| (now, e)));
}

fn oracle(h: &mut Harness) -> Fixed {
    h.read::<MarketRisk>("market_risk", (MARKET,))
        .expect("market risk")
        .oracle
}

/// Deposits `amount` for `who` through the token (faucet, approve, deposit).
pub fn fund(h: &mut Harness, who: &AccountId32, amount: u128, report: &mut ReplayReport) {
    h.give_tokens(who, amount);
    h.approve_engine(who, amount);
    h.engine::<()>(who, "deposit", (amount,)).expect("deposit");
    record(report, "deposit", h.last_gas);
}

/// `who` approves the venue to fill it in the market (once, as a venue's sign-up does).
fn join_venue(h: &mut Harness, a: &Actors, who: &AccountId32) {
    h.approve_venue(who, MARKET, &a.venue);
}

/// Venue fill at the oracle price with a 5 bp taker fee to the venue's treasury.
fn trade(
    h: &mut Harness,
    a: &Actors,
    report: &mut ReplayReport,
    taker: &AccountId32,
    size: i128,
) -> Result<(), EngineError> {
    let price = oracle(h);
    let notional = DECIMALS
        .quote_value(size.abs(), price, Rounding::Ceil)
        .expect("notional");
    let fee = u128::try_from(notional / 2_000).unwrap_or(0);
    let r = h.engine::<()>(
        &a.venue,
        "fill",
        (
            MARKET,
            taker.clone(),
            a.maker.clone(),
            size,
            price,
            fee,
            0u128,
            a.treasury.clone(),
        ),
    );
    record(report, "fill", h.last_gas);
    r
}

/// Liquidates every account below maintenance as far as the throttle allows, then unwinds the keeper's inherited position to the maker.
fn keeper_round(h: &mut Harness, a: &Actors, report: &mut ReplayReport) -> u32 {
    let mut done = 0;
    for trader in a.traders.clone() {
        loop {
            let view: AccountView = h.query("account", (trader.clone(),));
            if view.positions.is_empty() {
                break;
            }
            let health: HealthReport = h.read("health", (trader.clone(),)).expect("health");
            if health.maintenance.surplus().unwrap_or(0) >= 0 {
                break;
            }
            let now = h.now_ms;
            match h.engine::<()>(&a.keeper, "liquidate", (trader.clone(), MARKET)) {
                Ok(()) => {
                    record(report, "liquidate", h.last_gas);
                    done += 1;
                    for e in h.engine_events::<Liquidated>() {
                        report.liquidations.push((now, e));
                    }
                    for e in h.engine_events::<BankruptcyResolved>() {
                        report.bankruptcies.push((now, e));
                    }
                }
                Err(EngineError::Risk(RiskError::LiquidationThrottled)) => {
                    report.throttled += 1;
                    return done;
                }
                Err(EngineError::Risk(RiskError::NotLiquidatable)) => break,
                Err(e) => panic!("liquidation failed unexpectedly: {e:?}"),
            }
        }
    }
    // The keeper sells (or buys back) what it took over, to the maker at the oracle price.
    let held: AccountView = h.query("account", (a.keeper.clone(),));
    if let Some((_, position)) = held.positions.first() {
        let _ = trade(h, a, report, &a.keeper.clone(), -position.size);
    }
    done
}

/// Runs the replay over `candles` with the given traders. The market uses the default
/// large-cap config with a tighter liquidation throttle (`throttle_usd` per 10 minutes) so that
/// liquidations queue over several blocks as they would in a real cascade.
///
/// `warmup` candles are fed first (hourly closes, no trading) so that the volatility forecast
/// reflects the weeks before the crash rather than the adapter's starting value.
pub fn run(
    h: &mut Harness,
    warmup: &[Candle],
    candles: &[Candle],
    traders: &[TraderSpec],
    throttle_usd: u128,
    insurance_seed_usd: u128,
) -> ReplayReport {
    let mut report = ReplayReport::default();
    let first = warmup.first().or(candles.first()).expect("candles");
    h.set_time(first.timestamp_ms);
    let owner = h.owner.clone();
    let a = Actors {
        venue: account(40),
        treasury: account(41),
        maker: account(42),
        keeper: account(43),
        feeders: [account(31), account(32), account(33), account(34)],
        traders: (0..traders.len()).map(|i| account(100 + i as u8)).collect(),
    };
    for who in a
        .all_accounts()
        .iter()
        .chain(a.feeders.iter())
        .chain([&a.venue])
    {
        h.fund_native(who);
    }
    let mut config = MarketConfig::default_large_cap(DECIMALS);
    config.liquidation.throttle = LiquidationThrottle::On;
    config.liquidation.throttle_notional = i128::try_from(throttle_usd * USD).expect("throttle");
    // The replay feeds prices every 15 minutes (hourly during warm-up), where feeders on chain
    // report every block; freshness bounds are widened to that cadence so that a report is not
    // stale merely because the replay skipped the minutes between candle points.
    let oracle_config = OracleConfig {
        max_report_age_ms: 65 * MINUTE,
        max_liquidation_age_ms: 120 * MINUTE,
        ..OracleConfig::default()
    };
    h.list_market_with_feeders(MARKET, config, oracle_config, &a.feeders);
    h.authorize_venue(MARKET, &a.venue);
    h.give_tokens(&owner, insurance_seed_usd * USD);
    h.approve_engine(&owner, insurance_seed_usd * USD);
    h.engine::<()>(&owner, "fund_insurance", (insurance_seed_usd * USD,))
        .expect("insurance");
    report.insurance_seed = i128::try_from(insurance_seed_usd * USD).expect("seed");
    fund(h, &a.maker, 100_000_000 * USD, &mut report);
    fund(h, &a.keeper, 20_000_000 * USD, &mut report);
    join_venue(h, &a, &a.maker);
    join_venue(h, &a, &a.keeper);
    for candle in warmup {
        h.set_time(candle.timestamp_ms);
        report_price(h, &a, &mut report, candle.close);
    }
    report.breaker_events.clear();
    let start = candles.first().expect("candles");
    h.set_time(start.timestamp_ms);
    report_price(h, &a, &mut report, start.open);

    // Traders open at the first price, as large as they asked or as the engine allows.
    for (spec, who) in traders.iter().zip(a.traders.clone()) {
        fund(h, &who, spec.collateral_usd * USD, &mut report);
        join_venue(h, &a, &who);
        let price = oracle(h);
        let notional = i128::try_from(spec.collateral_usd * USD).expect("collateral")
            * i128::from(spec.leverage.abs());
        let wanted = DECIMALS
            .size_for_value(notional, price, Rounding::Floor)
            .expect("size");
        let allowed: i128 = h
            .read(
                "max_position",
                (
                    who.clone(),
                    MARKET,
                    spec.leverage > 0,
                    price,
                    Fixed::from_ratio(5, 10_000).expect("fee"),
                ),
            )
            .expect("max position");
        let size = wanted.min(allowed);
        if size > 0 {
            trade(
                h,
                &a,
                &mut report,
                &who,
                if spec.leverage > 0 { size } else { -size },
            )
            .expect("opening fill");
        }
    }

    // The crash: four points per candle, 15 minutes apart; a keeper round and an attempt to
    // open new risk after each; funding each hour.
    let newcomer = a.traders.first().cloned().expect("a trader");
    for candle in candles {
        let (a1, a2) = if candle.close >= candle.open {
            (candle.low, candle.high)
        } else {
            (candle.high, candle.low)
        };
        let mut liquidated_this_hour = 0;
        for (i, price) in [candle.open, a1, a2, candle.close].into_iter().enumerate() {
            h.set_time(candle.timestamp_ms + 15 * MINUTE * i as u64);
            report_price(h, &a, &mut report, price);
            liquidated_this_hour += keeper_round(h, &a, &mut report);
            if let Err(EngineError::Risk(RiskError::ReduceOnly | RiskError::MarketHalted)) =
                trade(h, &a, &mut report, &newcomer, BTC / 100)
            {
                report.refused_opens += 1;
            }
        }
        let price = oracle(h);
        let delta = price
            .checked_mul(Fixed::from_ratio(1, 100_000).expect("rate"))
            .expect("funding");
        h.engine::<()>(&a.venue, "update_funding", (MARKET, delta))
            .expect("funding");
        record(&mut report, "update_funding", h.last_gas);
        let risk: MarketRisk = h.read("market_risk", (MARKET,)).expect("risk");
        let insurance_fund = h.query::<i128>("insurance_fund", ());
        report.hours.push(HourRow {
            at_ms: h.now_ms,
            risk,
            liquidations: liquidated_this_hour,
            insurance_fund,
        });
    }

    // Reconciliation: the token contract against the engine's books, to the unit.
    let engine = h.engine.clone();
    report.engine_balance = h.balance(&engine);
    let mut accounted = h.query::<i128>("insurance_fund", ());
    accounted += h.read::<i128>("settlement_pool", (MARKET,)).expect("pool");
    for who in a.all_accounts() {
        let view: AccountView = h.query("account", (who,));
        accounted += view.collateral + view.positions.iter().map(|(_, p)| p.quote).sum::<i128>();
    }
    report.accounted = accounted;
    report.net_deposits = h.query("net_deposits", ());
    report.insurance_fund = h.query("insurance_fund", ());
    report
}
