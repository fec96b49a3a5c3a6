//! Ramps: applied requirements move toward their targets at a bounded rate, never in a jump.
//!
//! Two things ramp. (1) The volatility terms: each refresh moves the applied initial and
//! maintenance fractions toward the targets implied by the latest forecast volatility by at most
//! `rate_per_hour * elapsed`, maintenance slower than initial. (2) Governance changes of the
//! margin params: requirements of existing positions blend linearly from the old params to the
//! new ones over `params_ramp_ms` (Mango ramps parameter changes the same way).
//! New positions never wait for a ramp: opening risk faces the larger of applied and target.

use ballast_math::{Fixed, MathError, Rounding};

use crate::config::MS_PER_HOUR;
use crate::error::RiskResult;

/// Moves `current` toward `target` by at most `rate_per_hour * elapsed_ms / 1h`.
pub fn ramp_toward(
    current: Fixed,
    target: Fixed,
    rate_per_hour: Fixed,
    elapsed_ms: u64,
) -> RiskResult<Fixed> {
    let max_step = rate_per_hour.mul_div(
        Fixed::from_i128(i128::from(elapsed_ms))?,
        Fixed::from_i128(i128::from(MS_PER_HOUR))?,
        Rounding::Floor,
    )?;
    Ok(if target > current {
        current.checked_add(max_step)?.min(target)
    } else {
        current.checked_sub(max_step)?.max(target)
    })
}

/// Weight of the new params in a governance blend, in [0, 1], `elapsed / duration`.
pub fn blend_weight(elapsed_ms: u64, duration_ms: u64) -> RiskResult<Fixed> {
    if duration_ms == 0 || elapsed_ms >= duration_ms {
        return Ok(Fixed::ONE);
    }
    Ok(Fixed::from_ratio(
        i128::from(elapsed_ms),
        i128::from(duration_ms),
    )?)
}

/// `old + weight * (new - old)` for requirements in quote base units, rounded up.
pub fn blend(old: i128, new: i128, weight: Fixed) -> RiskResult<i128> {
    let delta = new.checked_sub(old).ok_or(MathError::Overflow)?;
    let moved = weight.mul_amount(delta, Rounding::Ceil)?;
    Ok(old.checked_add(moved).ok_or(MathError::Overflow)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fx(s: &str) -> Fixed {
        Fixed::parse_decimal(s).unwrap()
    }

    #[test]
    fn ramp_moves_at_most_its_rate_and_stops_at_target() {
        // 2%/h for 30 min: at most 1 point.
        assert_eq!(
            ramp_toward(fx("0.05"), fx("0.20"), fx("0.02"), 1_800_000).unwrap(),
            fx("0.06")
        );
        assert_eq!(
            ramp_toward(fx("0.20"), fx("0.05"), fx("0.02"), 1_800_000).unwrap(),
            fx("0.19")
        );
        assert_eq!(
            ramp_toward(fx("0.05"), fx("0.055"), fx("0.02"), 1_800_000).unwrap(),
            fx("0.055")
        );
        assert_eq!(
            ramp_toward(fx("0.05"), fx("0.20"), fx("0.02"), 0).unwrap(),
            fx("0.05")
        );
    }

    #[test]
    fn blend_interpolates_linearly() {
        assert_eq!(blend_weight(6, 24).unwrap(), fx("0.25"));
        assert_eq!(blend_weight(30, 24).unwrap(), Fixed::ONE);
        assert_eq!(blend(100, 200, fx("0.25")).unwrap(), 125);
        assert_eq!(blend(200, 100, fx("0.25")).unwrap(), 175);
        assert_eq!(blend(0, 3, fx("0.5")).unwrap(), 2); // rounds up, against the trader
    }
}
