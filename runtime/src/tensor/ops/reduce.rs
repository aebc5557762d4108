//! Reductions: `sum`, `mean`, `max` over all elements (to a scalar) or
//! along one axis (to a tensor), and their adjoints.
//!
//! - `s = Σ x`: `dx = g` everywhere; `m = Σ x / n`: `dx = g / n`.
//! - `M = max x`: the gradient goes to the first arg-max only.
//! - Along an axis the same rules apply per slice: `sum_axis`'s adjoint
//!   broadcasts `g` back along the axis.
//!
//! A sum over zero elements is 0. A reduction that averages or selects over
//! zero elements (`mean`, `mean_axis` along an axis of length 0, `max`,
//! `max_axis`, `argmax_axis`) has no value: it is a
//! [`ShapeError::EmptyReduction`] naming the op and the shape (the `try_`
//! forms return it, the others panic with its message), never NaN.

use crate::tensor::device;
use crate::tensor::error::or_panic;
use crate::tensor::shape::{check_axis, split_at_axis};
use crate::tensor::Place;
use crate::tensor::{Element, ShapeError, Tensor};

/// Sum of a slice: the kernels' pairwise sum (accurate, vectorised, split
/// across cores for long slices, independent of the thread count).
pub(crate) fn sum_slice<T: Element>(xs: &[T]) -> T {
    adjoint_kernels::reduce::sum(xs)
}

