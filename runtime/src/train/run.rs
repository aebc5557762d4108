//! [`Trainer`]: the epoch loop with a learning-rate schedule, a step limit,
//! and training checkpoints at every epoch end and every N steps, from any
//! of which [`load_training`](super::load_training) resumes it exactly.

use std::path::PathBuf;
use std::time::Instant;

use thiserror::Error;

use super::checkpoint::{save_training, CheckpointError, Position, Stored};
use super::EpochProgress;
use crate::data::Batches;
use crate::optim::Optimizer;
use crate::params::Parameters;
use crate::tensor::Tensor;

/// What an epoch of [`Trainer::run`] measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochEnd {
    /// The epoch, counting from 1.
    pub epoch: usize,
    /// The mean training loss over all of the epoch's batches (those before
    /// a resume too).
    pub train_loss: f64,
    /// Seconds spent in this process on the epoch's steps and mid-epoch
    /// checkpoints.
    pub seconds: f64,
}

/// Why [`Trainer::run`] stopped early.
#[derive(Debug, Error)]
pub enum RunError<E> {
    /// A checkpoint could not be written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The epoch hook failed.
    #[error("{0}")]
    Epoch(E),
}

/// A learning rate as a function of the epoch (counting from 0).
type Schedule = Box<dyn Fn(usize) -> f64>;

/// How a run is laid out: its length, learning-rate schedule, step limit,
/// and where and how often it saves its state.
///
/// ```no_run
/// # use adjoint_runtime::{data::Batches, optim::{Adam, Optimizer}, tensor::Tensor, train::*};
/// # fn demo(model: &mut Vec<Tensor<f32>>, batches: &mut Batches,
/// #         grad: impl FnMut(&mut Vec<Tensor<f32>>, &Tensor<f32>, &[usize]) -> (f32, Vec<Tensor<f32>>))
/// #         -> Result<(), Box<dyn std::error::Error>> {
/// let mut adam = Adam::new(1e-3);
/// let trainer = Trainer::new(10)
///     .checkpoint("run/train.ckpt", 100)
///     .schedule(|epoch| adjoint_runtime::optim::schedule::cosine(1e-3, 0.0, epoch, 10));
/// // After a crash: the exact position, model, moments and data order.
/// let start = load_training("run/train.ckpt", model, &mut adam, batches)?;
/// trainer.run(model, &mut adam, batches, start, grad, |_, end| {
///     println!("epoch {}: loss {:.4}", end.epoch, end.train_loss);
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok(()) }
/// ```
pub struct Trainer {
    epochs: usize,
    max_steps: Option<usize>,
    checkpoint: Option<PathBuf>,
    every: usize,
    schedule: Option<Schedule>,
    progress: bool,
}

impl Trainer {
    /// `epochs` passes over the data, no schedule, no checkpoints, a
    /// progress bar on a terminal.
    pub fn new(epochs: usize) -> Self {
        Self {
            epochs,
            max_steps: None,
            checkpoint: None,
            every: 0,
            schedule: None,
            progress: true,
        }
    }

    /// Stops after `steps` optimiser steps in all (counting those before a
    /// resume), mid-epoch if need be, saving a checkpoint there.
    pub fn max_steps(mut self, steps: usize) -> Self {
        self.max_steps = Some(steps);
        self
    }

    /// Saves the run's state to `path` (with [`save_training`]) at the end
    /// of every epoch and, if `every` is not 0, after every `every`-th step.
    pub fn checkpoint(mut self, path: impl Into<PathBuf>, every: usize) -> Self {
        self.checkpoint = Some(path.into());
        self.every = every;
        self
    }

    /// Sets the learning rate to `lr(epoch)` (epochs counting from 0) at
    /// the start of every epoch, a resumed one included.
    pub fn schedule(mut self, lr: impl Fn(usize) -> f64 + 'static) -> Self {
        self.schedule = Some(Box::new(lr));
        self
    }

    /// Whether to show a progress bar (only ever on a terminal).
    pub fn progress_bar(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }

    /// Trains `model` from `start` (a fresh [`Position::start`] or what
    /// [`load_training`](super::load_training) returned) to the end of the
    /// last epoch or the step limit: for each batch, `gradient(model,
    /// images, labels)` gives the loss and the gradient (and may update the
    /// model's buffers: `nn::train` folds batch norm statistics into them)
    /// and `optimizer` steps; after each epoch `on_epoch` sees the model and the epoch's
    /// figures (to evaluate, print, log), then the checkpoint is written.
    /// Returns where the run stopped.
    ///
    /// A run resumed from a checkpoint of this trainer takes exactly the
    /// steps the uninterrupted run would have taken: the same batches in
    /// the same order with the same learning rates from the same optimiser
    /// state, so (on the same machine and thread count) it ends with the
    /// same parameters, bit for bit.
    pub fn run<M, O, E>(
        &self,
        model: &mut M,
        optimizer: &mut O,
        batches: &mut Batches,
        start: Position,
        mut gradient: impl FnMut(&mut M, &Tensor<f32>, &[usize]) -> (f32, M),
        mut on_epoch: impl FnMut(&M, &EpochEnd) -> Result<(), E>,
    ) -> Result<Position, RunError<E>>
    where
        M: Parameters,
        M::Elem: Stored,
        O: Optimizer<M> + ?Sized,
    {
        let per_epoch = batches.batches_per_epoch();
        let mut global = start.global_step(per_epoch);
        let mut position = start;
        for epoch in start.epoch + 1..=self.epochs {
            if self.limit_reached(global) {
                return Ok(position);
            }
            if let Some(lr) = &self.schedule {
                optimizer.set_learning_rate(lr(epoch - 1));
            }
            let first = position.step;
            if first == 0 {
                batches.shuffle();
            }
            let mut progress = self.bar(epoch, per_epoch).resumed(first, position.loss_sum);
            let timer = Instant::now();
            for (step, (x, labels)) in (first + 1..).zip(batches.current_epoch(first)) {
                let (loss, grad) = gradient(&mut *model, &x, &labels);
                progress.step(f64::from(loss));
                optimizer.step(model, &grad);
                global += 1;
                position = Position {
                    epoch: epoch - 1,
                    step,
                    loss_sum: progress.loss_sum(),
                };
                if step == per_epoch {
                    break;
                }
                let stop = self.limit_reached(global);
                if stop || (self.every > 0 && global % self.every == 0) {
                    self.save(model, optimizer, batches, &position)?;
                }
                if stop {
                    progress.finish();
                    return Ok(position);
                }
            }
            let end = EpochEnd {
                epoch,
                train_loss: progress.finish(),
                seconds: timer.elapsed().as_secs_f64(),
            };
            on_epoch(model, &end).map_err(RunError::Epoch)?;
            position = Position {
                epoch,
                step: 0,
                loss_sum: 0.0,
            };
            self.save(model, optimizer, batches, &position)?;
        }
        Ok(position)
    }

    /// Whether `global` steps reach the step limit.
    fn limit_reached(&self, global: usize) -> bool {
        self.max_steps.is_some_and(|max| global >= max)
    }

    /// The progress bar of `epoch`.
    fn bar(&self, epoch: usize, batches: usize) -> EpochProgress {
        if self.progress {
            EpochProgress::new(epoch, self.epochs, batches)
        } else {
            EpochProgress::hidden(epoch, self.epochs, batches)
        }
    }

    /// Writes the checkpoint, if there is one.
    fn save<M, O>(
        &self,
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
        match &self.checkpoint {
            Some(path) => save_training(path, model, optimizer, batches, position),
            None => Ok(()),
        }
    }
}
