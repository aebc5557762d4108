//! Layers as `#[differentiable]` functions over [`Parameters`] structs, the
//! building blocks of the seeds' networks: [`Linear`], [`Conv2d`] and
//! [`BatchNorm`] (per channel over `N, H, W` for 4-D input, over `N` for
//! 2-D: PyTorch's `BatchNorm2d` and `BatchNorm1d`). A network's loss calls
//! them like any helper (`let h = nn::conv2d(&p.conv1, &x, 1, 1);`), and its
//! gradient flows through their generated pullbacks.
//!
//! Initialisation follows PyTorch's defaults: weights and biases uniform in
//! `±1/√fan_in`, `γ = 1`, `β = 0`. A convolution's bias is stored as
//! `[out, 1, 1]`, so it broadcasts over `[N, out, H, W]`.
//!
//! ```
//! use adjoint::nn::{self, Conv2d, BatchNorm, Linear};
//! use adjoint::prelude::*;
//! use adjoint::tensor::rand::{rngs::StdRng, SeedableRng};
//!
//! #[derive(Parameters, Clone)]
//! struct Tiny {
//!     conv: Conv2d,
//!     bn: BatchNorm,
//!     fc: Linear,
//! }
//!
//! #[differentiable]
//! fn loss(p: &Tiny, #[constant] x: &Tensor, #[constant] labels: &[usize]) -> f32 {
//!     let h = nn::batch_norm(&p.bn, &nn::conv2d(&p.conv, x, 1, 1)).relu();
//!     let h = h.max_pool2d(2, 2, 0).global_avg_pool();
//!     cross_entropy(&nn::linear(&p.fc, &h), labels)
//! }
//!
//! let mut rng = StdRng::seed_from_u64(0);
//! let p = Tiny {
//!     conv: Conv2d::new(3, 4, 3, &mut rng),
//!     bn: BatchNorm::new(4),
//!     fc: Linear::new(4, 10, &mut rng),
//! };
//! let x = Tensor::randn(&[2, 3, 8, 8], &mut rng);
//! let g = loss_grad(&p, &x, &[1, 7]);
//! assert!(g.value > 0.0);
//! assert_eq!(g.p.conv.w.shape(), &[4, 3, 3, 3]);
//! ```

use crate::tensor::ops::batch_norm::{update_running_stats, BatchStats};
use crate::tensor::ops::batch_norm_state::{record_batch_stats, with_running_stats};
use crate::tensor::rand::Rng;
use crate::{differentiable, Parameters, ShapeError, Tensor};

/// A fully connected layer: `x·w + b`, weights `[in, out]`, bias `[out]`.
#[derive(Parameters, Clone, Debug)]
pub struct Linear {
    /// Weights `[in, out]`.
    pub w: Tensor,
    /// Bias `[out]`.
    pub b: Tensor,
}

impl Linear {
    /// PyTorch's default initialisation: uniform in `±1/√in`.
    pub fn new<R: Rng + ?Sized>(inputs: usize, outputs: usize, rng: &mut R) -> Self {
        let bound = 1.0 / (inputs as f32).sqrt();
        Linear {
            w: Tensor::uniform(&[inputs, outputs], -bound, bound, rng),
            b: Tensor::uniform(&[outputs], -bound, bound, rng),
        }
    }
}

/// A 2-D convolution: weights `[out, in, k, k]`, bias `[out, 1, 1]`.
#[derive(Parameters, Clone, Debug)]
pub struct Conv2d {
    /// Weights `[out, in, k, k]`.
    pub w: Tensor,
    /// Bias `[out, 1, 1]` (broadcast over the batch and the image).
    pub b: Tensor,
}

impl Conv2d {
    /// PyTorch's default initialisation: uniform in `±1/√(in·k·k)`.
    pub fn new<R: Rng + ?Sized>(inputs: usize, outputs: usize, kernel: usize, rng: &mut R) -> Self {
        let bound = 1.0 / ((inputs * kernel * kernel) as f32).sqrt();
        Conv2d {
            w: Tensor::uniform(&[outputs, inputs, kernel, kernel], -bound, bound, rng),
            b: Tensor::uniform(&[outputs, 1, 1], -bound, bound, rng),
        }
    }
}

/// Batch normalisation's learned scale and shift, one per channel.
#[derive(Parameters, Clone, Debug)]
pub struct BatchNorm {
    /// Scale `γ`, `[C]`.
    pub gamma: Tensor,
    /// Shift `β`, `[C]`.
    pub beta: Tensor,
}

impl BatchNorm {
    /// `γ = 1`, `β = 0` for `channels` channels.
    pub fn new(channels: usize) -> Self {
        BatchNorm {
            gamma: Tensor::ones(&[channels]),
            beta: Tensor::zeros(&[channels]),
        }
    }
}

