//! Tests of the tensor module: closed-form values of every op, broadcasting,
//! every error message, and a central-difference check of every adjoint.

mod batch_norm;
mod binary;
mod conv;
mod core;
mod dropout;
mod errors;
mod layout;
mod loss;
mod matmul;
mod pool;
mod reduce;
mod unary;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::Tensor;
use crate::check::{gradcheck, Tolerance};
use crate::tape::{Graph, TensorVar};

/// A seeded generator, so failures reproduce.
fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// An `f64` tensor from literal data; panics on a length mismatch (test input).
fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape).expect("test tensor data fits its shape")
}

/// A random `f64` tensor of `shape`, uniform on `[lo, hi)`.
fn rand_t(shape: &[usize], lo: f64, hi: f64, rng: &mut StdRng) -> Tensor<f64> {
    Tensor::uniform(shape, lo, hi, rng)
}

/// A random axis length in `1..=4`.
fn dim(rng: &mut StdRng) -> usize {
    rng.random_range(1..=4)
}

/// Asserts element-wise closeness: `|a - b| <= tol (1 + |b|)`.
#[track_caller]
fn assert_close(actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(
        actual.len(),
        expected.len(),
        "lengths differ: {actual:?} vs {expected:?}"
    );
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tol * (1.0 + e.abs()),
            "element {i}: {a} vs {e}\n{actual:?}\n{expected:?}"
        );
    }
}

/// Step of the central differences.
const STEP: f64 = 1e-5;

/// Allowed relative disagreement between an adjoint and central differences.
const GRAD_TOL: f64 = 1e-6;

/// Checks an adjoint against central differences of its forward function.
///
/// For a random cotangent `w` of the output's shape, the adjoint's entry for
/// element `i` of input `k` must equal `⟨w, f(x + h eᵢ) - f(x - h eᵢ)⟩ / 2h`.
#[track_caller]
fn check_vjp(
    inputs: &[Tensor<f64>],
    forward: impl Fn(&[Tensor<f64>]) -> Tensor<f64>,
    backward: impl Fn(&[Tensor<f64>], &Tensor<f64>) -> Vec<Tensor<f64>>,
    rng: &mut StdRng,
) {
    let y = forward(inputs);
    let w = Tensor::randn(y.shape(), rng);
    let grads = backward(inputs, &w);
    assert_eq!(grads.len(), inputs.len(), "one gradient per input");
    for (k, (x, g)) in inputs.iter().zip(&grads).enumerate() {
        assert_eq!(g.shape(), x.shape(), "gradient {k} has its input's shape");
        for i in 0..x.len() {
            let (mut plus, mut minus) = (inputs.to_vec(), inputs.to_vec());
            plus[k].data_mut()[i] += STEP;
            minus[k].data_mut()[i] -= STEP;
            let width = plus[k].data()[i] - minus[k].data()[i];
            let (fp, fm) = (forward(&plus), forward(&minus));
            let numeric = w
                .data()
                .iter()
                .zip(fp.data().iter().zip(fm.data()))
                .map(|(&wj, (&p, &m))| wj * (p - m))
                .sum::<f64>()
                / width;
            let analytic = g.data()[i];
            assert!(
                (numeric - analytic).abs() <= GRAD_TOL * (1.0 + numeric.abs().max(analytic.abs())),
                "input {k} (shape {:?}), element {i}: adjoint {analytic} vs central difference {numeric}",
                x.shape()
            );
        }
    }
}

/// [`check_vjp`] for an op whose result is a scalar `T` and whose adjoint
/// takes the scalar gradient.
#[track_caller]
fn check_scalar_vjp(
    inputs: &[Tensor<f64>],
    forward: impl Fn(&[Tensor<f64>]) -> f64,
    backward: impl Fn(&[Tensor<f64>], f64) -> Vec<Tensor<f64>>,
    rng: &mut StdRng,
) {
    check_vjp(
        inputs,
        |x| Tensor::scalar(forward(x)),
        |x, w| backward(x, w.item()),
        rng,
    );
}

/// Gradient check of an op recorded on the tape: the loss is `Σ w ⊙
/// op(inputs)` for a fixed random `w` of the output's shape, and the tape's
/// gradients of every input must match central differences of that loss
/// ([`gradcheck`], default tolerances).
#[track_caller]
fn tape_gradcheck(
    inputs: &[Tensor<f64>],
    op: impl for<'g> Fn(&[TensorVar<'g, f64>]) -> TensorVar<'g, f64>,
    rng: &mut StdRng,
) {
    let shape = {
        let graph = Graph::new();
        let vars: Vec<_> = inputs.iter().map(|x| graph.constant(x.clone())).collect();
        op(&vars).shape().to_vec()
    };
    let w = Tensor::randn(&shape, rng);
    let loss = |xs: &[Tensor<f64>]| {
        let graph = Graph::new();
        let vars: Vec<_> = xs.iter().map(|x| graph.leaf(x.clone())).collect();
        let loss = (&op(&vars) * &graph.constant(w.clone())).sum();
        let grads = loss.backward();
        let analytic: Vec<Tensor<f64>> = vars.iter().map(|v| grads.wrt(v)).collect();
        (loss.item(), analytic)
    };
    let (_, analytic) = loss(inputs);
    if let Err(e) = gradcheck(|xs| loss(xs).0, inputs, &analytic, Tolerance::default()) {
        panic!("{e}");
    }
}
