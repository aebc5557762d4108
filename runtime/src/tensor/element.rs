//! The scalar types a [`Tensor`](super::Tensor) can hold.

use std::fmt::{Debug, Display};

use adjoint_kernels::Gemm;
use num_traits::Float;

/// A floating-point element type of tensors: `f32` (the default) or `f64`
/// (used by gradient checks, where central differences need the precision).
///
/// The bounds are what the ops need: arithmetic and math functions
/// ([`Float`]), matrix products ([`Gemm`]), sharing across threads, and
/// printing.
pub trait Element:
    Float + Gemm + adjoint_kernels::Float + DeviceElement + Send + Sync + Debug + Display + 'static
{
    /// Converts an `f64` to this type, rounding to nearest (used for
    /// constants such as `0.5` or `1 / n` in generic code).
    fn cast_f64(x: f64) -> Self;

    /// Converts a count (a number of elements or rows) to this type.
    fn cast_usize(n: usize) -> Self {
        Self::cast_f64(n as f64)
    }
}

/// What a CUDA buffer, its kernels and cuBLAS need of an element type
/// (nothing without the `cuda` feature).
#[cfg(feature = "cuda")]
pub trait DeviceElement: adjoint_kernels::cuda::device::DeviceFloat {}

#[cfg(feature = "cuda")]
impl<T: adjoint_kernels::cuda::device::DeviceFloat> DeviceElement for T {}

/// What a CUDA buffer, its kernels and cuBLAS need of an element type
/// (nothing without the `cuda` feature).
#[cfg(not(feature = "cuda"))]
pub trait DeviceElement {}

#[cfg(not(feature = "cuda"))]
impl<T> DeviceElement for T {}

impl Element for f32 {
    #[inline]
    fn cast_f64(x: f64) -> Self {
        x as f32
    }
}

impl Element for f64 {
    #[inline]
    fn cast_f64(x: f64) -> Self {
        x
    }
}
