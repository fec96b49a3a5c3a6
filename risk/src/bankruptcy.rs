//! Covering a deficit: the insurance fund first, then a social loss shared over markets through
//! their social-loss indices (both sides of every other position pay per unit of |size|,
//! rounded up, into the settlement pool that advanced the loss).
//!
//! Who pays: every position in the markets the loss is shared in except the bankrupt account's
//! own. A liquidator pays like any other holder for what it held before; what it takes over in
//! the call is taken at the index after the loss (so it pays nothing for closing the account). A
//! market in which nobody else holds a position takes no share: its part passes to the other
//! markets; if nobody else holds a position in any of them, the deficit is unresolvable and the
//! operation is refused, so no deficit is ever left in a pool with nobody to pay it.
//!
//! Callers pass working copies of markets and accounts: on `Err` they discard them.

extern crate alloc;
use alloc::vec::Vec;

use ballast_math::{mul_div_i128, Rounding};

use crate::breaker::BreakerState;
use crate::error::{RiskError, RiskResult};
use crate::ops::{index_of, overflow, settle, sub, BankruptcyOutcome};
use crate::state::{Account, MarketCtx, MarketId};

/// A market a social loss may be shared in, and the weight of its share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// Market.
    pub market: MarketId,
    /// Relative weight (the bankrupt account's notional there, quote base units).
    pub weight: i128,
}

/// The size (base units) of the positions of `share`'s market that pay (all but the bankrupt
/// account's), with the market's index in `markets`, or `None` when nobody there pays.
fn paying_size(
    markets: &[MarketCtx],
    share: &Share,
    bankrupt: &Account,
) -> RiskResult<Option<(usize, i128)>> {
    if share.weight <= 0 {
        return Ok(None);
    }
    let index = index_of(markets, share.market)?;
    let ctx = markets.get(index).ok_or(RiskError::UnknownMarket)?;
    let own = bankrupt
        .size(share.market)
        .checked_abs()
        .ok_or_else(overflow)?;
    let paying = sub(ctx.state.open_size()?, own)?;
    // Any paying size counts, however small: the loss per unit is computed exactly from it
    // (a fuzz finding: valuing 99 base units at one quote unit per unit of index rounded to
    // nothing, and the deficit was refused as unresolvable).
    Ok((paying > 0).then_some((index, paying)))
}

/// Covers `deficit` (quote base units, > 0): the insurance fund first, the rest shared over
/// `shares` pro rata to their weights, paid by all positions but the bankrupt account's own (see
/// the module docs), whose positions in the paying markets are settled first and then skip the
/// loss. Each market's part is the difference of the cumulative shares rounded down, so the
/// parts add up to the loss exactly.
pub fn cover_deficit(
    markets: &mut [MarketCtx],
    shares: &[Share],
    bankrupt: &mut Account,
    deficit: i128,
    insurance_fund: &mut i128,
) -> RiskResult<BankruptcyOutcome> {
    if deficit <= 0 {
        return Err(RiskError::NotBankrupt);
    }
    let from_insurance = deficit.min((*insurance_fund).max(0));
    let socialized = sub(deficit, from_insurance)?;
    if socialized > 0 {
        let mut total = 0i128;
        for share in shares {
            if paying_size(markets, share, bankrupt)?.is_some() {
                total = total.checked_add(share.weight).ok_or_else(overflow)?;
            }
        }
        if total == 0 {
            return Err(RiskError::DeficitUnresolved);
        }
        let (mut cumulative, mut assigned) = (0i128, 0i128);
        for share in shares {
            let Some((index, paying)) = paying_size(markets, share, bankrupt)? else {
                continue;
            };
            cumulative = cumulative.checked_add(share.weight).ok_or_else(overflow)?;
            let upto = mul_div_i128(socialized, cumulative, total, Rounding::Floor)?;
            let part = sub(upto, assigned)?;
            assigned = upto;
            let market = markets.get_mut(index).ok_or(RiskError::UnknownMarket)?;
            let mut state = market.state.clone();
            settle(bankrupt, market, &mut state)?;
            // Each paying position owes its size times the index move, rounded up, so together
            // at least `part`.
            let per_unit = market
                .config
                .decimals
                .price_for_value(part, paying, Rounding::Ceil)?;
            state.social_loss_index = state.social_loss_index.checked_add(per_unit)?;
            state.settlement_pool = sub(state.settlement_pool, part)?;
            if let Some((_, p)) = bankrupt
                .positions
                .iter_mut()
                .find(|(id, _)| *id == share.market)
            {
                p.social_snapshot = state.social_loss_index;
            }
            market.state = state;
        }
    }
    *insurance_fund = sub(*insurance_fund, from_insurance)?;
    Ok(BankruptcyOutcome {
        deficit,
        from_insurance,
        socialized,
    })
}

/// Resolves an account that holds nothing but negative collateral (permissionless): the
/// insurance fund first, the rest shared over every supplied live market pro rata to its
/// open-interest notional at the oracle price.
pub fn resolve_bankruptcy(
    account: &mut Account,
    markets: &mut [MarketCtx],
    insurance_fund: &mut i128,
) -> RiskResult<BankruptcyOutcome> {
    if !account.is_flat() || account.collateral >= 0 {
        return Err(RiskError::NotBankrupt);
    }
    let mut shares = Vec::with_capacity(markets.len());
    for m in markets.iter() {
        if m.state.breaker.state == BreakerState::Settled || !m.prices.liquidation_valid {
            continue;
        }
        let weight = m.config.decimals.quote_value(
            m.state.open_interest,
            m.prices.oracle,
            Rounding::Floor,
        )?;
        shares.push(Share {
            market: m.id,
            weight,
        });
    }
    let deficit = account.collateral.checked_neg().ok_or_else(overflow)?;
    let mut a = account.clone();
    let mut work = markets.to_vec();
    let mut fund = *insurance_fund;
    let outcome = cover_deficit(&mut work, &shares, &mut a, deficit, &mut fund)?;
    a.collateral = 0;
    *account = a;
    markets.clone_from_slice(&work);
    *insurance_fund = fund;
    Ok(outcome)
}
