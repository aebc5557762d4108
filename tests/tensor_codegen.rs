//! `#[differentiable]` on tensor code: generated gradients against the tape
//! and finite differences.

use adjoint::check::{gradcheck, Tolerance};
use adjoint::prelude::*;
use adjoint::tape::Graph;
use adjoint::tensor::rand::{rngs::StdRng, SeedableRng};

/// The seed's three-layer exercise, `½‖Y − W3 σ(W2 σ(W1 X))‖²_F`.
#[differentiable]
fn three_layer(
    w1: &Tensor<f64>,
    w2: &Tensor<f64>,
    w3: &Tensor<f64>,
    #[constant] x: &Tensor<f64>,
    #[constant] y: &Tensor<f64>,
) -> f64 {
    let h1 = w1.matmul(x).relu();
    let h2 = w2.matmul(&h1).relu();
    let r = y - &w3.matmul(&h2);
    0.5 * r.square().sum()
}

#[test]
fn three_layer_matches_tape_and_finite_differences() {
    let mut rng = StdRng::seed_from_u64(2022);
    let x = Tensor::<f64>::randn(&[5, 50], &mut rng);
    let y = Tensor::<f64>::randn(&[2, 50], &mut rng);
    let w = [
        Tensor::randn(&[4, 5], &mut rng),
        Tensor::randn(&[3, 4], &mut rng),
        Tensor::randn(&[2, 3], &mut rng),
    ];
    let g = three_layer_grad(&w[0], &w[1], &w[2], &x, &y);
    let graph = Graph::new();
    let ws: Vec<_> = w.iter().map(|t| graph.leaf(t.clone())).collect();
    let (xv, yv) = (graph.constant(x.clone()), graph.constant(y.clone()));
    let h1 = ws[0].matmul(&xv).relu();
    let h2 = ws[1].matmul(&h1).relu();
    let loss = (&yv - &ws[2].matmul(&h2)).square().sum().mul_scalar(0.5);
    let tg = loss.backward();
    assert!((g.value - loss.item()).abs() <= 1e-12 * loss.item().abs());
    for (generated, tape) in [
        (&g.w1, tg.wrt(&ws[0])),
        (&g.w2, tg.wrt(&ws[1])),
        (&g.w3, tg.wrt(&ws[2])),
    ] {
        for (a, b) in generated.data().iter().zip(tape.data()) {
            assert!((a - b).abs() <= 1e-8 * (1.0 + b.abs()), "{a} vs tape {b}");
        }
    }
    let f = |t: &[Tensor<f64>]| three_layer(&t[0], &t[1], &t[2], &x, &y);
    let tol = Tolerance {
        rtol: 1e-6,
        atol: 1e-6,
    };
    gradcheck(f, &w, &[g.w1, g.w2, g.w3], tol)
        .expect("generated gradients match finite differences");
}

/// The MLP of DESIGN.md.
#[derive(Parameters, Clone)]
struct Mlp {
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
    w3: Tensor,
    b3: Tensor,
}

#[differentiable]
fn mlp_loss(p: &Mlp, #[constant] x: &Tensor, #[constant] labels: &[usize]) -> f32 {
    let h1 = (x.matmul(&p.w1) + &p.b1).relu();
    let h2 = (h1.matmul(&p.w2) + &p.b2).relu();
    cross_entropy(&(h2.matmul(&p.w3) + &p.b3), labels)
}

fn mlp(rng: &mut StdRng) -> Mlp {
    Mlp {
        w1: Tensor::he_normal(20, 16, rng),
        b1: Tensor::randn(&[16], rng),
        w2: Tensor::he_normal(16, 8, rng),
        b2: Tensor::randn(&[8], rng),
        w3: Tensor::he_normal(8, 4, rng),
        b3: Tensor::randn(&[4], rng),
    }
}

/// Largest |a - b| relative to the largest |b|.
fn rel_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.shape(), b.shape());
    let scale = b.data().iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    a.data()
        .iter()
        .zip(b.data())
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

#[test]
fn mlp_loss_matches_the_tape() {
    let mut rng = StdRng::seed_from_u64(7);
    let p = mlp(&mut rng);
    let x = Tensor::randn(&[12, 20], &mut rng);
    let labels: Vec<usize> = (0..12).map(|i| i % 4).collect();
    let g = mlp_loss_grad(&p, &x, &labels);
    let graph = Graph::new();
    let leaves: Vec<_> = p
        .named_tensors()
        .into_iter()
        .map(|(_, t)| graph.leaf(t))
        .collect();
    let xv = graph.constant(x.clone());
    let h1 = (&xv.matmul(&leaves[0]) + &leaves[1]).relu();
    let h2 = (&h1.matmul(&leaves[2]) + &leaves[3]).relu();
    let loss = (&h2.matmul(&leaves[4]) + &leaves[5]).cross_entropy(&labels);
    let tg = loss.backward();
    assert!(
        (g.value - loss.item()).abs() < 1e-5,
        "{} vs {}",
        g.value,
        loss.item()
    );
    for ((name, generated), leaf) in g.p.named_tensors().into_iter().zip(&leaves) {
        let d = rel_diff(&generated, &tg.wrt(leaf));
        assert!(d < 1e-5, "{name}: relative difference {d}");
    }
}

