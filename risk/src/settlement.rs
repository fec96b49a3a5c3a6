//! Settlement: the exit when a market's oracle dies or the owner delists it.
//!
//! - **Entering.** Anyone may settle a market whose last price aggregate is older than
//!   `breaker.settle_after_ms` and whose price is no longer valid even for liquidation; the
//!   owner may settle (delist) any market. Settlement is final (`BreakerState::Settled`).
//! - **Price.** For a dead oracle, its time-weighted average as of its last aggregate (window
//!   `twap_window_ms`), not the last price: the last reports before an outage are the easiest to
//!   bend (a feeder that reports a wild price and then goes silent), and an average over the
//!   window costs an attacker the whole window instead of one report. A market delisted while
//!   its price is valid settles at that price, as a close at the oracle would.
//! - **Closing.** Anyone may close any position of a settled market at that price
//!   ([`close_settled`]); value moves between the position and the market's settlement pool,
//!   so the books stay conserved. A position that *loses* closes at once. One that *gains* is
//!   paid only out of what has been paid in: the realized P&L of the closed positions plus its
//!   gain may not exceed the settlement pool at settlement (payments in flight that the open
//!   positions are owed); otherwise it waits (`SettlementPending`). Since the market's P&L sums
//!   to that pool, every gain gets paid once the losers have closed, and a losing position can
//!   never be the last one open: a loser's deficit (insurance fund first, then a social loss
//!   over the positions still open) always has gaining positions left to share it.
//! - In a settled market a position's value is fixed: it carries no requirement, and no fill,
//!   liquidation, funding or options report is accepted. Withdrawals wait for the account's
//!   settled positions to be closed.

use ballast_math::{Fixed, Rounding};
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::bankruptcy::{cover_deficit, Share};
use crate::breaker::{BreakerState, BreakerTransition};
use crate::error::{RiskError, RiskResult};
use crate::ops::{add, index_of, long_part, overflow, settle, sub, BankruptcyOutcome};
use crate::state::{Account, MarketCtx, MarketId, Settlement};

/// Why a market enters settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum SettleReason {
    /// The oracle has had no valid price for `settle_after_ms` (anyone may call).
    OracleDead,
    /// The owner delisted the market.
    Delisted,
}

/// What the oracle says about a market's last price, for settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastPrice {
    /// Time-weighted average of the aggregate as of the last refresh (zero without any price).
    pub twap: Fixed,
    /// When the last aggregate was formed, ms (zero without any price).
    pub formed_at_ms: u64,
}

/// Puts a market into settlement (see the module docs).
pub fn settle_market(
    ctx: &mut MarketCtx,
    last: LastPrice,
    reason: SettleReason,
) -> RiskResult<(Settlement, Option<BreakerTransition>)> {
    if ctx.state.breaker.state == BreakerState::Settled {
        return Err(RiskError::MarketSettled);
    }
    if reason == SettleReason::OracleDead {
        let dead_for = ctx.now_ms.saturating_sub(last.formed_at_ms);
        if ctx.prices.liquidation_valid || dead_for < ctx.config.breaker.settle_after_ms {
            return Err(RiskError::NotSettled);
        }
    }
    if !price_for(ctx, last).is_positive() && ctx.state.open_interest > 0 {
        return Err(RiskError::InvalidAmount);
    }
    let price = price_for(ctx, last);
    let settlement = Settlement {
        price,
        at_ms: ctx.now_ms,
        open_shorts: ctx.state.open_interest,
        realized_pnl: 0,
        pool_at_settlement: ctx.state.settlement_pool,
    };
    ctx.state.settlement = Some(settlement);
    let transition = ctx.state.breaker.settle(ctx.now_ms);
    Ok((settlement, transition))
}

/// The settlement price: the oracle while it is valid, else its last time-weighted average.
fn price_for(ctx: &MarketCtx, last: LastPrice) -> Fixed {
    if ctx.prices.liquidation_valid {
        ctx.prices.oracle
    } else {
        last.twap
    }
}

/// What closing a settled position did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct SettledClose {
    /// Size closed (signed as the position was).
    pub size: i128,
    /// The position's realized P&L at the settlement price, quote base units.
    pub pnl: i128,
    /// The account was left with a deficit, covered here.
    pub bankruptcy: Option<BankruptcyOutcome>,
}

/// Closes `account`'s position in a settled market at the settlement price (anyone may call).
pub fn close_settled(
    account: &mut Account,
    markets: &mut [MarketCtx],
    market: MarketId,
    insurance_fund: &mut i128,
) -> RiskResult<SettledClose> {
    let index = index_of(markets, market)?;
    let ctx = markets.get(index).ok_or(RiskError::UnknownMarket)?.clone();
    let settlement = ctx.state.settlement.ok_or(RiskError::NotSettled)?;
    let size = account.size(market);
    if size == 0 {
        return Err(RiskError::NoPosition);
    }
    let mut a = account.clone();
    let mut work = markets.to_vec();
    let mut state = ctx.state.clone();
    settle(&mut a, &ctx, &mut state)?;
    let value = ctx
        .config
        .decimals
        .quote_value(size, settlement.price, Rounding::Floor)?;
    let position = a
        .positions
        .iter_mut()
        .find(|(id, _)| *id == market)
        .map(|(_, p)| p)
        .ok_or(RiskError::NoPosition)?;
    let pnl = add(position.quote, value)?;
    let realized = add(settlement.realized_pnl, pnl)?;
    if pnl > 0 && realized > settlement.pool_at_settlement {
        return Err(RiskError::SettlementPending);
    }
    position.quote = pnl;
    position.size = 0;
    state.settlement_pool = sub(state.settlement_pool, value)?;
    state.open_interest = sub(state.open_interest, long_part(size))?;
    let mut open = settlement;
    open.realized_pnl = realized;
    if size < 0 {
        open.open_shorts = add(open.open_shorts, size)?;
    }
    state.settlement = Some(open);
    a.realize_closed()?;
    if let Some(target) = work.get_mut(index) {
        target.state = state;
    }
    let mut fund = *insurance_fund;
    let bankruptcy = if a.is_flat() && a.collateral < 0 {
        let deficit = a.collateral.checked_neg().ok_or_else(overflow)?;
        let share = [Share { market, weight: 1 }];
        let outcome = cover_deficit(&mut work, &share, &mut a, deficit, &mut fund)?;
        a.collateral = 0;
        Some(outcome)
    } else {
        None
    };
    crate::ops::note_observed(&mut a, &work)?;
    *account = a;
    markets.clone_from_slice(&work);
    *insurance_fund = fund;
    Ok(SettledClose {
        size,
        pnl,
        bankruptcy,
    })
}
