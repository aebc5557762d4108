//! [`OptimizerState`]: what an optimiser must keep for a resumed run to
//! take exactly the steps it would have taken, with stable names, and
//! [`StateError`]: why a state does not fit an optimiser.

use std::collections::HashMap;

use thiserror::Error;

use crate::params::Parameters;
use crate::tensor::{Element, Tensor};

/// An optimiser's complete state, from [`Optimizer::state`] and back into
/// [`Optimizer::load_state`].
///
/// Names are stable: a state tensor is named `SLOT.PATH`, its slot (`m`,
/// `v`, `velocity`, `mean_sq`, `sum_sq`) followed by its parameter's
/// [`Parameters`] path (`m.w1`, `velocity.layers.0.w`).
///
/// [`Optimizer::state`]: super::Optimizer::state
/// [`Optimizer::load_state`]: super::Optimizer::load_state
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState<E: Element> {
    /// The algorithm: `sgd`, `adagrad`, `rmsprop`, `adam` or `adamw`.
    pub kind: String,
    /// The learning rate the next step will use (a schedule's position).
    pub learning_rate: f64,
    /// The fixed hyperparameters (`beta1`, `momentum`, ...; a flag is 0 or
    /// 1), which a resumed optimiser must share.
    pub hyperparameters: Vec<(String, f64)>,
    /// Counters, e.g. Adam's step count `steps` (the paper's `t`).
    pub counters: Vec<(String, u64)>,
    /// The per-parameter tensors (moments, velocity, accumulators); empty
    /// before the first step.
    pub tensors: Vec<(String, Tensor<E>)>,
}

