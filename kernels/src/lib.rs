//! CPU kernels of adjoint: loops over contiguous buffers, no graphs, no
//! shapes beyond what a kernel needs.
//!
//! - [`gemm`]: matrix products on matrixmultiply's micro-kernels, split across
//!   cores for the shapes networks use.

pub mod gemm;

pub use gemm::{gemm, gemm_single_threaded, Gemm, MatRef};