/// `Σ f(a[i], b[i])` over two slices of equal length, in eight lanes (so
/// the loop vectorises), without materialising the terms.
pub(crate) fn sum_zip<T: Element>(a: &[T], b: &[T], f: impl Fn(T, T) -> T) -> T {
    let mut lanes = [T::zero(); 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (xs, ys) in ca.zip(cb) {
        for ((lane, &x), &y) in lanes.iter_mut().zip(xs).zip(ys) {
            *lane += f(x, y);
        }
    }
    let head = lanes.iter().fold(T::zero(), |acc, &v| acc + v);
    ra.iter().zip(rb).fold(head, |acc, (&x, &y)| acc + f(x, y))
}

/// The sum of all elements (0 for an empty tensor).
pub fn sum<T: Element>(x: &Tensor<T>) -> T {
    crate::tensor::device::sum(x).unwrap_or_else(|| sum_slice(x.data()))
}

/// Adjoint of [`sum`]: `grad` in every position of the input's shape, on
/// the input's device (a [`Placement`](crate::tensor::Placement), or a bare
/// shape for the host).
pub fn sum_backward<T: Element, P: Place + ?Sized>(input: &P, grad: T) -> Tensor<T> {
    full_on(input, grad)
}

/// `value` everywhere in a tensor placed as `input` says.
fn full_on<T: Element, P: Place + ?Sized>(input: &P, value: T) -> Tensor<T> {
    let host = Tensor::full(input.shape(), value);
    host.to_device(input.device())
        .unwrap_or_else(|e| panic!("a gradient on {}: {e}", input.device()))
}

/// The mean of all elements; fails for an empty tensor
/// (`mean: cannot average over zero elements (shape [0, 10])`).
pub fn try_mean<T: Element>(x: &Tensor<T>) -> Result<T, ShapeError> {
    if x.is_empty() {
        return Err(empty_error("mean", AVERAGE, x.shape(), None));
    }
    Ok(sum(x) / T::cast_usize(x.len()))
}

/// [`try_mean`], panicking with the error's message for an empty tensor.
#[track_caller]
pub fn mean<T: Element>(x: &Tensor<T>) -> T {
    or_panic(try_mean(x))
}

/// Adjoint of [`mean`]: `grad / n` in every position of the input's shape;
/// panics for an empty shape, as [`mean`] does.
#[track_caller]
pub fn mean_backward<T: Element, P: Place + ?Sized>(input: &P, grad: T) -> Tensor<T> {
    let n: usize = input.shape().iter().product();
    if n == 0 {
        panic!(
            "{}",
            empty_error("mean_backward", AVERAGE, input.shape(), None)
        );
    }
    full_on(input, grad / T::cast_usize(n))
}

/// The largest element; fails for an empty tensor. NaNs are ignored unless
/// every element is NaN.
pub fn try_max<T: Element>(x: &Tensor<T>) -> Result<T, ShapeError> {
    if !x.is_empty() {
        if let Some(m) = device::max_axis(x, (1, x.len(), 1), &[]) {
            return Ok(m.item());
        }
    }
    first_argmax(x.data())
        .map(|i| x.data()[i])
        .ok_or_else(|| empty_error("max", MAXIMUM, x.shape(), None))
}

/// Adjoint of [`try_max`]: `grad` at the first arg-max, zero elsewhere.
#[track_caller]
pub fn max_backward<T: Element>(x: &Tensor<T>, grad: T) -> Tensor<T> {
    if !x.is_empty() && x.device() != crate::tensor::Device::Cpu {
        let flat = x.reshape(&[1, x.len(), 1]);
        let g = x.scalar_like(grad).reshape(&[1, 1]);
        if let Some(dx) = device::max_axis_backward(&flat, (1, x.len(), 1), &g) {
            return dx.reshape(x.shape());
        }
    }
    let i = or_panic(
        first_argmax(x.data()).ok_or_else(|| empty_error("max_backward", MAXIMUM, x.shape(), None)),
    );
    let mut dx = vec![T::zero(); x.len()];
    dx[i] = grad;
    Tensor::from_parts(dx, x.shape().to_vec())
}

/// Sums along `axis`; with `keepdim` the axis stays with length 1 (so the
/// result broadcasts against `x`), otherwise it is removed.
pub fn try_sum_axis<T: Element>(
    x: &Tensor<T>,
    axis: usize,
    keepdim: bool,
) -> Result<Tensor<T>, ShapeError> {
    check_axis("sum_axis", x.shape(), axis)?;
    let dims = split_at_axis(x.shape(), axis);
    let shape = reduced_shape(x.shape(), axis, keepdim);
    if let Some(y) = device::sum_axis(x, dims, T::one(), &shape) {
        return Ok(y);
    }
    Ok(Tensor::from_parts(
        sum_along(x.data(), dims),
        reduced_shape(x.shape(), axis, keepdim),
    ))
}

/// Adjoint of [`try_sum_axis`]: `grad` (with or without the kept axis)
/// repeated along `axis` to the input's shape.
#[track_caller]
pub fn sum_axis_backward<T: Element>(
    input_shape: &[usize],
    axis: usize,
    grad: &Tensor<T>,
) -> Tensor<T> {
    check_reduced_grad("sum_axis_backward", input_shape, axis, grad);
    if let Some(dx) = spread_on_device(grad, input_shape, axis, T::one()) {
        return dx;
    }
    Tensor::from_parts(
        spread_along(grad.data(), split_at_axis(input_shape, axis), T::one()),
        input_shape.to_vec(),
    )
}

/// Means along `axis`, keeping it with length 1 when `keepdim`; fails when
/// the axis is out of range or has length 0.
pub fn try_mean_axis<T: Element>(
    x: &Tensor<T>,
    axis: usize,
    keepdim: bool,
) -> Result<Tensor<T>, ShapeError> {
    check_nonempty_axis("mean_axis", AVERAGE, x.shape(), axis)?;
    let dims = split_at_axis(x.shape(), axis);
    let scale = T::one() / T::cast_usize(dims.1);
    let shape = reduced_shape(x.shape(), axis, keepdim);
    if let Some(y) = device::sum_axis(x, dims, scale, &shape) {
        return Ok(y);
    }
    let mut data = sum_along(x.data(), dims);
    data.iter_mut().for_each(|v| *v = *v * scale);
    Ok(Tensor::from_parts(
        data,
        reduced_shape(x.shape(), axis, keepdim),
    ))
}

/// Adjoint of [`try_mean_axis`]: `grad / len(axis)` repeated along `axis`;
/// panics for an axis of length 0, as the forward does.
#[track_caller]
pub fn mean_axis_backward<T: Element>(
    input_shape: &[usize],
    axis: usize,
    grad: &Tensor<T>,
) -> Tensor<T> {
    check_reduced_grad("mean_axis_backward", input_shape, axis, grad);
    or_panic(check_nonempty_axis(
        "mean_axis_backward",
        AVERAGE,
        input_shape,
        axis,
    ));
    let dims = split_at_axis(input_shape, axis);
    let scale = T::one() / T::cast_usize(dims.1);
    if let Some(dx) = spread_on_device(grad, input_shape, axis, scale) {
        return dx;
    }
    Tensor::from_parts(spread_along(grad.data(), dims, scale), input_shape.to_vec())
}

/// Maxima along `axis`, keeping it with length 1 when `keepdim`; fails when
/// the axis is out of range or has length 0.
pub fn try_max_axis<T: Element>(
    x: &Tensor<T>,
    axis: usize,
    keepdim: bool,
) -> Result<Tensor<T>, ShapeError> {
    if x.device() != crate::tensor::Device::Cpu {
        check_nonempty_axis("max_axis", MAXIMUM, x.shape(), axis)?;
        let dims = split_at_axis(x.shape(), axis);
        let shape = reduced_shape(x.shape(), axis, keepdim);
        if let Some(y) = device::max_axis(x, dims, &shape) {
            return Ok(y);
        }
    }
    let idx = try_argmax_axis_named("max_axis", x, axis)?;
    let (_, len, inner) = split_at_axis(x.shape(), axis);
    let data = idx
        .iter()
        .enumerate()
        .map(|(k, &j)| x.data()[source_offset(k, j, len, inner)])
        .collect();
    Ok(Tensor::from_parts(
        data,
        reduced_shape(x.shape(), axis, keepdim),
    ))
}

/// Adjoint of [`try_max_axis`]: each element of `grad` goes to the first
/// arg-max of its slice along `axis`; zero elsewhere.
#[track_caller]
pub fn max_axis_backward<T: Element>(x: &Tensor<T>, axis: usize, grad: &Tensor<T>) -> Tensor<T> {
    check_reduced_grad("max_axis_backward", x.shape(), axis, grad);
    if let Some(dx) = device::max_axis_backward(x, split_at_axis(x.shape(), axis), grad) {
        return dx;
    }
    let idx = or_panic(try_argmax_axis_named("max_axis_backward", x, axis));
    let (_, len, inner) = split_at_axis(x.shape(), axis);
    let mut dx = vec![T::zero(); x.len()];
    for (k, (&j, &g)) in idx.iter().zip(grad.data()).enumerate() {
        dx[source_offset(k, j, len, inner)] = g;
    }
    Tensor::from_parts(dx, x.shape().to_vec())
}

/// The index along `axis` of the first maximum of each slice, in row-major
/// order of the remaining axes (e.g. the predicted class of each row of
/// `[n, c]` logits for `axis = 1`). Not differentiable.
pub fn try_argmax_axis<T: Element>(x: &Tensor<T>, axis: usize) -> Result<Vec<usize>, ShapeError> {
    try_argmax_axis_named("argmax_axis", x, axis)
}

impl<T: Element> Tensor<T> {
    /// The sum of all elements.
    pub fn sum(&self) -> T {
        sum(self)
    }

    /// The mean of all elements, or an error for an empty tensor.
    pub fn try_mean(&self) -> Result<T, ShapeError> {
        try_mean(self)
    }

    /// The mean of all elements; panics for an empty tensor.
    #[track_caller]
    pub fn mean(&self) -> T {
        mean(self)
    }

    /// The largest element, or an error for an empty tensor.
    pub fn try_max(&self) -> Result<T, ShapeError> {
        try_max(self)
    }

    /// The largest element; panics for an empty tensor.
    #[track_caller]
    pub fn max(&self) -> T {
        or_panic(try_max(self))
    }

    /// Sums along `axis` (kept with length 1 when `keepdim`), or an error
    /// for a bad axis.
    pub fn try_sum_axis(&self, axis: usize, keepdim: bool) -> Result<Self, ShapeError> {
        try_sum_axis(self, axis, keepdim)
    }

    /// Sums along `axis` (kept with length 1 when `keepdim`); panics for a bad axis.
    #[track_caller]
    pub fn sum_axis(&self, axis: usize, keepdim: bool) -> Self {
        or_panic(try_sum_axis(self, axis, keepdim))
    }

    /// Means along `axis`, or an error for a bad or empty axis.
    pub fn try_mean_axis(&self, axis: usize, keepdim: bool) -> Result<Self, ShapeError> {
        try_mean_axis(self, axis, keepdim)
    }

    /// Means along `axis`; panics for a bad or empty axis.
    #[track_caller]
    pub fn mean_axis(&self, axis: usize, keepdim: bool) -> Self {
        or_panic(try_mean_axis(self, axis, keepdim))
    }

    /// Maxima along `axis`, or an error for a bad or empty axis.
    pub fn try_max_axis(&self, axis: usize, keepdim: bool) -> Result<Self, ShapeError> {
        try_max_axis(self, axis, keepdim)
    }

    /// Maxima along `axis`; panics for a bad or empty axis.
    #[track_caller]
    pub fn max_axis(&self, axis: usize, keepdim: bool) -> Self {
        or_panic(try_max_axis(self, axis, keepdim))
    }

    /// First arg-max along `axis` of each slice, or an error for a bad or empty axis.
    pub fn try_argmax_axis(&self, axis: usize) -> Result<Vec<usize>, ShapeError> {
        try_argmax_axis(self, axis)
    }

    /// First arg-max along `axis` of each slice; panics for a bad or empty axis.
    #[track_caller]
    pub fn argmax_axis(&self, axis: usize) -> Vec<usize> {
        or_panic(try_argmax_axis(self, axis))
    }
}

/// What `mean`-like reductions do with their elements, for error messages.
pub(crate) const AVERAGE: &str = "average over";
/// What `max`-like reductions do with their elements, for error messages.
const MAXIMUM: &str = "take the maximum of";

/// The error for a reduction that averages or selects over nothing.
pub(crate) fn empty_error(
    op: &'static str,
    action: &'static str,
    shape: &[usize],
    axis: Option<usize>,
) -> ShapeError {
    ShapeError::EmptyReduction {
        op,
        action,
        shape: shape.to_vec(),
        axis,
    }
}

/// Checks that `axis` is one of `shape`'s axes and has a positive length.
fn check_nonempty_axis(
    op: &'static str,
    action: &'static str,
    shape: &[usize],
    axis: usize,
) -> Result<(), ShapeError> {
    check_axis(op, shape, axis)?;
    if shape[axis] == 0 {
        return Err(empty_error(op, action, shape, Some(axis)));
    }
    Ok(())
}

/// Index of the first maximum of `xs` (NaNs skipped unless all are NaN), or
/// `None` when empty.
fn first_argmax<T: Element>(xs: &[T]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, &v) in xs.iter().enumerate() {
        match best {
            None => best = Some(i),
            Some(b) if v > xs[b] || (xs[b].is_nan() && !v.is_nan()) => best = Some(i),
            Some(_) => {}
        }
    }
    best
}

