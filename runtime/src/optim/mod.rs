//! Optimisers and learning-rate schedules for any model implementing
//! [`Parameters`].
//!
//! A model's gradient is a value of the model's own type (generated code
//! returns `g.p: Mlp`), so every optimiser takes the model and its gradient
//! and walks them together with [`Parameters::zip_mut`]. Each step is one
//! fused pass over each tensor's elements, updating the parameter and the
//! optimiser's per-tensor state in place, with no temporary tensors. The
//! state (moment estimates) is created lazily, as zeros shaped like the
//! model, at the first step.
//!
//! - [`Sgd`]: stochastic gradient descent with momentum, Nesterov momentum
//!   and L2 weight decay (PyTorch's formulation of Sutskever et al. 2013).
//! - [`Adagrad`]: Duchi, Hazan & Singer 2011.
//! - [`RmsProp`]: Tieleman & Hinton 2012.
//! - [`Adam`]: Kingma & Ba 2014, Algorithm 1.
//! - [`AdamW`]: Adam with decoupled weight decay, Loshchilov & Hutter 2019.
//! - [`schedule`]: learning rate as a function of the epoch.
//!
//! Every optimiser exposes its complete state ([`Optimizer::state`]: the
//! learning rate, hyperparameters, counters such as Adam's step count, and
//! the per-parameter tensors under stable names like `m.w1`) and takes it
//! back ([`Optimizer::load_state`]), so a training checkpoint
//! (`train::checkpoint`) can resume a run exactly.
//!
//! ```
//! use adjoint_runtime::optim::{schedule, Adam, Optimizer};
//! use adjoint_runtime::tensor::Tensor;
//!
//! // Minimise |w - 3|² for a model of one tensor.
//! let mut model = vec![Tensor::<f64>::zeros(&[2])];
//! let mut opt = Adam::new(0.1);
//! for epoch in 0..500 {
//!     opt.set_learning_rate(schedule::cosine(0.1, 0.0, epoch, 500));
//!     let grad = model.iter().map(|w| (w - 3.0) * 2.0).collect();
//!     opt.step(&mut model, &grad);
//! }
//! assert!((model[0].data()[0] - 3.0).abs() < 1e-3);
//! ```

mod adagrad;
mod adam;
mod composed;
mod fused;
mod rmsprop;
mod saved;
pub mod schedule;
mod sgd;
mod state;

#[cfg(test)]
mod tests;

pub use adagrad::Adagrad;
pub use adam::{Adam, AdamCore, AdamW};
pub use rmsprop::RmsProp;
pub use saved::{OptimizerState, StateError};
pub use sgd::Sgd;

use crate::params::Parameters;

/// An optimiser: updates a model in place from its gradient.
///
/// The gradient is a value of the model's own type. The optimiser keeps
/// per-tensor state between steps, so one optimiser serves one model.
pub trait Optimizer<P: Parameters> {
    /// Applies one update to `params` given the gradient `grads` of the loss
    /// with respect to them.
    ///
    /// # Panics
    /// If `grads` (or the state from earlier steps) does not have the
    /// structure and shapes of `params`.
    fn step(&mut self, params: &mut P, grads: &P);

    /// The learning rate the next step will use.
    fn learning_rate(&self) -> f64;

    /// Sets the learning rate of later steps (see [`schedule`]).
    fn set_learning_rate(&mut self, lr: f64);

    /// Everything a later step depends on, with per-parameter tensors named
    /// after the paths of `params` (the model the optimiser steps). Before
    /// the first step there are no tensors.
    ///
    /// # Panics
    /// If `params` is not the model the state was created for.
    fn state(&self, params: &P) -> OptimizerState<P::Elem>;

    /// Replaces the optimiser's state by `state` (from
    /// [`state`](Optimizer::state) of the same algorithm with the same
    /// hyperparameters, for a model shaped like `params`), learning rate
    /// included, so the next step is the one the saved optimiser would have
    /// taken.
    ///
    /// Fails, changing nothing, when `state` is another algorithm's, a
    /// hyperparameter differs, or a value is missing, left over or shaped
    /// unlike its parameter.
    fn load_state(&mut self, params: &P, state: OptimizerState<P::Elem>) -> Result<(), StateError>;
}
