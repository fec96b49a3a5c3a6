//! sqrt, ln, exp and powers of [`Fixed`], deterministic and checked.
//!
//! `fixed` has a square root but no logarithm or exponential, so ln and exp are written here.
//! Both work internally in `I16F112` (112 fractional bits, |x| < 32768) and round once, to
//! nearest, at the end, so the only error a caller sees is that final rounding plus a series
//! truncation far below it.
//!
//! Domains and accuracy (measured by `tests/accuracy.rs` against 256-bit reference values over
//! more than 100,000 points each; `scripts/accuracy.sh` prints the figures):
//! - `ln(x)`: every positive `x` (2^-48 ..= 2^79). Absolute error <= 1e-12 (about one ulp,
//!   3.6e-15, in practice).
//! - `exp(x)`: `x <= EXP_MAX` (about 54.758, where the result reaches the top of the range).
//!   Relative error <= 1e-12 for `x >= -6`; below that the result is small enough that one ulp
//!   (2^-48) is more than 1e-12 of it, and the guarantee is an absolute error of at most one ulp.
//!   Results below half an ulp (x < about -33.97) are 0.
//! - `sqrt(x)`: every `x >= 0`, as computed by `fixed` (truncated). Relative error <= 1e-12 for
//!   `x >= 1.3e-5` (results >= 3.6e-3); absolute error below one ulp everywhere.

use fixed::types::I16F112;

use crate::error::{MathError, MathResult};
use crate::fixed_point::{Fixed, FRAC_BITS};
use crate::wide::shr_nearest;

type Wide = I16F112;
/// Bits between the internal 112-bit and the public 48-bit fractions.
const WIDE_SHIFT: u32 = 112 - FRAC_BITS;

/// Odd divisors of the atanh series ln(m) = 2 * sum s^(2j+1) / (2j+1), j >= 1. With
/// |s| <= (sqrt2 - 1) / (sqrt2 + 1) = 0.1716, the first omitted term is below 1e-24.
const ATANH_DIVISORS: [i128; 14] = [3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29];
/// Taylor terms of exp(r) for |r| <= ln2 / 2: r^21 / 21! < 1e-29.
const EXP_TERMS: i128 = 20;

/// Rounds a 112-fraction-bit value to the 48-bit public type, to nearest.
fn narrow(value: Wide) -> MathResult<Fixed> {
    let bits = value.to_bits();
    let magnitude = shr_nearest(bits.unsigned_abs(), WIDE_SHIFT);
    // |bits| < 2^127, so after a 64-bit shift the magnitude fits easily.
    let magnitude = i128::try_from(magnitude).map_err(|_| MathError::Overflow)?;
    if bits < 0 {
        Ok(Fixed::from_bits(
            magnitude.checked_neg().ok_or(MathError::Overflow)?,
        ))
    } else {
        Ok(Fixed::from_bits(magnitude))
    }
}

/// Widens a public value with |x| < 32768 to the internal type exactly.
fn widen(value: Fixed) -> MathResult<Wide> {
    value
        .to_bits()
        .checked_mul(1i128 << WIDE_SHIFT)
        .map(Wide::from_bits)
        .ok_or(MathError::Overflow)
}

fn wide(op: Option<Wide>) -> MathResult<Wide> {
    op.ok_or(MathError::Overflow)
}

/// The largest `x` whose `exp(x)` is representable: ln(2^79), rounded down.
pub const EXP_MAX: Fixed = Fixed::from_bits(15_413_183_333_908_230);
/// Below this, `exp(x)` is less than half of [`Fixed::DELTA`] and rounds to 0.
const EXP_ZERO_BELOW: Fixed = Fixed::from_int(-34);

impl Fixed {
    /// Square root (truncated); `Domain` for negative input.
    pub fn sqrt(self) -> MathResult<Fixed> {
        if self.is_negative() {
            return Err(MathError::Domain);
        }
        self.to_inner()
            .checked_sqrt()
            .map(Fixed::from_inner)
            .ok_or(MathError::Overflow)
    }

