//! The drivers of the compiler's fused element-wise regions: one loop over
//! the output of a region of `N` operands with numpy broadcasting, the
//! region's body a closure the compiler printed from its scalar rule table.
//!
//! - [`map`]: `out[k] = f(x₀[k], …, x_{N-1}[k])`, each operand read through
//!   its broadcast strides;
//! - [`map_backward`]: the region's adjoint, `f(x, y, g)` giving every
//!   operand's contribution at one element; an operand with the output's
//!   shape gets its gradient written in place, a broadcast one (a bias) gets
//!   it summed over the broadcast axes in the same pass.
//!
//! The output is cut into a fixed number of contiguous pieces (a function of
//! the sizes only, so results never depend on the thread count); the first
//! piece is timed and the rest split across threads when they would take at
//! least 25 µs serially. Adjacent axes that every operand
//! reads the same way are merged first, so a same-shape region is one flat
//! loop and a bias add `[m, n] + [n]` `m` rows of `n`.

use crate::float::Float;
use crate::parallel::{for_each_part, threads};
use crate::wide::vectorised;
use std::time::Instant;

/// Elements per piece of the output (a multiple of a cache line's worth).
const PIECE: usize = 1 << 12;

/// Pieces at most (bounds the per-piece sums of broadcast gradients).
const MAX_PIECES: usize = 64;

/// Estimated remaining serial time from which pieces run in parallel.
const MIN_PARALLEL_NANOS: u128 = 25_000;

/// One operand: its elements (`None` where the closure does not read them;
/// it then sees zeros) and its shape.
pub type Operand<'a, T> = (Option<&'a [T]>, &'a [usize]);

/// `out = f(x₀, …, x_{N-1})` element-wise over `out_shape`, every operand
/// broadcast to it (numpy rules; the caller has checked the shapes).
///
/// # Panics
/// If an operand does not broadcast to `out_shape` or `out` has the wrong length.
pub fn map<T, const N: usize, F>(inputs: [Operand<T>; N], out_shape: &[usize], out: &mut [T], f: F)
where
    T: Float,
    F: Fn([T; N]) -> T + Sync,
{
    let layout = Layout::new(&inputs, out_shape);
    assert_eq!(out.len(), layout.len, "fused map: output length");
    let pieces = layout.pieces(0);
    let mut outs = Vec::with_capacity(pieces.len());
    let mut rest = out;
    for range in &pieces {
        let (head, tail) = rest.split_at_mut(range.1 - range.0);
        outs.push((range.0, head));
        rest = tail;
    }
    let run = |(start, out): (usize, &mut [T])| {
        let mut scratch = Scratch::new(&layout, out.len());
        layout.for_each_segment(start, start + out.len(), |seg| {
            let len = seg.len;
            // Every operand cut to the segment's length: no bounds checks below.
            let cols = scratch.columns(&inputs, seg).map(|c| &c[..len]);
            let o = &mut out[seg.at - start..seg.at - start + len];
            let f = &f;
            vectorised(move || {
                for (j, o) in o.iter_mut().enumerate() {
                    *o = f(std::array::from_fn(|i| cols[i][j]));
                }
            });
        });
    };
    timed_split(outs, run);
}

