//! Fused element-wise regions: the tensor compiler groups element-wise ops
//! (`relu(x·W + b)`, `tanh(a) * sigmoid(b + c)`, `(-x).abs().square()`)
//! into one region and prints its body as a scalar closure from its rule
//! table; these functions run that closure in one pass over memory with
//! numpy broadcasting (through [`adjoint_kernels::fused`]), instead of one
//! pass and one temporary per op.
//!
//! - [`map`]: the region's value;
//! - [`map_backward`]: every operand's adjoint in one pass, a broadcast
//!   operand's (a bias) summed over its broadcast axes in the same pass;
//!   operands whose values the adjoint does not read are passed as shapes;
//! - forward mode is [`map`] over the operands and their tangents.
//!
//! ```
//! use adjoint_runtime::tensor::{ops::fused::{self, Kernel}, Tensor};
//!
//! let x = Tensor::from_vec(vec![-1.0, 2.0, -3.0, 4.0], &[2, 2]).unwrap();
//! let b = Tensor::from_vec(vec![1.5, -1.0], &[2]).unwrap();
//! let region = Kernel::named("relu(x0 + x1)");
//! let y = fused::map(&region, [&x, &b], |[x, b]: [f64; 2]| (x + b).max(0.0));
//! assert_eq!(y.to_vec(), vec![0.5, 1.0, 0.0, 3.0]);
//! ```

use super::super::shape::broadcast_shapes;
use crate::tensor::device;
use crate::tensor::error::or_panic;
use crate::tensor::{Element, ShapeError, Tensor};
use adjoint_kernels::fused as kernel;

/// A fused region as the compiler emits it: how it is named in errors (the
/// ops as the user wrote them, operands `x0`, `x1`, …) and its body as CUDA
/// C (`adjoint_region_forward` / `adjoint_region_adjoint` `__device__`
/// templates) for a device backend to compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernel {
    /// The region as written, e.g. `relu(x0 + x1)`.
    pub name: &'static str,
    /// Its operands (tensors and scalars), `x0` to `x{inputs - 1}`.
    pub inputs: usize,
    /// The region's forward and adjoint as CUDA C.
    pub cuda: &'static str,
}

impl Kernel {
    /// A region without a device body (hand-built regions, tests).
    pub const fn named(name: &'static str) -> Kernel {
        Kernel {
            name,
            inputs: 0,
            cuda: "",
        }
    }

    /// This region's name without its device body: for a map whose
    /// operands are not the region's (forward mode's tangents), which runs
    /// on the host.
    pub const fn host_only(&self) -> Kernel {
        Kernel::named(self.name)
    }
}

/// An operand of a region's adjoint: its value where the adjoint reads it,
/// else only its shape.
#[derive(Clone, Copy, Debug)]
pub enum Operand<'a, T: Element> {
    /// The operand's value.
    Value(&'a Tensor<T>),
    /// Only the operand's shape (the adjoint sees zeros for its elements).
    Shape(&'a [usize]),
}

impl<'a, T: Element> Operand<'a, T> {
    fn shape(self) -> &'a [usize] {
        match self {
            Operand::Value(t) => t.shape(),
            Operand::Shape(s) => s,
        }
    }

    fn data(self) -> Option<&'a [T]> {
        match self {
            Operand::Value(t) => Some(t.data()),
            Operand::Shape(_) => None,
        }
    }
}

/// `run` (a region's device path) where the region's CUDA C takes exactly
/// the `n` operands given: a hand-built region and forward mode's map
/// (`Kernel::host_only`) have no CUDA body, so they stay on the host (where
/// a device operand stops the op with a message).
fn on_device<R>(region: &Kernel, n: usize, run: impl FnOnce() -> Option<R>) -> Option<R> {
    if region.inputs == n && !region.cuda.is_empty() {
        run()
    } else {
        None
    }
}

/// The shape every operand broadcasts to, or the error naming the region
/// and the first pair that does not.
fn output_shape<'a>(
    region: &Kernel,
    shapes: impl IntoIterator<Item = &'a [usize]>,
) -> Result<Vec<usize>, ShapeError> {
    let mut out: Vec<usize> = Vec::new();
    for shape in shapes {
        out = broadcast_shapes(&out, shape).ok_or_else(|| ShapeError::NotBroadcastable {
            op: region.name,
            lhs: out.clone(),
            rhs: shape.to_vec(),
        })?;
    }
    Ok(out)
}

/// The value of a fused region `f` over its operands, broadcast together;
/// `region` names it in errors.
///
/// # Panics
/// If the operands' shapes do not broadcast together.
#[track_caller]
pub fn map<T: Element, const N: usize>(
    region: &Kernel,
    inputs: [&Tensor<T>; N],
    f: impl Fn([T; N]) -> T + Sync,
) -> Tensor<T> {
    or_panic(try_map(region, inputs, f))
}

