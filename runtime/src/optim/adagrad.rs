//! [`Adagrad`]: per-coordinate learning rates from accumulated squared
//! gradients.

use super::composed;
use super::fused::elem;
use super::saved::{describe, restore};
use super::state::Slots;
use super::{Optimizer, OptimizerState, StateError};
use crate::params::Parameters;
use crate::tensor::Element;

/// Adagrad (Duchi, Hazan & Singer 2011, "Adaptive subgradient methods for
/// online learning and stochastic optimization"), diagonal form:
///
/// ```text
/// G ← G + g²                               (G = 0 before the first step)
/// w ← w − lr·g / (√G + eps)
/// ```
///
/// Rarely updated coordinates keep large steps; frequent ones slow down.
#[derive(Clone, Debug)]
pub struct Adagrad<E: Element = f32> {
    /// The learning rate.
    pub lr: f64,
    /// Added to `√G` so the first steps stay finite.
    pub eps: f64,
    sum_sq: Slots<E, 1>,
}

impl<E: Element> Adagrad<E> {
    /// Adagrad with learning rate `lr` and `eps = 1e-10` (PyTorch's default).
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            eps: 1e-10,
            sum_sq: Slots::default(),
        }
    }

    /// The same optimiser with `eps` added to the root.
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// The learning rate the next step will use (callable without naming the
    /// model type, unlike [`Optimizer::learning_rate`]).
    pub fn learning_rate(&self) -> f64 {
        self.lr
    }

    /// Sets the learning rate of later steps.
    pub fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// The hyperparameters a saved state must share.
    fn hyperparameters(&self) -> [(&'static str, f64); 1] {
        [("eps", self.eps)]
    }
}

/// The algorithm's name in a saved state.
const KIND: &str = "adagrad";

/// The name of the per-parameter state.
const SLOTS: [&str; 1] = ["sum_sq"];

impl<E: Element, P: Parameters<Elem = E>> Optimizer<P> for Adagrad<E> {
    fn step(&mut self, params: &mut P, grads: &P) {
        let lr: E = elem(self.lr);
        let eps: E = elem(self.eps);
        self.sum_sq.update(params, grads, |w, g, [s]| {
            if composed::on_device(w) {
                return composed::adagrad(w, g, s, (lr, eps));
            }
            let (w, g, s) = (w.data_mut(), g.data(), s.data_mut());
            for ((w, &g), s) in w.iter_mut().zip(g).zip(s.iter_mut()) {
                *s += g * g;
                *w = *w - lr * g / (s.sqrt() + eps);
            }
        });
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn state(&self, params: &P) -> OptimizerState<E> {
        let tensors = self.sum_sq.export(params, SLOTS);
        describe(KIND, self.lr, &self.hyperparameters(), &[], tensors)
    }

    fn load_state(&mut self, params: &P, state: OptimizerState<E>) -> Result<(), StateError> {
        let saved = restore(state, KIND, &self.hyperparameters(), [], SLOTS, params)?;
        self.lr = saved.learning_rate;
        self.sum_sq.replace(saved.slots);
        Ok(())
    }
}
