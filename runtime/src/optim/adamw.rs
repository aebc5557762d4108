//! [`AdamW`]: Adam with weight decay decoupled from the gradient.

use super::adam::MomentStep;
use super::fused::elem;
use super::state::Slots;
use super::Optimizer;
use crate::params::Parameters;
use crate::tensor::Element;

/// AdamW (Loshchilov & Hutter 2019, "Decoupled weight decay
/// regularization", Algorithm 2): [`Adam`](super::Adam)'s moments see the
/// raw gradient, and the weights decay separately:
///
/// ```text
/// m, v, m̂, v̂ as in Adam, from g alone
/// w ← w − lr·(m̂ / (√v̂ + eps) + weight_decay·w)
/// ```
///
/// As in PyTorch, the decay is scaled by the learning rate (the paper's
/// schedule multiplier η_t with α folded in), so a schedule on `lr` also
/// schedules the decay.
#[derive(Clone, Debug)]
pub struct AdamW<E: Element = f32> {
    /// The learning rate.
    pub lr: f64,
    /// The decay of the first-moment estimate.
    pub beta1: f64,
    /// The decay of the second-moment estimate.
    pub beta2: f64,
    /// Added to `√v̂` so the first steps stay finite.
    pub eps: f64,
    /// The decoupled decay coefficient λ.
    pub weight_decay: f64,
    steps: u64,
    moments: Slots<E, 2>,
}

impl<E: Element> AdamW<E> {
    /// AdamW with learning rate `lr`, Adam's defaults `β1 = 0.9`,
    /// `β2 = 0.999`, `eps = 1e-8`, and `weight_decay = 0.01` (PyTorch's
    /// default; the paper tunes it per task).
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            steps: 0,
            moments: Slots::default(),
        }
    }

    /// The same optimiser with moment decays `beta1` and `beta2`.
    pub fn with_betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// The same optimiser with `eps` added to the root.
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// The same optimiser with decoupled decay `weight_decay`.
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// The number of steps taken (the paper's `t`).
    pub fn steps(&self) -> u64 {
        self.steps
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
}

impl<E: Element, P: Parameters<Elem = E>> Optimizer<P> for AdamW<E> {
    fn step(&mut self, params: &mut P, grads: &P) {
        self.steps += 1;
        let moments = MomentStep::new(self.beta1, self.beta2, self.eps, self.steps);
        let lr: E = elem(self.lr);
        let wd: E = elem(self.weight_decay);
        self.moments.update(params, grads, |w, g, [m, v]| {
            for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                *w = *w - lr * (moments.direction(m, v, g) + wd * *w);
            }
        });
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
}
