//! Batch norm's running statistics: how state the forward sweep computes
//! reaches the model, without the differentiated function taking it.
//!
//! A training step runs inside [`record_batch_stats`], which collects the
//! batch statistics of every training-mode batch norm the step computes (in
//! call order, generated code included); the caller folds them into its
//! running estimates once per step (`nn::RunningStats::update` in the facade;
//! running variance unbiased, as PyTorch stores it). Evaluation runs inside
//! [`with_running_stats`], where the `k`-th batch norm call normalises with
//! the `k`-th running estimate instead of the batch's statistics (evaluation
//! mode: no gradient is meant to flow there). Outside both, batch norm is
//! plain training mode. The scopes are per thread and nest by replacing.

use std::any::Any;
use std::cell::RefCell;

use super::batch_norm::BatchStats;
use crate::tensor::{Element, Tensor};

/// What batch norm calls on this thread do besides their own work.
enum Session {
    /// Nothing.
    Off,
    /// Push each call's `BatchStats<T>`.
    Recording(Vec<Box<dyn Any>>),
    /// Normalise call `k` with `(mean, var)` number `k`, boxed `(Tensor<T>, Tensor<T>)`.
    Evaluating {
        running: Vec<Box<dyn Any>>,
        next: usize,
    },
}

thread_local! {
    static SESSION: RefCell<Session> = const { RefCell::new(Session::Off) };
}

/// Runs `f` (a training step) and returns its result with the batch
/// statistics of every training-mode batch norm it ran, in call order.
pub fn record_batch_stats<T: Element, R>(f: impl FnOnce() -> R) -> (R, Vec<BatchStats<T>>) {
    let previous = SESSION.with(|s| s.replace(Session::Recording(Vec::new())));
    let result = f();
    let recorded = SESSION.with(|s| s.replace(previous));
    let stats = match recorded {
        Session::Recording(all) => all
            .into_iter()
            .filter_map(|b| b.downcast::<BatchStats<T>>().ok().map(|b| *b))
            .collect(),
        _ => Vec::new(),
    };
    (result, stats)
}

/// Runs `f` (an evaluation) with the `k`-th batch norm call normalising by
/// `running[k] = (mean, var)` instead of its batch's statistics.
///
/// # Panics
/// Inside `f`, if it runs more batch norms than `running` has entries.
pub fn with_running_stats<T: Element, R>(
    running: &[(Tensor<T>, Tensor<T>)],
    f: impl FnOnce() -> R,
) -> R {
    let boxed: Vec<Box<dyn Any>> = running
        .iter()
        .map(|pair| Box::new(pair.clone()) as Box<dyn Any>)
        .collect();
    let previous = SESSION.with(|s| {
        s.replace(Session::Evaluating {
            running: boxed,
            next: 0,
        })
    });
    let result = f();
    SESSION.with(|s| s.replace(previous));
    result
}

/// Called by every training-mode batch norm: the running `(mean, var)` to
/// normalise with instead, inside [`with_running_stats`].
pub(crate) fn running_for_next_call<T: Element>() -> Option<(Tensor<T>, Tensor<T>)> {
    SESSION.with(|s| match &mut *s.borrow_mut() {
        Session::Evaluating { running, next } => {
            let k = *next;
            *next += 1;
            let Some(pair) = running.get(k) else {
                panic!("batch_norm: call {} inside with_running_stats, which holds {} running statistics", k + 1, running.len());
            };
            pair.downcast_ref::<(Tensor<T>, Tensor<T>)>().cloned()
        }
        _ => None,
    })
}

/// Called by every training-mode batch norm with its statistics: kept
/// inside [`record_batch_stats`].
pub(crate) fn record<T: Element>(stats: &BatchStats<T>) {
    SESSION.with(|s| {
        if let Session::Recording(all) = &mut *s.borrow_mut() {
            all.push(Box::new(stats.clone()));
        }
    });
}
