//! `Fixed` (I80F48 bits) to and from `f64`, for the simulator's floating-point side: the one
//! conversion every module uses.

use ballast_math::Fixed;

/// 2^48, one unit of `Fixed` in bits.
const ONE_BITS: f64 = 281_474_976_710_656.0;

/// The value of `x` as a float.
pub fn to_f64(x: Fixed) -> f64 {
    x.to_bits() as f64 / ONE_BITS
}

/// `x` as the nearest `Fixed`.
pub fn from_f64(x: f64) -> Fixed {
    Fixed::from_bits((x * ONE_BITS).round() as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_trip() {
        assert_eq!(from_f64(1.5), Fixed::from_ratio(3, 2).unwrap());
        assert_eq!(to_f64(Fixed::from_int(-7)), -7.0);
        // Within half a bit of the float it came from.
        assert!((to_f64(from_f64(0.123_456)) - 0.123_456).abs() <= 0.5 / ONE_BITS);
    }
}
