//! `softmax` and `log_softmax` along an axis, computed stably (the maximum
//! is subtracted before exponentiating), and their adjoints.
//!
//! - `y = softmax(x)`: `dx = y ⊙ (g - Σ g ⊙ y)`, sums along the axis.
//! - `y = log_softmax(x) = x - logsumexp(x)`: `dx = g - e^y Σ g`.
//!
//! Both adjoints take the output `y`. Each slice along the axis is processed
//! as one contiguous row (transposing blocks first for an inner axis).

use super::axis::along_axis;
use super::reduce::sum_slice;
use crate::tensor::base::expect_same_shape;
use crate::tensor::device;
use crate::tensor::error::or_panic;
use crate::tensor::shape::{check_axis, split_at_axis};
use crate::tensor::{Element, ShapeError, Tensor};

/// `e^x / Σ e^x` along `axis`; fails for a bad axis.
pub fn try_softmax<T: Element>(x: &Tensor<T>, axis: usize) -> Result<Tensor<T>, ShapeError> {
    check_axis("softmax", x.shape(), axis)?;
    Ok(normalise_exp(x, axis, false))
}

/// Adjoint of [`try_softmax`] from its output `y`: `y ⊙ (g - Σ g ⊙ y)`.
#[track_caller]
pub fn softmax_backward<T: Element>(y: &Tensor<T>, axis: usize, grad: &Tensor<T>) -> Tensor<T> {
    or_panic(check_axis("softmax_backward", y.shape(), axis));
    expect_same_shape("softmax_backward", grad.shape(), y.shape());
    let dims = split_at_axis(y.shape(), axis);
    if let Some(dx) = device::softmax_backward(y, grad, dims, false) {
        return dx;
    }
    let data = along_axis(y.data(), grad.data(), dims, |ys, gs, out| {
        let dot = ys
            .iter()
            .zip(gs)
            .fold(T::zero(), |acc, (&y, &g)| acc + y * g);
        out.extend(ys.iter().zip(gs).map(|(&y, &g)| y * (g - dot)));
    });
    Tensor::from_parts(data, y.shape().to_vec())
}

/// `x - log Σ e^x` along `axis` (log-sum-exp with the maximum factored
/// out); fails for a bad axis.
pub fn try_log_softmax<T: Element>(x: &Tensor<T>, axis: usize) -> Result<Tensor<T>, ShapeError> {
    check_axis("log_softmax", x.shape(), axis)?;
    Ok(normalise_exp(x, axis, true))
}

/// Adjoint of [`try_log_softmax`] from its output `y`: `g - e^y Σ g`.
#[track_caller]
pub fn log_softmax_backward<T: Element>(y: &Tensor<T>, axis: usize, grad: &Tensor<T>) -> Tensor<T> {
    or_panic(check_axis("log_softmax_backward", y.shape(), axis));
    expect_same_shape("log_softmax_backward", grad.shape(), y.shape());
    let dims = split_at_axis(y.shape(), axis);
    if let Some(dx) = device::softmax_backward(y, grad, dims, true) {
        return dx;
    }
    let data = along_axis(y.data(), grad.data(), dims, |ys, gs, out| {
        let total = sum_slice(gs);
        out.extend(ys.iter().zip(gs).map(|(&y, &g)| g - y.exp() * total));
    });
    Tensor::from_parts(data, y.shape().to_vec())
}

impl<T: Element> Tensor<T> {
    /// Softmax along `axis`, or an error for a bad axis.
    pub fn try_softmax(&self, axis: usize) -> Result<Self, ShapeError> {
        try_softmax(self, axis)
    }

    /// Softmax along `axis`; panics for a bad axis.
    #[track_caller]
    pub fn softmax(&self, axis: usize) -> Self {
        or_panic(try_softmax(self, axis))
    }

    /// Log-softmax along `axis`, or an error for a bad axis.
    pub fn try_log_softmax(&self, axis: usize) -> Result<Self, ShapeError> {
        try_log_softmax(self, axis)
    }

    /// Log-softmax along `axis`; panics for a bad axis.
    #[track_caller]
    pub fn log_softmax(&self, axis: usize) -> Self {
        or_panic(try_log_softmax(self, axis))
    }
}

/// Softmax (or log-softmax when `log`) of every slice of `x` along a valid `axis`.
pub(crate) fn normalise_exp<T: Element>(x: &Tensor<T>, axis: usize, log: bool) -> Tensor<T> {
    let dims = split_at_axis(x.shape(), axis);
    if let Some(y) = device::softmax(x, dims, log) {
        return y;
    }
    let data = along_axis(x.data(), x.data(), dims, |xs, _, out| {
        softmax_slice(xs, log, out)
    });
    Tensor::from_parts(data, x.shape().to_vec())
}

/// Appends the softmax (or log-softmax) of one contiguous slice to `out`.
pub(crate) fn softmax_slice<T: Element>(xs: &[T], log: bool, out: &mut Vec<T>) {
    let m = xs
        .iter()
        .fold(T::neg_infinity(), |acc, &v| num_traits::Float::max(acc, v));
    let start = out.len();
    out.extend(xs.iter().map(|&v| (v - m).exp()));
    let total = sum_slice(&out[start..]);
    if log {
        let lse = m + total.ln();
        out.truncate(start);
        out.extend(xs.iter().map(|&v| v - lse));
    } else {
        let inv = T::one() / total;
        out[start..].iter_mut().for_each(|v| *v = *v * inv);
    }
}
