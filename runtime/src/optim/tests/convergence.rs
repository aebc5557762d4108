//! Every optimiser minimises a badly scaled quadratic
//! `½ Σ aᵢ (wᵢ − cᵢ)²` from the same start.

use super::{flatten, model};
use crate::optim::{schedule, Adagrad, Adam, AdamW, Optimizer, RmsProp, Sgd};
use crate::tensor::Tensor;

/// The curvatures `aᵢ` of the quadratic (condition number 8).
const CURVATURE: [f64; 7] = [0.5, 1.0, 2.0, 4.0, 0.75, 3.0, 1.5];
/// The minimiser `c`.
const TARGET: [f64; 7] = [1.0, -2.0, 0.5, 3.0, -0.25, 0.0, 2.0];

/// The gradient `aᵢ (wᵢ − cᵢ)` at `params`.
fn gradient(params: &[Tensor<f64>]) -> Vec<Tensor<f64>> {
    let w = flatten(params);
    let g: Vec<f64> = (0..w.len())
        .map(|i| CURVATURE[i] * (w[i] - TARGET[i]))
        .collect();
    model(&g)
}

/// Runs `steps` steps of `opt` from zero, setting the learning rate to
/// `lr(epoch)` before each, and returns the largest distance to the target.
fn distance_after(
    opt: &mut impl Optimizer<Vec<Tensor<f64>>>,
    steps: usize,
    lr: impl Fn(usize) -> f64,
) -> f64 {
    let mut params = model(&[0.0; 7]);
    for epoch in 0..steps {
        opt.set_learning_rate(lr(epoch));
        let grads = gradient(&params);
        opt.step(&mut params, &grads);
    }
    flatten(&params)
        .iter()
        .zip(TARGET)
        .map(|(w, c)| (w - c).abs())
        .fold(0.0, f64::max)
}

#[test]
fn sgd_converges() {
    // Contraction |1 − 0.2·aᵢ| ≤ 0.9 per step: 0.9³⁰⁰ ≈ 2e-14.
    let d = distance_after(&mut Sgd::new(0.2), 300, |_| 0.2);
    assert!(d < 1e-10, "{d}");
}

#[test]
fn sgd_with_momentum_converges_faster_than_without() {
    let plain = distance_after(&mut Sgd::new(0.05), 100, |_| 0.05);
    let mut heavy = Sgd::new(0.05).with_momentum(0.8);
    let momentum = distance_after(&mut heavy, 100, |_| 0.05);
    let mut nesterov = Sgd::new(0.05).with_momentum(0.8).with_nesterov(true);
    let nesterov = distance_after(&mut nesterov, 100, |_| 0.05);
    assert!(momentum < 1e-4 && nesterov < 1e-4, "{momentum} {nesterov}");
    assert!(plain > 1e-2, "{plain}");
}

#[test]
fn adagrad_converges() {
    let d = distance_after(&mut Adagrad::new(1.0), 500, |_| 1.0);
    assert!(d < 1e-8, "{d}");
}

#[test]
fn rmsprop_converges_with_cosine_annealing() {
    let lr = |e| schedule::cosine(0.05, 0.0, e, 2000);
    let d = distance_after(&mut RmsProp::new(0.05), 2000, lr);
    assert!(d < 1e-4, "{d}");
}

#[test]
fn adam_converges_with_cosine_annealing() {
    let lr = |e| schedule::cosine(0.1, 0.0, e, 2000);
    let d = distance_after(&mut Adam::new(0.1), 2000, lr);
    assert!(d < 1e-4, "{d}");
}

#[test]
fn adamw_decays_toward_zero() {
    // The decay pulls the minimiser of each coordinate toward zero; without
    // it AdamW reaches the target like Adam.
    let lr = |e| schedule::cosine(0.1, 0.0, e, 2000);
    let plain = distance_after(&mut AdamW::new(0.1).with_weight_decay(0.0), 2000, lr);
    assert!(plain < 1e-4, "{plain}");
    let mut params = model(&[0.0; 7]);
    let mut opt = AdamW::new(0.1).with_weight_decay(0.1);
    for epoch in 0..2000 {
        opt.set_learning_rate(lr(epoch));
        let grads = gradient(&params);
        opt.step(&mut params, &grads);
    }
    let w = flatten(&params);
    for i in 0..7 {
        assert!(w[i].abs() <= TARGET[i].abs() + 1e-6, "{w:?}");
    }
    assert!(w[3] < 2.99 && w[3] > 2.0, "{w:?}");
}