/// The adjoint of a fused map: for every output element `f(x, y, g)` gives
/// each operand's contribution (`y` the region's value where `y` is given,
/// else zero; `g` the output's adjoint); returns each needed operand's
/// gradient in its own shape (summed over its broadcast axes).
///
/// # Panics
/// If the lengths disagree with the shapes.
pub fn map_backward<T, const N: usize, F>(
    inputs: [Operand<T>; N],
    y: Option<&[T]>,
    g: &[T],
    out_shape: &[usize],
    needs: [bool; N],
    f: F,
) -> [Option<Vec<T>>; N]
where
    T: Float,
    F: Fn([T; N], T, T) -> [T; N] + Sync,
{
    let layout = Layout::new(&inputs, out_shape);
    assert_eq!(g.len(), layout.len, "fused map backward: gradient length");
    let accumulated: Vec<usize> = (0..N)
        .filter(|&i| needs[i] && !layout.full[i])
        .map(|i| layout.sizes[i])
        .collect();
    let largest = accumulated.iter().copied().max().unwrap_or(0);
    let pieces = layout.pieces(largest);
    let mut full: [Option<Vec<T>>; N] =
        std::array::from_fn(|i| (needs[i] && layout.full[i]).then(|| vec![T::ZERO; layout.len]));
    let mut sums: Vec<[Option<Vec<T>>; N]> = pieces
        .iter()
        .map(|_| {
            std::array::from_fn(|i| {
                (needs[i] && !layout.full[i]).then(|| vec![T::ZERO; layout.sizes[i]])
            })
        })
        .collect();
    {
        let mut rests: [Option<&mut [T]>; N] = full.each_mut().map(|b| b.as_deref_mut());
        let mut parts = Vec::with_capacity(pieces.len());
        for (range, sum) in pieces.iter().zip(sums.iter_mut()) {
            let len = range.1 - range.0;
            let heads: [Option<&mut [T]>; N] = std::array::from_fn(|i| {
                rests[i].take().map(|rest| {
                    let (head, tail) = rest.split_at_mut(len);
                    rests[i] = Some(tail);
                    head
                })
            });
            parts.push((range.0, len, heads, sum));
        }
        let run = |(start, len, mut heads, sum): Part<'_, T, N>| {
            // A segment is at most one row and at most the piece.
            let longest = layout.inner().min(len);
            let mut scratch = Scratch::new(&layout, len);
            let zero_y = vec![T::ZERO; if y.is_some() { 0 } else { longest }];
            // Each operand's contributions along one segment, then written or
            // summed in one tight loop per operand.
            let mut rows: [Vec<T>; N] = std::array::from_fn(|_| vec![T::ZERO; longest]);
            layout.for_each_segment(start, start + len, |seg| {
                let n = seg.len;
                let cols = scratch.columns(&inputs, seg).map(|c| &c[..n]);
                let ys = match y {
                    Some(y) => &y[seg.at..seg.at + n],
                    None => &zero_y[..n],
                };
                let gs = &g[seg.at..seg.at + n];
                {
                    let mut outs = rows.each_mut().map(|r| &mut r[..n]);
                    let f = &f;
                    vectorised(move || {
                        for j in 0..n {
                            let d = f(std::array::from_fn(|i| cols[i][j]), ys[j], gs[j]);
                            for (out, d) in outs.iter_mut().zip(d) {
                                out[j] = d;
                            }
                        }
                    });
                }
                for i in 0..N {
                    let row = &rows[i][..n];
                    if let Some(head) = heads[i].as_deref_mut() {
                        head[seg.at - start..seg.at - start + n].copy_from_slice(row);
                    } else if let Some(acc) = sum[i].as_deref_mut() {
                        let base = seg.bases[i];
                        if seg.steps[i] == 0 {
                            let total = row.iter().fold(T::ZERO, |t, &v| t + v);
                            acc[base] += total;
                        } else {
                            for (a, &v) in acc[base..base + n].iter_mut().zip(row) {
                                *a += v;
                            }
                        }
                    }
                }
            });
        };
        timed_split(parts, run);
    }
    let mut summed = sums.into_iter();
    let first = summed.next();
    let mut reduced: [Option<Vec<T>>; N] = first.unwrap_or_else(|| std::array::from_fn(|_| None));
    for piece in summed {
        for (total, part) in reduced.iter_mut().zip(piece) {
            if let (Some(total), Some(part)) = (total.as_mut(), part) {
                total.iter_mut().zip(part).for_each(|(t, p)| *t += p);
            }
        }
    }
    std::array::from_fn(|i| full[i].take().or_else(|| reduced[i].take()))
}