/// Why an [`OptimizerState`] cannot be loaded into an optimiser.
#[derive(Debug, Error, PartialEq)]
pub enum StateError {
    /// The state is another algorithm's.
    #[error("the state is of optimiser `{saved}`, but the optimiser is `{optimizer}`")]
    Kind {
        /// The state's algorithm.
        saved: String,
        /// The optimiser's algorithm.
        optimizer: String,
    },
    /// A hyperparameter differs.
    #[error("hyperparameter `{name}` is {saved} in the state but {optimizer} in the optimiser")]
    Hyperparameter {
        /// The hyperparameter.
        name: String,
        /// Its value in the state.
        saved: f64,
        /// Its value in the optimiser.
        optimizer: f64,
    },
    /// A value the optimiser needs is not in the state.
    #[error("{what} `{name}` is missing from the state")]
    Missing {
        /// `hyperparameter`, `counter` or `tensor`.
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// The state holds a value this optimiser does not have for this model.
    #[error("{what} `{name}` in the state is not one of this optimiser's for this model")]
    Unexpected {
        /// `hyperparameter`, `counter` or `tensor`.
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// A state tensor's shape differs from its parameter's.
    #[error("tensor `{name}` has shape {saved:?} in the state but its parameter has {model:?}")]
    Shape {
        /// The state tensor.
        name: String,
        /// Its shape in the state.
        saved: Vec<usize>,
        /// The parameter's shape.
        model: Vec<usize>,
    },
}

/// An [`OptimizerState`] being checked against an optimiser: values are
/// taken out by name, and [`finish`](Saved::finish) reports any left over.
struct Saved<E: Element> {
    learning_rate: f64,
    hyperparameters: HashMap<String, f64>,
    counters: HashMap<String, u64>,
    tensors: HashMap<String, Tensor<E>>,
}

impl<E: Element> Saved<E> {
    /// Opens `state` for an optimiser of algorithm `kind`.
    fn open(state: OptimizerState<E>, kind: &str) -> Result<Self, StateError> {
        if state.kind != kind {
            return Err(StateError::Kind {
                saved: state.kind,
                optimizer: kind.to_string(),
            });
        }
        Ok(Self {
            learning_rate: state.learning_rate,
            hyperparameters: state.hyperparameters.into_iter().collect(),
            counters: state.counters.into_iter().collect(),
            tensors: state.tensors.into_iter().collect(),
        })
    }

    /// Checks that hyperparameter `name` equals the optimiser's `value`.
    fn hyperparameter(&mut self, name: &str, value: f64) -> Result<(), StateError> {
        let saved = self
            .hyperparameters
            .remove(name)
            .ok_or_else(|| missing("hyperparameter", name))?;
        if saved.to_bits() != value.to_bits() {
            return Err(StateError::Hyperparameter {
                name: name.to_string(),
                saved,
                optimizer: value,
            });
        }
        Ok(())
    }

    /// The counter `name`.
    fn counter(&mut self, name: &str) -> Result<u64, StateError> {
        self.counters
            .remove(name)
            .ok_or_else(|| missing("counter", name))
    }

    /// The per-parameter tensors of `slots` for `params`, in
    /// [`Parameters::visit`] order: none at all (the state before the
    /// first step), or every one, each shaped like its parameter.
    fn slots<P, const N: usize>(
        &mut self,
        params: &P,
        slots: [&str; N],
    ) -> Result<Vec<[Tensor<E>; N]>, StateError>
    where
        P: Parameters<Elem = E>,
    {
        let names = slot_names(params, slots);
        if names
            .iter()
            .flatten()
            .all(|(n, _)| !self.tensors.contains_key(n))
        {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(names.len());
        for group in names {
            let mut taken = Vec::with_capacity(N);
            for (name, shape) in group {
                let t = self
                    .tensors
                    .remove(&name)
                    .ok_or_else(|| missing("tensor", &name))?;
                if t.shape() != shape.as_slice() {
                    return Err(StateError::Shape {
                        name,
                        saved: t.shape().to_vec(),
                        model: shape,
                    });
                }
                taken.push(t);
            }
            // Cloning shares the storage; `taken` is dropped right after.
            out.push(std::array::from_fn(|i| taken[i].clone()));
        }
        Ok(out)
    }

    /// The learning rate, once every value has been taken; a value left
    /// over is an error.
    fn finish(self) -> Result<f64, StateError> {
        let leftover = |what, names: Vec<&String>| {
            names.into_iter().min().map(|name| StateError::Unexpected {
                what,
                name: name.clone(),
            })
        };
        if let Some(e) = leftover("hyperparameter", self.hyperparameters.keys().collect())
            .or_else(|| leftover("counter", self.counters.keys().collect()))
            .or_else(|| leftover("tensor", self.tensors.keys().collect()))
        {
            return Err(e);
        }
        Ok(self.learning_rate)
    }
}

/// What [`restore`] found in a state that fits the optimiser.
pub(super) struct Restored<E: Element, const N: usize, const C: usize> {
    /// The learning rate.
    pub learning_rate: f64,
    /// The counters, in the order asked for.
    pub counters: [u64; C],
    /// The per-parameter tensors, as [`Slots`](super::state::Slots) holds
    /// them.
    pub slots: Vec<[Tensor<E>; N]>,
}

/// Checks `state` against an optimiser of algorithm `kind` with
/// `hyperparameters`, `counters` and per-parameter `slots` for `params`,
/// and returns its values; changes nothing, so a caller that assigns them
/// only on success is left unchanged by a state that does not fit.
pub(super) fn restore<E, P, const N: usize, const C: usize>(
    state: OptimizerState<E>,
    kind: &str,
    hyperparameters: &[(&str, f64)],
    counters: [&str; C],
    slots: [&str; N],
    params: &P,
) -> Result<Restored<E, N, C>, StateError>
where
    E: Element,
    P: Parameters<Elem = E>,
{
    let mut saved = Saved::open(state, kind)?;
    for &(name, value) in hyperparameters {
        saved.hyperparameter(name, value)?;
    }
    let mut values = [0; C];
    for (value, name) in values.iter_mut().zip(counters) {
        *value = saved.counter(name)?;
    }
    let slots = saved.slots(params, slots)?;
    Ok(Restored {
        learning_rate: saved.finish()?,
        counters: values,
        slots,
    })
}

/// An [`OptimizerState`] of algorithm `kind` from its parts.
pub(super) fn describe<E: Element>(
    kind: &str,
    learning_rate: f64,
    hyperparameters: &[(&str, f64)],
    counters: &[(&str, u64)],
    tensors: Vec<(String, Tensor<E>)>,
) -> OptimizerState<E> {
    OptimizerState {
        kind: kind.to_string(),
        learning_rate,
        hyperparameters: hyperparameters
            .iter()
            .map(|&(n, v)| (n.to_string(), v))
            .collect(),
        counters: counters.iter().map(|&(n, v)| (n.to_string(), v)).collect(),
        tensors,
    }
}

/// The names (`SLOT.PATH`) and shapes of the state tensors of `slots` for
/// each parameter of `params`, in visiting order.
pub(super) fn slot_names<P: Parameters, const N: usize>(
    params: &P,
    slots: [&str; N],
) -> Vec<[(String, Vec<usize>); N]> {
    let mut out = Vec::new();
    params.visit(&mut String::new(), &mut |path, t| {
        out.push(slots.map(|slot| {
            let name = if path.is_empty() {
                slot.to_string()
            } else {
                format!("{slot}.{path}")
            };
            (name, t.shape().to_vec())
        }));
    });
    out
}

fn missing(what: &'static str, name: &str) -> StateError {
    StateError::Missing {
        what,
        name: name.to_string(),
    }
}
