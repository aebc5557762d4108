//! General matrix multiply `C = alpha·A·B + beta·C` for a row-major `C`, with
//! operands of arbitrary strides (so transposed operands need no copy), on
//! matrixmultiply's micro-kernels, split across cores as [`plan`] says.

mod matref;
mod raw;
mod split;

pub use matref::MatRef;
pub use raw::Gemm;
pub use split::Split;

/// `c = alpha·a·b + beta·c` for a row-major `c` of `a.rows() × b.cols()`,
/// split across rayon's threads when the product is big enough to pay.
///
/// Each element of `c` is computed by the same operations as in
/// [`gemm_single_threaded`] (the inner dimension is never split and blocks
/// start on micro-kernel tiles), so the two agree bit for bit whatever the
/// thread count. With `beta == 0`, `c` is only written, never read.
///
/// # Panics
/// If the inner dimensions differ or `c` is too small (callers check shapes
/// and report them; this is the last line of defence).
pub fn gemm<T: Gemm>(alpha: T, a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, c: &mut [T]) {
    let split = plan(a.rows(), a.cols(), b.cols());
    gemm_split(split, alpha, a, b, beta, c);
}

/// How [`gemm`] will divide an `m×k · k×n` product among this pool's
/// threads (for diagnostics and benchmarks: the first block is the largest).
pub fn plan(m: usize, k: usize, n: usize) -> Split {
    split::plan(m, k, n, crate::parallel::threads())
}

/// The same product on the calling thread only: the baseline the benchmarks
/// compare with, and the kernel every thread of [`gemm`] runs on its block.
///
/// # Panics
/// As [`gemm`].
pub fn gemm_single_threaded<T: Gemm>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: &mut [T],
) {
    gemm_split(Split::Serial, alpha, a, b, beta, c);
}

/// Checks that `a·b` is defined and fits in `c`; returns `(m, k, n)`.
fn check_shapes<T>(a: &MatRef<'_, T>, b: &MatRef<'_, T>, c: &[T]) -> (usize, usize, usize) {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    assert_eq!(
        k,
        b.rows(),
        "gemm: inner dimensions differ ({m}x{k} times {}x{n})",
        b.rows()
    );
    let needed = m
        .checked_mul(n)
        .unwrap_or_else(|| panic!("gemm: {m}x{n} output overflows usize"));
    assert!(
        c.len() >= needed,
        "gemm: output buffer of {} elements is smaller than {m}x{n} = {needed}",
        c.len()
    );
    (m, k, n)
}

/// The product cut as `split` says, each block on its own task.
///
/// # Panics
/// As [`gemm`].
pub(crate) fn gemm_split<T: Gemm>(
    split: Split,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: &mut [T],
) {
    let (m, k, n) = check_shapes(&a, &b, c);
    if m == 0 || n == 0 {
        return;
    }
    let c = &mut c[..m * n];
    match split {
        // SAFETY: the whole checked `c` is this task's block.
        Split::Serial => unsafe { block_product(alpha, a, b, beta, c.as_mut_ptr(), n) },
        Split::Rows { height } => {
            let height = height.max(1);
            let blocks: Vec<_> = Split::blocks(height, m)
                .zip(c.chunks_mut(height * n))
                .map(|((r0, r1), c)| (a.block(r0..r1, 0..k), SendPtr(c.as_mut_ptr())))
                .collect();
            crate::parallel::for_each_task(blocks.len(), |i| {
                let (a, c) = blocks[i];
                // SAFETY: `c` starts the chunk of rows `a` covers, disjoint
                // from the other tasks' chunks.
                unsafe { block_product(alpha, a, b, beta, c.get(), n) };
            });
        }
        Split::Cols { width } => {
            let width = width.max(1);
            let c = SendPtr(c.as_mut_ptr());
            let blocks: Vec<_> = Split::blocks(width, n).collect();
            crate::parallel::for_each_task(blocks.len(), |i| {
                let (j0, j1) = blocks[i];
                // SAFETY: `j0 < n`, so the offset stays inside the m×n
                // buffer, and columns `j0..j1` are this task's alone.
                unsafe {
                    let c = c.get().add(j0);
                    block_product(alpha, a, b.block(0..k, j0..j1), beta, c, n);
                }
            });
        }
    }
}

/// `c = alpha·a·b + beta·c` on the calling thread, for the `a.rows() ×
/// b.cols()` block of a row-major matrix with row stride `ldc` starting at `c`.
///
/// # Safety
/// `a.cols() == b.rows()`; the block must lie inside one live `&mut` buffer
/// and no other task may touch it while this runs.
unsafe fn block_product<T: Gemm>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: *mut T,
    ldc: usize,
) {
    // SAFETY: `MatRef`'s invariant keeps every element its shape and strides
    // reach inside its buffer; the shapes agree and the `c` block is valid
    // and exclusively ours (caller's contract), so it cannot alias `a` or `b`.
    unsafe {
        T::raw_gemm(
            a.rows(),
            a.cols(),
            b.cols(),
            alpha,
            a.as_ptr(),
            a.row_stride(),
            a.col_stride(),
            b.as_ptr(),
            b.row_stride(),
            b.col_stride(),
            beta,
            c,
            ldc as isize,
            1,
        );
    }
}

/// A pointer into the output that tasks share; each task writes only its own
/// disjoint block.
#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);

impl<T> SendPtr<T> {
    /// The pointer (a method, so closures capture the `Sync` wrapper rather
    /// than the raw field).
    fn get(self) -> *mut T {
        self.0
    }
}

// SAFETY: the pointer is only used to write disjoint blocks of one `&mut`
// buffer that outlives the tasks (`for_each_task` joins them before
// returning), and `T: Gemm` is `Send + Sync`.
unsafe impl<T: Gemm> Send for SendPtr<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Gemm> Sync for SendPtr<T> {}

#[cfg(test)]
mod tests;
