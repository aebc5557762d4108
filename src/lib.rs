//! # adjoint
//!
//! Compile-time automatic differentiation for Rust. Put `#[differentiable]` on
//! an ordinary scalar function and the compiler generates, next to it:
//!
//! - `NAME_grad(args) -> NameGrad`: the value and the gradient (reverse mode),
//!   as straight-line forward and adjoint code without a tape;
//! - `NAME_jvp(args, tangents) -> (value, tangent)`: forward mode;
//! - `NAME_trace(args) -> Trace`: the evaluation and adjoint traces;
//! - `NAME_graph() -> &'static str`: the computation graph as Graphviz DOT.
//!
//! ```
//! use adjoint::differentiable;
//!
//! #[differentiable]
//! fn y(x1: f64, x2: f64) -> f64 {
//!     (f64::sin(x1 / x2) + (x1 / x2 - x2.exp())) * (x1 / x2 - x2.exp())
//! }
//!
//! let g = y_grad(1.5, 0.5);
//! assert!((g.value - 2.0167).abs() < 1e-4);
//! assert!((g.x1 - 3.0118).abs() < 1e-4 && (g.x2 + 13.7239).abs() < 1e-4);
//! let (_, dy_dx2) = y_jvp(1.5, 0.5, 0.0, 1.0);
//! assert!((dy_dx2 - g.x2).abs() < 1e-12);
//! ```
//!
//! The runtime pieces live in [`tape`] (the tape-based baseline and test
//! oracle), [`check`] (finite-difference gradient checks) and [`scalar`]
//! (`sigmoid`, `relu` and free-function forms of the math functions).
//! [`tensor`] holds the CPU [`Tensor`] and its ops, each with its adjoint.

// Generated code names this crate `::adjoint`, in `nn` too.
extern crate self as adjoint;

pub use adjoint_macros::{custom_adjoint, differentiable, Parameters};
#[cfg(feature = "data")]
pub use adjoint_runtime::data;
pub use adjoint_runtime::params::Parameters;
pub use adjoint_runtime::tensor::{Device, DeviceError, Element, Labels, ShapeError, Tensor};
pub use adjoint_runtime::tensor_trace::TensorTrace;
pub use adjoint_runtime::trace::Trace;
#[cfg(feature = "train")]
pub use adjoint_runtime::train;
#[cfg(feature = "safetensors")]
pub use adjoint_runtime::weights;
pub use adjoint_runtime::{check, optim, params, saves, scalar, tape, tensor, trace};

pub mod nn;

/// The CPU kernels (gemm, element-wise loops, reductions).
pub use adjoint_kernels as kernels;

/// The names most programs need: the macros, the scalar helpers, and the
/// tensor type with its free-function ops.
pub mod prelude {
    pub use crate::scalar::ScalarExt;
    pub use crate::tensor::{concat, cross_entropy, l1, mse};
    #[cfg(feature = "safetensors")]
    pub use crate::weights::Weights;
    pub use crate::{custom_adjoint, differentiable, Parameters, Trace};
    pub use crate::{Element, Labels, ShapeError, Tensor};
}

/// What generated code refers to. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use adjoint_kernels::math::{exp, tanh};
    pub use adjoint_runtime::params::{
        accumulate, add_model_gradient, checked_gradient, checked_model_gradient,
        finished_model_gradient,
    };
    pub use adjoint_runtime::saves::{Inactive, SaveSlot, SaveStack};
    pub use adjoint_runtime::scalar::SliceTangent;
    pub use adjoint_runtime::scalar::{relu, sigmoid};
    pub use adjoint_runtime::slots::{Active, CallResult, Constant, IntoAdjoint, Slot};
    pub use adjoint_runtime::tensor::ops;
    pub use adjoint_runtime::tensor::Placement;
    pub use adjoint_runtime::tensor_trace::Kept;
    pub use adjoint_runtime::trace::TraceArg;
}
