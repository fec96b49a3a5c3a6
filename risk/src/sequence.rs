//! Operation sequences with their invariants, shared by the property tests
//! (`tests/properties.rs`, proptest) and the fuzzers (`fuzz/`, libFuzzer): two markets (BTC-like
//! at 20,000 and ETH-like at 1,500, both on the large-cap defaults), a few cross-margined
//! accounts, and every operation a venue, a keeper, a guardian, the owner, the oracle or time can
//! apply. [`Harness::apply`] runs one operation on a [`Ledger`] and then checks the invariants
//! below; `Err` names the first violation.
//!
//! The harness checks outcomes only: it never re-implements a rule of the core to predict
//! whether an operation should pass. Where a check needs a number (health) it asks the core's own
//! read-only functions, and where it needs a counterfactual (could this account be liquidated?
//! would this call have closed more without the throttle?) it runs the core on a clone of the
//! ledger.
//!
//! # The world around the core
//!
//! Each market has a [`Feed`], the harness's stand-in for the oracle adapter. Every time step
//! observes every market the way `feed::observe` does in the engine: the market's clock moves,
//! a price valid for liquidation ramps the volatility terms toward the latest forecast, the
//! breaker advances through [`crate::Breaker::update`] with the market's own parameters (so
//! velocity moves trip ReduceOnly, invalid prices mean OracleHalt, unconfirmed pauses lapse),
//! and a price invalid even for liquidation reaches the core as zero prices, as `observe` passes
//! them. A settled market shows its settlement price, invalid for everything, from then on.
//! Guardian pauses, confirmations and resumes go through the breaker's own API; no breaker state
//! is written directly.
//!
//! # Invariants, after every operation
//!
//! 1. Value is conserved to the unit ([`Ledger::conserved`]).
//! 2. A failed operation changes nothing (the whole ledger is compared; environment steps such as
//!    time passing happen before the snapshot).
//! 3. Per live market the sizes sum to zero and open interest is the long side; per settled
//!    market the open long size equals the open interest and the open short size the
//!    settlement's `open_shorts`.
//!    A settled market stays settled.
//! 4. Solvency: no flat account ([`Account::is_flat`]) holds negative collateral.
//! 5. Every account with negative maintenance equity and a perp position in a live market can be
//!    liquidated: on a clone, a well-funded liquidator's call in at least one market where the
//!    account holds a position, the price is valid for liquidation and the market is neither
//!    paused nor settled is accepted or refused only with `LiquidationThrottled`. Accounts whose
//!    markets are all paused, invalid or settled are exempt: nothing may be liquidated there, and
//!    the account is checked again once one of them comes back. So is an account holding any
//!    market (a position or its options book) whose price is not valid even for liquidation
//!    (and that is not settled): its
//!    deficit would be measured at a stale price, so the core refuses to cover it
//!    (`MarketHalted`) until the market is priced again or settled. So is an account whose numbers
//!    overflow the core's checked arithmetic (amounts near `i128::MAX`, which only the fuzzer's
//!    extreme operations reach; counted in [`Counts::probe_overflows`]).
//! 6. No account at or above maintenance before a call is liquidated by it, flagged or not.
//! 7. A liquidation never lowers the account's maintenance health ratio (equity / requirement)
//!    when that ratio was positive.
//! 8. Liquidation calls are bounded: per episode of (account, market) (from the first call until
//!    the account is seen at or above maintenance or the position is gone), at most
//!    `ceil(1 / chunk_fraction) + 1` calls that the throttle did not cut short. The largest count
//!    seen is [`Counts::max_liquidation_calls`].
//! 9. An accepted withdrawal leaves initial health at the target requirement non-negative.
//! 10. An accepted fill leaves each side that grew its exposure (opened, grew or flipped) with
//!     non-negative initial health facing the target requirement in that market, also with every
//!     market the core could not price valued at its feed's last valid price; a side whose
//!     maintenance equity ends negative lost at most one base unit of equity (rounding) unless it
//!     traded at the oracle price or better. Both are measured against the markets as they were
//!     before the fill, so that a social loss the fill spread (a counterparty's covered deficit)
//!     is not taken for the side's own trading outcome.
//! 11. An accepted options report that grows the book leaves non-negative initial health.
//! 12. An account an accepted operation touched (deposit, withdrawal, fill, options report,
//!     liquidation, settled close, bankruptcy resolution) and that is at or above maintenance
//!     afterwards is not flagged as being liquidated and has no liquidation base left.
//! 13. A market settled as `OracleDead` had a price invalid for liquidation for at least
//!     `settle_after_ms` by the feed's own record.
//! 14. A deficit covered by the insurance fund or a social loss (in a liquidation, a fill or a
//!     settled close) is real: at most what the account was underwater by before the operation
//!     with every market the core could not price valued at its feed's last valid price (plus
//!     [`DEFICIT_DUST`] of rounding). Others pay for it, so it must not come from a price that
//!     was missing.
//!
//! Depth reports and options books take part, so every invariant also holds with the liquidity
//! terms (charge, caps, depth-sized throttle) and Greeks requirements in force.
//!
//! Behind the `std` feature: test support, not contract logic, so plain arithmetic on the
//! harness's own small numbers is allowed here.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

extern crate alloc;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use ballast_math::{mul_div_i128, Decimals, Fixed, Rounding};

use crate::breaker::BreakerState;
use crate::greeks::{ExpiryGreeks, OptionsReport};
use crate::health::{
    account_health, account_health_growing_options, initial_health_at_target, Health, HealthKind,
};
use crate::ledger::{AccountId, Ledger};
use crate::liquidity::BookDepth;
use crate::ops::{apply_options_report, max_position, report_depth, update_funding, Fill};
use crate::settlement::{LastPrice, SettleReason};
use crate::state::{Account, MarketCtx, MarketId, MarketState, Prices};
use crate::{MarketConfig, RiskError};

