//! [`RmsProp`]: steps scaled by a running root mean square of the gradient.

use super::composed;
use super::fused::elem;
use super::saved::{describe, restore};
use super::state::Slots;
use super::{Optimizer, OptimizerState, StateError};
use crate::params::Parameters;
use crate::tensor::Element;

/// RMSProp (Tieleman & Hinton 2012, COURSERA "Neural Networks for Machine
/// Learning", lecture 6.5):
///
/// ```text
/// E ← alpha·E + (1 − alpha)·g²             (E = 0 before the first step)
/// w ← w − lr·g / (√E + eps)
/// ```
///
/// Unlike [`Adagrad`](super::Adagrad) the average forgets old gradients, so
/// the step size does not decay to zero.
#[derive(Clone, Debug)]
pub struct RmsProp<E: Element = f32> {
    /// The learning rate.
    pub lr: f64,
    /// The decay of the running average of g².
    pub alpha: f64,
    /// Added to `√E` so the first steps stay finite.
    pub eps: f64,
    mean_sq: Slots<E, 1>,
}

impl<E: Element> RmsProp<E> {
    /// RMSProp with learning rate `lr`, `alpha = 0.99` and `eps = 1e-8`
    /// (PyTorch's defaults).
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            alpha: 0.99,
            eps: 1e-8,
            mean_sq: Slots::default(),
        }
    }

    /// The same optimiser with decay `alpha` of the running average.
    pub fn with_alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
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
    fn hyperparameters(&self) -> [(&'static str, f64); 2] {
        [("alpha", self.alpha), ("eps", self.eps)]
    }
}

/// The algorithm's name in a saved state.
const KIND: &str = "rmsprop";

/// The name of the per-parameter state.
const SLOTS: [&str; 1] = ["mean_sq"];

impl<E: Element, P: Parameters<Elem = E>> Optimizer<P> for RmsProp<E> {
    fn step(&mut self, params: &mut P, grads: &P) {
        let lr: E = elem(self.lr);
        let alpha: E = elem(self.alpha);
        let one_minus_alpha: E = elem(1.0 - self.alpha);
        let eps: E = elem(self.eps);
        self.mean_sq.update(params, grads, |w, g, [e]| {
            if composed::on_device(w) {
                return composed::rmsprop(w, g, e, (lr, alpha, eps));
            }
            let (w, g, e) = (w.data_mut(), g.data(), e.data_mut());
            for ((w, &g), e) in w.iter_mut().zip(g).zip(e.iter_mut()) {
                *e = alpha * *e + one_minus_alpha * g * g;
                *w = *w - lr * g / (e.sqrt() + eps);
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
        let tensors = self.mean_sq.export(params, SLOTS);
        describe(KIND, self.lr, &self.hyperparameters(), &[], tensors)
    }

    fn load_state(&mut self, params: &P, state: OptimizerState<E>) -> Result<(), StateError> {
        let saved = restore(state, KIND, &self.hyperparameters(), [], SLOTS, params)?;
        self.lr = saved.learning_rate;
        self.mean_sq.replace(saved.slots);
        Ok(())
    }
}
