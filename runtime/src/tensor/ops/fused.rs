//! Fused element-wise chains the tensor compiler emits in place of several
//! ops: one pass over memory instead of one per op.
//!
//! - [`add_relu`]: `relu(a + b)` (a layer's bias add and activation), with
//!   [`add_relu_backward`] computing the ReLU mask times the incoming
//!   gradient and the bias gradient's reduction in the same pass;
//! - [`map_with_derivative`] / [`scale`]: a chain of element-wise ops as
//!   one generated closure (the compiler prints its body from the scalar
//!   rule table) giving each element's value and derivative in one pass;
//!   the adjoint is one multiply.

use super::binary::try_add;
use super::broadcast::reduce_to_shape;
use super::unary::{relu_adjoint, relu_value};
use crate::tensor::error::or_panic;
use crate::tensor::{Element, Tensor};

/// `relu(a + b)` with broadcasting, in one pass for the `[m, n] + [n]` case;
/// a NaN sum stays NaN, as in [`relu`](super::unary::relu).
#[track_caller]
pub fn add_relu<T: Element>(a: &Tensor<T>, b: &Tensor<T>) -> Tensor<T> {
    if let Some((rows, cols)) = row_broadcast(a.shape(), b.shape()) {
        let bias = b.data();
        let mut out = Vec::with_capacity(rows * cols);
        for row in a.data().chunks_exact(cols) {
            out.extend(row.iter().zip(bias).map(|(&x, &c)| relu_value(x + c)));
        }
        return Tensor::from_parts(out, a.shape().to_vec());
    }
    let mut sum = or_panic(try_add(a, b));
    sum.map_inplace(relu_value);
    sum
}

/// Adjoint of [`add_relu`] from its output `y`: `(g ⊙ relu'(y), reduced to
/// each operand's shape)` with relu' 1 where `y > 0`, NaN where `y` is NaN
/// and 0 elsewhere (as [`relu_backward`](super::unary::relu_backward)); for `[m, n] + [n]` the bias gradient is summed in
/// the same pass that masks the gradient.
#[track_caller]
pub fn add_relu_backward<T: Element>(
    a_shape: &[usize],
    b_shape: &[usize],
    y: &Tensor<T>,
    grad: &Tensor<T>,
) -> (Tensor<T>, Tensor<T>) {
    let zero = T::zero();
    let masked: Vec<T> = y
        .data()
        .iter()
        .zip(grad.data())
        .map(|(&v, &g)| relu_adjoint(v, g))
        .collect();
    if let Some((_, cols)) = row_broadcast(a_shape, b_shape) {
        let mut db = vec![zero; cols];
        for row in masked.chunks_exact(cols) {
            for (acc, &g) in db.iter_mut().zip(row) {
                *acc = *acc + g;
            }
        }
        let da = Tensor::from_parts(masked, a_shape.to_vec());
        return (da, Tensor::from_parts(db, b_shape.to_vec()));
    }
    let masked = Tensor::from_parts(masked, y.shape().to_vec());
    (
        reduce_to_shape(&masked, a_shape),
        reduce_to_shape(&masked, b_shape),
    )
}

/// `(rows, cols)` when `a` is `[rows, cols]` and `b` is `[cols]`.
fn row_broadcast(a: &[usize], b: &[usize]) -> Option<(usize, usize)> {
    match (a, b) {
        ([rows, cols], [n]) if cols == n && *cols > 0 => Some((*rows, *cols)),
        _ => None,
    }
}

/// One pass of a fused element-wise chain: `f(x[i]) = (y, dy/dx)`, the
/// chain's value and its derivative at every element.
pub fn map_with_derivative<T: Element>(
    x: &Tensor<T>,
    f: impl Fn(T) -> (T, T),
) -> (Tensor<T>, Tensor<T>) {
    let (values, derivatives): (Vec<T>, Vec<T>) = x.data().iter().map(|&v| f(v)).unzip();
    (
        Tensor::from_parts(values, x.shape().to_vec()),
        Tensor::from_parts(derivatives, x.shape().to_vec()),
    )
}

/// A fused chain's adjoint (or tangent): its saved derivative times `g`,
/// element-wise.
#[track_caller]
pub fn scale<T: Element>(derivative: &Tensor<T>, g: &Tensor<T>) -> Tensor<T> {
    Tensor::zip_map("fused_backward", derivative, g, |d, g| d * g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::ops::{binary, unary};

    fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
        Tensor::from_vec(data.to_vec(), shape).expect("shape")
    }

    #[test]
    fn equals_the_unfused_ops_for_row_and_general_broadcasts() {
        let cases = [
            (
                t(&[1.0, -2.0, 3.0, -4.0, 0.5, -0.5], &[2, 3]),
                t(&[0.5, 1.0, -3.5], &[3]),
            ),
            (
                t(&[1.0, -2.0, 3.0, -4.0, 0.5, -0.5], &[2, 3]),
                t(&[0.25, -1.0], &[2, 1]),
            ),
        ];
        for (a, b) in cases {
            let unfused = unary::relu(&(&a + &b));
            let fused = add_relu(&a, &b);
            assert_eq!(fused.to_vec(), unfused.to_vec());
            let g = t(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], &[2, 3]);
            let (da, db) = add_relu_backward(a.shape(), b.shape(), &fused, &g);
            let masked = unary::relu_backward(&unfused, &g);
            let (ea, eb) = binary::add_backward(a.shape(), b.shape(), &masked);
            assert_eq!(da.to_vec(), ea.to_vec());
            assert_eq!(db.to_vec(), eb.to_vec());
            assert_eq!(db.shape(), b.shape());
        }
    }
}