/// [`try_argmax_axis`] reporting errors under the caller's op name.
fn try_argmax_axis_named<T: Element>(
    op: &'static str,
    x: &Tensor<T>,
    axis: usize,
) -> Result<Vec<usize>, ShapeError> {
    let action = if op.starts_with("argmax") {
        "take the arg-max of"
    } else {
        MAXIMUM
    };
    check_nonempty_axis(op, action, x.shape(), axis)?;
    let (outer, len, inner) = split_at_axis(x.shape(), axis);
    let data = x.data();
    let mut idx = vec![0usize; outer * inner];
    for (o, out) in idx.chunks_exact_mut(inner.max(1)).enumerate().take(outer) {
        let block = &data[o * len * inner..(o + 1) * len * inner];
        for j in 1..len {
            let row = &block[j * inner..(j + 1) * inner];
            for (i, (best, &v)) in out.iter_mut().zip(row).enumerate() {
                let current = block[*best * inner + i];
                if v > current || (current.is_nan() && !v.is_nan()) {
                    *best = j;
                }
            }
        }
    }
    Ok(idx)
}

/// The position in the input of element `j` along the axis of the slice
/// that produced the `k`-th reduced value.
fn source_offset(k: usize, j: usize, len: usize, inner: usize) -> usize {
    let (o, i) = (k / inner, k % inner);
    (o * len + j) * inner + i
}

