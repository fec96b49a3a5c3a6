//! [`Fixed`]: the signed fixed-point number every Ballast price, rate, fraction and volatility is.
//!
//! Representation: `fixed::types::I80F48`, 80 integer bits (|x| < 2^79, about 6.0e23) and 48
//! fractional bits (resolution 2^-48, about 3.6e-15). The resolution is what the accuracy
//! targets need (1e-12 leaves three decimal orders of slack), and 79 integer bits hold any price,
//! notional in whole quote units or annualized variance Ballast meets; a 64-bit or I64F64 type
//! would cap notionals at 9.2e18 or 9.2e18 / 2^16 respectively. Token amounts and sizes are not
//! `Fixed`: they stay integers in base units (see [`crate::amount`]).
//!
//! All arithmetic is checked. Products and quotients go through one 256-bit routine
//! ([`crate::wide::mul_div_i128`]) so that the rounding direction is always explicit.

use core::fmt;

use fixed::types::I80F48;
use parity_scale_codec::{Decode, Encode, Input, MaxEncodedLen, Output};
use scale_info::{build::Fields, Path, Type, TypeInfo};

use crate::error::{MathError, MathResult};
use crate::wide::{mul_div_i128, Rounding};

/// Number of fractional bits of [`Fixed`].
pub const FRAC_BITS: u32 = 48;
/// `2^FRAC_BITS`, the raw value of [`Fixed::ONE`].
const ONE_BITS: i128 = 1i128 << FRAC_BITS;

/// Signed fixed-point number with 48 fractional bits; see the module docs for the range.
///
/// On the wire (SCALE) and in contract storage it is its raw bits as an `i128`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fixed(I80F48);

impl Fixed {
    /// 0.
    pub const ZERO: Fixed = Fixed(I80F48::ZERO);
    /// 1.
    pub const ONE: Fixed = Fixed(I80F48::ONE);
    /// The smallest positive value, 2^-48.
    pub const DELTA: Fixed = Fixed(I80F48::DELTA);
    /// The largest value, 2^79 - 2^-48.
    pub const MAX: Fixed = Fixed(I80F48::MAX);
    /// The smallest (most negative) value, -2^79.
    pub const MIN: Fixed = Fixed(I80F48::MIN);

    /// From raw bits (value = bits / 2^48).
    pub const fn from_bits(bits: i128) -> Fixed {
        Fixed(I80F48::from_bits(bits))
    }

    /// Raw bits (value = bits / 2^48).
    pub const fn to_bits(self) -> i128 {
        self.0.to_bits()
    }

    /// The underlying `fixed` value.
    pub const fn to_inner(self) -> I80F48 {
        self.0
    }

    /// Wraps a `fixed` value.
    pub const fn from_inner(inner: I80F48) -> Fixed {
        Fixed(inner)
    }

    /// From a 64-bit integer; always exact.
    pub const fn from_int(value: i64) -> Fixed {
        // |value| < 2^63 and 63 + 48 < 127: the shift cannot overflow.
        Fixed(I80F48::from_bits((value as i128) << FRAC_BITS))
    }

    /// From a 128-bit integer; `Overflow` beyond the range.
    pub fn from_i128(value: i128) -> MathResult<Fixed> {
        value
            .checked_mul(ONE_BITS)
            .map(Fixed::from_bits)
            .ok_or(MathError::Overflow)
    }

    /// `numerator / denominator`, rounded toward negative infinity. The way to write decimal
    /// constants: `Fixed::from_ratio(94, 100)` is 0.94. Never constructed from floats.
    pub fn from_ratio(numerator: i128, denominator: i128) -> MathResult<Fixed> {
        Fixed::from_ratio_rounded(numerator, denominator, Rounding::Floor)
    }

    /// `numerator / denominator` with an explicit rounding direction.
    pub fn from_ratio_rounded(
        numerator: i128,
        denominator: i128,
        rounding: Rounding,
    ) -> MathResult<Fixed> {
        mul_div_i128(numerator, ONE_BITS, denominator, rounding).map(Fixed::from_bits)
    }

    /// `value / 10^decimals` (for instance a basis-point or per-mille parameter), exact up to
    /// the rounding asked for.
    pub fn from_scaled(value: i128, decimals: u8, rounding: Rounding) -> MathResult<Fixed> {
        let scale = crate::amount::pow10(decimals)?;
        Fixed::from_ratio_rounded(value, scale, rounding)
    }

