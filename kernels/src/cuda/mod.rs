//! CUDA kernels for the compiler's fused regions: the region's
//! `__device__` body (printed by the compiler from its rule table, one
//! source per region: `adjoint_region_forward` / `adjoint_region_adjoint`)
//! wrapped in grid-stride `extern "C"` kernels with numpy broadcast
//! indexing, for `float` and `double`, and (with the `cuda` feature)
//! compiled by NVRTC to a CUBIN for one GPU architecture.
//!
//! The kernels take every operand as a pointer read through its strides
//! over the output's axes (a scalar operand is a one-element buffer with
//! stride 0), and an `AdjointLayout` struct (dims and strides) by value. The backward kernel
//! writes a full-shape operand's gradient in place and adds a broadcast
//! operand's with `atomicAdd`; a null gradient pointer means "not needed".

#[doc(hidden)]
pub mod host;
#[cfg(test)]
mod host_tests;
pub mod ops;

/// Axes a kernel's layout holds at most.
pub const MAX_RANK: usize = 8;

/// Operands a region kernel takes at most (its layout's fixed size).
pub const MAX_INPUTS: usize = 16;

/// The forward and backward kernels of a region with `inputs` operands
/// around its device source, for `float` (`adjoint_forward_f32`,
/// `adjoint_backward_f32`) and `double` (`..._f64`).
pub fn region_kernels(region_source: &str, inputs: usize) -> String {
    let mut out = String::from(region_source);
    out.push_str(&format!(
        "struct AdjointLayout {{\n  unsigned int rank;\n  unsigned long long dims[{MAX_RANK}];\n  unsigned long long strides[{MAX_INPUTS}][{MAX_RANK}];\n  unsigned int full[{MAX_INPUTS}];\n}};\n"
    ));
    for (ty, suffix) in [("float", "f32"), ("double", "f64")] {
        let offsets = offsets(inputs);
        let xs: Vec<String> = (0..inputs)
            .map(|i| format!("const {ty}* __restrict__ x{i}"))
            .collect();
        let ds: Vec<String> = (0..inputs).map(|i| format!("{ty}* d{i}")).collect();
        let loads: Vec<String> = (0..inputs).map(|i| format!("x{i}[o{i}]")).collect();
        let locals: Vec<String> = (0..inputs).map(|i| format!("v{i}")).collect();
        let refs: Vec<String> = (0..inputs).map(|i| format!("&v{i}")).collect();
        let stores: String = (0..inputs)
            .map(|i| {
                format!(
                    "    if (d{i}) {{ if (l.full[{i}]) d{i}[i] = v{i}; else atomicAdd(&d{i}[o{i}], v{i}); }}\n"
                )
            })
            .collect();
        out.push_str(&format!(
            "extern \"C\" __global__ void adjoint_forward_{suffix}({xs}, {ty}* __restrict__ out, unsigned long long n, AdjointLayout l) {{\n\
             \x20 for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n; i += (unsigned long long)blockDim.x * gridDim.x) {{\n\
             {offsets}\
             \x20   out[i] = adjoint_region_forward<{ty}>({loads});\n  }}\n}}\n\
             extern \"C\" __global__ void adjoint_backward_{suffix}({xs}, const {ty}* __restrict__ y, const {ty}* __restrict__ g, {ds}, unsigned long long n, AdjointLayout l) {{\n\
             \x20 for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n; i += (unsigned long long)blockDim.x * gridDim.x) {{\n\
             {offsets}\
             \x20   {ty} {locals};\n\
             \x20   adjoint_region_adjoint<{ty}>({loads}, y ? y[i] : {ty}(0), g[i], {refs});\n\
             {stores}  }}\n}}\n",
            xs = xs.join(", "),
            ds = ds.join(", "),
            loads = loads.join(", "),
            locals = locals.join(", "),
            refs = refs.join(", "),
        ));
    }
    out
}