/// One piece of a backward pass: its start, length, the gradient slices of
/// the full-shape operands and the sums of the broadcast ones.
type Part<'a, T, const N: usize> = (
    usize,
    usize,
    [Option<&'a mut [T]>; N],
    &'a mut [Option<Vec<T>>; N],
);

/// Runs `run` on every part: the first on the calling thread, timed; the
/// rest serially when they are estimated to be quick, else across threads.
fn timed_split<P: Send, F: Fn(P) + Sync>(parts: Vec<P>, run: F) {
    let total = parts.len();
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else { return };
    let start = Instant::now();
    run(first);
    let estimate = start.elapsed().as_nanos() * (total as u128 - 1);
    if threads() < 2 || total < 2 || estimate < MIN_PARALLEL_NANOS {
        parts.for_each(run);
    } else {
        for_each_part(parts.collect(), run);
    }
}

/// The output's axes after merging, with every operand's strides over them.
struct Layout {
    dims: Vec<usize>,
    strides: Vec<Vec<usize>>,
    /// Whether operand `i` has the output's shape (reads it contiguously).
    full: Vec<bool>,
    /// Elements of operand `i`.
    sizes: Vec<usize>,
    len: usize,
}

impl Layout {
    fn new<T>(inputs: &[Operand<T>], out_shape: &[usize]) -> Layout {
        let rank = out_shape.len();
        let mut strides = Vec::with_capacity(inputs.len());
        let mut sizes = Vec::with_capacity(inputs.len());
        for (data, shape) in inputs {
            assert!(
                shape.len() <= rank,
                "fused map: operand rank above the output's"
            );
            let own = contiguous_strides(shape);
            let offset = rank - shape.len();
            let s: Vec<usize> = (0..rank)
                .map(|d| match d.checked_sub(offset) {
                    Some(k) if shape[k] == out_shape[d] => own[k],
                    Some(k) => {
                        assert_eq!(shape[k], 1, "fused map: operand does not broadcast");
                        0
                    }
                    None => 0,
                })
                .collect();
            let size: usize = shape.iter().product();
            if let Some(data) = data {
                assert_eq!(data.len(), size, "fused map: operand length");
            }
            sizes.push(size);
            strides.push(s);
        }
        let (dims, strides) = merge_axes(out_shape, strides);
        let len: usize = out_shape.iter().product();
        let merged = contiguous_strides(&dims);
        let full = strides
            .iter()
            .zip(&sizes)
            .map(|(s, size)| *size == len && *s == merged)
            .collect();
        Layout {
            len,
            dims,
            strides,
            full,
            sizes,
        }
    }

    /// Elements of the innermost merged axis.
    fn inner(&self) -> usize {
        self.dims.last().copied().unwrap_or(1)
    }

    /// The output cut into contiguous ranges, their number a function of the
    /// sizes only: at most [`MAX_PIECES`], fewer when each piece must keep
    /// its own sum of a broadcast operand of `accumulated` elements.
    fn pieces(&self, accumulated: usize) -> Vec<(usize, usize)> {
        let mut n = self.len.div_ceil(PIECE).clamp(1, MAX_PIECES);
        if accumulated > 0 {
            n = n.min((self.len / (4 * accumulated)).max(1));
        }
        let size = self.len.div_ceil(n).next_multiple_of(64).max(1);
        (0..self.len)
            .step_by(size)
            .map(|s| (s, (s + size).min(self.len)))
            .collect()
    }

