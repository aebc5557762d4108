//! Dense CPU tensors and their differentiable ops.
//!
//! [`Tensor<T>`](Tensor) is an n-dimensional, row-major, contiguous array of
//! `f32` (the default) or `f64` whose storage is shared through an `Arc`:
//! clones are O(1) and in-place updates copy only when the storage is shared.
//!
//! Every op lives in a module of [`ops`] next to its adjoint: the forward
//! function computes the value, the `*_backward` function maps the gradient
//! of the result to the gradients of the operands (a vector-Jacobian
//! product). Generated adjoint code and the tape call these pairs; users
//! mostly call the forward ops as [`Tensor`] methods, operators and the free
//! functions re-exported here.
//!
//! ```
//! use adjoint_runtime::tensor::{ops, Tensor};
//!
//! let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
//! let w = Tensor::from_vec(vec![0.5, -1.0, 2.0], &[3, 1]).unwrap();
//! let y = x.matmul(&w);                      // [[4.5], [9.0]]
//! let (dx, dw) = ops::matmul::matmul_backward(&x, &w, &Tensor::ones(y.shape()));
//! assert_eq!(dx.to_vec(), vec![0.5, -1.0, 2.0, 0.5, -1.0, 2.0]);
//! assert_eq!(dw.to_vec(), vec![5.0, 7.0, 9.0]);
//! ```
//!
//! # Errors and panics
//!
//! Ops whose operands can be wrong have two forms. `try_op` returns
//! `Result<_, ShapeError>`; the [`ShapeError`] names the op and the shapes,
//! e.g. `matmul: inner dimensions differ: [100, 784] x [512, 10]`. The plain
//! `op` (and the operators `+ - * /`) panics with exactly that message, for
//! code whose shapes are right by construction. The `*_backward` functions
//! expect the shapes their forward op accepted and panic with a
//! [`ShapeError`] message otherwise. Ops that cannot fail (element-wise
//! functions, whole-tensor sums) have only the plain form.
//!
//! # Broadcasting
//!
//! `+ - * /` broadcast like numpy: shapes are aligned on the right and each
//! pair of lengths must be equal or contain a 1. Their adjoints sum the
//! gradient back over the broadcast axes with [`reduce_to_shape`].

mod base;
#[cfg(feature = "cuda")]
mod cuda;
pub(crate) mod device;
mod display;
mod element;
pub(crate) mod error;
mod init;
#[cfg(feature = "ndarray")]
mod ndarray_interop;
pub mod ops;
mod placement;
mod shape;
mod storage;

#[cfg(test)]
mod tests;

pub use base::Tensor;
pub use display::{EDGE_ITEMS, SUMMARY_THRESHOLD};
pub use element::Element;
pub use error::ShapeError;
pub use ops::broadcast::{reduce_to_shape, try_reduce_to_shape};
pub use ops::index::{concat, try_concat};
pub use ops::loss::{cross_entropy, l1, mse, try_cross_entropy, try_l1, try_mse, Labels};
pub use placement::{Place, Placement};
pub use shape::broadcast_shapes;
pub use storage::{Device, DeviceError};

/// The random-number crate the constructors take generators from, so
/// callers can name the same version (`tensor::rand::rngs::StdRng`).
pub use rand;
