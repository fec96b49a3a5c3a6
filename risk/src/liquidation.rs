//! Liquidation in chunks, with a throttle, a penalty that never lowers the health ratio, and
//! bankrupt accounts resolved as they are closed.
//!
//! Rules of one call on account A in market M:
//! 1. M is not paused or settled and its price is valid for liquidation; A is below
//!    maintenance. Nothing else makes an account liquidatable: an account at or above
//!    maintenance never is, whatever happened to it before.
//! 2. Size closed: the smallest amount that brings A's liquidation-end health to >= 0 (after the
//!    penalty), at most `chunk_fraction` of the position's size when its liquidation began
//!    (`Position::liquidation_base`), so one liquidation takes at most `1 / chunk_fraction`
//!    calls while unthrottled; the rest of the position too if what would remain is below
//!    `min_position_notional`. A bankrupt account's position in M closes whole, so a bankrupt
//!    account takes one call per market it holds.
//! 3. Throttle, where the listing turns it on (`LiquidationThrottle::On`; off by default): at
//!    most `throttle_notional` per window in M (where depth is reported:
//!    `throttle_depth_multiple` times the depth, see [`throttle_notional`]), except for a
//!    bankrupt account (equity <= 0), which may always be closed so that its loss stops growing.
//! 4. The liquidator takes the size over at the oracle price (rounded in A's favour) and must
//!    itself meet initial health afterwards.
//! 5. Penalty: `penalty_fraction` of the closed notional, capped at `released * equity /
//!    requirement` (maintenance terms), so the health ratio equity/requirement never falls;
//!    split `liquidator_share` to the liquidator, the rest to the insurance fund.
//! 6. A bankrupt account pays no penalty. Before its position in M closes, M's part of its
//!    deficit is covered ([`crate::bankruptcy::cover_deficit`]): the deficit pro rata to A's
//!    notional in M among all its markets (all of it in A's last market), from the insurance
//!    fund first, the rest as a social loss in M (so that over A's calls the loss is shared pro
//!    rata to A's notional per market; if nobody else holds M, over A's other markets), paid by
//!    all positions but A's (the liquidator takes its chunk at the index after the loss, so it
//!    pays nothing for closing A). Only the realized deficit is covered: collateral plus
//!    perp value, never an options book's mark, which stays a liability on the books. Covering
//!    only what closes leaves A no covered loss to gamble with. The liquidator earns a keeper
//!    reward from the insurance fund when a realized deficit is covered
//!    (`bankrupt_reward_fraction` of the notional, at most `bankrupt_reward_max`, at most what
//!    the fund holds).

extern crate alloc;
use alloc::vec::Vec;

use ballast_math::Rounding;

use crate::bankruptcy::{cover_deficit, Share};
use crate::breaker::BreakerState;
use crate::config::LiquidationThrottle;
use crate::error::{RiskError, RiskResult};
use crate::health::{account_health, HealthKind};
use crate::ops::{
    add, index_of, long_part, overflow, settle, sub, trade, BankruptcyOutcome, LiquidationOutcome,
};
use crate::state::{Account, MarketCtx, MarketId};