    /// Parses a decimal string such as `"-46216.93"`, rounded to the nearest representable
    /// value. For configuration and data files; no floats involved.
    pub fn parse_decimal(text: &str) -> MathResult<Fixed> {
        text.trim()
            .parse::<I80F48>()
            .map(Fixed)
            .map_err(|_| MathError::Parse)
    }

    /// Rounds to an integer in the given direction.
    pub fn to_int(self, rounding: Rounding) -> i128 {
        let bits = self.to_bits();
        let floor = bits >> FRAC_BITS;
        let frac = bits & ONE_BITS.wrapping_sub(1);
        // `floor` is at most 2^79 in magnitude, so adding one cannot overflow.
        match rounding {
            Rounding::Floor => floor,
            Rounding::Ceil if frac != 0 => floor.wrapping_add(1),
            Rounding::Ceil => floor,
            Rounding::Nearest => {
                let half = ONE_BITS >> 1;
                if frac > half || (frac == half && bits > 0) {
                    floor.wrapping_add(1)
                } else {
                    floor
                }
            }
        }
    }

    /// `self + rhs`.
    pub fn checked_add(self, rhs: Fixed) -> MathResult<Fixed> {
        self.0
            .checked_add(rhs.0)
            .map(Fixed)
            .ok_or(MathError::Overflow)
    }

    /// `self - rhs`.
    pub fn checked_sub(self, rhs: Fixed) -> MathResult<Fixed> {
        self.0
            .checked_sub(rhs.0)
            .map(Fixed)
            .ok_or(MathError::Overflow)
    }

    /// `self * rhs`, rounded toward negative infinity.
    pub fn checked_mul(self, rhs: Fixed) -> MathResult<Fixed> {
        self.mul_rounded(rhs, Rounding::Floor)
    }

    /// `self * rhs` with an explicit rounding direction.
    pub fn mul_rounded(self, rhs: Fixed, rounding: Rounding) -> MathResult<Fixed> {
        mul_div_i128(self.to_bits(), rhs.to_bits(), ONE_BITS, rounding).map(Fixed::from_bits)
    }

    /// `self / rhs`, rounded toward negative infinity.
    pub fn checked_div(self, rhs: Fixed) -> MathResult<Fixed> {
        self.div_rounded(rhs, Rounding::Floor)
    }

    /// `self / rhs` with an explicit rounding direction.
    pub fn div_rounded(self, rhs: Fixed, rounding: Rounding) -> MathResult<Fixed> {
        mul_div_i128(self.to_bits(), ONE_BITS, rhs.to_bits(), rounding).map(Fixed::from_bits)
    }

    /// `self * mul / div` with a 256-bit intermediate: exact until the final rounding, so it
    /// succeeds whenever the result fits even if `self * mul` alone would not.
    pub fn mul_div(self, mul: Fixed, div: Fixed, rounding: Rounding) -> MathResult<Fixed> {
        mul_div_i128(self.to_bits(), mul.to_bits(), div.to_bits(), rounding).map(Fixed::from_bits)
    }

    /// `self * n` for an integer `n`; exact.
    pub fn checked_mul_int(self, n: i128) -> MathResult<Fixed> {
        self.0
            .checked_mul_int(n)
            .map(Fixed)
            .ok_or(MathError::Overflow)
    }

    /// `self / n` for an integer `n`, rounded as asked.
    pub fn div_int(self, n: i128, rounding: Rounding) -> MathResult<Fixed> {
        mul_div_i128(self.to_bits(), 1, n, rounding).map(Fixed::from_bits)
    }

    /// `-self`; `Overflow` for [`Fixed::MIN`].
    pub fn checked_neg(self) -> MathResult<Fixed> {
        self.0.checked_neg().map(Fixed).ok_or(MathError::Overflow)
    }

    /// `|self|`; `Overflow` for [`Fixed::MIN`].
    pub fn checked_abs(self) -> MathResult<Fixed> {
        self.0.checked_abs().map(Fixed).ok_or(MathError::Overflow)
    }

    /// `self + rhs`, clamped to the range.
    pub fn saturating_add(self, rhs: Fixed) -> Fixed {
        Fixed(self.0.saturating_add(rhs.0))
    }

    /// `self - rhs`, clamped to the range.
    pub fn saturating_sub(self, rhs: Fixed) -> Fixed {
        Fixed(self.0.saturating_sub(rhs.0))
    }

