//! Margin requirement formulas (pure functions, no state).
//!
//! For a position of notional `N` (quote base units, at the valuation price):
//!
//! ```text
//! tier_IM(N) = N * IMR_n - D^I_n,  tier_MM(N) = N * MMR_n - D^M_n        (bracket n holds N)
//! D_n        = D_{n-1} + floor_n * (rate_n - rate_{n-1}),  D_0 = 0     (continuity at edges)
//! f_size     = size_factor * sqrt(N / 10^quote_decimals)               (Drift's IMF, on notional)
//! f_oi       = oi_max_fraction * clamp((OI - lower) / (upper - lower), 0, 1)   (dYdX)
//! f_vol_I    = z_I * sigma * sqrt(H / 8760),  f_vol_M = z_M * sigma * sqrt(H / 8760)
//! IM(N)      = min(max(tier_IM(N), N * max(f_size, f_oi, f_vol_I, 1/max_lev)), N * 1/min_lev)
//! MM(N)      = min(max(tier_MM(N), N * f_vol_M), IM(N))
//! LE(N)      = MM(N) + w * (IM(N) - MM(N))
//! ```
//!
//! sigma is the oracle adapter's annualized EWMA volatility, H the liquidation horizon in hours,
//! z a fat-tailed (Student-t) unit-variance quantile, so `f_vol_I` is the move that the initial
//! margin survives over the time it takes to close the position with probability p. The `f_vol`
//! terms that enter here are the *applied* (ramped) ones; see [`crate::ramp`].
//!
//! Every requirement rounds up (against the trader); deductions round down.

extern crate alloc;
use alloc::vec::Vec;

use ballast_math::{Fixed, MathError, Rounding};
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::config::{MarginParams, Tier, HOURS_PER_YEAR};
use crate::error::RiskResult;

/// Which rate of a tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierRate {
    /// The initial margin rate.
    Initial,
    /// The maintenance margin rate.
    Maintenance,
}

fn rate(tier: &Tier, which: TierRate) -> Fixed {
    match which {
        TierRate::Initial => tier.initial_fraction,
        TierRate::Maintenance => tier.maintenance_fraction,
    }
}

/// Deduction of each tier, quote base units, rounded down (so the requirement is not lowered by
/// rounding): `D_n = D_{n-1} + floor_n * (rate_n - rate_{n-1})`.
pub fn tier_deductions(tiers: &[Tier], which: TierRate) -> RiskResult<Vec<i128>> {
    let mut out = Vec::with_capacity(tiers.len());
    let mut deduction = 0i128;
    let mut previous_rate = Fixed::ZERO;
    for tier in tiers {
        let step = rate(tier, which).checked_sub(previous_rate)?;
        let added = step.mul_amount(tier.notional_floor, Rounding::Floor)?;
        deduction = deduction
            .checked_add(added)
            .ok_or(ballast_math::MathError::Overflow)?;
        out.push(deduction);
        previous_rate = rate(tier, which);
    }
    Ok(out)
}

/// Bracket requirement of a non-negative notional, continuous at every bracket edge.
pub fn tier_requirement(tiers: &[Tier], notional: i128, which: TierRate) -> RiskResult<i128> {
    if notional <= 0 {
        return Ok(0);
    }
    let mut deduction = 0i128;
    let mut previous_rate = Fixed::ZERO;
    let mut current_rate = Fixed::ZERO;
    for tier in tiers {
        if tier.notional_floor > notional {
            break;
        }
        let step = rate(tier, which).checked_sub(previous_rate)?;
        let added = step.mul_amount(tier.notional_floor, Rounding::Floor)?;
        deduction = deduction
            .checked_add(added)
            .ok_or(ballast_math::MathError::Overflow)?;
        previous_rate = rate(tier, which);
        current_rate = previous_rate;
    }
    let gross = current_rate.mul_amount(notional, Rounding::Ceil)?;
    Ok(gross
        .checked_sub(deduction)
        .ok_or(ballast_math::MathError::Overflow)?
        .max(0))
}

