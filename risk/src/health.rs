//! Account health: equity against the initial, maintenance and liquidation-end requirements,
//! cross-margined over every market the account holds. One function serves the engine
//! contract, the simulator, the property tests and off-chain tools (as Mango's health module
//! does), so nothing is reimplemented elsewhere.
//!
//! - Equity = collateral + sum over positions of (quote + value(size) - pending payments).
//! - Initial health values each position at the less favourable of oracle and dampened price
//!   (longs at the lower, shorts at the higher); maintenance and liquidation end use the oracle.
//! - Requirements come from [`crate::margin::requirements`] with the applied (ramped) volatility
//!   terms. A position being opened or grown faces the full target initial requirement instead.
//! - Where depth is in use, each position adds the liquidity charge of closing it
//!   ([`liquidity_charges`]) and the open-interest caps come down with depth.
//! - While a governance change blends in, every requirement (a position's margin and liquidity
//!   terms, an options book's) is the blend of what the old configuration (with its own
//!   volatility terms, ramping under it) and the new one require ([`held_requirements`]).
//! - An options book adds its Greeks-aware requirement ([`crate::greeks`]) and its mark value
//!   when negative.

extern crate alloc;

use ballast_math::{Fixed, MathError, Rounding};

use crate::error::{RiskError, RiskResult};
use crate::greeks::{book_requirements, equity_contribution};
use crate::liquidity::{charge, oi_caps, CloseSide, Use};
use crate::margin::{requirements_with_caps, Requirements, VolFractions};
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

/// Requirements of a position with `notional` (quote base units) in this market now, from the
/// margin params alone (no liquidity charge; see [`held_requirements`] for everything).
/// `opening`: the position is being opened or grown, so it faces the full target initial term.
pub fn position_requirements(
    ctx: &MarketCtx,
    notional: i128,
    opening: bool,
) -> RiskResult<Requirements> {
    blended(ctx, opening, |c| margin_requirements(c, notional, opening))
}

/// Everything a position of `notional` closing into `side` requires now: the margin terms plus
/// the liquidity charge, and while a governance change blends in, the blend of what the old
/// configuration (with its own volatility terms, ramping under it since the change applied)
/// and the new one require (see [`crate::governance`]).
pub fn held_requirements(
    ctx: &MarketCtx,
    notional: i128,
    side: CloseSide,
    opening: bool,
) -> RiskResult<Requirements> {
    blended(ctx, opening, |c| {
        let r = margin_requirements(c, notional, opening)?;
        Ok(match liquidity_charges(c, notional, side)? {
            Some(charge) => r.plus(&charge)?,
            None => r,
        })
    })
}