/// [`map`], or the shape error.
pub fn try_map<T: Element, const N: usize>(
    region: &Kernel,
    inputs: [&Tensor<T>; N],
    f: impl Fn([T; N]) -> T + Sync,
) -> Result<Tensor<T>, ShapeError> {
    let shape = output_shape(region, inputs.iter().map(|t| t.shape()))?;
    if let Some(y) = on_device(region, N, || {
        device::region_forward(region.name, region.cuda, &inputs, &shape)
    }) {
        return Ok(y);
    }
    let mut out = vec![T::zero(); shape.iter().product()];
    kernel::map(
        inputs.map(|t| (Some(t.data()), t.shape())),
        &shape,
        &mut out,
        f,
    );
    Ok(Tensor::from_parts(out, shape))
}

/// The adjoint of a fused region: `f(x, y, g)` gives every operand's
/// contribution at one element (`y` the region's value when passed, else
/// zero; `g` the output's adjoint); returns the gradient of each operand
/// with `needs[i]`, in that operand's shape.
///
/// # Panics
/// If `g`'s shape is not the operands' broadcast shape.
#[track_caller]
pub fn map_backward<T: Element, const N: usize>(
    region: &Kernel,
    inputs: [Operand<'_, T>; N],
    y: Option<&Tensor<T>>,
    g: &Tensor<T>,
    needs: [bool; N],
    f: impl Fn([T; N], T, T) -> [T; N] + Sync,
) -> [Option<Tensor<T>>; N] {
    let shape = or_panic(output_shape(region, inputs.iter().map(|o| o.shape())));
    if g.shape() != shape.as_slice() {
        or_panic::<()>(Err(ShapeError::NotBroadcastable {
            op: region.name,
            lhs: shape.clone(),
            rhs: g.shape().to_vec(),
        }));
    }
    let values = inputs.map(|o| match o {
        Operand::Value(t) => Some(t),
        Operand::Shape(_) => None,
    });
    let shapes = inputs.map(|o| o.shape());
    if let Some(grads) = on_device(region, N, || {
        device::region_backward(region.name, region.cuda, &values, &shapes, y, g, &needs)
    }) {
        let mut grads = grads.into_iter();
        return std::array::from_fn(|_| grads.next().flatten());
    }
    let grads: [Option<Vec<T>>; N] = kernel::map_backward(
        inputs.map(|o| (o.data(), o.shape())),
        y.map(|y| y.data()),
        g.data(),
        &shape,
        needs,
        f,
    );
    let mut grads = grads.into_iter();
    inputs.map(|o| {
        grads
            .next()
            .flatten()
            .map(|data| Tensor::from_parts(data, o.shape().to_vec()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::ops::{binary, unary};

    fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
        Tensor::from_vec(data.to_vec(), shape).expect("shape")
    }

    #[test]
    fn relu_of_a_sum_equals_the_unfused_ops_for_row_and_column_broadcasts() {
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
            let region = Kernel::named("relu(x0 + x1)");
            let fused = map(&region, [&a, &b], |[x, c]| unary::relu_value(x + c));
            assert_eq!(fused.to_vec(), unfused.to_vec());
            let g = t(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], &[2, 3]);
            let [da, db] = map_backward(
                &region,
                [Operand::Shape(a.shape()), Operand::Shape(b.shape())],
                Some(&fused),
                &g,
                [true, true],
                |_, y, g| {
                    let d = unary::relu_adjoint(y, g);
                    [d, d]
                },
            );
            let masked = unary::relu_backward(&unfused, &g);
            let (ea, eb) = binary::add_backward(a.shape(), b.shape(), &masked);
            assert_eq!(da.expect("needed").to_vec(), ea.to_vec());
            let db = db.expect("needed");
            assert_eq!(db.to_vec(), eb.to_vec());
            assert_eq!(db.shape(), b.shape());
        }
    }

    #[test]
    fn shapes_that_do_not_broadcast_name_the_region() {
        let (a, b) = (t(&[1.0; 6], &[2, 3]), t(&[1.0; 2], &[2]));
        let region = Kernel::named("tanh(x0) * x1");
        let err = try_map(&region, [&a, &b], |[x, y]| x * y).expect_err("mismatch");
        let message = err.to_string();
        assert!(message.contains("tanh(x0) * x1"), "{message}");
        assert!(
            message.contains("[2, 3]") && message.contains("[2]"),
            "{message}"
        );
    }

    #[test]
    fn unneeded_operands_get_no_gradient() {
        let (a, b) = (t(&[1.0, 2.0], &[2]), t(&[3.0, 4.0], &[2]));
        let g = t(&[1.0, 1.0], &[2]);
        let [da, db] = map_backward(
            &Kernel::named("x0 * x1"),
            [Operand::Value(&a), Operand::Value(&b)],
            None,
            &g,
            [false, true],
            |[x, y], _, g| [g * y, g * x],
        );
        assert!(da.is_none());
        assert_eq!(db.expect("needed").to_vec(), vec![1.0, 2.0]);
    }
}
