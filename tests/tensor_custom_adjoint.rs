//! `#[custom_adjoint]` on tensor functions (issue 8, item 9): a layer norm
//! whose backward is written by hand, its forward deciding what the backward
//! receives, checked against the same layer norm written with built-in ops,
//! against finite differences in f64 and between forward and reverse mode.

use adjoint::check::{gradcheck, Tolerance};
use adjoint::prelude::*;
use adjoint::tape::Graph;
use adjoint::tensor::rand::{rngs::StdRng, SeedableRng};

const EPS: f64 = 1e-5;

/// What the backward needs, and nothing else.
struct LayerNormSaved {
    xhat: Tensor<f64>,
    inv: Tensor<f64>,
    gamma: Tensor<f64>,
}

fn layer_norm_forward(
    x: &Tensor<f64>,
    gamma: &Tensor<f64>,
    beta: &Tensor<f64>,
) -> (Tensor<f64>, LayerNormSaved) {
    let mu = x.mean_axis(1, true);
    let xc = x - &mu;
    let inv = (&xc.square().mean_axis(1, true) + EPS).powf(-0.5);
    let xhat = &xc * &inv;
    let y = &(&xhat * gamma) + beta;
    let saved = LayerNormSaved {
        xhat,
        inv,
        gamma: gamma.clone(),
    };
    (y, saved)
}

/// dβ = Σ dy; dγ = Σ dy·x̂; dx = inv/m · (m·dx̂ − Σ dx̂ − x̂·Σ dx̂·x̂) per row.
fn layer_norm_backward(
    s: LayerNormSaved,
    dy: &Tensor<f64>,
) -> (Tensor<f64>, Tensor<f64>, Tensor<f64>) {
    let m = s.xhat.shape()[1] as f64;
    let dbeta = dy.sum_axis(0, false);
    let dgamma = (dy * &s.xhat).sum_axis(0, false);
    let dxhat = dy * &s.gamma;
    let sum = dxhat.sum_axis(1, true);
    let sum_xhat = (&dxhat * &s.xhat).sum_axis(1, true);
    let inner = &(&(&dxhat * m) - &sum) - &(&s.xhat * &sum_xhat);
    let dx = &inner * &(&s.inv * (1.0 / m));
    (dx, dgamma, dbeta)
}

#[custom_adjoint(forward = layer_norm_forward, backward = layer_norm_backward)]
fn layer_norm(x: &Tensor<f64>, gamma: &Tensor<f64>, beta: &Tensor<f64>) -> Tensor<f64> {
    let mu = x.mean_axis(1, true);
    let xc = x - &mu;
    let inv = (xc.square().mean_axis(1, true) + EPS).powf(-0.5);
    &(&xc * &inv) * gamma + beta
}

/// The same layer norm, differentiated by the compiler.
#[differentiable]
fn layer_norm_builtin(x: &Tensor<f64>, gamma: &Tensor<f64>, beta: &Tensor<f64>) -> Tensor<f64> {
    let mu = x.mean_axis(1, true);
    let xc = x - &mu;
    let inv = (xc.square().mean_axis(1, true) + EPS).powf(-0.5);
    &(&xc * &inv) * gamma + beta
}

#[differentiable]
fn custom_loss(
    w: &Tensor<f64>,
    gamma: &Tensor<f64>,
    beta: &Tensor<f64>,
    #[constant] x: &Tensor<f64>,
    #[constant] y: &Tensor<f64>,
) -> f64 {
    let h = layer_norm(&x.matmul(w), gamma, beta).tanh();
    mse(&h, y)
}

#[differentiable]
fn builtin_loss(
    w: &Tensor<f64>,
    gamma: &Tensor<f64>,
    beta: &Tensor<f64>,
    #[constant] x: &Tensor<f64>,
    #[constant] y: &Tensor<f64>,
) -> f64 {
    let h = layer_norm_builtin(&x.matmul(w), gamma, beta).tanh();
    mse(&h, y)
}

/// A backward-only custom op with a `#[constant]` argument: it receives the
/// arguments, the value and the adjoint, and returns the active argument's
/// adjoint only.
fn shift_backward(
    _x: &Tensor<f64>,
    _by: &Tensor<f64>,
    _y: &Tensor<f64>,
    dy: &Tensor<f64>,
) -> Tensor<f64> {
    dy.clone()
}

#[custom_adjoint(shift_backward)]
fn shift(x: &Tensor<f64>, #[constant] by: &Tensor<f64>) -> Tensor<f64> {
    x + by
}

#[differentiable]
fn shifted_loss(x: &Tensor<f64>, #[constant] by: &Tensor<f64>) -> f64 {
    shift(x, by).square().sum()
}

