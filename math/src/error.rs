use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// Why a fixed-point operation refused to produce a value.
///
/// Every fallible operation in this crate returns one of these instead of panicking or wrapping,
/// so a caller can turn it into its own typed error and change nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum MathError {
    /// The result does not fit the target type.
    #[codec(index = 0)]
    Overflow,
    /// A divisor was zero.
    #[codec(index = 1)]
    DivisionByZero,
    /// The input lies outside the function's domain (ln of a non-positive number, sqrt of a
    /// negative one, an unsupported number of token decimals).
    #[codec(index = 2)]
    Domain,
    /// A decimal string could not be parsed.
    #[codec(index = 3)]
    Parse,
}

impl core::fmt::Display for MathError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let text = match self {
            MathError::Overflow => "overflow",
            MathError::DivisionByZero => "division by zero",
            MathError::Domain => "argument outside the domain",
            MathError::Parse => "not a decimal number",
        };
        f.write_str(text)
    }
}

/// Shorthand for results of this crate.
pub type MathResult<T> = Result<T, MathError>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Callers decode `MathError` (inside the risk and engine errors) by its SCALE index.
    #[test]
    fn encodings_are_pinned() {
        let errors = [
            (MathError::Overflow, 0),
            (MathError::DivisionByZero, 1),
            (MathError::Domain, 2),
            (MathError::Parse, 3),
        ];
        for (error, index) in errors {
            assert_eq!(error.encode(), [index], "{error:?}");
        }
    }
}