/// A layer written as a function returning a tensor: composes by its pullback.
#[differentiable]
fn dense(w: &Tensor, b: &Tensor, x: &Tensor) -> Tensor {
    x.matmul(w) + b
}

/// The seed's XOR-style net with a skip connection from the input to the output.
#[differentiable]
fn skip_net(
    w1: &Tensor,
    b1: &Tensor,
    w2: &Tensor,
    ws: &Tensor,
    b2: &Tensor,
    #[constant] x: &Tensor,
    #[constant] y: &Tensor,
) -> f32 {
    let h = dense(w1, b1, x).sigmoid();
    let out = dense(w2, b2, &h) + x.matmul(ws);
    mse(&out, y)
}

#[test]
fn skip_connection_net_matches_the_tape() {
    let mut rng = StdRng::seed_from_u64(11);
    let x = Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], &[4, 2]).unwrap();
    let y = Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0], &[4, 1]).unwrap();
    let params = [
        Tensor::randn(&[2, 3], &mut rng),
        Tensor::randn(&[3], &mut rng),
        Tensor::randn(&[3, 1], &mut rng),
        Tensor::randn(&[2, 1], &mut rng),
        Tensor::randn(&[1], &mut rng),
    ];
    let g = skip_net_grad(
        &params[0], &params[1], &params[2], &params[3], &params[4], &x, &y,
    );
    let graph = Graph::new();
    let v: Vec<_> = params.iter().map(|t| graph.leaf(t.clone())).collect();
    let (xv, yv) = (graph.constant(x.clone()), graph.constant(y.clone()));
    let h = (&xv.matmul(&v[0]) + &v[1]).sigmoid();
    let out = &(&h.matmul(&v[2]) + &v[4]) + &xv.matmul(&v[3]);
    let loss = out.mse(&yv);
    let tg = loss.backward();
    assert!((g.value - loss.item()).abs() < 1e-6);
    for (generated, leaf) in [&g.w1, &g.b1, &g.w2, &g.ws, &g.b2].into_iter().zip(&v) {
        let d = rel_diff(generated, &tg.wrt(leaf));
        assert!(d < 1e-5, "relative difference {d}");
    }
    let vjp = dense_vjp(&params[0], &params[1], &x, &Tensor::ones(&[4, 3]));
    assert_eq!(
        vjp.b.to_vec(),
        vec![4.0; 3],
        "the bias gradient sums the seed over the batch"
    );
}

/// The vugrad ops, each in a generated function, checked in f64.
#[differentiable]
fn vugrad_ops(a: &Tensor<f64>, b: &Tensor<f64>, c: &Tensor<f64>) -> f64 {
    let ratio = a / b;
    let expanded = c.expand(&[3, 4]);
    let picked = ratio.select(0, &[2, 0]);
    let squeezed = c.squeeze(1).unsqueeze(0);
    let normalized = (a * a + 0.5).normalize(1);
    (picked.sum() + (expanded * &ratio).sigmoid().sum())
        + squeezed.sum()
        + normalized.square().sum()
}

#[test]
fn vugrad_ops_pass_gradcheck() {
    let mut rng = StdRng::seed_from_u64(3);
    let a = Tensor::<f64>::randn(&[3, 4], &mut rng);
    let b = Tensor::from_vec(
        Tensor::<f64>::randn(&[3, 4], &mut rng)
            .data()
            .iter()
            .map(|v| v.abs() + 0.5)
            .collect(),
        &[3, 4],
    )
    .unwrap();
    let c = Tensor::<f64>::randn(&[3, 1], &mut rng);
    let g = vugrad_ops_grad(&a, &b, &c);
    let f = |t: &[Tensor<f64>]| vugrad_ops(&t[0], &t[1], &t[2]);
    gradcheck(
        f,
        &[a, b, c],
        &[g.a, g.b, g.c],
        Tolerance {
            rtol: 1e-6,
            atol: 1e-7,
        },
    )
    .expect("gradcheck");
}