    /// Calls `visit` for every run of the output range `[start, end)` inside
    /// one row of the innermost axis.
    fn for_each_segment(&self, start: usize, end: usize, mut visit: impl FnMut(&Segment)) {
        let inner = self.inner();
        let mut at = start;
        let mut seg = Segment {
            at,
            len: 0,
            bases: vec![0; self.strides.len()],
            steps: self
                .strides
                .iter()
                .map(|s| s.last().copied().unwrap_or(0))
                .collect(),
        };
        while at < end {
            let (row, col) = (at / inner, at % inner);
            let len = (inner - col).min(end - at);
            for (base, (strides, step)) in seg
                .bases
                .iter_mut()
                .zip(self.strides.iter().zip(&seg.steps))
            {
                *base = self.row_offset(row, strides) + col * step;
            }
            seg.at = at;
            seg.len = len;
            visit(&seg);
            at += len;
        }
    }

    /// Where row `row` (of the innermost axis) starts in an operand.
    fn row_offset(&self, mut row: usize, strides: &[usize]) -> usize {
        let mut offset = 0;
        for d in (0..self.dims.len().saturating_sub(1)).rev() {
            offset += (row % self.dims[d]) * strides[d];
            row /= self.dims[d];
        }
        offset
    }
}

/// A run of output elements `[at, at + len)` in one row, and where each
/// operand's elements for it start and how they advance (1, or 0 when
/// broadcast along the row).
struct Segment {
    at: usize,
    len: usize,
    bases: Vec<usize>,
    steps: Vec<usize>,
}

/// Per-piece buffers holding an operand broadcast along a row (or zeros for
/// an operand the closure does not read), so every operand is a slice.
struct Scratch<T> {
    rows: Vec<Vec<T>>,
}

impl<T: Float> Scratch<T> {
    /// Buffers for the segments of a piece of `piece` elements.
    fn new(layout: &Layout, piece: usize) -> Self {
        Scratch {
            rows: vec![Vec::with_capacity(layout.inner().min(piece)); layout.strides.len()],
        }
    }

    fn columns<'s, const N: usize>(
        &'s mut self,
        inputs: &'s [Operand<'_, T>; N],
        seg: &Segment,
    ) -> [&'s [T]; N] {
        for (i, row) in self.rows.iter_mut().enumerate() {
            row.clear();
            match inputs[i].0 {
                Some(_) if seg.steps[i] == 1 => {}
                Some(data) => row.resize(seg.len, data[seg.bases[i]]),
                None => row.resize(seg.len, T::ZERO),
            }
        }
        let rows = &self.rows;
        std::array::from_fn(|i| match inputs[i].0 {
            Some(data) if seg.steps[i] == 1 => &data[seg.bases[i]..seg.bases[i] + seg.len],
            _ => &rows[i][..seg.len],
        })
    }
}

fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}

