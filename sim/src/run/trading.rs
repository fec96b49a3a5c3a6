//! The traders' own fills: opening both legs at the leverage they want (capped by what the
//! core allows), and closing (a stop-loss or the end of the holding time).

use ballast_math::Rounding;
use ballast_risk::breaker::BreakerState;
use ballast_risk::health::position_requirements;
use ballast_risk::ops::{BankruptcyOutcome, Fill};
use ballast_risk::{max_position, RiskError};

use super::accounts::{market_id, Mark, Phase};
use super::{f, fx, risk, usd, whole, Run, SimError, DECIMALS, TAKER_FEE, VENUE};
use crate::population::Demand;

impl Run<'_> {
    /// Closes trader `i`'s positions at the oracle prices; `forced` flow moves the prices. An
    /// account whose equity is gone is left to the liquidator (its deficit must go through
    /// bankruptcy resolution).
    pub(super) fn close(&mut self, i: usize, now_ms: u64, forced: bool) -> Result<bool, SimError> {
        if self.hot[i].equity(&self.marks()) <= 0.0 {
            return Ok(false);
        }
        let id = self.traders[i].id;
        let mut refused = false;
        for k in 0..self.traders[i].legs.len() {
            let leg = self.traders[i].legs[k];
            if leg.size_units == 0 {
                continue;
            }
            let price = self.ledger.markets[leg.market].prices.oracle;
            let notional = leg.size.abs() * f(price);
            let fill = Fill {
                market: market_id(leg.market),
                size: -leg.size_units,
                price,
                taker_fee: usd(notional * TAKER_FEE),
                maker_fee: 0,
            };
            // The index the fill settles at, before a bankruptcy it causes socializes more.
            let mark = Mark {
                price: f(price),
                social_index: f(self.ledger.markets[leg.market].state.social_loss_index),
            };
            let Ok(outcome) = self.ledger.fill(id, self.maker_for(i, k), VENUE, &fill) else {
                self.metrics.failed_closes += 1;
                refused = true;
                continue;
            };
            // The engine's fill covers the deficit of an account it leaves with nothing but
            // negative collateral; the simulator only records it.
            if let Some(b) = outcome.taker_bankruptcy {
                self.record_bankruptcy(&b, leg.market);
            }
            self.traders[i].legs[k].realized_loss += leg.loss_on(leg.size_units, mark);
            if forced {
                self.books[leg.market].flow -= leg.size * f(price);
            }
        }
        let t = &mut self.traders[i];
        t.refresh(&self.ledger);
        if refused {
            self.hot[i] = t.hot();
            return Ok(false);
        }
        let wait = self.clocks[i].wait_ms();
        t.phase = Phase::Waiting {
            until_ms: now_ms + wait,
        };
        self.hot[i] = t.hot();
        Ok(true)
    }

    pub(super) fn record_bankruptcy(&mut self, b: &BankruptcyOutcome, market: usize) {
        let m = &mut self.metrics;
        m.bankruptcies += 1;
        m.bad_debt += whole(b.deficit);
        m.insurance_paid += whole(b.from_insurance);
        m.socialized += whole(b.socialized);
        let r = &mut self.books[market].result;
        r.bankruptcies += 1;
        r.bad_debt += whole(b.deficit);
    }

    /// Trader `i` opens its positions at the leverage it wants, capped by the protocol.
    pub(super) fn open(&mut self, i: usize, now_ms: u64) -> Result<(), SimError> {
        let closed = self.traders[i].legs.iter().any(|leg| {
            let ctx = &self.ledger.markets[leg.market];
            ctx.state.breaker.state != BreakerState::Normal || !ctx.prices.opening_valid
        });
        if closed {
            if !self.traders[i].blocked {
                self.metrics.blocked_opens += 1;
                self.traders[i].blocked = true;
            }
            return Ok(());
        }
        let t = &self.traders[i];
        if t.collateral < t.profile.collateral / 2.0 {
            let top_up = usd(t.profile.collateral - t.collateral.max(0.0));
            self.ledger
                .deposit(t.id, top_up)
                .map_err(risk("top-up deposit"))?;
            self.traders[i].refresh(&self.ledger);
        }
        let t = &self.traders[i];
        let equity = t.collateral;
        let mut notional = match t.profile.demand {
            Demand::Fixed(l) => l * equity,
            Demand::Max => 1_000.0 * equity,
        };
        for _ in 0..6 {
            let mut requirement = 0.0;
            for leg in &t.legs {
                let ctx = &self.ledger.markets[leg.market];
                requirement += whole(
                    position_requirements(ctx, usd(notional * leg.weight), true)
                        .map_err(risk("requirements"))?
                        .initial,
                );
            }
            let fraction = requirement / notional;
            let most = equity / (fraction + TAKER_FEE);
            if notional <= most {
                break;
            }
            notional = most * 0.995;
        }
        let (mut opened, mut impact_capped, mut oi_capped) = (None::<f64>, false, false);
        for k in 0..self.traders[i].legs.len() {
            let weight = self.traders[i].legs[k].weight;
            let leg = self.open_leg(i, k, notional * weight)?;
            if let Some(n) = leg.opened {
                opened = Some(opened.map_or(n, |o| o + n));
            }
            impact_capped |= leg.impact_capped;
            oi_capped |= leg.oi_capped;
        }
        self.metrics.impact_capped += u64::from(impact_capped);
        self.metrics.oi_growth_capped += u64::from(oi_capped);
        let t = &mut self.traders[i];
        t.blocked = false;
        t.refresh(&self.ledger);
        match opened {
            Some(notional) => {
                self.metrics.opens += 1;
                self.metrics.mean_open_leverage += notional / equity;
                let mut entry = t.base();
                for leg in &mut t.legs {
                    let price = f(self.ledger.markets[leg.market].prices.oracle);
                    entry += leg.size * price;
                    leg.entry_price = price;
                    leg.realized_loss = 0.0;
                    leg.in_liquidation = false;
                }
                t.entry_equity = entry;
                t.in_liquidation = false;
                let hold = self.clocks[i].hold_ms();
                t.phase = Phase::Holding {
                    until_ms: now_ms + hold,
                };
            }
            None => {
                let wait = self.clocks[i].wait_ms();
                t.phase = Phase::Waiting {
                    until_ms: now_ms + wait,
                };
            }
        }
        self.hot[i] = t.hot();
        Ok(())
    }

    /// Opens trader `i`'s leg `k` at `notional` (quote whole units) or as much of it as the
    /// core allows.
    pub(super) fn open_leg(
        &mut self,
        i: usize,
        k: usize,
        notional: f64,
    ) -> Result<OpenedLeg, SimError> {
        let leg = self.traders[i].legs[k];
        let price = self.ledger.markets[leg.market].prices.oracle;
        let mut size = DECIMALS
            .size_for_value(usd(notional), price, Rounding::Floor)
            .map_err(|e| SimError::Risk("size", e.into()))?;
        if !leg.long {
            size = -size;
        }
        let id = self.traders[i].id;
        let maker = self.maker_for(i, k);
        let mut outcome = OpenedLeg::default();
        for _ in 0..8 {
            if size == 0 {
                break;
            }
            let notional = (size as f64 / 1e8).abs() * f(price);
            let fill = Fill {
                market: market_id(leg.market),
                size,
                price,
                taker_fee: usd(notional * TAKER_FEE),
                maker_fee: 0,
            };
            match self.ledger.fill(id, maker, VENUE, &fill) {
                Ok(_) => {
                    outcome.opened = Some(notional);
                    break;
                }
                Err(RiskError::InsufficientMargin) => size = size / 100 * 97,
                // A depth term binds (only where depth is reported): take what the core allows.
                Err(e @ (RiskError::LiquidityCap | RiskError::OpenInterestGrowth)) => {
                    outcome.impact_capped |= e == RiskError::LiquidityCap;
                    outcome.oi_capped |= e == RiskError::OpenInterestGrowth;
                    let most = max_position(
                        &self.ledger.accounts[&id],
                        &self.ledger.markets,
                        market_id(leg.market),
                        size > 0,
                        price,
                        fx(TAKER_FEE),
                    )
                    .map_err(risk("max position"))?;
                    size = size.signum() * most.min(size.abs() - 1);
                }
                Err(_) => break,
            }
        }
        Ok(outcome)
    }
}

/// What opening one leg did.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct OpenedLeg {
    /// Notional opened, quote whole units.
    opened: Option<f64>,
    impact_capped: bool,
    oi_capped: bool,
}
