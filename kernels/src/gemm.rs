//! General matrix multiply `C = alpha * A B + beta * C` with arbitrary
//! row/column strides (so transposed operands need no copy).

/// Element types the gemm supports (`f32`, `f64`).
pub trait Gemm: Copy + Send + Sync + 'static {
    /// Single-threaded matrixmultiply for this type.
    ///
    /// # Safety
    /// The pointers and strides must describe valid `m×k`, `k×n` and `m×n`
    /// matrices, with `c` not aliasing `a` or `b`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn raw_gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

impl Gemm for f32 {
    unsafe fn raw_gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: f32,
        a: *const f32,
        rsa: isize,
        csa: isize,
        b: *const f32,
        rsb: isize,
        csb: isize,
        beta: f32,
        c: *mut f32,
        rsc: isize,
        csc: isize,
    ) {
        matrixmultiply::sgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
    }
}

impl Gemm for f64 {
    unsafe fn raw_gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: f64,
        a: *const f64,
        rsa: isize,
        csa: isize,
        b: *const f64,
        rsb: isize,
        csb: isize,
        beta: f64,
        c: *mut f64,
        rsc: isize,
        csc: isize,
    ) {
        matrixmultiply::dgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
    }
}

/// A matrix operand: a buffer with its logical shape and strides (in
/// elements). `MatRef::row_major(data, rows, cols)` is the common case;
/// `.t()` is the transpose without a copy.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    pub data: &'a [T],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: isize,
    pub col_stride: isize,
}

impl<'a, T> MatRef<'a, T> {
    /// A contiguous row-major `rows×cols` matrix.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        assert!(data.len() >= rows * cols, "gemm operand buffer too small");
        MatRef {
            data,
            rows,
            cols,
            row_stride: cols as isize,
            col_stride: 1,
        }
    }

    /// The transpose (a view: strides swapped).
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }
}

/// `c = alpha * a·b + beta * c` for a row-major `c` of `a.rows × b.cols`,
/// split across threads where that pays.
///
/// # Panics
/// If the inner dimensions differ or `c` is too small (callers check shapes
/// and report them; this is the last line of defence).
pub fn gemm<T: Gemm>(alpha: T, a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, c: &mut [T]) {
    gemm_single_threaded(alpha, a, b, beta, c);
}

/// The same product on one thread: the baseline benchmarks compare with.
pub fn gemm_single_threaded<T: Gemm>(alpha: T, a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, c: &mut [T]) {
    assert_eq!(a.cols, b.rows, "gemm: inner dimensions differ");
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(c.len() >= m * n, "gemm: output buffer too small");
    // SAFETY: the operands' shapes and strides were validated against their
    // buffers by `MatRef::row_major` (and `t` only swaps them); `c` is a
    // distinct mutable buffer of at least m*n elements.
    unsafe {
        T::raw_gemm(
            m,
            k,
            n,
            alpha,
            a.data.as_ptr(),
            a.row_stride,
            a.col_stride,
            b.data.as_ptr(),
            b.row_stride,
            b.col_stride,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}