/// The size term: `size_factor * sqrt(notional in whole quote units)`.
pub fn size_fraction(
    params: &MarginParams,
    notional: i128,
    quote_decimals: u8,
) -> RiskResult<Fixed> {
    if params.size_factor.is_zero() || notional <= 0 {
        return Ok(Fixed::ZERO);
    }
    let whole = Fixed::from_amount(notional, quote_decimals, Rounding::Floor)?;
    Ok(params.size_factor.checked_mul(whole.sqrt()?)?)
}

/// The open-interest term (dYdX): 0 below the lower cap, `oi_max_fraction` at the upper cap.
pub fn oi_fraction(params: &MarginParams, open_interest: i128) -> RiskResult<Fixed> {
    oi_fraction_between(
        params,
        open_interest,
        (params.oi_lower_cap, params.oi_upper_cap),
    )
}

/// The open-interest term between explicit `(lower, upper)` caps (tightened by depth, see
/// [`crate::liquidity::oi_caps`]).
pub fn oi_fraction_between(
    params: &MarginParams,
    open_interest: i128,
    (lower, upper): (i128, i128),
) -> RiskResult<Fixed> {
    if open_interest <= lower {
        return Ok(Fixed::ZERO);
    }
    let span = upper.saturating_sub(lower).max(1);
    let above = open_interest.saturating_sub(lower).min(span);
    let share = Fixed::from_ratio(above, span)?;
    Ok(params.oi_max_fraction.checked_mul(share)?)
}

/// `z * sigma * sqrt(H / 8760)`: the move a quantile `z` of a unit-variance distribution covers
/// over the horizon at annualized volatility `sigma`.
pub fn vol_fraction(
    quantile: Fixed,
    annualized_vol: Fixed,
    horizon_hours: u32,
) -> RiskResult<Fixed> {
    let horizon_share = Fixed::from_ratio(i128::from(horizon_hours), i128::from(HOURS_PER_YEAR))?;
    Ok(quantile
        .checked_mul(annualized_vol)?
        .checked_mul(horizon_share.sqrt()?)?)
}

/// Volatility fractions in force for a market (applied or target).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode, TypeInfo)]
pub struct VolFractions {
    /// Initial-margin volatility term.
    pub initial: Fixed,
    /// Maintenance-margin volatility term.
    pub maintenance: Fixed,
}

impl VolFractions {
    /// Both terms for a volatility under the given params.
    pub fn for_vol(params: &MarginParams, annualized_vol: Fixed) -> RiskResult<VolFractions> {
        Ok(VolFractions {
            initial: vol_fraction(
                params.initial_quantile,
                annualized_vol,
                params.horizon_hours,
            )?,
            maintenance: vol_fraction(
                params.maintenance_quantile,
                annualized_vol,
                params.horizon_hours,
            )?,
        })
    }
}

/// The three requirements of one position, quote base units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode, TypeInfo)]
pub struct Requirements {
    /// Initial: what opening or keeping new risk needs.
    pub initial: i128,
    /// Maintenance: below it the account is liquidatable.
    pub maintenance: i128,
    /// Liquidation end: liquidation stops once equity covers it (between the other two).
    pub liquidation_end: i128,
}

impl Requirements {
    /// The sum of two sets of requirements, term by term.
    pub fn plus(&self, other: &Requirements) -> RiskResult<Requirements> {
        let add = |a: i128, b: i128| a.checked_add(b).ok_or(MathError::Overflow);
        Ok(Requirements {
            initial: add(self.initial, other.initial)?,
            maintenance: add(self.maintenance, other.maintenance)?,
            liquidation_end: add(self.liquidation_end, other.liquidation_end)?,
        })
    }
}

/// Requirements of a position of non-negative `notional` in a market with `open_interest`
/// (both quote base units) under the vol fractions in force.
pub fn requirements(
    params: &MarginParams,
    quote_decimals: u8,
    notional: i128,
    open_interest: i128,
    vol: VolFractions,
) -> RiskResult<Requirements> {
    let caps = (params.oi_lower_cap, params.oi_upper_cap);
    requirements_with_caps(params, quote_decimals, notional, open_interest, vol, caps)
}

