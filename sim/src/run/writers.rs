//! The option writers on the ledger (the model and its numbers are in [`crate::options`]).
//!
//! Every tick, before the traders: a writer below maintenance (the risk core's health, which
//! includes its options book) has its book bought back by the options venue at Black-Scholes
//! value, paid out of its collateral; its perp hedge is then left to the liquidators, as any
//! account's. Every hour, for each writer:
//! 1. straddles that expired are paid out of its collateral (the buyer's payoff);
//! 2. if a sale is due, the whole book with the new straddle is reported to the risk core
//!    (`apply_options_report`); only if the core accepts it is the straddle sold, its premium
//!    paid into the writer's collateral by the outside buyer; a refusal is counted by its error
//!    and the sale is retried the next hour;
//! 3. otherwise the book is reported as it is (mark value = minus its value; P&L = the
//!    revaluation of the previously reported book since that report). Its Greeks drift (gamma
//!    grows toward expiry), so the core may find it growing and refuse it: the writer then buys
//!    back its nearest expiry, and so on until a report passes;
//! 4. a writer left with a deficit and nothing open has it resolved as a perp deficit is
//!    (insurance fund, then socialized); one left with nothing and less than half its collateral
//!    tops it back up;
//! 5. the book's delta is hedged with perps through ordinary fills (5 bp taker fee). Hedges are
//!    voluntary trades: like the traders' they do not move the price.
//!
//! Premiums, payoffs and buy-backs are flows between the ledger and the outside world, like
//! deposits and withdrawals: they change `net_deposits` with the collateral, so the ledger's
//! conservation check still holds to the unit. Payoffs and buy-backs are owed, so unlike a
//! withdrawal they are taken without a margin check and may leave the collateral negative.

use ballast_risk::health::{account_health, HealthKind};
use ballast_risk::ledger::{AccountId, Ledger};
use ballast_risk::ops::{BankruptcyOutcome, Fill};
use ballast_risk::{apply_options_report, max_position, RiskError};

use super::{
    f, fx, quantile, risk, usd, whole, Run, SimError, LIQUIDATOR_OF_LONGS, LIQUIDATOR_OF_SHORTS,
    MARKET, TAKER_FEE, VENUE,
};
use crate::options::{book_delta, book_gamma, book_value, short_book_report, Straddle, HOUR};

/// The book the risk core last accepted, with the spot, vol and time it was valued at.
#[derive(Debug, Clone)]
struct Reported {
    book: Vec<Straddle>,
    spot: f64,
    vol: f64,
    at_ms: u64,
}

/// An option writer.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    id: AccountId,
    /// Collateral the writer brings.
    target_collateral: f64,
    /// What it brought in all (first deposit and top-ups; premiums are income).
    capital: f64,
    /// Live short straddles, nearest expiry first.
    book: Vec<Straddle>,
    reported: Option<Reported>,
    next_sale_ms: u64,
    in_liquidation: bool,
    /// Highest short cash gamma / equity at an hourly report.
    peak_gamma_ratio: f64,
}

impl Writer {
    pub(super) fn new(id: AccountId, collateral: f64, first_sale_ms: u64) -> Writer {
        Writer {
            id,
            target_collateral: collateral,
            capital: collateral,
            book: Vec::new(),
            reported: None,
            next_sale_ms: first_sale_ms,
            in_liquidation: false,
            peak_gamma_ratio: 0.0,
        }
    }
}

