//! [`save_training`] and [`load_training`]: the whole state of a training
//! run (model, optimiser, data order, position) in one checkpoint, so a
//! resumed run takes exactly the steps the interrupted one would have.

use std::path::Path;

use super::contents::{prefixed, Contents};
use super::format::Entry;
use super::{assign, read_file, write_file, CheckpointError, Stored};
use crate::data::{Batches, ShuffleState};
use crate::optim::{Optimizer, OptimizerState};
use crate::params::Parameters;

/// The name every training checkpoint has and a model checkpoint lacks.
pub(super) const MARKER: &str = "progress.epoch";

/// The prefix of the model's tensors in a training checkpoint.
pub(super) const MODEL: &str = "model";

/// Where a training run stands: after `epoch` whole epochs and `step`
/// batches of the next.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Position {
    /// Epochs completed.
    pub epoch: usize,
    /// Steps (batches) completed of the epoch after those; 0 at an epoch
    /// boundary, where the next epoch's order has not been drawn yet.
    pub step: usize,
    /// The sum of those steps' losses, so the epoch's mean loss is the same
    /// after a resume.
    pub loss_sum: f64,
}

impl Position {
    /// The start of a run: nothing done.
    pub fn start() -> Self {
        Self::default()
    }

    /// The optimiser steps taken in all, with `batches_per_epoch` steps to
    /// an epoch.
    pub fn global_step(&self, batches_per_epoch: usize) -> usize {
        self.epoch * batches_per_epoch + self.step
    }
}

/// Writes the state of a training run to `path` (see the
/// [module](super) docs for the names and the format): `model`, the state
/// of `optimizer` (learning rate, hyperparameters, counters, moments),
/// where `batches` stands in its sequence of shuffles, and `position`.
/// Crash-safe: the file is written to `PATH.tmp`, synced and renamed.
///
/// At an epoch boundary (`position.step == 0`) `batches` holds the order of
/// the epoch just finished; inside an epoch, the order of that epoch.
pub fn save_training<M, O>(
    path: impl AsRef<Path>,
    model: &M,
    optimizer: &O,
    batches: &Batches,
    position: &Position,
) -> Result<(), CheckpointError>
where
    M: Parameters,
    M::Elem: Stored,
    O: Optimizer<M> + ?Sized,
{
    let mut entries: Vec<Entry> = model
        .named_state()
        .iter()
        .map(|(name, t)| Entry::tensor(prefixed(MODEL, name), t))
        .collect();
    optimizer_entries(optimizer.state(model), &mut entries);
    data_entries(&batches.shuffle_state(), batches, &mut entries);
    entries.extend([
        Entry::u64(MARKER, position.epoch as u64),
        Entry::u64("progress.step", position.step as u64),
        Entry::f64("progress.loss_sum", position.loss_sum),
    ]);
    write_file(path.as_ref(), &entries)
}

