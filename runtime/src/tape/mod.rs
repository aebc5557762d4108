//! Tape-based (run-time) reverse-mode autodiff: the baseline generated code
//! is benchmarked against and an independent oracle in tests.
//!
//! - [`scalar`]: one node per scalar operation ([`Tape`], [`Var`]).
//! - [`tensor`]: one node per tensor operation ([`Graph`], [`TensorVar`]),
//!   over the same op set and adjoint kernels as generated code.

pub mod scalar;
pub mod tensor;

pub use scalar::{Gradients, IntoOperand, Operand, Tape, Var};
pub use tensor::{Graph, TensorGradients, TensorVar};
