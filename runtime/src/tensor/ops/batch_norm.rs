//! Batch normalisation over the channel axis (axis 1) of `[N, C, H, W]`
//! (statistics over `N, H, W`) or `[N, C]` (over `N`) inputs, with per-channel
//! scale `γ [C]` and shift `β [C]`.
//!
//! - Training ([`try_batch_norm_train`]): `y = γ x̂ + β` with
//!   `x̂ = (x - μ) / √(σ² + ε)`, `μ` and the biased `σ²` taken over the
//!   `m = N·H·W` elements of each channel. With `inv = 1 / √(σ² + ε)` the
//!   adjoints are `dβ = Σ dy`, `dγ = Σ dy · x̂` and
//!   `dx = (γ · inv / m) (m · dy - dβ - x̂ · dγ)` (sums per channel).
//! - Evaluation ([`try_batch_norm_eval`]): the same affine map with running
//!   statistics in place of the batch's, so `dx = dy · γ · inv` and `dγ`,
//!   `dβ` as above.
//! - Running statistics ([`update_running_stats`]), as PyTorch keeps them:
//!   `running = (1 - momentum) · running + momentum · batch`, the variance
//!   stored unbiased (`σ² · m / (m - 1)`).

use super::batch_norm_composed as composed;
use super::batch_norm_state::{record, running_for};
use crate::tensor::base::expect_same_shape;
use crate::tensor::error::or_panic;
use crate::tensor::{Element, ShapeError, Tensor};

/// What the training-mode backward (and the running-statistics update)
/// needs from the forward pass, per channel.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchStats<T: Element = f32> {
    /// The batch mean of each channel, `[C]`.
    pub mean: Tensor<T>,
    /// The biased (divide by `m`) batch variance of each channel, `[C]`.
    pub var: Tensor<T>,
    /// `1 / √(var + ε)` per channel, `[C]`.
    pub inv_std: Tensor<T>,
    /// The number of elements each channel's statistics are over (`N·H·W`).
    pub count: usize,
}

/// Whether `x` lives on a device, where batch norm runs as a composition of
/// tensor ops (`batch_norm_composed.rs`).
fn on_device<T: Element>(x: &Tensor<T>) -> bool {
    x.device() != crate::tensor::Device::Cpu
}

/// `(N, C, S)` of a batch-norm input (`S = H·W`, or 1 for `[N, C]`), after
/// checking that every per-channel parameter in `params` is `[C]`.
fn dims(
    op: &'static str,
    x: &[usize],
    params: &[&[usize]],
) -> Result<(usize, usize, usize), ShapeError> {
    let (n, c, s) = match *x {
        [n, c] => (n, c, 1),
        [n, c, h, w] => (n, c, h * w),
        _ => {
            return Err(ShapeError::Rank {
                op,
                expected: "an input of shape [N, C] or [N, C, H, W]",
                shape: x.to_vec(),
            })
        }
    };
    for p in params {
        if *p != [c] {
            return Err(ShapeError::Incompatible {
                op,
                what: format!("per-channel parameters must have shape [{c}]"),
                lhs: x.to_vec(),
                rhs: p.to_vec(),
            });
        }
    }
    Ok((n, c, s))
}

/// Calls `f(channel, block)` for every contiguous block of `s` elements of
/// an `[N, C, S]` buffer, in memory order.
fn for_blocks<T>(data: &[T], c: usize, s: usize, mut f: impl FnMut(usize, &[T])) {
    if s == 0 {
        return;
    }
    for (b, block) in data.chunks(s).enumerate() {
        f(b % c, block);
    }
}

