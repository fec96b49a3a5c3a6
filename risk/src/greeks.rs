//! Greeks-aware margin for options books that venues report per account.
//!
//! An options venue reports, per account and expiry bucket, cash Greeks (delta in base units,
//! gamma as the P&L of a relative move `r` being `gamma * r^2 / 2`, vega per 1.0 of implied
//! vol), the implied vol and the expiry, plus its own initial and maintenance margin for those
//! options, the book's mark value and its P&L since the previous report.
//!
//! ```text
//! h        = max(floor, vol term)  floor = min initial fraction (initial) or the first tier's
//!                                  maintenance fraction (maintenance); vol term = z sigma
//!                                  sqrt(H / 8760), ramped, the same as a perp's
//! shock_b  = vol_of_vol * (z / z_I) * iv_b * (30 / max(DTE_b, 1))^p,  p = 0.3 to 30 days, 0.13 beyond
//! pnl_b    = delta_b S r + gamma_b r^2 / 2 + vega_b k shock_b,  r in {0, ±h/3, ±2h/3, ±h}, k in {-1, 0, 1}
//! netted   = max over scenarios of -(sum_b pnl_b)               (full offset between expiries)
//! gross    = sum_b max over scenarios of -pnl_b                 (no offset)
//! grid     = netted + (1 - offset_credit) (gross - netted)      (partial credit for offsets)
//! tail     = tail_weight * loss at r = ±tail_multiple h, k = +1, when net gamma is short
//! scenario = max(grid, tail)
//! required = max(scenario, venue's own margin)                  (Greeks add margin, never remove it)
//! fallback = sum_b |delta_b| S h + |gamma_b| (tail_multiple h)^2 / 2 + |vega_b| shock_b
//! ```
//!
//! A delta-only book is charged exactly what a perp of the same notional is charged by the
//! volatility and floor terms. Greeks older than `max_age_ms`, or whose P&L the previous Greeks
//! fail to explain, are charged `fallback` (bucket by bucket, no offsets, every gamma at the
//! tail move) until a fresh, explained report arrives.
//!
//! Budgets, checked when a report grows the book's risk: the loss of net short gamma over the
//! horizon move, `max(0, -sum gamma) h^2 / 2`, at most `gamma_budget * equity` (so the short
//! gamma allowed falls as `1 / sigma^2`), and the vega loss in the vol shock (netted with the
//! same partial credit) at most `vega_budget * equity`. A report that lowers the requirement,
//! the short-gamma loss, the vega loss and the venue's margin always passes.

extern crate alloc;
use alloc::vec::Vec;

use ballast_math::{Fixed, MathError, Rounding};
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::config::OptionsParams;
use crate::error::{RiskError, RiskResult};
use crate::margin::Requirements;
use crate::state::{MarketCtx, MarketId};

/// Most expiry buckets in one book.
pub const MAX_EXPIRIES: usize = 4;
/// Largest magnitude of a reported Greek, margin or value (10^30 base or quote units).
pub const MAX_MAGNITUDE: i128 = 1_000_000_000_000_000_000_000_000_000_000;
/// Largest implied vol accepted (1000%).
pub const MAX_IMPLIED_VOL: Fixed = Fixed::from_int(10);
const DAY_MS: i128 = 86_400_000;
/// Scenario price moves as thirds of the horizon move.
const GRID_THIRDS: [i128; 7] = [-3, -2, -1, 0, 1, 2, 3];
const VOL_STEPS: [i128; 3] = [-1, 0, 1];

/// Greeks of one expiry bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ExpiryGreeks {
    /// Expiry, ms.
    pub expiry_ms: u64,
    /// Delta, base units of the underlying (signed, + long).
    pub delta: i128,
    /// Cash gamma, quote base units: a relative move `r` earns `gamma * r^2 / 2`.
    pub gamma: i128,
    /// Vega, quote base units per 1.0 (100 points) of implied vol.
    pub vega: i128,
    /// Implied vol of the bucket, annualized.
    pub implied_vol: Fixed,
}