    /// `self * rhs` rounded toward negative infinity, clamped to the range.
    pub fn saturating_mul(self, rhs: Fixed) -> Fixed {
        match self.checked_mul(rhs) {
            Ok(v) => v,
            Err(_) if self.is_negative() != rhs.is_negative() => Fixed::MIN,
            Err(_) => Fixed::MAX,
        }
    }

    /// The smaller of two values.
    pub fn min(self, other: Fixed) -> Fixed {
        if other < self {
            other
        } else {
            self
        }
    }

    /// The larger of two values.
    pub fn max(self, other: Fixed) -> Fixed {
        if other > self {
            other
        } else {
            self
        }
    }

    /// `self` bounded to `[low, high]`; `Domain` when `low > high`.
    pub fn clamp(self, low: Fixed, high: Fixed) -> MathResult<Fixed> {
        if low > high {
            return Err(MathError::Domain);
        }
        Ok(self.max(low).min(high))
    }

    /// True for values below zero.
    pub const fn is_negative(self) -> bool {
        self.0.is_negative()
    }

    /// True for values above zero.
    pub const fn is_positive(self) -> bool {
        self.0.is_positive()
    }

    /// True for zero.
    pub const fn is_zero(self) -> bool {
        self.0.to_bits() == 0
    }
}

impl fmt::Display for Fixed {
    /// Exact decimal form of the value (as many digits as it takes to round-trip).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// In configuration files a `Fixed` is its exact decimal string (`"0.05"`), parsed back to the
/// nearest representable value, so a file written from a value reads back as the same value.
#[cfg(feature = "serde")]
impl serde::Serialize for Fixed {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Fixed {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Decimal;
        impl serde::de::Visitor<'_> for Decimal {
            type Value = Fixed;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal number as a string, such as \"0.05\"")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Fixed, E> {
                Fixed::parse_decimal(text)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(text), &self))
            }
        }
        deserializer.deserialize_str(Decimal)
    }
}

impl Encode for Fixed {
    fn size_hint(&self) -> usize {
        16
    }

    fn encode_to<T: Output + ?Sized>(&self, dest: &mut T) {
        self.to_bits().encode_to(dest)
    }
}

impl Decode for Fixed {
    fn decode<I: Input>(input: &mut I) -> Result<Self, parity_scale_codec::Error> {
        i128::decode(input).map(Fixed::from_bits)
    }
}

impl MaxEncodedLen for Fixed {
    fn max_encoded_len() -> usize {
        16
    }
}

impl TypeInfo for Fixed {
    type Identity = Self;

    fn type_info() -> Type {
        Type::builder()
            .path(Path::new("Fixed", module_path!()))
            .docs(&["Signed fixed-point number: the i128 raw value is the number times 2^48."])
            .composite(Fields::unnamed().field(|f| f.ty::<i128>().type_name("i128")))
    }
}

crate::impl_leaf_layout!(Fixed);

#[cfg(test)]
mod tests {
    use super::*;

    fn fx(text: &str) -> Fixed {
        Fixed::parse_decimal(text).unwrap()
    }

    #[test]
    fn ratios_and_integers_construct_exact_values() {
        assert_eq!(Fixed::from_ratio(1, 2).unwrap(), fx("0.5"));
        assert_eq!(Fixed::from_ratio(-3, 4).unwrap(), fx("-0.75"));
        assert_eq!(Fixed::from_int(-7).to_bits(), -7 << 48);
        assert_eq!(Fixed::from_i128(1i128 << 79), Err(MathError::Overflow));
        assert_eq!(
            Fixed::from_i128((1i128 << 79) - 1)
                .unwrap()
                .to_int(Rounding::Floor),
            (1i128 << 79) - 1
        );
        assert_eq!(Fixed::from_ratio(1, 0), Err(MathError::DivisionByZero));
        assert_eq!(
            Fixed::from_scaled(125, 4, Rounding::Floor).unwrap(),
            fx("0.0125")
        );
        // 1/3 floors and ceils to adjacent raw values.
        let lo = Fixed::from_ratio_rounded(1, 3, Rounding::Floor).unwrap();
        let hi = Fixed::from_ratio_rounded(1, 3, Rounding::Ceil).unwrap();
        assert_eq!(hi.to_bits() - lo.to_bits(), 1);
    }

