//! Reductions over contiguous slices and row-major matrices: sums (whole,
//! per row, per column) and the maximum.
//!
//! Sums are accurate as well as fast: a slice is summed pairwise over
//! blocks of 2048 elements, and each block with 16 independent
//! accumulators (which LLVM keeps in vector registers). The rounding error
//! grows with `2048 / 16 + log2(len / 2048)` instead of `len`, and the
//! result does not depend on the number of threads: the tree is fixed by
//! the length alone and threads only evaluate its subtrees.

use crate::float::Float;
use crate::parallel::{for_each_part, threads};

/// Independent accumulators per block (4 SSE or 2 AVX registers of f32).
const LANES: usize = 16;

/// Elements summed as one leaf of the pairwise tree.
const BLOCK: usize = 2048;

/// Rows added into one partial sum before it is folded into the result, in
/// [`sum_rows`]: the error grows with `ROW_BLOCK + rows / ROW_BLOCK`.
const ROW_BLOCK: usize = 64;

/// Reductions over fewer elements than this stay on the calling thread.
///
/// Measured on the 2-core AMD EPYC VM (f32, `sum` split in 2): with rayon's
/// workers awake the split pays from ~2^16 elements (1.5×), but when they
/// sleep, waking one costs the caller ~10 µs and the helper starts ~25 µs
/// late: at 2^18 elements (18 µs) that made the split 0.6× as fast, at 2^19
/// (37 µs) 0.76× cold against 1.35× warm, at 2^20 (73 µs) 1.05× cold and
/// 1.3× warm. 2^19 keeps the cold loss to ~10 µs where the warm gain is as
/// large (the same trade as the gemm's threshold).
pub const PARALLEL_MIN_LEN: usize = 1 << 19;

/// The sum of all elements (`0` for an empty slice).
pub fn sum<T: Float>(x: &[T]) -> T {
    let threads = threads();
    if threads < 2 || x.len() < PARALLEL_MIN_LEN {
        return pairwise(x);
    }
    let depth = threads.next_power_of_two().trailing_zeros();
    let mut leaves = Vec::new();
    subtrees(x, depth, &mut leaves);
    let mut sums = vec![T::ZERO; leaves.len()];
    for_each_part(sums.iter_mut().zip(leaves).collect(), |(s, leaf)| {
        *s = pairwise(leaf);
    });
    combine(x.len(), depth, &mut sums.into_iter())
}

/// The sum of the rows of the row-major `rows×cols` matrix `x`:
/// `out[j] = Σ_i x[i][j]`, one entry per column (numpy `sum(axis=0)`). For
/// a batch of gradients this is the bias gradient.
///
/// # Panics
/// If `x` does not hold `rows·cols` elements or `out` not `cols`.
pub fn sum_rows<T: Float>(x: &[T], rows: usize, cols: usize, out: &mut [T]) {
    check_matrix("sum_rows", x.len(), rows, cols);
    assert_eq!(
        out.len(),
        cols,
        "sum_rows: output has {} elements, want one per column ({cols})",
        out.len()
    );
    if cols == 0 {
        return;
    }
    let parallel = threads() >= 2 && x.len() >= PARALLEL_MIN_LEN && cols >= 2 * LANES;
    if !parallel {
        sum_rows_of_columns(x, cols, 0, out);
        return;
    }
    let width = cols.div_ceil(threads()).next_multiple_of(LANES);
    let parts: Vec<_> = out.chunks_mut(width).enumerate().collect();
    for_each_part(parts, |(i, out)| {
        sum_rows_of_columns(x, cols, i * width, out)
    });
}

