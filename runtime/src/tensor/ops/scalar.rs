//! Tensor–scalar arithmetic (`x + s`, `s - x`, `x * s`, `x / s`, `s / x`)
//! and its adjoints, which return the gradient of the tensor and of the
//! scalar (`Σ` of the element-wise partials), so a scalar that is itself a
//! variable is differentiated too.
//!
//! - `x + s`: `dx = g`, `ds = Σ g`
//! - `x - s`: `dx = g`, `ds = -Σ g`; `s - x`: `dx = -g`, `ds = Σ g`
//! - `x * s`: `dx = g s`, `ds = Σ g x`
//! - `x / s`: `dx = g / s`, `ds = -Σ g x / s²`; `s / x`: `dx = -g s / x²`, `ds = Σ g / x`

use super::reduce::sum_slice;
use crate::tensor::base::expect_same_shape;
use crate::tensor::{Element, Tensor};

/// `x + s` for every element.
pub fn add_scalar<T: Element>(x: &Tensor<T>, s: T) -> Tensor<T> {
    x.map(|v| v + s)
}

/// Adjoint of [`add_scalar`]: `(grad, Σ grad)`.
pub fn add_scalar_backward<T: Element>(grad: &Tensor<T>) -> (Tensor<T>, T) {
    (grad.clone(), sum_slice(grad.data()))
}

/// `x - s` for every element.
pub fn sub_scalar<T: Element>(x: &Tensor<T>, s: T) -> Tensor<T> {
    x.map(|v| v - s)
}

/// Adjoint of [`sub_scalar`]: `(grad, -Σ grad)`.
pub fn sub_scalar_backward<T: Element>(grad: &Tensor<T>) -> (Tensor<T>, T) {
    (grad.clone(), -sum_slice(grad.data()))
}

/// `s - x` for every element.
pub fn rsub_scalar<T: Element>(s: T, x: &Tensor<T>) -> Tensor<T> {
    x.map(|v| s - v)
}

/// Adjoint of [`rsub_scalar`]: `(-grad, Σ grad)`.
pub fn rsub_scalar_backward<T: Element>(grad: &Tensor<T>) -> (Tensor<T>, T) {
    (grad.map(|g| -g), sum_slice(grad.data()))
}

/// `x * s` for every element.
pub fn mul_scalar<T: Element>(x: &Tensor<T>, s: T) -> Tensor<T> {
    x.map(|v| v * s)
}

/// Adjoint of [`mul_scalar`]: `(grad * s, Σ grad * x)`.
#[track_caller]
pub fn mul_scalar_backward<T: Element>(x: &Tensor<T>, s: T, grad: &Tensor<T>) -> (Tensor<T>, T) {
    expect_same_shape("mul_scalar_backward", x.shape(), grad.shape());
    let mut ds = T::zero();
    let dx = grad
        .data()
        .iter()
        .zip(x.data())
        .map(|(&g, &v)| {
            ds += g * v;
            g * s
        })
        .collect();
    (Tensor::from_parts(dx, x.shape().to_vec()), ds)
}

/// `x / s` for every element.
pub fn div_scalar<T: Element>(x: &Tensor<T>, s: T) -> Tensor<T> {
    x.map(|v| v / s)
}

/// Adjoint of [`div_scalar`]: `(grad / s, -Σ grad * x / s²)`.
#[track_caller]
pub fn div_scalar_backward<T: Element>(x: &Tensor<T>, s: T, grad: &Tensor<T>) -> (Tensor<T>, T) {
    expect_same_shape("div_scalar_backward", x.shape(), grad.shape());
    let inv = T::one() / s;
    let mut dot = T::zero();
    let dx = grad
        .data()
        .iter()
        .zip(x.data())
        .map(|(&g, &v)| {
            dot += g * v;
            g * inv
        })
        .collect();
    (Tensor::from_parts(dx, x.shape().to_vec()), -dot * inv * inv)
}

/// `s / x` for every element.
pub fn rdiv_scalar<T: Element>(s: T, x: &Tensor<T>) -> Tensor<T> {
    x.map(|v| s / v)
}

/// Adjoint of [`rdiv_scalar`]: `(-grad * s / x², Σ grad / x)`.
#[track_caller]
pub fn rdiv_scalar_backward<T: Element>(s: T, x: &Tensor<T>, grad: &Tensor<T>) -> (Tensor<T>, T) {
    expect_same_shape("rdiv_scalar_backward", x.shape(), grad.shape());
    let mut ds = T::zero();
    let dx = grad
        .data()
        .iter()
        .zip(x.data())
        .map(|(&g, &v)| {
            let q = g / v;
            ds += q;
            -q * s / v
        })
        .collect();
    (Tensor::from_parts(dx, x.shape().to_vec()), ds)
}