/// The BTC-like market (kept under its old name for the shared test fixture).
pub const MARKET: MarketId = BTC;
/// The BTC-like market, starting at 20,000.
pub const BTC: MarketId = 1;
/// The ETH-like market, starting at 1,500.
pub const ETH: MarketId = 2;
/// Every market of the harness, with its starting price (whole USD).
pub const MARKETS: [(MarketId, i64); 2] = [(BTC, 20_000), (ETH, 1_500)];
/// One quote unit (USD) in base units.
pub const USD: i128 = 1_000_000;
/// One whole base asset in base units (both markets have 8 base decimals).
pub const ONE: i128 = 100_000_000;
/// One BTC in base units.
pub const ONE_BTC: i128 = ONE;
/// One hour, ms.
pub const HOUR: u64 = 3_600_000;
/// One minute, ms: how far a price move advances the clock.
pub const MINUTE_MS: u64 = 60_000;
/// Accounts 0..4 trade; 4 is a deep liquidity provider, 5 a second liquidator, 9 collects fees.
pub const TRADERS: u32 = 4;
/// What each trader holds at the start, so that the first operations of a sequence already
/// trade, quote base units.
pub const TRADER_DEPOSIT: i128 = 2_000 * USD;
/// The deep liquidity provider.
pub const PROVIDER: AccountId = 4;
/// The fee recipient.
pub const FEES: AccountId = 9;
/// The liquidator of the liquidatability probe (invariant 5); exists only on clones.
pub const PROBE: AccountId = 8;
/// What the probe liquidator deposits on its clone, beyond the ledger's own collateral.
pub const PROBE_DEPOSIT: i128 = 1_000_000_000 * USD;
/// Quote base units a covered deficit may exceed the account's own shortfall by (the rounding
/// of the closes that produced it; invariant 14).
pub const DEFICIT_DUST: i128 = 10;
/// Valid prices the TWAP stand-in averages (see [`Feed::twap`]).
pub const TWAP_SAMPLES: usize = 4;

/// How the oracle grades a market's price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// Valid for everything.
    Valid,
    /// Still valid for liquidation and reducing, not for opening (stale or uncertain).
    OpeningInvalid,
    /// No price at all: invalid even for liquidation.
    Dark,
}

/// A guardian's or the owner's breaker action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guardian {
    /// Guardian pause ([`crate::Breaker::pause`]).
    Pause,
    /// Owner confirmation of the pause ([`crate::Breaker::confirm_pause`]).
    Confirm,
    /// Owner resume ([`crate::Breaker::resume`]).
    Resume,
}

/// One operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Deposit collateral, quote base units.
    Deposit(AccountId, i128),
    /// Withdraw collateral, quote base units.
    Withdraw(AccountId, i128),
    /// Someone pays into the insurance fund, quote base units (the tokens enter the engine, so
    /// net deposits grow by the same amount).
    FundInsurance(i128),
    /// A venue fill between two accounts at `offset_bps` from the oracle price (the band is
    /// 2%), the taker paying `fee_bps` of the notional (the bound is 1%), the maker half.
    Trade {
        /// Market.
        market: MarketId,
        /// Taker.
        taker: AccountId,
        /// Maker.
        maker: AccountId,
        /// Taker's signed size, base units.
        size: i128,
        /// Fill price offset from the oracle, basis points.
        offset_bps: i64,
        /// Taker fee, basis points of the notional.
        fee_bps: i64,
    },
    /// `who` reduces `pct`% of its position in `market` (or, holding nothing there, in its first
    /// market) against the provider at `offset_bps` from the oracle, paying `fee_bps`: what an
    /// underwater trader tries before a keeper arrives.
    Close {
        /// Market.
        market: MarketId,
        /// Account reducing.
        who: AccountId,
        /// Share of the position closed, percent.
        pct: i128,
        /// Fill price offset from the oracle, basis points.
        offset_bps: i64,
        /// Fee, basis points of the notional.
        fee_bps: i64,
    },
    /// A trade against the provider sized as `pct`% of what the taker may open: drives accounts
    /// to high leverage.
    Leveraged {
        /// Market.
        market: MarketId,
        /// Taker.
        taker: AccountId,
        /// Direction.
        buy: bool,
        /// Share of the maximum, percent.
        pct: i128,
    },
    /// One minute passes and the market's feed price moves by `bps` (hidden while the feed is
    /// dark; it shows when the feed comes back).
    Move {
        /// Market.
        market: MarketId,
        /// Basis points.
        bps: i64,
    },
    /// One hour passes and the market's funding index moves by `bps` of the price.
    Funding {
        /// Market.
        market: MarketId,
        /// Basis points.
        bps: i64,
    },
    /// `hours` pass without a report: pauses lapse, throttle windows roll, ramps advance, a
    /// dark oracle becomes dead.
    Hours(u64),
    /// The market's forecast volatility becomes `pct`% (annualized): targets move at once, the
    /// applied terms ramp toward them as time passes.
    Vol {
        /// Market.
        market: MarketId,
        /// Annualized volatility, percent.
        pct: i64,
    },
    /// The oracle's grading of the market's price changes.
    Validity {
        /// Market.
        market: MarketId,
        /// New grading.
        validity: Validity,
    },
    /// A guardian or the owner acts on the market's breaker.
    Breaker {
        /// Market.
        market: MarketId,
        /// Action.
        action: Guardian,
    },
    /// Reporter number `reporter` (a venue or feeder) reports the market's book depth: `usd`
    /// whole USD on each side.
    Depth {
        /// Market.
        market: MarketId,
        /// Which reporter (any byte: distinct bytes are distinct reporters).
        reporter: u8,
        /// Depth per side, whole USD.
        usd: i128,
    },
    /// One second later, an options venue reports `who`'s book in the market: one 7-day bucket
    /// of cash gamma and vega (whole USD, signed), or no bucket when both are zero.
    Options {
        /// Market.
        market: MarketId,
        /// Account.
        who: AccountId,
        /// Cash gamma, whole USD.
        gamma_usd: i128,
        /// Vega per 1.0 of implied vol, whole USD.
        vega_usd: i128,
    },
    /// A keeper liquidates `who` in `market` (or, holding nothing there, in its first market),
    /// taking the position over as `by`.
    Liquidate {
        /// Market.
        market: MarketId,
        /// Liquidated account.
        who: AccountId,
        /// Liquidator.
        by: AccountId,
    },
    /// Someone asks to settle the market: `OracleDead` (anyone, accepted only after the price
    /// has been invalid long enough) or `Delisted` (the owner, any time).
    Settle {
        /// Market.
        market: MarketId,
        /// Why.
        reason: SettleReason,
    },
    /// Someone closes `who`'s position in a settled market.
    CloseSettled {
        /// Account.
        who: AccountId,
        /// Market.
        market: MarketId,
    },
    /// Someone resolves `who`'s bankruptcy (nothing but negative collateral).
    ResolveBankruptcy {
        /// Account.
        who: AccountId,
    },
}