/// The sum of the columns of the row-major `rows×cols` matrix `x`:
/// `out[i] = Σ_j x[i][j]`, one entry per row (numpy `sum(axis=1)`), each
/// summed as accurately as [`sum`].
///
/// # Panics
/// If `x` does not hold `rows·cols` elements or `out` not `rows`.
pub fn sum_cols<T: Float>(x: &[T], rows: usize, cols: usize, out: &mut [T]) {
    check_matrix("sum_cols", x.len(), rows, cols);
    assert_eq!(
        out.len(),
        rows,
        "sum_cols: output has {} elements, want one per row ({rows})",
        out.len()
    );
    if cols == 0 {
        out.fill(T::ZERO);
        return;
    }
    let run = |(x, out): (&[T], &mut [T])| {
        out.iter_mut()
            .zip(x.chunks_exact(cols))
            .for_each(|(o, row)| *o = pairwise(row));
    };
    let threads = threads();
    if threads < 2 || x.len() < PARALLEL_MIN_LEN || rows < 2 {
        run((x, out));
        return;
    }
    let rows_per_task = rows.div_ceil(threads);
    let parts = x
        .chunks(rows_per_task * cols)
        .zip(out.chunks_mut(rows_per_task))
        .collect();
    for_each_part(parts, run);
}

/// The largest element, or `None` for an empty slice. NaNs lose to numbers
/// (as with `f32::max`), so the result is NaN only if every element is.
pub fn max<T: Float>(x: &[T]) -> Option<T> {
    let first = *x.first()?;
    let mut acc = [first; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a = a.max(v);
        }
    }
    let lanes = acc.into_iter().fold(first, T::max);
    Some(tail.iter().fold(lanes, |m, &v| m.max(v)))
}

/// Pairwise sum on the calling thread: halves (cut on a block boundary)
/// until a piece fits one block.
fn pairwise<T: Float>(x: &[T]) -> T {
    if x.len() <= BLOCK {
        return block_sum(x);
    }
    let (left, right) = x.split_at(midpoint(x.len()));
    pairwise(left) + pairwise(right)
}

/// Where the pairwise tree cuts `len > BLOCK` elements: half the blocks left.
fn midpoint(len: usize) -> usize {
    len.div_ceil(BLOCK) / 2 * BLOCK
}

/// The pieces of `x` at `depth` levels down the pairwise tree (or leaves
/// reached earlier), in order.
fn subtrees<'a, T>(x: &'a [T], depth: u32, out: &mut Vec<&'a [T]>) {
    if depth == 0 || x.len() <= BLOCK {
        out.push(x);
        return;
    }
    let (left, right) = x.split_at(midpoint(x.len()));
    subtrees(left, depth - 1, out);
    subtrees(right, depth - 1, out);
}

/// Adds the sums of the pieces [`subtrees`] made, in the tree's order, so
/// the result is exactly [`pairwise`]'s.
fn combine<T: Float>(len: usize, depth: u32, sums: &mut impl Iterator<Item = T>) -> T {
    if depth == 0 || len <= BLOCK {
        return sums.next().unwrap_or(T::ZERO);
    }
    let mid = midpoint(len);
    let left = combine(mid, depth - 1, sums);
    left + combine(len - mid, depth - 1, sums)
}

/// Sum of at most a block: `LANES` running sums, folded pairwise.
fn block_sum<T: Float>(x: &[T]) -> T {
    let mut acc = [T::ZERO; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += v;
        }
    }
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            acc[i] += acc[i + width];
        }
    }
    tail.iter().fold(acc[0], |s, &v| s + v)
}

/// `out[j] = Σ_i x[i][j0 + j]` for the columns `j0..j0 + out.len()`, rows
/// added [`ROW_BLOCK`] at a time into a partial sum.
fn sum_rows_of_columns<T: Float>(x: &[T], cols: usize, j0: usize, out: &mut [T]) {
    out.fill(T::ZERO);
    if x.len() <= ROW_BLOCK * cols {
        add_rows(x, cols, j0, out);
        return;
    }
    let mut partial = vec![T::ZERO; out.len()];
    for block in x.chunks(ROW_BLOCK * cols) {
        partial.fill(T::ZERO);
        add_rows(block, cols, j0, &mut partial);
        for (o, &p) in out.iter_mut().zip(&partial) {
            *o += p;
        }
    }
}

/// `acc[j] += x[i][j0 + j]` for every row `i` of `x`, in order.
fn add_rows<T: Float>(x: &[T], cols: usize, j0: usize, acc: &mut [T]) {
    let width = acc.len();
    for row in x.chunks_exact(cols) {
        for (a, &v) in acc.iter_mut().zip(&row[j0..j0 + width]) {
            *a += v;
        }
    }
}

