//! The CUDA backend behind the device seam (the `cuda` feature): a device's
//! context, its one stream, its cuBLAS handle and its NVRTC-compiled
//! modules ([`Gpu`]); a tensor's device buffer ([`Buffer`]); and the kernels
//! the ops with a CUDA path launch: cuBLAS products, the compiler's fused
//! regions (and single-op regions for the runtime's element-wise ops) in
//! `adjoint_kernels::cuda`'s grid-stride wrappers, and `cuda::ops`'s
//! cross-entropy, sum and Adam.
//!
//! Every op runs on the device's default stream, so cudarc's per-buffer
//! event tracking is off; buffers come from the stream-ordered pool, whose
//! release threshold is raised so memory freed in one training step is
//! reused by the next instead of returned to the driver. Modules compile
//! once per device, to a CUBIN for the device's own `sm_XY` (PTX from a newer
//! NVRTC would not load on an older driver). A driver error inside an op
//! stops with a message naming the device and the op.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use adjoint_kernels::cuda::{self as kernels, nvrtc, AdjointLayout};
use adjoint_kernels::cudarc::cublas::sys::cublasOperation_t;
use adjoint_kernels::cudarc::cublas::{CudaBlas, GemmConfig, StridedBatchedConfig};
use adjoint_kernels::cudarc::driver::{
    sys, CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, CudaView, CudaViewMut,
    DevicePtr, DevicePtrMut, DeviceRepr, LaunchConfig, PushKernelArg,
};
use adjoint_kernels::cudarc::nvrtc::Ptx;

use super::device::AdamStep;
use super::ops::conv::Geometry;
use super::ops::pool::Pool;
use super::shape::numel;
use super::storage::{Device, DeviceError};
use super::{Element, Tensor};

/// One CUDA device as the runtime uses it.
pub(crate) struct Gpu {
    index: usize,
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    blas: CudaBlas,
    /// `sm_XY`, the device's compute capability.
    arch: String,
    /// Compiled modules by source.
    modules: Mutex<HashMap<String, Arc<CudaModule>>>,
}

impl Gpu {
    /// Device `index`, opened once per process.
    pub(crate) fn get(index: usize) -> Result<Arc<Gpu>, DeviceError> {
        static GPUS: OnceLock<Mutex<HashMap<usize, Arc<Gpu>>>> = OnceLock::new();
        let mut gpus = GPUS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(gpu) = gpus.get(&index) {
            return Ok(gpu.clone());
        }
        let gpu = Arc::new(Gpu::open(index)?);
        gpus.insert(index, gpu.clone());
        Ok(gpu)
    }

    fn open(index: usize) -> Result<Gpu, DeviceError> {
        let missing = |which: &str| {
            DeviceError::NoCuda {
            which: format!("{which} could not be loaded"),
            searched: "the dynamic loader's paths (LD_LIBRARY_PATH, ldconfig); pip's nvidia-cublas and nvidia-cuda-nvrtc wheels ship the libraries".into(),
        }
        };
        if !kernels::driver_available() {
            return Err(missing("the CUDA driver library libcuda.so"));
        }
        if !kernels::cublas_available() {
            return Err(missing("cuBLAS (libcublas.so)"));
        }
        if !nvrtc::available() {
            return Err(missing("NVRTC (libnvrtc.so)"));
        }
        let device = Device::Cuda(index);
        let failed = |what: &str, e: String| DeviceError::Driver {
            device,
            message: format!("{what}: {e}"),
        };
        let ctx =
            CudaContext::new(index).map_err(|e| failed("opening the device", e.to_string()))?;
        // SAFETY: every op of this runtime runs on the one stream below, in
        // order, so no buffer is used by two streams.
        unsafe { ctx.disable_event_tracking() };
        keep_freed_memory(&ctx).map_err(|e| failed("configuring the memory pool", e))?;
        let stream = ctx.default_stream();
        let blas = CudaBlas::new(stream.clone())
            .map_err(|e| failed("creating the cuBLAS handle", e.to_string()))?;
        let (major, minor) = ctx
            .compute_capability()
            .map_err(|e| failed("reading the compute capability", e.to_string()))?;
        Ok(Gpu {
            index,
            ctx,
            stream,
            blas,
            arch: format!("sm_{major}{minor}"),
            modules: Mutex::default(),
        })
    }

    fn device(&self) -> Device {
        Device::Cuda(self.index)
    }

    /// Stops an op on a driver error, naming the device and the op.
    #[track_caller]
    fn check<R, E: std::fmt::Display>(&self, op: &str, result: Result<R, E>) -> R {
        result.unwrap_or_else(|e| panic!("{op} on {}: {e}", self.device()))
    }

    /// The kernel `name` of the module compiled from `source`.
    fn function(&self, source: &str, name: &str) -> CudaFunction {
        let module = {
            let mut modules = self
                .modules
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match modules.get(source) {
                Some(module) => module.clone(),
                None => {
                    let cubin = nvrtc::compile_cubin(source, &self.arch).unwrap_or_else(|log| {
                        panic!(
                            "NVRTC could not compile a kernel for {} ({}): {log}",
                            self.device(),
                            self.arch
                        )
                    });
                    let module = self.check(
                        "loading a module",
                        self.ctx.load_module(Ptx::from_binary(cubin)),
                    );
                    modules.insert(source.to_string(), module.clone());
                    module
                }
            }
        };
        self.check(name, module.load_function(name))
    }