/// `under(ctx)` for the configuration in force, blended with `under` of the market as it was
/// under the previous configuration while a governance change blends in. Opening never faces
/// less than the new terms.
fn blended(
    ctx: &MarketCtx,
    opening: bool,
    under: impl Fn(&MarketCtx) -> RiskResult<Requirements>,
) -> RiskResult<Requirements> {
    let new = under(ctx)?;
    let Some(previous) = &ctx.state.previous_terms else {
        return Ok(new);
    };
    let weight = blend_weight(
        ctx.now_ms.saturating_sub(ctx.state.params_changed_ms),
        previous.ramp_ms,
    )?;
    if weight == Fixed::ONE {
        return Ok(new);
    }
    let mut before = ctx.clone();
    before.config = previous.config.clone();
    before.state.applied = previous.vol;
    before.state.target = previous.vol;
    before.state.previous_terms = None;
    let old = under(&before)?;
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

fn margin_requirements(ctx: &MarketCtx, notional: i128, opening: bool) -> RiskResult<Requirements> {
    let state = &ctx.state;
    let decimals = ctx.config.decimals;
    let oi_notional =
        decimals.quote_value(state.open_interest, ctx.prices.oracle, Rounding::Ceil)?;
    let vol = if opening {
        VolFractions {
            initial: state.opening_initial(),
            maintenance: state.applied.maintenance,
        }
    } else {
        state.applied
    };
    let liquidity = &ctx.config.liquidity;
    let params = &ctx.config.margin;
    let depth = state.depth.both_sides(liquidity, Use::Keep)?;
    requirements_with_caps(
        params,
        decimals.quote,
        notional,
        oi_notional,
        vol,
        oi_caps(liquidity, (params.oi_lower_cap, params.oi_upper_cap), depth)?,
    )
}

/// The liquidity charges of a position of `notional` closing into `side` (`None` when the
/// market has no depth terms): maintenance at the depth in use, initial at the cautious one,
/// the liquidation end between them. See [`crate::liquidity`].
pub fn liquidity_charges(
    ctx: &MarketCtx,
    notional: i128,
    side: CloseSide,
) -> RiskResult<Option<Requirements>> {
    let params = &ctx.config.liquidity;
    let depth = &ctx.state.depth;
    let Some(keep) = depth.depth(params, side, Use::Keep)? else {
        return Ok(None);
    };
    let open = depth.depth(params, side, Use::Open)?.unwrap_or(keep);
    let maintenance = charge(params, notional, keep)?;
    let initial = charge(params, notional, open)?.max(maintenance);
    let spread = initial.saturating_sub(maintenance);
    let liquidation_end = maintenance
        .checked_add(
            ctx.config
                .margin
                .liquidation_end_weight
                .mul_amount(spread, Rounding::Ceil)?,
        )
        .ok_or(MathError::Overflow)?;
    Ok(Some(Requirements {
        initial,
        maintenance,
        liquidation_end,
    }))
}

fn pick(r: &Requirements, kind: HealthKind) -> i128 {
    match kind {
        HealthKind::Initial => r.initial,
        HealthKind::Maintenance => r.maintenance,
        HealthKind::LiquidationEnd => r.liquidation_end,
    }
}

/// Health of an account of the given kind. `opening`: the market whose position is being opened
/// or grown by the operation being checked.
pub fn account_health(
    account: &Account,
    markets: &[MarketCtx],
    kind: HealthKind,
    opening: Option<MarketId>,
) -> RiskResult<Health> {
    let facing = match opening {
        Some(market) => Facing::TargetIn(market),
        None => Facing::Applied,
    };
    evaluate(account, markets, kind, facing)
}

/// Initial health with every position and the options book facing the full target initial
/// requirement, as if each were being opened now: what a withdrawal must meet, since taking
/// collateral out adds risk as an opening does.
pub fn initial_health_at_target(account: &Account, markets: &[MarketCtx]) -> RiskResult<Health> {
    evaluate(
        account,
        markets,
        HealthKind::Initial,
        Facing::TargetEverywhere,
    )
}

/// Which positions face the full target initial requirement instead of the applied one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Facing {
    /// None: existing risk at the applied (ramped) terms.
    Applied,
    /// The position in this market, being opened or grown.
    TargetIn(MarketId),
    /// The options book, being grown by a report.
    TargetOptions,
    /// Everything (withdrawals).
    TargetEverywhere,
}

/// Health while an options report grows the account's book: the book faces the target
/// volatility term, as a growing perp position does.
pub fn account_health_growing_options(
    account: &Account,
    markets: &[MarketCtx],
    kind: HealthKind,
) -> RiskResult<Health> {
    evaluate(account, markets, kind, Facing::TargetOptions)
}

fn evaluate(
    account: &Account,
    markets: &[MarketCtx],
    kind: HealthKind,
    facing: Facing,
) -> RiskResult<Health> {
    let options_opening = matches!(facing, Facing::TargetOptions | Facing::TargetEverywhere);
    let mut equity = account.collateral;
    let mut requirement = 0i128;
    for (id, position) in &account.positions {
        let ctx = find(markets, *id)?;
        let settlement = ctx.state.settlement;
        let price = match settlement {
            Some(s) => s.price,
            None => valuation_price(ctx, position.size, kind),
        };
        let decimals = ctx.config.decimals;
        let value = decimals.quote_value(position.size, price, Rounding::Floor)?;
        let pending = position.pending_payment(ctx)?;
        equity = equity
            .checked_add(position.quote)
            .and_then(|e| e.checked_add(value))
            .and_then(|e| e.checked_sub(pending))
            .ok_or(MathError::Overflow)?;
        if settlement.is_some() {
            // A settled position's value is fixed: it carries no risk, only its close.
            continue;
        }
        let abs_size = position.size.checked_abs().ok_or(MathError::Overflow)?;
        let notional = decimals.quote_value(abs_size, price, Rounding::Ceil)?;
        let opening = match facing {
            Facing::TargetIn(market) => market == *id,
            Facing::TargetEverywhere => true,
            Facing::Applied | Facing::TargetOptions => false,
        };
        let r = held_requirements(ctx, notional, CloseSide::of(position.size), opening)?;
        requirement = requirement
            .checked_add(pick(&r, kind))
            .ok_or(MathError::Overflow)?;
    }
    if let Some(book) = &account.options {
        let ctx = find(markets, book.report.market)?;
        let r = blended(ctx, options_opening, |c| {
            book_requirements(
                book,
                c,
                options_opening,
                c.config.margin.liquidation_end_weight,
            )
        })?;
        equity = equity
            .checked_add(equity_contribution(book))
            .ok_or(MathError::Overflow)?;
        requirement = requirement
            .checked_add(pick(&r, kind))
            .ok_or(MathError::Overflow)?;
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
