//! Operation sequences with their invariants, shared by the property tests
//! (`tests/properties.rs`, proptest) and the fuzzers (`fuzz/`, libFuzzer): one market, a few
//! accounts, and every operation a venue, a keeper or time can apply. [`Harness::apply`] runs
//! one operation on a [`Ledger`] and checks, for that operation and the state after it:
//!
//! 1. value is conserved to the unit (collateral + position quotes + insurance + settlement
//!    pools = net deposits), sizes sum to zero and open interest is the long side;
//! 2. a failed operation changes nothing (the whole ledger is compared);
//! 3. a healthy account (above maintenance, not in a liquidation) is never liquidated;
//! 4. a liquidation never lowers the account's health ratio (equity / maintenance);
//! 5. an accepted fill leaves each side that grows exposure with non-negative initial health
//!    (facing the full target requirement); a side that only reduces has non-negative initial
//!    health or a maintenance surplus that did not fall;
//! 6. an accepted options report that grows the book leaves non-negative initial health.
//!
//! Depth reports and options books take part, so every invariant also holds with the
//! liquidity terms (charge, caps, depth-sized throttle) and Greeks requirements in force.
//!
//! Behind the `sequences` feature: test support, not contract logic, so plain arithmetic on
//! the harness's own small numbers is allowed here.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

extern crate alloc;
use alloc::format;
use alloc::string::String;

use ballast_math::{Decimals, Fixed};

use crate::greeks::{ExpiryGreeks, OptionsReport};
use crate::health::{account_health, account_health_growing_options, HealthKind};
use crate::ledger::{AccountId, Ledger};
use crate::ops::{
    apply_options_report, is_reducing, max_position, report_depth, update_funding, Fill,
};
use crate::state::{MarketCtx, MarketState, Prices};
use crate::{MarketConfig, RiskError};

/// The market of the harness.
pub const MARKET: u32 = 1;
/// One quote unit (USD) in base units.
pub const USD: i128 = 1_000_000;
/// One base unit (BTC) in base units.
pub const ONE_BTC: i128 = 100_000_000;
/// One hour, ms.
pub const HOUR: u64 = 3_600_000;
/// Accounts 0..4 trade; 4 is a deep liquidity provider, 5 a second liquidator, 9 collects fees.
pub const TRADERS: u32 = 4;
/// The deep liquidity provider.
pub const PROVIDER: AccountId = 4;
/// The fee recipient.
pub const FEES: AccountId = 9;

/// One operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Deposit collateral.
    Deposit(AccountId, i128),
    /// Withdraw collateral.
    Withdraw(AccountId, i128),
    /// A venue fill between two accounts at `offset_bps` from the oracle price.
    Trade {
        /// Taker.
        taker: AccountId,
        /// Maker.
        maker: AccountId,
        /// Taker's signed size, base units.
        size: i128,
        /// Fill price offset from the oracle, basis points.
        offset_bps: i64,
        /// Taker fee (maker pays half).
        fee: i128,
    },
    /// A trade sized as `pct`% of what the taker may open: drives accounts to high leverage.
    Leveraged {
        /// Taker (against the provider).
        taker: AccountId,
        /// Direction.
        buy: bool,
        /// Share of the maximum, percent.
        pct: i128,
    },
    /// The oracle price moves by `bps` one minute later.
    Move {
        /// Basis points.
        bps: i64,
    },
    /// One hour passes and the funding index moves by `bps` of the price.
    Funding {
        /// Basis points.
        bps: i64,
    },
    /// A venue reports the book's depth: `usd` whole USD on each side.
    Depth {
        /// Depth per side, whole USD.
        usd: i128,
    },
    /// One second later, an options venue reports `who`'s book: one 7-day bucket of cash
    /// gamma and vega (whole USD, signed), or no bucket when both are zero.
    Options {
        /// Account.
        who: AccountId,
        /// Cash gamma, whole USD.
        gamma_usd: i128,
        /// Vega per 1.0 of implied vol, whole USD.
        vega_usd: i128,
    },
    /// A keeper liquidates `who`, taking the position over as `by`.
    Liquidate {
        /// Liquidated account.
        who: AccountId,
        /// Liquidator.
        by: AccountId,
    },
}