/// The shape after reducing `axis`.
/// `grad` (reduced along `axis`, kept or not) times `scale`, repeated along
/// `axis` to `input_shape`, where it lives on a CUDA device.
fn spread_on_device<T: Element>(
    grad: &Tensor<T>,
    input_shape: &[usize],
    axis: usize,
    scale: T,
) -> Option<Tensor<T>> {
    let kept = grad.reshape(&reduced_shape(input_shape, axis, true));
    let spread = device::broadcast(&kept, input_shape)?;
    Some(if scale == T::one() {
        spread
    } else {
        super::scalar::mul_scalar(&spread, scale)
    })
}

fn reduced_shape(shape: &[usize], axis: usize, keepdim: bool) -> Vec<usize> {
    let mut out = shape.to_vec();
    if keepdim {
        out[axis] = 1;
    } else {
        out.remove(axis);
    }
    out
}

/// Panics unless `grad` has the reduced shape (either form) of `input_shape` along `axis`.
#[track_caller]
fn check_reduced_grad<T: Element>(
    op: &'static str,
    input_shape: &[usize],
    axis: usize,
    grad: &Tensor<T>,
) {
    or_panic(check_axis(op, input_shape, axis));
    let kept = reduced_shape(input_shape, axis, true);
    let dropped = reduced_shape(input_shape, axis, false);
    if grad.shape() != kept && grad.shape() != dropped {
        panic!(
            "{}",
            ShapeError::Mismatch {
                op,
                lhs: grad.shape().to_vec(),
                rhs: dropped,
            }
        );
    }
}

