//! Where an op runs: each function here computes on the operands' CUDA
//! device when they live on one and returns `Some`, and returns `None` for
//! host operands, so the op runs its CPU kernel (without the `cuda` feature
//! every function is `None`). Operands on two devices stop the op with a
//! message naming both.
//!
//! The runtime's element-wise ops run on CUDA as single-op regions: their
//! forward and adjoint written as the compiler prints a fused region's body
//! ([`region_source!`]), wrapped in the same grid-stride kernels.

#![cfg_attr(not(feature = "cuda"), allow(unused_variables))]

#[cfg(feature = "cuda")]
use super::cuda;
use super::ops::conv::Geometry;
use super::ops::pool::Pool;
use super::{Element, Tensor};

/// The CUDA C of a single-op region over operands `x0, x1, …`: its value
/// `$forward`, and each operand's adjoint contribution `$d` from the
/// operands, the value `y` and the output's adjoint `g`.
macro_rules! region_source {
    ([$($x:ident),+], $forward:literal, [$($d:ident = $adjoint:literal),+]) => {
        concat!(
            "template <typename T>\n__device__ T adjoint_region_forward(",
            region_source!(@params $($x),+),
            ") { return ", $forward, "; }\n",
            "template <typename T>\n__device__ void adjoint_region_adjoint(",
            region_source!(@params $($x),+),
            ", T y, T g",
            $(", T* ", stringify!($d),)+
            ") {",
            $(" *", stringify!($d), " = ", $adjoint, ";",)+
            " }\n"
        )
    };
    (@params $first:ident $(, $x:ident)*) => {
        concat!("T ", stringify!($first) $(, ", T ", stringify!($x))*)
    };
}
pub(crate) use region_source;

/// The single-op region summing the output's adjoint into an operand of
/// another (broadcast) shape.
const IDENTITY: &str = region_source!([x0], "x0", [d0 = "g"]);

