//! Ballast's numeric foundation: a checked, deterministic signed fixed-point number built on
//! the `fixed` crate, with ln/exp written here, 256-bit `mul_div`, and explicit-rounding
//! conversions between token amounts and fixed-point prices.
//!
//! `no_std`, no floats, no panics: every fallible operation returns [`MathError`].
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(
    test,
    allow(
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss,
        clippy::unwrap_used
    )
)]

pub mod amount;
mod error;
mod fixed_point;
mod transcendental;
mod wide;

pub use amount::{pow10, Decimals, MAX_DECIMALS};
pub use error::{MathError, MathResult};
pub use fixed_point::{Fixed, FRAC_BITS};
pub use transcendental::EXP_MAX;
pub use wide::{mul_div_i128, Rounding};

/// Re-exports for [`impl_leaf_layout!`]; not part of the API.
#[cfg(feature = "ink-layout")]
#[doc(hidden)]
pub mod __ink {
    pub use ink_metadata;
    pub use ink_primitives;
    pub use ink_storage_traits;
}

/// Implements ink!'s `StorageLayout` for SCALE-encoded (packed) types as one leaf each, so the
/// logic crates can describe their state to contract metadata without depending on ink! macros.
///
/// Expands to nothing unless the calling crate's own `ink-layout` feature is on (which must turn
/// on this crate's `ink-layout` feature).
#[macro_export]
macro_rules! impl_leaf_layout {
    ($($ty:ty),* $(,)?) => {
        $(
            #[cfg(feature = "ink-layout")]
            impl $crate::__ink::ink_storage_traits::StorageLayout for $ty {
                fn layout(
                    key: &$crate::__ink::ink_primitives::Key,
                ) -> $crate::__ink::ink_metadata::layout::Layout {
                    $crate::__ink::ink_metadata::layout::Layout::Leaf(
                        $crate::__ink::ink_metadata::layout::LeafLayout::from_key::<$ty>(
                            $crate::__ink::ink_metadata::layout::LayoutKey::from(key),
                        ),
                    )
                }
            }
        )*
    };
}
