//! Indexing along one axis: `select` (gather; alias `index_select`),
//! `slice`, `concat`, and their adjoints.
//!
//! - `y = select(x, axis, idx)`: `dx` is zero except `dx[.., idx[k], ..] += g[.., k, ..]`
//!   (scatter-add: an index chosen twice receives both gradients).
//! - `y = slice(x, axis, a..b)`: `dx` is `g` in `a..b` along the axis, zero elsewhere.
//! - `y = concat([x1, x2, ...], axis)`: `dxi` is the matching piece of `g`.
//!
//! A tensor is `outer` blocks of `len` rows of `inner` contiguous elements
//! around the axis, so every op here copies whole rows.

use std::ops::Range;

use crate::tensor::base::expect_same_shape;
use crate::tensor::device;
use crate::tensor::error::or_panic;
use crate::tensor::shape::{check_axis, numel, split_at_axis};
use crate::tensor::{Element, ShapeError, Tensor};

/// The entries `indices` of `x` along `axis`, in that order (repeats
/// allowed); fails for a bad axis or an index past the axis's end.
pub fn try_select<T: Element>(
    x: &Tensor<T>,
    axis: usize,
    indices: &[usize],
) -> Result<Tensor<T>, ShapeError> {
    check_indices("select", x.shape(), axis, indices)?;
    let (outer, len, inner) = split_at_axis(x.shape(), axis);
    let shape = with_axis_len(x.shape(), axis, indices.len());
    if let Some(y) = device::gather_axis(x, indices, (outer, len, inner), &shape) {
        return Ok(y);
    }
    let src = x.data();
    let mut out = Vec::with_capacity(outer * indices.len() * inner);
    for o in 0..outer {
        for &i in indices {
            let start = (o * len + i) * inner;
            out.extend_from_slice(&src[start..start + inner]);
        }
    }
    Ok(Tensor::from_parts(
        out,
        with_axis_len(x.shape(), axis, indices.len()),
    ))
}

/// Adjoint of [`try_select`]: the gradient scattered (added) back to the
/// selected positions of a zero tensor of the input's shape.
#[track_caller]
pub fn select_backward<T: Element>(
    input_shape: &[usize],
    axis: usize,
    indices: &[usize],
    grad: &Tensor<T>,
) -> Tensor<T> {
    or_panic(check_indices("select_backward", input_shape, axis, indices));
    expect_same_shape(
        "select_backward",
        grad.shape(),
        &with_axis_len(input_shape, axis, indices.len()),
    );
    let (outer, len, inner) = split_at_axis(input_shape, axis);
    if let Some(dx) = device::scatter_axis(grad, indices, (outer, len, inner), input_shape) {
        return dx;
    }
    let mut dx = vec![T::zero(); numel(input_shape)];
    if inner > 0 {
        let mut rows = grad.data().chunks_exact(inner);
        for o in 0..outer {
            for &i in indices {
                let start = (o * len + i) * inner;
                if let Some(row) = rows.next() {
                    for (d, &g) in dx[start..start + inner].iter_mut().zip(row) {
                        *d += g;
                    }
                }
            }
        }
    }
    Tensor::from_parts(dx, input_shape.to_vec())
}

/// The entries `range` of `x` along `axis`; fails for a bad axis or a range
/// that is reversed or reaches past the axis's end.
pub fn try_slice<T: Element>(
    x: &Tensor<T>,
    axis: usize,
    range: Range<usize>,
) -> Result<Tensor<T>, ShapeError> {
    check_range("slice", x.shape(), axis, &range)?;
    let (outer, len, inner) = split_at_axis(x.shape(), axis);
    if x.device() != crate::tensor::Device::Cpu {
        let picked: Vec<usize> = range.clone().collect();
        let shape = with_axis_len(x.shape(), axis, range.len());
        if let Some(y) = device::gather_axis(x, &picked, (outer, len, inner), &shape) {
            return Ok(y);
        }
    }
    let src = x.data();
    let mut out = Vec::with_capacity(outer * range.len() * inner);
    for o in 0..outer {
        out.extend_from_slice(&src[(o * len + range.start) * inner..(o * len + range.end) * inner]);
    }
    Ok(Tensor::from_parts(
        out,
        with_axis_len(x.shape(), axis, range.len()),
    ))
}

/// Adjoint of [`try_slice`]: the gradient placed at `range` along `axis` of
/// a zero tensor of the input's shape.
#[track_caller]
pub fn slice_backward<T: Element>(
    input_shape: &[usize],
    axis: usize,
    range: Range<usize>,
    grad: &Tensor<T>,
) -> Tensor<T> {
    or_panic(check_range("slice_backward", input_shape, axis, &range));
    expect_same_shape(
        "slice_backward",
        grad.shape(),
        &with_axis_len(input_shape, axis, range.len()),
    );
    let (outer, len, inner) = split_at_axis(input_shape, axis);
    if grad.device() != crate::tensor::Device::Cpu {
        let picked: Vec<usize> = range.clone().collect();
        if let Some(dx) = device::scatter_axis(grad, &picked, (outer, len, inner), input_shape) {
            return dx;
        }
    }
    let piece = range.len() * inner;
    let mut dx = vec![T::zero(); numel(input_shape)];
    if piece > 0 {
        for (o, g) in grad.data().chunks_exact(piece).enumerate().take(outer) {
            let start = (o * len + range.start) * inner;
            dx[start..start + piece].copy_from_slice(g);
        }
    }
    Tensor::from_parts(dx, input_shape.to_vec())
}

