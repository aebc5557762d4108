//! Training utilities around a model: checkpoints, a per-epoch progress bar,
//! a CSV metrics log, PNG plots of the training curves, evaluation, and the
//! training loop itself.
//!
//! - [`checkpoint`]: [`save`] and [`load_into`] any
//!   [`Parameters`](crate::params::Parameters) model, and [`save_training`]
//!   and [`load_training`] the whole state of a run (model, optimiser state,
//!   data order, position) for an exact resume; crash-safe and checksummed,
//!   with errors that name the file and the problem.
//! - [`progress`]: [`EpochProgress`], an indicatif bar over an epoch's
//!   batches showing the running loss, hidden when stdout is not a terminal.
//! - [`metrics`]: [`MetricsLog`], one CSV row per epoch, flushed each epoch.
//! - [`plot`]: [`plot_curves`], line plots of per-epoch series as PNG.
//! - [`eval`]: [`accuracy`] of a classifier on a data split, in chunks.
//! - [`run`]: [`Trainer`], the epoch loop with a learning-rate schedule, a
//!   step limit, and training checkpoints at epoch ends and every N steps,
//!   resumable from any of them bit for bit.
//! - [`mod@fit`]: [`fn@fit`], the plain epoch loop (gradient steps with a
//!   progress bar, then an evaluation), reporting each epoch.

pub mod checkpoint;
pub mod eval;
pub mod fit;
pub mod gallery;
pub mod metrics;
pub mod plot;
pub mod progress;
pub mod run;

#[cfg(test)]
mod tests;

pub use checkpoint::{
    inspect, load_into, load_training, save, save_training, CheckpointError, Position,
};
pub use eval::accuracy;
pub use fit::{fit, EpochReport};
pub use gallery::{plot_predictions, Prediction};
pub use metrics::{MetricsError, MetricsLog};
pub use plot::{plot_curves, plot_metrics, PlotError};
pub use progress::EpochProgress;
pub use run::{EpochEnd, RunError, Trainer};
