//! [`MatRef`]: a read-only strided matrix view whose strides provably stay
//! inside its buffer, so the unsafe gemm call can trust it.

use std::ops::Range;

/// A matrix operand: a buffer with a logical shape and strides (in elements).
///
/// `MatRef::row_major(data, rows, cols)` is the common case and `.t()` is the
/// transpose without a copy. The fields are private and every constructor
/// keeps the invariant the gemm relies on: for a non-empty view, the furthest
/// element `(rows-1)*row_stride + (cols-1)*col_stride` lies inside `data`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, T> MatRef<'a, T> {
    /// A contiguous row-major `rows×cols` matrix over the start of `data`.
    ///
    /// # Panics
    /// If `data` holds fewer than `rows*cols` elements (callers validate
    /// shapes first and report errors; this is the last line of defence).
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        let needed = rows
            .checked_mul(cols)
            .unwrap_or_else(|| panic!("MatRef::row_major: {rows}x{cols} elements overflow usize"));
        assert!(
            data.len() >= needed,
            "MatRef::row_major: buffer of {} elements is smaller than {rows}x{cols} = {needed}",
            data.len()
        );
        // An empty view is never dereferenced; zero strides keep any later
        // `as isize` conversion in range whatever `cols` is.
        let (row_stride, col_stride) = if needed == 0 { (0, 0) } else { (cols, 1) };
        MatRef {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    /// The transpose (a view: shape and strides swapped, no copy).
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// Number of rows of the logical matrix.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns of the logical matrix.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Distance in elements between consecutive rows, for the raw call.
    /// It fits in `isize`: it is 0 or at most the length of the buffer the
    /// view was made from, and no slice is longer than `isize::MAX`.
    pub(crate) fn row_stride(&self) -> isize {
        self.row_stride as isize
    }

    /// Distance in elements between consecutive columns, for the raw call.
    pub(crate) fn col_stride(&self) -> isize {
        self.col_stride as isize
    }

    /// Pointer to element `(0, 0)`.
    pub(crate) fn as_ptr(&self) -> *const T {
        self.data.as_ptr()
    }

    /// The sub-matrix `rows × cols` of this view, as a view again (no copy):
    /// how the gemm hands each thread its block, and how a caller slices a
    /// batch or a weight block.
    ///
    /// # Panics
    /// If a range reaches past the view's shape.
    pub fn block(self, rows: Range<usize>, cols: Range<usize>) -> Self {
        assert!(
            rows.start <= rows.end && rows.end <= self.rows,
            "MatRef::block: rows {rows:?} outside 0..{}",
            self.rows
        );
        assert!(
            cols.start <= cols.end && cols.end <= self.cols,
            "MatRef::block: cols {cols:?} outside 0..{}",
            self.cols
        );
        let (r, c) = (rows.end - rows.start, cols.end - cols.start);
        if r == 0 || c == 0 {
            return MatRef {
                data: &self.data[..0],
                rows: r,
                cols: c,
                row_stride: 0,
                col_stride: 0,
            };
        }
        // The block is non-empty, so the view is too, and the block's first
        // element is one of the view's: the offset is inside `data`, and the
        // block's furthest element is the view's element
        // `(rows.end-1, cols.end-1)`, also inside.
        let offset = rows.start * self.row_stride + cols.start * self.col_stride;
        MatRef {
            data: &self.data[offset..],
            rows: r,
            cols: c,
            row_stride: self.row_stride,
            col_stride: self.col_stride,
        }
    }

    /// Element `(i, j)`, for tests and reference implementations.
    #[cfg(test)]
    pub(crate) fn at(&self, i: usize, j: usize) -> T
    where
        T: Copy,
    {
        self.data[i * self.row_stride + j * self.col_stride]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_major_and_transpose_address_the_same_elements() {
        let data: Vec<f32> = (0..6).map(|x| x as f32).collect();
        let m = MatRef::row_major(&data, 2, 3);
        assert_eq!((m.rows(), m.cols()), (2, 3));
        assert_eq!(m.at(1, 2), 5.0);
        let t = m.t();
        assert_eq!((t.rows(), t.cols()), (3, 2));
        assert_eq!(t.at(2, 1), 5.0);
        assert_eq!(t.at(1, 0), 1.0);
        assert_eq!((t.row_stride(), t.col_stride()), (1, 3));
    }

    #[test]
    fn blocks_view_the_right_elements() {
        let data: Vec<f64> = (0..20).map(|x| x as f64).collect();
        let m = MatRef::row_major(&data, 4, 5);
        let b = m.block(1..3, 2..5);
        assert_eq!((b.rows(), b.cols()), (2, 3));
        assert_eq!(b.at(0, 0), 7.0);
        assert_eq!(b.at(1, 2), 14.0);
        let bt = m.t().block(3..5, 1..4);
        assert_eq!(bt.at(0, 0), 8.0);
        assert_eq!(bt.at(1, 2), 19.0);
        let empty = m.block(4..4, 0..5);
        assert_eq!((empty.rows(), empty.cols()), (0, 5));
    }

    #[test]
    #[should_panic(expected = "buffer of 5 elements is smaller than 2x3 = 6")]
    fn row_major_rejects_short_buffers() {
        let data = [0.0f32; 5];
        MatRef::row_major(&data, 2, 3);
    }

    #[test]
    #[should_panic(expected = "overflow")]
    fn row_major_rejects_overflowing_shapes() {
        let data = [0.0f32; 5];
        MatRef::row_major(&data, usize::MAX, 2);
    }

    #[test]
    fn empty_views_accept_any_extent() {
        let m = MatRef::<f32>::row_major(&[], 0, usize::MAX);
        assert_eq!((m.rows(), m.cols()), (0, usize::MAX));
        assert_eq!((m.row_stride(), m.col_stride()), (0, 0));
    }

    #[test]
    #[should_panic(expected = "outside")]
    fn blocks_cannot_leave_the_view() {
        let data = [0.0f32; 6];
        MatRef::row_major(&data, 2, 3).block(0..2, 1..4);
    }
}