/// The tensors joined along `axis`; they must agree in every other axis.
/// Fails for an empty list, a bad axis or mismatched shapes.
pub fn try_concat<T: Element>(
    tensors: &[&Tensor<T>],
    axis: usize,
) -> Result<Tensor<T>, ShapeError> {
    let Some(first) = tensors.first() else {
        return Err(ShapeError::Empty {
            op: "concat",
            what: "the list of tensors".to_string(),
        });
    };
    check_axis("concat", first.shape(), axis)?;
    for t in tensors {
        let fits = t.ndim() == first.ndim()
            && t.shape()
                .iter()
                .zip(first.shape())
                .enumerate()
                .all(|(d, (a, b))| d == axis || a == b);
        if !fits {
            return Err(ShapeError::ConcatMismatch {
                op: "concat",
                axis,
                lhs: first.shape().to_vec(),
                rhs: t.shape().to_vec(),
            });
        }
    }
    let (outer, _, inner) = split_at_axis(first.shape(), axis);
    let total: usize = tensors.iter().map(|t| t.shape()[axis]).sum();
    let mut out = Vec::with_capacity(outer * total * inner);
    for o in 0..outer {
        for t in tensors {
            let piece = t.shape()[axis] * inner;
            out.extend_from_slice(&t.data()[o * piece..(o + 1) * piece]);
        }
    }
    Ok(Tensor::from_parts(
        out,
        with_axis_len(first.shape(), axis, total),
    ))
}

/// [`try_concat`], panicking with the error's message.
#[track_caller]
pub fn concat<T: Element>(tensors: &[&Tensor<T>], axis: usize) -> Tensor<T> {
    or_panic(try_concat(tensors, axis))
}

/// Adjoint of [`try_concat`]: `grad` split along `axis` into pieces of the
/// given lengths (the inputs' lengths along the axis).
#[track_caller]
pub fn concat_backward<T: Element>(
    lengths: &[usize],
    axis: usize,
    grad: &Tensor<T>,
) -> Vec<Tensor<T>> {
    or_panic(check_axis("concat_backward", grad.shape(), axis));
    let total: usize = lengths.iter().sum();
    expect_same_shape(
        "concat_backward",
        grad.shape(),
        &with_axis_len(grad.shape(), axis, total),
    );
    let (outer, _, inner) = split_at_axis(grad.shape(), axis);
    let mut pieces: Vec<Vec<T>> = lengths
        .iter()
        .map(|&l| Vec::with_capacity(outer * l * inner))
        .collect();
    let mut offset = 0;
    for _ in 0..outer {
        for (piece, &l) in pieces.iter_mut().zip(lengths) {
            piece.extend_from_slice(&grad.data()[offset..offset + l * inner]);
            offset += l * inner;
        }
    }
    pieces
        .into_iter()
        .zip(lengths)
        .map(|(data, &l)| Tensor::from_parts(data, with_axis_len(grad.shape(), axis, l)))
        .collect()
}

impl<T: Element> Tensor<T> {
    /// The entries `indices` along `axis` (a gather), or an error for a bad
    /// axis or index.
    pub fn try_select(&self, axis: usize, indices: &[usize]) -> Result<Self, ShapeError> {
        try_select(self, axis, indices)
    }

    /// The entries `indices` along `axis` (a gather); panics for a bad axis
    /// or index.
    #[track_caller]
    pub fn select(&self, axis: usize, indices: &[usize]) -> Self {
        or_panic(try_select(self, axis, indices))
    }

    /// Alias of [`Tensor::try_select`] (torch's name).
    pub fn try_index_select(&self, axis: usize, indices: &[usize]) -> Result<Self, ShapeError> {
        try_select(self, axis, indices)
    }

    /// Alias of [`Tensor::select`] (torch's name).
    #[track_caller]
    pub fn index_select(&self, axis: usize, indices: &[usize]) -> Self {
        or_panic(try_select(self, axis, indices))
    }

    /// The entries `range` along `axis`, or an error for a bad axis or range.
    pub fn try_slice(&self, axis: usize, range: Range<usize>) -> Result<Self, ShapeError> {
        try_slice(self, axis, range)
    }

    /// The entries `range` along `axis`; panics for a bad axis or range.
    #[track_caller]
    pub fn slice(&self, axis: usize, range: Range<usize>) -> Self {
        or_panic(try_slice(self, axis, range))
    }
}

/// `shape` with the length of `axis` replaced.
fn with_axis_len(shape: &[usize], axis: usize, len: usize) -> Vec<usize> {
    let mut out = shape.to_vec();
    out[axis] = len;
    out
}

/// Checks the axis and that every index is below its length.
fn check_indices(
    op: &'static str,
    shape: &[usize],
    axis: usize,
    indices: &[usize],
) -> Result<(), ShapeError> {
    check_axis(op, shape, axis)?;
    match indices.iter().find(|&&i| i >= shape[axis]) {
        Some(&index) => Err(ShapeError::IndexOutOfRange {
            op,
            index,
            axis,
            shape: shape.to_vec(),
        }),
        None => Ok(()),
    }
}

/// Checks the axis and that `range` is ordered and within its length.
fn check_range(
    op: &'static str,
    shape: &[usize],
    axis: usize,
    range: &Range<usize>,
) -> Result<(), ShapeError> {
    check_axis(op, shape, axis)?;
    if range.start > range.end || range.end > shape[axis] {
        return Err(ShapeError::RangeOutOfBounds {
            op,
            start: range.start,
            end: range.end,
            axis,
            shape: shape.to_vec(),
        });
    }
    Ok(())
}
