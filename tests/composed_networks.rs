//! Network code as users write it (issue 8, items 6–7): layer functions over
//! sub-models, a scalar regulariser helper, data passed as `#[constant]`
//! tensors. Each gradient is checked against the tape and finite differences
//! in f64.

use adjoint::check::{gradcheck, Tolerance};
use adjoint::prelude::*;
use adjoint::tape::Graph;
use adjoint::tensor::rand::{rngs::StdRng, SeedableRng};

#[derive(Parameters, Clone)]
struct Linear {
    w: Tensor<f64>,
    b: Tensor<f64>,
}

#[derive(Parameters, Clone)]
struct Net {
    l1: Linear,
    l2: Linear,
}

#[differentiable]
fn linear(l: &Linear, x: &Tensor<f64>) -> Tensor<f64> {
    x.matmul(&l.w) + &l.b
}

#[differentiable]
fn penalty(w: &Tensor<f64>) -> f64 {
    w.square().sum()
}

#[differentiable]
fn net_loss(p: &Net, #[constant] x: &Tensor<f64>, #[constant] y: &Tensor<f64>) -> f64 {
    let h = linear(&p.l1, x).tanh();
    let out = linear(&p.l2, &h);
    mse(&out, y) + 0.01 * penalty(&p.l1.w)
}

/// The net's tensors in order, for gradcheck.
fn flatten(p: &Net) -> Vec<Tensor<f64>> {
    vec![
        p.l1.w.clone(),
        p.l1.b.clone(),
        p.l2.w.clone(),
        p.l2.b.clone(),
    ]
}

/// The net made of `flatten`'s tensors.
fn unflatten(t: &[Tensor<f64>]) -> Net {
    let linear = |w: &Tensor<f64>, b: &Tensor<f64>| Linear {
        w: w.clone(),
        b: b.clone(),
    };
    Net {
        l1: linear(&t[0], &t[1]),
        l2: linear(&t[2], &t[3]),
    }
}

fn layer(rng: &mut StdRng, fan_in: usize, fan_out: usize) -> Linear {
    Linear {
        w: Tensor::randn(&[fan_in, fan_out], rng),
        b: Tensor::randn(&[fan_out], rng),
    }
}

#[test]
fn layer_functions_over_sub_models() {
    let mut rng = StdRng::seed_from_u64(8);
    let p = Net {
        l1: layer(&mut rng, 3, 4),
        l2: layer(&mut rng, 4, 2),
    };
    let x = Tensor::randn(&[5, 3], &mut rng);
    let y = Tensor::randn(&[5, 2], &mut rng);
    let g = net_loss_grad(&p, &x, &y);
    let flat = flatten(&p);
    let f = |t: &[Tensor<f64>]| net_loss(&unflatten(t), &x, &y);
    let tol = Tolerance {
        rtol: 1e-6,
        atol: 1e-7,
    };
    let grads = flatten(&g.p);
    gradcheck(f, &flat, &grads, tol).expect("generated gradients match finite differences");

    // The tensor tape, written out without layer functions, agrees.
    let graph = Graph::new();
    let leaves: Vec<_> = flat.iter().map(|t| graph.leaf(t.clone())).collect();
    let xv = graph.constant(x.clone());
    let h = (&xv.matmul(&leaves[0]) + &leaves[1]).tanh();
    let out = &h.matmul(&leaves[2]) + &leaves[3];
    let loss = &out.mse(&graph.constant(y.clone())) + &leaves[0].square().sum().mul_scalar(0.01);
    assert!((loss.item() - g.value).abs() <= 1e-12 * (1.0 + g.value.abs()));
    let tg = loss.backward();
    for (generated, leaf) in grads.iter().zip(&leaves) {
        for (a, b) in generated.data().iter().zip(tg.wrt(leaf).data()) {
            assert!((a - b).abs() <= 1e-10 * (1.0 + b.abs()), "{a} vs tape {b}");
        }
    }
}

