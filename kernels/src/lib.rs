//! CPU kernels of adjoint: loops over contiguous buffers, no graphs, no
//! shapes beyond what a kernel needs.
//!
//! - [`mod@gemm`]: matrix products on matrixmultiply's micro-kernels, split across
//!   cores for the shapes networks use;
//! - [`elementwise`]: fused one-pass maps over slices (`map_inplace`,
//!   `zip_map`, `axpy`, ...);
//! - [`mod@cuda`]: the fused regions' CUDA kernels (and, with the `cuda`
//!   feature, their NVRTC compilation);
//! - [`fused`]: the drivers of the compiler's fused element-wise regions
//!   (N operands, broadcasting, gradients summed over broadcast axes);
//! - [`reduce`]: accurate sums (whole, per row, per column) and the maximum;
//! - [`math`]: `exp`, `tanh` and `sigmoid` as vectorisable arithmetic.
//!
//! Work is split across rayon's threads only above sizes measured to pay
//! (each module documents its threshold); results never depend on the
//! thread count.

#![warn(missing_docs)]

pub mod cuda;
/// The pinned `cudarc`, for the runtime's CUDA backend.
#[cfg(feature = "cuda")]
pub use cudarc;
pub mod elementwise;
pub mod float;
pub mod fused;
pub mod gemm;
pub mod math;
mod parallel;
pub mod reduce;
mod wide;

pub use float::Float;
pub use gemm::{gemm, gemm_single_threaded, Gemm, MatRef};
pub use parallel::{for_each_part, for_each_task, threads};
