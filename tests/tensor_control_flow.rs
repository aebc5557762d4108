//! Control flow in tensor functions (issue 8, item 7): loops over a model's
//! `Vec` of layers of run-time length, index loops, branches on a
//! `#[constant]` flag and on a scalar value, reassigned and `+=`-updated
//! tensors. Each gradient is checked against finite differences in f64, the
//! tensor tape, and forward mode (⟨J v, 1⟩ = ⟨v, ∇f⟩).

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
struct Deep {
    layers: Vec<Linear>,
    head: Linear,
}

#[differentiable]
fn linear(l: &Linear, x: &Tensor<f64>) -> Tensor<f64> {
    x.matmul(&l.w) + &l.b
}

/// Loops over the layers by element, with a layer function.
#[differentiable]
fn deep_loss(p: &Deep, #[constant] x: &Tensor<f64>, #[constant] y: &Tensor<f64>) -> f64 {
    let mut h = x.clone();
    for layer in &p.layers {
        h = linear(layer, &h).tanh();
    }
    mse(&linear(&p.head, &h), y)
}

/// Loops over indices, reading fields at a run-time index, with `+=`.
#[differentiable]
fn residual_loss(p: &Deep, #[constant] x: &Tensor<f64>, #[constant] y: &Tensor<f64>) -> f64 {
    let mut h = x.matmul(&p.layers[0].w);
    for i in 1..p.layers.len() {
        let update = (h.matmul(&p.layers[i].w) + &p.layers[i].b).relu();
        h += &update;
    }
    let out = h.matmul(&p.head.w) + &p.head.b;
    (&out - y).square().mean()
}

/// Dropout-style train/eval flag and a branch on a scalar value.
#[differentiable]
fn flagged_loss(
    p: &Deep,
    #[constant] x: &Tensor<f64>,
    #[constant] y: &Tensor<f64>,
    #[constant] train: bool,
) -> f64 {
    let mut h = linear(&p.layers[0], x);
    if train {
        h = h.tanh() * 0.5;
    } else {
        h = h.sigmoid();
    }
    let out = linear(&p.head, &h);
    let loss = mse(&out, y);
    if loss > 1.0 {
        loss.ln() + 1.0
    } else {
        loss
    }
}

fn layer(rng: &mut StdRng, fan_in: usize, fan_out: usize) -> Linear {
    Linear {
        w: &Tensor::randn(&[fan_in, fan_out], rng) * 0.5,
        b: &Tensor::randn(&[fan_out], rng) * 0.1,
    }
}

fn model(rng: &mut StdRng, depth: usize) -> Deep {
    Deep {
        layers: (0..depth).map(|_| layer(rng, 4, 4)).collect(),
        head: layer(rng, 4, 2),
    }
}

fn flatten(p: &Deep) -> Vec<Tensor<f64>> {
    p.named_tensors()
        .into_iter()
        .map(|(_, t)| t.clone())
        .collect()
}

fn unflatten(like: &Deep, t: &[Tensor<f64>]) -> Deep {
    let mut out = like.clone();
    let mut i = 0;
    out.visit_mut(&mut String::new(), &mut |_, x| {
        *x = t[i].clone();
        i += 1;
    });
    out
}

fn dot(a: &Deep, b: &Deep) -> f64 {
    flatten(a)
        .iter()
        .zip(flatten(b))
        .map(|(x, y)| {
            x.data()
                .iter()
                .zip(y.data())
                .map(|(u, v)| u * v)
                .sum::<f64>()
        })
        .sum()
}

fn check_three_ways(
    p: &Deep,
    f: impl Fn(&Deep) -> f64,
    grad: &Deep,
    jvp: impl Fn(&Deep) -> f64,
    seed: u64,
) {
    let tol = Tolerance {
        rtol: 1e-6,
        atol: 1e-8,
    };
    gradcheck(|t| f(&unflatten(p, t)), &flatten(p), &flatten(grad), tol)
        .expect("generated gradients match finite differences");
    let mut rng = StdRng::seed_from_u64(seed);
    let v = model(&mut rng, p.layers.len());
    let (lhs, rhs) = (jvp(&v), dot(grad, &v));
    assert!(
        (lhs - rhs).abs() <= 1e-10 * (1.0 + rhs.abs()),
        "jvp {lhs} vs ∇f·v {rhs}"
    );
}

