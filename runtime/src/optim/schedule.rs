//! Learning-rate schedules as plain functions of the epoch, to feed
//! [`Optimizer::set_learning_rate`](super::Optimizer::set_learning_rate).

/// Step decay: `base·gamma^⌊epoch / step_size⌋`, the rate multiplied by
/// `gamma` every `step_size` epochs (PyTorch's `StepLR`). A `step_size` of 0
/// is treated as 1.
pub fn step_decay(base: f64, gamma: f64, step_size: usize, epoch: usize) -> f64 {
    let decays = epoch / step_size.max(1);
    base * gamma.powi(i32::try_from(decays).unwrap_or(i32::MAX))
}

/// Cosine annealing from `base` at epoch 0 to `min` at epoch `total`
/// (Loshchilov & Hutter 2017, "SGDR: Stochastic gradient descent with warm
/// restarts", one cycle without restarts):
/// `min + (base − min)·(1 + cos(π·epoch/total))/2`. Epochs from `total` on
/// (and every epoch when `total` is 0) get `min`.
pub fn cosine(base: f64, min: f64, epoch: usize, total: usize) -> f64 {
    if epoch >= total {
        return min;
    }
    let progress = epoch as f64 / total as f64;
    min + (base - min) * (1.0 + (std::f64::consts::PI * progress).cos()) / 2.0
}