    /// Natural logarithm; `Domain` for `x <= 0`.
    ///
    /// Range reduction: x = m * 2^k with m in [sqrt(1/2), sqrt(2)), then
    /// ln(m) = 2 atanh(s), s = (m - 1) / (m + 1), summed as a series, and ln(x) = k ln2 + ln(m).
    pub fn ln(self) -> MathResult<Fixed> {
        let bits = self.to_bits();
        if bits <= 0 {
            return Err(MathError::Domain);
        }
        // Position of the highest set bit: 0..=126 for a positive i128.
        // bits > 0 has at least one leading zero (the sign bit), so this is 0..=126.
        let msb = 127u32.wrapping_sub(bits.leading_zeros());
        let msb_i = i32::try_from(msb).map_err(|_| MathError::Overflow)?;
        let mut exponent = msb_i.checked_sub(48).ok_or(MathError::Overflow)?;
        // Mantissa in [1, 2) with 112 fraction bits.
        let mantissa_bits = if msb <= 112 {
            bits.checked_shl(112u32.wrapping_sub(msb))
                .ok_or(MathError::Overflow)?
        } else {
            bits.checked_shr(msb.wrapping_sub(112))
                .ok_or(MathError::Overflow)?
        };
        let mut mantissa = Wide::from_bits(mantissa_bits);
        if mantissa > Wide::SQRT_2 {
            mantissa = Wide::from_bits(mantissa.to_bits() >> 1);
            exponent = exponent.checked_add(1).ok_or(MathError::Overflow)?;
        }
        let s = wide(
            wide(mantissa.checked_sub(Wide::ONE))?
                .checked_div(wide(mantissa.checked_add(Wide::ONE))?),
        )?;
        let s2 = wide(s.checked_mul(s))?;
        let mut term = s;
        let mut sum = s;
        for divisor in ATANH_DIVISORS {
            term = wide(term.checked_mul(s2))?;
            sum = wide(sum.checked_add(wide(term.checked_div_int(divisor))?))?;
        }
        let ln_mantissa = wide(sum.checked_mul_int(2))?;
        let ln_power = wide(Wide::LN_2.checked_mul_int(i128::from(exponent)))?;
        narrow(wide(ln_power.checked_add(ln_mantissa))?)
    }

    /// e^x; `Overflow` above [`EXP_MAX`], 0 far below zero.
    ///
    /// Range reduction: x = k ln2 + r with k = round(x / ln2), |r| <= ln2 / 2, then
    /// e^x = 2^k * e^r with e^r from its Taylor series.
    pub fn exp(self) -> MathResult<Fixed> {
        if self > EXP_MAX {
            return Err(MathError::Overflow);
        }
        if self < EXP_ZERO_BELOW {
            return Ok(Fixed::ZERO);
        }
        let x = widen(self)?;
        let quotient = wide(x.checked_div(Wide::LN_2))?;
        let k_wide = wide(quotient.checked_round())?;
        let k: i32 = k_wide.checked_to_num().ok_or(MathError::Overflow)?;
        let r = wide(x.checked_sub(wide(Wide::LN_2.checked_mul_int(i128::from(k)))?))?;
        let mut term = Wide::ONE;
        let mut sum = Wide::ONE;
        for n in 1..=EXP_TERMS {
            term = wide(wide(term.checked_mul(r))?.checked_div_int(n))?;
            sum = wide(sum.checked_add(term))?;
        }
        // sum = e^r in (0.70, 1.42): positive, below 2^113 as raw bits.
        let sum_bits = sum.to_bits().unsigned_abs();
        // Result raw bits (48 fraction bits) = sum_bits * 2^k / 2^64.
        let shift = i32::try_from(WIDE_SHIFT)
            .map_err(|_| MathError::Overflow)?
            .checked_sub(k)
            .ok_or(MathError::Overflow)?;
        let magnitude = if shift >= 0 {
            shr_nearest(sum_bits, shift.unsigned_abs())
        } else {
            let left = shift.unsigned_abs();
            if sum_bits.leading_zeros() < left {
                return Err(MathError::Overflow);
            }
            sum_bits.checked_shl(left).ok_or(MathError::Overflow)?
        };
        i128::try_from(magnitude)
            .map(Fixed::from_bits)
            .map_err(|_| MathError::Overflow)
    }

