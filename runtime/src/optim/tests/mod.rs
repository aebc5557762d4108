//! Tests of the optimisers: step-by-step agreement with the papers'
//! formulas written out over plain `f64` arrays, convergence on quadratics,
//! hand-written models in `f32`, the schedules, and the panics.

mod convergence;
mod model;
mod panics;
mod reference;
mod schedule;
mod state;

use super::Optimizer;
use crate::tensor::Tensor;

/// The shapes of the small test model: a vector and a matrix.
const SHAPES: [&[usize]; 2] = [&[3], &[2, 2]];

/// A model of the shapes in [`SHAPES`] holding `flat` in order.
fn model(flat: &[f64]) -> Vec<Tensor<f64>> {
    let mut rest = flat;
    SHAPES
        .iter()
        .map(|shape| {
            let n: usize = shape.iter().product();
            let (head, tail) = rest.split_at(n);
            rest = tail;
            Tensor::from_vec(head.to_vec(), shape).expect("test data fits the shape")
        })
        .collect()
}

/// The elements of a model in order.
fn flatten(model: &[Tensor<f64>]) -> Vec<f64> {
    model
        .iter()
        .flat_map(|t| t.data().iter().copied())
        .collect()
}

/// Steps `opt` `steps` times on the test model with the gradients of
/// [`gradient`], and `reference` (which updates flat weights from a flat
/// gradient and the step number `t`, counting from 1) alongside; asserts
/// they agree to 1e-12 after every step and returns the final weights.
fn check_against_reference(
    opt: &mut impl Optimizer<Vec<Tensor<f64>>>,
    steps: usize,
    mut reference: impl FnMut(&mut [f64], &[f64], usize),
) -> Vec<f64> {
    let mut w = vec![0.5, -1.0, 2.0, 0.25, -0.75, 1.5, 3.0];
    let mut params = model(&w);
    for t in 1..=steps {
        let g = gradient(t);
        opt.step(&mut params, &model(&g));
        reference(&mut w, &g, t);
        let got = flatten(&params);
        for (i, (&a, &b)) in got.iter().zip(&w).enumerate() {
            assert!(
                (a - b).abs() <= 1e-12,
                "step {t}, element {i}: optimiser {a} against reference {b}"
            );
        }
        assert_ne!(got, model_start(), "step {t} left the weights unchanged");
    }
    w
}

/// The initial weights of [`check_against_reference`].
fn model_start() -> Vec<f64> {
    vec![0.5, -1.0, 2.0, 0.25, -0.75, 1.5, 3.0]
}

/// A fixed gradient for step `t`: magnitudes and signs vary with the step
/// and the element; one element is always zero.
fn gradient(t: usize) -> Vec<f64> {
    let base = [0.3, -1.2, 0.0, 2.5, 0.05, -0.7, 1.1];
    base.iter()
        .enumerate()
        .map(|(i, &b)| {
            let sign = if (t + i) % 3 == 0 { -1.0 } else { 1.0 };
            b * (1.0 + 0.3 * t as f64) * sign
        })
        .collect()
}
