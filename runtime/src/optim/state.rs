//! [`Slots`]: an optimiser's per-tensor state (velocity, moment estimates),
//! created lazily and updated in the same pass as the parameters.

use super::fused::expect_same_shape;
use super::saved::slot_names;
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
    /// The state tensors, named `SLOT.PATH` after `slots` and the paths of
    /// `params`, parameter by parameter; none before the first step.
    ///
    /// # Panics
    /// If `params` is not the model the state was created for.
    pub(super) fn export<P: Parameters<Elem = E>>(
        &self,
        params: &P,
        slots: [&str; N],
    ) -> Vec<(String, Tensor<E>)> {
        if self.slots.is_empty() {
            return Vec::new();
        }
        let names = slot_names(params, slots);
        assert_eq!(
            names.len(),
            self.slots.len(),
            "optimizer state was created for a model of {} tensors, not {}",
            self.slots.len(),
            names.len()
        );
        names
            .into_iter()
            .zip(&self.slots)
            .flat_map(|(names, tensors)| {
                names
                    .into_iter()
                    .zip(tensors.iter())
                    .map(|((name, _), t)| (name, t.clone()))
            })
            .collect()
    }

    /// Replaces the state by `slots` (checked by
    /// [`restore`](super::saved::restore)).
    pub(super) fn replace(&mut self, slots: Vec<[Tensor<E>; N]>) {
        self.slots = slots;
    }

    /// Calls `update(w, g, state)` with every parameter tensor, its
    /// gradient and its `N` state tensors. At the first call the state is
    /// created as zeros shaped like the model, on each parameter's device.
    ///
    /// # Panics
    /// If `grads` does not match `params`, or `params` is not the model the
    /// state was created for.
    pub(super) fn update<P: Parameters<Elem = E>>(
        &mut self,
        params: &mut P,
        grads: &P,
        mut update: impl FnMut(&mut Tensor<E>, &Tensor<E>, [&mut Tensor<E>; N]),
    ) {
        let fresh = self.slots.is_empty();
        let slots = &mut self.slots;
        let mut i = 0;
        params.zip_mut(grads, &mut |w, g| {
            expect_same_shape("optimizer gradient", w.shape(), g.shape());
            if fresh {
                slots.push(std::array::from_fn(|_| w.zeros_like()));
            }
            let Some(slot) = slots.get_mut(i) else {
                panic!("optimizer state was created for a model of {i} tensors, not more");
            };
            for s in slot.iter() {
                expect_same_shape("optimizer state", w.shape(), s.shape());
            }
            update(w, g, slot.each_mut());
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
