//! [`EpochProgress`]: a progress bar over one epoch's batches.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar's layout: epoch, bar, batches done, running loss, time.
const TEMPLATE: &str = "epoch {prefix} [{bar:30}] {pos}/{len} {msg} {elapsed}";

/// A progress bar over the batches of one epoch that shows the running mean
/// loss. It draws on stdout only when stdout is a terminal, so logs and CI
/// output stay free of control characters; the mean is kept either way.
pub struct EpochProgress {
    bar: ProgressBar,
    total: f64,
    count: usize,
}

impl EpochProgress {
    /// A bar for epoch `epoch` of `epochs`, over `batches` batches.
    pub fn new(epoch: usize, epochs: usize, batches: usize) -> Self {
        let target = if std::io::stdout().is_terminal() {
            ProgressDrawTarget::stdout()
        } else {
            ProgressDrawTarget::hidden()
        };
        Self::with_target(epoch, epochs, batches, target)
    }

    /// A bar that never draws (for tests and quiet runs).
    pub fn hidden(epoch: usize, epochs: usize, batches: usize) -> Self {
        Self::with_target(epoch, epochs, batches, ProgressDrawTarget::hidden())
    }

    fn with_target(
        epoch: usize,
        epochs: usize,
        batches: usize,
        target: ProgressDrawTarget,
    ) -> Self {
        let style = ProgressStyle::with_template(TEMPLATE)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(Some(batches as u64), target).with_style(style);
        bar.set_prefix(format!("{epoch}/{epochs}"));
        Self {
            bar,
            total: 0.0,
            count: 0,
        }
    }

    /// The same bar continuing an epoch resumed after `batches` batches
    /// whose losses sum to `loss_sum`, so the running mean (and
    /// [`finish`](EpochProgress::finish)'s) covers the whole epoch.
    pub fn resumed(mut self, batches: usize, loss_sum: f64) -> Self {
        self.total = loss_sum;
        self.count = batches;
        self.bar.set_position(batches as u64);
        self
    }

    /// Records one batch and its loss, and advances the bar.
    pub fn step(&mut self, loss: f64) {
        self.total += loss;
        self.count += 1;
        self.bar
            .set_message(format!("loss {:.4}", self.mean_loss()));
        self.bar.inc(1);
    }

    /// The mean loss of the batches so far (0 before the first).
    pub fn mean_loss(&self) -> f64 {
        self.total / self.count.max(1) as f64
    }

    /// The sum of the losses recorded (what [`resumed`](EpochProgress::resumed)
    /// takes back).
    pub fn loss_sum(&self) -> f64 {
        self.total
    }

    /// The number of batches recorded.
    pub fn batches(&self) -> usize {
        self.count
    }

    /// Removes the bar from the terminal and returns the epoch's mean loss.
    pub fn finish(self) -> f64 {
        self.bar.finish_and_clear();
        self.mean_loss()
    }
}
