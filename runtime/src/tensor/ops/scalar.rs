//! Tensor–scalar arithmetic (`x + s`, `s - x`, `x * s`, `x / s`, `s / x`)
//! and its adjoints, which return the gradient of the tensor and of the
//! scalar (`Σ` of the element-wise partials), so a scalar that is itself a
//! variable is differentiated too.
//!
//! - `x + s`: `dx = g`, `ds = Σ g`
//! - `x - s`: `dx = g`, `ds = -Σ g`; `s - x`: `dx = -g`, `ds = Σ g`
//! - `x * s`: `dx = g s`, `ds = Σ g x`
//! - `x / s`: `dx = g / s`, `ds = -Σ g x / s²`; `s / x`: `dx = -g s / x²`, `ds = Σ g / x`

use super::binary::{try_add, try_div, try_mul, try_sub};
use super::reduce::sum;
use super::unary::neg;
use crate::tensor::base::expect_same_shape;
use crate::tensor::device::scalar_like;
use crate::tensor::error::or_panic;
use crate::tensor::{Element, Tensor};

/// `x + s` for every element.
pub fn add_scalar<T: Element>(x: &Tensor<T>, s: T) -> Tensor<T> {
    match scalar_like(x, s) {
        Some(s) => or_panic(try_add(x, &s)),
        None => x.map(|v| v + s),
    }
}

/// Adjoint of [`add_scalar`]: `(grad, Σ grad)`.
pub fn add_scalar_backward<T: Element>(grad: &Tensor<T>) -> (Tensor<T>, T) {
    (grad.clone(), sum(grad))
}

/// `x - s` for every element.
pub fn sub_scalar<T: Element>(x: &Tensor<T>, s: T) -> Tensor<T> {
    match scalar_like(x, s) {
        Some(s) => or_panic(try_sub(x, &s)),
        None => x.map(|v| v - s),
    }
}

/// Adjoint of [`sub_scalar`]: `(grad, -Σ grad)`.
pub fn sub_scalar_backward<T: Element>(grad: &Tensor<T>) -> (Tensor<T>, T) {
    (grad.clone(), -sum(grad))
}

/// `s - x` for every element.
pub fn rsub_scalar<T: Element>(s: T, x: &Tensor<T>) -> Tensor<T> {
    match scalar_like(x, s) {
        Some(s) => or_panic(try_sub(&s, x)),
        None => x.map(|v| s - v),
    }
}

/// Adjoint of [`rsub_scalar`]: `(-grad, Σ grad)`.
pub fn rsub_scalar_backward<T: Element>(grad: &Tensor<T>) -> (Tensor<T>, T) {
    (neg(grad), sum(grad))
}

/// `x * s` for every element.
pub fn mul_scalar<T: Element>(x: &Tensor<T>, s: T) -> Tensor<T> {
    match scalar_like(x, s) {
        Some(s) => or_panic(try_mul(x, &s)),
        None => x.map(|v| v * s),
    }
}

/// Adjoint of [`mul_scalar`]: `(grad * s, Σ grad * x)`.
#[track_caller]
pub fn mul_scalar_backward<T: Element>(x: &Tensor<T>, s: T, grad: &Tensor<T>) -> (Tensor<T>, T) {
    expect_same_shape("mul_scalar_backward", x.shape(), grad.shape());
    if scalar_like(x, s).is_some() {
        return (mul_scalar(grad, s), sum(&or_panic(try_mul(grad, x))));
    }
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
    match scalar_like(x, s) {
        Some(s) => or_panic(try_div(x, &s)),
        None => x.map(|v| v / s),
    }
}

/// Adjoint of [`div_scalar`]: `(grad / s, -Σ grad * x / s²)`.
#[track_caller]
pub fn div_scalar_backward<T: Element>(x: &Tensor<T>, s: T, grad: &Tensor<T>) -> (Tensor<T>, T) {
    expect_same_shape("div_scalar_backward", x.shape(), grad.shape());
    let inv = T::one() / s;
    if scalar_like(x, s).is_some() {
        let dot = sum(&or_panic(try_mul(grad, x)));
        return (mul_scalar(grad, inv), -dot * inv * inv);
    }
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
    match scalar_like(x, s) {
        Some(s) => or_panic(try_div(&s, x)),
        None => x.map(|v| s / v),
    }
}

/// Adjoint of [`rdiv_scalar`]: `(-grad * s / x², Σ grad / x)`.
#[track_caller]
pub fn rdiv_scalar_backward<T: Element>(s: T, x: &Tensor<T>, grad: &Tensor<T>) -> (Tensor<T>, T) {
    expect_same_shape("rdiv_scalar_backward", x.shape(), grad.shape());
    if scalar_like(x, s).is_some() {
        let q = or_panic(try_div(grad, x));
        let dx = neg(&or_panic(try_div(&mul_scalar(&q, s), x)));
        return (dx, sum(&q));
    }
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