/// A layer whose input is data (`#[constant]`), a regulariser bound with a
/// typed `let`, and a loss over a sub-model chain.
#[differentiable]
fn dense(l: &Linear, #[constant] x: &Tensor<f64>) -> Tensor<f64> {
    x.matmul(&l.w) + &l.b
}

#[differentiable]
fn data_layer_loss(p: &Net, #[constant] x: &Tensor<f64>, #[constant] y: &Tensor<f64>) -> f64 {
    let h = dense(&p.l1, x).relu();
    let reg: f64 = penalty(&p.l2.w);
    let out: Tensor<f64> = linear(&p.l2, &h);
    (&out - y).square().mean() + reg * 1e-3
}

#[test]
fn constant_tensor_arguments_and_typed_helpers() {
    let mut rng = StdRng::seed_from_u64(9);
    let p = Net {
        l1: layer(&mut rng, 3, 4),
        l2: layer(&mut rng, 4, 2),
    };
    let x = Tensor::randn(&[6, 3], &mut rng);
    let y = Tensor::randn(&[6, 2], &mut rng);
    let g = data_layer_loss_grad(&p, &x, &y);
    assert_eq!(g.value, data_layer_loss(&p, &x, &y));
    let flat = flatten(&p);
    let f = |t: &[Tensor<f64>]| data_layer_loss(&unflatten(t), &x, &y);
    let tol = Tolerance {
        rtol: 1e-6,
        atol: 1e-7,
    };
    gradcheck(f, &flat, &flatten(&g.p), tol).expect("generated gradients match finite differences");
    // Forward mode agrees: ⟨J v, 1⟩ = ⟨v, ∇f⟩ for a random direction v.
    let v = Net {
        l1: layer(&mut rng, 3, 4),
        l2: layer(&mut rng, 4, 2),
    };
    let (_, jv) = data_layer_loss_jvp(&p, &x, &y, &v);
    let dot = |a: &Tensor<f64>, b: &Tensor<f64>| -> f64 {
        a.data().iter().zip(b.data()).map(|(x, y)| x * y).sum()
    };
    let expected = dot(&g.p.l1.w, &v.l1.w)
        + dot(&g.p.l1.b, &v.l1.b)
        + dot(&g.p.l2.w, &v.l2.w)
        + dot(&g.p.l2.b, &v.l2.b);
    assert!(
        (jv - expected).abs() <= 1e-10 * (1.0 + expected.abs()),
        "{jv} vs {expected}"
    );
}

/// `cross_entropy` with one-hot or soft targets as a `#[constant]` tensor.
#[differentiable]
fn soft_target_loss(
    w: &Tensor<f64>,
    #[constant] x: &Tensor<f64>,
    #[constant] targets: &Tensor<f64>,
) -> f64 {
    cross_entropy(&x.matmul(w), targets)
}

#[differentiable]
fn label_loss(w: &Tensor<f64>, #[constant] x: &Tensor<f64>, #[constant] labels: &[usize]) -> f64 {
    cross_entropy(&x.matmul(w), labels)
}

#[test]
fn cross_entropy_accepts_one_hot_and_soft_targets() {
    let mut rng = StdRng::seed_from_u64(12);
    let w = Tensor::randn(&[3, 4], &mut rng);
    let x = Tensor::randn(&[5, 3], &mut rng);
    let labels = [0usize, 3, 1, 1, 2];
    let mut one_hot = Tensor::zeros(&[5, 4]);
    for (r, c) in labels.iter().enumerate() {
        one_hot.data_mut()[r * 4 + c] = 1.0;
    }
    let hard = label_loss_grad(&w, &x, &labels);
    let soft = soft_target_loss_grad(&w, &x, &one_hot);
    assert!((hard.value - soft.value).abs() < 1e-12);
    for (a, b) in hard.w.data().iter().zip(soft.w.data()) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
    let probs = Tensor::full(&[5, 4], 0.25);
    let g = soft_target_loss_grad(&w, &x, &probs);
    let f = |t: &[Tensor<f64>]| soft_target_loss(&t[0], &x, &probs);
    let tol = Tolerance {
        rtol: 1e-6,
        atol: 1e-8,
    };
    gradcheck(f, std::slice::from_ref(&w), &[g.w], tol)
        .expect("soft targets match finite differences");
}