/// Panics unless `len == rows·cols`.
fn check_matrix(what: &str, len: usize, rows: usize, cols: usize) {
    let want = rows.checked_mul(cols);
    assert!(
        want == Some(len),
        "{what}: {len} elements do not form a {rows}x{cols} matrix"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lengths around the block and parallel sizes.
    const LENS: [usize; 9] = [
        0,
        1,
        LANES - 1,
        LANES + 3,
        BLOCK,
        BLOCK + 1,
        5 * BLOCK + 17,
        PARALLEL_MIN_LEN,
        3 * PARALLEL_MIN_LEN + 11,
    ];

    #[test]
    fn sum_of_integers_is_exact() {
        for len in LENS {
            let x: Vec<f64> = (0..len).map(|i| i as f64).collect();
            let n = len as f64;
            assert_eq!(sum(&x), n * (n - 1.0) / 2.0, "len {len}");
        }
    }

    #[test]
    fn sum_is_accurate_where_a_running_sum_is_not() {
        // 10^7 × 0.1 in f32: a running sum drifts by ~9%, pairwise stays close.
        let x = vec![0.1f32; 10_000_000];
        let naive: f32 = x.iter().sum();
        let s = sum(&x);
        assert!((naive - 1.0e6).abs() > 1.0e4, "naive {naive}");
        assert!((s - 1.0e6).abs() < 1.0, "pairwise {s}");
    }

    #[test]
    fn sum_does_not_depend_on_the_thread_count() {
        let x: Vec<f32> = (0..3 * PARALLEL_MIN_LEN + 11)
            .map(|i| ((i * 7919) % 1000) as f32 * 1.0e-3)
            .collect();
        let parallel = sum(&x);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .map(|pool| pool.install(|| sum(&x)));
        assert_eq!(one.ok(), Some(parallel));
        assert_eq!(parallel, pairwise(&x));
    }

    #[test]
    fn sum_rows_gives_the_bias_gradient() {
        // [[1 2 3] [4 5 6]] → [5 7 9]
        let mut out = [0.0f32; 3];
        sum_rows(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3, &mut out);
        assert_eq!(out, [5.0, 7.0, 9.0]);
        for (rows, cols) in [(0, 5), (1, 1), (100, 10), (131, 33), (700, 512)] {
            let x: Vec<f64> = (0..rows * cols).map(|i| (i % cols) as f64 + 1.0).collect();
            let mut out = vec![f64::NAN; cols];
            sum_rows(&x, rows, cols, &mut out);
            let want: Vec<f64> = (0..cols).map(|j| rows as f64 * (j as f64 + 1.0)).collect();
            assert_eq!(out, want, "{rows}x{cols}");
        }
    }

    #[test]
    fn sum_cols_sums_each_row() {
        let mut out = [0.0f32; 2];
        sum_cols(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3, &mut out);
        assert_eq!(out, [6.0, 15.0]);
        for (rows, cols) in [(3, 0), (1, 1), (100, 10), (33, 131), (700, 512)] {
            let x: Vec<f64> = (0..rows * cols).map(|i| (i / cols.max(1)) as f64).collect();
            let mut out = vec![f64::NAN; rows];
            sum_cols(&x, rows, cols, &mut out);
            let want: Vec<f64> = (0..rows).map(|i| (i * cols) as f64).collect();
            assert_eq!(out, want, "{rows}x{cols}");
        }
    }

    #[test]
    #[should_panic(expected = "sum_rows: 5 elements do not form a 2x3 matrix")]
    fn wrong_matrix_size_panics() {
        sum_rows(&[0.0f32; 5], 2, 3, &mut [0.0; 3]);
    }

    #[test]
    fn max_finds_the_largest() {
        assert_eq!(max::<f32>(&[]), None);
        assert_eq!(max(&[-3.0f32]), Some(-3.0));
        let x: Vec<f64> = (0..1001).map(|i| -((i as f64) - 700.0).abs()).collect();
        assert_eq!(max(&x), Some(0.0));
        assert_eq!(max(&[1.0f32, f32::NAN, 2.0]), Some(2.0));
        assert!(max(&[f64::NAN; 3]).is_some_and(f64::is_nan));
        let mut x = vec![-1.0f32; 37];
        x[36] = 5.0;
        assert_eq!(max(&x), Some(5.0));
    }
}