/// The `AdjointLayout` a region kernel takes by value: the output's
/// dims, each operand's element strides over the output's axes (0 where
/// it is broadcast), and whether it has the output's shape (its gradient is
/// written, not accumulated).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdjointLayout {
    /// The output's number of axes.
    pub rank: u32,
    /// The output's dims (1 past `rank`).
    pub dims: [u64; MAX_RANK],
    /// Each operand's element stride along each output axis.
    pub strides: [[u64; MAX_RANK]; MAX_INPUTS],
    /// 1 where the operand has the output's shape.
    pub full: [u32; MAX_INPUTS],
}

// SAFETY: plain `repr(C)` data laid out as the kernels' `struct AdjointLayout`.
#[cfg(feature = "cuda")]
unsafe impl cudarc::driver::DeviceRepr for AdjointLayout {}

impl AdjointLayout {
    /// The layout of operands of `inputs` shapes broadcast (numpy's rules,
    /// already checked) to `out`; an error when there are more axes or
    /// operands than a kernel takes.
    pub fn new(out: &[usize], inputs: &[&[usize]]) -> Result<AdjointLayout, String> {
        if out.len() > MAX_RANK {
            return Err(format!(
                "a CUDA region takes at most {MAX_RANK} axes, not {}",
                out.len()
            ));
        }
        if inputs.len() > MAX_INPUTS {
            return Err(format!(
                "a CUDA region takes at most {MAX_INPUTS} operands, not {}",
                inputs.len()
            ));
        }
        let mut layout = AdjointLayout {
            rank: out.len() as u32,
            dims: [1; MAX_RANK],
            strides: [[0; MAX_RANK]; MAX_INPUTS],
            full: [0; MAX_INPUTS],
        };
        for (d, &n) in out.iter().enumerate() {
            layout.dims[d] = n as u64;
        }
        for (k, shape) in inputs.iter().enumerate() {
            let offset = out.len() - shape.len();
            let mut stride = 1u64;
            for (j, &n) in shape.iter().enumerate().rev() {
                if n != 1 {
                    layout.strides[k][offset + j] = stride;
                }
                stride *= n as u64;
            }
            layout.full[k] = u32::from(*shape == out);
        }
        Ok(layout)
    }
}

impl AdjointLayout {
    /// The layout of operands read through explicit element `strides` over
    /// the output's axes (a transpose reads its input with two strides
    /// swapped); every operand counts as broadcast (accumulated).
    pub fn with_strides(out: &[usize], strides: &[Vec<usize>]) -> Result<AdjointLayout, String> {
        let shapes: Vec<&[usize]> = strides.iter().map(|_| &[][..]).collect();
        let mut layout = AdjointLayout::new(out, &shapes)?;
        for (k, operand) in strides.iter().enumerate() {
            if operand.len() != out.len() {
                return Err(format!(
                    "{} strides for an output of {} axes",
                    operand.len(),
                    out.len()
                ));
            }
            for (d, &stride) in operand.iter().enumerate() {
                layout.strides[k][d] = stride as u64;
            }
            layout.full[k] = 0;
        }
        Ok(layout)
    }
}

/// The loop body computing each operand's element offset `o{k}` from the
/// output index `i`.
fn offsets(inputs: usize) -> String {
    let zeros: Vec<String> = (0..inputs).map(|k| format!("o{k} = 0")).collect();
    let adds: String = (0..inputs)
        .map(|k| format!(" o{k} += c * l.strides[{k}][d];"))
        .collect();
    format!(
        "    unsigned long long rem = i, {};\n    for (int d = (int)l.rank - 1; d >= 0; d--) {{ unsigned long long c = rem % l.dims[d]; rem /= l.dims[d];{adds} }}\n",
        zeros.join(", ")
    )
}

