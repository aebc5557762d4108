//! Shape arithmetic: element counts, row-major strides, numpy broadcasting,
//! and the strided walk the general (non-contiguous) paths of the ops use.

use super::ShapeError;

/// The number of elements of a tensor of this shape (1 for a scalar).
pub(crate) fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides (in elements) of a contiguous tensor of this shape.
pub(crate) fn row_major_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}

/// The shape two shapes broadcast to under numpy's rules (align on the
/// right; each pair of lengths must be equal or contain a 1), or `None`.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for (i, slot) in out.iter_mut().enumerate() {
        let da = dim_from_right(a, n - 1 - i);
        let db = dim_from_right(b, n - 1 - i);
        *slot = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// The `k`-th length of `shape` counted from the right (0 = last), or 1
/// past its start (the implicit leading 1s of broadcasting).
fn dim_from_right(shape: &[usize], k: usize) -> usize {
    if k < shape.len() {
        shape[shape.len() - 1 - k]
    } else {
        1
    }
}

/// [`broadcast_shapes`] with the error an op reports.
pub(crate) fn broadcast_shape_for(
    op: &'static str,
    a: &[usize],
    b: &[usize],
) -> Result<Vec<usize>, ShapeError> {
    broadcast_shapes(a, b).ok_or_else(|| ShapeError::NotBroadcastable {
        op,
        lhs: a.to_vec(),
        rhs: b.to_vec(),
    })
}

/// Checks that `from` broadcasts to exactly `to`.
pub(crate) fn check_broadcast_to(
    op: &'static str,
    from: &[usize],
    to: &[usize],
) -> Result<(), ShapeError> {
    match broadcast_shapes(from, to) {
        Some(shape) if shape == to => Ok(()),
        _ => Err(ShapeError::CannotBroadcastTo {
            op,
            from: from.to_vec(),
            to: to.to_vec(),
        }),
    }
}

/// The strides with which a contiguous tensor of shape `src` is read when
/// broadcast to `out` (which it must broadcast to): 0 along broadcast axes.
pub(crate) fn broadcast_strides(src: &[usize], out: &[usize]) -> Vec<usize> {
    let own = row_major_strides(src);
    let pad = out.len() - src.len();
    (0..out.len())
        .map(|i| {
            if i < pad || src[i - pad] == 1 {
                0
            } else {
                own[i - pad]
            }
        })
        .collect()
}

/// Checks that `axis` is one of the axes of `shape`.
pub(crate) fn check_axis(op: &'static str, shape: &[usize], axis: usize) -> Result<(), ShapeError> {
    if axis < shape.len() {
        Ok(())
    } else {
        Err(ShapeError::AxisOutOfRange {
            op,
            axis,
            shape: shape.to_vec(),
        })
    }
}

/// Splits a shape at `axis` (which must be valid) into `(outer, len, inner)`:
/// the product of the lengths before it, its length, the product after it.
/// A row-major tensor is then `outer` blocks of `len` rows of `inner`
/// contiguous elements.
pub(crate) fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        numel(&shape[..axis]),
        shape[axis],
        numel(&shape[axis + 1..]),
    )
}

/// How a smaller operand of a broadcast op lines up with the full shape;
/// the ops have a single-pass loop for each case but `General`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// The shapes are equal.
    Same,
    /// The small operand holds one element.
    Scalar,
    /// The small operand's shape is a suffix of the full one (after dropping
    /// leading 1s), so it repeats every `period` elements: `[m, n] op [n]`.
    Repeat { period: usize },
    /// The small operand's shape is a prefix of the full one followed by 1s,
    /// so each of its elements covers `block` consecutive ones: `[m, n] op [m, 1]`.
    Block { block: usize },
    /// Anything else: walk with strides.
    General,
}

/// Classifies how `small` (which broadcasts to `full`) covers `full`.
pub(crate) fn pattern(full: &[usize], small: &[usize]) -> Pattern {
    if full == small {
        return Pattern::Same;
    }
    let n = numel(small);
    if n == 1 {
        return Pattern::Scalar;
    }
    let lead = small.iter().take_while(|&&d| d == 1).count();
    let core = &small[lead..];
    if core.len() <= full.len() && full[full.len() - core.len()..] == *core {
        return Pattern::Repeat { period: n };
    }
    let pad = full.len() - small.len();
    let tail = small.iter().rev().take_while(|&&d| d == 1).count();
    let head = &small[..small.len() - tail];
    if full[..pad].iter().all(|&d| d == 1) && full[pad..pad + head.len()] == *head {
        return Pattern::Block {
            block: numel(&full[pad + head.len()..]),
        };
    }
    Pattern::General
}

/// The length and stride of the last axis of a strided walk: the rows
/// the `for_each_row*` walkers hand out (`(1, 0)` for a scalar).
pub(crate) fn last_axis(shape: &[usize], strides: &[usize]) -> (usize, usize) {
    match (shape.last(), strides.last()) {
        (Some(&len), Some(&step)) => (len, step),
        _ => (1, 0),
    }
}

/// Calls `f(offset)` with the starting offset of each row (run along the
/// last axis) of a `shape`-shaped walk in row-major order, where offsets
/// advance by `strides`; the caller walks each row with [`last_axis`].
pub(crate) fn for_each_row(shape: &[usize], strides: &[usize], mut f: impl FnMut(usize)) {
    for_each_row2(shape, strides, strides, |o, _| f(o));
}

/// Like [`for_each_row`] with two sets of strides walked in lockstep:
/// `f(offset_a, offset_b)`.
pub(crate) fn for_each_row2(
    shape: &[usize],
    sa: &[usize],
    sb: &[usize],
    mut f: impl FnMut(usize, usize),
) {
    if numel(shape) == 0 {
        return;
    }
    let outer = shape.len().saturating_sub(1);
    let mut index = vec![0usize; outer];
    let (mut oa, mut ob) = (0usize, 0usize);
    loop {
        f(oa, ob);
        let mut d = outer;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            index[d] += 1;
            oa += sa[d];
            ob += sb[d];
            if index[d] < shape[d] {
                break;
            }
            oa -= sa[d] * shape[d];
            ob -= sb[d] * shape[d];
            index[d] = 0;
        }
    }
}