/// What an options venue reports for one account.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct OptionsReport {
    /// The perp market of the underlying (its price and volatility are used).
    pub market: MarketId,
    /// Expiry buckets, expiries strictly increasing (at most [`MAX_EXPIRIES`]).
    pub buckets: Vec<ExpiryGreeks>,
    /// The venue's own initial margin for these options, quote base units.
    pub venue_initial: i128,
    /// The venue's own maintenance margin, at most its initial margin.
    pub venue_maintenance: i128,
    /// Mark value of the book, quote base units (signed; only a negative value, a liability,
    /// counts in the account's equity).
    pub mark_value: i128,
    /// P&L of the previously reported book since that report, quote base units.
    pub pnl: i128,
    /// When the venue computed the Greeks, ms.
    pub timestamp_ms: u64,
    /// The report follows an options trade of the account, so a book whose risk grows is
    /// checked against the budgets and initial health. `false`: a re-mark of a book the
    /// account did not trade, which those checks never refuse (Greeks drift with time and
    /// volatility; refusing a re-mark would only leave the engine with older Greeks).
    pub trade: bool,
}

/// A report as held by the core: with the price it was taken at and whether it is trusted.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct OptionsBook {
    /// The report.
    pub report: OptionsReport,
    /// Oracle price when it was taken in.
    pub spot: Fixed,
    /// False when its P&L was not explained by the previous Greeks.
    pub trusted: bool,
    /// Initial scenario requirement when it was taken in (scale of the next explanation check).
    pub requirement_at_report: i128,
}

ballast_math::impl_leaf_layout!(ExpiryGreeks, OptionsReport, OptionsBook);

/// Which requirement a scenario set serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Initial (`opening`: the book is growing, so the target vol term applies).
    Initial {
        /// Growing the book.
        opening: bool,
    },
    /// Maintenance.
    Maintenance,
}

/// The horizon move and vol shocks a book is evaluated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stress {
    /// Relative price move over the liquidation horizon.
    pub price_move: Fixed,
    /// Scale of the vol shocks (1 for initial, z_M / z_I for maintenance).
    pub vol_scale: Fixed,
    /// Oracle price.
    pub spot: Fixed,
    /// Now, ms.
    pub now_ms: u64,
}

impl Stress {
    /// The stress of `level` in a market now.
    pub fn of(ctx: &MarketCtx, level: Level) -> RiskResult<Stress> {
        let margin = &ctx.config.margin;
        let state = &ctx.state;
        let (price_move, vol_scale) = match level {
            Level::Initial { opening } => {
                let vol = if opening {
                    state.opening_initial()
                } else {
                    state.applied.initial
                };
                (vol.max(margin.min_initial_fraction), Fixed::ONE)
            }
            Level::Maintenance => (
                state
                    .applied
                    .maintenance
                    .max(margin.min_maintenance_fraction()),
                margin
                    .maintenance_quantile
                    .checked_div(margin.initial_quantile)?,
            ),
        };
        Ok(Stress {
            price_move,
            vol_scale,
            spot: ctx.prices.oracle,
            now_ms: ctx.now_ms,
        })
    }
}

fn overflow() -> RiskError {
    RiskError::Math(MathError::Overflow)
}

fn add(a: i128, b: i128) -> RiskResult<i128> {
    a.checked_add(b).ok_or_else(overflow)
}

/// The vol shock of a bucket (absolute vol points as a fraction): `vol_of_vol * vol_scale * iv *
/// (30 / max(DTE, 1))^p`.
pub fn vol_shock(
    params: &OptionsParams,
    bucket: &ExpiryGreeks,
    stress: &Stress,
) -> RiskResult<Fixed> {
    let remaining = i128::from(bucket.expiry_ms.saturating_sub(stress.now_ms));
    let days = Fixed::from_ratio(remaining, DAY_MS)?.max(Fixed::ONE);
    let thirty = Fixed::from_int(30);
    let exponent = if days <= thirty {
        params.short_dte_exponent
    } else {
        params.long_dte_exponent
    };
    let term = exponent
        .checked_mul(thirty.checked_div(days)?.ln()?)?
        .exp()?;
    Ok(params
        .vol_of_vol
        .checked_mul(stress.vol_scale)?
        .checked_mul(bucket.implied_vol)?
        .checked_mul(term)?)
}

