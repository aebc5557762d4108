//! [`fit`]: the training loop most examples need — epochs of mini-batch
//! gradient steps with a progress bar, then an evaluation per epoch. For
//! schedules, step limits and checkpoints use [`Trainer`], which it runs.

use std::convert::Infallible;

use super::checkpoint::{Position, Stored};
use super::Trainer;
use crate::data::Batches;
use crate::optim::Optimizer;
use crate::params::Parameters;
use crate::tensor::Tensor;

/// What one epoch of [`fit`] measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochReport {
    /// The epoch, counting from 1.
    pub epoch: usize,
    /// The mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// What the evaluation returned after the epoch (e.g. test accuracy).
    pub metric: f64,
    /// Seconds spent in the gradient steps (not in the evaluation).
    pub seconds: f64,
}

/// Trains `model` for `epochs` passes over `batches`: for each batch,
/// `gradient(model, images, labels)` returns the loss and the gradient (a
/// value of the model's type, as `#[differentiable]` generates it) and
/// `optimizer` takes a step; after each epoch `evaluate(model)` gives the
/// metric reported with it, and `on_epoch` sees the report (to print or
/// log). Returns every epoch's report.
pub fn fit<M>(
    model: &mut M,
    optimizer: &mut dyn Optimizer<M>,
    batches: &mut Batches,
    epochs: usize,
    mut gradient: impl FnMut(&M, &Tensor<f32>, &[usize]) -> (f32, M),
    mut evaluate: impl FnMut(&M) -> f64,
    mut on_epoch: impl FnMut(&EpochReport),
) -> Vec<EpochReport>
where
    M: Parameters,
    M::Elem: Stored,
{
    let mut reports = Vec::with_capacity(epochs);
    let run = Trainer::new(epochs).run(
        model,
        optimizer,
        batches,
        Position::start(),
        |m: &mut M, x: &Tensor<f32>, labels: &[usize]| gradient(m, x, labels),
        |model, end| {
            let report = EpochReport {
                epoch: end.epoch,
                train_loss: end.train_loss,
                metric: evaluate(model),
                seconds: end.seconds,
            };
            on_epoch(&report);
            reports.push(report);
            Ok::<(), Infallible>(())
        },
    );
    if let Err(e) = run {
        unreachable!("fit writes no checkpoint and its epoch hook cannot fail: {e}");
    }
    reports
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::Sgd;

    #[test]
    fn fits_a_linear_model_and_reports_every_epoch() {
        // y = 2x: one weight, squared loss, exact gradient 2·mean((w x - y) x).
        let xs: Vec<f32> = (0..8).map(|i| i as f32 / 8.0).collect();
        let images = Tensor::from_vec(xs.clone(), &[8, 1]).expect("shape");
        let mut batches = Batches::new(images, (0..8).collect(), 4, 3).expect("batches");
        let mut model = vec![Tensor::<f32>::zeros(&[1])];
        let mut sgd = Sgd::new(1.0);
        let mut seen = Vec::new();
        let reports = fit(
            &mut model,
            &mut sgd,
            &mut batches,
            30,
            |m, x, rows| {
                let w = m[0].data()[0];
                let (mut loss, mut g) = (0.0, 0.0);
                for (xi, _) in x.data().iter().zip(rows) {
                    let r = w * xi - 2.0 * xi;
                    loss += r * r / rows.len() as f32;
                    g += 2.0 * r * xi / rows.len() as f32;
                }
                (loss, vec![Tensor::from_vec(vec![g], &[1]).expect("shape")])
            },
            |m| f64::from(m[0].data()[0]),
            |r| seen.push(r.epoch),
        );
        assert_eq!(reports.len(), 30);
        assert_eq!(seen, (1..=30).collect::<Vec<_>>());
        assert!(
            (reports[29].metric - 2.0).abs() < 1e-3,
            "w = {}",
            reports[29].metric
        );
        assert!(reports[29].train_loss < reports[0].train_loss);
    }
}
