//! Losses that reduce to a scalar: `cross_entropy`, `mse`, `l1`, and their
//! adjoints, which take the incoming scalar gradient `g` (1 for the loss
//! itself).
//!
//! - `cross_entropy(x, p) = -(1/n) Σ_rows Σ_j p_j log_softmax(x)_j`, with `p`
//!   one-hot for class labels: `dx = (g/n) (softmax(x) Σ_j p_j - p)`.
//! - `mse(a, b) = mean((a - b)²)`: `da = 2g (a - b) / N`, `db = -da`.
//! - `l1(a, b) = mean(|a - b|)`: `da = g sign(a - b) / N`, `db = -da`.
//!
//! Labels and targets are data here: `cross_entropy`'s adjoint returns the
//! gradient of the logits only.
//!
//! Every loss averages, so zero elements (an empty batch, `[0, c]` logits or
//! `[n, 0]` ones with no class to take a softmax over, empty predictions) is
//! a [`ShapeError::EmptyReduction`] naming the op and the shape, e.g.
//! `cross_entropy: cannot average over zero elements (axis 0 of shape [0, 10])`,
//! from the forward and the adjoint alike: never 0 or NaN.

use super::reduce::{empty_error, AVERAGE};
use super::softmax::softmax_slice;
use crate::tensor::device;
use crate::tensor::error::or_panic;
use crate::tensor::{Element, ShapeError, Tensor};

/// The targets of [`try_cross_entropy`]: one class index per row, or a
/// tensor of per-class probabilities (one-hot or soft) shaped like the
/// logits. Built with `.into()` from `&[usize]`, `&Vec<usize>`,
/// `&[usize; N]` or `&Tensor`.
#[derive(Debug, Clone, Copy)]
pub enum Labels<'a, T: Element = f32> {
    /// The class of each row, `0 <= label < c`.
    Classes(&'a [usize]),
    /// Class probabilities, shape `[n, c]`.
    Probs(&'a Tensor<T>),
}

impl<'a, T: Element> From<&'a [usize]> for Labels<'a, T> {
    /// Class indices, one per row.
    fn from(labels: &'a [usize]) -> Self {
        Labels::Classes(labels)
    }
}

impl<'a, T: Element> From<&'a Vec<usize>> for Labels<'a, T> {
    /// Class indices, one per row.
    fn from(labels: &'a Vec<usize>) -> Self {
        Labels::Classes(labels)
    }
}

impl<'a, T: Element, const N: usize> From<&'a [usize; N]> for Labels<'a, T> {
    /// Class indices, one per row.
    fn from(labels: &'a [usize; N]) -> Self {
        Labels::Classes(labels)
    }
}

impl<'a, T: Element> From<&'a Tensor<T>> for Labels<'a, T> {
    /// Per-class probabilities shaped like the logits.
    fn from(probs: &'a Tensor<T>) -> Self {
        Labels::Probs(probs)
    }
}

/// The mean cross-entropy of `[n, c]` logits against `labels` (class
/// indices or probabilities), via a stable log-softmax. Fails for logits
/// that are not 2-D, a label count other than `n`, a class index `>= c`,
/// probabilities of another shape, or no rows or no classes.
pub fn try_cross_entropy<'a, T: Element>(
    logits: &Tensor<T>,
    labels: impl Into<Labels<'a, T>>,
) -> Result<T, ShapeError> {
    let labels = labels.into();
    let (n, c) = check_labels("cross_entropy", logits, labels)?;
    if let Some(loss) = on_device(labels, |classes| {
        device::cross_entropy(logits, classes, n, c)
    }) {
        return Ok(loss);
    }
    if let (Labels::Probs(p), true) = (labels, on_a_device(logits)) {
        return Ok(soft_cross_entropy(logits, p, n));
    }
    let mut total = T::zero();
    let mut logp = Vec::with_capacity(c);
    for (r, row) in logits.data().chunks_exact(c).enumerate() {
        logp.clear();
        softmax_slice(row, true, &mut logp);
        total = total
            - match labels {
                Labels::Classes(classes) => logp[classes[r]],
                Labels::Probs(p) => {
                    let p_row = &p.data()[r * c..(r + 1) * c];
                    p_row
                        .iter()
                        .zip(&logp)
                        .fold(T::zero(), |acc, (&p, &l)| acc + p * l)
                }
            };
    }
    Ok(total / T::cast_usize(n))
}

/// [`try_cross_entropy`], panicking with the error's message (e.g.
/// `cross_entropy: 99 labels for 100 rows`).
#[track_caller]
pub fn cross_entropy<'a, T: Element>(logits: &Tensor<T>, labels: impl Into<Labels<'a, T>>) -> T {
    or_panic(try_cross_entropy(logits, labels))
}