/// [`requirements`] with the open-interest caps given explicitly.
pub fn requirements_with_caps(
    params: &MarginParams,
    quote_decimals: u8,
    notional: i128,
    open_interest: i128,
    vol: VolFractions,
    oi_caps: (i128, i128),
) -> RiskResult<Requirements> {
    if notional <= 0 {
        return Ok(Requirements::default());
    }
    let floor_fraction = size_fraction(params, notional, quote_decimals)?
        .max(oi_fraction_between(params, open_interest, oi_caps)?)
        .max(vol.initial)
        .max(params.min_initial_fraction)
        .min(params.max_initial_fraction);
    let cap = params
        .max_initial_fraction
        .mul_amount(notional, Rounding::Ceil)?;
    let initial = tier_requirement(&params.tiers, notional, TierRate::Initial)?
        .max(floor_fraction.mul_amount(notional, Rounding::Ceil)?)
        .min(cap);
    let maintenance = tier_requirement(&params.tiers, notional, TierRate::Maintenance)?
        .max(vol.maintenance.mul_amount(notional, Rounding::Ceil)?)
        .min(initial);
    let spread = initial.saturating_sub(maintenance);
    let liquidation_end = maintenance
        .checked_add(
            params
                .liquidation_end_weight
                .mul_amount(spread, Rounding::Ceil)?,
        )
        .ok_or(ballast_math::MathError::Overflow)?
        .min(initial);
    Ok(Requirements {
        initial,
        maintenance,
        liquidation_end,
    })
}

