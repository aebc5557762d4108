//! Activity across function boundaries: each `#[differentiable]` function
//! describes, per argument, whether it differentiates through it, so that a
//! caller passing a value that varies with its own active arguments into a
//! `#[constant]` argument fails to compile instead of silently dropping that
//! path from the gradient.
//!
//! The callee emits `impl Slot<I> for __NAME_slots { type Kind = Active }` (or
//! `Constant`) for every argument `I`; the caller requires `Kind = Active` for
//! every argument it passes an active value to.

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