/// Adjoint of [`try_cross_entropy`] with respect to the logits:
/// `(g / n) (softmax(x) Σ_j p_j - p)` row by row (`softmax(x) - onehot` for
/// class labels).
#[track_caller]
pub fn cross_entropy_backward<'a, T: Element>(
    logits: &Tensor<T>,
    labels: impl Into<Labels<'a, T>>,
    grad: T,
) -> Tensor<T> {
    let labels = labels.into();
    let (n, c) = or_panic(check_labels("cross_entropy_backward", logits, labels));
    if let Some(dx) = on_device(labels, |classes| {
        device::cross_entropy_backward(logits, classes, grad, n, c)
    }) {
        return dx;
    }
    if let (Labels::Probs(p), true) = (labels, on_a_device(logits)) {
        return soft_cross_entropy_backward(logits, p, grad, n);
    }
    let mut dx = Vec::with_capacity(logits.len());
    let scale = grad / T::cast_usize(n);
    for (r, row) in logits.data().chunks_exact(c).enumerate() {
        let start = dx.len();
        softmax_slice(row, false, &mut dx);
        let d = &mut dx[start..];
        match labels {
            Labels::Classes(classes) => {
                d[classes[r]] = d[classes[r]] - T::one();
                d.iter_mut().for_each(|v| *v = *v * scale);
            }
            Labels::Probs(p) => {
                let p_row = &p.data()[r * c..(r + 1) * c];
                let mass = p_row.iter().fold(T::zero(), |acc, &v| acc + v);
                for (v, &pj) in d.iter_mut().zip(p_row) {
                    *v = (*v * mass - pj) * scale;
                }
            }
        }
    }
    Tensor::from_parts(dx, logits.shape().to_vec())
}

/// Whether `t` lives on a device, where the pair losses run as compositions
/// of device-capable ops.
fn on_a_device<T: Element>(t: &Tensor<T>) -> bool {
    t.device() != crate::tensor::Device::Cpu
}

/// `f` on the class indices, where the targets are classes and `f` runs
/// on a device (probability targets go through [`soft_cross_entropy`]).
fn on_device<T: Element, R>(
    labels: Labels<'_, T>,
    f: impl FnOnce(&[usize]) -> Option<R>,
) -> Option<R> {
    match labels {
        Labels::Classes(classes) => f(classes),
        Labels::Probs(_) => None,
    }
}

/// Cross-entropy against probabilities composed of tensor ops (for a
/// device): `-(1/n) Σ p ⊙ log_softmax(x)`.
fn soft_cross_entropy<T: Element>(logits: &Tensor<T>, probs: &Tensor<T>, n: usize) -> T {
    -super::reduce::sum(&(probs * &logits.log_softmax(1))) / T::cast_usize(n)
}

/// Its adjoint: `(g / n) (softmax(x) Σ_j p_j - p)`.
fn soft_cross_entropy_backward<T: Element>(
    logits: &Tensor<T>,
    probs: &Tensor<T>,
    grad: T,
    n: usize,
) -> Tensor<T> {
    let mass = probs.sum_axis(1, true);
    let d = &(&logits.softmax(1) * &mass) - probs;
    super::scalar::mul_scalar(&d, grad / T::cast_usize(n))
}

/// The mean squared error `mean((pred - target)²)`; fails unless the shapes
/// are equal and hold at least one element.
pub fn try_mse<T: Element>(pred: &Tensor<T>, target: &Tensor<T>) -> Result<T, ShapeError> {
    check_pair("mse", pred, target)?;
    if on_a_device(pred) {
        return Ok(super::reduce::mean(&(pred - target).square()));
    }
    let total = pred
        .data()
        .iter()
        .zip(target.data())
        .fold(T::zero(), |acc, (&a, &b)| {
            let d = a - b;
            acc + d * d
        });
    Ok(total / T::cast_usize(pred.len()))
}

/// [`try_mse`], panicking with the error's message.
#[track_caller]
pub fn mse<T: Element>(pred: &Tensor<T>, target: &Tensor<T>) -> T {
    or_panic(try_mse(pred, target))
}

/// Adjoint of [`try_mse`]: `(2g (pred - target) / N, -2g (pred - target) / N)`.
#[track_caller]
pub fn mse_backward<T: Element>(
    pred: &Tensor<T>,
    target: &Tensor<T>,
    grad: T,
) -> (Tensor<T>, Tensor<T>) {
    or_panic(check_pair("mse_backward", pred, target));
    let scale = T::cast_f64(2.0) * grad / T::cast_usize(pred.len());
    if on_a_device(pred) {
        let d = super::scalar::mul_scalar(&(pred - target), scale);
        let neg = super::unary::neg(&d);
        return (d, neg);
    }
    let d = Tensor::zip_map("mse_backward", pred, target, |a, b| (a - b) * scale);
    let neg = d.map(|v| -v);
    (d, neg)
}