/// `Some` with `f`'s result when every operand lives on a CUDA device.
#[cfg(feature = "cuda")]
fn on_cuda<'a, T: Element, R>(
    op: &str,
    tensors: &[&'a Tensor<T>],
    f: impl FnOnce(Vec<&'a cuda::Buffer<T>>) -> R,
) -> Option<R> {
    cuda::buffers(op, tensors).map(f)
}

/// A batch of row-major products `op(a_i) · op(b_i)` (`trans` transposes
/// an operand), shaped `out_shape`.
pub(crate) fn matmul<T: Element>(
    op: &str,
    a: &Tensor<T>,
    b: &Tensor<T>,
    trans: (bool, bool),
    batch: usize,
    mkn: (usize, usize, usize),
    out_shape: &[usize],
) -> Option<Tensor<T>> {
    #[cfg(feature = "cuda")]
    return on_cuda(op, &[a, b], |x| {
        Tensor::from_buffer(cuda::gemm(x[0], x[1], trans, batch, mkn), out_shape)
    });
    #[cfg(not(feature = "cuda"))]
    None
}

/// A region's value over `inputs` broadcast to `out_shape`, from its CUDA
/// C `source`.
pub(crate) fn region_forward<T: Element>(
    op: &str,
    source: &str,
    inputs: &[&Tensor<T>],
    out_shape: &[usize],
) -> Option<Tensor<T>> {
    #[cfg(feature = "cuda")]
    return on_cuda(op, inputs, |x| {
        let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
        let y = cuda::region_forward(op, source, &x, &shapes, out_shape);
        Tensor::from_buffer(y, out_shape)
    });
    #[cfg(not(feature = "cuda"))]
    None
}

/// A region's needed adjoints: `values[i]` operand `i` where the adjoint
/// reads it (`None`: only its shape, `shapes[i]`), `y` the value where read,
/// `g` the output's adjoint (which decides the device).
#[allow(clippy::too_many_arguments)]
pub(crate) fn region_backward<T: Element>(
    op: &str,
    source: &str,
    values: &[Option<&Tensor<T>>],
    shapes: &[&[usize]],
    y: Option<&Tensor<T>>,
    g: &Tensor<T>,
    needs: &[bool],
) -> Option<Vec<Option<Tensor<T>>>> {
    #[cfg(feature = "cuda")]
    {
        let mut present: Vec<&Tensor<T>> = values.iter().flatten().copied().collect();
        present.extend(y);
        present.push(g);
        let buffers = cuda::buffers(op, &present)?;
        let mut next = buffers.iter().copied();
        let values: Vec<Option<&cuda::Buffer<T>>> =
            values.iter().map(|v| v.and_then(|_| next.next())).collect();
        let y = y.and_then(|_| next.next());
        let g_buffer = next.next()?;
        let grads =
            cuda::region_backward(op, source, &values, shapes, y, g_buffer, needs, g.shape());
        Some(
            grads
                .into_iter()
                .zip(shapes)
                .map(|(d, shape)| d.map(|d| Tensor::from_buffer(d, shape)))
                .collect(),
        )
    }
    #[cfg(not(feature = "cuda"))]
    None
}

/// `grad` summed over the axes `shape` broadcasts along.
pub(crate) fn reduce_to_shape<T: Element>(grad: &Tensor<T>, shape: &[usize]) -> Option<Tensor<T>> {
    let mut grads = region_backward(
        "reduce_to_shape",
        IDENTITY,
        &[None],
        &[shape],
        None,
        grad,
        &[true],
    )?;
    grads.pop().flatten()
}

/// `x` broadcast to `shape` (numpy's rules, checked by the caller).
pub(crate) fn broadcast<T: Element>(x: &Tensor<T>, shape: &[usize]) -> Option<Tensor<T>> {
    region_forward("broadcast_to", IDENTITY, &[x], shape)
}

/// `x` with axes `a0` and `a1` swapped (checked by the caller).
pub(crate) fn transpose<T: Element>(x: &Tensor<T>, a0: usize, a1: usize) -> Option<Tensor<T>> {
    #[cfg(feature = "cuda")]
    return on_cuda("transpose", &[x], |b| {
        let mut shape = x.shape().to_vec();
        shape.swap(a0, a1);
        let mut strides = x.strides();
        strides.swap(a0, a1);
        let y = cuda::gather("transpose", IDENTITY, b[0], strides, &shape);
        Tensor::from_buffer(y, &shape)
    });
    #[cfg(not(feature = "cuda"))]
    None
}

/// The sums along the middle axis of `x` viewed as `dims` = `[outer, len,
/// inner]`, times `scale`, shaped `out_shape`.
pub(crate) fn sum_axis<T: Element>(
    x: &Tensor<T>,
    dims: (usize, usize, usize),
    scale: T,
    out_shape: &[usize],
) -> Option<Tensor<T>> {
    #[cfg(feature = "cuda")]
    return on_cuda("sum_axis", &[x], |b| {
        Tensor::from_buffer(cuda::sum_axis(b[0], dims, scale), out_shape)
    });
    #[cfg(not(feature = "cuda"))]
    None
}

/// Softmax (log-softmax with `log_domain`) along the middle axis of `x`
/// viewed as `dims`.
pub(crate) fn softmax<T: Element>(
    x: &Tensor<T>,
    dims: (usize, usize, usize),
    log_domain: bool,
) -> Option<Tensor<T>> {
    #[cfg(feature = "cuda")]
    return on_cuda("softmax", &[x], |b| {
        Tensor::from_buffer(cuda::softmax(b[0], dims, log_domain), x.shape())
    });
    #[cfg(not(feature = "cuda"))]
    None
}

/// The adjoint of [`softmax`] from its output `y`.
pub(crate) fn softmax_backward<T: Element>(
    y: &Tensor<T>,
    g: &Tensor<T>,
    dims: (usize, usize, usize),
    log_domain: bool,
) -> Option<Tensor<T>> {
    #[cfg(feature = "cuda")]
    return on_cuda("softmax_backward", &[y, g], |b| {
        Tensor::from_buffer(
            cuda::softmax_backward(b[0], b[1], dims, log_domain),
            y.shape(),
        )
    });
    #[cfg(not(feature = "cuda"))]
    None
}

/// The convolution of `x [N, C, H, W]` with `w [O, C, kh, kw]`.
pub(crate) fn conv2d<T: Element>(
    x: &Tensor<T>,
    w: &Tensor<T>,
    dims: Geometry,
) -> Option<Tensor<T>> {
    #[cfg(feature = "cuda")]
    return on_cuda("conv2d", &[x, w], |b| {
        let y = cuda::conv2d(b[0], b[1], &dims);
        Tensor::from_buffer(y, &[dims.n, dims.o, dims.ho, dims.wo])
    });
    #[cfg(not(feature = "cuda"))]
    None
}

/// The adjoint of [`conv2d`]: `(dx, dw)`, each when `needs` asks.
#[allow(clippy::type_complexity)]
pub(crate) fn conv2d_backward<T: Element>(
    x: &Tensor<T>,
    w: &Tensor<T>,
    g: &Tensor<T>,
    dims: Geometry,
    needs: [bool; 2],
) -> Option<(Option<Tensor<T>>, Option<Tensor<T>>)> {
    #[cfg(feature = "cuda")]
    return on_cuda("conv2d_backward", &[x, w, g], |b| {
        let (dx, dw) = cuda::conv2d_backward(b[0], b[1], b[2], &dims, needs);
        (
            dx.map(|dx| Tensor::from_buffer(dx, x.shape())),
            dw.map(|dw| Tensor::from_buffer(dw, w.shape())),
        )
    });
    #[cfg(not(feature = "cuda"))]
    None
}

/// Max pooling with its indices, shaped `out_shape`.
pub(crate) fn max_pool<T: Element>(
    x: &Tensor<T>,
    dims: Pool,
    out_shape: &[usize],
) -> Option<(Tensor<T>, super::ops::pool::PoolIndices)> {
    #[cfg(feature = "cuda")]
    return on_cuda("max_pool2d", &[x], |b| {
        let (y, at) = cuda::max_pool(b[0], &dims);
        (
            Tensor::from_buffer(y, out_shape),
            super::ops::pool::PoolIndices::on_device(at),
        )
    });
    #[cfg(not(feature = "cuda"))]
    None
}

/// The adjoint of max pooling: `grad` added onto the inputs `indices` name.
pub(crate) fn max_pool_backward<T: Element>(
    indices: &super::ops::pool::PoolIndices,
    grad: &Tensor<T>,
    input_shape: &[usize],
) -> Option<Tensor<T>> {
    #[cfg(feature = "cuda")]
    {
        let at = indices.device()?;
        let g = cuda::buffers("max_pool2d_backward", &[grad])?;
        let dx = cuda::scatter_add(g[0], at, super::shape::numel(input_shape));
        Some(Tensor::from_buffer(dx, input_shape))
    }
    #[cfg(not(feature = "cuda"))]
    None
}

/// The first maxima along the middle axis of `x` viewed as `dims`, shaped
/// `out_shape`.
pub(crate) fn max_axis<T: Element>(
    x: &Tensor<T>,
    dims: (usize, usize, usize),
    out_shape: &[usize],
) -> Option<Tensor<T>> {
    #[cfg(feature = "cuda")]
    return on_cuda("max_axis", &[x], |b| {
        Tensor::from_buffer(cuda::argmax_axis(b[0], dims).0, out_shape)
    });
    #[cfg(not(feature = "cuda"))]
    None
}

/// The adjoint of [`max_axis`]: each element of `grad` at the first
/// arg-max of its slice of `x`, zeros elsewhere.
pub(crate) fn max_axis_backward<T: Element>(
    x: &Tensor<T>,
    dims: (usize, usize, usize),
    grad: &Tensor<T>,
) -> Option<Tensor<T>> {
    #[cfg(feature = "cuda")]
    return on_cuda("max_axis_backward", &[x, grad], |b| {
        let (_, at) = cuda::argmax_axis(b[0], dims);
        Tensor::from_buffer(cuda::scatter_add(b[1], &at, x.len()), x.shape())
    });
    #[cfg(not(feature = "cuda"))]
    None
}

/// The entries `indices` along the middle axis of `x` viewed as `dims`,
/// shaped `out_shape`.
pub(crate) fn gather_axis<T: Element>(
    x: &Tensor<T>,
    indices: &[usize],
    dims: (usize, usize, usize),
    out_shape: &[usize],
) -> Option<Tensor<T>> {
    #[cfg(feature = "cuda")]
    return on_cuda("select", &[x], |b| {
        Tensor::from_buffer(cuda::along_axis(b[0], indices, dims, true), out_shape)
    });
    #[cfg(not(feature = "cuda"))]
    None
}

/// The adjoint of [`gather_axis`]: `grad` added back at `indices` into
/// zeros of `input_shape`.
pub(crate) fn scatter_axis<T: Element>(
    grad: &Tensor<T>,
    indices: &[usize],
    dims: (usize, usize, usize),
    input_shape: &[usize],
) -> Option<Tensor<T>> {
    #[cfg(feature = "cuda")]
    return on_cuda("select_backward", &[grad], |b| {
        Tensor::from_buffer(cuda::along_axis(b[0], indices, dims, false), input_shape)
    });
    #[cfg(not(feature = "cuda"))]
    None
}

/// Average pooling (or, with `backward`, its adjoint from `x_or_grad`),
/// shaped `out_shape`.
pub(crate) fn avg_pool<T: Element>(
    x_or_grad: &Tensor<T>,
    dims: Pool,
    backward: bool,
    out_shape: &[usize],
) -> Option<Tensor<T>> {
    #[cfg(feature = "cuda")]
    return on_cuda("avg_pool2d", &[x_or_grad], |b| {
        Tensor::from_buffer(cuda::avg_pool(b[0], &dims, backward), out_shape)
    });
    #[cfg(not(feature = "cuda"))]
    None
}

/// `x` with dropout's mask of (`p`, `seed`), survivors scaled by `scale`.
pub(crate) fn dropout<T: Element>(x: &Tensor<T>, p: f64, seed: u64, scale: T) -> Option<Tensor<T>> {
    #[cfg(feature = "cuda")]
    return on_cuda("dropout", &[x], |b| {
        Tensor::from_buffer(cuda::dropout(b[0], p, seed, scale), x.shape())
    });
    #[cfg(not(feature = "cuda"))]
    None
}

/// `s` as a 0-d tensor on `x`'s device, where that is a CUDA device (the
/// tensor–scalar ops then run as broadcast tensor ops there).
pub(crate) fn scalar_like<T: Element>(x: &Tensor<T>, s: T) -> Option<Tensor<T>> {
    let device = x.device();
    (device != super::Device::Cpu).then(|| {
        Tensor::scalar(s)
            .to_device(device)
            .unwrap_or_else(|e| panic!("copying a scalar to {device}: {e}"))
    })
}

/// The mean cross-entropy of `[rows, classes]` logits against class indices.
pub(crate) fn cross_entropy<T: Element>(
    logits: &Tensor<T>,
    labels: &[usize],
    rows: usize,
    classes: usize,
) -> Option<T> {
    #[cfg(feature = "cuda")]
    return on_cuda("cross_entropy", &[logits], |x| {
        cuda::cross_entropy(x[0], labels, rows, classes)
    });
    #[cfg(not(feature = "cuda"))]
    None
}

/// The adjoint of [`cross_entropy`] for the incoming gradient `grad`.
pub(crate) fn cross_entropy_backward<T: Element>(
    logits: &Tensor<T>,
    labels: &[usize],
    grad: T,
    rows: usize,
    classes: usize,
) -> Option<Tensor<T>> {
    #[cfg(feature = "cuda")]
    return on_cuda("cross_entropy_backward", &[logits], |x| {
        let d = cuda::cross_entropy_backward(x[0], labels, grad, rows, classes);
        Tensor::from_buffer(d, logits.shape())
    });
    #[cfg(not(feature = "cuda"))]
    None
}

/// The sum of every element.
pub(crate) fn sum<T: Element>(x: &Tensor<T>) -> Option<T> {
    #[cfg(feature = "cuda")]
    return on_cuda("sum", &[x], |b| cuda::sum(b[0]));
    #[cfg(not(feature = "cuda"))]
    None
}

/// Zeros shaped and placed like `x`.
pub(crate) fn zeros_like<T: Element>(x: &Tensor<T>) -> Option<Tensor<T>> {
    #[cfg(feature = "cuda")]
    return x
        .cuda()
        .map(|b| Tensor::from_buffer(cuda::zeros_like(b, x.len()), x.shape()));
    #[cfg(not(feature = "cuda"))]
    None
}

/// Adam's coefficients for one step (read by the CUDA kernel's launch).
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
pub(crate) struct AdamStep<T> {
    pub lr: T,
    pub beta1: T,
    pub beta2: T,
    pub bias1: T,
    pub bias2: T,
    pub eps: T,
    pub weight_decay: T,
    /// AdamW's decay of the weights rather than of the gradient.
    pub decoupled: bool,
}

/// One Adam step on `w` and its moments `m`, `v` where they live on a CUDA
/// device; `false` (nothing done) on the host.
pub(crate) fn adam<T: Element>(
    w: &mut Tensor<T>,
    g: &Tensor<T>,
    m: &mut Tensor<T>,
    v: &mut Tensor<T>,
    step: AdamStep<T>,
) -> bool {
    #[cfg(feature = "cuda")]
    {
        if cuda::buffers("Adam", &[w, g, m, v]).is_none() {
            return false;
        }
        let g = g.cuda().cloned();
        let (Some(wb), Some(g), Some(mb), Some(vb)) = (w.cuda_mut(), g, m.cuda_mut(), v.cuda_mut())
        else {
            return false;
        };
        cuda::adam(wb, &g, mb, vb, &step);
        true
    }
    #[cfg(not(feature = "cuda"))]
    false
}

#[cfg(test)]
pub(crate) mod tests {
    /// `adjoint_region_forward<double>` of `source` at each row of
    /// operands, run as host C++; `None` after printing why where no C++
    /// compiler is found.
    pub(crate) fn host_values(source: &str, rows: &[Vec<f64>]) -> Option<Vec<f64>> {
        let mut program = String::from(source);
        program.push_str("int main() {\n");
        for row in rows {
            let args: Vec<String> = row
                .iter()
                .map(|v| {
                    if v.is_nan() {
                        "NAN".to_string()
                    } else {
                        format!("{v:?}")
                    }
                })
                .collect();
            program.push_str(&format!(
                "  {{ double y = adjoint_region_forward<double>({}); if (y != y) printf(\"NaN \"); else printf(\"%.17g \", y); }}\n",
                args.join(", ")
            ));
        }
        program.push_str("  return 0;\n}\n");
        adjoint_kernels::cuda::host::run(&program)
    }

    /// Host C values against the CPU kernels' (NaN equal to NaN).
    pub(crate) fn same(op: &str, host: &[f64], cpu: &[f64]) {
        assert_eq!(host.len(), cpu.len(), "{op}");
        for (i, (h, c)) in host.iter().zip(cpu).enumerate() {
            let equal =
                h == c || (h.is_nan() && c.is_nan()) || (h - c).abs() <= 1e-12 * c.abs().max(1.0);
            assert!(
                equal,
                "{op} at point {i}: CUDA C on the host {h} vs CPU {c}"
            );
        }
    }

    /// NVRTC compiles `source` wrapped for `inputs` operands, for sm_80 and
    /// sm_90; prints why it cannot check where `libnvrtc` is missing.
    #[cfg(feature = "cuda")]
    pub(crate) fn compiles(source: &str, inputs: usize) {
        use adjoint_kernels::cuda::{nvrtc, region_kernels};
        if !nvrtc::available() {
            println!("skipped: libnvrtc not found (put the nvidia-cuda-nvrtc wheel's lib directory on LD_LIBRARY_PATH)");
            return;
        }
        let module = region_kernels(source, inputs);
        for arch in ["sm_80", "sm_90"] {
            if let Err(log) = nvrtc::compile_cubin(&module, arch) {
                panic!("NVRTC rejected a runtime kernel for {arch}: {log}\n{module}");
            }
        }
    }

    #[cfg(feature = "cuda")]
    #[test]
    fn the_runtime_kernels_compile() {
        use crate::tensor::ops::binary::tests::SOURCES;
        compiles(super::IDENTITY, 1);
        compiles(crate::tensor::ops::unary::NEG_CUDA, 1);
        use crate::tensor::ops::unary::{
            LEAKY_RELU_BACKWARD_CUDA, LEAKY_RELU_CUDA, POWF_BACKWARD_CUDA, POWF_CUDA,
        };
        compiles(POWF_CUDA, 2);
        compiles(crate::tensor::ops::unary::POWF_EXPONENT_CUDA, 2);
        compiles(crate::tensor::ops::unary::LEAKY_SLOPE_CUDA, 1);
        compiles(LEAKY_RELU_CUDA, 2);
        compiles(POWF_BACKWARD_CUDA, 3);
        compiles(LEAKY_RELU_BACKWARD_CUDA, 3);
        for source in SOURCES {
            compiles(source, 2);
        }
        use adjoint_kernels::cuda::nvrtc;
        if nvrtc::available() {
            let module = adjoint_kernels::cuda::ops::module_source();
            if let Err(log) = nvrtc::compile_cubin(&module, "sm_90") {
                panic!("NVRTC rejected cuda::ops: {log}");
            }
        }
    }

    #[test]
    fn single_op_regions_print_like_the_compilers() {
        let source = region_source!([x0, x1], "x0 * x1", [d0 = "g * x1", d1 = "g * x0"]);
        assert_eq!(
            source,
            "template <typename T>\n__device__ T adjoint_region_forward(T x0, T x1) { return x0 * x1; }\n\
             template <typename T>\n__device__ void adjoint_region_adjoint(T x0, T x1, T y, T g, T* d0, T* d1) { *d0 = g * x1; *d1 = g * x0; }\n"
        );
    }
}