    #[test]
    fn parse_rejects_garbage() {
        assert_eq!(Fixed::parse_decimal("12a"), Err(MathError::Parse));
        assert_eq!(Fixed::parse_decimal(""), Err(MathError::Parse));
        assert_eq!(fx(" 46216.93 ").to_int(Rounding::Floor), 46216);
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(
            Fixed::MAX.checked_add(Fixed::DELTA),
            Err(MathError::Overflow)
        );
        assert_eq!(
            Fixed::MIN.checked_sub(Fixed::DELTA),
            Err(MathError::Overflow)
        );
        assert_eq!(
            Fixed::MAX.checked_mul(Fixed::from_int(2)),
            Err(MathError::Overflow)
        );
        assert_eq!(
            Fixed::ONE.checked_div(Fixed::ZERO),
            Err(MathError::DivisionByZero)
        );
        assert_eq!(Fixed::MIN.checked_neg(), Err(MathError::Overflow));
        assert_eq!(Fixed::MIN.checked_abs(), Err(MathError::Overflow));
        assert_eq!(fx("1.5").checked_mul(fx("-2")).unwrap(), fx("-3"));
        assert_eq!(fx("7").checked_div(fx("2")).unwrap(), fx("3.5"));
        assert_eq!(Fixed::MAX.saturating_add(Fixed::ONE), Fixed::MAX);
        assert_eq!(Fixed::MIN.saturating_sub(Fixed::ONE), Fixed::MIN);
        assert_eq!(Fixed::MAX.saturating_mul(fx("-2")), Fixed::MIN);
        assert_eq!(fx("2").clamp(Fixed::ZERO, Fixed::ONE).unwrap(), Fixed::ONE);
        assert_eq!(
            fx("2").clamp(Fixed::ONE, Fixed::ZERO),
            Err(MathError::Domain)
        );
    }

    #[test]
    fn mul_and_div_round_in_the_stated_direction() {
        let third_floor = Fixed::ONE
            .div_rounded(Fixed::from_int(3), Rounding::Floor)
            .unwrap();
        let third_ceil = Fixed::ONE
            .div_rounded(Fixed::from_int(3), Rounding::Ceil)
            .unwrap();
        assert!(third_floor < third_ceil);
        // DELTA * 0.5 is half a unit: floor gives 0, ceil gives DELTA.
        let half = fx("0.5");
        assert_eq!(
            Fixed::DELTA.mul_rounded(half, Rounding::Floor).unwrap(),
            Fixed::ZERO
        );
        assert_eq!(
            Fixed::DELTA.mul_rounded(half, Rounding::Ceil).unwrap(),
            Fixed::DELTA
        );
        // -DELTA * 0.5 floors away from zero, to -DELTA.
        assert_eq!(
            Fixed::from_bits(-1)
                .mul_rounded(half, Rounding::Floor)
                .unwrap(),
            Fixed::from_bits(-1)
        );
        assert_eq!(
            Fixed::from_bits(-1)
                .mul_rounded(half, Rounding::Ceil)
                .unwrap(),
            Fixed::ZERO
        );
    }

    #[test]
    fn mul_div_survives_an_overflowing_intermediate() {
        let big = Fixed::from_int(1i64 << 60);
        assert_eq!(big.checked_mul(big), Err(MathError::Overflow));
        assert_eq!(big.mul_div(big, big, Rounding::Floor).unwrap(), big);
    }

    #[test]
    fn to_int_rounds_each_way() {
        assert_eq!(fx("2.5").to_int(Rounding::Floor), 2);
        assert_eq!(fx("2.5").to_int(Rounding::Ceil), 3);
        assert_eq!(fx("2.5").to_int(Rounding::Nearest), 3);
        assert_eq!(fx("-2.5").to_int(Rounding::Floor), -3);
        assert_eq!(fx("-2.5").to_int(Rounding::Ceil), -2);
        assert_eq!(fx("-2.5").to_int(Rounding::Nearest), -3);
        assert_eq!(fx("-2.4").to_int(Rounding::Nearest), -2);
        assert_eq!(Fixed::from_int(4).to_int(Rounding::Ceil), 4);
    }

    #[test]
    fn scale_codec_round_trips_raw_bits() {
        for v in [Fixed::MIN, Fixed::MAX, Fixed::DELTA, fx("-1234.5678")] {
            let bytes = v.encode();
            assert_eq!(bytes, v.to_bits().encode());
            assert_eq!(Fixed::decode(&mut &bytes[..]).unwrap(), v);
        }
        assert!(Fixed::decode(&mut &[1u8, 2, 3][..]).is_err());
    }

    #[test]
    fn display_is_exact_decimal() {
        assert_eq!(format!("{}", fx("-0.75")), "-0.75");
        assert_eq!(format!("{}", Fixed::from_int(20514)), "20514");
    }
}
