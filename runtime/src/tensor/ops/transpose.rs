//! Swapping two axes (`transpose`, and `t` for the last two) and the
//! adjoint, which swaps them back: `y = xᵀ` gives `dx = gᵀ`.
//!
//! Tensors are always contiguous, so the result is materialised; swapping
//! the last two axes uses a cache-blocked copy. (Matrix products never need
//! this: `matmul` and its adjoint use transposed views.)

use crate::tensor::error::or_panic;
use crate::tensor::shape::{check_axis, for_each_row, last_axis, numel, row_major_strides};
use crate::tensor::{Element, ShapeError, Tensor};

/// Side of the square tiles the blocked transpose copies.
const TILE: usize = 32;

/// `x` with axes `a0` and `a1` swapped; fails for an axis out of range.
pub fn try_transpose<T: Element>(
    x: &Tensor<T>,
    a0: usize,
    a1: usize,
) -> Result<Tensor<T>, ShapeError> {
    check_axis("transpose", x.shape(), a0)?;
    check_axis("transpose", x.shape(), a1)?;
    Ok(swap_axes(x, a0, a1))
}

/// Adjoint of [`try_transpose`]: the gradient with the same axes swapped back.
#[track_caller]
pub fn transpose_backward<T: Element>(a0: usize, a1: usize, grad: &Tensor<T>) -> Tensor<T> {
    or_panic(try_transpose(grad, a0, a1))
}

/// `x` with its last two axes swapped (the matrix transpose, batched for
/// 3-D and higher); fails for a tensor of fewer than 2 dimensions.
pub fn try_t<T: Element>(x: &Tensor<T>) -> Result<Tensor<T>, ShapeError> {
    let nd = x.ndim();
    if nd < 2 {
        return Err(ShapeError::Rank {
            op: "t",
            expected: "at least 2 dimensions",
            shape: x.shape().to_vec(),
        });
    }
    Ok(swap_axes(x, nd - 2, nd - 1))
}

/// Adjoint of [`try_t`]: the gradient transposed back.
#[track_caller]
pub fn t_backward<T: Element>(grad: &Tensor<T>) -> Tensor<T> {
    or_panic(try_t(grad))
}

impl<T: Element> Tensor<T> {
    /// This tensor with axes `a0` and `a1` swapped, or an error for a bad axis.
    pub fn try_transpose(&self, a0: usize, a1: usize) -> Result<Self, ShapeError> {
        try_transpose(self, a0, a1)
    }

    /// This tensor with axes `a0` and `a1` swapped; panics for a bad axis.
    #[track_caller]
    pub fn transpose(&self, a0: usize, a1: usize) -> Self {
        or_panic(try_transpose(self, a0, a1))
    }

    /// The transpose of the last two axes, or an error below 2 dimensions.
    pub fn try_t(&self) -> Result<Self, ShapeError> {
        try_t(self)
    }

    /// The transpose of the last two axes; panics below 2 dimensions.
    #[track_caller]
    pub fn t(&self) -> Self {
        or_panic(try_t(self))
    }
}

/// Swaps two valid axes, materialising the result.
fn swap_axes<T: Element>(x: &Tensor<T>, a0: usize, a1: usize) -> Tensor<T> {
    if a0 == a1 {
        return x.clone();
    }
    if let Some(y) = crate::tensor::device::transpose(x, a0, a1) {
        return y;
    }
    let mut shape = x.shape().to_vec();
    shape.swap(a0, a1);
    let nd = shape.len();
    let src = x.data();
    let mut out = Vec::with_capacity(x.len());
    if (a0.min(a1), a0.max(a1)) == (nd - 2, nd - 1) {
        let (rows, cols) = (x.shape()[nd - 2], x.shape()[nd - 1]);
        out.resize(x.len(), T::zero());
        let batch = numel(&shape[..nd - 2]);
        for i in 0..batch {
            let span = i * rows * cols..(i + 1) * rows * cols;
            transpose_matrix(&src[span.clone()], rows, cols, &mut out[span]);
        }
    } else {
        let mut strides = row_major_strides(x.shape());
        strides.swap(a0, a1);
        let (len, step) = last_axis(&shape, &strides);
        for_each_row(&shape, &strides, |i| {
            out.extend((0..len).map(|t| src[i + t * step]))
        });
    }
    Tensor::from_parts(out, shape)
}

/// Writes the transpose of the row-major `rows × cols` matrix `src` into
/// `dst` (`cols × rows`), tile by tile so both sides stay in cache.
pub(crate) fn transpose_matrix<T: Copy>(src: &[T], rows: usize, cols: usize, dst: &mut [T]) {
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
}