/// Training-mode batch normalisation of `x` with scale `gamma` and shift
/// `beta`, returning the result and the batch statistics; fails for a wrong
/// rank, parameters not of shape `[C]`, or no elements per channel.
pub fn try_batch_norm_train<T: Element>(
    x: &Tensor<T>,
    gamma: &Tensor<T>,
    beta: &Tensor<T>,
    eps: f64,
) -> Result<(Tensor<T>, BatchStats<T>), ShapeError> {
    let (n, c, s) = dims("batch_norm", x.shape(), &[gamma.shape(), beta.shape()])?;
    let m = n * s;
    if m == 0 {
        return Err(ShapeError::EmptyReduction {
            op: "batch_norm",
            action: "normalise over",
            shape: x.shape().to_vec(),
            axis: None,
        });
    }
    if let Some((running_mean, running_var)) = running_for(gamma) {
        return eval_with(x, gamma, beta, &running_mean, &running_var, eps, m);
    }
    if on_device(x) {
        let (y, stats) = composed::train(x, gamma, beta, eps, (n, c, s));
        record(gamma, &stats);
        return Ok((y, stats));
    }
    let count = T::cast_usize(m);
    let mut mean = vec![T::zero(); c];
    for_blocks(x.data(), c, s, |ch, block| {
        mean[ch] = block.iter().fold(mean[ch], |acc, &v| acc + v);
    });
    mean.iter_mut().for_each(|v| *v = *v / count);
    let mut var = vec![T::zero(); c];
    for_blocks(x.data(), c, s, |ch, block| {
        let mu = mean[ch];
        var[ch] = block
            .iter()
            .fold(var[ch], |acc, &v| acc + (v - mu) * (v - mu));
    });
    var.iter_mut().for_each(|v| *v = *v / count);
    let eps = T::cast_f64(eps);
    let inv: Vec<T> = var.iter().map(|&v| T::one() / (v + eps).sqrt()).collect();
    let y = affine(x, c, s, gamma.data(), beta.data(), &mean, &inv);
    let stats = BatchStats {
        mean: Tensor::from_parts(mean, vec![c]),
        var: Tensor::from_parts(var, vec![c]),
        inv_std: Tensor::from_parts(inv, vec![c]),
        count: m,
    };
    record(gamma, &stats);
    Ok((y, stats))
}

/// Evaluation mode inside `with_running_stats`: the result normalised by
/// the running estimates, and those estimates as the statistics.
fn eval_with<T: Element>(
    x: &Tensor<T>,
    gamma: &Tensor<T>,
    beta: &Tensor<T>,
    running_mean: &Tensor<T>,
    running_var: &Tensor<T>,
    eps: f64,
    count: usize,
) -> Result<(Tensor<T>, BatchStats<T>), ShapeError> {
    if on_device(x) {
        let (n, c, s) = dims(
            "batch_norm",
            x.shape(),
            &[running_mean.shape(), running_var.shape()],
        )?;
        return Ok(composed::eval(
            x,
            gamma,
            beta,
            running_mean,
            running_var,
            eps,
            (n, c, s),
        ));
    }
    let y = try_batch_norm_eval(x, gamma, beta, running_mean, running_var, eps)?;
    let e = T::cast_f64(eps);
    let inv: Vec<T> = running_var
        .data()
        .iter()
        .map(|&v| T::one() / (v + e).sqrt())
        .collect();
    let stats = BatchStats {
        mean: running_mean.clone(),
        var: running_var.clone(),
        inv_std: Tensor::from_parts(inv, running_var.shape().to_vec()),
        count,
    };
    Ok((y, stats))
}

/// `γ (x - μ) inv + β` per channel.
fn affine<T: Element>(
    x: &Tensor<T>,
    c: usize,
    s: usize,
    gamma: &[T],
    beta: &[T],
    mean: &[T],
    inv: &[T],
) -> Tensor<T> {
    let mut out = Vec::with_capacity(x.len());
    for_blocks(x.data(), c, s, |ch, block| {
        let (scale, mu, shift) = (gamma[ch] * inv[ch], mean[ch], beta[ch]);
        out.extend(block.iter().map(|&v| (v - mu) * scale + shift));
    });
    Tensor::from_parts(out, x.shape().to_vec())
}