/// P&L of a bucket for a relative price move `r` and vol move `dvol`, rounded down.
fn bucket_pnl(bucket: &ExpiryGreeks, cash_delta: i128, r: Fixed, dvol: Fixed) -> RiskResult<i128> {
    let half_r2 = r.checked_mul(r)?.div_int(2, Rounding::Nearest)?;
    let from_delta = r.mul_amount(cash_delta, Rounding::Floor)?;
    let from_gamma = half_r2.mul_amount(bucket.gamma, Rounding::Floor)?;
    let from_vega = dvol.mul_amount(bucket.vega, Rounding::Floor)?;
    add(add(from_delta, from_gamma)?, from_vega)
}

/// Precomputed per-bucket inputs.
struct Inputs {
    cash_delta: Vec<i128>,
    shock: Vec<Fixed>,
}

fn inputs(
    params: &OptionsParams,
    report: &OptionsReport,
    stress: &Stress,
    decimals: ballast_math::Decimals,
) -> RiskResult<Inputs> {
    let mut cash_delta = Vec::with_capacity(report.buckets.len());
    let mut shock = Vec::with_capacity(report.buckets.len());
    for b in &report.buckets {
        cash_delta.push(decimals.quote_value(b.delta, stress.spot, Rounding::Floor)?);
        shock.push(vol_shock(params, b, stress)?);
    }
    Ok(Inputs { cash_delta, shock })
}

fn scale(amount: i128, fraction: Fixed) -> RiskResult<i128> {
    Ok(fraction.mul_amount(amount, Rounding::Ceil)?)
}

/// The scenario requirement of a book (quote base units, >= 0): grid with partial offset
/// credit, and tail scenarios for net short gamma.
pub fn scenario_requirement(
    params: &OptionsParams,
    report: &OptionsReport,
    stress: &Stress,
    decimals: ballast_math::Decimals,
) -> RiskResult<i128> {
    let inp = inputs(params, report, stress, decimals)?;
    let third = stress.price_move.div_int(3, Rounding::Ceil)?;
    let mut netted = 0i128;
    let mut worst_per_bucket: Vec<i128> = alloc::vec![0; report.buckets.len()];
    for thirds in GRID_THIRDS {
        let r = third.checked_mul_int(thirds)?;
        for k in VOL_STEPS {
            let mut total = 0i128;
            for (i, b) in report.buckets.iter().enumerate() {
                let shock = inp.shock.get(i).copied().unwrap_or(Fixed::ZERO);
                let delta = inp.cash_delta.get(i).copied().unwrap_or(0);
                let pnl = bucket_pnl(b, delta, r, shock.checked_mul_int(k)?)?;
                total = add(total, pnl)?;
                if let Some(w) = worst_per_bucket.get_mut(i) {
                    *w = (*w).max(pnl.checked_neg().ok_or_else(overflow)?);
                }
            }
            netted = netted.max(total.checked_neg().ok_or_else(overflow)?);
        }
    }
    let mut gross = 0i128;
    for w in &worst_per_bucket {
        gross = add(gross, *w)?;
    }
    let unoffset = Fixed::ONE.checked_sub(params.offset_credit)?;
    let grid = add(
        netted,
        scale(gross.saturating_sub(netted).max(0), unoffset)?,
    )?;
    let net_gamma = report
        .buckets
        .iter()
        .try_fold(0i128, |acc, b| add(acc, b.gamma))?;
    let mut tail = 0i128;
    if net_gamma < 0 {
        let tail_move = stress.price_move.checked_mul(params.tail_multiple)?;
        for sign in [-1i128, 1] {
            let r = tail_move.checked_mul_int(sign)?;
            let mut total = 0i128;
            for (i, b) in report.buckets.iter().enumerate() {
                let shock = inp.shock.get(i).copied().unwrap_or(Fixed::ZERO);
                let delta = inp.cash_delta.get(i).copied().unwrap_or(0);
                total = add(total, bucket_pnl(b, delta, r, shock)?)?;
            }
            let loss = total.checked_neg().ok_or_else(overflow)?.max(0);
            tail = tail.max(scale(loss, params.tail_weight)?);
        }
    }
    Ok(grid.max(tail))
}