/// Sums the `len` rows of each of the `outer` blocks (`dims = (outer, len, inner)`).
fn sum_along<T: Element>(x: &[T], (outer, len, inner): (usize, usize, usize)) -> Vec<T> {
    if len == 0 || inner == 0 {
        return vec![T::zero(); outer * inner];
    }
    if inner == 1 {
        return x.chunks_exact(len).map(sum_slice).collect();
    }
    let mut out = vec![T::zero(); outer * inner];
    for (acc, block) in out.chunks_exact_mut(inner).zip(x.chunks_exact(len * inner)) {
        for row in block.chunks_exact(inner) {
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += v;
            }
        }
    }
    out
}

/// The adjoint of [`sum_along`] scaled by `scale`: each reduced value
/// repeated over the `len` rows of its block.
fn spread_along<T: Element>(
    g: &[T],
    (outer, len, inner): (usize, usize, usize),
    scale: T,
) -> Vec<T> {
    let mut out = Vec::with_capacity(outer * len * inner);
    if inner == 0 {
        return out;
    }
    for row in g.chunks_exact(inner) {
        if let [v] = row {
            // Reduced along the last axis: one value per run of `len`.
            out.extend(std::iter::repeat_n(*v * scale, len));
        } else {
            for _ in 0..len {
                out.extend(row.iter().map(|&v| v * scale));
            }
        }
    }
    out
}