fn setup() -> [Tensor<f64>; 5] {
    let mut rng = StdRng::seed_from_u64(10);
    [
        Tensor::randn(&[3, 5], &mut rng),
        Tensor::randn(&[5], &mut rng),
        Tensor::randn(&[5], &mut rng),
        Tensor::randn(&[4, 3], &mut rng),
        Tensor::randn(&[4, 5], &mut rng),
    ]
}

fn assert_close(a: &Tensor<f64>, b: &Tensor<f64>, what: &str) {
    assert_eq!(a.shape(), b.shape(), "{what}");
    for (x, y) in a.data().iter().zip(b.data()) {
        assert!(
            (x - y).abs() <= 1e-10 * (1.0 + y.abs()),
            "{what}: {x} vs {y}"
        );
    }
}

#[test]
fn hand_written_layer_norm_matches_the_compiled_one() {
    let [w, gamma, beta, x, y] = setup();
    let custom = custom_loss_grad(&w, &gamma, &beta, &x, &y);
    let builtin = builtin_loss_grad(&w, &gamma, &beta, &x, &y);
    assert!((custom.value - builtin.value).abs() <= 1e-12);
    assert_close(&custom.w, &builtin.w, "w");
    assert_close(&custom.gamma, &builtin.gamma, "gamma");
    assert_close(&custom.beta, &builtin.beta, "beta");

    // The tensor tape, with the layer norm spelled out in its ops.
    let graph = Graph::new();
    let (wv, gv, bv) = (
        graph.leaf(w.clone()),
        graph.leaf(gamma.clone()),
        graph.leaf(beta.clone()),
    );
    let h = graph.constant(x.clone()).matmul(&wv);
    let centred = &h - &h.mean_axis(1, true);
    let inv = centred
        .square()
        .mean_axis(1, true)
        .add_scalar(EPS)
        .powf(-0.5);
    let normed = &(&(&centred * &inv) * &gv) + &bv;
    let loss = normed.tanh().mse(&graph.constant(y.clone()));
    assert!((loss.item() - custom.value).abs() <= 1e-12);
    let tape = loss.backward();
    assert_close(&custom.w, &tape.wrt(&wv), "w vs tape");
    assert_close(&custom.gamma, &tape.wrt(&gv), "gamma vs tape");
    assert_close(&custom.beta, &tape.wrt(&bv), "beta vs tape");
}

#[test]
fn hand_written_layer_norm_passes_gradcheck() {
    let [w, gamma, beta, x, y] = setup();
    let g = custom_loss_grad(&w, &gamma, &beta, &x, &y);
    let f = |t: &[Tensor<f64>]| custom_loss(&t[0], &t[1], &t[2], &x, &y);
    let tol = Tolerance {
        rtol: 1e-6,
        atol: 1e-8,
    };
    gradcheck(
        f,
        &[w.clone(), gamma.clone(), beta.clone()],
        &[g.w, g.gamma, g.beta],
        tol,
    )
    .expect("the hand-written backward matches finite differences");
}

#[test]
fn forward_mode_through_the_primal_body_agrees_with_the_backward() {
    let [w, gamma, beta, x, _] = setup();
    let mut rng = StdRng::seed_from_u64(11);
    let h = x.matmul(&w);
    let v = [
        Tensor::randn(&[4, 5], &mut rng),
        Tensor::randn(&[5], &mut rng),
        Tensor::randn(&[5], &mut rng),
    ];
    let s = Tensor::randn(&[4, 5], &mut rng);
    let (_, jv) = layer_norm_jvp(&h, &gamma, &beta, &v[0], &v[1], &v[2]);
    let back = layer_norm_vjp(&h, &gamma, &beta, &s);
    let dot = |a: &Tensor<f64>, b: &Tensor<f64>| -> f64 {
        a.data().iter().zip(b.data()).map(|(x, y)| x * y).sum()
    };
    let (lhs, rhs) = (
        dot(&jv, &s),
        dot(&back.x, &v[0]) + dot(&back.gamma, &v[1]) + dot(&back.beta, &v[2]),
    );
    assert!(
        (lhs - rhs).abs() <= 1e-10 * (1.0 + rhs.abs()),
        "{lhs} vs {rhs}"
    );
}

#[test]
fn backward_only_custom_op_with_a_constant_argument() {
    let [_, _, _, _, y] = setup();
    let by = Tensor::full(&[4, 5], 0.5);
    let g = shifted_loss_grad(&y, &by);
    let expected = (&y + &by) * 2.0;
    assert_close(&g.x, &expected, "x");
}