    /// `n` uninitialised elements (at least one is allocated).
    fn alloc<T: Element>(&self, n: usize) -> CudaSlice<T> {
        // SAFETY: every caller writes all `n` elements before reading.
        self.check("allocating", unsafe { self.stream.alloc::<T>(n.max(1)) })
    }

    /// `n` zeros.
    fn zeros<T: Element>(&self, n: usize) -> CudaSlice<T> {
        self.check("allocating", self.stream.alloc_zeros::<T>(n.max(1)))
    }

    /// A buffer of `len` elements around `slice`.
    fn wrap<T>(self: &Arc<Self>, slice: CudaSlice<T>, len: usize) -> Buffer<T> {
        Buffer {
            slice: Arc::new(slice),
            len,
            gpu: self.clone(),
        }
    }

    /// The first `len` elements of `slice` on the host, once the stream
    /// has run the work writing them.
    fn download<U: DeviceRepr>(&self, slice: &CudaSlice<U>, len: usize) -> Vec<U> {
        if len == 0 {
            return Vec::new();
        }
        let values = self.check(
            "copying to the host",
            self.stream.clone_dtoh(&slice.slice(0..len)),
        );
        self.check("synchronising", self.stream.synchronize());
        values
    }

    /// `values` on this device.
    fn upload<T: Element>(self: &Arc<Self>, values: &[T]) -> Buffer<T> {
        let slice = if values.is_empty() {
            self.zeros(1)
        } else {
            self.check("copying to the device", self.stream.clone_htod(values))
        };
        self.wrap(slice, values.len())
    }
}

/// Keeps memory freed to the stream-ordered pool cached for reuse (a
/// release threshold of "never") instead of returning it at each
/// synchronisation.
fn keep_freed_memory(ctx: &Arc<CudaContext>) -> Result<(), String> {
    use adjoint_kernels::cudarc::driver::result::{device, mem_pool};
    if !ctx.has_async_alloc() {
        return Ok(());
    }
    let mut threshold = u64::MAX;
    // SAFETY: the device is the context's; the attribute takes a u64.
    unsafe {
        let pool = device::get_default_mem_pool(ctx.cu_device()).map_err(|e| e.to_string())?;
        mem_pool::set_attribute(
            pool,
            sys::CUmemPool_attribute_enum::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
            (&mut threshold as *mut u64).cast(),
        )
        .map_err(|e| e.to_string())
    }
}

/// A tensor's elements on a CUDA device, shared between tensors (an op
/// writes into a fresh buffer, or copies a shared one first).
pub(crate) struct Buffer<T> {
    slice: Arc<CudaSlice<T>>,
    /// The element count (the allocation holds at least one).
    len: usize,
    gpu: Arc<Gpu>,
}

impl<T> Clone for Buffer<T> {
    fn clone(&self) -> Self {
        Buffer {
            slice: self.slice.clone(),
            len: self.len,
            gpu: self.gpu.clone(),
        }
    }
}

impl<T: Element> Buffer<T> {
    pub(crate) fn device(&self) -> Device {
        self.gpu.device()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn key(&self) -> usize {
        Arc::as_ptr(&self.slice) as usize
    }

    /// A copy of the elements on the host.
    pub(crate) fn download(&self) -> Vec<T> {
        self.gpu.download(&self.slice, self.len)
    }
}

/// `tensor` on CUDA device `index`.
pub(crate) fn upload<T: Element>(
    tensor: &Tensor<T>,
    index: usize,
) -> Result<Buffer<T>, DeviceError> {
    let gpu = Gpu::get(index)?;
    Ok(gpu.upload(&tensor.to_vec()))
}

/// Zeros of `n` elements on the device of `like`.
pub(crate) fn zeros_like<T: Element>(like: &Buffer<T>, n: usize) -> Buffer<T> {
    let gpu = &like.gpu;
    gpu.wrap(gpu.zeros(n), n)
}

/// The buffers of operands that live on one device, or the message naming
/// the op and the two devices.
pub(crate) fn buffers<'a, T: Element>(
    op: &str,
    tensors: &[&'a Tensor<T>],
) -> Option<Vec<&'a Buffer<T>>> {
    let first = tensors.first()?;
    let device = first.device();
    for t in tensors {
        if t.device() != device {
            panic!(
                "{op}: operands on {device} and {}: move them to one device with `.to_device(..)`",
                t.device()
            );
        }
    }
    let buffers: Vec<&Buffer<T>> = tensors.iter().filter_map(|t| t.cuda()).collect();
    (buffers.len() == tensors.len()).then_some(buffers)
}

