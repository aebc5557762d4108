//! Shape-only ops: `reshape`, `squeeze`, `unsqueeze`, `flatten`. They share the
//! input's storage (O(1)); each adjoint reshapes the gradient back to the
//! input's shape.

use crate::tensor::error::or_panic;
use crate::tensor::shape::{check_axis, numel};
use crate::tensor::{Element, ShapeError, Tensor};

/// `x` viewed with `shape` (same elements, same order); fails when the
/// element counts differ.
pub fn try_reshape<T: Element>(x: &Tensor<T>, shape: &[usize]) -> Result<Tensor<T>, ShapeError> {
    reshape_named("reshape", x, shape)
}

/// Adjoint of [`try_reshape`]: the gradient viewed with the input's shape.
#[track_caller]
pub fn reshape_backward<T: Element>(input_shape: &[usize], grad: &Tensor<T>) -> Tensor<T> {
    or_panic(reshape_named("reshape_backward", grad, input_shape))
}

/// `x` without axis `axis`, which must have length 1.
pub fn try_squeeze<T: Element>(x: &Tensor<T>, axis: usize) -> Result<Tensor<T>, ShapeError> {
    check_axis("squeeze", x.shape(), axis)?;
    let len = x.shape()[axis];
    if len != 1 {
        return Err(ShapeError::NotSqueezable {
            op: "squeeze",
            axis,
            len,
            shape: x.shape().to_vec(),
        });
    }
    let mut shape = x.shape().to_vec();
    shape.remove(axis);
    Ok(x.with_shape(shape))
}

/// Adjoint of [`try_squeeze`]: the gradient with the axis put back.
#[track_caller]
pub fn squeeze_backward<T: Element>(input_shape: &[usize], grad: &Tensor<T>) -> Tensor<T> {
    or_panic(reshape_named("squeeze_backward", grad, input_shape))
}

/// `x` with a new axis of length 1 inserted before axis `axis`
/// (`axis == ndim` appends it).
pub fn try_unsqueeze<T: Element>(x: &Tensor<T>, axis: usize) -> Result<Tensor<T>, ShapeError> {
    if axis > x.ndim() {
        return Err(ShapeError::AxisOutOfRange {
            op: "unsqueeze",
            axis,
            shape: x.shape().to_vec(),
        });
    }
    let mut shape = x.shape().to_vec();
    shape.insert(axis, 1);
    Ok(x.with_shape(shape))
}

/// Adjoint of [`try_unsqueeze`]: the gradient without the inserted axis.
#[track_caller]
pub fn unsqueeze_backward<T: Element>(input_shape: &[usize], grad: &Tensor<T>) -> Tensor<T> {
    or_panic(reshape_named("unsqueeze_backward", grad, input_shape))
}

/// `x [N, ...]` as `[N, product of the other lengths]` (axis 0 kept, like
/// PyTorch's `flatten(1)` / `nn.Flatten`; a 1-D `[N]` becomes `[N, 1]`);
/// fails for a 0-D tensor.
pub fn try_flatten<T: Element>(x: &Tensor<T>) -> Result<Tensor<T>, ShapeError> {
    let Some((&n, rest)) = x.shape().split_first() else {
        return Err(ShapeError::Rank {
            op: "flatten",
            expected: "a tensor with a batch axis, [N, ...]",
            shape: Vec::new(),
        });
    };
    Ok(x.with_shape(vec![n, numel(rest)]))
}

/// Adjoint of [`try_flatten`]: the gradient viewed with the input's shape.
#[track_caller]
pub fn flatten_backward<T: Element>(input_shape: &[usize], grad: &Tensor<T>) -> Tensor<T> {
    or_panic(reshape_named("flatten_backward", grad, input_shape))
}

impl<T: Element> Tensor<T> {
    /// This `[N, ...]` tensor as `[N, rest]` (sharing storage), or an error
    /// for a 0-D tensor.
    pub fn try_flatten(&self) -> Result<Self, ShapeError> {
        try_flatten(self)
    }

    /// This `[N, ...]` tensor as `[N, rest]` (sharing storage); panics for a
    /// 0-D tensor.
    #[track_caller]
    pub fn flatten(&self) -> Self {
        or_panic(try_flatten(self))
    }

    /// This tensor with another shape of the same element count (sharing
    /// storage), or an error when the counts differ.
    pub fn try_reshape(&self, shape: &[usize]) -> Result<Self, ShapeError> {
        try_reshape(self, shape)
    }

    /// This tensor with another shape of the same element count; panics
    /// when the counts differ.
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> Self {
        or_panic(try_reshape(self, shape))
    }

    /// This tensor without the length-1 axis `axis`, or an error.
    pub fn try_squeeze(&self, axis: usize) -> Result<Self, ShapeError> {
        try_squeeze(self, axis)
    }

    /// This tensor without the length-1 axis `axis`; panics when the axis is
    /// out of range or longer than 1.
    #[track_caller]
    pub fn squeeze(&self, axis: usize) -> Self {
        or_panic(try_squeeze(self, axis))
    }

    /// This tensor with a length-1 axis inserted at `axis`, or an error.
    pub fn try_unsqueeze(&self, axis: usize) -> Result<Self, ShapeError> {
        try_unsqueeze(self, axis)
    }

    /// This tensor with a length-1 axis inserted at `axis`; panics when
    /// `axis > ndim`.
    #[track_caller]
    pub fn unsqueeze(&self, axis: usize) -> Self {
        or_panic(try_unsqueeze(self, axis))
    }
}

/// Reshapes, reporting a count mismatch under `op`.
fn reshape_named<T: Element>(
    op: &'static str,
    x: &Tensor<T>,
    shape: &[usize],
) -> Result<Tensor<T>, ShapeError> {
    if numel(shape) != x.len() {
        return Err(ShapeError::Reshape {
            op,
            from: x.shape().to_vec(),
            to: shape.to_vec(),
        });
    }
    Ok(x.with_shape(shape.to_vec()))
}
