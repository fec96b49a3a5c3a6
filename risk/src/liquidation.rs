//! Liquidation in chunks, with a throttle, a penalty that never lowers the health ratio, and
//! bankruptcy resolution (insurance fund first, then socialized over open interest).
//!
//! Rules of one call on account A in market M:
//! 1. M is not paused and its price is valid for liquidation; A is below maintenance, or a
//!    liquidation of A has started and its liquidation-end health is still negative.
//! 2. Size closed: the smallest amount that brings A's liquidation-end health to >= 0 (after the
//!    penalty), at most `chunk_fraction` of the position; the rest of the position too if what
//!    would remain is below `min_position_notional`.
//! 3. Throttle: at most `throttle_notional` per window in M (where depth is reported:
//!    `throttle_depth_multiple` times the depth, see [`throttle_notional`]), except for a
//!    bankrupt account (equity <= 0), which may always be closed so that its loss stops growing.
//! 4. The liquidator takes the size over at the oracle price (rounded in A's favour) and must
//!    itself meet initial health afterwards.
//! 5. Penalty: `penalty_fraction` of the closed notional, capped at `released * equity /
//!    requirement` (maintenance terms), so the health ratio equity/requirement never falls;
//!    zero for a bankrupt account. Split `liquidator_share` to the liquidator, the rest to the
//!    insurance fund.
//! 6. When A is left with no position and negative collateral, the deficit is resolved.

use ballast_math::{Fixed, Rounding};

use crate::breaker::BreakerState;
use crate::error::{RiskError, RiskResult};
use crate::health::{account_health, HealthKind};
use crate::ops::{
    add, index_of, long_part, overflow, settle, sub, trade, BankruptcyOutcome, LiquidationOutcome,
};
use crate::state::{Account, MarketCtx, MarketId, MarketState};

/// Notional the throttle lets through per window: where depth is reported, what the book
/// absorbs, `throttle_depth_multiple * depth` (depth of the thinner side, slow view);
/// otherwise the configured `throttle_notional`.
pub fn throttle_notional(ctx: &MarketCtx) -> RiskResult<i128> {
    let liquidity = &ctx.config.liquidity;
    match ctx
        .state
        .depth
        .both_sides(liquidity, crate::liquidity::Use::Keep)?
    {
        Some(depth) => Ok(liquidity
            .throttle_depth_multiple
            .mul_amount(depth, Rounding::Floor)?
            .max(1)),
        None => Ok(ctx.config.liquidation.throttle_notional),
    }
}

