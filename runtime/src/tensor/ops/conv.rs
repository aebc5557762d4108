//! 2-D convolution (PyTorch's `conv2d`: cross-correlation, no bias, square
//! stride and symmetric zero padding) and its adjoint, on im2col and
//! `adjoint_kernels::gemm`.
//!
//! Shapes: input `x [N, C, H, W]`, weight `w [O, C, kh, kw]`, result
//! `[N, O, Ho, Wo]` with `Ho = (H + 2p - kh) / stride + 1` (and likewise
//! `Wo`). For image `n`, im2col lays the receptive fields out as the columns
//! of `cols_n [C·kh·kw, Ho·Wo]` (zeros where a field reaches into the
//! padding), so that `y_n = W · cols_n` with `W` the weight viewed as
//! `[O, C·kh·kw]`. The adjoints are `dW = Σ_n g_n · cols_nᵀ` and
//! `dx_n = col2im(Wᵀ · g_n)`, col2im adding every column entry back onto the
//! input element it was copied from.
//!
//! # Layout: per image, images spread across threads
//!
//! Each task takes a few consecutive images, builds their `cols_n` in its
//! own scratch buffer and runs a single-threaded gemm per image, writing
//! straight into the `[N, O, Ho, Wo]` result (no transpose); the backward
//! gives each task its own slice of `dx` and its own partial `dW`, summed at
//! the end. The alternatives measured were one batched product
//! `[O, K] x [K, N·L]` over a batch-wide `cols` (built row-parallel, then
//! the `[O, N, L]` result permuted to `[N, O, L]`), and a per-image loop
//! calling the threaded gemm.
//!
//! Measured with `cargo test --release -p adjoint-runtime --lib
//! conv2d_layout_timing -- --ignored --nocapture` (f32, 15 interleaved
//! rounds, medians) on this project's 2-core AMD EPYC VM for the Table-1
//! ConvNet's heaviest layer at batch 32, `x [32, 64, 16, 16]`,
//! `w [128, 64, 3, 3]`, padding 1 (1.2 GFLOP forward):
//!
//! | layout                        | forward  | backward (dx + dw) |
//! |-------------------------------|----------|--------------------|
//! | per image, across threads     | 20.7–21.1 ms | 41.8–44.5 ms   |
//! | per image, threaded gemm      | 21.4–23.0 ms | 41.0–42.0 ms   |
//! | one batched gemm + permute    | 28.4–31.4 ms | (not built)    |
//!
//! (ranges over three runs). Caveat: another build held the second core
//! throughout (load average ~3), and `RAYON_NUM_THREADS=1` gave the same
//! times (forward 20.8, 20.7 and 26.3 ms), so these compare layouts at about
//! one core's worth of throughput, not the two-core speed-up. The two
//! per-image layouts are within noise of each other; the batched one is
//! 35–50% slower (it streams a 19 MB batch-wide `cols` instead of a 0.6 MB
//! per-image one, and permutes a 4 MB intermediate result). Per image across threads is the default: no
//! slower, `K·L` scratch per task instead of `K·N·L`, and no serial
//! permutation.
//!
//! After a stride-1 fast path (slice copies) went into im2col and col2im,
//! three more runs gave forward medians 19.7–22.8 / 18.6–23.2 / 24.3–28.7 ms
//! and backward 36.9–44.7 / 35.8–44.1 ms for the three layouts: the same
//! ordering, the differences between the per-image layouts still noise.

use adjoint_kernels::{gemm, gemm_single_threaded, MatRef};

use super::par::{group_size, run_parts};
use crate::tensor::base::expect_same_shape;
use crate::tensor::error::or_panic;
use crate::tensor::{Element, ShapeError, Tensor};