/// The conservative per-position charge: every bucket alone, every gamma at the tail move,
/// every vega at its shock, no offsets.
pub fn fallback_requirement(
    params: &OptionsParams,
    report: &OptionsReport,
    stress: &Stress,
    decimals: ballast_math::Decimals,
) -> RiskResult<i128> {
    let inp = inputs(params, report, stress, decimals)?;
    let tail_move = stress.price_move.checked_mul(params.tail_multiple)?;
    let half_tail2 = tail_move
        .checked_mul(tail_move)?
        .div_int(2, Rounding::Ceil)?;
    let mut total = 0i128;
    for (i, b) in report.buckets.iter().enumerate() {
        let abs = |v: i128| v.checked_abs().ok_or_else(overflow);
        let delta = abs(inp.cash_delta.get(i).copied().unwrap_or(0))?;
        let shock = inp.shock.get(i).copied().unwrap_or(Fixed::ZERO);
        total = add(total, scale(delta, stress.price_move)?)?;
        total = add(total, scale(abs(b.gamma)?, half_tail2)?)?;
        total = add(total, scale(abs(b.vega)?, shock)?)?;
    }
    Ok(total)
}

/// Loss from net short gamma over the horizon move: `max(0, -sum gamma) * h^2 / 2`.
pub fn gamma_loss(report: &OptionsReport, stress: &Stress) -> RiskResult<i128> {
    let net = report
        .buckets
        .iter()
        .try_fold(0i128, |acc, b| add(acc, b.gamma))?;
    if net >= 0 {
        return Ok(0);
    }
    let half_h2 = stress
        .price_move
        .checked_mul(stress.price_move)?
        .div_int(2, Rounding::Ceil)?;
    scale(net.checked_neg().ok_or_else(overflow)?, half_h2)
}

/// Loss from the vol shock on vega, netted across expiries with the same partial credit as
/// the grid: `|sum vega_b shock_b| + (1 - credit) (sum |vega_b| shock_b - |sum ...|)`.
pub fn vega_loss(
    params: &OptionsParams,
    report: &OptionsReport,
    stress: &Stress,
) -> RiskResult<i128> {
    let mut net = 0i128;
    let mut gross = 0i128;
    for b in &report.buckets {
        let shock = vol_shock(params, b, stress)?;
        let loss = shock.mul_amount(b.vega, Rounding::Floor)?;
        net = add(net, loss)?;
        gross = add(
            gross,
            scale(b.vega.checked_abs().ok_or_else(overflow)?, shock)?,
        )?;
    }
    let net = net.checked_abs().ok_or_else(overflow)?;
    let unoffset = Fixed::ONE.checked_sub(params.offset_credit)?;
    add(net, scale(gross.saturating_sub(net).max(0), unoffset)?)
}

/// The largest net short cash gamma the gamma budget allows at `equity`: `2 b E / h^2`.
pub fn gamma_cap(params: &OptionsParams, equity: i128, stress: &Stress) -> RiskResult<i128> {
    if equity <= 0 {
        return Ok(0);
    }
    let h2 = stress.price_move.checked_mul(stress.price_move)?;
    let budget = params.gamma_budget.mul_amount(equity, Rounding::Floor)?;
    Ok(Fixed::from_int(2)
        .checked_div(h2)?
        .mul_amount(budget, Rounding::Floor)?)
}

/// The largest |vega| of a single bucket with vol shock `shock` the vega budget allows:
/// `b E / shock`.
pub fn vega_cap(params: &OptionsParams, equity: i128, shock: Fixed) -> RiskResult<i128> {
    if equity <= 0 || !shock.is_positive() {
        return Ok(0);
    }
    let budget = params.vega_budget.mul_amount(equity, Rounding::Floor)?;
    Ok(Fixed::ONE
        .checked_div(shock)?
        .mul_amount(budget, Rounding::Floor)?)
}

/// Whether both budgets hold for `report` at `equity`; the error names the first one broken.
pub fn check_budgets(
    params: &OptionsParams,
    report: &OptionsReport,
    stress: &Stress,
    equity: i128,
) -> RiskResult<()> {
    let gamma = gamma_loss(report, stress)?;
    let vega = vega_loss(params, report, stress)?;
    let room = |budget: Fixed| -> RiskResult<i128> {
        Ok(budget.mul_amount(equity.max(0), Rounding::Floor)?)
    };
    if gamma > room(params.gamma_budget)? {
        return Err(RiskError::GammaBudget);
    }
    if vega > room(params.vega_budget)? {
        return Err(RiskError::VegaBudget);
    }
    Ok(())
}