/// See the module docs.
pub fn liquidate(
    markets: &mut [MarketCtx],
    liquidatee: &mut Account,
    liquidator: &mut Account,
    market: MarketId,
    insurance_fund: &mut i128,
) -> RiskResult<LiquidationOutcome> {
    let index = index_of(markets, market)?;
    let ctx = markets.get(index).ok_or(RiskError::UnknownMarket)?;
    if ctx.state.breaker.state == BreakerState::Paused || !ctx.prices.liquidation_valid {
        return Err(RiskError::MarketHalted);
    }
    let size = liquidatee.size(market);
    if size == 0 {
        return Err(RiskError::NoPosition);
    }
    let before = account_health(liquidatee, markets, HealthKind::Maintenance, None)?;
    let continuing = liquidatee.being_liquidated
        && account_health(liquidatee, markets, HealthKind::LiquidationEnd, None)?.surplus()? < 0;
    if before.surplus()? >= 0 && !continuing {
        return Err(RiskError::NotLiquidatable);
    }
    let bankrupt = before.equity <= 0;
    let config = &ctx.config;
    let oracle = ctx.prices.oracle;
    let decimals = config.decimals;
    let params = &config.liquidation;
    let abs_size = size.checked_abs().ok_or_else(overflow)?;
    let sign: i128 = if size > 0 { -1 } else { 1 };

    // Work on copies; commit at the end.
    let mut state = ctx.state.clone();
    let (mut a, mut l) = (liquidatee.clone(), liquidator.clone());
    settle(&mut a, ctx, &mut state)?;
    settle(&mut l, ctx, &mut state)?;

    let penalty_for = |closed: i128| -> RiskResult<i128> {
        let notional = decimals.quote_value(closed, oracle, Rounding::Floor)?;
        Ok(params
            .penalty_fraction
            .mul_amount(notional, Rounding::Floor)?)
    };
    // Liquidation-end surplus after closing `closed` (full penalty: conservative).
    let surplus_after = |closed: i128| -> RiskResult<i128> {
        let mut trial = a.clone();
        let delta = sign.checked_mul(closed).ok_or_else(overflow)?;
        let quote = decimals.quote_value(delta, oracle, Rounding::Floor)?;
        trade(&mut trial, market, &state, delta, quote)?;
        trial.collateral = sub(trial.collateral, penalty_for(closed)?)?;
        trial.realize_closed()?;
        account_health(&trial, markets, HealthKind::LiquidationEnd, None)?.surplus()
    };

    let chunk = params
        .chunk_fraction
        .mul_amount(abs_size, Rounding::Ceil)?
        .clamp(1, abs_size);
    let mut closed = chunk;
    if !bankrupt && surplus_after(1)? >= 0 {
        closed = 1;
    } else if !bankrupt && surplus_after(chunk)? >= 0 {
        // Smallest size in (1, chunk] restoring liquidation-end health.
        let (mut low, mut high) = (1i128, chunk);
        while high.saturating_sub(low) > 1 {
            let mid = low.saturating_add(high.saturating_sub(low) / 2);
            if surplus_after(mid)? >= 0 {
                high = mid;
            } else {
                low = mid;
            }
        }
        closed = high;
    }
    let remaining = sub(abs_size, closed)?;
    if decimals.quote_value(remaining, oracle, Rounding::Floor)? < params.min_position_notional {
        closed = abs_size;
    }

    // Throttle.
    if ctx.now_ms.saturating_sub(state.throttle_window_start_ms) >= params.throttle_window_ms {
        state.throttle_window_start_ms = ctx.now_ms;
        state.throttle_used = 0;
    }
    let capacity = sub(throttle_notional(ctx)?, state.throttle_used)?.max(0);
    if !bankrupt && decimals.quote_value(closed, oracle, Rounding::Ceil)? > capacity {
        closed = decimals
            .size_for_value(capacity, oracle, Rounding::Floor)?
            .min(closed);
        if closed <= 0 {
            return Err(RiskError::LiquidationThrottled);
        }
    }
    let notional = decimals.quote_value(closed, oracle, Rounding::Ceil)?;

    // Takeover at the oracle price, rounded in the liquidated account's favour.
    let long_before = add(long_part(a.size(market)), long_part(l.size(market)))?;
    let delta = sign.checked_mul(closed).ok_or_else(overflow)?;
    let quote = decimals.quote_value(delta, oracle, Rounding::Floor)?;
    trade(&mut a, market, &state, delta, quote)?;
    trade(
        &mut l,
        market,
        &state,
        delta.checked_neg().ok_or_else(overflow)?,
        quote.checked_neg().ok_or_else(overflow)?,
    )?;
    let long_after = add(long_part(a.size(market)), long_part(l.size(market)))?;
    state.open_interest = add(state.open_interest, sub(long_after, long_before)?)?;

    // Penalty, capped so that the maintenance health ratio cannot fall.
    let penalty = if bankrupt {
        0
    } else {
        let mut probe = a.clone();
        probe.realize_closed()?;
        let after = account_health(&probe, markets, HealthKind::Maintenance, None)?;
        let released = sub(before.requirement, after.requirement)?.max(0);
        let cap = ballast_math::mul_div_i128(
            released,
            before.equity,
            before.requirement,
            Rounding::Floor,
        )?;
        penalty_for(closed)?.min(cap).max(0)
    };
    let to_liquidator = params
        .liquidator_share
        .mul_amount(penalty, Rounding::Floor)?;
    let to_insurance = sub(penalty, to_liquidator)?;
    a.collateral = sub(a.collateral, penalty)?;
    l.collateral = add(l.collateral, to_liquidator)?;
    let insurance_after = add(*insurance_fund, to_insurance)?;
    a.realize_closed()?;
    l.realize_closed()?;
    let liquidator_grows = !crate::ops::is_reducing(
        liquidator.size(market),
        delta.checked_neg().ok_or_else(overflow)?,
    );
    if account_health(
        &l,
        markets,
        HealthKind::Initial,
        liquidator_grows.then_some(market),
    )?
    .surplus()?
        < 0
    {
        return Err(RiskError::InsufficientMargin);
    }
    state.throttle_used = add(state.throttle_used, notional)?;

    let mut insurance = insurance_after;
    let bankruptcy = if a.positions.is_empty() && a.collateral < 0 {
        Some(resolve_deficit(
            &mut a,
            &mut state,
            config.decimals,
            &mut insurance,
        )?)
    } else {
        None
    };
    let liquidation_end_surplus =
        account_health(&a, markets, HealthKind::LiquidationEnd, None)?.surplus()?;
    a.being_liquidated = liquidation_end_surplus < 0 && !a.positions.is_empty();
    *liquidatee = a;
    *liquidator = l;
    *insurance_fund = insurance;
    if let Some(target) = markets.get_mut(index) {
        target.state = state;
    }
    Ok(LiquidationOutcome {
        closed_size: delta.checked_neg().ok_or_else(overflow)?,
        notional,
        penalty,
        to_liquidator,
        to_insurance,
        bankrupt,
        liquidation_end_surplus,
        bankruptcy,
    })
}

/// Covers the negative collateral of an account with no positions: insurance fund first, the
/// rest socialized over the market's open interest through its social-loss index (both sides
/// pay per unit of |size|, rounded up, into the settlement pool that advanced the loss).
pub fn resolve_deficit(
    account: &mut Account,
    state: &mut MarketState,
    decimals: ballast_math::Decimals,
    insurance_fund: &mut i128,
) -> RiskResult<BankruptcyOutcome> {
    if !account.positions.is_empty() || account.collateral >= 0 {
        return Err(RiskError::NotBankrupt);
    }
    let deficit = account.collateral.checked_neg().ok_or_else(overflow)?;
    let from_insurance = deficit.min((*insurance_fund).max(0));
    let socialized = sub(deficit, from_insurance)?;
    if socialized > 0 {
        let both_sides = state.open_interest.checked_mul(2).ok_or_else(overflow)?;
        let value_per_index_unit = decimals.quote_value(both_sides, Fixed::ONE, Rounding::Floor)?;
        if value_per_index_unit > 0 {
            let per_unit =
                Fixed::from_ratio_rounded(socialized, value_per_index_unit, Rounding::Ceil)?;
            state.social_loss_index = state.social_loss_index.checked_add(per_unit)?;
        }
        state.settlement_pool = sub(state.settlement_pool, socialized)?;
    }
    *insurance_fund = sub(*insurance_fund, from_insurance)?;
    account.collateral = 0;
    Ok(BankruptcyOutcome {
        deficit,
        from_insurance,
        socialized,
    })
}