/// A launch over `n` elements with grid-stride loops.
fn grid(n: usize) -> LaunchConfig {
    let block = kernels::ops::BLOCK;
    let blocks = n.div_ceil(block as usize).clamp(1, 1 << 15) as u32;
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (block, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// The runtime's own kernels (`cuda::ops`).
fn ops_function<T: Element>(gpu: &Gpu, kernel: &str) -> CudaFunction {
    static SOURCE: OnceLock<String> = OnceLock::new();
    let source = SOURCE.get_or_init(kernels::ops::module_source);
    gpu.function(source, &format!("adjoint_{kernel}_{}", T::SUFFIX))
}

/// cuBLAS's column-major configuration of the row-major product `C[m, n] =
/// op(A) · op(B) + beta·C` (`A` stored `[m, k]`, or `[k, m]` when
/// `trans_a`; `B` `[k, n]`, or `[n, k]` when `trans_b`): cuBLAS computes
/// `Cᵀ = op(B)ᵀ · op(A)ᵀ`, so the operands are passed as `(B, A)`.
fn gemm_config<T: Element>(
    (trans_a, trans_b): (bool, bool),
    (m, k, n): (usize, usize, usize),
    beta: T,
) -> GemmConfig<T> {
    let op = |t: bool| {
        if t {
            cublasOperation_t::CUBLAS_OP_T
        } else {
            cublasOperation_t::CUBLAS_OP_N
        }
    };
    let int = |x: usize| {
        i32::try_from(x.max(1))
            .unwrap_or_else(|_| panic!("gemm: a dimension of {x} exceeds cuBLAS's 32-bit sizes"))
    };
    GemmConfig {
        transa: op(trans_b),
        transb: op(trans_a),
        m: int(n),
        n: int(m),
        k: int(k),
        alpha: T::one(),
        lda: int(if trans_b { k } else { n }),
        ldb: int(if trans_a { m } else { k }),
        beta,
        ldc: int(n),
    }
}

/// `C[m, n] = op(A) · op(B) + beta·C` (see [`gemm_config`]).
fn gemm_into<T: Element, A: DevicePtr<T>, B: DevicePtr<T>, C: DevicePtrMut<T>>(
    gpu: &Gpu,
    a: &A,
    b: &B,
    c: &mut C,
    trans: (bool, bool),
    mkn: (usize, usize, usize),
    beta: T,
) {
    let cfg = gemm_config(trans, mkn, beta);
    // SAFETY: the sizes and leading dimensions describe the buffers, which
    // the callers sized from the same (m, k, n).
    gpu.check("gemm", unsafe { T::gemm(&gpu.blas, cfg, b, a, c) });
}

/// A batch of `batch` products `C_i = op(A_i) · op(B_i)` of row-major
/// matrices stored one after another (one strided-batched cuBLAS call);
/// the result `[batch·m·n]`.
pub(crate) fn gemm<T: Element>(
    a: &Buffer<T>,
    b: &Buffer<T>,
    trans: (bool, bool),
    batch: usize,
    (m, k, n): (usize, usize, usize),
) -> Buffer<T> {
    let gpu = &a.gpu;
    let len = batch * m * n;
    if m * n == 0 || k == 0 {
        return gpu.wrap(gpu.zeros::<T>(len), len);
    }
    // cuBLAS writes every element with `beta = 0`.
    let mut c = gpu.alloc::<T>(len);
    if batch == 1 {
        gemm_into(
            gpu,
            &*a.slice,
            &*b.slice,
            &mut c,
            trans,
            (m, k, n),
            T::zero(),
        );
        return gpu.wrap(c, len);
    }
    let stride = |x: usize| gpu.check("gemm", i64::try_from(x));
    let cfg = StridedBatchedConfig {
        gemm: gemm_config(trans, (m, k, n), T::zero()),
        batch_size: gpu.check("gemm", i32::try_from(batch)),
        stride_a: stride(k * n),
        stride_b: stride(m * k),
        stride_c: stride(m * n),
    };
    // SAFETY: each of the `batch` products reads `m·k` and `k·n` elements
    // at its strides and writes `m·n`, inside the buffers.
    gpu.check("gemm", unsafe {
        T::gemm_strided_batched(&gpu.blas, cfg, &*b.slice, &*a.slice, &mut c)
    });
    gpu.wrap(c, len)
}

/// The value of a region (its CUDA C `source` printed by the compiler, or
/// a runtime op's) over operands broadcast to `out_shape`.
pub(crate) fn region_forward<T: Element>(
    op: &str,
    source: &str,
    inputs: &[&Buffer<T>],
    shapes: &[&[usize]],
    out_shape: &[usize],
) -> Buffer<T> {
    let layout = inputs[0]
        .gpu
        .check(op, AdjointLayout::new(out_shape, shapes));
    region_forward_with(op, source, inputs, &layout, out_shape)
}

/// `input` read through explicit element `strides` over the axes of
/// `out_shape` (a transpose).
pub(crate) fn gather<T: Element>(
    op: &str,
    source: &str,
    input: &Buffer<T>,
    strides: Vec<usize>,
    out_shape: &[usize],
) -> Buffer<T> {
    let layout = input
        .gpu
        .check(op, AdjointLayout::with_strides(out_shape, &[strides]));
    region_forward_with(op, source, &[input], &layout, out_shape)
}

/// [`region_forward`] through a given layout.
fn region_forward_with<T: Element>(
    op: &str,
    source: &str,
    inputs: &[&Buffer<T>],
    layout: &AdjointLayout,
    out_shape: &[usize],
) -> Buffer<T> {
    let gpu = &inputs[0].gpu;
    let n = numel(out_shape);
    let module = kernels::region_kernels(source, inputs.len());
    let f = gpu.function(&module, &format!("adjoint_forward_{}", T::SUFFIX));
    let mut out = gpu.alloc::<T>(n);
    let n64 = n as u64;
    let mut launch = gpu.stream.launch_builder(&f);
    for x in inputs {
        launch.arg(&*x.slice);
    }
    launch.arg(&mut out).arg(&n64).arg(layout);
    // SAFETY: the kernel reads each operand through the layout built from
    // its shape (or strides) and writes `n` elements of `out`.
    gpu.check(op, unsafe { launch.launch(grid(n)) });
    gpu.wrap(out, n)
}

/// Every needed operand's adjoint of a region: `values[i]` the operand's
/// buffer, `None` where the adjoint reads only its shape (it then sees
/// zeros); `y` the region's value where the adjoint reads it; `g` the
/// output's adjoint.
#[allow(clippy::too_many_arguments)]
pub(crate) fn region_backward<T: Element>(
    op: &str,
    source: &str,
    values: &[Option<&Buffer<T>>],
    shapes: &[&[usize]],
    y: Option<&Buffer<T>>,
    g: &Buffer<T>,
    needs: &[bool],
    out_shape: &[usize],
) -> Vec<Option<Buffer<T>>> {
    let gpu = &g.gpu;
    let layout = gpu.check(op, AdjointLayout::new(out_shape, shapes));
    let n = numel(out_shape);
    let module = kernels::region_kernels(source, values.len());
    let f = gpu.function(&module, &format!("adjoint_backward_{}", T::SUFFIX));
    let stand_ins: Vec<Option<CudaSlice<T>>> = values
        .iter()
        .zip(shapes)
        .map(|(v, shape)| v.is_none().then(|| gpu.zeros::<T>(numel(shape))))
        .collect();
    let mut grads: Vec<Option<CudaSlice<T>>> = needs
        .iter()
        .zip(shapes)
        .map(|(need, shape)| {
            need.then(|| {
                if *shape == out_shape {
                    gpu.alloc::<T>(n)
                } else {
                    gpu.zeros::<T>(numel(shape))
                }
            })
        })
        .collect();
    let (null, n64) = (0u64, n as u64);
    let mut launch = gpu.stream.launch_builder(&f);
    for (value, stand_in) in values.iter().zip(&stand_ins) {
        match (value, stand_in) {
            (Some(v), _) => launch.arg(&*v.slice),
            (None, Some(zeros)) => launch.arg(zeros),
            (None, None) => launch.arg(&null),
        };
    }
    match y {
        Some(y) => launch.arg(&*y.slice),
        None => launch.arg(&null),
    };
    launch.arg(&*g.slice);
    for grad in grads.iter_mut() {
        match grad {
            Some(d) => launch.arg(d),
            None => launch.arg(&null),
        };
    }
    launch.arg(&n64).arg(&layout);
    // SAFETY: as the forward; a gradient of the output's shape is written
    // at every element, a broadcast one accumulated into zeros.
    gpu.check(op, unsafe { launch.launch(grid(n)) });
    grads
        .into_iter()
        .zip(shapes)
        .map(|(d, shape)| d.map(|d| gpu.wrap(d, numel(shape))))
        .collect()
}

/// The mean cross-entropy of `[rows, classes]` logits against class
/// indices (checked by the caller).
pub(crate) fn cross_entropy<T: Element>(
    x: &Buffer<T>,
    labels: &[usize],
    rows: usize,
    classes: usize,
) -> T {
    let gpu = &x.gpu;
    let f = ops_function::<T>(gpu, "cross_entropy");
    let labels = class_indices(gpu, labels);
    let mut loss = gpu.alloc::<T>(rows);
    let (r, c) = (rows as u64, classes as u64);
    let mut launch = gpu.stream.launch_builder(&f);
    launch
        .arg(&*x.slice)
        .arg(&labels)
        .arg(&mut loss)
        .arg(&r)
        .arg(&c);
    // SAFETY: `x` holds rows·classes elements, `labels` and `loss` rows.
    gpu.check("cross_entropy", unsafe { launch.launch(grid(rows)) });
    let losses = gpu.wrap(loss, rows).download();
    let total = losses.iter().fold(T::zero(), |acc, &l| acc + l);
    total / T::cast_usize(rows)
}

/// The adjoint of [`cross_entropy`] for the incoming gradient `grad`:
/// `(grad / rows)·(softmax(x) − onehot)`.
pub(crate) fn cross_entropy_backward<T: Element>(
    x: &Buffer<T>,
    labels: &[usize],
    grad: T,
    rows: usize,
    classes: usize,
) -> Buffer<T> {
    let gpu = &x.gpu;
    let f = ops_function::<T>(gpu, "cross_entropy_backward");
    let labels = class_indices(gpu, labels);
    let mut d = gpu.alloc::<T>(rows * classes);
    let scale = grad / T::cast_usize(rows);
    let (r, c) = (rows as u64, classes as u64);
    let mut launch = gpu.stream.launch_builder(&f);
    launch
        .arg(&*x.slice)
        .arg(&labels)
        .arg(&mut d)
        .arg(&scale)
        .arg(&r)
        .arg(&c);
    // SAFETY: as the forward; `d` holds rows·classes elements.
    gpu.check("cross_entropy_backward", unsafe {
        launch.launch(grid(rows))
    });
    gpu.wrap(d, rows * classes)
}

/// Class indices as the kernels read them.
fn class_indices(gpu: &Gpu, labels: &[usize]) -> CudaSlice<u32> {
    let labels: Vec<u32> = labels
        .iter()
        .map(|&l| gpu.check("cross_entropy", u32::try_from(l)))
        .collect();
    gpu.check(
        "copying labels to the device",
        gpu.stream.clone_htod(&labels),
    )
}

/// The sums along the middle axis of `x` viewed as `[outer, len, inner]`,
/// times `scale`: `[outer, inner]` elements.
pub(crate) fn sum_axis<T: Element>(
    x: &Buffer<T>,
    (outer, len, inner): (usize, usize, usize),
    scale: T,
) -> Buffer<T> {
    let gpu = &x.gpu;
    let f = ops_function::<T>(gpu, "sum_axis");
    let n = outer * inner;
    let mut out = gpu.alloc::<T>(n);
    let (o, l, i) = (outer as u64, len as u64, inner as u64);
    let mut launch = gpu.stream.launch_builder(&f);
    launch
        .arg(&*x.slice)
        .arg(&mut out)
        .arg(&o)
        .arg(&l)
        .arg(&i)
        .arg(&scale);
    // SAFETY: `x` holds outer·len·inner elements, `out` outer·inner.
    gpu.check("sum_axis", unsafe { launch.launch(grid(n)) });
    gpu.wrap(out, n)
}

/// Softmax (or, with `log_domain`, log-softmax) along the middle axis of
/// `x` viewed as `[outer, len, inner]`.
pub(crate) fn softmax<T: Element>(
    x: &Buffer<T>,
    (outer, len, inner): (usize, usize, usize),
    log_domain: bool,
) -> Buffer<T> {
    let gpu = &x.gpu;
    let f = ops_function::<T>(gpu, "softmax_axis");
    let mut y = gpu.alloc::<T>(x.len);
    let (o, l, i, log) = (
        outer as u64,
        len as u64,
        inner as u64,
        i32::from(log_domain),
    );
    let mut launch = gpu.stream.launch_builder(&f);
    launch
        .arg(&*x.slice)
        .arg(&mut y)
        .arg(&o)
        .arg(&l)
        .arg(&i)
        .arg(&log);
    // SAFETY: `x` and `y` hold outer·len·inner elements.
    gpu.check("softmax", unsafe { launch.launch(grid(outer * inner)) });
    gpu.wrap(y, x.len)
}

/// The adjoint of [`softmax`] from its output `y` and the adjoint `g`.
pub(crate) fn softmax_backward<T: Element>(
    y: &Buffer<T>,
    g: &Buffer<T>,
    (outer, len, inner): (usize, usize, usize),
    log_domain: bool,
) -> Buffer<T> {
    let gpu = &y.gpu;
    let f = ops_function::<T>(gpu, "softmax_axis_backward");
    let mut dx = gpu.alloc::<T>(y.len);
    let (o, l, i, log) = (
        outer as u64,
        len as u64,
        inner as u64,
        i32::from(log_domain),
    );
    let mut launch = gpu.stream.launch_builder(&f);
    launch
        .arg(&*y.slice)
        .arg(&*g.slice)
        .arg(&mut dx)
        .arg(&o)
        .arg(&l)
        .arg(&i)
        .arg(&log);
    // SAFETY: the three buffers hold outer·len·inner elements.
    gpu.check("softmax_backward", unsafe {
        launch.launch(grid(outer * inner))
    });
    gpu.wrap(dx, y.len)
}

/// The sum of every element: per-block sums on the device, added on the
/// host in a fixed order.
pub(crate) fn sum<T: Element>(x: &Buffer<T>) -> T {
    let gpu = &x.gpu;
    if x.len == 0 {
        return T::zero();
    }
    let f = ops_function::<T>(gpu, "sum");
    let config = LaunchConfig {
        grid_dim: (
            x.len.div_ceil(kernels::ops::BLOCK as usize).min(1024) as u32,
            1,
            1,
        ),
        ..grid(x.len)
    };
    let blocks = config.grid_dim.0 as usize;
    let mut partial = gpu.alloc::<T>(blocks);
    let n = x.len as u64;
    let mut launch = gpu.stream.launch_builder(&f);
    launch.arg(&*x.slice).arg(&mut partial).arg(&n);
    // SAFETY: one partial sum per block.
    gpu.check("sum", unsafe { launch.launch(config) });
    gpu.wrap(partial, blocks)
        .download()
        .into_iter()
        .fold(T::zero(), |acc, v| acc + v)
}

/// One Adam step in place on `w`, `m`, `v` (copied first where shared).
pub(crate) fn adam<T: Element>(
    w: &mut Buffer<T>,
    g: &Buffer<T>,
    m: &mut Buffer<T>,
    v: &mut Buffer<T>,
    step: &AdamStep<T>,
) {
    let gpu = w.gpu.clone();
    let f = ops_function::<T>(&gpu, "adam");
    let n = w.len as u64;
    let decoupled = i32::from(step.decoupled);
    let (ws, ms, vs) = (
        unique(&gpu, &mut w.slice),
        unique(&gpu, &mut m.slice),
        unique(&gpu, &mut v.slice),
    );
    let mut launch = gpu.stream.launch_builder(&f);
    launch
        .arg(ws)
        .arg(&*g.slice)
        .arg(ms)
        .arg(vs)
        .arg(&n)
        .arg(&step.lr)
        .arg(&step.beta1)
        .arg(&step.beta2)
        .arg(&step.bias1)
        .arg(&step.bias2)
        .arg(&step.eps)
        .arg(&step.weight_decay)
        .arg(&decoupled);
    // SAFETY: the four buffers hold `n` elements each (shapes checked by
    // the optimiser).
    gpu.check("Adam", unsafe { launch.launch(grid(n as usize)) });
}

/// The slice to write in place: `shared`'s own, after a device copy if
/// another tensor holds it.
fn unique<'a, T: Element>(gpu: &Gpu, shared: &'a mut Arc<CudaSlice<T>>) -> &'a mut CudaSlice<T> {
    if Arc::get_mut(shared).is_none() {
        let copy = gpu.check("copying", gpu.stream.clone_dtod(&**shared));
        *shared = Arc::new(copy);
    }
    Arc::get_mut(shared).unwrap_or_else(|| unreachable!("just made unique"))
}

