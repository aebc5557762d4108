//! [`ShapeError`]: why an op rejected its operands.

use thiserror::Error;

/// An op was given operands whose shapes (or arguments) it cannot work with.
///
/// Every variant names the op and the shapes involved, so the message alone
/// locates the mistake, e.g. `matmul: inner dimensions differ: [100, 784] x
/// [512, 10]`. The `try_*` functions return it; their panicking counterparts
/// panic with exactly its message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ShapeError {
    /// A buffer's length does not match the number of elements of a shape.
    #[error("{op}: {len} elements do not fill shape {shape:?} ({expected} elements)")]
    DataLength {
        /// The op or constructor.
        op: &'static str,
        /// The buffer's length.
        len: usize,
        /// The requested shape.
        shape: Vec<usize>,
        /// The number of elements of `shape`.
        expected: usize,
    },
    /// Two shapes cannot be broadcast together (numpy rules).
    #[error("{op}: shapes {lhs:?} and {rhs:?} are not broadcastable")]
    NotBroadcastable {
        /// The op.
        op: &'static str,
        /// The left operand's shape.
        lhs: Vec<usize>,
        /// The right operand's shape.
        rhs: Vec<usize>,
    },
    /// A shape cannot be broadcast to a given target shape.
    #[error("{op}: cannot broadcast shape {from:?} to {to:?}")]
    CannotBroadcastTo {
        /// The op.
        op: &'static str,
        /// The shape being broadcast.
        from: Vec<usize>,
        /// The target shape.
        to: Vec<usize>,
    },
    /// Two shapes that must be equal differ.
    #[error("{op}: shapes {lhs:?} and {rhs:?} differ")]
    Mismatch {
        /// The op.
        op: &'static str,
        /// The first shape.
        lhs: Vec<usize>,
        /// The second shape.
        rhs: Vec<usize>,
    },
    /// The inner dimensions of a matrix product differ.
    #[error("{op}: inner dimensions differ: {lhs:?} x {rhs:?}")]
    InnerDimension {
        /// The op.
        op: &'static str,
        /// The left operand's shape.
        lhs: Vec<usize>,
        /// The right operand's shape.
        rhs: Vec<usize>,
    },
    /// The batch dimensions of a batched matrix product differ.
    #[error("{op}: batch sizes differ: {lhs:?} x {rhs:?}")]
    BatchSize {
        /// The op.
        op: &'static str,
        /// The left operand's shape.
        lhs: Vec<usize>,
        /// The right operand's shape.
        rhs: Vec<usize>,
    },
    /// An operand has a number of dimensions the op does not support.
    #[error("{op}: expected {expected}, got shape {shape:?}")]
    Rank {
        /// The op.
        op: &'static str,
        /// What the op accepts, e.g. `"a 2-D tensor"`.
        expected: &'static str,
        /// The operand's shape.
        shape: Vec<usize>,
    },
    /// An axis is not one of the tensor's axes.
    #[error("{op}: axis {axis} out of range for shape {shape:?}")]
    AxisOutOfRange {
        /// The op.
        op: &'static str,
        /// The requested axis.
        axis: usize,
        /// The operand's shape.
        shape: Vec<usize>,
    },
    /// An index along an axis is past its end.
    #[error("{op}: index {index} out of range for axis {axis} of shape {shape:?}")]
    IndexOutOfRange {
        /// The op.
        op: &'static str,
        /// The offending index.
        index: usize,
        /// The axis indexed.
        axis: usize,
        /// The operand's shape.
        shape: Vec<usize>,
    },
    /// A range along an axis is reversed or reaches past its end.
    #[error("{op}: range {start}..{end} out of bounds for axis {axis} of shape {shape:?}")]
    RangeOutOfBounds {
        /// The op.
        op: &'static str,
        /// The range's start.
        start: usize,
        /// The range's end.
        end: usize,
        /// The axis sliced.
        axis: usize,
        /// The operand's shape.
        shape: Vec<usize>,
    },
    /// A new shape has a different number of elements.
    #[error("{op}: cannot reshape {from:?} into {to:?}: element counts differ")]
    Reshape {
        /// The op.
        op: &'static str,
        /// The operand's shape.
        from: Vec<usize>,
        /// The requested shape.
        to: Vec<usize>,
    },
    /// `squeeze` was asked to remove an axis whose length is not 1.
    #[error("{op}: axis {axis} of shape {shape:?} has length {len}, not 1")]
    NotSqueezable {
        /// The op.
        op: &'static str,
        /// The requested axis.
        axis: usize,
        /// Its length.
        len: usize,
        /// The operand's shape.
        shape: Vec<usize>,
    },
    /// Tensors to concatenate differ in an axis other than the concatenation axis.
    #[error("{op}: shapes {lhs:?} and {rhs:?} differ outside axis {axis}")]
    ConcatMismatch {
        /// The op.
        op: &'static str,
        /// The concatenation axis.
        axis: usize,
        /// The first tensor's shape.
        lhs: Vec<usize>,
        /// The shape of the tensor that does not fit.
        rhs: Vec<usize>,
    },
    /// An op that needs at least one operand (or element) got none.
    #[error("{op}: {what} is empty")]
    Empty {
        /// The op.
        op: &'static str,
        /// What was empty, e.g. `"the list of tensors"`.
        what: String,
    },
    /// A reduction that averages or selects (`mean`, `mean_axis`, `mse`,
    /// `l1`, `cross_entropy`, `max`, `max_axis`, `argmax_axis`) was given
    /// zero elements to reduce, e.g. `mean: cannot average over zero
    /// elements (shape [0, 10])`. (`sum` of nothing is 0 and no error.)
    #[error("{op}: cannot {action} zero elements ({})", reduced_part(.shape, *.axis))]
    EmptyReduction {
        /// The op, as users spell it.
        op: &'static str,
        /// What the op does with the elements: `"average over"`, `"take the maximum of"`.
        action: &'static str,
        /// The operand's shape.
        shape: Vec<usize>,
        /// The axis reduced, or `None` for a reduction over all elements.
        axis: Option<usize>,
    },
    /// A single value was requested from a tensor that does not hold exactly one.
    #[error("{op}: expected exactly one element, got shape {shape:?}")]
    NotOneElement {
        /// The op.
        op: &'static str,
        /// The tensor's shape.
        shape: Vec<usize>,
    },
    /// The number of class labels differs from the number of rows.
    #[error("{op}: {labels} labels for {rows} rows")]
    LabelCount {
        /// The op.
        op: &'static str,
        /// The number of labels.
        labels: usize,
        /// The number of rows of the logits.
        rows: usize,
    },
    /// A class label is not below the number of classes.
    #[error("{op}: label {label} of row {row} out of range for {classes} classes")]
    LabelOutOfRange {
        /// The op.
        op: &'static str,
        /// The offending label.
        label: usize,
        /// Its row.
        row: usize,
        /// The number of classes (columns of the logits).
        classes: usize,
    },
    /// Two operands whose shapes must agree in an op-specific way do not,
    /// e.g. `conv2d: input has 3 channels but the weight expects 4: [2, 3, 8,
    /// 8] and [16, 4, 3, 3]`.
    #[error("{op}: {what}: {lhs:?} and {rhs:?}")]
    Incompatible {
        /// The op.
        op: &'static str,
        /// What does not agree, as a sentence fragment.
        what: String,
        /// The first operand's shape (the input).
        lhs: Vec<usize>,
        /// The second operand's shape (a weight or parameter).
        rhs: Vec<usize>,
    },
    /// A non-shape argument is outside the op's domain (e.g. a dropout probability).
    #[error("{op}: {message}")]
    InvalidArgument {
        /// The op.
        op: &'static str,
        /// What is wrong, as a sentence fragment.
        message: String,
    },
}

/// `shape [0, 10]` or `axis 1 of shape [3, 0]`: the part of a tensor an
/// [`ShapeError::EmptyReduction`] found empty.
fn reduced_part(shape: &[usize], axis: Option<usize>) -> String {
    match axis {
        Some(axis) => format!("axis {axis} of shape {shape:?}"),
        None => format!("shape {shape:?}"),
    }
}

/// Unwraps an op's result or panics with the error's message: the
/// implementation of the panicking forms of `try_*` functions.
#[track_caller]
pub(crate) fn or_panic<R>(result: Result<R, ShapeError>) -> R {
    match result {
        Ok(value) => value,
        Err(err) => panic!("{err}"),
    }
}
