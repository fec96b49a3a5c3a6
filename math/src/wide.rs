//! 256-bit intermediates for `a * b / d` on 128-bit integers with an explicit rounding direction.
//!
//! Every product in Ballast that can exceed 128 bits (size x price, fixed x fixed before the
//! shift, ratios of large amounts) goes through [`mul_div_i128`], so there is one place where
//! rounding is decided. The arithmetic below works on magnitudes with `wrapping_*`/`checked_*`
//! calls whose non-overflow is argued at each step.

use crate::error::{MathError, MathResult};

/// Direction in which a result that is not exactly representable is rounded.
///
/// Margin requirements round against the trader ([`Rounding::Ceil`]), payouts round against the
/// protocol ([`Rounding::Floor`]); [`Rounding::Nearest`] (half away from zero) is for display and
/// internal estimates only.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    parity_scale_codec::Encode,
    parity_scale_codec::Decode,
    scale_info::TypeInfo,
)]
pub enum Rounding {
    /// Toward negative infinity.
    Floor,
    /// Toward positive infinity.
    Ceil,
    /// To the nearest value, ties away from zero.
    Nearest,
}

/// Unsigned 256-bit value as (high, low) halves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct U256 {
    hi: u128,
    lo: u128,
}

const LOW64: u128 = u64::MAX as u128;

/// Full 128 x 128 -> 256-bit product.
fn widening_mul(a: u128, b: u128) -> U256 {
    let (a_hi, a_lo) = (a >> 64, a & LOW64);
    let (b_hi, b_lo) = (b >> 64, b & LOW64);
    // Each partial product of two 64-bit halves fits in 128 bits.
    let ll = a_lo.wrapping_mul(b_lo);
    let lh = a_lo.wrapping_mul(b_hi);
    let hl = a_hi.wrapping_mul(b_lo);
    let hh = a_hi.wrapping_mul(b_hi);
    // Middle column: (ll >> 64) + low halves of lh and hl, at most 3 * (2^64 - 1): no overflow.
    let mid = (ll >> 64).wrapping_add(lh & LOW64).wrapping_add(hl & LOW64);
    let lo = (mid << 64) | (ll & LOW64);
    // The full product is < 2^256, so the high half cannot overflow.
    let hi = hh
        .wrapping_add(lh >> 64)
        .wrapping_add(hl >> 64)
        .wrapping_add(mid >> 64);
    U256 { hi, lo }
}

/// Divides a 256-bit value by a non-zero 128-bit one. Returns `None` when the quotient does not
/// fit in 128 bits. Restoring long division, one bit per step: 128 steps at most.
fn div_rem(n: U256, d: u128) -> Option<(u128, u128)> {
    if d == 0 || n.hi >= d {
        return None;
    }
    if n.hi == 0 {
        // d != 0 was checked above.
        return Some((n.lo.checked_div(d)?, n.lo.checked_rem(d)?));
    }
    let mut rem = n.hi;
    let mut quot: u128 = 0;
    for bit in (0..128u32).rev() {
        // rem < d <= u128::MAX, so rem * 2 + 1 may need 129 bits: keep the carry.
        let carry = rem >> 127;
        let next_bit = (n.lo >> bit) & 1;
        rem = (rem << 1) | next_bit;
        if carry == 1 || rem >= d {
            // The true remainder (carry * 2^128 + rem) is >= d and < 2d, so the difference
            // fits in 128 bits; wrapping_sub yields it exactly.
            rem = rem.wrapping_sub(d);
            quot |= 1u128 << bit;
        }
    }
    Some((quot, rem))
}

/// `a * b / d` for signed 128-bit integers with a 256-bit intermediate, rounded as asked.
///
/// Errors: `DivisionByZero` when `d == 0`; `Overflow` when the rounded result does not fit i128.
pub fn mul_div_i128(a: i128, b: i128, d: i128, rounding: Rounding) -> MathResult<i128> {
    if d == 0 {
        return Err(MathError::DivisionByZero);
    }
    let negative = (a < 0) ^ (b < 0) ^ (d < 0);
    let product = widening_mul(a.unsigned_abs(), b.unsigned_abs());
    let divisor = d.unsigned_abs();
    let (quot, rem) = div_rem(product, divisor).ok_or(MathError::Overflow)?;
    let round_magnitude_up = if rem == 0 {
        false
    } else {
        match rounding {
            // Rounding toward -inf enlarges the magnitude of a negative result.
            Rounding::Floor => negative,
            Rounding::Ceil => !negative,
            // rem >= divisor - rem  <=>  rem >= divisor / 2 (ties away from zero).
            Rounding::Nearest => rem >= divisor.wrapping_sub(rem),
        }
    };
    let magnitude = if round_magnitude_up {
        quot.checked_add(1).ok_or(MathError::Overflow)?
    } else {
        quot
    };
    if negative {
        // -(2^127) is representable; anything larger in magnitude is not.
        if magnitude > i128::MIN.unsigned_abs() {
            return Err(MathError::Overflow);
        }
        Ok(0i128.wrapping_sub_unsigned(magnitude))
    } else {
        i128::try_from(magnitude).map_err(|_| MathError::Overflow)
    }
}

