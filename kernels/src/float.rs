//! [`Float`]: the arithmetic the element-wise and reduction kernels need,
//! for `f32` and `f64`.

use std::ops::{Add, AddAssign, Mul};

/// A floating-point element type of the kernels (`f32`, `f64`).
pub trait Float:
    Copy + Send + Sync + PartialOrd + Add<Output = Self> + AddAssign + Mul<Output = Self> + 'static
{
    /// Additive identity, the sum of nothing.
    const ZERO: Self;

    /// The larger of two values; a NaN loses to a number (IEEE `maxNum`, as
    /// `f32::max`).
    fn max(self, other: Self) -> Self;
}

impl Float for f32 {
    const ZERO: f32 = 0.0;
    fn max(self, other: f32) -> f32 {
        f32::max(self, other)
    }
}

impl Float for f64 {
    const ZERO: f64 = 0.0;
    fn max(self, other: f64) -> f64 {
        f64::max(self, other)
    }
}
