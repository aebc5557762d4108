//! [`Float`]: the arithmetic the element-wise and reduction kernels need,
//! for `f32` and `f64` (the transcendental functions are in [`crate::math`]).

use crate::math;
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

    /// `e^x`; call it as [`math::exp`].
    fn exp_kernel(self) -> Self;

    /// `tanh x`; call it as [`math::tanh`].
    fn tanh_kernel(self) -> Self;

    /// `1 / (1 + e^-x)`; call it as [`math::sigmoid`].
    fn sigmoid_kernel(self) -> Self;
}

impl Float for f32 {
    const ZERO: f32 = 0.0;
    #[inline]
    fn max(self, other: f32) -> f32 {
        f32::max(self, other)
    }
    #[inline]
    fn exp_kernel(self) -> f32 {
        math::exp_f32(self)
    }
    #[inline]
    fn tanh_kernel(self) -> f32 {
        math::tanh_f32(self)
    }
    #[inline]
    fn sigmoid_kernel(self) -> f32 {
        math::sigmoid_f32(self)
    }
}

impl Float for f64 {
    const ZERO: f64 = 0.0;
    #[inline]
    fn max(self, other: f64) -> f64 {
        f64::max(self, other)
    }
    #[inline]
    fn exp_kernel(self) -> f64 {
        self.exp()
    }
    #[inline]
    fn tanh_kernel(self) -> f64 {
        self.tanh()
    }
    #[inline]
    fn sigmoid_kernel(self) -> f64 {
        math::sigmoid_f64(self)
    }
}