/// `v / 2^shift` for a non-negative value, rounded to nearest (ties up). `shift` may be 0..=128.
pub(crate) fn shr_nearest(v: u128, shift: u32) -> u128 {
    match shift {
        0 => v,
        1..=127 => {
            let kept = v >> shift;
            let half_bit = (v >> (shift.wrapping_sub(1))) & 1;
            // kept < 2^127 here, so adding one bit cannot overflow.
            kept.wrapping_add(half_bit)
        }
        128 => v >> 127,
        _ => 0,
    }
}

crate::impl_leaf_layout!(Rounding);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_mul_matches_known_products() {
        assert_eq!(
            widening_mul(u128::MAX, u128::MAX),
            U256 {
                hi: u128::MAX - 1,
                lo: 1
            }
        );
        assert_eq!(widening_mul(1 << 64, 1 << 64), U256 { hi: 1, lo: 0 });
        assert_eq!(
            widening_mul(12345, 6789),
            U256 {
                hi: 0,
                lo: 12345 * 6789
            }
        );
    }

    #[test]
    fn div_rem_inverts_widening_mul() {
        let cases = [
            (u128::MAX, u128::MAX - 7, u128::MAX),
            (1u128 << 100, 3u128 << 90, (1u128 << 127) + 5),
        ];
        for (a, b, d) in cases {
            let p = widening_mul(a, b);
            if let Some((q, r)) = div_rem(p, d) {
                // Recompose q * d + r and compare with the product.
                let back = widening_mul(q, d);
                let (lo, carry) = back.lo.overflowing_add(r);
                assert_eq!(
                    U256 {
                        hi: back.hi + u128::from(carry),
                        lo
                    },
                    p
                );
                assert!(r < d);
            }
        }
        assert_eq!(div_rem(U256 { hi: 5, lo: 0 }, 5), None);
    }

    #[test]
    fn mul_div_rounds_in_the_stated_direction() {
        assert_eq!(mul_div_i128(7, 1, 2, Rounding::Floor), Ok(3));
        assert_eq!(mul_div_i128(7, 1, 2, Rounding::Ceil), Ok(4));
        assert_eq!(mul_div_i128(-7, 1, 2, Rounding::Floor), Ok(-4));
        assert_eq!(mul_div_i128(-7, 1, 2, Rounding::Ceil), Ok(-3));
        assert_eq!(mul_div_i128(-7, 1, 2, Rounding::Nearest), Ok(-4));
        assert_eq!(mul_div_i128(5, 1, 3, Rounding::Nearest), Ok(2));
        assert_eq!(mul_div_i128(4, 1, 3, Rounding::Nearest), Ok(1));
        assert_eq!(mul_div_i128(6, 1, 3, Rounding::Ceil), Ok(2));
        assert_eq!(
            mul_div_i128(i128::MAX, i128::MAX, i128::MAX, Rounding::Floor),
            Ok(i128::MAX)
        );
        assert_eq!(
            mul_div_i128(i128::MIN, 1, 1, Rounding::Floor),
            Ok(i128::MIN)
        );
        assert_eq!(
            mul_div_i128(i128::MIN, -1, 1, Rounding::Floor),
            Err(MathError::Overflow)
        );
        assert_eq!(
            mul_div_i128(i128::MAX, 2, 1, Rounding::Floor),
            Err(MathError::Overflow)
        );
        assert_eq!(
            mul_div_i128(1, 1, 0, Rounding::Floor),
            Err(MathError::DivisionByZero)
        );
    }

    #[test]
    fn shr_nearest_rounds_half_up() {
        assert_eq!(shr_nearest(5, 1), 3);
        assert_eq!(shr_nearest(4, 1), 2);
        assert_eq!(shr_nearest(0b1011, 2), 3);
        assert_eq!(shr_nearest(0b1001, 2), 2);
        assert_eq!(shr_nearest(u128::MAX, 128), 1);
        assert_eq!(shr_nearest(7, 0), 7);
    }
}
