//! The differentiable ops, one family per module, each op's forward
//! function next to its adjoint.
//!
//! For an op `y = f(x1, x2, ...)` the module holds the forward function
//! (`try_f` when the operands' shapes can be wrong, `f` otherwise), the
//! `Tensor` method of the same name, and `f_backward(..., grad)`, which
//! returns `grad · ∂y/∂xi` for each operand (the vector-Jacobian product).
//! An adjoint takes only what it needs: the operands, or the result when
//! that is cheaper (`exp_backward(y, grad)`), or just the operands' shapes
//! (`add_backward(a_shape, b_shape, grad)`).
//!
//! The loops run over contiguous slices, with single-pass fast paths for
//! equal shapes and the usual broadcasts (`[m, n] op [n]`, `[m, n] op [m, 1]`,
//! tensor op scalar) and a strided walk for everything else.

mod axis;
pub mod batch_norm;
mod batch_norm_composed;
pub mod batch_norm_state;
pub mod binary;
pub mod broadcast;
pub mod conv;
pub mod dropout;
pub mod fused;
pub mod index;
pub mod loss;
pub mod matmul;
pub mod normalize;
mod overload;
mod par;
pub mod pool;
pub mod reduce;
pub mod reshape;
pub mod scalar;
pub mod softmax;
pub mod transpose;
pub mod unary;