impl Geometry {
    /// The `im2col`/`col2im` arguments after the two buffers.
    fn args(&self) -> [u64; 9] {
        [
            self.c,
            self.h,
            self.w,
            self.kh,
            self.kw,
            self.stride,
            self.pad,
            self.ho,
            self.wo,
        ]
        .map(|v| v as u64)
    }
}

/// The receptive fields of one image into `cols` (`c·kh·kw × ho·wo`).
fn im2col<T: Element>(gpu: &Gpu, image: &CudaView<'_, T>, cols: &mut CudaSlice<T>, d: &Geometry) {
    let f = ops_function::<T>(gpu, "im2col");
    let args = d.args();
    let mut launch = gpu.stream.launch_builder(&f);
    launch.arg(image).arg(cols);
    for a in &args {
        launch.arg(a);
    }
    // SAFETY: `image` holds c·h·w elements, `cols` c·kh·kw·ho·wo.
    gpu.check("im2col", unsafe { launch.launch(grid(d.k() * d.l())) });
}

/// The adjoint of [`im2col`]: each input element's sum over the columns
/// that read it.
fn col2im<T: Element>(
    gpu: &Gpu,
    cols: &CudaSlice<T>,
    image: &mut CudaViewMut<'_, T>,
    d: &Geometry,
) {
    let f = ops_function::<T>(gpu, "col2im");
    let args = d.args();
    let mut launch = gpu.stream.launch_builder(&f);
    launch.arg(cols).arg(image);
    for a in &args {
        launch.arg(a);
    }
    // SAFETY: as `im2col`, the other way.
    gpu.check("col2im", unsafe { launch.launch(grid(d.chw())) });
}

