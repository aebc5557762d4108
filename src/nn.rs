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

use crate::params::Buffer;
use crate::tensor::ops::batch_norm::update_running_stats;
use crate::tensor::ops::batch_norm_state::{record_batch_stats, with_running_stats, LayerKey};
use crate::tensor::rand::Rng;
use crate::{differentiable, Element, Parameters, ShapeError, Tensor};

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

/// Batch normalisation over channels: the learned scale and shift, and the
/// running estimates of the statistics (PyTorch's `running_mean` and
/// `running_var`, the variance unbiased) as [`Buffer`]s, which checkpoints
/// keep and optimisers and gradients never see. [`train`] updates the
/// estimates, [`evaluate`] normalises with them.
#[derive(Parameters, Clone, Debug)]
pub struct BatchNorm {
    /// Scale `γ`, `[C]`.
    pub gamma: Tensor,
    /// Shift `β`, `[C]`.
    pub beta: Tensor,
    /// Running mean per channel, `[C]` (starts at 0).
    pub running_mean: Buffer,
    /// Running unbiased variance per channel, `[C]` (starts at 1).
    pub running_var: Buffer,
}

impl BatchNorm {
    /// `γ = 1`, `β = 0`, running mean 0 and variance 1 for `channels`
    /// channels.
    pub fn new(channels: usize) -> Self {
        BatchNorm {
            gamma: Tensor::ones(&[channels]),
            beta: Tensor::zeros(&[channels]),
            running_mean: Buffer(Tensor::zeros(&[channels])),
            running_var: Buffer(Tensor::ones(&[channels])),
        }
    }
}

/// PyTorch's default weight of each new batch in the running estimates.
pub const MOMENTUM: f64 = 0.1;

/// Runs `step` (a training step over `model`, generated gradient code
/// included, its batch norms in training mode) and folds the batch
/// statistics each batch norm computed into the running estimates of the
/// model's [`BatchNorm`] layer it was called with, with weight `momentum`
/// ([`MOMENTUM`] is PyTorch's). The differentiated function stays pure:
/// the statistics reach the model here, once per step, after the step.
///
/// Fails, leaving the estimates unchanged, when a batch norm in the step
/// was called with a `γ` that is no `BatchNorm` layer of `model`.
///
/// ```
/// use adjoint::nn::{self, BatchNorm, MOMENTUM};
/// use adjoint::Tensor;
///
/// let mut bn = BatchNorm::new(2);
/// let x = Tensor::from_vec(vec![1.0, 10.0, 3.0, 30.0], &[2, 2]).unwrap();
/// nn::train(&mut bn, MOMENTUM, |bn| nn::batch_norm(bn, &x)).unwrap();
/// // Means 2 and 20, unbiased variances 2 and 200, after one step of momentum 0.1.
/// assert!((bn.running_mean.0.data()[1] - 2.0).abs() < 1e-5);
/// assert!((bn.running_var.0.data()[1] - (0.9 + 0.1 * 200.0)).abs() < 1e-3);
/// let y = nn::evaluate(&bn, |bn| nn::batch_norm(bn, &x));
/// assert!((y.data()[0] - (1.0 - 0.2) / (0.9f32 + 0.2 + 1e-5).sqrt()).abs() < 1e-5);
/// ```
pub fn train<M: Parameters, R>(
    model: &mut M,
    momentum: f64,
    step: impl FnOnce(&M) -> R,
) -> Result<R, ShapeError> {
    let (result, batches) = record_batch_stats::<M::Elem, R>(|| step(model));
    let mut layers = batch_norm_layers(model);
    for (key, batch) in &batches {
        let Some(layer) = layers.iter_mut().find(|l| l.key == *key) else {
            return Err(ShapeError::InvalidArgument {
                op: "nn::train",
                message: format!(
                    "a batch norm in the step was called with a γ that is none of the model's {} BatchNorm layers",
                    layers.len()
                ),
            });
        };
        update_running_stats(&mut layer.mean, &mut layer.var, batch, momentum)?;
    }
    model.visit_buffers_mut(&mut String::new(), &mut |path, t| {
        for layer in &layers {
            if path == layer.path("running_mean") {
                *t = layer.mean.clone();
            } else if path == layer.path("running_var") {
                *t = layer.var.clone();
            }
        }
    });
    Ok(result)
}

/// Runs `f` on `model` with its batch norms in evaluation mode: each
/// normalises with the running estimates of its [`BatchNorm`] layer instead
/// of the batch's statistics.
pub fn evaluate<M: Parameters, R>(model: &M, f: impl FnOnce(&M) -> R) -> R {
    let running: Vec<_> = batch_norm_layers(model)
        .into_iter()
        .map(|l| (l.key, l.mean, l.var))
        .collect();
    with_running_stats(&running, || f(model))
}

/// One [`BatchNorm`] layer of a model: where it is, its `γ`'s key, its
/// running estimates.
struct Layer<E: Element> {
    prefix: String,
    key: LayerKey,
    mean: Tensor<E>,
    var: Tensor<E>,
}

impl<E: Element> Layer<E> {
    /// The path of the layer's field `name`.
    fn path(&self, name: &str) -> String {
        field_path(&self.prefix, name)
    }
}

/// The path of field `name` of the struct at `prefix`.
fn field_path(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// The model's batch norm layers: every `γ` with `running_mean` and
/// `running_var` buffers beside it.
fn batch_norm_layers<M: Parameters>(model: &M) -> Vec<Layer<M::Elem>> {
    let mut buffers = Vec::new();
    model.visit_buffers(&mut String::new(), &mut |path, t| {
        buffers.push((path.to_string(), t.clone()))
    });
    let buffer = |prefix: &str, name: &str| {
        let path = field_path(prefix, name);
        buffers
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, t)| t.clone())
    };
    model
        .named_tensors()
        .into_iter()
        .filter_map(|(path, gamma)| {
            let prefix = match path.strip_suffix("gamma")? {
                "" => "",
                p => p.strip_suffix('.')?,
            };
            Some(Layer {
                prefix: prefix.to_string(),
                key: LayerKey::of(&gamma),
                mean: buffer(prefix, "running_mean")?,
                var: buffer(prefix, "running_var")?,
            })
        })
        .collect()
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