/// Merges adjacent axes `d`, `d + 1` wherever every operand steps over `d`
/// as one step of `d + 1` times its length (both contiguous, or both
/// broadcast); drops axes of length 1.
fn merge_axes(dims: &[usize], strides: Vec<Vec<usize>>) -> (Vec<usize>, Vec<Vec<usize>>) {
    let keep: Vec<usize> = (0..dims.len()).filter(|&d| dims[d] != 1).collect();
    let mut out_dims: Vec<usize> = Vec::new();
    let mut out_strides: Vec<Vec<usize>> = vec![Vec::new(); strides.len()];
    for &d in &keep {
        let mergeable = !out_dims.is_empty()
            && strides.iter().zip(&out_strides).all(|(s, o)| {
                let prev = o.last().copied().unwrap_or(0);
                prev == s[d] * dims[d]
            });
        if mergeable {
            let last = out_dims.len() - 1;
            out_dims[last] *= dims[d];
            for (s, o) in strides.iter().zip(out_strides.iter_mut()) {
                let l = o.len() - 1;
                o[l] = s[d];
            }
        } else {
            out_dims.push(dims[d]);
            for (s, o) in strides.iter().zip(out_strides.iter_mut()) {
                o.push(s[d]);
            }
        }
    }
    if out_dims.is_empty() {
        out_dims.push(1);
        out_strides.iter_mut().for_each(|o| o.push(0));
    }
    (out_dims, out_strides)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize) -> Vec<f64> {
        (0..n).map(|i| i as f64 * 0.5 - 3.0).collect()
    }

    #[test]
    fn same_shape_operands_map_elementwise() {
        let (a, b) = (ramp(70_000), ramp(70_000));
        let mut out = vec![0.0; 70_000];
        map(
            [(Some(&a[..]), &[70_000][..]), (Some(&b), &[70_000])],
            &[70_000],
            &mut out,
            |[x, y]| x * y + 1.0,
        );
        assert!(out.iter().zip(&a).all(|(o, x)| *o == x * x + 1.0));
    }

    #[test]
    fn a_bias_broadcasts_along_rows_and_its_gradient_is_the_column_sum() {
        let (m, n) = (300, 7);
        let a = ramp(m * n);
        let b: Vec<f64> = (0..n).map(|j| j as f64).collect();
        let mut out = vec![0.0; m * n];
        map(
            [(Some(&a[..]), &[m, n][..]), (Some(&b), &[n])],
            &[m, n],
            &mut out,
            |[x, c]| x - c,
        );
        for (k, o) in out.iter().enumerate() {
            assert_eq!(*o, a[k] - b[k % n]);
        }
        let g = vec![1.5; m * n];
        let [da, db] = map_backward(
            [(None, &[m, n][..]), (None, &[n])],
            None,
            &g,
            &[m, n],
            [true, true],
            |_, _, g| [g, -g],
        );
        assert_eq!(da.expect("needed"), g);
        assert_eq!(db.expect("needed"), vec![-1.5 * m as f64; n]);
    }

    #[test]
    fn column_and_scalar_like_broadcasts_sum_over_their_axes() {
        // [4, 1, 3] against [2, 1] and [1]: output [4, 2, 3].
        let a = ramp(12);
        let b = vec![10.0, 20.0];
        let c = vec![100.0];
        let mut out = vec![0.0; 24];
        map(
            [
                (Some(&a[..]), &[4, 1, 3][..]),
                (Some(&b), &[2, 1]),
                (Some(&c), &[1]),
            ],
            &[4, 2, 3],
            &mut out,
            |[x, y, z]| x + y + z,
        );
        for i in 0..4 {
            for j in 0..2 {
                for k in 0..3 {
                    assert_eq!(out[(i * 2 + j) * 3 + k], a[i * 3 + k] + b[j] + c[0]);
                }
            }
        }
        let g: Vec<f64> = (0..24).map(|k| k as f64).collect();
        let [da, db, dc] = map_backward(
            [(None, &[4, 1, 3][..]), (None, &[2, 1]), (None, &[1])],
            None,
            &g,
            &[4, 2, 3],
            [true, true, true],
            |_, _, g| [g, g, g],
        );
        let da = da.expect("needed");
        for i in 0..4 {
            for k in 0..3 {
                assert_eq!(da[i * 3 + k], g[i * 6 + k] + g[i * 6 + 3 + k]);
            }
        }
        let db = db.expect("needed");
        let even: f64 = (0..24).filter(|k| (k / 3) % 2 == 0).map(|k| k as f64).sum();
        assert_eq!(db, vec![even, 276.0 - even]);
        assert_eq!(dc.expect("needed"), vec![276.0]);
    }

    #[test]
    fn large_broadcast_gradients_do_not_depend_on_the_pieces() {
        let (m, n) = (1000, 100);
        let g: Vec<f64> = (0..m * n).map(|k| (k % 17) as f64 * 0.25).collect();
        let [_, db] = map_backward(
            [(None, &[m, n][..]), (None, &[n])],
            None,
            &g,
            &[m, n],
            [false, true],
            |_, _, g| [0.0, g],
        );
        let db = db.expect("needed");
        for j in 0..n {
            let expected: f64 = (0..m).map(|i| g[i * n + j]).sum();
            assert!((db[j] - expected).abs() < 1e-9);
        }
    }
}