/// `(dβ, dγ) = (Σ dy, Σ dy · x̂)` per channel, `x̂ = (x - μ) inv`.
fn param_grads<T: Element>(
    x: &[T],
    g: &[T],
    c: usize,
    s: usize,
    mean: &[T],
    inv: &[T],
) -> (Vec<T>, Vec<T>) {
    let (mut dbeta, mut dgamma) = (vec![T::zero(); c], vec![T::zero(); c]);
    if s == 0 {
        return (dbeta, dgamma);
    }
    for (b, (xs, gs)) in x.chunks(s).zip(g.chunks(s)).enumerate() {
        let ch = b % c;
        let (mu, iv) = (mean[ch], inv[ch]);
        for (&xv, &gv) in xs.iter().zip(gs) {
            dbeta[ch] += gv;
            dgamma[ch] += gv * (xv - mu) * iv;
        }
    }
    (dbeta, dgamma)
}

/// The three optional gradients a batch-norm adjoint returns.
pub type BatchNormGrads<T> = (Option<Tensor<T>>, Option<Tensor<T>>, Option<Tensor<T>>);

/// Adjoint of [`try_batch_norm_train`] from its input, scale and statistics:
/// `(dx, dγ, dβ)`, each computed only when its flag in `needs` is set.
///
/// # Panics
/// If the shapes do not fit together or `grad` is not `x`'s shape.
#[track_caller]
pub fn batch_norm_backward<T: Element>(
    x: &Tensor<T>,
    gamma: &Tensor<T>,
    stats: &BatchStats<T>,
    grad: &Tensor<T>,
    needs: [bool; 3],
) -> BatchNormGrads<T> {
    let op = "batch_norm_backward";
    let (n, c, s) = or_panic(dims(
        op,
        x.shape(),
        &[gamma.shape(), stats.mean.shape(), stats.inv_std.shape()],
    ));
    expect_same_shape(op, grad.shape(), x.shape());
    if on_device(x) {
        return composed::backward(x, gamma, stats, grad, needs, (n, c, s));
    }
    let (mean, inv) = (stats.mean.data(), stats.inv_std.data());
    let (dbeta, dgamma) = param_grads(x.data(), grad.data(), c, s, mean, inv);
    let dx = needs[0].then(|| {
        let m = T::cast_usize(stats.count);
        let gd = gamma.data();
        let mut dx = Vec::with_capacity(x.len());
        if s > 0 {
            for (b, (xs, gs)) in x.data().chunks(s).zip(grad.data().chunks(s)).enumerate() {
                let ch = b % c;
                let (mu, iv) = (mean[ch], inv[ch]);
                let k = gd[ch] * iv / m;
                dx.extend(
                    xs.iter()
                        .zip(gs)
                        .map(|(&xv, &gv)| k * (m * gv - dbeta[ch] - (xv - mu) * iv * dgamma[ch])),
                );
            }
        }
        Tensor::from_parts(dx, x.shape().to_vec())
    });
    (
        dx,
        needs[1].then(|| Tensor::from_parts(dgamma, vec![c])),
        needs[2].then(|| Tensor::from_parts(dbeta, vec![c])),
    )
}