/// The running estimates of one batch norm's statistics (PyTorch's
/// `running_mean` and `running_var`, the variance unbiased).
#[derive(Parameters, Clone, Debug)]
pub struct Running {
    /// Running mean per channel, `[C]` (starts at 0).
    pub mean: Tensor,
    /// Running unbiased variance per channel, `[C]` (starts at 1).
    pub var: Tensor,
}

/// The running statistics of a network's batch norms, in the order the
/// network calls them: non-trainable buffers kept next to the model, so
/// optimisers and gradients never see them; save them with `Weights`
/// (`save_safetensors`) next to the checkpoint.
///
/// The differentiated function stays pure: a training step runs inside
/// [`RunningStats::train`], which collects the batch statistics its batch
/// norms computed and folds them in once per step; an evaluation runs inside
/// [`RunningStats::evaluate`], where every batch norm normalises with these
/// estimates (evaluation mode).
///
/// ```
/// use adjoint::nn::{RunningStats, MOMENTUM};
/// use adjoint::Tensor;
///
/// let mut running = RunningStats::new(&[2]);
/// let x = Tensor::from_vec(vec![1.0, 10.0, 3.0, 30.0], &[2, 2]).unwrap();
/// let (gamma, beta) = (Tensor::ones(&[2]), Tensor::zeros(&[2]));
/// running.train(MOMENTUM, || x.batch_norm(&gamma, &beta, 1e-5)).unwrap();
/// // Means 2 and 20, unbiased variances 2 and 200, after one step of momentum 0.1.
/// assert!((running.layers[0].mean.data()[1] - 2.0).abs() < 1e-5);
/// assert!((running.layers[0].var.data()[1] - (0.9 + 0.1 * 200.0)).abs() < 1e-3);
/// let y = running.evaluate(|| x.batch_norm(&gamma, &beta, 1e-5));
/// assert!((y.data()[0] - (1.0 - 0.2) / (0.9f32 + 0.2 + 1e-5).sqrt()).abs() < 1e-5);
/// ```
#[derive(Parameters, Clone, Debug)]
pub struct RunningStats {
    /// One entry per batch norm call of the network, in call order.
    pub layers: Vec<Running>,
}

/// PyTorch's default weight of each new batch in the running estimates.
pub const MOMENTUM: f64 = 0.1;

impl RunningStats {
    /// Fresh estimates (mean 0, variance 1) for batch norms over these
    /// channel counts.
    pub fn new(channels: &[usize]) -> Self {
        RunningStats {
            layers: channels
                .iter()
                .map(|&c| Running {
                    mean: Tensor::zeros(&[c]),
                    var: Tensor::ones(&[c]),
                })
                .collect(),
        }
    }

    /// Runs `step` (a training step calling the network's batch norms in
    /// training mode, generated gradient code included) and folds the batch
    /// statistics it computed into the estimates with weight `momentum`
    /// ([`MOMENTUM`] is PyTorch's); fails when the step ran another number of
    /// batch norms, or another channel count, than these estimates hold.
    pub fn train<R>(&mut self, momentum: f64, step: impl FnOnce() -> R) -> Result<R, ShapeError> {
        let (result, batches): (R, Vec<BatchStats<f32>>) = record_batch_stats(step);
        if batches.len() != self.layers.len() {
            return Err(ShapeError::InvalidArgument {
                op: "RunningStats::train",
                message: format!(
                    "the step ran {} batch norms, the running statistics hold {}",
                    batches.len(),
                    self.layers.len()
                ),
            });
        }
        for (running, batch) in self.layers.iter_mut().zip(&batches) {
            update_running_stats(&mut running.mean, &mut running.var, batch, momentum)?;
        }
        Ok(result)
    }

    /// Runs `f` with its batch norms in evaluation mode: the `k`-th call
    /// normalises with the `k`-th running estimates.
    pub fn evaluate<R>(&self, f: impl FnOnce() -> R) -> R {
        let pairs: Vec<(Tensor, Tensor)> = self
            .layers
            .iter()
            .map(|r| (r.mean.clone(), r.var.clone()))
            .collect();
        with_running_stats(&pairs, f)
    }
}

/// `x·w + b` for `x` `[N, in]`.
#[differentiable]
pub fn linear(l: &Linear, x: &Tensor) -> Tensor {
    x.matmul(&l.w) + &l.b
}

/// The convolution of `x` `[N, in, H, W]` plus the bias.
#[differentiable]
pub fn conv2d(
    l: &Conv2d,
    x: &Tensor,
    #[constant] stride: usize,
    #[constant] padding: usize,
) -> Tensor {
    x.conv2d(&l.w, stride, padding) + &l.b
}

/// Training-mode batch normalisation with `ε = 1e-5` (the batch's own
/// statistics, biased variance).
#[differentiable]
pub fn batch_norm(l: &BatchNorm, x: &Tensor) -> Tensor {
    x.batch_norm(&l.gamma, &l.beta, 1e-5)
}