impl Run<'_> {
    /// The writers' part of a tick (see the module docs).
    pub(super) fn writers_step(&mut self, now_ms: u64) -> Result<(), SimError> {
        let ctx = self.ctx();
        let active = ctx.prices.liquidation_valid
            && ctx.state.breaker.state != ballast_risk::BreakerState::Paused;
        if self.writers.is_empty() || !active {
            return Ok(());
        }
        for w in 0..self.writers.len() {
            self.enforce_maintenance(w, now_ms)?;
        }
        if now_ms >= self.writer_hour_ms {
            self.writer_hour_ms = now_ms + HOUR;
            for w in 0..self.writers.len() {
                self.writer_hour(w, now_ms)?;
            }
        }
        Ok(())
    }

    /// Spot and implied vol the options are valued at: the oracle price, and the oracle's
    /// forecast vol with the writers' premium.
    fn option_prices(&self) -> (f64, f64) {
        let ctx = self.ctx();
        let premium = 1.0 + self.params.writer.vol_premium;
        (
            f(ctx.prices.oracle),
            (f(ctx.state.forecast_vol) * premium).max(0.01),
        )
    }

    /// Writer `w`'s slot among the accounts (which makers it trades with).
    fn writer_slot(&self, w: usize) -> usize {
        self.traders.len() + w
    }

    fn maintenance_equity(&self, id: AccountId) -> Result<(i128, i128), SimError> {
        let account = &self.ledger.accounts[&id];
        let h = account_health(account, &self.ledger.markets, HealthKind::Maintenance, None)
            .map_err(risk("writer health"))?;
        Ok((h.equity, h.requirement))
    }

    /// Value leaving the ledger from a writer's collateral (payoff, buy-back).
    fn pay_out(&mut self, id: AccountId, amount: f64) {
        let units = usd(amount);
        self.ledger.account_mut(id).collateral -= units;
        self.ledger.net_deposits -= units;
        self.metrics.option_payouts += whole(units);
    }

    /// Reports `book` as writer `w`'s whole book; on success it becomes the writer's book.
    /// `trade`: the book changed by a sale or a buy-back (else a re-mark of the same book).
    fn report_book(
        &mut self,
        w: usize,
        book: Vec<Straddle>,
        now_ms: u64,
        trade: bool,
    ) -> Result<(), RiskError> {
        let (spot, vol) = self.option_prices();
        let writer = &self.writers[w];
        if book.is_empty() && writer.reported.is_none() {
            return Ok(());
        }
        // The short side gains what the previous book's value lost.
        let pnl = writer.reported.as_ref().map_or(0.0, |r| {
            book_value(&r.book, r.spot, r.vol, r.at_ms) - book_value(&r.book, spot, vol, now_ms)
        });
        let report = short_book_report(
            MARKET,
            &book,
            spot,
            vol,
            now_ms,
            pnl,
            &self.params.writer,
            trade,
        );
        let Ledger {
            accounts,
            markets,
            insurance_fund,
            ..
        } = &mut self.ledger;
        let account = accounts.entry(writer.id).or_default();
        let outcome = apply_options_report(account, markets, report, insurance_fund)?;
        if let Some(b) = outcome.bankruptcy {
            self.record_writer_bankruptcy(&b);
        }
        if !outcome.trusted {
            self.metrics.distrusted_reports += 1;
        }
        let writer = &mut self.writers[w];
        writer.reported = (!book.is_empty()).then(|| Reported {
            book: book.clone(),
            spot,
            vol,
            at_ms: now_ms,
        });
        writer.book = book;
        Ok(())
    }

    /// A writer below maintenance: the venue buys its book back, the liquidators take its
    /// hedge if it is still below maintenance.
    fn enforce_maintenance(&mut self, w: usize, now_ms: u64) -> Result<(), SimError> {
        let id = self.writers[w].id;
        let account = &self.ledger.accounts[&id];
        if account.options.is_none() && account.positions.is_empty() {
            return Ok(());
        }
        let has_book = account.options.is_some();
        let (equity, requirement) = self.maintenance_equity(id)?;
        let below = equity < requirement;
        if below && has_book {
            let (spot, vol) = self.option_prices();
            self.pay_out(id, book_value(&self.writers[w].book, spot, vol, now_ms));
            self.report_book(w, Vec::new(), now_ms, true)
                .map_err(risk("empty options report"))?;
            self.metrics.forced_option_closes += 1;
            self.writers[w].next_sale_ms = now_ms + self.params.writer.cooldown_hours * HOUR;
        }
        if below {
            self.liquidate_writer(w)?;
        }
        self.resolve_writer_deficit(w)
    }

    /// The liquidators work through a writer's perp position as through a trader's.
    fn liquidate_writer(&mut self, w: usize) -> Result<(), SimError> {
        let id = self.writers[w].id;
        let size = self.ledger.accounts[&id].size(MARKET);
        if size == 0 {
            return Ok(());
        }
        let liquidator = if size > 0 {
            LIQUIDATOR_OF_LONGS
        } else {
            LIQUIDATOR_OF_SHORTS
        };
        loop {
            if self.capacity_left == 0 {
                self.metrics.capacity_deferred += 1;
                break;
            }
            match self.ledger.liquidate(id, liquidator, MARKET) {
                Ok(outcome) => {
                    self.capacity_left -= 1;
                    let slot = self.writer_slot(w);
                    self.books[0]
                        .makers
                        .owe(size > 0, slot, outcome.closed_size);
                    self.metrics.liquidation_calls += 1;
                    self.metrics.liquidated_notional += whole(outcome.notional);
                    if !self.writers[w].in_liquidation {
                        self.metrics.liquidations += 1;
                        self.writers[w].in_liquidation = true;
                    }
                    if let Some(b) = outcome.bankruptcy {
                        self.record_writer_bankruptcy(&b);
                        self.metrics.bankrupt_liquidations += 1;
                    }
                }
                Err(RiskError::LiquidationThrottled) => {
                    // A refused call still takes its block space.
                    self.capacity_left -= 1;
                    self.metrics.throttled += 1;
                    break;
                }
                Err(_) => break,
            }
        }
        Ok(())
    }

    /// The simulator pays option buy-backs out of collateral (the engine has no premium
    /// transfer), which can leave a writer with nothing but negative collateral: a keeper then
    /// calls the engine's permissionless `resolve_bankruptcy`, as it would on chain.
    fn resolve_writer_deficit(&mut self, w: usize) -> Result<(), SimError> {
        let id = self.writers[w].id;
        let a = &self.ledger.accounts[&id];
        if a.is_flat() && a.collateral < 0 {
            let b = self
                .ledger
                .resolve_bankruptcy(id)
                .map_err(risk("resolve writer bankruptcy"))?;
            self.record_writer_bankruptcy(&b);
        }
        Ok(())
    }

    fn record_writer_bankruptcy(&mut self, b: &BankruptcyOutcome) {
        let m = &mut self.metrics;
        m.writer_bankruptcies += 1;
        m.options_bad_debt += whole(b.deficit);
        m.insurance_paid += whole(b.from_insurance);
        m.socialized += whole(b.socialized);
    }

    /// Writer `w`'s hourly round (see the module docs).
    fn writer_hour(&mut self, w: usize, now_ms: u64) -> Result<(), SimError> {
        let p = self.params.writer;
        let (spot, vol) = self.option_prices();
        let id = self.writers[w].id;
        let mut book = self.writers[w].book.clone();
        while book.first().is_some_and(|s| s.expiry_ms <= now_ms) {
            let expired = book.remove(0);
            self.pay_out(id, expired.payoff(spot));
        }

        let mut sold = false;
        if now_ms >= self.writers[w].next_sale_ms && book.len() < p.max_straddles {
            // Equity as the core will see it with the book revalued now: the stored book's
            // mark replaced by the live book's value.
            let (equity, _) = self.maintenance_equity(id)?;
            let stored_mark = self.ledger.accounts[&id]
                .options
                .as_ref()
                .map_or(0, |b| b.report.mark_value.min(0));
            let equity = whole(equity - stored_mark) - book_value(&book, spot, vol, now_ms);
            if equity > 0.0 {
                let gamma = p.sizing_loss * equity / (p.sizing_move * p.sizing_move / 2.0);
                let expiry = now_ms + p.tenor_hours * HOUR;
                let straddle = Straddle::at_the_money(spot, vol, now_ms, expiry, gamma);
                let mut grown = book.clone();
                grown.push(straddle);
                match self.report_book(w, grown, now_ms, true) {
                    Ok(()) => {
                        let premium = usd(straddle.greeks(spot, vol, now_ms).value);
                        if premium > 0 {
                            self.ledger.deposit(id, premium).map_err(risk("premium"))?;
                        }
                        let m = &mut self.metrics;
                        m.premiums += whole(premium);
                        m.options_sales += 1;
                        m.gamma_sold += gamma;
                        self.writers[w].next_sale_ms = now_ms + p.sale_every_hours * HOUR;
                        sold = true;
                    }
                    Err(e) => self.metrics.refused_sales.count(e),
                }
            }
        }
        if !sold {
            let mut refused = false;
            loop {
                match self.report_book(w, book.clone(), now_ms, false) {
                    Ok(()) => break,
                    Err(e) if !book.is_empty() => {
                        if !refused {
                            self.metrics.refused_refreshes.count(e);
                            refused = true;
                        }
                        let nearest = book.remove(0);
                        self.pay_out(id, nearest.greeks(spot, vol, now_ms).value);
                        self.metrics.derisk_buybacks += 1;
                    }
                    Err(e) => return Err(SimError::Risk("empty options report", e)),
                }
            }
        }

        self.resolve_writer_deficit(w)?;
        let account = &self.ledger.accounts[&id];
        let writer = &self.writers[w];
        if writer.book.is_empty()
            && account.positions.is_empty()
            && whole(account.collateral) < writer.target_collateral / 2.0
        {
            let amount = writer.target_collateral - whole(account.collateral).max(0.0);
            self.ledger
                .deposit(id, usd(amount))
                .map_err(risk("writer top-up"))?;
            self.writers[w].capital += amount;
        }

        self.hedge(w, now_ms)?;
        let writer = &self.writers[w];
        if !writer.book.is_empty() {
            let (equity, _) = self.maintenance_equity(id)?;
            if equity > 0 {
                let ratio = book_gamma(&writer.book, spot, vol, now_ms) / whole(equity);
                let writer = &mut self.writers[w];
                writer.peak_gamma_ratio = writer.peak_gamma_ratio.max(ratio);
            }
        }
        Ok(())
    }

    /// Trades the perp position toward minus the short book's delta.
    fn hedge(&mut self, w: usize, now_ms: u64) -> Result<(), SimError> {
        let (spot, vol) = self.option_prices();
        let id = self.writers[w].id;
        let target = (book_delta(&self.writers[w].book, spot, vol, now_ms) * 1e8).round() as i128;
        let current = self.ledger.accounts[&id].size(MARKET);
        if current == 0 {
            self.writers[w].in_liquidation = false;
        }
        let trade = target - current;
        if (trade as f64 / 1e8).abs() * spot < self.params.writer.min_hedge_notional {
            return Ok(());
        }
        // The part that reduces the position goes to the maker facing it, the rest to the maker
        // facing the new direction (as for the traders).
        let slot = self.writer_slot(w);
        let reduce = if current != 0 && (current > 0) != (trade > 0) {
            trade.signum() * trade.abs().min(current.abs())
        } else {
            0
        };
        if reduce != 0 {
            let maker = self.books[0].makers.of(current > 0, slot);
            if !self.writer_fill(id, maker, reduce) {
                self.metrics.refused_hedges += 1;
                return Ok(());
            }
        }
        let grow = trade - reduce;
        if grow != 0 {
            let maker = self.books[0].makers.of(grow > 0, slot);
            if !self.writer_fill(id, maker, grow) {
                self.metrics.refused_hedges += 1;
                let most = max_position(
                    &self.ledger.accounts[&id],
                    &self.ledger.markets,
                    MARKET,
                    grow > 0,
                    self.ctx().prices.oracle,
                    fx(TAKER_FEE),
                )
                .map_err(risk("max hedge"))?;
                let part = grow.signum() * most.min(grow.abs());
                if part != 0 {
                    self.writer_fill(id, maker, part);
                }
            }
        }
        Ok(())
    }

    fn writer_fill(&mut self, id: AccountId, maker: AccountId, size: i128) -> bool {
        let price = self.ctx().prices.oracle;
        let notional = (size as f64 / 1e8).abs() * f(price);
        let fill = Fill {
            market: MARKET,
            size,
            price,
            taker_fee: usd(notional * TAKER_FEE),
            maker_fee: 0,
        };
        self.ledger.fill(id, maker, VENUE, &fill).is_ok()
    }

    /// End of the run: the writers' P&L and the quantile of their peak gamma.
    pub(super) fn finish_writers(&mut self) -> Result<(), SimError> {
        let mut pnl = 0.0;
        for w in &self.writers {
            pnl += whole(self.maintenance_equity(w.id)?.0) - w.capital;
        }
        let peaks: Vec<f64> = self.writers.iter().map(|w| w.peak_gamma_ratio).collect();
        self.metrics.writer_pnl = pnl;
        self.metrics.peak_short_gamma_over_equity = quantile(&peaks, 0.9);
        Ok(())
    }
}
