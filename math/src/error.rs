use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// Why a fixed-point operation refused to produce a value.
///
/// Every fallible operation in this crate returns one of these instead of panicking or wrapping,
/// so a caller can turn it into its own typed error and change nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum MathError {
    /// The result does not fit the target type.
    Overflow,
    /// A divisor was zero.
    DivisionByZero,
    /// The input lies outside the function's domain (ln of a non-positive number, sqrt of a
    /// negative one, an unsupported number of token decimals).
    Domain,
    /// A decimal string could not be parsed.
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