/// The convolution of `x [N, C, H, W]` with `w [O, C, kh, kw]`: per image,
/// its receptive fields (`im2col`) times the weights (cuBLAS).
pub(crate) fn conv2d<T: Element>(x: &Buffer<T>, w: &Buffer<T>, d: &Geometry) -> Buffer<T> {
    let gpu = &x.gpu;
    let (k, l, chw) = (d.k(), d.l(), d.chw());
    let mut cols = gpu.alloc::<T>(k * l);
    let len = d.n * d.o * l;
    let mut y = gpu.alloc::<T>(len);
    for i in 0..d.n {
        let image = x.slice.slice(i * chw..(i + 1) * chw);
        im2col(gpu, &image, &mut cols, d);
        let mut y_i = y.slice_mut(i * d.o * l..(i + 1) * d.o * l);
        gemm_into(
            gpu,
            &*w.slice,
            &cols,
            &mut y_i,
            (false, false),
            (d.o, k, l),
            T::zero(),
        );
    }
    gpu.wrap(y, len)
}

/// The adjoint of [`conv2d`]: `dw = Σ_n g_n · cols_nᵀ` and `dx_n =
/// col2im(wᵀ · g_n)`, each when asked for.
pub(crate) fn conv2d_backward<T: Element>(
    x: &Buffer<T>,
    w: &Buffer<T>,
    g: &Buffer<T>,
    d: &Geometry,
    [need_dx, need_dw]: [bool; 2],
) -> (Option<Buffer<T>>, Option<Buffer<T>>) {
    let gpu = &x.gpu;
    let (k, l, chw) = (d.k(), d.l(), d.chw());
    let mut cols = gpu.alloc::<T>(k * l);
    let mut dw = need_dw.then(|| gpu.zeros::<T>(d.o * k));
    let mut dx = need_dx.then(|| gpu.alloc::<T>(d.n * chw));
    for i in 0..d.n {
        let g_i = g.slice.slice(i * d.o * l..(i + 1) * d.o * l);
        if let Some(dw) = dw.as_mut() {
            let image = x.slice.slice(i * chw..(i + 1) * chw);
            im2col(gpu, &image, &mut cols, d);
            gemm_into(gpu, &g_i, &cols, dw, (false, true), (d.o, l, k), T::one());
        }
        if let Some(dx) = dx.as_mut() {
            gemm_into(
                gpu,
                &*w.slice,
                &g_i,
                &mut cols,
                (true, false),
                (k, d.o, l),
                T::zero(),
            );
            let mut dx_i = dx.slice_mut(i * chw..(i + 1) * chw);
            col2im(gpu, &cols, &mut dx_i, d);
        }
    }
    (
        dx.map(|dx| gpu.wrap(dx, d.n * chw)),
        dw.map(|dw| gpu.wrap(dw, d.o * k)),
    )
}