/// Tangent (forward mode) of [`try_batch_norm_train`] along tangents of its
/// input, scale and shift (`None` where one does not vary): the input's
/// Jacobian is symmetric per channel (`(γ·inv/m)(m·I − 1·1ᵀ − x̂·x̂ᵀ)`), so
/// its part is [`batch_norm_backward`] applied to `dx`; the others add
/// `dγ·x̂ + dβ`.
///
/// # Panics
/// If the shapes do not fit together.
#[track_caller]
pub fn batch_norm_tangent<T: Element>(
    x: &Tensor<T>,
    gamma: &Tensor<T>,
    stats: &BatchStats<T>,
    dx: Option<&Tensor<T>>,
    dgamma: Option<&Tensor<T>>,
    dbeta: Option<&Tensor<T>>,
) -> Tensor<T> {
    let op = "batch_norm_tangent";
    let (_, c, s) = or_panic(dims(op, x.shape(), &[gamma.shape(), stats.mean.shape()]));
    let mut out = match dx {
        Some(d) => batch_norm_backward(x, gamma, stats, d, [true, false, false])
            .0
            .unwrap_or_else(|| Tensor::zeros(x.shape())),
        None => Tensor::zeros(x.shape()),
    };
    if (dgamma.is_some() || dbeta.is_some()) && s > 0 {
        let (mean, inv) = (stats.mean.data(), stats.inv_std.data());
        let zero = vec![T::zero(); c];
        let dg = dgamma.map_or(&zero[..], |t| t.data());
        let db = dbeta.map_or(&zero[..], |t| t.data());
        let xs = x.data();
        for (b, chunk) in out.data_mut().chunks_mut(s).enumerate() {
            let ch = b % c;
            for (o, &xv) in chunk.iter_mut().zip(&xs[b * s..]) {
                *o = *o + dg[ch] * (xv - mean[ch]) * inv[ch] + db[ch];
            }
        }
    }
    out
}

/// Evaluation-mode batch normalisation, per channel
/// `γ (x - running_mean) / √(running_var + ε) + β`; fails for a wrong rank
/// or parameters not of shape `[C]`.
pub fn try_batch_norm_eval<T: Element>(
    x: &Tensor<T>,
    gamma: &Tensor<T>,
    beta: &Tensor<T>,
    running_mean: &Tensor<T>,
    running_var: &Tensor<T>,
    eps: f64,
) -> Result<Tensor<T>, ShapeError> {
    let (n, c, s) = dims(
        "batch_norm_eval",
        x.shape(),
        &[
            gamma.shape(),
            beta.shape(),
            running_mean.shape(),
            running_var.shape(),
        ],
    )?;
    if on_device(x) {
        let dims = (n, c, s);
        return Ok(composed::eval(x, gamma, beta, running_mean, running_var, eps, dims).0);
    }
    let inv = inv_std(running_var, eps);
    Ok(affine(
        x,
        c,
        s,
        gamma.data(),
        beta.data(),
        running_mean.data(),
        &inv,
    ))
}

/// `1 / √(var + ε)` element-wise.
fn inv_std<T: Element>(var: &Tensor<T>, eps: f64) -> Vec<T> {
    let eps = T::cast_f64(eps);
    var.data()
        .iter()
        .map(|&v| T::one() / (v + eps).sqrt())
        .collect()
}

/// Adjoint of [`try_batch_norm_eval`]: `(dx, dγ, dβ) = (dy γ inv, Σ dy x̂,
/// Σ dy)` with the running statistics fixed, each computed only when its
/// flag in `needs` is set.
///
/// # Panics
/// If the shapes do not fit together or `grad` is not `x`'s shape.
#[track_caller]
pub fn batch_norm_eval_backward<T: Element>(
    x: &Tensor<T>,
    gamma: &Tensor<T>,
    running_mean: &Tensor<T>,
    running_var: &Tensor<T>,
    eps: f64,
    grad: &Tensor<T>,
    needs: [bool; 3],
) -> BatchNormGrads<T> {
    let op = "batch_norm_eval_backward";
    let (_, c, s) = or_panic(dims(
        op,
        x.shape(),
        &[gamma.shape(), running_mean.shape(), running_var.shape()],
    ));
    expect_same_shape(op, grad.shape(), x.shape());
    let inv = inv_std(running_var, eps);
    let (dbeta, dgamma) = param_grads(x.data(), grad.data(), c, s, running_mean.data(), &inv);
    let dx = needs[0].then(|| {
        let gd = gamma.data();
        let mut dx = Vec::with_capacity(x.len());
        if s > 0 {
            for (b, gs) in grad.data().chunks(s).enumerate() {
                let k = gd[b % c] * inv[b % c];
                dx.extend(gs.iter().map(|&gv| gv * k));
            }
        }
        Tensor::from_parts(dx, x.shape().to_vec())
    });
    (
        dx,
        needs[1].then(|| Tensor::from_parts(dgamma, vec![c])),
        needs[2].then(|| Tensor::from_parts(dbeta, vec![c])),
    )
}

