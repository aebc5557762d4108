//! 2-D pooling over `[N, C, H, W]` inputs (PyTorch's `max_pool2d`,
//! `avg_pool2d` and `adaptive_avg_pool2d(1)` flattened) and the adjoints.
//!
//! Windows are `kernel × kernel`, `stride` apart, over the input padded by
//! `padding` on every side; the output is `[N, C, Ho, Wo]` with the floor
//! formula `Ho = (H + 2p - kernel) / stride + 1` (PyTorch's default
//! `ceil_mode = false`), and `padding <= kernel / 2` as PyTorch requires, so
//! every window holds at least one input element.
//!
//! - max: padding counts as `-∞`; the result also gives, per output element,
//!   the flat (row-major) index into the input of the maximum it took: the
//!   first maximum in window scan order (rows, then columns) on ties, the
//!   first NaN if the window holds one (NaN propagates). The adjoint routes
//!   each output gradient to exactly that input, adding where windows
//!   overlap (`kernel > stride`).
//! - average: `count_include_pad = true`, every window divides by
//!   `kernel²`; the adjoint spreads `g / kernel²` over the window.
//! - global average: `[N, C, H, W] -> [N, C]`, the mean of each plane.

use super::par::{group_size, run_parts};
use crate::tensor::base::expect_same_shape;
use crate::tensor::device;
use crate::tensor::error::or_panic;
use crate::tensor::{Element, ShapeError, Tensor};

/// Where each output of a max pooling was taken from: a flat index into
/// the input per output element, kept on the input's device (what
/// [`max_pool2d_backward`] routes the gradient by).
#[derive(Clone)]
pub struct PoolIndices(Where);

#[derive(Clone)]
enum Where {
    Host(Vec<usize>),
    #[cfg(feature = "cuda")]
    Device(crate::tensor::cuda::Indices),
}

impl PoolIndices {
    /// Indices on the device of a pooled tensor.
    #[cfg(feature = "cuda")]
    pub(crate) fn on_device(indices: crate::tensor::cuda::Indices) -> PoolIndices {
        PoolIndices(Where::Device(indices))
    }

    /// The indices on a device, if they live on one.
    #[cfg(feature = "cuda")]
    pub(crate) fn device(&self) -> Option<&crate::tensor::cuda::Indices> {
        match &self.0 {
            Where::Device(indices) => Some(indices),
            Where::Host(_) => None,
        }
    }

    /// The number of indices (the pooled tensor's element count).
    pub fn len(&self) -> usize {
        match &self.0 {
            Where::Host(v) => v.len(),
            #[cfg(feature = "cuda")]
            Where::Device(d) => d.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The indices on the host (copied from a device).
    pub fn to_vec(&self) -> Vec<usize> {
        match &self.0 {
            Where::Host(v) => v.clone(),
            #[cfg(feature = "cuda")]
            Where::Device(d) => d.download(),
        }
    }

    /// The host indices, for the host kernels.
    #[track_caller]
    fn host(&self) -> &[usize] {
        match &self.0 {
            Where::Host(v) => v,
            #[cfg(feature = "cuda")]
            Where::Device(_) => {
                panic!("max pooling's indices live on a device and this op has no device path yet")
            }
        }
    }
}

impl std::fmt::Debug for PoolIndices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Where::Host(v) => f.debug_tuple("PoolIndices").field(v).finish(),
            #[cfg(feature = "cuda")]
            Where::Device(d) => write!(f, "PoolIndices({} on a device)", d.len()),
        }
    }
}

/// The sizes of one pooling, checked to fit together: `planes` (`N·C`) of
/// `h × w`, a `k × k` window at `stride` with `pad`, output `ho × wo` (also
/// what the CUDA kernels take).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pool {
    pub(crate) planes: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) k: usize,
    pub(crate) stride: usize,
    pub(crate) pad: usize,
    pub(crate) ho: usize,
    pub(crate) wo: usize,
}

impl Pool {
    /// Input rows (or columns, with `len = W`) window `o` covers, clipped
    /// to the image: `lo..hi`.
    fn span(&self, o: usize, len: usize) -> (usize, usize) {
        let start = o * self.stride;
        (
            start.saturating_sub(self.pad),
            (start + self.k).saturating_sub(self.pad).min(len),
        )
    }

    /// The output's shape.
    fn out_shape(&self, input: &[usize]) -> Vec<usize> {
        vec![input[0], input[1], self.ho, self.wo]
    }
}