/// The sizes of one convolution, checked to fit together: `n` images of
/// `c` channels `h × w`, `o` filters `kh × kw` at `stride` with `pad`,
/// output `ho × wo` (also what the CUDA kernels take).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) n: usize,
    pub(crate) c: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) o: usize,
    pub(crate) kh: usize,
    pub(crate) kw: usize,
    pub(crate) stride: usize,
    pub(crate) pad: usize,
    pub(crate) ho: usize,
    pub(crate) wo: usize,
}

impl Geometry {
    /// Rows of `cols`: `C·kh·kw`.
    pub(crate) fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Columns of `cols`: output positions per image.
    pub(crate) fn l(&self) -> usize {
        self.ho * self.wo
    }

    /// Elements of one input image.
    pub(crate) fn chw(&self) -> usize {
        self.c * self.h * self.w
    }

    /// The result's shape `[N, O, Ho, Wo]`.
    fn out_shape(&self) -> Vec<usize> {
        vec![self.n, self.o, self.ho, self.wo]
    }

    /// The output columns `ox` whose input column `ox·stride + j - pad` lies
    /// inside the image, as `lo..hi`.
    #[inline]
    fn valid_cols(&self, j: usize) -> (usize, usize) {
        let s = self.stride;
        let hi = ((self.w + self.pad).saturating_sub(j))
            .div_ceil(s)
            .min(self.wo);
        let lo = self.pad.saturating_sub(j).div_ceil(s).min(hi);
        (lo, hi)
    }

    /// The input row read by output row `oy` at kernel row `i`, if inside.
    #[inline]
    fn input_row(&self, oy: usize, i: usize) -> Option<usize> {
        (oy * self.stride + i)
            .checked_sub(self.pad)
            .filter(|&iy| iy < self.h)
    }
}

/// Checks the operands of a convolution and returns its sizes.
pub(crate) fn geometry(
    op: &'static str,
    x: &[usize],
    w: &[usize],
    stride: usize,
    padding: usize,
) -> Result<Geometry, ShapeError> {
    let &[n, c, h, wd] = x else {
        return Err(ShapeError::Rank {
            op,
            expected: "an input of shape [N, C, H, W]",
            shape: x.to_vec(),
        });
    };
    let &[o, c2, kh, kw] = w else {
        return Err(ShapeError::Rank {
            op,
            expected: "a weight of shape [O, C, kh, kw]",
            shape: w.to_vec(),
        });
    };
    let incompatible = |what: String| ShapeError::Incompatible {
        op,
        what,
        lhs: x.to_vec(),
        rhs: w.to_vec(),
    };
    if c != c2 {
        return Err(incompatible(format!(
            "input has {c} channels but the weight expects {c2}"
        )));
    }
    if stride == 0 {
        return Err(ShapeError::InvalidArgument {
            op,
            message: "stride must be positive".to_string(),
        });
    }
    let (hp, wp) = (h + 2 * padding, wd + 2 * padding);
    if kh == 0 || kw == 0 || kh > hp || kw > wp {
        return Err(incompatible(format!(
            "kernel {kh}x{kw} does not fit the padded input {hp}x{wp}"
        )));
    }
    Ok(Geometry {
        n,
        c,
        h,
        w: wd,
        o,
        kh,
        kw,
        stride,
        pad: padding,
        ho: (hp - kh) / stride + 1,
        wo: (wp - kw) / stride + 1,
    })
}

/// Copies the receptive fields of one image `x [C, H, W]` into
/// `cols [C·kh·kw, Ho·Wo]` (zeros for padding).
fn im2col<T: Element>(g: &Geometry, x: &[T], cols: &mut [T]) {
    let (l, plane) = (g.l(), g.h * g.w);
    for (r, dst) in cols.chunks_mut(l).enumerate().take(g.k()) {
        let (ch, i, j) = (r / (g.kh * g.kw), r / g.kw % g.kh, r % g.kw);
        fill_row(g, &x[ch * plane..(ch + 1) * plane], i, j, dst);
    }
}

