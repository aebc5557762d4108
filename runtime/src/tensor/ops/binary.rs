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
use crate::tensor::device::{self, region_source};
use crate::tensor::shape::broadcast_shapes;
use crate::tensor::{Element, ShapeError, Tensor};

const ADD_CUDA: &str = region_source!([x0, x1], "x0 + x1", [d0 = "g", d1 = "g"]);
const SUB_CUDA: &str = region_source!([x0, x1], "x0 - x1", [d0 = "g", d1 = "-g"]);
const MUL_CUDA: &str = region_source!([x0, x1], "x0 * x1", [d0 = "g * x1", d1 = "g * x0"]);
const DIV_CUDA: &str = region_source!(
    [x0, x1],
    "x0 / x1",
    [d0 = "g / x1", d1 = "-g * x0 / (x1 * x1)"]
);

/// `a ∘ b` on the operands' CUDA device, where they live on one.
fn on_device<T: Element>(
    op: &'static str,
    source: &str,
    a: &Tensor<T>,
    b: &Tensor<T>,
) -> Option<Result<Tensor<T>, ShapeError>> {
    if a.device() == crate::tensor::Device::Cpu && b.device() == crate::tensor::Device::Cpu {
        return None;
    }
    let Some(shape) = broadcast_shapes(a.shape(), b.shape()) else {
        return Some(Err(ShapeError::NotBroadcastable {
            op,
            lhs: a.shape().to_vec(),
            rhs: b.shape().to_vec(),
        }));
    };
    device::region_forward(op, source, &[a, b], &shape).map(Ok)
}

/// Both operands' adjoints of `a ∘ b` on the gradient's CUDA device, where
/// it lives on one.
fn backward_on_device<T: Element>(
    op: &'static str,
    source: &str,
    a: &Tensor<T>,
    b: &Tensor<T>,
    grad: &Tensor<T>,
) -> Option<(Tensor<T>, Tensor<T>)> {
    let grads = device::region_backward(
        op,
        source,
        &[Some(a), Some(b)],
        &[a.shape(), b.shape()],
        None,
        grad,
        &[true, true],
    )?;
    let mut grads = grads.into_iter().flatten();
    Some((grads.next()?, grads.next()?))
}

/// `a + b` element-wise with broadcasting.
pub fn try_add<T: Element>(a: &Tensor<T>, b: &Tensor<T>) -> Result<Tensor<T>, ShapeError> {
    on_device("add", ADD_CUDA, a, b).unwrap_or_else(|| broadcast_zip("add", a, b, |x, y| x + y))
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
    on_device("sub", SUB_CUDA, a, b).unwrap_or_else(|| broadcast_zip("sub", a, b, |x, y| x - y))
}

/// Adjoint of [`try_sub`]: `grad` and `-grad`, reduced to each operand's shape.
#[track_caller]
pub fn sub_backward<T: Element>(
    a_shape: &[usize],
    b_shape: &[usize],
    grad: &Tensor<T>,
) -> (Tensor<T>, Tensor<T>) {
    if let Some(grads) = device::region_backward(
        "sub_backward",
        SUB_CUDA,
        &[None, None],
        &[a_shape, b_shape],
        None,
        grad,
        &[true, true],
    ) {
        let mut grads = grads.into_iter().flatten();
        if let (Some(da), Some(db)) = (grads.next(), grads.next()) {
            return (da, db);
        }
    }
    let mut db = reduce_to_shape(grad, b_shape);
    db.map_inplace(|v| -v);
    (reduce_to_shape(grad, a_shape), db)
}

/// `a * b` element-wise with broadcasting (the Hadamard product).
pub fn try_mul<T: Element>(a: &Tensor<T>, b: &Tensor<T>) -> Result<Tensor<T>, ShapeError> {
    on_device("mul", MUL_CUDA, a, b).unwrap_or_else(|| broadcast_zip("mul", a, b, |x, y| x * y))
}

/// Adjoint of [`try_mul`]: `(grad * b, grad * a)`, reduced to each operand's shape.
#[track_caller]
pub fn mul_backward<T: Element>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    grad: &Tensor<T>,
) -> (Tensor<T>, Tensor<T>) {
    backward_on_device("mul_backward", MUL_CUDA, a, b, grad).unwrap_or_else(|| {
        broadcast_zip_backward("mul_backward", a, b, grad, |g, _, y| g * y, |g, x, _| g * x)
    })
}

/// `a / b` element-wise with broadcasting.
pub fn try_div<T: Element>(a: &Tensor<T>, b: &Tensor<T>) -> Result<Tensor<T>, ShapeError> {
    on_device("div", DIV_CUDA, a, b).unwrap_or_else(|| broadcast_zip("div", a, b, |x, y| x / y))
}

/// Adjoint of [`try_div`]: `(grad / b, -grad * a / b²)`, reduced to each
/// operand's shape.
#[track_caller]
pub fn div_backward<T: Element>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    grad: &Tensor<T>,
) -> (Tensor<T>, Tensor<T>) {
    backward_on_device("div_backward", DIV_CUDA, a, b, grad).unwrap_or_else(|| {
        broadcast_zip_backward(
            "div_backward",
            a,
            b,
            grad,
            |g, _, y| g / y,
            |g, x, y| -g * x / (y * y),
        )
    })
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

#[cfg(test)]
pub(crate) mod tests {
    use crate::tensor::device::tests::{host_values, same};
    use crate::tensor::Tensor;

    #[test]
    fn host_c_matches_the_cpu() {
        let (a, b) = ([1.5, -2.0, 0.0, 3.0], [0.5, 4.0, -1.0, 0.0]);
        let rows: Vec<Vec<f64>> = a.iter().zip(&b).map(|(x, y)| vec![*x, *y]).collect();
        let (ta, tb) = (Tensor::from(a.to_vec()), Tensor::from(b.to_vec()));
        let cpu = [&ta + &tb, &ta - &tb, &ta * &tb, &ta / &tb];
        for ((source, cpu), op) in SOURCES.iter().zip(cpu).zip(["add", "sub", "mul", "div"]) {
            if let Some(host) = host_values(source, &rows) {
                same(op, &host, &cpu.to_vec());
            }
        }
    }

    /// The CUDA C of the binary ops, for the host and NVRTC checks.
    pub(crate) const SOURCES: [&str; 4] = [
        super::ADD_CUDA,
        super::SUB_CUDA,
        super::MUL_CUDA,
        super::DIV_CUDA,
    ];
}