/// Whether cuBLAS can be loaded (always false without the `cuda` feature).
pub fn cublas_available() -> bool {
    #[cfg(feature = "cuda")]
    {
        std::panic::catch_unwind(|| unsafe { cudarc::cublas::sys::is_culib_present() })
            .unwrap_or(false)
    }
    #[cfg(not(feature = "cuda"))]
    {
        false
    }
}

/// Whether the CUDA driver library can be loaded (always false without the
/// `cuda` feature). cudarc panics on a missing library; this probe does not.
pub fn driver_available() -> bool {
    #[cfg(feature = "cuda")]
    {
        std::panic::catch_unwind(|| unsafe { cudarc::driver::sys::is_culib_present() })
            .unwrap_or(false)
    }
    #[cfg(not(feature = "cuda"))]
    {
        false
    }
}

/// NVRTC: compiling kernel sources to CUBINs, where `libnvrtc` is present.
#[cfg(feature = "cuda")]
pub mod nvrtc {
    use cudarc::nvrtc::{result, sys};
    use std::ffi::{CStr, CString};

    /// Whether `libnvrtc` can be loaded (cudarc panics on a missing
    /// library, so every use starts with this probe).
    pub fn available() -> bool {
        std::panic::catch_unwind(|| unsafe { sys::is_culib_present() }).unwrap_or(false)
    }

    /// Compiles `source` to a CUBIN for `arch` (e.g. `sm_90`, the device's
    /// own architecture: a CUBIN needs no driver JIT, unlike PTX from a
    /// newer NVRTC). The error is NVRTC's log.
    pub fn compile_cubin(source: &str, arch: &str) -> Result<Vec<u8>, String> {
        if !available() {
            return Err("libnvrtc was not found (set LD_LIBRARY_PATH to its directory)".into());
        }
        let source = CString::new(source).map_err(|e| e.to_string())?;
        let program = result::create_program(&source, None).map_err(|e| e.to_string())?;
        let options = [
            format!("--gpu-architecture={arch}"),
            "--std=c++17".to_string(),
        ];
        // SAFETY: `program` was created above and is destroyed once below.
        let compiled = unsafe { result::compile_program(program, &options) };
        let outcome = match compiled {
            Err(_) => {
                // SAFETY: the program exists; its log is a C string.
                let log = unsafe { result::get_program_log(program) }
                    .map(|log| {
                        unsafe { CStr::from_ptr(log.as_ptr()) }
                            .to_string_lossy()
                            .into_owned()
                    })
                    .unwrap_or_else(|e| e.to_string());
                Err(log)
            }
            Ok(()) => cubin(program),
        };
        // SAFETY: destroyed exactly once.
        unsafe { result::destroy_program(program) }.map_err(|e| e.to_string())?;
        outcome
    }

