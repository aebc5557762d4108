//! `+ - * /` between tensors, with numpy broadcasting, and their adjoints.
//!
//! For `y = a ∘ b` broadcast to the shape of `y`, each adjoint computes the
//! element-wise partial times the gradient and sums it back over the
//! broadcast axes ([`reduce_to_shape`]):
//!
//! - `a + b`: `da = g`, `db = g`
//! - `a - b`: `da = g`, `db = -g`
//! - `a * b`: `da = g b`, `db = g a`
//! - `a / b`: `da = g / b`, `db = -g a / b²`
//!
//! The operators (`&a + &b`, in `ops`'s private `overload` module) call
//! these and panic on incompatible shapes.

use super::broadcast::{broadcast_zip, broadcast_zip_backward, reduce_to_shape};
use crate::tensor::{Element, ShapeError, Tensor};

/// `a + b` element-wise with broadcasting.
pub fn try_add<T: Element>(a: &Tensor<T>, b: &Tensor<T>) -> Result<Tensor<T>, ShapeError> {
    broadcast_zip("add", a, b, |x, y| x + y)
}

/// Adjoint of [`try_add`]: `grad` reduced to each operand's shape.
#[track_caller]
pub fn add_backward<T: Element>(
    a_shape: &[usize],
    b_shape: &[usize],
    grad: &Tensor<T>,
) -> (Tensor<T>, Tensor<T>) {
    (
        reduce_to_shape(grad, a_shape),
        reduce_to_shape(grad, b_shape),
    )
}

/// `a - b` element-wise with broadcasting.
pub fn try_sub<T: Element>(a: &Tensor<T>, b: &Tensor<T>) -> Result<Tensor<T>, ShapeError> {
    broadcast_zip("sub", a, b, |x, y| x - y)
}

/// Adjoint of [`try_sub`]: `grad` and `-grad`, reduced to each operand's shape.
#[track_caller]
pub fn sub_backward<T: Element>(
    a_shape: &[usize],
    b_shape: &[usize],
    grad: &Tensor<T>,
) -> (Tensor<T>, Tensor<T>) {
    let mut db = reduce_to_shape(grad, b_shape);
    db.map_inplace(|v| -v);
    (reduce_to_shape(grad, a_shape), db)
}

/// `a * b` element-wise with broadcasting (the Hadamard product).
pub fn try_mul<T: Element>(a: &Tensor<T>, b: &Tensor<T>) -> Result<Tensor<T>, ShapeError> {
    broadcast_zip("mul", a, b, |x, y| x * y)
}

/// Adjoint of [`try_mul`]: `(grad * b, grad * a)`, reduced to each operand's shape.
#[track_caller]
pub fn mul_backward<T: Element>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    grad: &Tensor<T>,
) -> (Tensor<T>, Tensor<T>) {
    broadcast_zip_backward("mul_backward", a, b, grad, |g, _, y| g * y, |g, x, _| g * x)
}

/// `a / b` element-wise with broadcasting.
pub fn try_div<T: Element>(a: &Tensor<T>, b: &Tensor<T>) -> Result<Tensor<T>, ShapeError> {
    broadcast_zip("div", a, b, |x, y| x / y)
}

/// Adjoint of [`try_div`]: `(grad / b, -grad * a / b²)`, reduced to each
/// operand's shape.
#[track_caller]
pub fn div_backward<T: Element>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    grad: &Tensor<T>,
) -> (Tensor<T>, Tensor<T>) {
    broadcast_zip_backward(
        "div_backward",
        a,
        b,
        grad,
        |g, _, y| g / y,
        |g, x, y| -g * x / (y * y),
    )
}

impl<T: Element> Tensor<T> {
    /// `self + other` with broadcasting, or an error for incompatible shapes
    /// (the `+` operator panics instead).
    pub fn try_add(&self, other: &Self) -> Result<Self, ShapeError> {
        try_add(self, other)
    }

    /// `self - other` with broadcasting, or an error for incompatible shapes.
    pub fn try_sub(&self, other: &Self) -> Result<Self, ShapeError> {
        try_sub(self, other)
    }

    /// `self * other` element-wise with broadcasting, or an error for
    /// incompatible shapes.
    pub fn try_mul(&self, other: &Self) -> Result<Self, ShapeError> {
        try_mul(self, other)
    }

    /// `self / other` element-wise with broadcasting, or an error for
    /// incompatible shapes.
    pub fn try_div(&self, other: &Self) -> Result<Self, ShapeError> {
        try_div(self, other)
    }
}