#[test]
fn trace_reports_shapes_and_the_save_set() {
    let mut rng = StdRng::seed_from_u64(7);
    let p = mlp(&mut rng);
    let x = Tensor::randn(&[12, 20], &mut rng);
    let labels: Vec<usize> = (0..12).map(|i| i % 4).collect();
    let trace = mlp_loss_trace(&p, &x, &labels);
    let step = |name: &str| trace.steps().iter().find(|s| s.expr == name).cloned();
    let first = step("matmul(x, v1)").expect("x·W1 is traced");
    assert_eq!(first.shape, vec![12, 16]);
    assert_eq!(
        first.kept,
        adjoint::__private::Kept::ShapeOnly,
        "pre-activations keep only their shape:\n{trace}"
    );
    let hidden = trace
        .steps()
        .iter()
        .find(|s| s.expr.starts_with("fused relu("))
        .expect("fused bias+relu");
    assert_eq!(
        hidden.kept,
        adjoint::__private::Kept::Value,
        "ReLU outputs are saved:\n{trace}"
    );
    let loss = trace.steps().last().expect("the loss");
    assert!(loss.shape.is_empty());
    // Saved: x (12x20, the data), both ReLU outputs (12x16, 12x8), the logits (12x4) and the weights.
    assert!(
        trace.saved_elements() >= 12 * 16 + 12 * 8 + 12 * 4,
        "{trace}"
    );
}

/// ⟨a, b⟩ over all elements.
fn dot<T: adjoint::Element>(a: &Tensor<T>, b: &Tensor<T>) -> f64 {
    a.data()
        .iter()
        .zip(b.data())
        .map(|(x, y)| x.to_f64().unwrap_or(f64::NAN) * y.to_f64().unwrap_or(f64::NAN))
        .sum()
}

#[test]
fn forward_mode_agrees_with_reverse_mode() {
    let mut rng = StdRng::seed_from_u64(5);
    // Scalar result: the directional derivative equals ⟨∇f, v⟩.
    let x = Tensor::<f64>::randn(&[5, 50], &mut rng);
    let y = Tensor::<f64>::randn(&[2, 50], &mut rng);
    let w = [
        Tensor::randn(&[4, 5], &mut rng),
        Tensor::randn(&[3, 4], &mut rng),
        Tensor::randn(&[2, 3], &mut rng),
    ];
    let v = [
        Tensor::randn(&[4, 5], &mut rng),
        Tensor::randn(&[3, 4], &mut rng),
        Tensor::randn(&[2, 3], &mut rng),
    ];
    let g = three_layer_grad(&w[0], &w[1], &w[2], &x, &y);
    let (value, directional) = three_layer_jvp(&w[0], &w[1], &w[2], &x, &y, &v[0], &v[1], &v[2]);
    assert_eq!(value, g.value);
    let expected = dot(&g.w1, &v[0]) + dot(&g.w2, &v[1]) + dot(&g.w3, &v[2]);
    assert!(
        (directional - expected).abs() <= 1e-10 * expected.abs().max(1.0),
        "{directional} vs {expected}"
    );

    let a = Tensor::<f64>::randn(&[3, 4], &mut rng);
    let b = Tensor::from_vec(
        Tensor::<f64>::randn(&[3, 4], &mut rng)
            .data()
            .iter()
            .map(|t| t.abs() + 0.5)
            .collect(),
        &[3, 4],
    )
    .unwrap();
    let c = Tensor::<f64>::randn(&[3, 1], &mut rng);
    let (va, vb, vc) = (
        Tensor::randn(&[3, 4], &mut rng),
        Tensor::randn(&[3, 4], &mut rng),
        Tensor::randn(&[3, 1], &mut rng),
    );
    let g = vugrad_ops_grad(&a, &b, &c);
    let (_, directional) = vugrad_ops_jvp(&a, &b, &c, &va, &vb, &vc);
    let expected = dot(&g.a, &va) + dot(&g.b, &vb) + dot(&g.c, &vc);
    assert!(
        (directional - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{directional} vs {expected}"
    );

    // Tensor result: ⟨J v, s⟩ = ⟨v, Jᵀ s⟩, through a layer function.
    let (wd, bd, xd) = (
        Tensor::randn(&[3, 2], &mut rng),
        Tensor::randn(&[2], &mut rng),
        Tensor::randn(&[4, 3], &mut rng),
    );
    let (vw, vb2, vx) = (
        Tensor::randn(&[3, 2], &mut rng),
        Tensor::randn(&[2], &mut rng),
        Tensor::randn(&[4, 3], &mut rng),
    );
    let s = Tensor::randn(&[4, 2], &mut rng);
    let (_, jv) = dense_jvp(&wd, &bd, &xd, &vw, &vb2, &vx);
    let back = dense_vjp(&wd, &bd, &xd, &s);
    let (lhs, rhs) = (
        dot(&jv, &s),
        dot(&back.w, &vw) + dot(&back.b, &vb2) + dot(&back.x, &vx),
    );
    assert!(
        (lhs - rhs).abs() <= 1e-4 * rhs.abs().max(1.0),
        "{lhs} vs {rhs}"
    );

    // Composition of tangents through calls (skip_net calls dense twice).
    let xs = Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], &[4, 2]).unwrap();
    let ys = Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0], &[4, 1]).unwrap();
    let ps = [
        Tensor::randn(&[2, 3], &mut rng),
        Tensor::randn(&[3], &mut rng),
        Tensor::randn(&[3, 1], &mut rng),
        Tensor::randn(&[2, 1], &mut rng),
        Tensor::randn(&[1], &mut rng),
    ];
    let vs = [
        Tensor::randn(&[2, 3], &mut rng),
        Tensor::randn(&[3], &mut rng),
        Tensor::randn(&[3, 1], &mut rng),
        Tensor::randn(&[2, 1], &mut rng),
        Tensor::randn(&[1], &mut rng),
    ];
    let g = skip_net_grad(&ps[0], &ps[1], &ps[2], &ps[3], &ps[4], &xs, &ys);
    let (_, directional) = skip_net_jvp(
        &ps[0], &ps[1], &ps[2], &ps[3], &ps[4], &xs, &ys, &vs[0], &vs[1], &vs[2], &vs[3], &vs[4],
    );
    let expected = dot(&g.w1, &vs[0])
        + dot(&g.b1, &vs[1])
        + dot(&g.w2, &vs[2])
        + dot(&g.ws, &vs[3])
        + dot(&g.b2, &vs[4]);
    assert!(
        (f64::from(directional) - expected).abs() <= 1e-4 * expected.abs().max(1.0),
        "{directional} vs {expected}"
    );
}

