//! Account health: equity against the initial, maintenance and liquidation-end requirements,
//! cross-margined over every market the account holds. One function serves the engine
//! contract, the simulator, the property tests and off-chain tools (as Mango's health module
//! does), so nothing is reimplemented elsewhere.
//!
//! - Equity = collateral + sum over positions of (quote + value(size) - pending payments).
//! - Initial health values each position at the less favourable of oracle and dampened price
//!   (longs at the lower, shorts at the higher); maintenance and liquidation end use the oracle.
//! - Requirements come from [`crate::margin::requirements`] with the applied (ramped) volatility
//!   terms and, while a governance change ramps, the blend of old and new params. A position
//!   being opened or grown faces the full target initial requirement instead.

extern crate alloc;

use ballast_math::{Fixed, MathError, Rounding};

use crate::error::{RiskError, RiskResult};
use crate::margin::{requirements, Requirements, VolFractions};
use crate::ramp::{blend, blend_weight};
use crate::state::{Account, MarketCtx, MarketId};

/// Which requirement health is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthKind {
    /// Opening risk and withdrawals.
    Initial,
    /// Liquidation threshold.
    Maintenance,
    /// Where liquidation stops.
    LiquidationEnd,
}

/// Equity and requirement, quote base units.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    parity_scale_codec::Encode,
    parity_scale_codec::Decode,
    scale_info::TypeInfo,
)]
pub struct Health {
    /// Collateral plus unrealized PnL net of pending funding and social losses.
    pub equity: i128,
    /// Sum of the positions' requirements of the chosen kind.
    pub requirement: i128,
}

impl Health {
    /// `equity - requirement` (negative: requirement not met).
    pub fn surplus(&self) -> RiskResult<i128> {
        Ok(self
            .equity
            .checked_sub(self.requirement)
            .ok_or(MathError::Overflow)?)
    }

    /// `equity / requirement`, or `None` without requirement (no positions).
    pub fn ratio(&self) -> RiskResult<Option<Fixed>> {
        if self.requirement <= 0 {
            return Ok(None);
        }
        Ok(Some(Fixed::from_ratio(self.equity, self.requirement)?))
    }
}

/// The market context for an id among those supplied.
pub fn find(markets: &[MarketCtx], id: MarketId) -> RiskResult<&MarketCtx> {
    markets
        .iter()
        .find(|m| m.id == id)
        .ok_or(RiskError::UnknownMarket)
}

/// Price at which a position of `size` is valued for `kind`.
pub fn valuation_price(ctx: &MarketCtx, size: i128, kind: HealthKind) -> Fixed {
    let p = ctx.prices;
    match kind {
        HealthKind::Initial if size >= 0 => p.oracle.min(p.dampened),
        HealthKind::Initial => p.oracle.max(p.dampened),
        _ => p.oracle,
    }
}

/// Requirements of a position with `notional` (quote base units) in this market now.
/// `opening`: the position is being opened or grown, so it faces the full target initial term.
pub fn position_requirements(
    ctx: &MarketCtx,
    notional: i128,
    opening: bool,
) -> RiskResult<Requirements> {
    let state = &ctx.state;
    let decimals = ctx.config.decimals;
    let oi_notional =
        decimals.quote_value(state.open_interest, ctx.prices.oracle, Rounding::Ceil)?;
    let vol = if opening {
        VolFractions {
            initial: state.applied.initial.max(state.target.initial),
            maintenance: state.applied.maintenance,
        }
    } else {
        state.applied
    };
    let new = requirements(
        &ctx.config.margin,
        decimals.quote,
        notional,
        oi_notional,
        vol,
    )?;
    let Some(old_params) = &state.previous_params else {
        return Ok(new);
    };
    let weight = blend_weight(
        ctx.now_ms.saturating_sub(state.params_changed_ms),
        ctx.config.ramps.params_ramp_ms,
    )?;
    let old = requirements(old_params, decimals.quote, notional, oi_notional, vol)?;
    let blended_initial = blend(old.initial, new.initial, weight)?;
    Ok(Requirements {
        initial: if opening {
            blended_initial.max(new.initial)
        } else {
            blended_initial
        },
        maintenance: blend(old.maintenance, new.maintenance, weight)?,
        liquidation_end: blend(old.liquidation_end, new.liquidation_end, weight)?,
    })
}

