//! [`Slots`]: an optimiser's per-tensor state (velocity, moment estimates),
//! created lazily and updated in the same pass as the parameters.

use super::fused::{expect_same_shape, for_each_pair};
use crate::params::Parameters;
use crate::tensor::{Element, Tensor};

/// `N` state tensors for each tensor of a model, in [`Parameters::zip_mut`]
/// order, each shaped like its parameter.
///
/// They are held flat rather than as a second model so that one pass can
/// update a parameter and all of its state together (`zip_mut` pairs only
/// two models).
#[derive(Clone, Debug)]
pub(super) struct Slots<E: Element, const N: usize> {
    slots: Vec<[Tensor<E>; N]>,
}

impl<E: Element, const N: usize> Default for Slots<E, N> {
    fn default() -> Self {
        Self { slots: Vec::new() }
    }
}

impl<E: Element, const N: usize> Slots<E, N> {
    /// Calls `update(w, g, state)` with the elements of every parameter
    /// tensor, its gradient and its `N` state tensors. At the first call the
    /// state is created as zeros shaped like the model.
    ///
    /// # Panics
    /// If `grads` does not match `params`, or `params` is not the model the
    /// state was created for.
    pub(super) fn update<P: Parameters<Elem = E>>(
        &mut self,
        params: &mut P,
        grads: &P,
        mut update: impl FnMut(&mut [E], &[E], [&mut [E]; N]),
    ) {
        let fresh = self.slots.is_empty();
        let slots = &mut self.slots;
        let mut i = 0;
        for_each_pair(params, grads, |w, g| {
            if fresh {
                slots.push(std::array::from_fn(|_| Tensor::zeros(w.shape())));
            }
            let Some(slot) = slots.get_mut(i) else {
                panic!("optimizer state was created for a model of {i} tensors, not more");
            };
            for s in slot.iter() {
                expect_same_shape("optimizer state", w.shape(), s.shape());
            }
            update(w.data_mut(), g, slot.each_mut().map(Tensor::data_mut));
            i += 1;
        });
        assert_eq!(
            i,
            slots.len(),
            "optimizer state was created for a model of {} tensors, not {i}",
            slots.len()
        );
    }
}
