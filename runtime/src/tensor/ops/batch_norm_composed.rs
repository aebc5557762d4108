//! Batch normalisation composed of tensor ops (channel sums by `sum_axis`,
//! broadcast arithmetic), for tensors on a CUDA device: every op used here
//! runs there, so batch norm does too without kernels of its own. The same
//! arithmetic as the host kernels of `batch_norm.rs` (two-pass variance,
//! `dx = (γ·inv/m)(m·dy − dβ − x̂·dγ)`), checked against them on the CPU.
//! `(n, c, s)` are the checked dims: `s = H·W` (1 for `[N, C]` input).

use super::batch_norm::{BatchNormGrads, BatchStats};
use super::scalar::{add_scalar, mul_scalar, rdiv_scalar};
use crate::tensor::{Element, Tensor};

/// A `[C]` tensor shaped to broadcast over `[N, C, S]`.
fn per_channel<T: Element>(t: &Tensor<T>, c: usize) -> Tensor<T> {
    t.reshape(&[1, c, 1])
}

/// The per-channel sums of `[N, C, S]`.
fn channel_sums<T: Element>(t: &Tensor<T>) -> Tensor<T> {
    t.sum_axis(2, false).sum_axis(0, false)
}

/// `1 / √(var + ε)`.
fn inv_std<T: Element>(var: &Tensor<T>, eps: f64) -> Tensor<T> {
    rdiv_scalar(T::one(), &add_scalar(var, T::cast_f64(eps)).sqrt())
}

/// `γ (x - μ) inv + β` per channel.
fn affine<T: Element>(
    x: &Tensor<T>,
    (n, c, s): (usize, usize, usize),
    gamma: &Tensor<T>,
    beta: &Tensor<T>,
    mean: &Tensor<T>,
    inv: &Tensor<T>,
) -> Tensor<T> {
    let centered = &x.reshape(&[n, c, s]) - &per_channel(mean, c);
    let y = &(&centered * &per_channel(&(inv * gamma), c)) + &per_channel(beta, c);
    y.reshape(x.shape())
}

/// Training mode: the batch's statistics and the normalised input.
pub(crate) fn train<T: Element>(
    x: &Tensor<T>,
    gamma: &Tensor<T>,
    beta: &Tensor<T>,
    eps: f64,
    (n, c, s): (usize, usize, usize),
) -> (Tensor<T>, BatchStats<T>) {
    let m = n * s;
    let scale = T::one() / T::cast_usize(m);
    let x3 = x.reshape(&[n, c, s]);
    let mean = mul_scalar(&channel_sums(&x3), scale);
    let centered = &x3 - &per_channel(&mean, c);
    let var = mul_scalar(&channel_sums(&centered.square()), scale);
    let inv = inv_std(&var, eps);
    let y = affine(x, (n, c, s), gamma, beta, &mean, &inv);
    let stats = BatchStats {
        mean,
        var,
        inv_std: inv,
        count: m,
    };
    (y, stats)
}

/// Evaluation mode: normalised by the running estimates, which are
/// returned as the statistics.
pub(crate) fn eval<T: Element>(
    x: &Tensor<T>,
    gamma: &Tensor<T>,
    beta: &Tensor<T>,
    running_mean: &Tensor<T>,
    running_var: &Tensor<T>,
    eps: f64,
    dims: (usize, usize, usize),
) -> (Tensor<T>, BatchStats<T>) {
    let inv = inv_std(running_var, eps);
    let y = affine(x, dims, gamma, beta, running_mean, &inv);
    let stats = BatchStats {
        mean: running_mean.clone(),
        var: running_var.clone(),
        inv_std: inv,
        count: dims.0 * dims.2,
    };
    (y, stats)
}