/// The harness's stand-in for one market's oracle feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// The feed's price (while dark: what it will show when it comes back).
    pub price: Fixed,
    /// Dampened price: moves halfway toward the price at every valid observation.
    pub dampened: Fixed,
    /// How the price is graded now.
    pub validity: Validity,
    /// The last [`TWAP_SAMPLES`] prices observed while valid for liquidation.
    pub recent: Vec<Fixed>,
    /// When the price was last valid for liquidation (the last aggregate), ms.
    pub formed_at_ms: u64,
    /// Latest volatility forecast, if any was given (annualized).
    pub forecast_vol: Option<Fixed>,
}

impl Feed {
    fn new(price: Fixed) -> Feed {
        Feed {
            price,
            dampened: price,
            validity: Validity::Valid,
            recent: Vec::new(),
            formed_at_ms: 0,
            forecast_vol: None,
        }
    }

    /// The settlement price the adapter would give: the mean of the last valid prices (a
    /// stand-in for its time-weighted average; zero before any).
    pub fn twap(&self) -> Fixed {
        let n = self.recent.len() as i128;
        if n == 0 {
            return Fixed::ZERO;
        }
        Fixed::from_bits(self.recent.iter().map(|p| p.to_bits() / n).sum())
    }
}

/// What the operations of a sequence did (summed over a batch by the property tests, which
/// require the new paths to be exercised).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Accepted fills.
    pub fills: u64,
    /// Fills that covered a side's deficit (a flat close underwater at the oracle or better).
    pub fill_bankruptcies: u64,
    /// Fills refused with `NegativeEquity`.
    pub negative_equity_refusals: u64,
    /// Operations refused with `DeficitUnresolved`.
    pub deficit_unresolved_refusals: u64,
    /// Accepted withdrawals.
    pub withdrawals: u64,
    /// Accepted liquidation calls.
    pub liquidations: u64,
    /// Liquidation calls that covered a bankrupt account's deficit.
    pub bankruptcies: u64,
    /// Liquidation calls refused with `LiquidationThrottled`.
    pub throttled: u64,
    /// Accepted liquidation calls the throttle cut short.
    pub throttle_cut: u64,
    /// Most liquidation calls seen in one unthrottled episode (invariant 8).
    pub max_liquidation_calls: u64,
    /// Probe liquidations run for invariant 5 (accounts seen with negative equity).
    pub negative_equity_probes: u64,
    /// Probe liquidations the core refused with an arithmetic error (exempt from invariant 5:
    /// only amounts near `i128::MAX` get there, and the property tests require none).
    pub probe_overflows: u64,
    /// Markets settled.
    pub settlements: u64,
    /// Of which as `OracleDead`.
    pub oracle_dead_settlements: u64,
    /// Accepted closes of settled positions.
    pub settled_closes: u64,
    /// Settled closes that covered a deficit.
    pub settled_close_bankruptcies: u64,
    /// Accepted bankruptcy resolutions.
    pub resolved_bankruptcies: u64,
    /// Breaker trips into ReduceOnly.
    pub reduce_only_trips: u64,
    /// Guardian pauses that lapsed unconfirmed.
    pub lapsed_pauses: u64,
}

impl Counts {
    /// Adds `other` (the maximum for `max_liquidation_calls`).
    pub fn add(&mut self, other: &Counts) {
        self.fills += other.fills;
        self.fill_bankruptcies += other.fill_bankruptcies;
        self.negative_equity_refusals += other.negative_equity_refusals;
        self.deficit_unresolved_refusals += other.deficit_unresolved_refusals;
        self.withdrawals += other.withdrawals;
        self.liquidations += other.liquidations;
        self.bankruptcies += other.bankruptcies;
        self.throttled += other.throttled;
        self.throttle_cut += other.throttle_cut;
        self.max_liquidation_calls = self.max_liquidation_calls.max(other.max_liquidation_calls);
        self.negative_equity_probes += other.negative_equity_probes;
        self.probe_overflows += other.probe_overflows;
        self.settlements += other.settlements;
        self.oracle_dead_settlements += other.oracle_dead_settlements;
        self.settled_closes += other.settled_closes;
        self.settled_close_bankruptcies += other.settled_close_bankruptcies;
        self.resolved_bankruptcies += other.resolved_bankruptcies;
        self.reduce_only_trips += other.reduce_only_trips;
        self.lapsed_pauses += other.lapsed_pauses;
    }
}

/// A ledger under test, the world around it and what it has done so far.
#[derive(Debug, Clone)]
pub struct Harness {
    /// The ledger.
    pub ledger: Ledger,
    /// Current time, ms.
    pub now_ms: u64,
    /// One feed per market, in the order of `ledger.markets`.
    pub feeds: Vec<Feed>,
    /// Counters.
    pub counts: Counts,
    /// Unthrottled liquidation calls of the current episode per (account, market).
    pub episodes: BTreeMap<(AccountId, MarketId), u64>,
    /// Markets settled so far (they must stay settled).
    pub settled: Vec<MarketId>,
    /// The core's answer to the last operation (`Ok` for the world's own steps).
    pub last_result: Result<(), RiskError>,
}

/// The market configuration of the harness: the defaults for an 8/6-decimal market, with the
/// liquidation throttle on (off by default), so that the invariants are checked with it too
/// (the harness's ETH-like market keeps the default).
pub fn config() -> MarketConfig {
    let mut c = MarketConfig::default_large_cap(Decimals { base: 8, quote: 6 });
    c.liquidation.throttle = crate::config::LiquidationThrottle::On;
    c
}

/// Valid prices at `oracle` (dampened equal).
pub fn prices(oracle: Fixed) -> Prices {
    Prices {
        oracle,
        dampened: oracle,
        opening_valid: true,
        liquidation_valid: true,
    }
}

/// `price` moved by `bps` basis points.
pub fn bps_of(price: Fixed, bps: i64) -> Option<Fixed> {
    price
        .checked_mul(Fixed::from_ratio(10_000 + i128::from(bps), 10_000).ok()?)
        .ok()
}

