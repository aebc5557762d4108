//! The paired pass every optimiser makes: each parameter tensor next to its
//! gradient, after checking that their shapes agree.

use crate::params::Parameters;
use crate::tensor::{Element, ShapeError, Tensor};

/// Calls `update(w, g)` with every tensor of `params` and the gradient
/// tensor at the same place in `grads`, in [`Parameters::zip_mut`] order.
///
/// # Panics
/// If `grads` has another structure, or a gradient tensor another shape than
/// its parameter.
pub(super) fn for_each_pair<P: Parameters>(
    params: &mut P,
    grads: &P,
    mut update: impl FnMut(&mut Tensor<P::Elem>, &Tensor<P::Elem>),
) {
    params.zip_mut(grads, &mut |w, g| {
        expect_same_shape("optimizer gradient", w.shape(), g.shape());
        update(w, g);
    });
}

/// Panics with a [`ShapeError::Mismatch`] message naming `op` unless the
/// shapes agree.
#[track_caller]
pub(super) fn expect_same_shape(op: &'static str, lhs: &[usize], rhs: &[usize]) {
    if lhs != rhs {
        panic!(
            "{}",
            ShapeError::Mismatch {
                op,
                lhs: lhs.to_vec(),
                rhs: rhs.to_vec(),
            }
        );
    }
}

/// Converts a hyperparameter to the model's element type.
pub(super) fn elem<E: Element>(x: f64) -> E {
    E::cast_f64(x)
}