#[test]
fn loop_over_a_vec_of_layers_of_run_time_length() {
    for depth in [0, 1, 3] {
        let mut rng = StdRng::seed_from_u64(20 + depth as u64);
        let p = model(&mut rng, depth);
        let x = Tensor::randn(&[5, 4], &mut rng);
        let y = Tensor::randn(&[5, 2], &mut rng);
        let g = deep_loss_grad(&p, &x, &y);
        assert_eq!(g.value, deep_loss(&p, &x, &y));
        check_three_ways(
            &p,
            |q| deep_loss(q, &x, &y),
            &g.p,
            |v| deep_loss_jvp(&p, &x, &y, v).1,
            7,
        );

        // The tensor tape computes the same gradient.
        let graph = Graph::new();
        let leaves: Vec<_> = flatten(&p).into_iter().map(|t| graph.leaf(t)).collect();
        let mut h = graph.constant(x.clone());
        for l in 0..depth {
            h = (&h.matmul(&leaves[2 * l]) + &leaves[2 * l + 1]).tanh();
        }
        let out = &h.matmul(&leaves[2 * depth]) + &leaves[2 * depth + 1];
        let loss = out.mse(&graph.constant(y.clone()));
        let tg = loss.backward();
        for (generated, leaf) in flatten(&g.p).iter().zip(&leaves) {
            let tape = tg.wrt(leaf);
            for (a, b) in generated.data().iter().zip(tape.data()) {
                assert!(
                    (a - b).abs() <= 1e-10 * (1.0 + b.abs()),
                    "depth {depth}: {a} vs tape {b}"
                );
            }
        }
    }
}

#[test]
fn index_loop_with_fields_at_a_run_time_index() {
    let mut rng = StdRng::seed_from_u64(30);
    let p = model(&mut rng, 4);
    let x = Tensor::randn(&[3, 4], &mut rng);
    let y = Tensor::randn(&[3, 2], &mut rng);
    let g = residual_loss_grad(&p, &x, &y);
    // layers[0].b is never read: its gradient is zero.
    assert!(g.p.layers[0].b.data().iter().all(|v| *v == 0.0));
    check_three_ways(
        &p,
        |q| residual_loss(q, &x, &y),
        &g.p,
        |v| residual_loss_jvp(&p, &x, &y, v).1,
        8,
    );
}

#[test]
fn branches_on_a_constant_flag_and_on_a_scalar() {
    let mut rng = StdRng::seed_from_u64(40);
    let p = model(&mut rng, 1);
    let x = Tensor::randn(&[3, 4], &mut rng);
    for scale in [0.1, 10.0] {
        let y = &Tensor::randn(&[3, 2], &mut rng) * scale;
        for train in [true, false] {
            let g = flagged_loss_grad(&p, &x, &y, train);
            assert_eq!(g.value, flagged_loss(&p, &x, &y, train));
            check_three_ways(
                &p,
                |q| flagged_loss(q, &x, &y, train),
                &g.p,
                |v| flagged_loss_jvp(&p, &x, &y, train, v).1,
                9,
            );

            // The tensor tape takes the same branches.
            let graph = Graph::new();
            let leaves: Vec<_> = flatten(&p).into_iter().map(|t| graph.leaf(t)).collect();
            let h = &graph.constant(x.clone()).matmul(&leaves[0]) + &leaves[1];
            let h = if train {
                h.tanh().mul_scalar(0.5)
            } else {
                h.sigmoid()
            };
            let out = &h.matmul(&leaves[2]) + &leaves[3];
            let loss = out.mse(&graph.constant(y.clone()));
            let loss = if loss.item() > 1.0 {
                loss.ln().add_scalar(1.0)
            } else {
                loss
            };
            assert!((loss.item() - g.value).abs() <= 1e-12 * (1.0 + g.value.abs()));
            let tape = loss.backward();
            for (generated, leaf) in flatten(&g.p).iter().zip(&leaves) {
                for (a, b) in generated.data().iter().zip(tape.wrt(leaf).data()) {
                    assert!((a - b).abs() <= 1e-10 * (1.0 + b.abs()), "{a} vs tape {b}");
                }
            }
        }
    }
}

/// A layer chosen by a `#[constant]` index at the top level.
#[differentiable]
fn pick_layer(p: &Deep, #[constant] x: &Tensor<f64>, #[constant] k: usize) -> f64 {
    linear(&p.layers[k], x).square().sum() + p.layers[k].w.sum()
}

