//! [`Sgd`]: stochastic gradient descent with momentum and weight decay.

use super::composed;
use super::fused::{elem, for_each_pair};
use super::saved::{describe, restore};
use super::state::Slots;
use super::{Optimizer, OptimizerState, StateError};
use crate::params::Parameters;
use crate::tensor::Element;

/// Stochastic gradient descent with (Nesterov) momentum and L2 weight decay,
/// in PyTorch's formulation of Sutskever et al. 2013 ("On the importance of
/// initialization and momentum in deep learning"):
///
/// ```text
/// g ← g + weight_decay·w
/// v ← momentum·v + g                       (v = 0 before the first step)
/// w ← w − lr·(nesterov ? g + momentum·v : v)
/// ```
///
/// With `momentum = 0` this is plain gradient descent and keeps no state.
#[derive(Clone, Debug)]
pub struct Sgd<E: Element = f32> {
    /// The learning rate.
    pub lr: f64,
    /// The momentum coefficient μ (0 for none).
    pub momentum: f64,
    /// Whether to use Nesterov momentum (look ahead along the velocity).
    pub nesterov: bool,
    /// The L2 penalty coefficient added to the gradient.
    pub weight_decay: f64,
    velocity: Slots<E, 1>,
}

impl<E: Element> Sgd<E> {
    /// Plain gradient descent with learning rate `lr`: no momentum, no
    /// weight decay.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            velocity: Slots::default(),
        }
    }

    /// The same optimiser with momentum coefficient `momentum` (e.g. 0.9).
    pub fn with_momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    /// The same optimiser with Nesterov momentum on or off.
    pub fn with_nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    /// The same optimiser with L2 weight decay `weight_decay`.
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
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

    /// The hyperparameters a saved state must share (`nesterov` as 0 or 1).
    fn hyperparameters(&self) -> [(&'static str, f64); 3] {
        [
            ("momentum", self.momentum),
            ("nesterov", if self.nesterov { 1.0 } else { 0.0 }),
            ("weight_decay", self.weight_decay),
        ]
    }
}

/// The algorithm's name in a saved state.
const KIND: &str = "sgd";

/// The name of the per-parameter state: the momentum buffer.
const SLOTS: [&str; 1] = ["velocity"];

impl<E: Element, P: Parameters<Elem = E>> Optimizer<P> for Sgd<E> {
    fn step(&mut self, params: &mut P, grads: &P) {
        let lr: E = elem(self.lr);
        let mu: E = elem(self.momentum);
        let wd: E = elem(self.weight_decay);
        let nesterov = self.nesterov;
        if self.momentum == 0.0 {
            for_each_pair(params, grads, |w, g| {
                if composed::on_device(w) {
                    return composed::sgd(w, g, None, (lr, mu, wd), nesterov);
                }
                for (w, &g) in w.data_mut().iter_mut().zip(g.data()) {
                    *w = *w - lr * (g + wd * *w);
                }
            });
            return;
        }
        self.velocity.update(params, grads, |w, g, [v]| {
            if composed::on_device(w) {
                return composed::sgd(w, g, Some(v), (lr, mu, wd), nesterov);
            }
            let (w, g, v) = (w.data_mut(), g.data(), v.data_mut());
            for ((w, &g), v) in w.iter_mut().zip(g).zip(v.iter_mut()) {
                let g = g + wd * *w;
                *v = mu * *v + g;
                let update = if nesterov { g + mu * *v } else { *v };
                *w = *w - lr * update;
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
        let tensors = self.velocity.export(params, SLOTS);
        describe(KIND, self.lr, &self.hyperparameters(), &[], tensors)
    }

    fn load_state(&mut self, params: &P, state: OptimizerState<E>) -> Result<(), StateError> {
        let saved = restore(state, KIND, &self.hyperparameters(), [], SLOTS, params)?;
        self.lr = saved.learning_rate;
        self.velocity.replace(saved.slots);
        Ok(())
    }
}