/// Flat input indices on a device (max pooling's argmax).
#[derive(Clone)]
pub(crate) struct Indices {
    slice: Arc<CudaSlice<u64>>,
    len: usize,
    gpu: Arc<Gpu>,
}

impl Indices {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// A copy on the host.
    pub(crate) fn download(&self) -> Vec<usize> {
        let values = self.gpu.download(&self.slice, self.len);
        values.into_iter().map(|v| v as usize).collect()
    }
}

/// Max pooling of every plane, with the flat input index of each maximum.
pub(crate) fn max_pool<T: Element>(x: &Buffer<T>, d: &Pool) -> (Buffer<T>, Indices) {
    let gpu = &x.gpu;
    let f = ops_function::<T>(gpu, "max_pool");
    let n = d.planes * d.ho * d.wo;
    // SAFETY: the kernel writes every index.
    let at = gpu.check("allocating", unsafe { gpu.stream.alloc::<u64>(n.max(1)) });
    let (mut y, mut at) = (gpu.alloc::<T>(n), at);
    let args = [d.planes, d.h, d.w, d.k, d.stride, d.pad, d.ho, d.wo].map(|v| v as u64);
    let mut launch = gpu.stream.launch_builder(&f);
    launch.arg(&*x.slice).arg(&mut y).arg(&mut at);
    for a in &args {
        launch.arg(a);
    }
    // SAFETY: `x` holds planes·h·w elements, `y` and `at` planes·ho·wo.
    gpu.check("max_pool2d", unsafe { launch.launch(grid(n)) });
    let indices = Indices {
        slice: Arc::new(at),
        len: n,
        gpu: gpu.clone(),
    };
    (gpu.wrap(y, n), indices)
}