    /// `self^n` by repeated squaring; each product rounded toward negative infinity.
    pub fn powi(self, n: u32) -> MathResult<Fixed> {
        let mut result = Fixed::ONE;
        let mut base = self;
        let mut remaining = n;
        while remaining > 0 {
            if remaining & 1 == 1 {
                result = result.checked_mul(base)?;
            }
            remaining >>= 1;
            if remaining > 0 {
                base = base.checked_mul(base)?;
            }
        }
        Ok(result)
    }

    /// `self^y = exp(y ln self)` for `self > 0`; `Domain` otherwise. `0^y` is 0 for `y > 0`.
    pub fn powf(self, y: Fixed) -> MathResult<Fixed> {
        if self.is_zero() && y.is_positive() {
            return Ok(Fixed::ZERO);
        }
        self.ln()?.checked_mul(y)?.exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fx(text: &str) -> Fixed {
        Fixed::parse_decimal(text).unwrap()
    }

    fn close(a: Fixed, b: Fixed, ulps: i128) -> bool {
        (a.to_bits() - b.to_bits()).abs() <= ulps
    }

    #[test]
    fn ln_of_known_values() {
        assert_eq!(Fixed::ONE.ln().unwrap(), Fixed::ZERO);
        assert!(close(
            Fixed::from_int(2).ln().unwrap(),
            Fixed::from_inner(fixed::types::I80F48::LN_2),
            1
        ));
        // ln(1024) = 10 ln2 = 6.931471805599453094172321...; the nearest 48-bit value, from 2^48 * 10 ln2.
        assert_eq!(
            Fixed::from_int(1024).ln().unwrap(),
            Fixed::from_bits(1_951_035_865_051_675)
        );
        assert_eq!(Fixed::ZERO.ln(), Err(MathError::Domain));
        assert_eq!(fx("-1").ln(), Err(MathError::Domain));
        // Extremes of the domain succeed.
        assert!(Fixed::DELTA.ln().unwrap() < Fixed::from_int(-33));
        assert!(Fixed::MAX.ln().unwrap() > Fixed::from_int(54));
    }

    #[test]
    fn exp_of_known_values() {
        assert_eq!(Fixed::ZERO.exp().unwrap(), Fixed::ONE);
        assert!(close(
            Fixed::ONE.exp().unwrap(),
            Fixed::from_inner(fixed::types::I80F48::E),
            1
        ));
        assert!(EXP_MAX.exp().is_ok());
        assert_eq!(
            EXP_MAX.checked_add(Fixed::DELTA).unwrap().exp(),
            Err(MathError::Overflow)
        );
        assert_eq!(Fixed::from_int(-40).exp().unwrap(), Fixed::ZERO);
        assert_eq!(Fixed::MIN.exp().unwrap(), Fixed::ZERO);
        assert_eq!(Fixed::MAX.exp(), Err(MathError::Overflow));
    }

    #[test]
    fn exp_max_is_the_exact_boundary() {
        // One ulp past EXP_MAX the result would exceed the range; EXP_MAX itself stays inside.
        let at = EXP_MAX.exp().unwrap();
        assert!(at > Fixed::from_i128(1i128 << 78).unwrap());
    }

    #[test]
    fn sqrt_and_powers() {
        assert_eq!(Fixed::from_int(9).sqrt().unwrap(), Fixed::from_int(3));
        assert_eq!(fx("-0.0001").sqrt(), Err(MathError::Domain));
        assert_eq!(fx("1.5").powi(2).unwrap(), fx("2.25"));
        assert_eq!(fx("7").powi(0).unwrap(), Fixed::ONE);
        assert_eq!(Fixed::from_int(1 << 40).powi(2), Err(MathError::Overflow));
        assert!(close(
            Fixed::from_int(30).powf(fx("0.5")).unwrap(),
            Fixed::from_int(30).sqrt().unwrap(),
            64
        ));
        assert_eq!(Fixed::ZERO.powf(fx("0.3")).unwrap(), Fixed::ZERO);
        assert_eq!(fx("-2").powf(fx("0.3")), Err(MathError::Domain));
    }
}