/// One row of im2col: what kernel tap `(i, j)` sees of the plane `src
/// [H, W]` at every output position (`dst [Ho·Wo]`, zeros for padding).
fn fill_row<T: Element>(g: &Geometry, src: &[T], i: usize, j: usize, dst: &mut [T]) {
    let (lo, hi) = g.valid_cols(j);
    for (oy, out) in dst.chunks_mut(g.wo).enumerate() {
        let Some(iy) = g.input_row(oy, i) else {
            out.fill(T::zero());
            continue;
        };
        let line = &src[iy * g.w..(iy + 1) * g.w];
        out[..lo].fill(T::zero());
        out[hi..].fill(T::zero());
        if g.stride == 1 {
            out[lo..hi].copy_from_slice(&line[lo + j - g.pad..hi + j - g.pad]);
        } else {
            for (ox, d) in out.iter_mut().enumerate().take(hi).skip(lo) {
                *d = line[ox * g.stride + j - g.pad];
            }
        }
    }
}

/// The adjoint of [`im2col`]: adds every entry of `cols` onto the element
/// of `dx [C, H, W]` it was copied from (entries from padding are dropped).
fn col2im<T: Element>(g: &Geometry, cols: &[T], dx: &mut [T]) {
    let (l, plane) = (g.l(), g.h * g.w);
    for ch in 0..g.c {
        let dst = &mut dx[ch * plane..(ch + 1) * plane];
        for i in 0..g.kh {
            for j in 0..g.kw {
                let row = ((ch * g.kh + i) * g.kw + j) * l;
                let (lo, hi) = g.valid_cols(j);
                for oy in 0..g.ho {
                    let Some(iy) = g.input_row(oy, i) else {
                        continue;
                    };
                    let src = &cols[row + oy * g.wo..row + (oy + 1) * g.wo];
                    let line = &mut dst[iy * g.w..(iy + 1) * g.w];
                    if g.stride == 1 {
                        let dst = &mut line[lo + j - g.pad..hi + j - g.pad];
                        for (d, &v) in dst.iter_mut().zip(&src[lo..hi]) {
                            *d += v;
                        }
                    } else {
                        for (ox, &v) in src.iter().enumerate().take(hi).skip(lo) {
                            let d = &mut line[ox * g.stride + j - g.pad];
                            *d += v;
                        }
                    }
                }
            }
        }
    }
}

/// The product `c = a·b` on the calling thread when other images keep the
/// other cores busy (`serial`), else on all of them.
fn product<T: Element>(serial: bool, a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, c: &mut [T]) {
    if serial {
        gemm_single_threaded(T::one(), a, b, beta, c);
    } else {
        gemm(T::one(), a, b, beta, c);
    }
}

/// How the forward pass arranges its products (all give the same result;
/// the alternatives exist for the layout measurement in the tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) enum ConvLayout {
    /// Groups of images per task, a single-threaded gemm per image (the default).
    PerImageParallel,
    /// One image after the other, each product on the threaded gemm.
    PerImageThreadedGemm,
    /// One `[O, K] x [K, N·L]` product over the whole batch, then a permutation.
    Batched,
}