/// Checks a pooling's input shape and arguments.
fn pool_geometry(
    op: &'static str,
    shape: &[usize],
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Result<Pool, ShapeError> {
    let &[n, c, h, w] = shape else {
        return Err(ShapeError::Rank {
            op,
            expected: "an input of shape [N, C, H, W]",
            shape: shape.to_vec(),
        });
    };
    let invalid = |message: String| Err(ShapeError::InvalidArgument { op, message });
    if kernel == 0 || stride == 0 {
        return invalid(format!(
            "kernel size {kernel} and stride {stride} must be positive"
        ));
    }
    if padding > kernel / 2 {
        return invalid(format!(
            "padding {padding} exceeds half the kernel size {kernel}"
        ));
    }
    let (hp, wp) = (h + 2 * padding, w + 2 * padding);
    if kernel > hp || kernel > wp {
        return invalid(format!(
            "kernel {kernel}x{kernel} does not fit the padded input {hp}x{wp} of shape {shape:?}"
        ));
    }
    Ok(Pool {
        planes: n * c,
        h,
        w,
        k: kernel,
        stride,
        pad: padding,
        ho: (hp - kernel) / stride + 1,
        wo: (wp - kernel) / stride + 1,
    })
}

/// Max pooling of `x [N, C, H, W]`, with the flat input index each output
/// element was taken from; fails for a wrong rank, a zero kernel or
/// stride, padding over half the kernel, or a kernel larger than the
/// padded input.
pub fn try_max_pool2d_with_indices<T: Element>(
    x: &Tensor<T>,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Result<(Tensor<T>, PoolIndices), ShapeError> {
    let g = pool_geometry("max_pool2d", x.shape(), kernel, stride, padding)?;
    if let Some(pooled) = device::max_pool(x, g, &g.out_shape(x.shape())) {
        return Ok(pooled);
    }
    let plane_out = g.ho * g.wo;
    let mut out = vec![T::zero(); g.planes * plane_out];
    let mut idx = vec![0usize; out.len()];
    if !out.is_empty() {
        let per = group_size(g.planes);
        let parts: Vec<_> = out
            .chunks_mut(per * plane_out)
            .zip(idx.chunks_mut(per * plane_out))
            .enumerate()
            .collect();
        let xd = x.data();
        run_parts(
            parts,
            x.len() + g.planes * plane_out,
            |(group, (outs, idxs))| {
                let outs = outs.chunks_mut(plane_out);
                for (dp, (o, ix)) in outs.zip(idxs.chunks_mut(plane_out)).enumerate() {
                    let base = (group * per + dp) * g.h * g.w;
                    max_plane(&g, &xd[base..base + g.h * g.w], base, o, ix);
                }
            },
        );
    }
    Ok((
        Tensor::from_parts(out, g.out_shape(x.shape())),
        PoolIndices(Where::Host(idx)),
    ))
}

/// Max pooling of one plane; `base` is the plane's offset in the input.
fn max_plane<T: Element>(g: &Pool, x: &[T], base: usize, out: &mut [T], idx: &mut [usize]) {
    for oy in 0..g.ho {
        let (y0, y1) = g.span(oy, g.h);
        for ox in 0..g.wo {
            let (x0, x1) = g.span(ox, g.w);
            let (mut best, mut at) = (T::neg_infinity(), usize::MAX);
            for iy in y0..y1 {
                for (ix, &v) in x[iy * g.w..(iy + 1) * g.w]
                    .iter()
                    .enumerate()
                    .take(x1)
                    .skip(x0)
                {
                    if at == usize::MAX || v > best || (v.is_nan() && !best.is_nan()) {
                        best = v;
                        at = iy * g.w + ix;
                    }
                }
            }
            out[oy * g.wo + ox] = best;
            idx[oy * g.wo + ox] = base + at;
        }
    }
}

/// Max pooling of `x [N, C, H, W]` (see [`try_max_pool2d_with_indices`]).
pub fn try_max_pool2d<T: Element>(
    x: &Tensor<T>,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Result<Tensor<T>, ShapeError> {
    try_max_pool2d_with_indices(x, kernel, stride, padding).map(|(y, _)| y)
}

/// Adjoint of [`try_max_pool2d_with_indices`]: each output gradient added
/// onto the input element `indices` names (`dx` of `input_shape`).
///
/// # Panics
/// If `grad` and `indices` differ in length or an index is out of range.
#[track_caller]
pub fn max_pool2d_backward<T: Element>(
    input_shape: &[usize],
    indices: &PoolIndices,
    grad: &Tensor<T>,
) -> Tensor<T> {
    if let Some(dx) = device::max_pool_backward(indices, grad, input_shape) {
        return dx;
    }
    let indices = indices.host();
    assert_eq!(
        grad.len(),
        indices.len(),
        "max_pool2d_backward: {} indices for a gradient of shape {:?}",
        indices.len(),
        grad.shape()
    );
    let mut dx = Tensor::zeros(input_shape);
    let d = dx.data_mut();
    for (&i, &gv) in indices.iter().zip(grad.data()) {
        d[i] += gv;
    }
    dx
}

/// Tangent (forward mode) of max pooling: every output element takes the
/// tangent of the input its window's maximum came from (`indices` from
/// [`try_max_pool2d_with_indices`]).
///
/// # Panics
/// If an index is out of `tangent`'s range or `indices` does not fill `out_shape`.
pub fn max_pool2d_tangent<T: Element>(
    indices: &PoolIndices,
    tangent: &Tensor<T>,
    out_shape: &[usize],
) -> Tensor<T> {
    let indices = indices.host();
    let d = tangent.data();
    assert_eq!(
        indices.len(),
        out_shape.iter().product::<usize>(),
        "max_pool2d_tangent: {} indices for an output of shape {out_shape:?}",
        indices.len()
    );
    Tensor::from_parts(indices.iter().map(|&i| d[i]).collect(), out_shape.to_vec())
}

/// Average pooling of `x [N, C, H, W]`, padding counted in every window
/// (each divides by `kernel²`); fails as [`try_max_pool2d_with_indices`].
pub fn try_avg_pool2d<T: Element>(
    x: &Tensor<T>,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Result<Tensor<T>, ShapeError> {
    let g = pool_geometry("avg_pool2d", x.shape(), kernel, stride, padding)?;
    if let Some(y) = device::avg_pool(x, g, false, &g.out_shape(x.shape())) {
        return Ok(y);
    }
    let (plane_in, plane_out) = (g.h * g.w, g.ho * g.wo);
    let mut out = vec![T::zero(); g.planes * plane_out];
    let scale = T::one() / T::cast_usize(g.k * g.k);
    if !out.is_empty() {
        let per = group_size(g.planes);
        let parts: Vec<_> = out.chunks_mut(per * plane_out).enumerate().collect();
        let xd = x.data();
        run_parts(parts, x.len() + g.planes * plane_out, |(group, outs)| {
            for (dp, o) in outs.chunks_mut(plane_out).enumerate() {
                let base = (group * per + dp) * plane_in;
                let src = &xd[base..base + plane_in];
                for oy in 0..g.ho {
                    let (y0, y1) = g.span(oy, g.h);
                    for ox in 0..g.wo {
                        let (x0, x1) = g.span(ox, g.w);
                        let mut acc = T::zero();
                        for iy in y0..y1 {
                            for &v in &src[iy * g.w + x0..iy * g.w + x1] {
                                acc += v;
                            }
                        }
                        o[oy * g.wo + ox] = acc * scale;
                    }
                }
            }
        });
    }
    Ok(Tensor::from_parts(out, g.out_shape(x.shape())))
}

/// Adjoint of [`try_avg_pool2d`]: `g / kernel²` added onto every input
/// element of each window.
///
/// # Panics
/// If the arguments do not describe a pooling of `input_shape` or `grad`
/// is not its output's shape.
#[track_caller]
pub fn avg_pool2d_backward<T: Element>(
    input_shape: &[usize],
    kernel: usize,
    stride: usize,
    padding: usize,
    grad: &Tensor<T>,
) -> Tensor<T> {
    let g = or_panic(pool_geometry(
        "avg_pool2d_backward",
        input_shape,
        kernel,
        stride,
        padding,
    ));
    expect_same_shape(
        "avg_pool2d_backward",
        grad.shape(),
        &g.out_shape(input_shape),
    );
    if let Some(dx) = device::avg_pool(grad, g, true, input_shape) {
        return dx;
    }
    let (plane_in, plane_out) = (g.h * g.w, g.ho * g.wo);
    let mut dx = vec![T::zero(); g.planes * plane_in];
    let scale = T::one() / T::cast_usize(g.k * g.k);
    if !dx.is_empty() {
        let per = group_size(g.planes);
        let parts: Vec<_> = dx.chunks_mut(per * plane_in).enumerate().collect();
        let gd = grad.data();
        run_parts(parts, gd.len() + g.planes * plane_in, |(group, dxs)| {
            for (dp, d) in dxs.chunks_mut(plane_in).enumerate() {
                let base = (group * per + dp) * plane_out;
                for oy in 0..g.ho {
                    let (y0, y1) = g.span(oy, g.h);
                    for ox in 0..g.wo {
                        let (x0, x1) = g.span(ox, g.w);
                        let share = gd[base + oy * g.wo + ox] * scale;
                        for iy in y0..y1 {
                            for v in &mut d[iy * g.w + x0..iy * g.w + x1] {
                                *v += share;
                            }
                        }
                    }
                }
            }
        });
    }
    Tensor::from_parts(dx, input_shape.to_vec())
}

/// The mean of every `[H, W]` plane of `x [N, C, H, W]`, `[N, C]`; fails
/// for another rank or empty planes.
pub fn try_global_avg_pool<T: Element>(x: &Tensor<T>) -> Result<Tensor<T>, ShapeError> {
    let (n, c, hw) = global_dims("global_avg_pool", x.shape())?;
    if x.device() != crate::tensor::Device::Cpu {
        return Ok(x.reshape(&[n, c, hw]).mean_axis(2, false));
    }
    let scale = T::one() / T::cast_usize(hw);
    let out = x
        .data()
        .chunks(hw)
        .map(|plane| plane.iter().fold(T::zero(), |acc, &v| acc + v) * scale)
        .collect();
    Ok(Tensor::from_parts(out, vec![n, c]))
}

/// Adjoint of [`try_global_avg_pool`]: `g[n, c] / (H·W)` over each plane.
///
/// # Panics
/// If `input_shape` is not `[N, C, H, W]` with non-empty planes or `grad`
/// is not `[N, C]`.
#[track_caller]
pub fn global_avg_pool_backward<T: Element>(input_shape: &[usize], grad: &Tensor<T>) -> Tensor<T> {
    let (n, c, hw) = or_panic(global_dims("global_avg_pool_backward", input_shape));
    expect_same_shape("global_avg_pool_backward", grad.shape(), &[n, c]);
    if grad.device() != crate::tensor::Device::Cpu {
        let spread = super::reduce::mean_axis_backward(&[n, c, hw], 2, grad);
        return spread.reshape(input_shape);
    }
    let scale = T::one() / T::cast_usize(hw);
    let mut dx = Vec::with_capacity(n * c * hw);
    for &gv in grad.data() {
        dx.extend(std::iter::repeat_n(gv * scale, hw));
    }
    Tensor::from_parts(dx, input_shape.to_vec())
}

/// `(N, C, H·W)` of a global pooling's input.
fn global_dims(op: &'static str, shape: &[usize]) -> Result<(usize, usize, usize), ShapeError> {
    let &[n, c, h, w] = shape else {
        return Err(ShapeError::Rank {
            op,
            expected: "an input of shape [N, C, H, W]",
            shape: shape.to_vec(),
        });
    };
    if h * w == 0 {
        return Err(ShapeError::EmptyReduction {
            op,
            action: "average over",
            shape: shape.to_vec(),
            axis: None,
        });
    }
    Ok((n, c, h * w))
}

impl<T: Element> Tensor<T> {
    /// Max pooling of this `[N, C, H, W]` tensor (see
    /// [`try_max_pool2d_with_indices`]), or an error.
    pub fn try_max_pool2d(
        &self,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Result<Self, ShapeError> {
        try_max_pool2d(self, kernel, stride, padding)
    }

    /// Max pooling of this `[N, C, H, W]` tensor; panics on bad arguments.
    #[track_caller]
    pub fn max_pool2d(&self, kernel: usize, stride: usize, padding: usize) -> Self {
        or_panic(try_max_pool2d(self, kernel, stride, padding))
    }

    /// Max pooling with the flat input index of each output's maximum (what
    /// [`max_pool2d_backward`] takes); panics on bad arguments.
    #[track_caller]
    pub fn max_pool2d_with_indices(
        &self,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> (Self, PoolIndices) {
        or_panic(try_max_pool2d_with_indices(self, kernel, stride, padding))
    }

    /// Average pooling of this `[N, C, H, W]` tensor (padding counted), or
    /// an error.
    pub fn try_avg_pool2d(
        &self,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Result<Self, ShapeError> {
        try_avg_pool2d(self, kernel, stride, padding)
    }

    /// Average pooling of this `[N, C, H, W]` tensor (padding counted);
    /// panics on bad arguments.
    #[track_caller]
    pub fn avg_pool2d(&self, kernel: usize, stride: usize, padding: usize) -> Self {
        or_panic(try_avg_pool2d(self, kernel, stride, padding))
    }

    /// The mean of every plane of this `[N, C, H, W]` tensor, `[N, C]`, or
    /// an error.
    pub fn try_global_avg_pool(&self) -> Result<Self, ShapeError> {
        try_global_avg_pool(self)
    }

    /// The mean of every plane of this `[N, C, H, W]` tensor, `[N, C]`;
    /// panics for another rank or empty planes.
    #[track_caller]
    pub fn global_avg_pool(&self) -> Self {
        or_panic(try_global_avg_pool(self))
    }
}
