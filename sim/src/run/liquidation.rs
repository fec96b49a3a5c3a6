//! The liquidator: which position of an account it takes over first, the chunks (within the
//! block space and the throttle), contagion counted per chunk, and the selling of what it took
//! over to each market's makers.

use ballast_risk::ops::Fill;
use ballast_risk::RiskError;

use super::accounts::{market_id, Mark, MarketView, Phase};
use super::{
    f, whole, LiquidationOrder, Run, SimError, Unwind, LIQUIDATOR_OF_LONGS, LIQUIDATOR_OF_SHORTS,
    VENUE,
};

impl Run<'_> {
    /// Trader `i`'s legs in the order the liquidator takes them over, each with whether a
    /// chunk of it is contagion: the account's loss since entry (realized and open) came mostly
    /// from its other markets.
    pub(super) fn takeover_order(&self, i: usize, views: &[MarketView]) -> Vec<(usize, bool)> {
        let legs = &self.traders[i].legs;
        let loss: Vec<f64> = legs
            .iter()
            .map(|l| l.loss_since_entry(views[l.market].mark))
            .collect();
        let total: f64 = loss.iter().sum();
        let mut order: Vec<(usize, bool)> = (0..legs.len())
            .filter(|&k| legs[k].size_units != 0)
            .map(|k| (k, total - loss[k] > loss[k].max(0.0)))
            .collect();
        match self.params.order {
            LiquidationOrder::WorstMarketFirst => {
                order.sort_by(|a, b| loss[b.0].total_cmp(&loss[a.0]));
            }
            LiquidationOrder::MostLiquidFirst => order.sort_by(|a, b| {
                let depth = |k: usize| self.books[legs[k].market].depth_now;
                depth(b.0).total_cmp(&depth(a.0))
            }),
        }
        order
    }

    /// Liquidates trader `i` chunk by chunk until it is no longer liquidatable (above
    /// maintenance and its liquidation-end target, or closed) or the throttle stops it, taking
    /// its positions over in the order of [`LiquidationOrder`]: a market that refuses the call
    /// (throttled, halted) is left for this tick and the next position is taken.
    pub(super) fn liquidate(
        &mut self,
        i: usize,
        now_ms: u64,
        views: &[MarketView],
    ) -> Result<(), SimError> {
        let id = self.traders[i].id;
        let mut order = self.takeover_order(i, views).into_iter();
        let mut current = order.next();
        while let Some((k, contagion)) = current {
            let leg = self.traders[i].legs[k];
            if !views[leg.market].liquidating {
                current = order.next();
                continue;
            }
            if self.capacity_left == 0 {
                self.metrics.capacity_deferred += 1;
                break;
            }
            let liquidator = if leg.long {
                LIQUIDATOR_OF_LONGS
            } else {
                LIQUIDATOR_OF_SHORTS
            };
            // The liquidator checks off-chain whether a call would succeed: only calls that
            // execute (or that the throttle refuses, which the check cannot know ahead of the
            // block) take block space.
            // The index the engine settles the position at (earlier chunks of this tick may
            // have raised it since the views were taken).
            let settled_at = Mark {
                price: views[leg.market].mark.price,
                social_index: f(self.ledger.markets[leg.market].state.social_loss_index),
            };
            match self.ledger.liquidate(id, liquidator, market_id(leg.market)) {
                Ok(outcome) => {
                    self.capacity_left -= 1;
                    // What the chunk took over had lost since the open; the copy's size is
                    // kept in step until the refresh after the loop.
                    // The chunk settles the whole position: the part taken over realizes what it
                    // lost, the part left pays its socialized loss into its quote balance.
                    let taken = &mut self.traders[i].legs[k];
                    let left = taken.size_units - outcome.closed_size;
                    taken.realized_loss += taken.loss_on(outcome.closed_size, settled_at)
                        + left.unsigned_abs() as f64 / 1e8
                            * (settled_at.social_index - taken.social_snapshot);
                    taken.size_units = left;
                    taken.social_snapshot = settled_at.social_index;
                    let book = &mut self.books[leg.market];
                    book.makers.owe(leg.long, i, outcome.closed_size);
                    let notional = whole(outcome.notional);
                    let r = &mut book.result;
                    r.liquidated_notional += notional;
                    if contagion {
                        r.contagion_notional += notional;
                    }
                    if !self.traders[i].legs[k].in_liquidation {
                        r.liquidations += 1;
                        r.contagion_liquidations += u64::from(contagion);
                        self.traders[i].legs[k].in_liquidation = true;
                    }
                    let m = &mut self.metrics;
                    m.liquidation_calls += 1;
                    m.liquidated_notional += notional;
                    if !self.traders[i].in_liquidation {
                        m.liquidations += 1;
                        self.traders[i].in_liquidation = true;
                    }
                    if let Some(b) = outcome.bankruptcy {
                        self.record_bankruptcy(&b, leg.market);
                        self.metrics.bankrupt_liquidations += 1;
                    }
                    // The next call finds out whether the position is closed (NoPosition) or
                    // the account is healthy again (NotLiquidatable).
                }
                Err(RiskError::LiquidationThrottled) => {
                    self.capacity_left -= 1;
                    self.metrics.throttled += 1;
                    current = order.next();
                }
                Err(RiskError::NotLiquidatable) => break,
                Err(_) => current = order.next(),
            }
        }
        let t = &mut self.traders[i];
        t.refresh(&self.ledger);
        if t.is_flat() && matches!(t.phase, Phase::Holding { .. }) {
            let wait = self.clocks[i].wait_ms();
            t.phase = Phase::Waiting {
                until_ms: now_ms + wait,
            };
        }
        self.hot[i] = t.hot();
        Ok(())
    }

    /// The liquidators sell the longs and buy back the shorts they took over, in each market to
    /// the makers of the accounts they took them from (whose positions that reduces).
    pub(super) fn flatten_liquidators(&mut self) -> Result<(), SimError> {
        for m in 0..self.books.len() {
            let price = self.ledger.markets[m].prices.oracle;
            // Base units a liquidator may sell this tick, per side.
            let allowance = match self.params.unwind {
                Unwind::Immediate => i128::MAX,
                Unwind::Paced {
                    depth_fraction_per_tick,
                } => (depth_fraction_per_tick * self.books[m].depth_now / f(price) * 1e8) as i128,
            };
            for (side, liquidator) in [(0, LIQUIDATOR_OF_LONGS), (1, LIQUIDATOR_OF_SHORTS)] {
                let mut sold = 0i128;
                for k in 0..self.books[m].makers.owed[side].len() {
                    let owed = self.books[m].makers.owed[side][k];
                    let left = allowance.saturating_sub(sold.abs());
                    let size = owed.signum() * owed.abs().min(left);
                    if size == 0 {
                        continue;
                    }
                    let fill = Fill {
                        market: market_id(m),
                        size: -size,
                        price,
                        taker_fee: 0,
                        maker_fee: 0,
                    };
                    let maker = self.books[m].makers.pools[side][k];
                    if self.ledger.fill(liquidator, maker, VENUE, &fill).is_ok() {
                        self.books[m].makers.owed[side][k] -= size;
                        sold += size;
                    } else {
                        self.metrics.failed_closes += 1;
                    }
                }
                if sold != 0 {
                    self.books[m].flow -= sold as f64 / 1e8 * f(price);
                }
            }
        }
        Ok(())
    }
}
