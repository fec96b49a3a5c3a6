//! Settlement: the exit when a market's oracle dies or the owner delists it.
//!
//! - **Entering.** Anyone may settle a market whose last price aggregate is older than
//!   `breaker.settle_after_ms` and whose price is no longer valid even for liquidation; the
//!   owner may settle (delist) any market. Settlement is final (`BreakerState::Settled`).
//! - **Price.** The oracle's time-weighted average as of its last aggregate (window
//!   `twap_window_ms`), not the last price: the last reports before an outage are the easiest to
//!   bend (a feeder that reports a wild price and then goes silent), and an average over the
//!   window costs an attacker the whole window instead of one report.
//! - **Closing.** Anyone may close any position of a settled market at that price
//!   ([`close_settled`]); value moves between the position and the market's settlement pool,
//!   so the books stay conserved. A position that *loses* at the settlement price closes at
//!   once; one that *gains* waits `settlement_grace_ms`, so that losers pay in first and a
//!   loser's deficit is covered (insurance fund, then a social loss over the positions still
//!   open in the market, winners included) while the winners are still there to share it. A
//!   deficit that nobody is left to share refuses the close (`DeficitUnresolved`) rather than
//!   leave a hole; closing losers within the grace period avoids that.
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
    if !last.twap.is_positive() && ctx.state.open_interest > 0 {
        return Err(RiskError::InvalidAmount);
    }
    let settlement = Settlement {
        price: last.twap,
        at_ms: ctx.now_ms,
        open_longs: ctx.state.open_interest,
        open_shorts: ctx.state.open_interest,
    };
    ctx.state.settlement = Some(settlement);
    let transition = ctx.state.breaker.settle(ctx.now_ms);
    Ok((settlement, transition))
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
    let grace_end = settlement
        .at_ms
        .saturating_add(ctx.config.breaker.settlement_grace_ms);
    if pnl > 0 && ctx.now_ms < grace_end {
        return Err(RiskError::SettlementGrace);
    }
    position.quote = pnl;
    position.size = 0;
    state.settlement_pool = sub(state.settlement_pool, value)?;
    state.open_interest = sub(state.open_interest, long_part(size))?;
    let mut open = settlement;
    if size > 0 {
        open.open_longs = sub(open.open_longs, size)?;
    } else {
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
        let outcome = cover_deficit(&mut work, &share, &mut [&mut a], deficit, &mut fund)?;
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
