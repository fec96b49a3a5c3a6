//! An in-memory ledger over the same operations the engine contract performs: accounts by id,
//! market contexts, the insurance fund, and net deposits. The simulator and the property tests
//! drive Ballast through it; the contract keeps the same quantities in storage instead.

extern crate alloc;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use ballast_math::MathError;

use crate::error::{RiskError, RiskResult};
use crate::ops::{self, Fill, FillOutcome, LiquidationOutcome};
use crate::state::{Account, MarketCtx, MarketId};

/// Account identifier inside a ledger.
pub type AccountId = u32;

/// Accounts, markets and funds of one deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Market contexts (config, state, current prices and time).
    pub markets: Vec<MarketCtx>,
    /// Accounts by id.
    pub accounts: BTreeMap<AccountId, Account>,
    /// Insurance fund, quote base units.
    pub insurance_fund: i128,
    /// Deposits minus withdrawals: the tokens the engine holds.
    pub net_deposits: i128,
}

impl Ledger {
    /// The account, created empty if absent.
    pub fn account_mut(&mut self, id: AccountId) -> &mut Account {
        self.accounts.entry(id).or_default()
    }

    /// Deposits collateral.
    pub fn deposit(&mut self, id: AccountId, amount: i128) -> RiskResult<()> {
        // Everything is checked before anything is written: a failed deposit changes nothing
        // (not even by creating an empty account).
        let net = self
            .net_deposits
            .checked_add(amount)
            .ok_or(MathError::Overflow)?;
        let mut account = self.accounts.get(&id).cloned().unwrap_or_default();
        ops::deposit(&mut account, amount)?;
        ops::note_observed(&mut account, &self.markets)?;
        self.accounts.insert(id, account);
        self.net_deposits = net;
        Ok(())
    }

    /// Withdraws collateral.
    pub fn withdraw(&mut self, id: AccountId, amount: i128) -> RiskResult<()> {
        let account = self
            .accounts
            .get_mut(&id)
            .ok_or(RiskError::InsufficientCollateral)?;
        let net = self
            .net_deposits
            .checked_sub(amount)
            .ok_or(MathError::Overflow)?;
        ops::withdraw(account, &self.markets, amount)?;
        self.net_deposits = net;
        Ok(())
    }

    /// Applies a fill between two accounts; fees go to `fee_recipient`.
    pub fn fill(
        &mut self,
        taker: AccountId,
        maker: AccountId,
        fee_recipient: AccountId,
        fill: &Fill,
    ) -> RiskResult<FillOutcome> {
        if taker == maker {
            return Err(RiskError::SelfTrade);
        }
        let mut t = self.accounts.get(&taker).cloned().unwrap_or_default();
        let mut m = self.accounts.get(&maker).cloned().unwrap_or_default();
        // The markets change only if the fill is applied: work on a copy until the fee credit
        // is known to fit, so that a failed fill changes nothing.
        let mut markets = self.markets.clone();
        let mut fund = self.insurance_fund;
        let outcome = ops::apply_fill(&mut markets, &mut t, &mut m, fill, &mut fund)?;
        let mut recipient = if fee_recipient == taker {
            t.clone()
        } else if fee_recipient == maker {
            m.clone()
        } else {
            self.accounts
                .get(&fee_recipient)
                .cloned()
                .unwrap_or_default()
        };
        recipient.collateral = recipient
            .collateral
            .checked_add(outcome.fees)
            .ok_or(MathError::Overflow)?;
        self.markets = markets;
        self.insurance_fund = fund;
        self.accounts.insert(taker, t);
        self.accounts.insert(maker, m);
        self.accounts.insert(fee_recipient, recipient);
        Ok(outcome)
    }

    /// Liquidates one chunk.
    pub fn liquidate(
        &mut self,
        liquidatee: AccountId,
        liquidator: AccountId,
        market: MarketId,
    ) -> RiskResult<LiquidationOutcome> {
        if liquidatee == liquidator {
            return Err(RiskError::SelfTrade);
        }
        let mut a = self
            .accounts
            .get(&liquidatee)
            .cloned()
            .ok_or(RiskError::NoPosition)?;
        let mut l = self.accounts.get(&liquidator).cloned().unwrap_or_default();
        let mut fund = self.insurance_fund;
        let outcome =
            crate::liquidation::liquidate(&mut self.markets, &mut a, &mut l, market, &mut fund)?;
        self.accounts.insert(liquidatee, a);
        self.accounts.insert(liquidator, l);
        self.insurance_fund = fund;
        Ok(outcome)
    }

    /// Resolves an account that holds nothing but negative collateral (see
    /// [`crate::bankruptcy::resolve_bankruptcy`]); every market of the ledger may share it.
    pub fn resolve_bankruptcy(
        &mut self,
        id: AccountId,
    ) -> RiskResult<crate::ops::BankruptcyOutcome> {
        let account = self.accounts.get_mut(&id).ok_or(RiskError::NotBankrupt)?;
        crate::bankruptcy::resolve_bankruptcy(account, &mut self.markets, &mut self.insurance_fund)
    }

    /// Puts a market into settlement (see [`crate::settlement`]).
    pub fn settle_market(
        &mut self,
        market: MarketId,
        last: crate::settlement::LastPrice,
        reason: crate::settlement::SettleReason,
    ) -> RiskResult<crate::state::Settlement> {
        let ctx = self.market_mut(market)?;
        let mut work = ctx.clone();
        let (settlement, _) = crate::settlement::settle_market(&mut work, last, reason)?;
        *ctx = work;
        Ok(settlement)
    }

    /// Closes an account's position in a settled market (see [`crate::settlement`]).
    pub fn close_settled(
        &mut self,
        id: AccountId,
        market: MarketId,
    ) -> RiskResult<crate::settlement::SettledClose> {
        let account = self.accounts.get_mut(&id).ok_or(RiskError::NoPosition)?;
        crate::settlement::close_settled(
            account,
            &mut self.markets,
            market,
            &mut self.insurance_fund,
        )
    }

    /// The market context.
    pub fn market_mut(&mut self, id: MarketId) -> RiskResult<&mut MarketCtx> {
        self.markets
            .iter_mut()
            .find(|m| m.id == id)
            .ok_or(RiskError::UnknownMarket)
    }

    /// Everything the ledger holds in quote base units: collateral, position quote balances,
    /// insurance fund and settlement pools. Equals `net_deposits` exactly at all times.
    pub fn total_value(&self) -> RiskResult<i128> {
        let mut total = self.insurance_fund;
        for account in self.accounts.values() {
            total = total
                .checked_add(account.collateral)
                .ok_or(MathError::Overflow)?;
            for (_, p) in &account.positions {
                total = total.checked_add(p.quote).ok_or(MathError::Overflow)?;
            }
        }
        for m in &self.markets {
            total = total
                .checked_add(m.state.settlement_pool)
                .ok_or(MathError::Overflow)?;
        }
        Ok(total)
    }

    /// True when value is conserved to the unit.
    pub fn conserved(&self) -> bool {
        self.total_value() == Ok(self.net_deposits)
    }
}
