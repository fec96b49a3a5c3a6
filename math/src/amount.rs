//! Conversions between integer token amounts (base units) and [`Fixed`] values.
//!
//! Sizes and balances stay integers: a position is `i128` base units of the base asset, a
//! balance `i128`/`u128` base units of the collateral token. Prices are [`Fixed`] quote per
//! base in whole units (BTC at 20514.5 USD is `20514.5`). Converting between them names the
//! token decimals and the rounding direction every time.
//!
//! Ranges: notional in quote base units must stay below 2^127 (1.7e38): with 18 quote decimals
//! that is 1.7e20 whole quote units, far above any market. Intermediates are 256-bit, so only
//! the result's range matters. Decimals up to 30 are supported.

use crate::error::{MathError, MathResult};
use crate::fixed_point::{Fixed, FRAC_BITS};
use crate::wide::{mul_div_i128, Rounding};

/// Largest supported number of token decimals.
pub const MAX_DECIMALS: u8 = 30;

/// 10^decimals as i128; `Domain` above [`MAX_DECIMALS`].
pub fn pow10(decimals: u8) -> MathResult<i128> {
    if decimals > MAX_DECIMALS {
        return Err(MathError::Domain);
    }
    10i128
        .checked_pow(u32::from(decimals))
        .ok_or(MathError::Overflow)
}

const ONE_BITS: i128 = 1i128 << FRAC_BITS;

impl Fixed {
    /// A token amount in base units as a value in whole tokens: `amount / 10^decimals`.
    pub fn from_amount(amount: i128, decimals: u8, rounding: Rounding) -> MathResult<Fixed> {
        mul_div_i128(amount, ONE_BITS, pow10(decimals)?, rounding).map(Fixed::from_bits)
    }

    /// A value in whole tokens as base units: `self * 10^decimals`, rounded as asked.
    pub fn to_amount(self, decimals: u8, rounding: Rounding) -> MathResult<i128> {
        mul_div_i128(self.to_bits(), pow10(decimals)?, ONE_BITS, rounding)
    }

    /// `amount * self` for an integer amount, as an integer, rounded as asked (a fee rate times a
    /// notional, a fraction of a position).
    pub fn mul_amount(self, amount: i128, rounding: Rounding) -> MathResult<i128> {
        mul_div_i128(amount, self.to_bits(), ONE_BITS, rounding)
    }
}

/// Token decimals of a market: base asset (position sizes) and quote asset (collateral).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    parity_scale_codec::Encode,
    parity_scale_codec::Decode,
    scale_info::TypeInfo,
    parity_scale_codec::MaxEncodedLen,
)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Decimals {
    /// Decimals of the base asset: a size of `10^base` base units is one whole unit.
    pub base: u8,
    /// Decimals of the quote (collateral) token.
    pub quote: u8,
}

impl Decimals {
    /// Quote base units worth `size` base units at `price` (quote per base, whole units):
    /// `size * price * 10^(quote - base)`, with one rounding at the end.
    pub fn quote_value(self, size: i128, price: Fixed, rounding: Rounding) -> MathResult<i128> {
        if self.quote >= self.base {
            let scale = pow10(self.quote.wrapping_sub(self.base))?;
            let scaled_size = size.checked_mul(scale).ok_or(MathError::Overflow)?;
            mul_div_i128(scaled_size, price.to_bits(), ONE_BITS, rounding)
        } else {
            let scale = pow10(self.base.wrapping_sub(self.quote))?;
            let denominator = ONE_BITS.checked_mul(scale).ok_or(MathError::Overflow)?;
            mul_div_i128(size, price.to_bits(), denominator, rounding)
        }
    }

    /// Base units of size worth `value` quote base units at `price`; the inverse of
    /// [`Decimals::quote_value`]. `DivisionByZero` for a zero price.
    pub fn size_for_value(self, value: i128, price: Fixed, rounding: Rounding) -> MathResult<i128> {
        if self.base >= self.quote {
            let scale = pow10(self.base.wrapping_sub(self.quote))?;
            let numerator = ONE_BITS.checked_mul(scale).ok_or(MathError::Overflow)?;
            mul_div_i128(value, numerator, price.to_bits(), rounding)
        } else {
            let scale = pow10(self.quote.wrapping_sub(self.base))?;
            let denominator = price
                .to_bits()
                .checked_mul(scale)
                .ok_or(MathError::Overflow)?;
            mul_div_i128(value, ONE_BITS, denominator, rounding)
        }
    }

    /// The price (quote per base, whole units) at which `size` base units are worth `value`
    /// quote base units: `value * 10^(base - quote) / size`, with one rounding. Exact where
    /// `quote_value` of a small size would round to nothing. `DivisionByZero` for a zero size.
    pub fn price_for_value(self, value: i128, size: i128, rounding: Rounding) -> MathResult<Fixed> {
        if self.base >= self.quote {
            let scale = pow10(self.base.wrapping_sub(self.quote))?;
            let numerator = value.checked_mul(scale).ok_or(MathError::Overflow)?;
            Fixed::from_ratio_rounded(numerator, size, rounding)
        } else {
            let scale = pow10(self.quote.wrapping_sub(self.base))?;
            let denominator = size.checked_mul(scale).ok_or(MathError::Overflow)?;
            Fixed::from_ratio_rounded(value, denominator, rounding)
        }
    }