/// `g` added onto the input elements `at` names: a tensor of `len` elements
/// (max pooling's and the max reductions' adjoints).
pub(crate) fn scatter_add<T: Element>(g: &Buffer<T>, at: &Indices, len: usize) -> Buffer<T> {
    let gpu = &g.gpu;
    let f = ops_function::<T>(gpu, "scatter_add");
    let mut dx = gpu.zeros::<T>(len);
    let n = at.len as u64;
    let mut launch = gpu.stream.launch_builder(&f);
    launch.arg(&*g.slice).arg(&*at.slice).arg(&mut dx).arg(&n);
    // SAFETY: every index is below `len` (they came from the forward).
    gpu.check("max_pool2d_backward", unsafe {
        launch.launch(grid(at.len))
    });
    gpu.wrap(dx, len)
}

/// `x` with dropout's counter-based mask of (`p`, `seed`) applied,
/// survivors scaled by `scale`.
pub(crate) fn dropout<T: Element>(x: &Buffer<T>, p: f64, seed: u64, scale: T) -> Buffer<T> {
    let gpu = &x.gpu;
    let f = ops_function::<T>(gpu, "dropout");
    let mut y = gpu.alloc::<T>(x.len);
    let n = x.len as u64;
    let mut launch = gpu.stream.launch_builder(&f);
    launch
        .arg(&*x.slice)
        .arg(&mut y)
        .arg(&n)
        .arg(&p)
        .arg(&seed)
        .arg(&scale);
    // SAFETY: `x` and `y` hold `n` elements.
    gpu.check("dropout", unsafe { launch.launch(grid(x.len)) });
    gpu.wrap(y, x.len)
}

/// The first arg-max along the middle axis of `x` viewed as `[outer, len,
/// inner]`: the maxima and their flat offsets (NaN loses to a number).
pub(crate) fn argmax_axis<T: Element>(
    x: &Buffer<T>,
    (outer, len, inner): (usize, usize, usize),
) -> (Buffer<T>, Indices) {
    let gpu = &x.gpu;
    let f = ops_function::<T>(gpu, "argmax_axis");
    let n = outer * inner;
    // SAFETY: the kernel writes every index.
    let mut at = gpu.check("allocating", unsafe { gpu.stream.alloc::<u64>(n.max(1)) });
    let mut values = gpu.alloc::<T>(n);
    let (o, l, i) = (outer as u64, len as u64, inner as u64);
    let mut launch = gpu.stream.launch_builder(&f);
    launch
        .arg(&*x.slice)
        .arg(&mut values)
        .arg(&mut at)
        .arg(&o)
        .arg(&l)
        .arg(&i);
    // SAFETY: `x` holds outer·len·inner elements, the outputs outer·inner.
    gpu.check("max", unsafe { launch.launch(grid(n)) });
    let indices = Indices {
        slice: Arc::new(at),
        len: n,
        gpu: gpu.clone(),
    };
    (gpu.wrap(values, n), indices)
}