/// Whether the reported P&L is what the previous Greeks predict for the price move from
/// `previous.spot` to `spot` and each bucket's implied-vol change, within `explain_tolerance` of
/// the previous requirement plus `explain_floor`.
pub fn explains(
    params: &OptionsParams,
    previous: &OptionsBook,
    next: &OptionsReport,
    spot: Fixed,
    decimals: ballast_math::Decimals,
) -> RiskResult<bool> {
    if previous.report.market != next.market || !previous.spot.is_positive() {
        return Ok(true);
    }
    let r = spot.checked_div(previous.spot)?.checked_sub(Fixed::ONE)?;
    let mut predicted = 0i128;
    for b in &previous.report.buckets {
        let dvol = next
            .buckets
            .iter()
            .find(|n| n.expiry_ms == b.expiry_ms)
            .map(|n| n.implied_vol.checked_sub(b.implied_vol))
            .transpose()?
            .unwrap_or(Fixed::ZERO);
        let cash_delta = decimals.quote_value(b.delta, previous.spot, Rounding::Floor)?;
        predicted = add(predicted, bucket_pnl(b, cash_delta, r, dvol)?)?;
    }
    let miss = next
        .pnl
        .checked_sub(predicted)
        .and_then(i128::checked_abs)
        .ok_or_else(overflow)?;
    let tolerance = add(
        scale(previous.requirement_at_report, params.explain_tolerance)?,
        params.explain_floor,
    )?;
    Ok(miss <= tolerance)
}

/// Checks a report's shape: buckets, order, magnitudes, margins, time.
pub fn validate(report: &OptionsReport, now_ms: u64) -> RiskResult<()> {
    let bad = Err(RiskError::InvalidReport);
    let within = |v: i128| v.checked_abs().is_some_and(|a| a <= MAX_MAGNITUDE);
    if report.buckets.len() > MAX_EXPIRIES
        || report.timestamp_ms > now_ms
        || report.venue_maintenance < 0
        || report.venue_maintenance > report.venue_initial
        || !within(report.venue_initial)
        || !within(report.mark_value)
        || !within(report.pnl)
    {
        return bad;
    }
    let mut last_expiry = 0u64;
    for b in &report.buckets {
        if b.expiry_ms <= last_expiry
            || !b.implied_vol.is_positive()
            || b.implied_vol > MAX_IMPLIED_VOL
            || !within(b.delta)
            || !within(b.gamma)
            || !within(b.vega)
        {
            return bad;
        }
        last_expiry = b.expiry_ms;
    }
    Ok(())
}

/// Requirements of a held book in its market now: scenario (or the fallback when stale or
/// distrusted) against the venue's own margin, with the liquidation end between them.
pub fn book_requirements(
    book: &OptionsBook,
    ctx: &MarketCtx,
    opening: bool,
    liquidation_end_weight: Fixed,
) -> RiskResult<Requirements> {
    let params = &ctx.config.options;
    let decimals = ctx.config.decimals;
    let fresh = ctx.now_ms.saturating_sub(book.report.timestamp_ms) <= params.max_age_ms;
    let charge = |level: Level| -> RiskResult<i128> {
        let stress = Stress::of(ctx, level)?;
        if book.trusted && fresh {
            scenario_requirement(params, &book.report, &stress, decimals)
        } else {
            fallback_requirement(params, &book.report, &stress, decimals)
        }
    };
    let initial = charge(Level::Initial { opening })?.max(book.report.venue_initial);
    let maintenance = charge(Level::Maintenance)?
        .max(book.report.venue_maintenance)
        .min(initial);
    let spread = initial.saturating_sub(maintenance);
    let liquidation_end = add(
        maintenance,
        liquidation_end_weight.mul_amount(spread, Rounding::Ceil)?,
    )?
    .min(initial);
    Ok(Requirements {
        initial,
        maintenance,
        liquidation_end,
    })
}

/// What a book adds to equity: its mark value when negative (a liability); a positive value
/// stays with the venue and is never collateral here.
pub fn equity_contribution(book: &OptionsBook) -> i128 {
    book.report.mark_value.min(0)
}