#[test]
fn graph_marks_the_save_set() {
    let dot = mlp_loss_graph();
    assert!(dot.contains("v4 = fused relu(v2 + v3) (saved)"), "{dot}");
    assert!(dot.contains("v2 = matmul (shape saved)"), "{dot}");
    assert!(
        dot.contains("v13 = cross_entropy\""),
        "the loss itself is not kept:\n{dot}"
    );
}

/// A model with a `Vec` of layers and a nested struct.
#[derive(Parameters, Clone)]
struct Layer {
    w: Tensor<f64>,
    b: Tensor<f64>,
}

#[derive(Parameters, Clone)]
struct Deep {
    layers: Vec<Layer>,
    head: Layer,
}

#[differentiable]
fn deep_loss(p: &Deep, #[constant] x: &Tensor<f64>) -> f64 {
    let h = (x.matmul(&p.layers[0].w) + &p.layers[0].b).tanh();
    let h = (h.matmul(&p.layers[1].w) + &p.layers[1].b).tanh();
    let out = h.matmul(&p.head.w) + &p.head.b;
    out.square().sum() + p.layers[0].w.square().sum()
}

#[test]
fn vec_of_layers_and_nested_models_differentiate() {
    let mut rng = StdRng::seed_from_u64(9);
    let layer = |i: usize, o: usize, rng: &mut StdRng| Layer {
        w: Tensor::randn(&[i, o], rng),
        b: Tensor::randn(&[o], rng),
    };
    let p = Deep {
        layers: vec![layer(3, 4, &mut rng), layer(4, 4, &mut rng)],
        head: layer(4, 2, &mut rng),
    };
    let x = Tensor::<f64>::randn(&[5, 3], &mut rng);
    let g = deep_loss_grad(&p, &x);
    let flat: Vec<Tensor<f64>> = p.named_tensors().into_iter().map(|(_, t)| t).collect();
    let analytic: Vec<Tensor<f64>> = g.p.named_tensors().into_iter().map(|(_, t)| t).collect();
    let f = |t: &[Tensor<f64>]| {
        let q = Deep {
            layers: vec![
                Layer {
                    w: t[0].clone(),
                    b: t[1].clone(),
                },
                Layer {
                    w: t[2].clone(),
                    b: t[3].clone(),
                },
            ],
            head: Layer {
                w: t[4].clone(),
                b: t[5].clone(),
            },
        };
        deep_loss(&q, &x)
    };
    gradcheck(
        f,
        &flat,
        &analytic,
        Tolerance {
            rtol: 1e-6,
            atol: 1e-7,
        },
    )
    .expect("gradcheck through Vec and nested fields");
    assert!(deep_loss_trace(&p, &x)
        .to_string()
        .contains("p.layers[0].w"));
}