/// The entries `indices` along the middle axis of `x` viewed as `[outer,
/// len, inner]` (`gather`), or the adjoint: `g` added back there into zeros
/// of `outer·len·inner` elements (`!gather`).
pub(crate) fn along_axis<T: Element>(
    x_or_g: &Buffer<T>,
    indices: &[usize],
    (outer, len, inner): (usize, usize, usize),
    gather: bool,
) -> Buffer<T> {
    let gpu = &x_or_g.gpu;
    let kernel = if gather {
        "gather_axis"
    } else {
        "scatter_axis"
    };
    let f = ops_function::<T>(gpu, kernel);
    let mut idx: Vec<u64> = indices.iter().map(|&i| i as u64).collect();
    if idx.is_empty() {
        idx.push(0);
    }
    let idx = gpu.check("copying indices", gpu.stream.clone_htod(&idx));
    let count = indices.len();
    let (picked, full) = (outer * count * inner, outer * len * inner);
    let mut out = if gather {
        gpu.alloc::<T>(picked)
    } else {
        gpu.zeros::<T>(full)
    };
    let args = [outer, len, inner, count].map(|v| v as u64);
    let mut launch = gpu.stream.launch_builder(&f);
    launch.arg(&*x_or_g.slice).arg(&idx).arg(&mut out);
    for a in &args {
        launch.arg(a);
    }
    // SAFETY: every index is below `len` (checked by the caller).
    gpu.check(kernel, unsafe { launch.launch(grid(picked)) });
    gpu.wrap(out, if gather { picked } else { full })
}

/// Average pooling (padding counted) of every plane, or with `g` its
/// adjoint into zeros of the input's size.
pub(crate) fn avg_pool<T: Element>(x_or_g: &Buffer<T>, d: &Pool, backward: bool) -> Buffer<T> {
    let gpu = &x_or_g.gpu;
    let f = ops_function::<T>(gpu, "avg_pool");
    let (inputs, outputs) = (d.planes * d.h * d.w, d.planes * d.ho * d.wo);
    let null = 0u64;
    let args = [d.planes, d.h, d.w, d.k, d.stride, d.pad, d.ho, d.wo].map(|v| v as u64);
    let mut out = if backward {
        gpu.zeros::<T>(inputs)
    } else {
        gpu.alloc::<T>(outputs)
    };
    let mut launch = gpu.stream.launch_builder(&f);
    if backward {
        launch
            .arg(&null)
            .arg(&null)
            .arg(&*x_or_g.slice)
            .arg(&mut out);
    } else {
        launch
            .arg(&*x_or_g.slice)
            .arg(&mut out)
            .arg(&null)
            .arg(&null);
    }
    for a in &args {
        launch.arg(a);
    }
    // SAFETY: inputs hold planes·h·w elements, outputs planes·ho·wo.
    gpu.check("avg_pool2d", unsafe { launch.launch(grid(outputs)) });
    gpu.wrap(out, if backward { inputs } else { outputs })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `C = alpha·op(A)·op(B) + beta·C` as cuBLAS defines it, column-major.
    fn cublas_gemm(cfg: &GemmConfig<f64>, a: &[f64], b: &[f64], c: &mut [f64]) {
        let (m, n, k) = (cfg.m as usize, cfg.n as usize, cfg.k as usize);
        let (lda, ldb, ldc) = (cfg.lda as usize, cfg.ldb as usize, cfg.ldc as usize);
        let t = |op: cublasOperation_t| op == cublasOperation_t::CUBLAS_OP_T;
        let at = |i: usize, p: usize| {
            if t(cfg.transa) {
                a[p + i * lda]
            } else {
                a[i + p * lda]
            }
        };
        let bt = |p: usize, j: usize| {
            if t(cfg.transb) {
                b[j + p * ldb]
            } else {
                b[p + j * ldb]
            }
        };
        for j in 0..n {
            for i in 0..m {
                let dot: f64 = (0..k).map(|p| at(i, p) * bt(p, j)).sum();
                c[i + j * ldc] = cfg.alpha * dot + cfg.beta * c[i + j * ldc];
            }
        }
    }

    /// The row-major products the backend asks cuBLAS for, through the
    /// configuration and the swapped operands, equal the plain products.
    #[test]
    fn row_major_products_map_onto_column_major_gemm() {
        let (m, k, n) = (3, 4, 2);
        let value = |i: usize| (i as f64 * 0.37).sin();
        for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
            let a: Vec<f64> = (0..m * k).map(value).collect();
            let b: Vec<f64> = (0..k * n).map(|i| value(i + 100)).collect();
            // op(A)[i][p] and op(B)[p][j] of the row-major buffers.
            let oa = |i: usize, p: usize| if trans_a { a[p * m + i] } else { a[i * k + p] };
            let ob = |p: usize, j: usize| if trans_b { b[j * k + p] } else { b[p * n + j] };
            let cfg = gemm_config((trans_a, trans_b), (m, k, n), 0.0);
            let mut c = vec![0.0; m * n];
            cublas_gemm(&cfg, &b, &a, &mut c);
            for i in 0..m {
                for j in 0..n {
                    let expected: f64 = (0..k).map(|p| oa(i, p) * ob(p, j)).sum();
                    assert!(
                        (c[i * n + j] - expected).abs() < 1e-12,
                        "trans {trans_a} {trans_b}: C[{i}][{j}] {} vs {expected}",
                        c[i * n + j]
                    );
                }
            }
        }
    }
}