    /// A quote amount in base units as a [`Fixed`] number of whole quote units.
    pub fn quote_to_fixed(self, value: i128, rounding: Rounding) -> MathResult<Fixed> {
        Fixed::from_amount(value, self.quote, rounding)
    }
}

crate::impl_leaf_layout!(Decimals);

#[cfg(test)]
mod tests {
    use super::*;

    fn fx(text: &str) -> Fixed {
        Fixed::parse_decimal(text).unwrap()
    }

    #[test]
    fn the_price_for_a_value_inverts_the_value_at_a_price() {
        let eth = Decimals { base: 8, quote: 6 };
        // 99 base units owe 131,120.975384 USD: a price of 1.3245...e14 per whole unit, where
        // the quote value of 99 units at 1.0 (0.99 quote units) rounds to nothing.
        let value = 131_120_975_384i128;
        let up = eth.price_for_value(value, 99, Rounding::Ceil).unwrap();
        assert!(eth.quote_value(99, up, Rounding::Ceil).unwrap() >= value);
        let down = eth.price_for_value(value, 99, Rounding::Floor).unwrap();
        assert!(eth.quote_value(99, down, Rounding::Floor).unwrap() <= value);
        // Quote with more decimals than base, and the round trip at several sizes.
        let odd = Decimals { base: 2, quote: 9 };
        for size in [1i128, 7, 1_000, 123_456_789] {
            for d in [eth, odd] {
                let p = d.price_for_value(value, size, Rounding::Ceil).unwrap();
                let back = d.quote_value(size, p, Rounding::Ceil).unwrap();
                assert!(back >= value, "{size} {d:?}");
                // One unit of the price's resolution less would not cover it.
                let less = Fixed::from_bits(p.to_bits() - 1);
                assert!(
                    d.quote_value(size, less, Rounding::Floor).unwrap() < value,
                    "{size}"
                );
            }
        }
        assert_eq!(
            eth.price_for_value(value, 0, Rounding::Ceil),
            Err(MathError::DivisionByZero)
        );
    }

    #[test]
    fn token_amounts_round_both_ways() {
        // 1.5 tokens with 6 decimals.
        assert_eq!(fx("1.5").to_amount(6, Rounding::Floor), Ok(1_500_000));
        // 1/3 of a token: floor and ceil differ by exactly one base unit.
        let third = Fixed::from_ratio(1, 3).unwrap();
        assert_eq!(third.to_amount(6, Rounding::Floor), Ok(333_333));
        assert_eq!(third.to_amount(6, Rounding::Ceil), Ok(333_334));
        assert_eq!(
            Fixed::from_amount(1_500_000, 6, Rounding::Floor).unwrap(),
            fx("1.5")
        );
        assert_eq!(pow10(31), Err(MathError::Domain));
        assert_eq!(
            Fixed::MAX.to_amount(0, Rounding::Floor),
            Ok((1i128 << 79) - 1)
        );
        assert_eq!(Fixed::MAX.to_amount(0, Rounding::Ceil), Ok(1i128 << 79));
        assert_eq!(
            Fixed::MAX.to_amount(18, Rounding::Floor),
            Err(MathError::Overflow)
        );
        assert_eq!(
            Fixed::MAX.to_amount(30, Rounding::Floor),
            Err(MathError::Overflow)
        );
    }

    #[test]
    fn quote_value_of_a_btc_position() {
        // 0.5 BTC (8 decimals) at 20514.5 USD, collateral with 6 decimals: 10257.25 USD.
        let d = Decimals { base: 8, quote: 6 };
        assert_eq!(
            d.quote_value(50_000_000, fx("20514.5"), Rounding::Floor),
            Ok(10_257_250_000)
        );
        // A short position values negative and floors away from zero.
        assert_eq!(d.quote_value(-1, fx("20514.5"), Rounding::Floor), Ok(-206));
        assert_eq!(d.quote_value(-1, fx("20514.5"), Rounding::Ceil), Ok(-205));
        assert_eq!(
            d.size_for_value(10_257_250_000, fx("20514.5"), Rounding::Floor),
            Ok(50_000_000)
        );
        assert_eq!(
            d.size_for_value(1, Fixed::ZERO, Rounding::Floor),
            Err(MathError::DivisionByZero)
        );
        // Quote with more decimals than base.
        let e = Decimals { base: 6, quote: 18 };
        assert_eq!(
            e.quote_value(2_000_000, fx("3.25"), Rounding::Floor),
            Ok(6_500_000_000_000_000_000)
        );
        assert_eq!(
            e.size_for_value(6_500_000_000_000_000_000, fx("3.25"), Rounding::Floor),
            Ok(2_000_000)
        );
        assert_eq!(
            e.quote_value(i128::MAX, fx("1"), Rounding::Floor),
            Err(MathError::Overflow)
        );
    }
}