    fn cubin(program: sys::nvrtcProgram) -> Result<Vec<u8>, String> {
        let mut size = 0usize;
        // SAFETY: `program` compiled successfully; `size` receives its CUBIN's length.
        unsafe { sys::nvrtcGetCUBINSize(program, &mut size) }
            .result()
            .map_err(|e| e.to_string())?;
        let mut binary = vec![0u8; size];
        // SAFETY: `binary` holds `size` bytes, as NVRTC reported.
        unsafe { sys::nvrtcGetCUBIN(program, binary.as_mut_ptr().cast()) }
            .result()
            .map_err(|e| e.to_string())?;
        Ok(binary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_kernels_name_every_operand_and_both_precisions() {
        let body = "template <typename T> __device__ T adjoint_region_forward(T x0, T x1) { return x0 + x1; }\n";
        let source = region_kernels(body, 2);
        for name in [
            "adjoint_forward_f32",
            "adjoint_backward_f32",
            "adjoint_forward_f64",
            "adjoint_backward_f64",
        ] {
            assert!(source.contains(name), "{name} missing:\n{source}");
        }
        assert!(
            source.contains("adjoint_region_forward<float>(x0[o0], x1[o1])"),
            "{source}"
        );
        assert!(source.contains("atomicAdd(&d1[o1], v1)"), "{source}");
        assert!(!source.contains("#include"));
    }

    #[test]
    fn layouts_give_broadcast_axes_stride_zero() {
        let layout = AdjointLayout::new(&[2, 3], &[&[2, 3], &[3], &[2, 1]]).expect("fits");
        assert_eq!(layout.rank, 2);
        assert_eq!(&layout.dims[..2], &[2, 3]);
        assert_eq!(&layout.strides[0][..2], &[3, 1]);
        assert_eq!(&layout.strides[1][..2], &[0, 1]);
        assert_eq!(&layout.strides[2][..2], &[1, 0]);
        assert_eq!(&layout.full[..3], &[1, 0, 0]);
        assert!(AdjointLayout::new(&[1; 9], &[]).is_err());
    }
}

/// The element types of CUDA buffers, kernels and cuBLAS products.
#[cfg(feature = "cuda")]
pub mod device {
    use cudarc::cublas::{CudaBlas, Gemm, GemmConfig, StridedBatchedConfig};
    use cudarc::driver::{DevicePtr, DevicePtrMut, DeviceRepr, ValidAsZeroBits};

    /// An element type on a CUDA device (`f32`, `f64`): what its kernels'
    /// names end in and its cuBLAS product.
    pub trait DeviceFloat: DeviceRepr + ValidAsZeroBits + Copy + 'static {
        /// The suffix of its kernels' names (`f32`, `f64`).
        const SUFFIX: &'static str;

        /// `c = alpha·op(a)·op(b) + beta·c` in cuBLAS's column-major terms.
        ///
        /// # Safety
        /// The configuration's sizes and leading dimensions must fit the
        /// buffers.
        unsafe fn gemm<A: DevicePtr<Self>, B: DevicePtr<Self>, C: DevicePtrMut<Self>>(
            blas: &CudaBlas,
            cfg: GemmConfig<Self>,
            a: &A,
            b: &B,
            c: &mut C,
        ) -> Result<(), cudarc::cublas::result::CublasError>;

        /// A batch of products, operands `stride` elements apart.
        ///
        /// # Safety
        /// As [`DeviceFloat::gemm`], for every product of the batch.
        unsafe fn gemm_strided_batched<
            A: DevicePtr<Self>,
            B: DevicePtr<Self>,
            C: DevicePtrMut<Self>,
        >(
            blas: &CudaBlas,
            cfg: StridedBatchedConfig<Self>,
            a: &A,
            b: &B,
            c: &mut C,
        ) -> Result<(), cudarc::cublas::result::CublasError>;
    }

    macro_rules! device_float {
        ($t:ty, $suffix:literal) => {
            impl DeviceFloat for $t {
                const SUFFIX: &'static str = $suffix;

                unsafe fn gemm<A: DevicePtr<Self>, B: DevicePtr<Self>, C: DevicePtrMut<Self>>(
                    blas: &CudaBlas,
                    cfg: GemmConfig<Self>,
                    a: &A,
                    b: &B,
                    c: &mut C,
                ) -> Result<(), cudarc::cublas::result::CublasError> {
                    // SAFETY: the caller's contract.
                    unsafe { Gemm::<$t>::gemm(blas, cfg, a, b, c) }
                }

                unsafe fn gemm_strided_batched<
                    A: DevicePtr<Self>,
                    B: DevicePtr<Self>,
                    C: DevicePtrMut<Self>,
                >(
                    blas: &CudaBlas,
                    cfg: StridedBatchedConfig<Self>,
                    a: &A,
                    b: &B,
                    c: &mut C,
                ) -> Result<(), cudarc::cublas::result::CublasError> {
                    // SAFETY: the caller's contract.
                    unsafe { Gemm::<$t>::gemm_strided_batched(blas, cfg, a, b, c) }
                }
            }
        };
    }

    device_float!(f32, "f32");
    device_float!(f64, "f64");
}