/// Constant tensors built in the body, with shapes read from a tensor.
#[differentiable]
fn with_constants(w: &Tensor<f64>, #[constant] x: &Tensor<f64>) -> f64 {
    let h = x.matmul(w);
    let ones = Tensor::ones(h.shape());
    let shift = Tensor::full(&[1, 2], 0.5);
    ((&h + &ones) * &shift).square().sum()
}

#[test]
fn constant_tensors_built_in_the_body() {
    let mut rng = StdRng::seed_from_u64(13);
    let w = Tensor::randn(&[3, 2], &mut rng);
    let x = Tensor::randn(&[4, 3], &mut rng);
    let g = with_constants_grad(&w, &x);
    let f = |t: &[Tensor<f64>]| with_constants(&t[0], &x);
    let tol = Tolerance {
        rtol: 1e-6,
        atol: 1e-8,
    };
    gradcheck(f, std::slice::from_ref(&w), &[g.w], tol).expect("matches finite differences");
}

/// Data read from shapes and labels inside tensor code.
#[differentiable]
#[allow(clippy::needless_range_loop)]
fn per_row(w: &Tensor<f64>, #[constant] x: &Tensor<f64>, #[constant] weights: &[f64]) -> f64 {
    let rows = x.shape()[0];
    let h = x.matmul(w).square().sum_axis(1, false);
    let mut total = 0.0;
    for r in 0..rows {
        total += weights[r] * h.select(0, &[r]).sum();
    }
    total / rows as f64
}

#[test]
fn shapes_and_data_slices_indexed_in_tensor_code() {
    let mut rng = StdRng::seed_from_u64(14);
    let w = Tensor::randn(&[3, 2], &mut rng);
    let x = Tensor::randn(&[4, 3], &mut rng);
    let weights = [0.5, 1.0, -2.0, 3.0];
    let g = per_row_grad(&w, &x, &weights);
    assert_eq!(g.value, per_row(&w, &x, &weights));
    let f = |t: &[Tensor<f64>]| per_row(&t[0], &x, &weights);
    let tol = Tolerance {
        rtol: 1e-6,
        atol: 1e-8,
    };
    gradcheck(f, std::slice::from_ref(&w), &[g.w], tol).expect("matches finite differences");
}

/// A plain helper computing data (a count) from tensors.
fn columns(x: &Tensor<f64>) -> usize {
    x.shape()[1]
}

/// A `let` typed as an integer holds data even when a call computes it
/// from tensors, so it can size a reshape or bound a loop.
#[differentiable]
fn with_integer_helper(w: &Tensor<f64>, #[constant] x: &Tensor<f64>) -> f64 {
    let c: usize = columns(x);
    let h = x.matmul(w).reshape(&[c, 2]);
    let mut total = 0.0;
    for k in 0..c {
        total += h.select(0, &[k]).tanh().sum();
    }
    total
}

#[test]
fn integer_lets_from_helper_calls_are_data() {
    let mut rng = StdRng::seed_from_u64(15);
    let w = Tensor::randn(&[3, 3], &mut rng);
    let x = Tensor::randn(&[2, 3], &mut rng);
    let g = with_integer_helper_grad(&w, &x);
    assert_eq!(g.value, with_integer_helper(&w, &x));
    let f = |t: &[Tensor<f64>]| with_integer_helper(&t[0], &x);
    let tol = Tolerance {
        rtol: 1e-6,
        atol: 1e-8,
    };
    gradcheck(f, std::slice::from_ref(&w), &[g.w], tol).expect("matches finite differences");
}
