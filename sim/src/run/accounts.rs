//! The simulator's accounts: the traders (one account, or an isolated pair of sub-accounts,
//! with a position in one market or two), their compact copies for the per-tick scan, the
//! makers on the other side of every fill, and what the scan needs of each market.

use ballast_risk::ledger::{AccountId, Ledger};
use ballast_risk::liquidity::{CloseSide, Use};
use ballast_risk::state::MarketId;
use ballast_risk::MarketCtx;

use super::{
    f, risk, whole, SimError, MAKER_OF_LONGS, MAKER_OF_SHORTS, MARKET, MORE_MAKERS, PREFILTER_SLACK,
};
use crate::population::Profile;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Phase {
    Waiting { until_ms: u64 },
    Holding { until_ms: u64 },
}

/// The market makers on the other side of every fill: the rest of the market. One pool faces
/// the longs (and is short), another the shorts (and is long). An account always trades with the
/// same maker of each pool (by its slot), so that its close always reduces that maker's position
/// (a breaker in reduce-only refuses fills that grow either side), and the liquidators sell what
/// they took over of an account to that account's maker. A pool rather than one account per
/// side because, where depth is reported, the per-account impact cap applies to makers too, and
/// one account holding a whole side of the market would meet it (the real market's other side
/// is held by many accounts). Without depth reports the pool changes no figure of the traders
/// (checked: the same results as with one maker per side, to the unit).
#[derive(Debug, Clone)]
pub(super) struct Makers {
    /// `pools[0]` faces longs, `pools[1]` shorts.
    pub(super) pools: [Vec<AccountId>; 2],
    /// Size each liquidator (of longs, of shorts) took over of each maker's accounts and has
    /// not sold back yet.
    pub(super) owed: [Vec<i128>; 2],
}

impl Makers {
    pub(super) fn new(per_side: usize) -> Makers {
        let pool = |first: AccountId, parity: AccountId| -> Vec<AccountId> {
            (0..per_side as AccountId)
                .map(|k| {
                    if k == 0 {
                        first
                    } else {
                        MORE_MAKERS + 2 * k + parity
                    }
                })
                .collect()
        };
        Makers {
            pools: [pool(MAKER_OF_LONGS, 0), pool(MAKER_OF_SHORTS, 1)],
            owed: [vec![0; per_side], vec![0; per_side]],
        }
    }

    pub(super) fn side(long: bool) -> usize {
        usize::from(!long)
    }

    /// The maker facing account `slot`'s positions of sign `long`.
    pub(super) fn of(&self, long: bool, slot: usize) -> AccountId {
        let pool = &self.pools[Makers::side(long)];
        pool[slot % pool.len()]
    }

    /// A liquidator took over `size` of account `slot`'s position of sign `long`.
    pub(super) fn owe(&mut self, long: bool, slot: usize, size: i128) {
        let owed = &mut self.owed[Makers::side(long)];
        let k = slot % owed.len();
        owed[k] += size;
    }
}

/// One market of a trader's account, with a float copy of its position for the pre-filter.
#[derive(Debug, Clone, Copy)]
pub(super) struct Leg {
    /// Index of the market in the run.
    pub(super) market: usize,
    pub(super) long: bool,
    /// Share of the trader's notional in this market.
    pub(super) weight: f64,
    // Copy of the ledger position, refreshed after every operation on the account.
    pub(super) size_units: i128,
    pub(super) size: f64,
    pub(super) quote: f64,
    pub(super) social_snapshot: f64,
    /// Oracle price at the open.
    pub(super) entry_price: f64,
    /// What the part of the position already closed since the open (liquidation chunks, a
    /// close) had lost: it is in collateral now, and the remaining position no longer shows it.
    pub(super) realized_loss: f64,
    /// In a liquidation in this market that has not ended.
    pub(super) in_liquidation: bool,
}

