//! [`Adam`] (adaptive moment estimation) and [`AdamW`] (its variant with
//! decoupled weight decay): one implementation, [`AdamCore`], differing only
//! in where the weight decay enters the update.

use super::fused::elem;
use super::saved::{describe, restore};
use super::state::Slots;
use super::{Optimizer, OptimizerState, StateError};
use crate::params::Parameters;
use crate::tensor::Element;
use adjoint_kernels::elementwise::update_with_states;

use crate::tensor::device::{self, AdamStep};

/// Adam, exactly Algorithm 1 of Kingma & Ba 2014 ("Adam: A method for
/// stochastic optimization"), with optional L2 weight decay added to the
/// gradient:
///
/// ```text
/// t ← t + 1
/// g ← g + weight_decay·w
/// m ← β1·m + (1 − β1)·g                    (m = v = 0 before the first step)
/// v ← β2·v + (1 − β2)·g²
/// m̂ = m / (1 − β1^t),  v̂ = v / (1 − β2^t)
/// w ← w − lr·m̂ / (√v̂ + eps)
/// ```
///
/// `eps` is added after the square root of the bias-corrected `v̂`, as in
/// the paper. For decay decoupled from the moments use
/// [`AdamW`](super::AdamW).
pub type Adam<E = f32> = AdamCore<E, false>;

/// AdamW (Loshchilov & Hutter 2019, "Decoupled weight decay
/// regularization", Algorithm 2): [`Adam`]'s moments see the raw gradient,
/// and the weights decay separately:
///
/// ```text
/// m, v, m̂, v̂ as in Adam, from g alone
/// w ← w − lr·(m̂ / (√v̂ + eps) + weight_decay·w)
/// ```
///
/// As in PyTorch, the decay is scaled by the learning rate (the paper's
/// schedule multiplier η_t with α folded in), so a schedule on `lr` also
/// schedules the decay. [`AdamW::new`] sets `weight_decay = 0.01`
/// (PyTorch's default; the paper tunes it per task).
pub type AdamW<E = f32> = AdamCore<E, true>;

/// The Adam family: `DECOUPLED` selects AdamW's decoupled weight decay over
/// Adam's L2 penalty. Use it through [`Adam`] and [`AdamW`].
#[derive(Clone, Debug)]
pub struct AdamCore<E: Element, const DECOUPLED: bool> {
    /// The learning rate (the paper's α).
    pub lr: f64,
    /// The decay of the first-moment estimate.
    pub beta1: f64,
    /// The decay of the second-moment estimate.
    pub beta2: f64,
    /// Added to `√v̂` so the first steps stay finite.
    pub eps: f64,
    /// The weight decay: an L2 penalty added to the gradient (Adam) or a
    /// decoupled decay of the weights (AdamW).
    pub weight_decay: f64,
    steps: u64,
    moments: Slots<E, 2>,
}

impl<E: Element, const DECOUPLED: bool> AdamCore<E, DECOUPLED> {
    /// Learning rate `lr` and the paper's defaults `β1 = 0.9`, `β2 = 0.999`,
    /// `eps = 1e-8`; no weight decay for Adam, 0.01 for AdamW.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: if DECOUPLED { 0.01 } else { 0.0 },
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

    /// The same optimiser with weight decay `weight_decay`.
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

    /// The algorithm's name in a saved state.
    fn kind() -> &'static str {
        if DECOUPLED {
            "adamw"
        } else {
            "adam"
        }
    }

    /// The hyperparameters a saved state must share.
    fn hyperparameters(&self) -> [(&'static str, f64); 4] {
        [
            ("beta1", self.beta1),
            ("beta2", self.beta2),
            ("eps", self.eps),
            ("weight_decay", self.weight_decay),
        ]
    }
}

/// The names of the per-parameter state: the first and second moment
/// estimates.
const SLOTS: [&str; 2] = ["m", "v"];

impl<E: Element, P: Parameters<Elem = E>, const DECOUPLED: bool> Optimizer<P>
    for AdamCore<E, DECOUPLED>
{
    fn step(&mut self, params: &mut P, grads: &P) {
        self.steps += 1;
        let moments = MomentStep::new(self.beta1, self.beta2, self.eps, self.steps);
        let lr: E = elem(self.lr);
        let wd: E = elem(self.weight_decay);
        let on_device = AdamStep {
            lr,
            beta1: moments.beta1,
            beta2: moments.beta2,
            bias1: moments.bias1,
            bias2: moments.bias2,
            eps: moments.eps,
            weight_decay: wd,
            decoupled: DECOUPLED,
        };
        // One pass over each tensor: on its CUDA device, or on the host
        // split across cores when long enough.
        self.moments.update(params, grads, |w, g, [m, v]| {
            if device::adam(w, g, m, v, on_device) {
                return;
            }
            update_with_states(
                w.data_mut(),
                g.data(),
                m.data_mut(),
                v.data_mut(),
                |w, g, m, v| {
                    if DECOUPLED {
                        *w = *w - lr * (moments.direction(m, v, g) + wd * *w);
                    } else {
                        let g = g + wd * *w;
                        *w = *w - lr * moments.direction(m, v, g);
                    }
                },
            );
        });
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn state(&self, params: &P) -> OptimizerState<E> {
        let tensors = self.moments.export(params, SLOTS);
        let counters = [("steps", self.steps)];
        describe(
            Self::kind(),
            self.lr,
            &self.hyperparameters(),
            &counters,
            tensors,
        )
    }

    fn load_state(&mut self, params: &P, state: OptimizerState<E>) -> Result<(), StateError> {
        let hyperparameters = self.hyperparameters();
        let saved = restore(
            state,
            Self::kind(),
            &hyperparameters,
            ["steps"],
            SLOTS,
            params,
        )?;
        self.lr = saved.learning_rate;
        [self.steps] = saved.counters;
        self.moments.replace(saved.slots);
        Ok(())
    }
}

/// The coefficients of step `t` of Adam's moment update (Kingma & Ba 2014,
/// Algorithm 1), converted to the element type once per step.
#[derive(Clone, Copy)]
struct MomentStep<E> {
    beta1: E,
    one_minus_beta1: E,
    beta2: E,
    one_minus_beta2: E,
    bias1: E,
    bias2: E,
    eps: E,
}

impl<E: Element> MomentStep<E> {
    /// The coefficients of step `t` (counting from 1).
    fn new(beta1: f64, beta2: f64, eps: f64, t: u64) -> Self {
        let t = i32::try_from(t).unwrap_or(i32::MAX);
        Self {
            beta1: elem(beta1),
            one_minus_beta1: elem(1.0 - beta1),
            beta2: elem(beta2),
            one_minus_beta2: elem(1.0 - beta2),
            bias1: elem(1.0 - beta1.powi(t)),
            bias2: elem(1.0 - beta2.powi(t)),
            eps: elem(eps),
        }
    }

    /// Updates the moments `m` and `v` with gradient `g` and returns the
    /// step direction `m̂ / (√v̂ + eps)`.
    #[inline]
    fn direction(&self, m: &mut E, v: &mut E, g: E) -> E {
        *m = self.beta1 * *m + self.one_minus_beta1 * g;
        *v = self.beta2 * *v + self.one_minus_beta2 * g * g;
        let m_hat = *m / self.bias1;
        let v_hat = *v / self.bias2;
        m_hat / (v_hat.sqrt() + self.eps)
    }
}
