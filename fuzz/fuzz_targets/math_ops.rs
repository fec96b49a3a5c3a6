//! Every `Fixed` operation on arbitrary bits: results either a typed error or the exact value.
//! Where the exact result fits in i128 it is computed natively and compared bit for bit; over
//! the full range the checks are the algebraic ones (rounding order, one-ulp bounds,
//! monotonicity, round trips).
#![no_main]

use arbitrary::Arbitrary;
use ballast_math::{mul_div_i128, Decimals, Fixed, MathError, Rounding};
use libfuzzer_sys::fuzz_target;

const ONE: i128 = 1 << 48;

#[derive(Debug, Arbitrary)]
struct Input {
    a: i128,
    b: i128,
    c: i128,
    small: bool,
    base_decimals: u8,
    quote_decimals: u8,
    text: String,
}

/// Exact floor / ceil / nearest (half away from zero) of n / d for d != 0, when it fits.
fn divide(n: i128, d: i128, rounding: Rounding) -> Option<i128> {
    let q = n.checked_div(d)?;
    let r = n.checked_rem(d)?;
    if r == 0 {
        return Some(q);
    }
    let negative = (n < 0) != (d < 0);
    match rounding {
        Rounding::Floor => Some(if negative { q - 1 } else { q }),
        Rounding::Ceil => Some(if negative { q } else { q + 1 }),
        Rounding::Nearest => {
            let twice = r.unsigned_abs().checked_mul(2)?;
            if twice >= d.unsigned_abs() {
                Some(if negative { q - 1 } else { q + 1 })
            } else {
                Some(q)
            }
        }
    }
}

fuzz_target!(|input: Input| {
    let (mut a, mut b, mut c) = (input.a, input.b, input.c);
    if input.small {
        // Products that fit in i128, so that exact references exist.
        a >>= 65;
        b >>= 65;
        c >>= 65;
    }
    let (x, y) = (Fixed::from_bits(a), Fixed::from_bits(b));

    // Addition and subtraction are exact or overflow.
    assert_eq!(x.checked_add(y).ok().map(Fixed::to_bits), a.checked_add(b));
    assert_eq!(x.checked_sub(y).ok().map(Fixed::to_bits), a.checked_sub(b));

    // Multiplication and division by every rounding, against the exact quotient.
    for rounding in [Rounding::Floor, Rounding::Ceil, Rounding::Nearest] {
        let product = x.mul_rounded(y, rounding).ok().map(Fixed::to_bits);
        if let Some(exact) = a.checked_mul(b) {
            assert_eq!(
                product,
                divide(exact, ONE, rounding),
                "{a} * {b} {rounding:?}"
            );
        }
        if let (Ok(p), Ok(fl), Ok(ce)) = (
            x.mul_rounded(y, rounding),
            x.mul_rounded(y, Rounding::Floor),
            x.mul_rounded(y, Rounding::Ceil),
        ) {
            assert!(fl <= p && p <= ce && ce.to_bits() - fl.to_bits() <= 1);
        }
        let via_wide = mul_div_i128(a, b, c, rounding);
        match a.checked_mul(b) {
            Some(exact) if c != 0 => assert_eq!(via_wide.ok(), divide(exact, c, rounding)),
            _ if c == 0 => assert_eq!(via_wide, Err(MathError::DivisionByZero)),
            _ => {}
        }
        if b != 0 {
            let quotient = x.div_rounded(y, rounding).ok().map(Fixed::to_bits);
            if let Some(scaled) = a.checked_mul(ONE) {
                assert_eq!(
                    quotient,
                    divide(scaled, b, rounding),
                    "{a} / {b} {rounding:?}"
                );
            }
        } else {
            assert!(x.div_rounded(y, rounding).is_err());
        }
    }

    // Square root: within one ulp, r^2 <= x < (r+1)^2 in raw bits scaled by 2^48.
    if a >= 0 {
        let r = x.sqrt().expect("sqrt of a non-negative value");
        assert!(!r.is_negative());
        if a < (1 << 79) {
            let square = r.to_bits() * r.to_bits();
            let target = a * ONE;
            let slack = 2 * r.to_bits() + 1;
            assert!(
                (square - target).abs() <= slack,
                "sqrt({a}) = {}",
                r.to_bits()
            );
        }
    } else {
        assert!(x.sqrt().is_err());
    }

    // ln and exp: typed errors outside their domains, monotone, and inverse of each other.
    match (x.ln(), y.ln()) {
        (Ok(lx), Ok(ly)) => {
            assert!(a > 0 && b > 0);
            if a < b {
                // Monotone to within the functions' own rounding (one or two ulps).
                assert!(lx.to_bits() <= ly.to_bits() + 2, "ln({a}) > ln({b})");
            }
            if let Ok(back) = lx.exp() {
                // exp(ln x) returns x within 1e-12 relative plus an ulp or two.
                let err = (back.to_bits() - a).unsigned_abs();
                assert!(
                    err <= (a.unsigned_abs() >> 38) + 4,
                    "exp(ln({a})) = {}",
                    back.to_bits()
                );
            }
        }
        (lx, ly) => {
            assert!(lx.is_ok() || a <= 0);
            assert!(ly.is_ok() || b <= 0);
        }
    }
    if let (Ok(ex), Ok(ey)) = (x.exp(), y.exp()) {
        assert!(ex.is_positive() || a < 0);
        if a < b {
            let slack = (ey.to_bits() >> 38) + 2;
            assert!(ex.to_bits() <= ey.to_bits() + slack, "exp({a}) > exp({b})");
        }
    }

    // Token conversions: floor <= ceil within one unit, and the inverse never creates value.
    let decimals = Decimals {
        base: input.base_decimals % 19,
        quote: input.quote_decimals % 19,
    };
    if y.is_positive() {
        if let (Ok(fl), Ok(ce)) = (
            decimals.quote_value(a, y, Rounding::Floor),
            decimals.quote_value(a, y, Rounding::Ceil),
        ) {
            assert!(fl <= ce && ce - fl <= 1);
            if let Ok(size) = decimals.size_for_value(fl, y, Rounding::Floor) {
                if a >= 0 {
                    assert!(size <= a, "size {size} for value {fl} exceeds {a}");
                }
            }
        }
    }

    // Parsing arbitrary text never panics.
    let _ = Fixed::parse_decimal(&input.text);
});