/// Most liquidation calls one unthrottled episode may take: `ceil(1 / chunk_fraction) + 1`
/// (each call closes at least a chunk of the size the liquidation began from, unless it
/// restores health first, in which case the episode ends; one call of slack for the rounding of
/// the last chunk).
pub fn liquidation_call_bound(config: &MarketConfig) -> u64 {
    let chunks = Fixed::ONE
        .div_rounded(config.liquidation.chunk_fraction, Rounding::Ceil)
        .map_or(u64::MAX / 2, |c| c.to_int(Rounding::Ceil) as u64);
    chunks + 1
}

/// The side grew its exposure: opened, grew or flipped.
fn grew_exposure(before: i128, after: i128) -> bool {
    after != 0 && (before == 0 || (before > 0) != (after > 0) || after.abs() > before.abs())
}

fn health(account: &Account, markets: &[MarketCtx], kind: HealthKind) -> Result<Health, String> {
    account_health(account, markets, kind, None).map_err(|e| format!("health: {e:?}"))
}

fn surplus(h: &Health) -> Result<i128, String> {
    h.surplus().map_err(|e| format!("surplus: {e:?}"))
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    /// Both markets observed once at time zero (so their breakers have anchors), the provider
    /// and the second liquidator funded with 1M each, each trader with [`TRADER_DEPOSIT`].
    pub fn new() -> Harness {
        let mut h = Harness {
            ledger: Ledger::default(),
            now_ms: 0,
            feeds: Vec::new(),
            counts: Counts::default(),
            episodes: BTreeMap::new(),
            settled: Vec::new(),
            last_result: Ok(()),
        };
        for (id, price) in MARKETS {
            let price = Fixed::from_int(price);
            // The BTC-like market throttles liquidations, the ETH-like one has the default (no
            // throttle): every sequence checks the invariants under both.
            let mut config = config();
            if id == ETH {
                config.liquidation.throttle = crate::config::LiquidationThrottle::Off;
            }
            h.ledger.markets.push(MarketCtx {
                id,
                config,
                state: MarketState::new(0),
                prices: prices(price),
                now_ms: 0,
            });
            h.feeds.push(Feed::new(price));
        }
        h.observe_all();
        let _ = h.ledger.deposit(PROVIDER, 1_000_000 * USD);
        let _ = h.ledger.deposit(5, 1_000_000 * USD);
        for trader in 0..TRADERS {
            let _ = h.ledger.deposit(trader, TRADER_DEPOSIT);
        }
        h
    }

    fn index(&self, market: MarketId) -> Option<usize> {
        self.ledger.markets.iter().position(|m| m.id == market)
    }

    fn oracle(&self, market: MarketId) -> Fixed {
        self.index(market)
            .and_then(|i| self.ledger.markets.get(i))
            .map_or(Fixed::ZERO, |m| m.prices.oracle)
    }

    /// Observes market `i` at the harness's time, as `feed::observe` does in the engine.
    fn observe(&mut self, i: usize) {
        let now = self.now_ms;
        let (Some(m), Some(feed)) = (self.ledger.markets.get_mut(i), self.feeds.get_mut(i)) else {
            return;
        };
        m.now_ms = now;
        if let Some(s) = m.state.settlement {
            m.prices = Prices {
                oracle: s.price,
                dampened: s.price,
                opening_valid: false,
                liquidation_valid: false,
            };
            return;
        }
        let opening_valid = feed.validity == Validity::Valid;
        if feed.validity == Validity::Dark {
            // As `feed::observe`: the last valid prices stand in, flagged invalid.
            m.prices.opening_valid = false;
            m.prices.liquidation_valid = false;
        } else {
            feed.dampened =
                Fixed::from_bits(feed.dampened.to_bits() / 2 + feed.price.to_bits() / 2);
            feed.formed_at_ms = now;
            if feed.recent.len() >= TWAP_SAMPLES {
                feed.recent.remove(0);
            }
            feed.recent.push(feed.price);
            if let Some(vol) = feed.forecast_vol {
                // As `feed::observe`: the opening term's memory samples the dampened price,
                // then the volatility terms update.
                let _ = crate::memory::sample_memory(
                    &mut m.state.vol_memory,
                    &ballast_oracle::OracleConfig::default(),
                    &m.config.margin,
                    vol,
                    feed.dampened,
                    now,
                );
                let _ = m.state.update_volatility(&m.config, vol, now);
            }
            m.prices = Prices {
                oracle: feed.price,
                dampened: feed.dampened,
                opening_valid,
                liquidation_valid: true,
            };
        }
        let opening_price = opening_valid.then_some(feed.price);
        if let Ok(Some(t)) = m
            .state
            .breaker
            .update(&m.config.breaker, opening_price, now)
        {
            if t.to == BreakerState::ReduceOnly {
                self.counts.reduce_only_trips += 1;
            }
            if t.from == BreakerState::Paused {
                self.counts.lapsed_pauses += 1;
            }
        }
    }

    fn observe_all(&mut self) {
        for i in 0..self.ledger.markets.len() {
            self.observe(i);
        }
    }

    /// Time passes: every market is observed at the new time.
    fn advance(&mut self, ms: u64) {
        self.now_ms = self.now_ms.saturating_add(ms);
        self.observe_all();
    }

    /// The world's part of an operation (time, feeds, guardians), before the snapshot that
    /// invariant 2 compares against.
    fn environment(&mut self, op: &Op) {
        match *op {
            Op::Move { market, bps } => {
                if let Some(feed) = self.index(market).and_then(|i| self.feeds.get_mut(i)) {
                    if let Some(p) = bps_of(feed.price, bps).filter(|p| p.is_positive()) {
                        feed.price = p;
                    }
                }
                self.advance(MINUTE_MS);
            }
            Op::Funding { .. } => self.advance(HOUR),
            Op::Hours(hours) => self.advance(hours.saturating_mul(HOUR)),
            Op::Options { .. } => self.advance(1_000),
            Op::Vol { market, pct } => {
                if let Some(i) = self.index(market) {
                    if let (Some(feed), Ok(vol)) = (
                        self.feeds.get_mut(i),
                        Fixed::from_ratio(i128::from(pct), 100),
                    ) {
                        feed.forecast_vol = Some(vol.max(Fixed::ZERO));
                    }
                    self.observe(i);
                }
            }
            Op::Validity { market, validity } => {
                if let Some(i) = self.index(market) {
                    if let Some(feed) = self.feeds.get_mut(i) {
                        feed.validity = validity;
                    }
                    self.observe(i);
                }
            }
            Op::Breaker { market, action } => {
                let now = self.now_ms;
                if let Some(i) = self.index(market) {
                    if let Some(m) = self.ledger.markets.get_mut(i) {
                        let b = &mut m.state.breaker;
                        match action {
                            Guardian::Pause => {
                                b.pause(now);
                            }
                            Guardian::Confirm => {
                                b.confirm_pause();
                            }
                            Guardian::Resume => {
                                b.resume(now);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// The markets with every price the core cannot see (a dark feed) put back at the feed's
    /// last valid price: the reference for whether a deficit is real (invariant 14).
    fn markets_at_last_valid_prices(&self, markets: &[MarketCtx]) -> Vec<MarketCtx> {
        let mut out = markets.to_vec();
        for (m, feed) in out.iter_mut().zip(&self.feeds) {
            if m.state.settlement.is_none() && !m.prices.liquidation_valid {
                if let Some(last) = feed.recent.last() {
                    m.prices.oracle = *last;
                    m.prices.dampened = *last;
                }
            }
        }
        out
    }

    /// Invariant 14: a covered deficit of `covered` for `who` (as it was in `before`) is no larger
    /// than the account was underwater at the last valid prices.
    fn check_deficit_real(
        &self,
        before: &Ledger,
        who: AccountId,
        covered: i128,
        op: &str,
    ) -> Result<(), String> {
        let empty = Account::default();
        let account = before.accounts.get(&who).unwrap_or(&empty);
        let markets = self.markets_at_last_valid_prices(&before.markets);
        let Ok(h) = health(account, &markets, HealthKind::Maintenance) else {
            return Ok(());
        };
        let equity = h.equity;
        let real = equity.checked_neg().unwrap_or(i128::MAX).max(0);
        if covered > real.saturating_add(DEFICIT_DUST) {
            return Err(format!(
                "{op} covered a deficit of {covered} for account {who}, underwater by only \
                 {real} at the last valid prices (equity {equity}): others paid for a loss that \
                 exists only in a price the core could not see"
            ));
        }
        Ok(())
    }

    /// `market`, or the account's first market if it holds nothing in `market` (so that the
    /// operations aimed at a position rarely miss).
    fn held_market(&self, who: AccountId, market: MarketId) -> MarketId {
        self.ledger
            .accounts
            .get(&who)
            .filter(|a| a.size(market) == 0)
            .and_then(|a| a.positions.first().map(|(id, _)| *id))
            .unwrap_or(market)
    }

    fn maintenance_ratio(&self, who: AccountId) -> Option<Fixed> {
        let a = self.ledger.accounts.get(&who)?;
        account_health(a, &self.ledger.markets, HealthKind::Maintenance, None)
            .ok()?
            .ratio()
            .ok()?
    }

    /// Invariant 10 for one side of an accepted fill.
    fn check_fill_side(
        &self,
        before: &Ledger,
        who: AccountId,
        market: MarketId,
        delta: i128,
        price: Fixed,
    ) -> Result<(), String> {
        let empty = Account::default();
        let old = before.accounts.get(&who).unwrap_or(&empty);
        let new = self.ledger.accounts.get(&who).unwrap_or(&empty);
        let markets = &before.markets;
        if grew_exposure(old.size(market), new.size(market)) {
            let h = account_health(new, markets, HealthKind::Initial, Some(market))
                .map_err(|e| format!("initial health: {e:?}"))?;
            let s = surplus(&h)?;
            if s < 0 {
                return Err(format!(
                    "a fill grew account {who}'s exposure in market {market} ({} -> {}) and left \
                     its initial surplus at {s}",
                    old.size(market),
                    new.size(market)
                ));
            }
            // Nor may the new risk rest on value that exists only because a price is missing
            // (a short in a dark market is worth its whole notional at a zero price).
            if markets
                .iter()
                .any(|m| m.state.settlement.is_none() && !m.prices.liquidation_valid)
            {
                let known = self.markets_at_last_valid_prices(markets);
                let h = account_health(new, &known, HealthKind::Initial, Some(market))
                    .map_err(|e| format!("initial health: {e:?}"))?;
                let s = surplus(&h)?;
                if s < 0 {
                    return Err(format!(
                        "a fill grew account {who}'s exposure in market {market} ({} -> {}) on \
                         value from a market without a price: its initial surplus is {s} with \
                         that market at its last valid price",
                        old.size(market),
                        new.size(market)
                    ));
                }
            }
        }
        // Equity the core's arithmetic cannot evaluate (amounts near `i128::MAX`, only from the
        // fuzzer's extreme operations) is not judged here.
        let (Ok(h_before), Ok(h_after)) = (
            health(old, markets, HealthKind::Maintenance),
            health(new, markets, HealthKind::Maintenance),
        ) else {
            return Ok(());
        };
        let (equity_before, equity_after) = (h_before.equity, h_after.equity);
        if equity_after < 0 && equity_after < equity_before.saturating_sub(1) {
            let oracle = before
                .markets
                .iter()
                .find(|m| m.id == market)
                .map_or(Fixed::ZERO, |m| m.prices.oracle);
            let at_oracle_or_better = if delta > 0 {
                price <= oracle
            } else {
                price >= oracle
            };
            if !at_oracle_or_better {
                return Err(format!(
                    "a fill of {delta} at {price:?} (oracle {oracle:?}) took account {who}'s \
                     equity from {equity_before} to {equity_after}"
                ));
            }
        }
        Ok(())
    }

    /// Runs a fill through the ledger and checks both sides (invariant 10).
    fn fill(
        &mut self,
        before: &Ledger,
        taker: AccountId,
        maker: AccountId,
        fill: &Fill,
    ) -> Result<Result<(), RiskError>, String> {
        let r = self.ledger.fill(taker, maker, FEES, fill);
        match &r {
            Ok(outcome) => {
                self.counts.fills += 1;
                for (who, covered) in [
                    (taker, outcome.taker_bankruptcy),
                    (maker, outcome.maker_bankruptcy),
                ] {
                    if let Some(b) = covered {
                        self.counts.fill_bankruptcies += 1;
                        self.check_deficit_real(before, who, b.deficit, "a fill")?;
                    }
                }
                self.check_fill_side(before, taker, fill.market, fill.size, fill.price)?;
                let maker_delta = fill.size.checked_neg().unwrap_or(0);
                self.check_fill_side(before, maker, fill.market, maker_delta, fill.price)?;
            }
            Err(RiskError::NegativeEquity) => self.counts.negative_equity_refusals += 1,
            Err(_) => {}
        }
        Ok(r.map(|_| ()))
    }

    /// A fill at `offset_bps` from the oracle with the taker paying `fee_bps` of the notional.
    fn priced_fill(&self, market: MarketId, size: i128, offset_bps: i64, fee_bps: i64) -> Fill {
        let price = bps_of(self.oracle(market), offset_bps).unwrap_or(Fixed::ZERO);
        let decimals = self
            .index(market)
            .and_then(|i| self.ledger.markets.get(i))
            .map_or(config().decimals, |m| m.config.decimals);
        let notional = decimals
            .quote_value(size, price, Rounding::Ceil)
            .map_or(i128::MAX, |q| q.checked_abs().unwrap_or(i128::MAX));
        let taker_fee = mul_div_i128(notional, i128::from(fee_bps), 10_000, Rounding::Floor)
            .unwrap_or(i128::MAX);
        Fill {
            market,
            size,
            price,
            taker_fee,
            maker_fee: taker_fee / 2,
        }
    }

    /// Applies `op` and checks the invariants of the module docs; `Err` names a violation.
    pub fn apply(&mut self, op: &Op) -> Result<(), String> {
        self.environment(op);
        let before = self.ledger.clone();
        let result = self.core(op, &before)?;
        self.last_result = result;
        match result {
            Err(e) => {
                if e == RiskError::DeficitUnresolved {
                    self.counts.deficit_unresolved_refusals += 1;
                }
                if self.ledger != before {
                    return Err(format!("a failed {op:?} ({e:?}) changed the ledger"));
                }
            }
            Ok(()) => self.check_touched(op)?,
        }
        self.check_state(op)
    }

    /// The core's part of an operation, with the invariants that concern it alone.
    fn core(&mut self, op: &Op, before: &Ledger) -> Result<Result<(), RiskError>, String> {
        let result: Result<(), RiskError> = match *op {
            Op::Deposit(a, x) => self.ledger.deposit(a, x),
            Op::Withdraw(a, x) => {
                let r = self.ledger.withdraw(a, x);
                if r.is_ok() {
                    self.counts.withdrawals += 1;
                    let account = self.ledger.accounts.get(&a).cloned().unwrap_or_default();
                    let h = initial_health_at_target(&account, &self.ledger.markets)
                        .map_err(|e| format!("initial health at target: {e:?}"))?;
                    let s = surplus(&h)?;
                    if s < 0 {
                        return Err(format!(
                            "a withdrawal of {x} left account {a} with initial surplus {s} at \
                             the target requirement"
                        ));
                    }
                }
                r
            }
            Op::FundInsurance(x) => {
                // Not a core operation: the tokens enter the engine and the fund at once, so
                // both grow or neither does.
                if x > 0 {
                    if let (Some(fund), Some(net)) = (
                        self.ledger.insurance_fund.checked_add(x),
                        self.ledger.net_deposits.checked_add(x),
                    ) {
                        self.ledger.insurance_fund = fund;
                        self.ledger.net_deposits = net;
                    }
                }
                Ok(())
            }
            Op::Trade {
                market,
                taker,
                maker,
                size,
                offset_bps,
                fee_bps,
            } => {
                let fill = self.priced_fill(market, size, offset_bps, fee_bps);
                self.fill(before, taker, maker, &fill)?
            }
            Op::Close {
                market,
                who,
                pct,
                offset_bps,
                fee_bps,
            } => {
                let market = self.held_market(who, market);
                let held = self.ledger.accounts.get(&who).map_or(0, |a| a.size(market));
                let mut size = -(held.saturating_mul(pct.clamp(0, 100)) / 100);
                if size == 0 && pct > 0 {
                    size = -held.signum();
                }
                let fill = self.priced_fill(market, size, offset_bps, fee_bps);
                self.fill(before, who, PROVIDER, &fill)?
            }
            Op::Leveraged {
                market,
                taker,
                buy,
                pct,
            } => {
                let price = self.oracle(market);
                let account = self
                    .ledger
                    .accounts
                    .get(&taker)
                    .cloned()
                    .unwrap_or_default();
                let max = max_position(
                    &account,
                    &self.ledger.markets,
                    market,
                    buy,
                    price,
                    Fixed::ZERO,
                )
                .unwrap_or(0);
                let size = max.checked_mul(pct).map_or(0, |v| v / 100) * if buy { 1 } else { -1 };
                let fill = Fill {
                    market,
                    size,
                    price,
                    taker_fee: 0,
                    maker_fee: 0,
                };
                self.fill(before, taker, PROVIDER, &fill)?
            }
            Op::Funding { market, bps } => match self.index(market) {
                None => Ok(()),
                Some(i) => {
                    let m = &mut self.ledger.markets[i];
                    match Fixed::from_ratio(i128::from(bps), 10_000)
                        .and_then(|r| m.prices.oracle.checked_mul(r))
                    {
                        Ok(delta) => update_funding(m, delta),
                        Err(_) => Ok(()),
                    }
                }
            },
            Op::Depth {
                market,
                reporter,
                usd,
            } => match self.index(market) {
                None => Ok(()),
                Some(i) => report_depth(
                    &mut self.ledger.markets[i],
                    [reporter; 32],
                    BookDepth {
                        bid: usd.saturating_mul(USD),
                        ask: usd.saturating_mul(USD),
                    },
                ),
            },
            Op::Options {
                market,
                who,
                gamma_usd,
                vega_usd,
            } => self.options(market, who, gamma_usd, vega_usd)?,
            Op::Liquidate { market, who, by } => {
                let market = self.held_market(who, market);
                self.liquidate(market, who, by)?
            }
            Op::Settle { market, reason } => self.settle(market, reason)?,
            Op::CloseSettled { who, market } => {
                let r = self.ledger.close_settled(who, market);
                if let Ok(close) = &r {
                    self.counts.settled_closes += 1;
                    if let Some(b) = close.bankruptcy {
                        self.counts.settled_close_bankruptcies += 1;
                        self.check_deficit_real(before, who, b.deficit, "a settled close")?;
                    }
                    let left = self.ledger.accounts.get(&who).map_or(0, |a| a.size(market));
                    if left != 0 {
                        return Err(format!(
                            "a settled close left account {who} with size {left} in market \
                             {market}"
                        ));
                    }
                }
                r.map(|_| ())
            }
            Op::ResolveBankruptcy { who } => {
                let r = self.ledger.resolve_bankruptcy(who);
                if r.is_ok() {
                    self.counts.resolved_bankruptcies += 1;
                }
                r.map(|_| ())
            }
            Op::Move { .. }
            | Op::Hours(_)
            | Op::Vol { .. }
            | Op::Validity { .. }
            | Op::Breaker { .. } => Ok(()),
        };
        Ok(result)
    }

    fn options(
        &mut self,
        market: MarketId,
        who: AccountId,
        gamma_usd: i128,
        vega_usd: i128,
    ) -> Result<Result<(), RiskError>, String> {
        let now = self.now_ms;
        let buckets = if gamma_usd == 0 && vega_usd == 0 {
            alloc::vec![]
        } else {
            alloc::vec![ExpiryGreeks {
                expiry_ms: now + 7 * 24 * HOUR,
                delta: 0,
                gamma: gamma_usd.saturating_mul(USD),
                vega: vega_usd.saturating_mul(USD),
                implied_vol: Fixed::from_ratio(6, 10).unwrap_or(Fixed::ONE),
            }]
        };
        let report = OptionsReport {
            market,
            buckets,
            venue_initial: 0,
            venue_maintenance: 0,
            mark_value: 0,
            pnl: 0,
            timestamp_ms: now,
            trade: true,
        };
        let mut account = self.ledger.accounts.get(&who).cloned().unwrap_or_default();
        let mut markets = self.ledger.markets.clone();
        let mut fund = self.ledger.insurance_fund;
        let r = apply_options_report(&mut account, &mut markets, report, &mut fund);
        if let Ok(outcome) = &r {
            if outcome.growing {
                let h = account_health_growing_options(
                    &account,
                    &self.ledger.markets,
                    HealthKind::Initial,
                )
                .map_err(|e| format!("{e:?}"))?;
                let s = surplus(&h)?;
                if s < 0 {
                    return Err(format!(
                        "a growing options report left {who} with initial surplus {s}"
                    ));
                }
            }
            if outcome.bankruptcy.is_some() {
                self.counts.bankruptcies += 1;
            }
            self.ledger.accounts.insert(who, account);
            self.ledger.markets = markets;
            self.ledger.insurance_fund = fund;
        }
        Ok(r.map(|_| ()))
    }

    /// A keeper's liquidation call, with invariants 6, 7 and 8.
    fn liquidate(
        &mut self,
        market: MarketId,
        who: AccountId,
        by: AccountId,
    ) -> Result<Result<(), RiskError>, String> {
        let surplus_before = match self.ledger.accounts.get(&who) {
            Some(a) => health(a, &self.ledger.markets, HealthKind::Maintenance)
                .and_then(|h| surplus(&h))
                .ok(),
            None => None,
        };
        let ratio_before = self.maintenance_ratio(who);
        let before = self.ledger.clone();
        // What the call would close with the throttle out of the way (a counterfactual on a
        // clone): when the real call closes less, the throttle cut it short and the episode's
        // count restarts.
        let mut unthrottled = before.clone();
        if let Ok(ctx) = unthrottled.market_mut(market) {
            ctx.state.throttle_window_start_ms = ctx.now_ms;
            ctx.state.throttle_used = i128::MIN / 4;
        }
        let unthrottled_size = unthrottled
            .liquidate(who, by, market)
            .map_or(0, |o| o.closed_size.abs());
        let r = self.ledger.liquidate(who, by, market);
        match &r {
            Ok(o) => {
                if let Some(s) = surplus_before.filter(|s| *s >= 0) {
                    return Err(format!(
                        "account {who} with maintenance surplus {s} was liquidated: {o:?}"
                    ));
                }
                self.counts.liquidations += 1;
                if let Some(b) = o.bankruptcy {
                    self.counts.bankruptcies += 1;
                    self.check_deficit_real(&before, who, b.deficit, "a liquidation")?;
                }
                if let (Some(b), Some(a)) = (ratio_before, self.maintenance_ratio(who)) {
                    if b.is_positive() && a < b {
                        return Err(format!("health ratio fell from {b:?} to {a:?}: {o:?}"));
                    }
                }
                let bound = self
                    .index(market)
                    .and_then(|i| self.ledger.markets.get(i))
                    .map_or(u64::MAX, |m| liquidation_call_bound(&m.config));
                let calls = self.episodes.entry((who, market)).or_insert(0);
                if o.closed_size.abs() < unthrottled_size {
                    *calls = 0;
                    self.counts.throttle_cut += 1;
                } else {
                    *calls += 1;
                    let calls = *calls;
                    self.counts.max_liquidation_calls =
                        self.counts.max_liquidation_calls.max(calls);
                    if calls > bound {
                        return Err(format!(
                            "liquidation of account {who} in market {market} took {calls} \
                             unthrottled calls (bound {bound}): {o:?}"
                        ));
                    }
                }
            }
            Err(RiskError::LiquidationThrottled) => {
                self.counts.throttled += 1;
                self.episodes.insert((who, market), 0);
            }
            Err(_) => {}
        }
        Ok(r.map(|_| ()))
    }

    /// A settlement request, with invariant 13.
    fn settle(
        &mut self,
        market: MarketId,
        reason: SettleReason,
    ) -> Result<Result<(), RiskError>, String> {
        let Some(i) = self.index(market) else {
            return Ok(Err(RiskError::UnknownMarket));
        };
        let Some(feed) = self.feeds.get(i) else {
            return Ok(Err(RiskError::UnknownMarket));
        };
        let last = LastPrice {
            twap: feed.twap(),
            formed_at_ms: feed.formed_at_ms,
        };
        let dark = feed.validity == Validity::Dark;
        let r = self.ledger.settle_market(market, last, reason);
        if let Ok(s) = &r {
            if self.settled.contains(&market) {
                return Err(format!("market {market} was settled twice: {s:?}"));
            }
            if reason == SettleReason::OracleDead {
                let dead_ms = self.now_ms.saturating_sub(last.formed_at_ms);
                let after_ms = self.ledger.markets[i].config.breaker.settle_after_ms;
                if !dark || dead_ms < after_ms {
                    return Err(format!(
                        "market {market} settled as dead with its feed {:?}, last valid \
                         {dead_ms} ms ago",
                        feed.validity
                    ));
                }
                self.counts.oracle_dead_settlements += 1;
            }
            self.counts.settlements += 1;
            self.settled.push(market);
            // From now on the feed shows the settlement price, as `feed::observe` does.
            self.observe(i);
        }
        Ok(r.map(|_| ()))
    }

    /// Invariant 12: an account an accepted operation touched and left at or above maintenance
    /// carries no liquidation state.
    fn check_touched(&self, op: &Op) -> Result<(), String> {
        let touched: &[AccountId] = match op {
            Op::Deposit(a, _) | Op::Withdraw(a, _) => &[*a],
            Op::Trade { taker, maker, .. } => &[*taker, *maker],
            Op::Close { who, .. } => &[*who, PROVIDER],
            Op::Leveraged { taker, .. } => &[*taker, PROVIDER],
            Op::Options { who, .. }
            | Op::Liquidate { who, .. }
            | Op::CloseSettled { who, .. }
            | Op::ResolveBankruptcy { who } => &[*who],
            _ => &[],
        };
        for who in touched {
            let Some(a) = self.ledger.accounts.get(who) else {
                continue;
            };
            let Ok(h) = health(a, &self.ledger.markets, HealthKind::Maintenance) else {
                continue;
            };
            let flagged =
                a.being_liquidated || a.positions.iter().any(|(_, p)| p.liquidation_base != 0);
            if surplus(&h)? >= 0 && flagged {
                return Err(format!(
                    "account {who} is at or above maintenance ({h:?}) after {op:?} but still in \
                     liquidation: {a:?}"
                ));
            }
        }
        Ok(())
    }

    /// The invariants on the state after every operation (1, 3, 4, 5; 8's episode ends).
    fn check_state(&mut self, op: &Op) -> Result<(), String> {
        if !self.ledger.conserved() {
            return Err(format!("value not conserved after {op:?}"));
        }
        for m in &self.ledger.markets {
            let sizes = self.ledger.accounts.values().map(|a| a.size(m.id));
            let longs: i128 = sizes.clone().map(|s| s.max(0)).sum();
            let shorts: i128 = sizes.map(|s| (-s).max(0)).sum();
            match m.state.settlement {
                Some(s) => {
                    if longs != m.state.open_interest || shorts != s.open_shorts {
                        return Err(format!(
                            "settled market {}: longs {longs}, shorts {shorts}, settlement {s:?}",
                            m.id
                        ));
                    }
                }
                None => {
                    if longs != shorts || longs != m.state.open_interest {
                        return Err(format!(
                            "market {}: longs {longs}, shorts {shorts}, open interest {}",
                            m.id, m.state.open_interest
                        ));
                    }
                }
            }
            if self.settled.contains(&m.id)
                && (m.state.breaker.state != BreakerState::Settled || m.state.settlement.is_none())
            {
                return Err(format!("market {} left settlement: {:?}", m.id, m.state));
            }
        }
        for (id, a) in &self.ledger.accounts {
            if a.is_flat() && a.collateral < 0 {
                return Err(format!(
                    "flat account {id} holds negative collateral {} after {op:?}",
                    a.collateral
                ));
            }
        }
        self.check_negative_equity_liquidatable(op)?;
        // Episodes end once the account is at or above maintenance or the position is gone.
        let ledger = &self.ledger;
        self.episodes.retain(|(who, market), _| {
            ledger.accounts.get(who).is_some_and(|a| {
                a.size(*market) != 0
                    && health(a, &ledger.markets, HealthKind::Maintenance)
                        .and_then(|h| surplus(&h))
                        .is_ok_and(|s| s < 0)
            })
        });
        Ok(())
    }

    /// Invariant 5 (see the module docs).
    fn check_negative_equity_liquidatable(&mut self, op: &Op) -> Result<(), String> {
        let markets = &self.ledger.markets;
        let mut underwater = Vec::new();
        for (id, a) in &self.ledger.accounts {
            let live = |market: &MarketId| {
                markets
                    .iter()
                    .find(|m| m.id == *market)
                    .is_some_and(|m| m.state.settlement.is_none())
            };
            if !a.positions.iter().any(|(m, _)| live(m)) {
                continue;
            }
            let Ok(h) = health(a, markets, HealthKind::Maintenance) else {
                continue;
            };
            if h.equity >= 0 {
                continue;
            }
            // A deficit measured while one of the account's markets has no valid price would be
            // measured at a stale price: the core covers it only once every market it holds is
            // priced again or settled.
            let unpriced = a.markets().any(|m| {
                markets
                    .iter()
                    .find(|c| c.id == m)
                    .is_some_and(|c| !c.prices.liquidation_valid && c.state.settlement.is_none())
            });
            if unpriced {
                continue;
            }
            let candidates: Vec<MarketId> = a
                .positions
                .iter()
                .map(|(m, _)| *m)
                .filter(|id| {
                    markets.iter().find(|m| m.id == *id).is_some_and(|m| {
                        m.prices.liquidation_valid
                            && !matches!(
                                m.state.breaker.state,
                                BreakerState::Paused | BreakerState::Settled
                            )
                    })
                })
                .collect();
            if !candidates.is_empty() {
                underwater.push((*id, h, candidates));
            }
        }
        if underwater.is_empty() {
            return Ok(());
        }
        let mut probe = self.ledger.clone();
        let own: i128 = probe
            .accounts
            .values()
            .map(|a| a.collateral.max(0))
            .fold(probe.insurance_fund.max(0), i128::saturating_add);
        if probe
            .deposit(PROBE, PROBE_DEPOSIT.saturating_add(own.saturating_mul(2)))
            .is_err()
        {
            return Ok(());
        }
        let mut overflows = 0;
        for (who, h, candidates) in underwater {
            self.counts.negative_equity_probes += 1;
            let mut refusals = Vec::new();
            let liquidatable = candidates.iter().any(|market| {
                let mut trial = probe.clone();
                match trial.liquidate(who, PROBE, *market) {
                    Ok(_) | Err(RiskError::LiquidationThrottled) => true,
                    Err(RiskError::Math(_)) => {
                        overflows += 1;
                        true
                    }
                    Err(e) => {
                        refusals.push((*market, e));
                        false
                    }
                }
            });
            if !liquidatable {
                return Err(format!(
                    "account {who} has negative equity ({h:?}) after {op:?} but no liquidation \
                     is accepted: {refusals:?}"
                ));
            }
        }
        self.counts.probe_overflows += overflows;
        Ok(())
    }
}