/// Health of an account of the given kind. `opening`: the market whose position is being opened
/// or grown by the operation being checked.
pub fn account_health(
    account: &Account,
    markets: &[MarketCtx],
    kind: HealthKind,
    opening: Option<MarketId>,
) -> RiskResult<Health> {
    let mut equity = account.collateral;
    let mut requirement = 0i128;
    for (id, position) in &account.positions {
        let ctx = find(markets, *id)?;
        let price = valuation_price(ctx, position.size, kind);
        let decimals = ctx.config.decimals;
        let value = decimals.quote_value(position.size, price, Rounding::Floor)?;
        let pending = position.pending_payment(ctx)?;
        equity = equity
            .checked_add(position.quote)
            .and_then(|e| e.checked_add(value))
            .and_then(|e| e.checked_sub(pending))
            .ok_or(MathError::Overflow)?;
        let abs_size = position.size.checked_abs().ok_or(MathError::Overflow)?;
        let notional = decimals.quote_value(abs_size, price, Rounding::Ceil)?;
        let r = position_requirements(ctx, notional, opening == Some(*id))?;
        let picked = match kind {
            HealthKind::Initial => r.initial,
            HealthKind::Maintenance => r.maintenance,
            HealthKind::LiquidationEnd => r.liquidation_end,
        };
        requirement = requirement.checked_add(picked).ok_or(MathError::Overflow)?;
    }
    Ok(Health {
        equity,
        requirement,
    })
}

/// The oracle price of `market` at which the account's maintenance health reaches zero, all
/// other prices held, or `None` when no price in (0, 1000x current] gets there (a fully
/// collateralized position, or none). Bisection on the raw price: the result is the boundary
/// to within one unit of the last place (for a long: the highest price that is liquidatable;
/// for a short: the lowest).
pub fn liquidation_price(
    account: &Account,
    markets: &[MarketCtx],
    market: MarketId,
) -> RiskResult<Option<Fixed>> {
    let size = account.size(market);
    if size == 0 {
        return Ok(None);
    }
    let index = markets
        .iter()
        .position(|m| m.id == market)
        .ok_or(RiskError::UnknownMarket)?;
    let current = find(markets, market)?.prices.oracle;
    let mut trial: alloc::vec::Vec<MarketCtx> = markets.to_vec();
    let mut liquidatable_at = |price: Fixed| -> RiskResult<bool> {
        if let Some(ctx) = trial.get_mut(index) {
            ctx.prices.oracle = price;
            ctx.prices.dampened = price;
        }
        Ok(account_health(account, &trial, HealthKind::Maintenance, None)?.surplus()? < 0)
    };
    // Longs lose as the price falls: search (0, current]; shorts as it rises: [current, 1000x].
    let (mut safe, mut unsafe_) = if size > 0 {
        (current, Fixed::DELTA)
    } else {
        (current, current.checked_mul_int(1000)?)
    };
    if liquidatable_at(safe)? {
        return Ok(Some(current));
    }
    if !liquidatable_at(unsafe_)? {
        return Ok(None);
    }
    while safe.to_bits().abs_diff(unsafe_.to_bits()) > 1 {
        let mid = Fixed::from_bits(
            safe.to_bits()
                .checked_add(unsafe_.to_bits())
                .ok_or(MathError::Overflow)?
                >> 1,
        );
        if liquidatable_at(mid)? {
            unsafe_ = mid;
        } else {
            safe = mid;
        }
    }
    Ok(Some(unsafe_))
}
