//! Running a function on every slice along one axis as a contiguous row,
//! the shared loop of `softmax`, `log_softmax` and `normalize` (forward and
//! adjoint).

use super::transpose::transpose_matrix;
use crate::tensor::Element;

/// Runs `f(a_slice, b_slice, out)` on every slice along the axis of
/// `dims = (outer, len, inner)` (see `shape::split_at_axis`), where `f`
/// appends its `len` results for the slice to `out`; returns the results in
/// the inputs' layout.
///
/// For the last axis (`inner = 1`) the slices are the rows themselves.
/// Otherwise each of the `outer` blocks (`len × inner`) is transposed with
/// the cache-blocked copy so its slices become rows, and the results are
/// transposed back: three streaming passes instead of a strided gather per
/// slice.
pub(crate) fn along_axis<T: Element>(
    a: &[T],
    b: &[T],
    (outer, len, inner): (usize, usize, usize),
    mut f: impl FnMut(&[T], &[T], &mut Vec<T>),
) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len());
    if a.is_empty() {
        return out;
    }
    if inner == 1 {
        for (ra, rb) in a.chunks_exact(len).zip(b.chunks_exact(len)) {
            f(ra, rb, &mut out);
        }
        return out;
    }
    let block = len * inner;
    let same = std::ptr::eq(a, b);
    let mut ta = vec![T::zero(); block];
    let mut tb = vec![T::zero(); if same { 0 } else { block }];
    let mut rows = Vec::with_capacity(block);
    out.resize(a.len(), T::zero());
    for o in 0..outer {
        let span = o * block..(o + 1) * block;
        transpose_matrix(&a[span.clone()], len, inner, &mut ta);
        if !same {
            transpose_matrix(&b[span.clone()], len, inner, &mut tb);
        }
        let tb_rows = if same { &ta } else { &tb };
        rows.clear();
        for (ra, rb) in ta.chunks_exact(len).zip(tb_rows.chunks_exact(len)) {
            f(ra, rb, &mut rows);
        }
        transpose_matrix(&rows, inner, len, &mut out[span]);
    }
    out
}
