//! Runtime support for `adjoint`, the compile-time automatic differentiation compiler.
//!
//! The `#[differentiable]` macro rewrites functions into straight-line adjoint code at
//! compile time; that code still needs a handful of small run-time pieces, which live here:
//!
//! - [`scalar`]: the elementary functions (free-function forms and [`scalar::ScalarExt`])
//!   that differentiable code may call.
//! - [`slots`]: which arguments of a generated function carry derivatives (checked by callers).
//! - [`saves`]: stacks and slots holding forward values that the reverse sweep consumes.
//! - [`trace`]: a Griewank–Walther evaluation/adjoint trace recorder for teaching and
//!   debugging.
//! - [`tape`]: a conventional tape-based reverse-mode implementation, used as the run-time
//!   baseline in benchmarks and as an independent oracle in tests.
//! - [`check`]: finite-difference gradient checking.
//! - [`weights`]: a model's weights as a `.safetensors` file (PyTorch, candle).
//! - [`tensor`]: dense CPU tensors and their differentiable ops, each op's forward next to its
//!   adjoint.

pub mod check;
#[cfg(feature = "data")]
pub mod data;
pub mod optim;
pub mod params;
pub mod saves;
pub mod scalar;
pub mod slots;
pub mod tape;
pub mod tensor;
pub mod tensor_trace;
pub mod trace;
#[cfg(feature = "train")]
pub mod train;
#[cfg(feature = "safetensors")]
pub mod weights;

pub use tensor::{ShapeError, Tensor};