/// Notional the throttle lets through per window: where depth terms apply, what the book
/// absorbs, `throttle_depth_multiple * depth` (thinner side, depth in use), but never less than
/// `throttle_floor_oi_fraction` of the open interest's notional, so that no depth report can
/// stop liquidations; otherwise the configured `throttle_notional`.
pub fn throttle_notional(ctx: &MarketCtx) -> RiskResult<i128> {
    let liquidity = &ctx.config.liquidity;
    match ctx
        .state
        .depth
        .both_sides(liquidity, crate::liquidity::Use::Keep)?
    {
        Some(depth) => {
            let open_interest = ctx.config.decimals.quote_value(
                ctx.state.open_interest,
                ctx.prices.oracle,
                Rounding::Ceil,
            )?;
            let floor = liquidity
                .throttle_floor_oi_fraction
                .mul_amount(open_interest, Rounding::Ceil)?;
            Ok(liquidity
                .throttle_depth_multiple
                .mul_amount(depth, Rounding::Floor)?
                .max(floor)
                .max(1))
        }
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
    match ctx.state.breaker.state {
        BreakerState::Settled => return Err(RiskError::MarketSettled),
        BreakerState::Paused => return Err(RiskError::MarketHalted),
        _ if !ctx.prices.liquidation_valid => return Err(RiskError::MarketHalted),
        _ => {}
    }
    let size = liquidatee.size(market);
    if size == 0 {
        return Err(RiskError::NoPosition);
    }
    let before = account_health(liquidatee, markets, HealthKind::Maintenance, None)?;
    if before.surplus()? >= 0 {
        return Err(RiskError::NotLiquidatable);
    }
    let bankrupt = before.equity <= 0;
    let config = ctx.config.clone();
    let oracle = ctx.prices.oracle;
    let now_ms = ctx.now_ms;
    let decimals = config.decimals;
    let params = config.liquidation;
    let abs_size = size.checked_abs().ok_or_else(overflow)?;
    let sign: i128 = if size > 0 { -1 } else { 1 };

    // Work on copies; commit at the end.
    let mut work: Vec<MarketCtx> = markets.to_vec();
    let (mut a, mut l) = (liquidatee.clone(), liquidator.clone());
    let mut fund = *insurance_fund;
    // The realized deficit: minus the equity without the options book's (negative) mark.
    let book_mark = a
        .options
        .as_ref()
        .map_or(0, crate::greeks::equity_contribution);
    let deficit = sub(book_mark, before.equity)?;
    let bankruptcy = if bankrupt && deficit > 0 {
        // The deficit is only as real as the prices it is measured at.
        crate::ops::require_priced(liquidatee, markets)?;
        Some(cover_bankrupt(
            &mut work, &mut a, market, deficit, &mut fund,
        )?)
    } else {
        None
    };
    let work_ctx = work.get(index).ok_or(RiskError::UnknownMarket)?.clone();
    let mut state = work_ctx.state.clone();
    settle(&mut a, &work_ctx, &mut state)?;
    settle(&mut l, &work_ctx, &mut state)?;
    let base = match a.positions.iter_mut().find(|(id, _)| *id == market) {
        Some((_, p)) => {
            p.liquidation_base = p.liquidation_base.max(abs_size);
            p.liquidation_base
        }
        None => abs_size,
    };
    a.being_liquidated = true;

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
        account_health(&trial, &work, HealthKind::LiquidationEnd, None)?.surplus()
    };

    let chunk = params
        .chunk_fraction
        .mul_amount(base, Rounding::Ceil)?
        .clamp(1, abs_size);
    let mut closed = if bankrupt { abs_size } else { chunk };
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

    // Throttle (the window and its use are kept either way, so that turning it on through
    // governance starts from what was liquidated).
    if now_ms.saturating_sub(state.throttle_window_start_ms) >= params.throttle_window_ms {
        state.throttle_window_start_ms = now_ms;
        state.throttle_used = 0;
    }
    let capacity = sub(throttle_notional(&work_ctx)?, state.throttle_used)?.max(0);
    let throttled = params.throttle == LiquidationThrottle::On && !bankrupt;
    if throttled && decimals.quote_value(closed, oracle, Rounding::Ceil)? > capacity {
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

    // Penalty, capped so that the maintenance health ratio cannot fall; a bankrupt account
    // pays none and its liquidator is rewarded from the insurance fund instead.
    let (penalty, to_liquidator, to_insurance) = if bankrupt {
        // Rewarded only for closing a realized deficit: an account underwater through an
        // options mark alone (perp equity positive) earns its keeper nothing from the fund.
        let rewarded = if bankruptcy.is_some() { notional } else { 0 };
        let reward = params
            .bankrupt_reward_fraction
            .mul_amount(rewarded, Rounding::Floor)?
            .min(params.bankrupt_reward_max)
            .min(fund)
            .max(0);
        fund = sub(fund, reward)?;
        (0, reward, 0)
    } else {
        let mut probe = a.clone();
        probe.realize_closed()?;
        let after = account_health(&probe, &work, HealthKind::Maintenance, None)?;
        let released = sub(before.requirement, after.requirement)?.max(0);
        let cap = ballast_math::mul_div_i128(
            released,
            before.equity,
            before.requirement,
            Rounding::Floor,
        )?;
        let penalty = penalty_for(closed)?.min(cap).max(0);
        let to_liquidator = params
            .liquidator_share
            .mul_amount(penalty, Rounding::Floor)?;
        (penalty, to_liquidator, sub(penalty, to_liquidator)?)
    };
    a.collateral = sub(a.collateral, penalty)?;
    l.collateral = add(l.collateral, to_liquidator)?;
    fund = add(fund, to_insurance)?;
    a.realize_closed()?;
    l.realize_closed()?;
    let liquidator_grows = !crate::ops::is_reducing(
        liquidator.size(market),
        delta.checked_neg().ok_or_else(overflow)?,
    );
    state.throttle_used = add(state.throttle_used, notional)?;
    if let Some(target) = work.get_mut(index) {
        target.state = state;
    }
    if liquidator_grows {
        crate::ops::require_priced(&l, &work)?;
    }
    if account_health(
        &l,
        &work,
        HealthKind::Initial,
        liquidator_grows.then_some(market),
    )?
    .surplus()?
        < 0
    {
        return Err(RiskError::InsufficientMargin);
    }
    // No flat deficit can remain: a bankrupt account's last market covers all that is left of
    // its deficit before closing at the oracle price in its favour, and a solvent account's
    // penalty is capped below its equity (the sequence harness checks it after every call).
    let maintenance_after = account_health(&a, &work, HealthKind::Maintenance, None)?.surplus()?;
    if a.positions.is_empty() || maintenance_after >= 0 {
        a.clear_liquidation();
    }
    let liquidation_end_surplus =
        account_health(&a, &work, HealthKind::LiquidationEnd, None)?.surplus()?;
    *liquidatee = a;
    *liquidator = l;
    *insurance_fund = fund;
    markets.clone_from_slice(&work);
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

/// Covers `market`'s part of a bankrupt account's realized `deficit` (on working copies): the
/// deficit pro rata to the account's notional in `market` among all its markets, shared over
/// those markets pro rata to the same notionals.
fn cover_bankrupt(
    work: &mut [MarketCtx],
    a: &mut Account,
    market: MarketId,
    deficit: i128,
    fund: &mut i128,
) -> RiskResult<BankruptcyOutcome> {
    let mut shares = Vec::with_capacity(a.positions.len());
    for (id, p) in &a.positions {
        let ctx = crate::health::find(work, *id)?;
        let weight = ctx.config.decimals.quote_value(
            p.size.checked_abs().ok_or_else(overflow)?,
            ctx.prices.oracle,
            Rounding::Ceil,
        )?;
        shares.push(Share {
            market: *id,
            weight,
        });
    }
    let total = shares
        .iter()
        .try_fold(0i128, |t, s| t.checked_add(s.weight))
        .ok_or_else(overflow)?;
    let here = shares
        .iter()
        .find(|s| s.market == market)
        .map_or(0, |s| s.weight);
    let part =
        ballast_math::mul_div_i128(deficit, here, total.max(1), Rounding::Ceil)?.min(deficit);
    // The part goes to the market it belongs to; only if nobody else holds a position there
    // does it pass to the account's other markets, pro rata.
    // (`cover_deficit` refuses `DeficitUnresolved` before it writes anything.)
    let own = [Share { market, weight: 1 }];
    let outcome = match cover_deficit(work, &own, a, part, fund) {
        Err(RiskError::DeficitUnresolved) => cover_deficit(work, &shares, a, part, fund)?,
        other => other?,
    };
    a.collateral = add(a.collateral, part)?;
    Ok(outcome)
}
