//! Activity across function boundaries: each `#[differentiable]` function
//! describes, per argument, whether it differentiates through it, so that a
//! caller passing a value that varies with its own active arguments into a
//! `#[constant]` argument fails to compile instead of silently dropping that
//! path from the gradient.
//!
//! The callee emits `impl Slot<I> for __NAME_slots { type Kind = Active }` (or
//! `Constant`) for every argument `I`; the caller requires `Kind = Active` for
//! every argument it passes an active value to.

use crate::saves::Inactive;

/// What argument `I` of a differentiable function does with derivatives.
pub trait Slot<const I: usize> {
    /// [`Active`] or [`Constant`].
    type Kind;
}

/// An argument the function differentiates through.
#[derive(Debug, Clone, Copy)]
pub struct Active;

/// A `#[constant]` argument (or data): no derivative flows through it.
#[derive(Debug, Clone, Copy)]
pub struct Constant;

/// The result of a call to another `#[differentiable]` function, as the
/// caller's compiler took it (`Expected`: a tensor or a float). The macro
/// cannot see the callee's return type; where its guess is wrong, this bound
/// fails at the call with a message saying how to annotate it.
#[diagnostic::on_unimplemented(
    message = "this call returns `{Self}`, but the function using it took its result for `{Expected}`",
    label = "returns `{Self}`",
    note = "the macro cannot see a callee's return type: it takes a call for a float inside float arithmetic or the function's float result, else for a tensor when it takes tensors; name the type with a `let` (`let r: f64 = penalty(&p.w);`)"
)]
pub trait CallResult<Expected>: Sized {
    /// The value, as the caller's type.
    fn into_expected(self) -> Expected;
    /// The caller's adjoint, as the callee's pullback takes it.
    fn adjoint_from(adjoint: Expected) -> Self;
}

impl<T> CallResult<T> for T {
    #[inline(always)]
    fn into_expected(self) -> T {
        self
    }

    #[inline(always)]
    fn adjoint_from(adjoint: T) -> T {
        adjoint
    }
}

/// A callee's adjoint output for one argument, as the caller accumulates it.
///
/// A callee returns [`Inactive`] for a `#[constant]` tensor or model
/// argument. A caller only accumulates an argument's adjoint when the value it
/// passed varies, and then the [`Slot`] check has already made the program
/// fail to compile if that argument is `#[constant]`: so the conversion from
/// [`Inactive`] exists for type checking only (one error, not two) and never
/// runs.
pub trait IntoAdjoint<Expected> {
    /// The adjoint as the caller's type.
    fn into_adjoint(self) -> Expected;
}

impl<T> IntoAdjoint<T> for T {
    #[inline(always)]
    fn into_adjoint(self) -> T {
        self
    }
}

impl<M: crate::params::Parameters> IntoAdjoint<M> for Inactive {
    fn into_adjoint(self) -> M {
        unreachable!("adjoint internal error: a #[constant] argument's adjoint was used; the Slot check rejects such programs at compile time")
    }
}