/// Maximum leverage that an initial requirement allows, `notional / requirement`, for display.
pub fn leverage_cap(notional: i128, initial_requirement: i128) -> RiskResult<Fixed> {
    if initial_requirement <= 0 {
        return Ok(Fixed::ZERO);
    }
    Ok(Fixed::from_ratio(notional, initial_requirement)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MarketConfig;
    use ballast_math::Decimals;

    fn params() -> MarginParams {
        MarketConfig::default_large_cap(Decimals { base: 8, quote: 6 }).margin
    }

    fn fx(s: &str) -> Fixed {
        Fixed::parse_decimal(s).unwrap()
    }

    #[test]
    fn deductions_follow_the_exchange_formula() {
        // Hand-computed with floors 0, 1M, 5M, 20M USD (6 decimals) and MMR 2.5%, 5%, 10%, 25%:
        // D1 = 1e12 * 0.025 = 2.5e10; D2 = D1 + 5e12 * 0.05 = 2.75e11; D3 = D2 + 2e13 * 0.15 = 3.275e12.
        // The binary rates sit a hair below their decimal values and deductions round down, so
        // each deduction may be one unit lower than the decimal figure (against the trader).
        let d = tier_deductions(&params().tiers, TierRate::Maintenance).unwrap();
        for (got, want) in d
            .iter()
            .zip([0i128, 25_000_000_000, 275_000_000_000, 3_275_000_000_000])
        {
            assert!(
                *got == want || *got == want - 1,
                "deduction {got} vs {want}"
            );
        }
        // 3M notional sits in bracket 2: 3e12 * 5% - 2.5e10 = 1.25e11 (125,000 USD), plus at most
        // one unit of rounding against the trader.
        let r =
            tier_requirement(&params().tiers, 3_000_000_000_000, TierRate::Maintenance).unwrap();
        assert!(r == 125_000_000_000 || r == 125_000_000_001, "{r}");
    }

    #[test]
    fn tier_requirement_is_continuous_at_every_edge() {
        let p = params();
        for which in [TierRate::Initial, TierRate::Maintenance] {
            for tier in p.tiers.iter().skip(1) {
                let edge = tier.notional_floor;
                let at = tier_requirement(&p.tiers, edge, which).unwrap();
                let below = tier_requirement(&p.tiers, edge - 1, which).unwrap();
                let above = tier_requirement(&p.tiers, edge + 1, which).unwrap();
                // One base unit of notional moves the requirement by at most its rate plus rounding.
                assert!(
                    (at - below).abs() <= 1,
                    "{which:?} jump at {edge}: {below} -> {at}"
                );
                assert!(
                    (above - at).abs() <= 1,
                    "{which:?} jump after {edge}: {at} -> {above}"
                );
                // And the two bracket formulas agree at the edge.
                let previous = p
                    .tiers
                    .iter()
                    .rev()
                    .find(|t| t.notional_floor < edge)
                    .unwrap();
                let rate_prev = match which {
                    TierRate::Initial => previous.initial_fraction,
                    TierRate::Maintenance => previous.maintenance_fraction,
                };
                let prev_idx = p.tiers.iter().position(|t| t == previous).unwrap();
                let d = tier_deductions(&p.tiers, which).unwrap();
                let from_below = rate_prev.mul_amount(edge, Rounding::Ceil).unwrap() - d[prev_idx];
                assert!((from_below - at).abs() <= 1);
            }
        }
    }

    #[test]
    fn oi_term_interpolates_between_caps() {
        let p = params();
        assert_eq!(oi_fraction(&p, p.oi_lower_cap).unwrap(), Fixed::ZERO);
        let mid = (p.oi_lower_cap + p.oi_upper_cap) / 2;
        assert_eq!(oi_fraction(&p, mid).unwrap(), fx("0.5"));
        assert_eq!(oi_fraction(&p, p.oi_upper_cap * 2).unwrap(), Fixed::ONE);
    }

    #[test]
    fn size_term_grows_with_sqrt_of_notional() {
        let p = params();
        // 1M USD: 2e-5 * sqrt(1e6) = 0.02.
        let f = size_fraction(&p, 1_000_000_000_000, 6).unwrap();
        assert!((f.to_bits() - fx("0.02").to_bits()).abs() < 4096);
        let f4 = size_fraction(&p, 4_000_000_000_000, 6).unwrap();
        assert!((f4.to_bits() - fx("0.04").to_bits()).abs() < 4096);
    }

    #[test]
    fn vol_fraction_matches_hand_computation() {
        // z = 3, sigma = 0.8, H = 8760 h: 3 * 0.8 * 1 = 2.4.
        let full_year = vol_fraction(Fixed::from_int(3), fx("0.8"), 8760).unwrap();
        assert!((full_year.to_bits() - fx("2.4").to_bits()).abs() < 4096);
        // H = 8 h: sqrt(8 / 8760) = 0.0302199..., times 3 * 0.8 = 0.0725277...
        let f = vol_fraction(Fixed::from_int(3), fx("0.8"), 8).unwrap();
        assert!((f.to_bits() - fx("0.0725277").to_bits()).abs() < fx("0.0000001").to_bits());
    }

    #[test]
    fn effective_fraction_is_the_largest_term_within_leverage_bounds() {
        let p = params();
        let n = 100_000_000_000; // 100k USD: tier 5%, size term 2e-5 * 316 = 0.63%
        let calm = requirements(
            &p,
            6,
            n,
            0,
            VolFractions {
                initial: fx("0.03"),
                maintenance: fx("0.01"),
            },
        )
        .unwrap();
        assert_eq!(calm.initial, 5_000_000_000); // tier/min leverage 5% wins
        assert_eq!(calm.maintenance, 2_500_000_000); // tier 2.5%
        assert_eq!(calm.liquidation_end, 3_750_000_000); // halfway
        let stressed = requirements(
            &p,
            6,
            n,
            0,
            VolFractions {
                initial: fx("0.2"),
                maintenance: fx("0.08"),
            },
        )
        .unwrap();
        assert_eq!(stressed.initial, 20_000_000_000);
        assert_eq!(stressed.maintenance, 8_000_000_000);
        let extreme = requirements(
            &p,
            6,
            n,
            0,
            VolFractions {
                initial: fx("3"),
                maintenance: fx("2"),
            },
        )
        .unwrap();
        assert_eq!(extreme.initial, n); // capped at 1x
        assert_eq!(extreme.maintenance, n); // never above initial
        let crowded = requirements(&p, 6, n, p.oi_upper_cap, VolFractions::default()).unwrap();
        assert_eq!(crowded.initial, n);
        assert_eq!(
            requirements(&p, 6, 0, 0, VolFractions::default()).unwrap(),
            Requirements::default()
        );
    }
}