/// Updates running statistics in place as PyTorch does after a training
/// step: `running = (1 - momentum) running + momentum · batch`, the batch
/// variance made unbiased (`× m / (m - 1)`, left as is when `m = 1`).
/// Fails when the running tensors are not the statistics' shape `[C]`.
pub fn update_running_stats<T: Element>(
    running_mean: &mut Tensor<T>,
    running_var: &mut Tensor<T>,
    stats: &BatchStats<T>,
    momentum: f64,
) -> Result<(), ShapeError> {
    for running in [&*running_mean, &*running_var] {
        if running.shape() != stats.mean.shape() {
            return Err(ShapeError::Mismatch {
                op: "update_running_stats",
                lhs: running.shape().to_vec(),
                rhs: stats.mean.shape().to_vec(),
            });
        }
    }
    if on_device(running_mean) {
        composed::update_running(running_mean, running_var, stats, momentum);
        return Ok(());
    }
    let m = stats.count as f64;
    let unbias = if stats.count > 1 { m / (m - 1.0) } else { 1.0 };
    let (keep, take) = (T::cast_f64(1.0 - momentum), T::cast_f64(momentum));
    let unbias = T::cast_f64(unbias);
    for (r, &b) in running_mean.data_mut().iter_mut().zip(stats.mean.data()) {
        *r = keep * *r + take * b;
    }
    for (r, &b) in running_var.data_mut().iter_mut().zip(stats.var.data()) {
        *r = keep * *r + take * b * unbias;
    }
    Ok(())
}

impl<T: Element> Tensor<T> {
    /// Training-mode batch normalisation (see [`try_batch_norm_train`]):
    /// the result and the batch statistics, or an error naming the shapes.
    pub fn try_batch_norm(
        &self,
        gamma: &Self,
        beta: &Self,
        eps: f64,
    ) -> Result<(Self, BatchStats<T>), ShapeError> {
        try_batch_norm_train(self, gamma, beta, eps)
    }

    /// Training-mode batch normalisation: the result and the batch
    /// statistics; panics with e.g. `batch_norm: per-channel parameters must
    /// have shape [3]: [2, 3, 4, 4] and [4]`.
    #[track_caller]
    pub fn batch_norm_with_stats(
        &self,
        gamma: &Self,
        beta: &Self,
        eps: f64,
    ) -> (Self, BatchStats<T>) {
        or_panic(try_batch_norm_train(self, gamma, beta, eps))
    }

    /// Training-mode batch normalisation's value alone (see
    /// [`batch_norm_with_stats`](Self::batch_norm_with_stats)); this is the
    /// form `#[differentiable]` functions write.
    #[track_caller]
    pub fn batch_norm(&self, gamma: &Self, beta: &Self, eps: f64) -> Self {
        self.batch_norm_with_stats(gamma, beta, eps).0
    }

    /// Evaluation-mode batch normalisation with running statistics (see
    /// [`try_batch_norm_eval`]); panics on shapes that do not fit.
    #[track_caller]
    pub fn batch_norm_eval(
        &self,
        gamma: &Self,
        beta: &Self,
        running_mean: &Self,
        running_var: &Self,
        eps: f64,
    ) -> Self {
        or_panic(try_batch_norm_eval(
            self,
            gamma,
            beta,
            running_mean,
            running_var,
            eps,
        ))
    }
}