/// Restores a run saved by [`save_training`]: replaces the tensors of
/// `model`, the state of `optimizer` and the shuffle state of `batches`,
/// and returns the position to continue from.
///
/// Fails, changing none of the three, when the file cannot be read, is
/// truncated or corrupt (checksum), is a model-only checkpoint, holds a
/// model of another structure, the state of another optimiser (algorithm,
/// hyperparameters), or the order of other data (number of examples, batch
/// size). The error names the file and what does not fit.
pub fn load_training<M, O>(
    path: impl AsRef<Path>,
    model: &mut M,
    optimizer: &mut O,
    batches: &mut Batches,
) -> Result<Position, CheckpointError>
where
    M: Parameters,
    M::Elem: Stored,
    O: Optimizer<M> + ?Sized,
{
    let path = path.as_ref();
    let bytes = read_file(path)?;
    let mut contents = Contents::parse(path, &bytes)?;
    if !contents.contains(MARKER) {
        return Err(CheckpointError::NotTraining {
            path: path.to_path_buf(),
            missing: MARKER,
        });
    }
    let tensors = contents.model(model, MODEL)?;
    let order = read_data(&mut contents, batches)?;
    let position = read_position(&mut contents, batches.batches_per_epoch())?;
    let state = read_optimizer(&mut contents)?;
    contents.finish()?;

    let previous = batches.shuffle_state();
    batches
        .set_shuffle_state(&order)
        .map_err(|e| CheckpointError::Data {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    if let Err(source) = optimizer.load_state(model, state) {
        // `previous` is this data's own state, which it always accepts.
        let _ = batches.set_shuffle_state(&previous);
        return Err(CheckpointError::Optimizer {
            path: path.to_path_buf(),
            source,
        });
    }
    assign(model, tensors);
    Ok(position)
}

/// Appends the optimiser's state under `optimizer.`.
fn optimizer_entries<E: Stored>(state: OptimizerState<E>, entries: &mut Vec<Entry>) {
    entries.push(Entry::bytes("optimizer.kind", state.kind.as_bytes()));
    entries.push(Entry::f64("optimizer.learning_rate", state.learning_rate));
    for (name, value) in &state.hyperparameters {
        entries.push(Entry::f64(format!("optimizer.hyper.{name}"), *value));
    }
    for (name, value) in &state.counters {
        entries.push(Entry::u64(format!("optimizer.count.{name}"), *value));
    }
    for (name, t) in &state.tensors {
        entries.push(Entry::tensor(format!("optimizer.state.{name}"), t));
    }
}

/// Appends the batching and the shuffle state under `data.`.
fn data_entries(order: &ShuffleState, batches: &Batches, entries: &mut Vec<Entry>) {
    let indices: Vec<u64> = order.order.iter().map(|&i| i as u64).collect();
    entries.extend([
        Entry::u64("data.batch_size", batches.batch_size() as u64),
        Entry::u64("data.batches_per_epoch", batches.batches_per_epoch() as u64),
        Entry::u64s("data.order", &indices),
        Entry::bytes("data.rng.seed", &order.seed),
        Entry::u64("data.rng.stream", order.stream),
        Entry::u64s(
            "data.rng.word_pos",
            &[order.word_pos as u64, (order.word_pos >> 64) as u64],
        ),
    ]);
}

/// The optimiser's state from the `optimizer.` entries.
fn read_optimizer<E: Stored>(c: &mut Contents<'_>) -> Result<OptimizerState<E>, CheckpointError> {
    let kind = c.text("optimizer.kind")?;
    let learning_rate = c.f64("optimizer.learning_rate")?;
    let mut hyperparameters = Vec::new();
    for name in c.names_under("optimizer.hyper.") {
        let value = c.f64(&name)?;
        hyperparameters.push((strip(&name, "optimizer.hyper."), value));
    }
    let mut counters = Vec::new();
    for name in c.names_under("optimizer.count.") {
        let value = c.u64(&name)?;
        counters.push((strip(&name, "optimizer.count."), value));
    }
    let mut tensors = Vec::new();
    for name in c.names_under("optimizer.state.") {
        let t = c.any_tensor(&name)?;
        tensors.push((strip(&name, "optimizer.state."), t));
    }
    Ok(OptimizerState {
        kind,
        learning_rate,
        hyperparameters,
        counters,
        tensors,
    })
}

/// The shuffle state from the `data.` entries, checked against `batches`.
fn read_data(c: &mut Contents<'_>, batches: &Batches) -> Result<ShuffleState, CheckpointError> {
    let path = c.path();
    let mismatch = |detail: String| CheckpointError::Data {
        path: path.clone(),
        detail,
    };
    let order = c.u64s("data.order", None)?;
    if order.len() != batches.len() {
        return Err(mismatch(format!(
            "the checkpoint was trained on {} examples, this run has {}",
            order.len(),
            batches.len()
        )));
    }
    let batch_size = c.u64("data.batch_size")?;
    if batch_size != batches.batch_size() as u64 {
        return Err(mismatch(format!(
            "the checkpoint's batch size is {batch_size}, this run's is {}",
            batches.batch_size()
        )));
    }
    let per_epoch = c.u64("data.batches_per_epoch")?;
    if per_epoch != batches.batches_per_epoch() as u64 {
        return Err(mismatch(format!(
            "the checkpoint has {per_epoch} batches per epoch, this run has {}",
            batches.batches_per_epoch()
        )));
    }
    let seed = c.bytes("data.rng.seed", Some(32))?;
    let stream = c.u64("data.rng.stream")?;
    let word_pos = c.u64s("data.rng.word_pos", Some(2))?;
    let mut key = [0; 32];
    key.copy_from_slice(&seed);
    let state = ShuffleState {
        order: order
            .iter()
            .map(|&i| usize::try_from(i).unwrap_or(usize::MAX))
            .collect(),
        seed: key,
        stream,
        word_pos: u128::from(word_pos[0]) | (u128::from(word_pos[1]) << 64),
    };
    state
        .check(batches.len())
        .map_err(|detail| CheckpointError::Corrupt {
            path,
            detail: format!("`data.order`: {detail}"),
        })?;
    Ok(state)
}

/// The position from the `progress.` entries; its step must lie inside an
/// epoch of `batches_per_epoch` batches.
fn read_position(
    c: &mut Contents<'_>,
    batches_per_epoch: usize,
) -> Result<Position, CheckpointError> {
    let epoch = c.u64(MARKER)?;
    let step = c.u64("progress.step")?;
    let loss_sum = c.f64("progress.loss_sum")?;
    let count = |name: &str, n: u64| {
        usize::try_from(n).map_err(|_| CheckpointError::Corrupt {
            path: c.path(),
            detail: format!("`{name}` {n} is too large"),
        })
    };
    let position = Position {
        epoch: count(MARKER, epoch)?,
        step: count("progress.step", step)?,
        loss_sum,
    };
    if position.step >= batches_per_epoch.max(1) {
        return Err(CheckpointError::Corrupt {
            path: c.path(),
            detail: format!(
                "`progress.step` {} is not inside an epoch of {batches_per_epoch} batches",
                position.step
            ),
        });
    }
    Ok(position)
}

/// `name` without `prefix`.
fn strip(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_string()
}