impl Leg {
    /// What closing `units` (base units, at most the position) of the leg at `mark` loses
    /// against its entry, quote whole units (negative for a gain).
    pub(super) fn loss_on(&self, units: i128, mark: Mark) -> f64 {
        let size = self.size_units.signum() as f64 * units.unsigned_abs() as f64 / 1e8;
        size * (self.entry_price - mark.price)
            + size.abs() * (mark.social_index - self.social_snapshot)
    }

    /// What the leg has lost since its open at `mark`: realized and on what is left.
    pub(super) fn loss_since_entry(&self, mark: Mark) -> f64 {
        self.realized_loss + self.loss_on(self.size_units, mark)
    }
}

/// A trader: one account (or, isolated, one sub-account) with a position in one market or two.
#[derive(Debug, Clone)]
pub(super) struct Trader {
    pub(super) id: AccountId,
    pub(super) profile: Profile,
    pub(super) phase: Phase,
    pub(super) entry_equity: f64,
    pub(super) in_liquidation: bool,
    pub(super) blocked: bool,
    pub(super) legs: Vec<Leg>,
    /// Copy of the account's collateral.
    pub(super) collateral: f64,
}

impl Trader {
    pub(super) fn refresh(&mut self, ledger: &Ledger) {
        let account = ledger.accounts.get(&self.id);
        for leg in &mut self.legs {
            let position = account.and_then(|a| a.position(market_id(leg.market)));
            leg.size_units = position.map_or(0, |p| p.size);
            leg.size = leg.size_units as f64 / 1e8;
            leg.quote = position.map_or(0.0, |p| whole(p.quote));
            leg.social_snapshot = position.map_or(0.0, |p| f(p.social_snapshot));
        }
        self.collateral = account.map_or(0.0, |a| whole(a.collateral));
    }

    pub(super) fn is_flat(&self) -> bool {
        self.legs.iter().all(|l| l.size_units == 0)
    }

    /// Collateral plus the positions' quote balances.
    pub(super) fn base(&self) -> f64 {
        let mut base = self.collateral;
        for leg in &self.legs {
            base += leg.quote;
        }
        base
    }

    /// The compact copy the per-tick scan reads.
    pub(super) fn hot(&self) -> Hot {
        let (holding, until_ms) = match self.phase {
            Phase::Holding { until_ms } => (true, until_ms),
            Phase::Waiting { until_ms } => (false, until_ms),
        };
        let mut legs = [HotLeg::default(); MAX_LEGS];
        for (hot, leg) in legs.iter_mut().zip(&self.legs) {
            *hot = HotLeg {
                market: leg.market,
                size: leg.size,
                social_snapshot: leg.social_snapshot,
            };
        }
        Hot {
            legs,
            leg_count: self.legs.len().min(MAX_LEGS),
            base: self.base(),
            stop_equity: self
                .profile
                .stop
                .map_or(f64::NEG_INFINITY, |stop| self.entry_equity * (1.0 - stop)),
            until_ms,
            holding,
        }
    }
}

/// Markets a trader holds at most.
pub(super) const MAX_LEGS: usize = 2;

/// Id of market `k` of the run.
pub(super) fn market_id(k: usize) -> MarketId {
    MARKET + k as MarketId
}

/// What the per-tick scan reads of a trader's position in one market.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct HotLeg {
    pub(super) market: usize,
    pub(super) size: f64,
    pub(super) social_snapshot: f64,
}

/// What the per-tick scan reads of a trader, kept in its own compact array (the scan over all
/// traders at every tick dominates the run time; a small stride keeps it in cache).
#[derive(Debug, Clone, Copy)]
pub(super) struct Hot {
    pub(super) legs: [HotLeg; MAX_LEGS],
    pub(super) leg_count: usize,
    /// Collateral plus the positions' quote balances.
    pub(super) base: f64,
    /// Equity at or below which the stop-loss fires (minus infinity without one).
    pub(super) stop_equity: f64,
    pub(super) until_ms: u64,
    pub(super) holding: bool,
}

/// A market's price and socialized-loss index, as floats.
#[derive(Debug, Clone, Copy)]
pub(super) struct Mark {
    pub(super) price: f64,
    pub(super) social_index: f64,
}