/// The forward pass on checked sizes, arranged as `layout` says.
pub(crate) fn conv2d_forward<T: Element>(
    g: &Geometry,
    layout: ConvLayout,
    x: &[T],
    w: &[T],
) -> Vec<T> {
    let (k, l, o, chw) = (g.k(), g.l(), g.o, g.chw());
    let mut out = vec![T::zero(); g.n * o * l];
    if out.is_empty() || k == 0 {
        return out;
    }
    let wm = MatRef::row_major(w, o, k);
    match layout {
        ConvLayout::PerImageParallel | ConvLayout::PerImageThreadedGemm => {
            let per = if layout == ConvLayout::PerImageParallel {
                group_size(g.n)
            } else {
                g.n
            };
            let serial = per < g.n;
            let parts: Vec<_> = out.chunks_mut(per * o * l).enumerate().collect();
            run_parts(parts, g.n * (o + chw) * l, |(group, chunk)| {
                let mut cols = vec![T::zero(); k * l];
                for (j, out_n) in chunk.chunks_mut(o * l).enumerate() {
                    let n = group * per + j;
                    im2col(g, &x[n * chw..(n + 1) * chw], &mut cols);
                    let cm = MatRef::row_major(&cols, k, l);
                    product(serial, wm, cm, T::zero(), out_n);
                }
            });
        }
        ConvLayout::Batched => {
            let nl = g.n * l;
            let per = group_size(g.n);
            let cols = batch_cols(g, x);
            let mut wide = vec![T::zero(); o * nl];
            gemm(
                T::one(),
                wm,
                MatRef::row_major(&cols, k, nl),
                T::zero(),
                &mut wide,
            );
            let parts: Vec<_> = out.chunks_mut(per * o * l).enumerate().collect();
            run_parts(parts, g.n * o * l, |(group, chunk)| {
                for (j, out_n) in chunk.chunks_mut(o * l).enumerate() {
                    let n = group * per + j;
                    for oc in 0..o {
                        out_n[oc * l..(oc + 1) * l]
                            .copy_from_slice(&wide[oc * nl + n * l..oc * nl + (n + 1) * l]);
                    }
                }
            });
        }
    }
    out
}

/// The receptive fields of the whole batch as one `[C·kh·kw, N·Ho·Wo]`
/// matrix (row `(ch, i, j)` holds tap `(i, j)` of channel `ch` for every
/// image), built row-parallel.
fn batch_cols<T: Element>(g: &Geometry, x: &[T]) -> Vec<T> {
    let (k, l, chw) = (g.k(), g.l(), g.chw());
    let nl = g.n * l;
    let mut cols = vec![T::zero(); k * nl];
    let (plane, rows_per) = (g.h * g.w, group_size(k));
    let parts: Vec<_> = cols.chunks_mut(rows_per * nl).enumerate().collect();
    run_parts(parts, k * nl, |(group, chunk)| {
        for (dr, row) in chunk.chunks_mut(nl).enumerate() {
            let r = group * rows_per + dr;
            let (ch, i, j) = (r / (g.kh * g.kw), r / g.kw % g.kh, r % g.kw);
            for (n, dst) in row.chunks_mut(l).enumerate() {
                let src = &x[n * chw + ch * plane..n * chw + (ch + 1) * plane];
                fill_row(g, src, i, j, dst);
            }
        }
    });
    cols
}

/// Below this many output positions per image, one product over the whole
/// batch beats a product per image: a per-image product packs the whole
/// weight matrix again for only a few columns (the deep layers of the
/// Table-1 ConvNet have 16, 4 and 1 positions; measured there, packing took
/// more time than the multiply).
const BATCHED_BELOW: usize = 256;

/// The layout a convolution of these sizes runs in.
fn layout_for(g: &Geometry) -> ConvLayout {
    if g.l() < BATCHED_BELOW {
        ConvLayout::Batched
    } else {
        ConvLayout::PerImageParallel
    }
}

/// The convolution of `x [N, C, H, W]` with `w [O, C, kh, kw]` at `stride`
/// with `padding` zeros on every side, `[N, O, Ho, Wo]`; fails (naming
/// `conv2d` and both shapes) for wrong ranks, differing channel counts, a
/// kernel larger than the padded input, or a zero stride.
pub fn try_conv2d<T: Element>(
    x: &Tensor<T>,
    w: &Tensor<T>,
    stride: usize,
    padding: usize,
) -> Result<Tensor<T>, ShapeError> {
    let g = geometry("conv2d", x.shape(), w.shape(), stride, padding)?;
    if let Some(y) = crate::tensor::device::conv2d(x, w, g) {
        return Ok(y);
    }
    let out = conv2d_forward(&g, layout_for(&g), x.data(), w.data());
    Ok(Tensor::from_parts(out, g.out_shape()))
}