/// A ledger under test and what it has done so far.
#[derive(Debug, Clone)]
pub struct Harness {
    /// The ledger.
    pub ledger: Ledger,
    /// Current time, ms.
    pub now_ms: u64,
    /// Accepted fills.
    pub fills: u64,
    /// Accepted liquidation calls.
    pub liquidations: u64,
    /// Bankruptcies resolved.
    pub bankruptcies: u64,
}

/// The market configuration of the harness: the defaults for an 8/6-decimal market.
pub fn config() -> MarketConfig {
    MarketConfig::default_large_cap(Decimals { base: 8, quote: 6 })
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

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    /// One market at 20,000, the provider and the second liquidator funded with 1M each.
    pub fn new() -> Harness {
        let mut ledger = Ledger::default();
        ledger.markets.push(MarketCtx {
            id: MARKET,
            config: config(),
            state: MarketState::new(0),
            prices: prices(Fixed::from_int(20_000)),
            now_ms: 0,
        });
        let _ = ledger.deposit(PROVIDER, 1_000_000 * USD);
        let _ = ledger.deposit(5, 1_000_000 * USD);
        Harness {
            ledger,
            now_ms: 0,
            fills: 0,
            liquidations: 0,
            bankruptcies: 0,
        }
    }

    fn oracle(&self) -> Fixed {
        self.ledger.markets[0].prices.oracle
    }

    fn maintenance_ratio(&self, who: AccountId) -> Option<Fixed> {
        let a = self.ledger.accounts.get(&who)?;
        account_health(a, &self.ledger.markets, HealthKind::Maintenance, None)
            .ok()?
            .ratio()
            .ok()?
    }

    /// Whether one side of an accepted fill meets the margin rule afterwards.
    fn side_ok(&self, before: &Ledger, who: AccountId, delta: i128) -> Result<(), String> {
        let empty = crate::Account::default();
        let old = before.accounts.get(&who).unwrap_or(&empty);
        let new = self.ledger.accounts.get(&who).unwrap_or(&empty);
        let markets = &self.ledger.markets;
        let initial = |a, opening| {
            account_health(a, markets, HealthKind::Initial, opening).and_then(|h| h.surplus())
        };
        let maintenance = |a, ms: &[MarketCtx]| {
            account_health(a, ms, HealthKind::Maintenance, None).and_then(|h| h.surplus())
        };
        if !is_reducing(old.size(MARKET), delta) {
            let surplus = initial(new, Some(MARKET)).map_err(|e| format!("{e:?}"))?;
            if surplus < 0 {
                return Err(format!(
                    "fill left account {who} with initial surplus {surplus}"
                ));
            }
            return Ok(());
        }
        let ok = initial(new, None).is_ok_and(|s| s >= 0)
            || maintenance(new, markets).map_err(|e| format!("{e:?}"))?
                >= maintenance(old, &before.markets).map_err(|e| format!("{e:?}"))?;
        if ok {
            Ok(())
        } else {
            Err(format!(
                "reducing fill lowered account {who}'s maintenance surplus"
            ))
        }
    }

    /// Applies `op` and checks the invariants of the module docs; `Err` names a violation.
    pub fn apply(&mut self, op: &Op) -> Result<(), String> {
        let before = self.ledger.clone();
        let result: Result<(), RiskError> = match *op {
            Op::Deposit(a, x) => self.ledger.deposit(a, x),
            Op::Withdraw(a, x) => self.ledger.withdraw(a, x),
            Op::Trade {
                taker,
                maker,
                size,
                offset_bps,
                fee,
            } => match bps_of(self.oracle(), offset_bps) {
                None => Ok(()),
                Some(price) => {
                    let fill = Fill {
                        market: MARKET,
                        size,
                        price,
                        taker_fee: fee,
                        maker_fee: fee / 2,
                    };
                    let r = self.ledger.fill(taker, maker, FEES, &fill);
                    if r.is_ok() {
                        self.fills += 1;
                        self.side_ok(&before, taker, size)?;
                        self.side_ok(&before, maker, -size)?;
                    }
                    r.map(|_| ())
                }
            },
            Op::Leveraged { taker, buy, pct } => {
                let price = self.oracle();
                let account = self
                    .ledger
                    .accounts
                    .get(&taker)
                    .cloned()
                    .unwrap_or_default();
                let max = max_position(
                    &account,
                    &self.ledger.markets,
                    MARKET,
                    buy,
                    price,
                    Fixed::ZERO,
                )
                .unwrap_or(0);
                let size = max.checked_mul(pct).map_or(0, |v| v / 100) * if buy { 1 } else { -1 };
                let fill = Fill {
                    market: MARKET,
                    size,
                    price,
                    taker_fee: 0,
                    maker_fee: 0,
                };
                let r = self.ledger.fill(taker, PROVIDER, FEES, &fill);
                if r.is_ok() {
                    self.fills += 1;
                    self.side_ok(&before, taker, size)?;
                    self.side_ok(&before, PROVIDER, -size)?;
                }
                r.map(|_| ())
            }
            Op::Move { bps } => {
                self.now_ms += 60_000;
                if let Some(p) = bps_of(self.oracle(), bps).filter(|p| p.is_positive()) {
                    let m = &mut self.ledger.markets[0];
                    m.prices = prices(p);
                    m.now_ms = self.now_ms;
                }
                Ok(())
            }
            Op::Funding { bps } => {
                self.now_ms += HOUR;
                let m = &mut self.ledger.markets[0];
                m.now_ms = self.now_ms;
                match Fixed::from_ratio(i128::from(bps), 10_000)
                    .and_then(|r| m.prices.oracle.checked_mul(r))
                {
                    Ok(delta) => update_funding(m, delta),
                    Err(_) => Ok(()),
                }
            }
            Op::Depth { usd } => {
                let m = &mut self.ledger.markets[0];
                report_depth(m, usd.saturating_mul(USD), usd.saturating_mul(USD))
            }
            Op::Options {
                who,
                gamma_usd,
                vega_usd,
            } => {
                // One second later; time moves only if the report is accepted (a failed
                // operation must leave the ledger as it was).
                let now = self.now_ms + 1_000;
                let mut markets = self.ledger.markets.clone();
                markets[0].now_ms = now;
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
                    market: MARKET,
                    buckets,
                    venue_initial: 0,
                    venue_maintenance: 0,
                    mark_value: 0,
                    pnl: 0,
                    timestamp_ms: now,
                    trade: true,
                };
                let mut account = self.ledger.accounts.get(&who).cloned().unwrap_or_default();
                let r = apply_options_report(&mut account, &markets, report);
                if let Ok(outcome) = &r {
                    if outcome.growing {
                        let surplus =
                            account_health_growing_options(&account, &markets, HealthKind::Initial)
                                .and_then(|h| h.surplus())
                                .map_err(|e| format!("{e:?}"))?;
                        if surplus < 0 {
                            return Err(format!(
                                "a growing options report left {who} with initial surplus {surplus}"
                            ));
                        }
                    }
                    self.now_ms = now;
                    self.ledger.markets = markets;
                    self.ledger.accounts.insert(who, account);
                }
                r.map(|_| ())
            }
            Op::Liquidate { who, by } => {
                let healthy = self.ledger.accounts.get(&who).is_none_or(|a| {
                    !a.being_liquidated
                        && account_health(a, &self.ledger.markets, HealthKind::Maintenance, None)
                            .and_then(|h| h.surplus())
                            .is_ok_and(|s| s >= 0)
                });
                let ratio_before = self.maintenance_ratio(who);
                let r = self.ledger.liquidate(who, by, MARKET);
                if healthy && r.is_ok() {
                    return Err(format!("healthy account {who} was liquidated: {r:?}"));
                }
                if let Ok(o) = &r {
                    self.liquidations += 1;
                    if o.bankruptcy.is_some() {
                        self.bankruptcies += 1;
                    }
                    if let (Some(b), Some(a)) = (ratio_before, self.maintenance_ratio(who)) {
                        if b.is_positive() && a < b {
                            return Err(format!("health ratio fell from {b:?} to {a:?}: {o:?}"));
                        }
                    }
                }
                r.map(|_| ())
            }
        };
        if let Err(e) = result {
            if self.ledger != before {
                return Err(format!("a failed {op:?} ({e:?}) changed the ledger"));
            }
        }
        if !self.ledger.conserved() {
            return Err(format!("value not conserved after {op:?}"));
        }
        let sizes: i128 = self.ledger.accounts.values().map(|a| a.size(MARKET)).sum();
        let longs: i128 = self
            .ledger
            .accounts
            .values()
            .map(|a| a.size(MARKET).max(0))
            .sum();
        if sizes != 0 || longs != self.ledger.markets[0].state.open_interest {
            return Err(format!(
                "sizes sum to {sizes}, longs {longs}, open interest {}",
                self.ledger.markets[0].state.open_interest
            ));
        }
        Ok(())
    }
}