/// What the scan of one tick needs of a market.
#[derive(Debug, Clone)]
pub(super) struct MarketView {
    pub(super) mark: Mark,
    /// The applied volatility term of maintenance.
    pub(super) vol_term: f64,
    /// Maintenance tiers: notional floor, rate.
    pub(super) tiers: Vec<(f64, f64)>,
    pub(super) depth: Option<KeepDepth>,
    /// The price may be used for liquidations and the market is not paused.
    pub(super) liquidating: bool,
    /// The price may be used for liquidations (and so for stops and closes).
    pub(super) price_known: bool,
}

impl Hot {
    pub(super) fn legs(&self) -> &[HotLeg] {
        &self.legs[..self.leg_count]
    }

    pub(super) fn is_flat(&self) -> bool {
        self.legs().iter().all(|l| l.size == 0.0)
    }

    pub(super) fn equity(&self, marks: &[Mark]) -> f64 {
        let mut equity = self.base;
        for leg in self.legs() {
            let m = marks[leg.market];
            equity = equity + leg.size * m.price
                - leg.size.abs() * (m.social_index - leg.social_snapshot);
        }
        equity
    }

    pub(super) fn notional(&self, marks: &[Mark]) -> f64 {
        let mut notional = 0.0;
        for leg in self.legs() {
            notional += leg.size.abs() * marks[leg.market].price;
        }
        notional
    }

    /// True unless the account is certainly above maintenance. The maintenance requirement of
    /// each position is at most `max(bracket rate, applied vol term) * notional` (the tier
    /// deductions are non-negative) plus, where depth is reported, the liquidity charge; equity
    /// is the float copy of the exact formula. The slack covers float and rounding differences;
    /// `check_prefilter` verifies it.
    pub(super) fn may_breach(&self, views: &[MarketView], marks: &[Mark]) -> bool {
        if self.is_flat() {
            return false;
        }
        let mut requirement = 0.0;
        for leg in self.legs().iter().filter(|l| l.size != 0.0) {
            let view = &views[leg.market];
            let notional = leg.size.abs() * view.mark.price;
            let rate = view
                .tiers
                .iter()
                .rev()
                .find(|(floor, _)| notional >= *floor)
                .map_or(0.0, |t| t.1)
                .max(view.vol_term);
            let charge = view
                .depth
                .map_or(0.0, |d| d.charge_fraction(notional, leg.size > 0.0));
            requirement += (rate + charge + PREFILTER_SLACK) * notional;
        }
        self.equity(marks) < requirement
    }
}

/// What the pre-filter needs of the liquidity charge (`ballast_risk::liquidity`): the depth
/// band, and the depth (slow view, after the haircut) that longs and shorts close into, quote
/// whole units.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeepDepth {
    pub(super) band: f64,
    pub(super) long: f64,
    pub(super) short: f64,
}

impl KeepDepth {
    /// The market's, or `None` where no depth is reported.
    pub(super) fn of(ctx: &MarketCtx) -> Result<Option<KeepDepth>, SimError> {
        let side = |side| {
            ctx.state
                .depth
                .depth(&ctx.config.liquidity, side, Use::Keep)
                .map_err(risk("depth"))
        };
        Ok(match (side(CloseSide::Bids)?, side(CloseSide::Asks)?) {
            (Some(long), Some(short)) => Some(KeepDepth {
                band: f(ctx.config.liquidity.depth_band),
                long: whole(long),
                short: whole(short),
            }),
            _ => None,
        })
    }

    /// The charge as a fraction of the notional: the closing impact, linear up to the depth,
    /// square-root beyond, at most 1.
    pub(super) fn charge_fraction(&self, notional: f64, long: bool) -> f64 {
        let depth = if long { self.long } else { self.short };
        if depth <= 0.0 {
            return 1.0;
        }
        let x = notional / depth;
        (self.band * if x <= 1.0 { x } else { x.sqrt() }).min(1.0)
    }
}