/// Adjoint of [`try_conv2d`]: `(dx, dw)`, each computed only when its flag
/// in `needs` is set (`dw = Σ_n g_n · cols_nᵀ`, `dx_n = col2im(Wᵀ · g_n)`).
///
/// # Panics
/// If the operands do not form a convolution or `grad` is not its shape.
#[track_caller]
#[allow(clippy::type_complexity)]
pub fn conv2d_backward<T: Element>(
    x: &Tensor<T>,
    w: &Tensor<T>,
    stride: usize,
    padding: usize,
    grad: &Tensor<T>,
    needs: [bool; 2],
) -> (Option<Tensor<T>>, Option<Tensor<T>>) {
    conv2d_backward_with(layout_for, x, w, stride, padding, grad, needs)
}

/// [`conv2d_backward`] in the layout `layout` picks for the sizes: images
/// spread across threads (`PerImageParallel`), taken one after the other on
/// the threaded gemm (`PerImageThreadedGemm`), or two products over the
/// whole batch (`Batched`).
#[track_caller]
#[allow(clippy::type_complexity)]
pub(crate) fn conv2d_backward_with<T: Element>(
    layout: impl FnOnce(&Geometry) -> ConvLayout,
    x: &Tensor<T>,
    w: &Tensor<T>,
    stride: usize,
    padding: usize,
    grad: &Tensor<T>,
    needs: [bool; 2],
) -> (Option<Tensor<T>>, Option<Tensor<T>>) {
    let g = or_panic(geometry(
        "conv2d_backward",
        x.shape(),
        w.shape(),
        stride,
        padding,
    ));
    expect_same_shape("conv2d_backward", grad.shape(), &g.out_shape());
    if let Some(grads) = crate::tensor::device::conv2d_backward(x, w, grad, g, needs) {
        return grads;
    }
    let layout = layout(&g);
    let (k, l, o, chw) = (g.k(), g.l(), g.o, g.chw());
    let [need_dx, need_dw] = needs;
    let mut dx = vec![T::zero(); if need_dx { x.len() } else { 0 }];
    let mut dw = vec![T::zero(); if need_dw { w.len() } else { 0 }];
    if layout == ConvLayout::Batched && g.n > 0 && chw > 0 && o > 0 && l > 0 {
        batched_backward(&g, x.data(), w.data(), grad.data(), &mut dx, &mut dw);
    } else if g.n > 0 && chw > 0 && o > 0 && (need_dx || need_dw) {
        let per = if layout == ConvLayout::PerImageThreadedGemm {
            g.n
        } else {
            group_size(g.n)
        };
        let groups = g.n.div_ceil(per);
        let serial = groups > 1;
        let mut partial = vec![T::zero(); if need_dw { groups * o * k } else { 0 }];
        let dx_parts: Vec<Option<&mut [T]>> = if need_dx {
            dx.chunks_mut(per * chw).map(Some).collect()
        } else {
            (0..groups).map(|_| None).collect()
        };
        let dw_parts: Vec<Option<&mut [T]>> = if need_dw {
            partial.chunks_mut(o * k).map(Some).collect()
        } else {
            (0..groups).map(|_| None).collect()
        };
        let parts: Vec<_> = dx_parts.into_iter().zip(dw_parts).enumerate().collect();
        let (xd, wd, gd) = (x.data(), w.data(), grad.data());
        let wm = MatRef::row_major(wd, o, k);
        run_parts(
            parts,
            g.n * (o + chw) * l,
            |(group, (mut dx_part, mut dw_part))| {
                let mut cols = vec![T::zero(); k * l];
                let first = group * per;
                for n in first..(first + per).min(g.n) {
                    let g_n = MatRef::row_major(&gd[n * o * l..(n + 1) * o * l], o, l);
                    if let Some(acc) = dw_part.as_deref_mut() {
                        im2col(&g, &xd[n * chw..(n + 1) * chw], &mut cols);
                        let cm = MatRef::row_major(&cols, k, l);
                        product(serial, g_n, cm.t(), T::one(), acc);
                    }
                    if let Some(dx_n) = dx_part.as_deref_mut() {
                        product(serial, wm.t(), g_n, T::zero(), &mut cols);
                        let j = n - first;
                        col2im(&g, &cols, &mut dx_n[j * chw..(j + 1) * chw]);
                    }
                }
            },
        );
        if need_dw {
            for part in partial.chunks(o * k) {
                for (d, &p) in dw.iter_mut().zip(part) {
                    *d += p;
                }
            }
        }
    }
    (
        need_dx.then(|| Tensor::from_parts(dx, x.shape().to_vec())),
        need_dw.then(|| Tensor::from_parts(dw, w.shape().to_vec())),
    )
}