/// The training-mode adjoint: `(dx, dγ, dβ)` where `needs` asks.
pub(crate) fn backward<T: Element>(
    x: &Tensor<T>,
    gamma: &Tensor<T>,
    stats: &BatchStats<T>,
    grad: &Tensor<T>,
    needs: [bool; 3],
    (n, c, s): (usize, usize, usize),
) -> BatchNormGrads<T> {
    let (g3, x3) = (grad.reshape(&[n, c, s]), x.reshape(&[n, c, s]));
    let xhat = &(&x3 - &per_channel(&stats.mean, c)) * &per_channel(&stats.inv_std, c);
    let dbeta = channel_sums(&g3);
    let dgamma = channel_sums(&(&g3 * &xhat));
    let dx = needs[0].then(|| {
        let m = T::cast_usize(stats.count);
        let k = mul_scalar(&(gamma * &stats.inv_std), T::one() / m);
        let inner =
            &(&mul_scalar(&g3, m) - &per_channel(&dbeta, c)) - &(&xhat * &per_channel(&dgamma, c));
        (&per_channel(&k, c) * &inner).reshape(x.shape())
    });
    (dx, needs[1].then_some(dgamma), needs[2].then_some(dbeta))
}

/// PyTorch's running-statistics update, `running = (1 - momentum) running
/// + momentum · batch` (variance unbiased by `m / (m - 1)`).
pub(crate) fn update_running<T: Element>(
    running_mean: &mut Tensor<T>,
    running_var: &mut Tensor<T>,
    stats: &BatchStats<T>,
    momentum: f64,
) {
    let m = stats.count as f64;
    let unbias = if stats.count > 1 { m / (m - 1.0) } else { 1.0 };
    let keep = T::cast_f64(1.0 - momentum);
    *running_mean =
        &mul_scalar(running_mean, keep) + &mul_scalar(&stats.mean, T::cast_f64(momentum));
    *running_var =
        &mul_scalar(running_var, keep) + &mul_scalar(&stats.var, T::cast_f64(momentum * unbias));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::ops::batch_norm::{batch_norm_backward, try_batch_norm_eval};
    use rand::{rngs::StdRng, SeedableRng};

    fn close(a: &Tensor<f64>, b: &Tensor<f64>) {
        assert_eq!(a.shape(), b.shape());
        for (x, y) in a.data().iter().zip(b.data()) {
            assert!((x - y).abs() <= 1e-12 * y.abs().max(1.0), "{x} vs {y}");
        }
    }

    #[test]
    fn the_composition_computes_what_the_kernels_compute() {
        let mut rng = StdRng::seed_from_u64(8);
        for shape in [vec![3, 4, 2, 5], vec![6, 4]] {
            let dims = (shape[0], 4, shape.get(2).map_or(1, |h| h * shape[3]));
            let x = Tensor::<f64>::randn(&shape, &mut rng);
            let gamma = Tensor::<f64>::randn(&[4], &mut rng);
            let beta = Tensor::<f64>::randn(&[4], &mut rng);
            let g = Tensor::<f64>::randn(&shape, &mut rng);
            let (y, stats) = train(&x, &gamma, &beta, 1e-5, dims);
            let (ky, kstats) = x.batch_norm_with_stats(&gamma, &beta, 1e-5);
            close(&y, &ky);
            close(&stats.var, &kstats.var);
            close(&stats.inv_std, &kstats.inv_std);
            let (dx, dg, db) = backward(&x, &gamma, &stats, &g, [true; 3], dims);
            let (kdx, kdg, kdb) = batch_norm_backward(&x, &gamma, &kstats, &g, [true; 3]);
            for (a, b) in [(dx, kdx), (dg, kdg), (db, kdb)] {
                close(&a.expect("asked"), &b.expect("asked"));
            }
            let (ey, _) = eval(&x, &gamma, &beta, &stats.mean, &stats.var, 1e-5, dims);
            let ky = try_batch_norm_eval(&x, &gamma, &beta, &stats.mean, &stats.var, 1e-5)
                .expect("shapes fit");
            close(&ey, &ky);
            let (mut rm, mut rv) = (Tensor::zeros(&[4]), Tensor::ones(&[4]));
            let (mut km, mut kv) = (rm.clone(), rv.clone());
            update_running(&mut rm, &mut rv, &stats, 0.1);
            super::super::batch_norm::update_running_stats(&mut km, &mut kv, &kstats, 0.1)
                .expect("shapes fit");
            close(&rm, &km);
            close(&rv, &kv);
        }
    }
}
