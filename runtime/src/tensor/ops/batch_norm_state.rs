//! Batch norm's running statistics: how state the forward sweep computes
//! reaches the model, without the differentiated function taking it.
//!
//! A training step runs inside [`record_batch_stats`], which collects the
//! batch statistics of every training-mode batch norm the step computes
//! (generated code included), each with the [`LayerKey`] of the `γ` it was
//! called with; the caller folds them into the running estimates of the
//! layer owning that `γ` once per step (`nn::train` in the facade; running
//! variance unbiased, as PyTorch stores it). Evaluation runs inside
//! [`with_running_stats`], where a batch norm called with a known `γ`
//! normalises with that layer's running estimates instead of the batch's
//! statistics (evaluation mode: no gradient is meant to flow there). Outside
//! both, batch norm is plain training mode. The scopes are per thread and
//! nest by replacing.

use std::any::Any;
use std::cell::RefCell;

use super::batch_norm::BatchStats;
use crate::tensor::{Element, Tensor};

/// Which batch norm layer a call belongs to: the buffer of the `γ` it was
/// called with, which every clone of a model's `γ` shares (generated code
/// clones the model's tensors by reference count).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LayerKey(usize);

impl LayerKey {
    /// The key of the layer whose scale is `gamma`.
    pub fn of<T: Element>(gamma: &Tensor<T>) -> LayerKey {
        LayerKey(gamma.storage_key())
    }
}

/// What batch norm calls on this thread do besides their own work.
enum Session {
    /// Nothing.
    Off,
    /// Push each call's key and `BatchStats<T>`.
    Recording(Vec<(LayerKey, Box<dyn Any>)>),
    /// Normalise a call by its layer's boxed `(mean, var)`: `(Tensor<T>, Tensor<T>)`.
    Evaluating(Vec<(LayerKey, Box<dyn Any>)>),
}

thread_local! {
    static SESSION: RefCell<Session> = const { RefCell::new(Session::Off) };
}

/// Runs `f` (a training step) and returns its result with the batch
/// statistics of every training-mode batch norm it ran, in call order, each
/// with its layer's key.
pub fn record_batch_stats<T: Element, R>(
    f: impl FnOnce() -> R,
) -> (R, Vec<(LayerKey, BatchStats<T>)>) {
    let previous = SESSION.with(|s| s.replace(Session::Recording(Vec::new())));
    let result = f();
    let recorded = SESSION.with(|s| s.replace(previous));
    let stats = match recorded {
        Session::Recording(all) => all
            .into_iter()
            .filter_map(|(key, b)| b.downcast::<BatchStats<T>>().ok().map(|b| (key, *b)))
            .collect(),
        _ => Vec::new(),
    };
    (result, stats)
}

/// Runs `f` (an evaluation) with every batch norm whose `γ` has a key in
/// `running` normalising by that entry's `(mean, var)` instead of its
/// batch's statistics.
///
/// # Panics
/// Inside `f`, at a batch norm whose `γ` has no entry: evaluation mode
/// would otherwise silently use batch statistics.
pub fn with_running_stats<T: Element, R>(
    running: &[(LayerKey, Tensor<T>, Tensor<T>)],
    f: impl FnOnce() -> R,
) -> R {
    let boxed = running
        .iter()
        .map(|(key, mean, var)| (*key, Box::new((mean.clone(), var.clone())) as Box<dyn Any>))
        .collect();
    let previous = SESSION.with(|s| s.replace(Session::Evaluating(boxed)));
    let result = f();
    SESSION.with(|s| s.replace(previous));
    result
}

/// Called by every training-mode batch norm: the running `(mean, var)` of
/// its layer to normalise with instead, inside [`with_running_stats`].
pub(crate) fn running_for<T: Element>(gamma: &Tensor<T>) -> Option<(Tensor<T>, Tensor<T>)> {
    let key = LayerKey::of(gamma);
    SESSION.with(|s| match &*s.borrow() {
        Session::Evaluating(running) => {
            let Some((_, pair)) = running.iter().find(|(k, _)| *k == key) else {
                panic!(
                    "batch_norm in evaluation mode: no running statistics for this batch norm's γ \
                     (evaluation knows the {} batch norm layers of its model; call batch norm \
                     through a model's `nn::BatchNorm` layer)",
                    running.len()
                );
            };
            pair.downcast_ref::<(Tensor<T>, Tensor<T>)>().cloned()
        }
        _ => None,
    })
}

/// Called by every training-mode batch norm with its `γ` and statistics:
/// kept inside [`record_batch_stats`].
pub(crate) fn record<T: Element>(gamma: &Tensor<T>, stats: &BatchStats<T>) {
    SESSION.with(|s| {
        if let Session::Recording(all) = &mut *s.borrow_mut() {
            all.push((LayerKey::of(gamma), Box::new(stats.clone())));
        }
    });
}
