//! Covering a deficit: the insurance fund first, then a social loss shared over markets through
//! their social-loss indices (both sides of every other position pay per unit of |size|,
//! rounded up, into the settlement pool that advanced the loss).
//!
//! Who pays: every position in the markets the loss is shared in except those of the exempt
//! accounts (the bankrupt account itself, and the liquidator that takes it over, who must not
//! pay for doing so). A market in which nobody else holds a position takes no share: its part
//! passes to the other markets. Only if no other position exists in any of them does the
//! liquidator's exemption lapse (it is then the bankrupt account's only counterparty, whose
//! gain is the loss); if even that leaves nobody, the deficit is unresolvable and the operation
//! is refused, so no deficit is ever left in a pool with nobody to pay it.
//!
//! Callers pass working copies of markets and accounts: on `Err` they discard them.

extern crate alloc;
use alloc::vec::Vec;

use ballast_math::{mul_div_i128, Fixed, Rounding};

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

/// A market that takes part: its index in `markets`, weight, and the quote value (base
/// units) of one unit of social-loss index over the positions that pay.
struct Payer {
    index: usize,
    weight: i128,
    value_per_index_unit: i128,
}

fn payers(
    markets: &[MarketCtx],
    shares: &[Share],
    exempt: &[&mut Account],
) -> RiskResult<Vec<Payer>> {
    let mut out = Vec::with_capacity(shares.len());
    for share in shares.iter().filter(|s| s.weight > 0) {
        let index = index_of(markets, share.market)?;
        let ctx = markets.get(index).ok_or(RiskError::UnknownMarket)?;
        let mut exempt_size = 0i128;
        for account in exempt {
            let size = account
                .size(share.market)
                .checked_abs()
                .ok_or_else(overflow)?;
            exempt_size = exempt_size.checked_add(size).ok_or_else(overflow)?;
        }
        let paying = sub(ctx.state.open_size()?, exempt_size)?;
        if paying <= 0 {
            continue;
        }
        let value_per_index_unit =
            ctx.config
                .decimals
                .quote_value(paying, Fixed::ONE, Rounding::Floor)?;
        if value_per_index_unit > 0 {
            out.push(Payer {
                index,
                weight: share.weight,
                value_per_index_unit,
            });
        }
    }
    Ok(out)
}

/// Covers `deficit` (quote base units, > 0): the insurance fund first, the rest shared over
/// `shares` pro rata to their weights, paid by all positions but the exempt accounts' (see the
/// module docs). The exempt accounts' positions in the paying markets are settled first and
/// then skip the loss.
pub fn cover_deficit(
    markets: &mut [MarketCtx],
    shares: &[Share],
    exempt: &mut [&mut Account],
    deficit: i128,
    insurance_fund: &mut i128,
) -> RiskResult<BankruptcyOutcome> {
    if deficit <= 0 {
        return Err(RiskError::NotBankrupt);
    }
    let from_insurance = deficit.min((*insurance_fund).max(0));
    let socialized = sub(deficit, from_insurance)?;
    if socialized > 0 {
        let mut exempt_count = exempt.len();
        let mut paying = payers(markets, shares, exempt)?;
        if paying.is_empty() && exempt_count > 1 {
            exempt_count = 1;
            paying = payers(markets, shares, exempt.get(..1).unwrap_or_default())?;
        }
        if paying.is_empty() {
            return Err(RiskError::DeficitUnresolved);
        }
        let total_weight = paying
            .iter()
            .try_fold(0i128, |t, p| t.checked_add(p.weight))
            .ok_or_else(overflow)?;
        let mut parts = Vec::with_capacity(paying.len());
        for p in &paying {
            parts.push(mul_div_i128(
                socialized,
                p.weight,
                total_weight,
                Rounding::Floor,
            )?);
        }
        let assigned = parts
            .iter()
            .try_fold(0i128, |t, x| t.checked_add(*x))
            .ok_or_else(overflow)?;
        if let Some(first) = parts.first_mut() {
            *first = first
                .checked_add(sub(socialized, assigned)?)
                .ok_or_else(overflow)?;
        }
        for (p, part) in paying.iter().zip(parts) {
            let ctx = markets
                .get(p.index)
                .ok_or(RiskError::UnknownMarket)?
                .clone();
            let market = markets.get_mut(p.index).ok_or(RiskError::UnknownMarket)?;
            for account in exempt.iter_mut().take(exempt_count) {
                settle(account, &ctx, &mut market.state)?;
            }
            let per_unit = Fixed::from_ratio_rounded(part, p.value_per_index_unit, Rounding::Ceil)?;
            market.state.social_loss_index =
                market.state.social_loss_index.checked_add(per_unit)?;
            market.state.settlement_pool = sub(market.state.settlement_pool, part)?;
            let index = market.state.social_loss_index;
            for account in exempt.iter_mut().take(exempt_count) {
                if let Some((_, position)) =
                    account.positions.iter_mut().find(|(id, _)| *id == ctx.id)
                {
                    position.social_snapshot = index;
                }
            }
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
    let outcome = cover_deficit(&mut work, &shares, &mut [&mut a], deficit, &mut fund)?;
    a.collateral = 0;
    *account = a;
    markets.clone_from_slice(&work);
    *insurance_fund = fund;
    Ok(outcome)
}