#[test]
fn a_layer_at_a_constant_run_time_index() {
    let mut rng = StdRng::seed_from_u64(50);
    let p = model(&mut rng, 3);
    let x = Tensor::randn(&[2, 4], &mut rng);
    let g = pick_layer_grad(&p, &x, 1);
    for (i, l) in g.p.layers.iter().enumerate() {
        let zero = l.w.data().iter().chain(l.b.data()).all(|v| *v == 0.0);
        assert_eq!(zero, i != 1, "only layer 1 gets a gradient");
    }
    check_three_ways(
        &p,
        |q| pick_layer(q, &x, 1),
        &g.p,
        |v| pick_layer_jvp(&p, &x, 1, v).1,
        10,
    );
}

/// Iterate until a scalar falls below a tolerance: a `while` loop whose trip
/// count depends on the values (the reverse sweep pops as many iterations).
#[differentiable]
fn shrink_until_small(w: &Tensor<f64>, #[constant] x: &Tensor<f64>) -> f64 {
    let mut h = x.matmul(w);
    let mut size = h.square().mean();
    while size > 0.05 {
        h = (h * 0.5).tanh();
        size = h.square().mean();
    }
    size + h.sum()
}

/// A range loop that stops early with `break` and skips with `continue`.
#[differentiable]
fn layers_until_flat(p: &Deep, #[constant] x: &Tensor<f64>, #[constant] skip: usize) -> f64 {
    let mut h = x.clone();
    for i in 0..p.layers.len() {
        if i == skip {
            continue;
        }
        h = linear(&p.layers[i], &h).tanh();
        if h.square().mean() < 1e-3 {
            break;
        }
    }
    h.sum()
}

#[test]
fn while_and_break_continue_loops_in_tensor_code() {
    let mut rng = StdRng::seed_from_u64(60);
    let w = &Tensor::randn(&[4, 3], &mut rng) * 2.0;
    let x = Tensor::randn(&[5, 4], &mut rng);
    let g = shrink_until_small_grad(&w, &x);
    assert_eq!(g.value, shrink_until_small(&w, &x));
    let tol = Tolerance {
        rtol: 1e-6,
        atol: 1e-8,
    };
    gradcheck(
        |t| shrink_until_small(&t[0], &x),
        std::slice::from_ref(&w),
        std::slice::from_ref(&g.w),
        tol,
    )
    .expect("the while loop's gradient matches finite differences");
    let v = Tensor::randn(&[4, 3], &mut rng);
    let (_, jv) = shrink_until_small_jvp(&w, &x, &v);
    let back: f64 = g.w.data().iter().zip(v.data()).map(|(a, b)| a * b).sum();
    assert!(
        (jv - back).abs() <= 1e-10 * (1.0 + back.abs()),
        "{jv} vs {back}"
    );

    let p = model(&mut rng, 4);
    let g = layers_until_flat_grad(&p, &x, 1);
    assert!(
        g.p.layers[1].w.data().iter().all(|v| *v == 0.0),
        "the skipped layer gets no gradient"
    );
    check_three_ways(
        &p,
        |q| layers_until_flat(q, &x, 1),
        &g.p,
        |v| layers_until_flat_jvp(&p, &x, 1, v).1,
        11,
    );
}

/// Early `return` in a tensor function with a float result.
#[differentiable]
fn early_exit(w: &Tensor<f64>, #[constant] x: &Tensor<f64>, #[constant] limit: f64) -> f64 {
    let h = x.matmul(w).tanh();
    let size = h.square().sum();
    if size > limit {
        return size.sqrt();
    }
    for _ in 0..3 {
        if h.sum() > limit {
            return h.sum() * 2.0;
        }
    }
    size + h.mean()
}

#[test]
fn early_return_in_a_tensor_function() {
    let mut rng = StdRng::seed_from_u64(70);
    let w = Tensor::randn(&[4, 3], &mut rng);
    let x = Tensor::randn(&[5, 4], &mut rng);
    for limit in [0.1, 1.0, 100.0] {
        let g = early_exit_grad(&w, &x, limit);
        assert_eq!(g.value, early_exit(&w, &x, limit));
        let tol = Tolerance {
            rtol: 1e-6,
            atol: 1e-8,
        };
        gradcheck(
            |t| early_exit(&t[0], &x, limit),
            std::slice::from_ref(&w),
            std::slice::from_ref(&g.w),
            tol,
        )
        .expect("early return gradients match finite differences");
        let v = Tensor::randn(&[4, 3], &mut rng);
        let (_, jv) = early_exit_jvp(&w, &x, limit, &v);
        let back: f64 = g.w.data().iter().zip(v.data()).map(|(a, b)| a * b).sum();
        assert!(
            (jv - back).abs() <= 1e-10 * (1.0 + back.abs()),
            "{jv} vs {back}"
        );
    }
}