/// The backward pass as two products over the whole batch: the gradient
/// laid out as `G [O, N·L]`, `dW = G · colsᵀ` and `dcols = Wᵀ · G`, then
/// col2im per image (in parallel). Fills `dx` and `dw` where non-empty.
fn batched_backward<T: Element>(
    g: &Geometry,
    x: &[T],
    w: &[T],
    grad: &[T],
    dx: &mut [T],
    dw: &mut [T],
) {
    let (k, l, o, chw) = (g.k(), g.l(), g.o, g.chw());
    let nl = g.n * l;
    let mut wide = vec![T::zero(); o * nl];
    for n in 0..g.n {
        for oc in 0..o {
            wide[oc * nl + n * l..oc * nl + (n + 1) * l]
                .copy_from_slice(&grad[(n * o + oc) * l..(n * o + oc + 1) * l]);
        }
    }
    let gm = MatRef::row_major(&wide, o, nl);
    if !dw.is_empty() {
        let cols = batch_cols(g, x);
        gemm(
            T::one(),
            gm,
            MatRef::row_major(&cols, k, nl).t(),
            T::zero(),
            dw,
        );
    }
    if !dx.is_empty() {
        let mut dcols = vec![T::zero(); k * nl];
        gemm(
            T::one(),
            MatRef::row_major(w, o, k).t(),
            gm,
            T::zero(),
            &mut dcols,
        );
        let per = group_size(g.n);
        let parts: Vec<_> = dx.chunks_mut(per * chw).enumerate().collect();
        run_parts(parts, g.n * k * l, |(group, chunk)| {
            let mut cols = vec![T::zero(); k * l];
            for (j, dx_n) in chunk.chunks_mut(chw).enumerate() {
                let n = group * per + j;
                for r in 0..k {
                    cols[r * l..(r + 1) * l]
                        .copy_from_slice(&dcols[r * nl + n * l..r * nl + (n + 1) * l]);
                }
                col2im(g, &cols, dx_n);
            }
        });
    }
}

impl<T: Element> Tensor<T> {
    /// The 2-D convolution of this `[N, C, H, W]` input with `w [O, C, kh,
    /// kw]` (see [`try_conv2d`]), or an error naming both shapes.
    pub fn try_conv2d(&self, w: &Self, stride: usize, padding: usize) -> Result<Self, ShapeError> {
        try_conv2d(self, w, stride, padding)
    }

    /// The 2-D convolution of this `[N, C, H, W]` input with `w [O, C, kh,
    /// kw]`, `[N, O, Ho, Wo]`; panics with e.g. `conv2d: input has 3 channels
    /// but the weight expects 4: [2, 3, 8, 8] and [16, 4, 3, 3]`.
    #[track_caller]
    pub fn conv2d(&self, w: &Self, stride: usize, padding: usize) -> Self {
        or_panic(try_conv2d(self, w, stride, padding))
    }
}