/// The mean absolute error `mean(|pred - target|)`; fails unless the shapes
/// are equal and hold at least one element.
pub fn try_l1<T: Element>(pred: &Tensor<T>, target: &Tensor<T>) -> Result<T, ShapeError> {
    check_pair("l1", pred, target)?;
    if on_a_device(pred) {
        return Ok(super::reduce::mean(&(pred - target).abs()));
    }
    let total = pred
        .data()
        .iter()
        .zip(target.data())
        .fold(T::zero(), |acc, (&a, &b)| acc + (a - b).abs());
    Ok(total / T::cast_usize(pred.len()))
}

/// [`try_l1`], panicking with the error's message.
#[track_caller]
pub fn l1<T: Element>(pred: &Tensor<T>, target: &Tensor<T>) -> T {
    or_panic(try_l1(pred, target))
}

/// Adjoint of [`try_l1`]: `(g sign(pred - target) / N, -g sign(pred - target) / N)`,
/// with sign 0 where they are equal and NaN where the difference is NaN (the
/// convention of `abs`).
#[track_caller]
pub fn l1_backward<T: Element>(
    pred: &Tensor<T>,
    target: &Tensor<T>,
    grad: T,
) -> (Tensor<T>, Tensor<T>) {
    or_panic(check_pair("l1_backward", pred, target));
    let scale = grad / T::cast_usize(pred.len());
    if on_a_device(pred) {
        let diff = pred - target;
        let spread = diff.scalar_like(scale).broadcast_to(diff.shape());
        let d = super::unary::abs_backward(&diff, &spread);
        let neg = super::unary::neg(&d);
        return (d, neg);
    }
    let d = Tensor::zip_map("l1_backward", pred, target, |a, b| {
        let diff = a - b;
        if diff > T::zero() {
            scale
        } else if diff < T::zero() {
            -scale
        } else if diff.is_nan() {
            scale * diff
        } else {
            T::zero()
        }
    });
    let neg = d.map(|v| -v);
    (d, neg)
}

/// Checks logits and labels; returns `(rows, classes)`.
fn check_labels<T: Element>(
    op: &'static str,
    logits: &Tensor<T>,
    labels: Labels<'_, T>,
) -> Result<(usize, usize), ShapeError> {
    let &[n, c] = logits.shape() else {
        return Err(ShapeError::Rank {
            op,
            expected: "logits of shape [n, c]",
            shape: logits.shape().to_vec(),
        });
    };
    match labels {
        Labels::Classes(classes) => {
            if classes.len() != n {
                return Err(ShapeError::LabelCount {
                    op,
                    labels: classes.len(),
                    rows: n,
                });
            }
            if let Some((row, &label)) = classes.iter().enumerate().find(|(_, &l)| l >= c) {
                return Err(ShapeError::LabelOutOfRange {
                    op,
                    label,
                    row,
                    classes: c,
                });
            }
        }
        Labels::Probs(p) => check_same(op, logits, p)?,
    }
    if n == 0 {
        return Err(empty_error(op, AVERAGE, logits.shape(), Some(0)));
    }
    if c == 0 {
        return Err(empty_error(
            op,
            "take a softmax over",
            logits.shape(),
            Some(1),
        ));
    }
    Ok((n, c))
}

/// Checks that `pred` and `target` have the same shape and are not empty.
fn check_pair<T: Element>(
    op: &'static str,
    pred: &Tensor<T>,
    target: &Tensor<T>,
) -> Result<(), ShapeError> {
    check_same(op, pred, target)?;
    if pred.is_empty() {
        return Err(empty_error(op, AVERAGE, pred.shape(), None));
    }
    Ok(())
}

/// Checks that two tensors have the same shape.
fn check_same<T: Element>(
    op: &'static str,
    a: &Tensor<T>,
    b: &Tensor<T>,
) -> Result<(), ShapeError> {
    if a.shape() == b.shape() {
        Ok(())
    } else {
        Err(ShapeError::Mismatch {
            op,
            lhs: a.shape().to_vec(),
            rhs: b.shape().to_vec(),
        })
    }
}

#[cfg(test)]
mod composed_tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn soft_targets_composed_equal_the_kernels() {
        let mut rng = StdRng::seed_from_u64(5);
        let x = Tensor::<f64>::randn(&[4, 3], &mut rng);
        let p = Tensor::<f64>::uniform(&[4, 3], 0.0, 1.0, &mut rng);
        let loss = soft_cross_entropy(&x, &p, 4);
        let kernel = try_cross_entropy(&x, &p).expect("shapes fit");
        assert!((loss - kernel).abs() <= 1e-12 * kernel.abs().max(1.0));
        let a = soft_cross_entropy_backward(&x, &p, 0.7, 4);
        let b = cross_entropy_backward(&x, &p, 0.7);
        for (u, v) in a.data().iter().zip(b.data()) {
            assert!((u - v).abs() <= 1e-12, "{u} vs {v}");
        }
    }
}