/// Early `return` of a tensor.
#[differentiable]
fn clipped_layer(
    w: &Tensor<f64>,
    #[constant] x: &Tensor<f64>,
    #[constant] limit: f64,
) -> Tensor<f64> {
    let h = x.matmul(w);
    if h.square().mean() > limit {
        return h.tanh();
    }
    for _ in 0..2 {
        if h.sum() > limit {
            return &h * 0.5;
        }
    }
    h.relu()
}

#[test]
fn early_return_of_a_tensor() {
    let mut rng = StdRng::seed_from_u64(80);
    let w = Tensor::randn(&[4, 3], &mut rng);
    let x = Tensor::randn(&[5, 4], &mut rng);
    let seed = Tensor::randn(&[5, 3], &mut rng);
    for limit in [-10.0, 0.2, 100.0] {
        let back = clipped_layer_vjp(&w, &x, limit, &seed);
        assert_eq!(back.value.data(), clipped_layer(&w, &x, limit).data());
        let tol = Tolerance {
            rtol: 1e-6,
            atol: 1e-8,
        };
        let f = |t: &[Tensor<f64>]| -> f64 {
            clipped_layer(&t[0], &x, limit)
                .data()
                .iter()
                .zip(seed.data())
                .map(|(a, b)| a * b)
                .sum()
        };
        gradcheck(
            f,
            std::slice::from_ref(&w),
            std::slice::from_ref(&back.w),
            tol,
        )
        .expect("early-return vjp matches finite differences");
        let v = Tensor::randn(&[4, 3], &mut rng);
        let (_, jv) = clipped_layer_jvp(&w, &x, limit, &v);
        let lhs: f64 = jv.data().iter().zip(seed.data()).map(|(a, b)| a * b).sum();
        let rhs: f64 = back.w.data().iter().zip(v.data()).map(|(a, b)| a * b).sum();
        assert!(
            (lhs - rhs).abs() <= 1e-10 * (1.0 + rhs.abs()),
            "{lhs} vs {rhs}"
        );
    }
}

/// A `#[differentiable]` function that a `macro_rules!` writes around a body
/// its caller passes in (as every row of `tests/op_matrix.rs` is): the
/// generated names must resolve where the body does, also in the save sets
/// of a loop and a branch.
macro_rules! written_by_a_macro {
    ($name:ident, |$w:ident, $x:ident, $n:ident| $body:block) => {
        #[differentiable]
        fn $name($w: &Tensor<f64>, #[constant] $x: &Tensor<f64>, #[constant] $n: usize) -> f64 $body
    };
}

written_by_a_macro!(macro_loop, |w, x, n| {
    let mut h = x.matmul(w);
    for _ in 0..n {
        h = (&h * 0.5).tanh() + &h;
    }
    if h.sum() > 0.0 {
        return h.square().mean();
    }
    h.sin().sum()
});

#[test]
fn a_function_written_by_a_macro_with_a_loop_and_a_branch() {
    let mut rng = StdRng::seed_from_u64(90);
    let w = Tensor::randn(&[4, 3], &mut rng);
    let x = Tensor::randn(&[5, 4], &mut rng);
    for n in [0, 2] {
        let g = macro_loop_grad(&w, &x, n);
        assert_eq!(g.value, macro_loop(&w, &x, n));
        let tol = Tolerance {
            rtol: 1e-6,
            atol: 1e-8,
        };
        gradcheck(
            |t| macro_loop(&t[0], &x, n),
            std::slice::from_ref(&w),
            std::slice::from_ref(&g.w),
            tol,
        )
        .expect("matches finite differences");
        let v = Tensor::randn(&[4, 3], &mut rng);
        let (_, jv) = macro_loop_jvp(&w, &x, n, &v);
        let back: f64 = g.w.data().iter().zip(v.data()).map(|(a, b)| a * b).sum();
        assert!(
            (jv - back).abs() <= 1e-10 * (1.0 + back.abs()),
            "{jv} vs {back}"
        );
    }
}
