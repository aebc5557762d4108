//! An element-wise-heavy network: two gated layers
//! `tanh(layer_norm(x·W + b)) * sigmoid(x·V + c)` (784-256-256) and a linear
//! read-out to 10 classes, batch 128, f32, cross-entropy; value and gradient
//! three ways in one run: the generated code (element-wise regions fused
//! into one loop each way), the tape, and a hand-written chain of the
//! runtime's unfused ops and their `*_backward` kernels.
//!
//! Run: `cargo bench --bench gated`

use adjoint::tape::{Graph, TensorVar};
use adjoint::tensor::cross_entropy;
use adjoint::tensor::ops::{binary, loss, matmul, reduce, scalar, unary};
use adjoint::tensor::rand::{rngs::StdRng, Rng, SeedableRng};
use adjoint::{differentiable, Parameters, Tensor};
use criterion::{black_box, Criterion};
use std::time::Duration;

const BATCH: usize = 128;
const EPS: f32 = 1e-5;

/// One gated layer: a normalised tanh branch gated by a sigmoid branch.
#[derive(Parameters, Clone)]
struct Gated {
    w: Tensor,
    b: Tensor,
    v: Tensor,
    c: Tensor,
}

#[derive(Parameters, Clone)]
struct Net {
    l1: Gated,
    l2: Gated,
    w3: Tensor,
    b3: Tensor,
}

#[differentiable]
fn net_loss(p: &Net, #[constant] x: &Tensor, #[constant] labels: &[usize]) -> f32 {
    let a1 = x.matmul(&p.l1.w) + &p.l1.b;
    let d1 = &a1 - &a1.mean_axis(1, true);
    let s1 = (d1.square().mean_axis(1, true) + 1e-5).sqrt();
    let h1 = &(&d1 / &s1).tanh() * &(x.matmul(&p.l1.v) + &p.l1.c).sigmoid();
    let a2 = h1.matmul(&p.l2.w) + &p.l2.b;
    let d2 = &a2 - &a2.mean_axis(1, true);
    let s2 = (d2.square().mean_axis(1, true) + 1e-5).sqrt();
    let h2 = &(&d2 / &s2).tanh() * &(h1.matmul(&p.l2.v) + &p.l2.c).sigmoid();
    cross_entropy(&(h2.matmul(&p.w3) + &p.b3), labels)
}

fn gated(inputs: usize, outputs: usize, rng: &mut StdRng) -> Gated {
    Gated {
        w: Tensor::he_normal(inputs, outputs, rng),
        b: Tensor::uniform(&[outputs], -0.1, 0.1, rng),
        v: Tensor::he_normal(inputs, outputs, rng),
        c: Tensor::uniform(&[outputs], -0.1, 0.1, rng),
    }
}

fn net(rng: &mut StdRng) -> Net {
    Net {
        l1: gated(784, 256, rng),
        l2: gated(256, 256, rng),
        w3: Tensor::he_normal(256, 10, rng),
        b3: Tensor::zeros(&[10]),
    }
}

fn generated_step(p: &Net, x: &Tensor, labels: &[usize]) -> (f32, Net) {
    let g = net_loss_grad(p, x, labels);
    (g.value, g.p)
}

/// One gated layer on the tape: its output and its parameters' leaves.
fn tape_layer<'g>(
    graph: &'g Graph,
    l: &Gated,
    x: &TensorVar<'g, f32>,
) -> (TensorVar<'g, f32>, [TensorVar<'g, f32>; 4]) {
    let leaf = |t: &Tensor| graph.leaf(t.clone());
    let (w, b, v, c) = (leaf(&l.w), leaf(&l.b), leaf(&l.v), leaf(&l.c));
    let a = &x.matmul(&w) + &b;
    let d = &a - &a.mean_axis(1, true);
    let s = d.square().mean_axis(1, true).add_scalar(EPS).sqrt();
    let h = &(&d / &s).tanh() * &(&x.matmul(&v) + &c).sigmoid();
    (h, [w, b, v, c])
}

fn tape_step(p: &Net, x: &Tensor, labels: &[usize]) -> (f32, Net) {
    let graph = Graph::new();
    let leaf = |t: &Tensor| graph.leaf(t.clone());
    let x = graph.constant(x.clone());
    let (h1, p1) = tape_layer(&graph, &p.l1, &x);
    let (h2, p2) = tape_layer(&graph, &p.l2, &h1);
    let (w3, b3) = (leaf(&p.w3), leaf(&p.b3));
    let loss = (&h2.matmul(&w3) + &b3).cross_entropy(labels);
    let grads = loss.backward();
    let gated = |ps: &[TensorVar<'_, f32>; 4]| Gated {
        w: grads.wrt(&ps[0]),
        b: grads.wrt(&ps[1]),
        v: grads.wrt(&ps[2]),
        c: grads.wrt(&ps[3]),
    };
    let net = Net {
        l1: gated(&p1),
        l2: gated(&p2),
        w3: grads.wrt(&w3),
        b3: grads.wrt(&b3),
    };
    (loss.item(), net)
}

/// What the hand-written backward of one layer reads.
struct Saved {
    x: Tensor,
    a_shape: Vec<usize>,
    d: Tensor,
    sq_shape: Vec<usize>,
    s: Tensor,
    t: Tensor,
    g: Tensor,
    xv_shape: Vec<usize>,
}

/// One layer forward with the runtime's unfused ops, one temporary per op.
fn hand_forward(l: &Gated, x: &Tensor) -> (Tensor, Saved) {
    let a = &x.matmul(&l.w) + &l.b;
    let d = &a - &a.mean_axis(1, true);
    let sq = d.square();
    let s = scalar::add_scalar(&sq.mean_axis(1, true), EPS).sqrt();
    let t = (&d / &s).tanh();
    let xv = x.matmul(&l.v);
    let g = (&xv + &l.c).sigmoid();
    let h = &t * &g;
    let saved = Saved {
        x: x.clone(),
        a_shape: a.shape().to_vec(),
        d,
        sq_shape: sq.shape().to_vec(),
        s,
        t,
        g,
        xv_shape: xv.shape().to_vec(),
    };
    (h, saved)
}

/// One layer backward with the ops' `*_backward` kernels; the input
/// gradient only when `input_grad`.
fn hand_backward(l: &Gated, s: &Saved, gh: &Tensor, input_grad: bool) -> (Gated, Option<Tensor>) {
    let (dt, dg) = binary::mul_backward(&s.t, &s.g, gh);
    let dz = unary::sigmoid_backward(&s.g, &dg);
    let (dxv, dc) = binary::add_backward(&s.xv_shape, l.c.shape(), &dz);
    let dn = unary::tanh_backward(&s.t, &dt);
    let (dd1, ds) = binary::div_backward(&s.d, &s.s, &dn);
    let dvar = unary::sqrt_backward(&s.s, &ds);
    let dsq = reduce::mean_axis_backward(&s.sq_shape, 1, &dvar);
    let dd = &dd1 + &unary::square_backward(&s.d, &dsq);
    let (da, dmu) = binary::sub_backward(&s.a_shape, &[BATCH, 1], &dd);
    let da = &da + &reduce::mean_axis_backward(&s.a_shape, 1, &dmu);
    let (dxw, db) = binary::add_backward(&s.a_shape, l.b.shape(), &da);
    let (dw, dv) = (
        matmul::matmul_backward_rhs(&s.x, &l.w, &dxw),
        matmul::matmul_backward_rhs(&s.x, &l.v, &dxv),
    );
    let dx = input_grad.then(|| {
        &matmul::matmul_backward_lhs(&s.x, &l.w, &dxw)
            + &matmul::matmul_backward_lhs(&s.x, &l.v, &dxv)
    });
    (
        Gated {
            w: dw,
            b: db,
            v: dv,
            c: dc,
        },
        dx,
    )
}

fn hand_step(p: &Net, x: &Tensor, labels: &[usize]) -> (f32, Net) {
    let (h1, s1) = hand_forward(&p.l1, x);
    let (h2, s2) = hand_forward(&p.l2, &h1);
    let logits = &h2.matmul(&p.w3) + &p.b3;
    let value = loss::cross_entropy(&logits, labels);
    let dlogits = loss::cross_entropy_backward(&logits, labels, 1.0);
    let (dz3, db3) = binary::add_backward(logits.shape(), p.b3.shape(), &dlogits);
    let (dh2, dw3) = matmul::matmul_backward(&h2, &p.w3, &dz3);
    let (g2, dh1) = hand_backward(&p.l2, &s2, &dh2, true);
    let dh1 = dh1.expect("layer 2 passes its input gradient");
    let (g1, _) = hand_backward(&p.l1, &s1, &dh1, false);
    (
        value,
        Net {
            l1: g1,
            l2: g2,
            w3: dw3,
            b3: db3,
        },
    )
}

type Step = fn(&Net, &Tensor, &[usize]) -> (f32, Net);

const STEPS: [(&str, Step); 3] = [
    ("generated", generated_step),
    ("tape", tape_step),
    ("hand_unfused", hand_step),
];

#[path = "common/measure.rs"]
mod measure;
use measure::max_rel_diff;

/// The mean time of `gated_step/name` in this run.
fn mean_ns(name: &str) -> f64 {
    measure::mean_ns("gated_step", name)
}

fn main() {
    let mut rng = StdRng::seed_from_u64(3);
    let p = net(&mut rng);
    let x = Tensor::uniform(&[BATCH, 784], 0.0, 1.0, &mut rng);
    let labels: Vec<usize> = (0..BATCH).map(|_| rng.random_range(0..10)).collect();
    let (lt, gt) = tape_step(&p, &x, &labels);
    for (name, step) in STEPS {
        let (l, g) = step(&p, &x, &labels);
        assert!((l - lt).abs() < 1e-4, "{name}: loss {l} vs the tape's {lt}");
        let d = max_rel_diff(&g, &gt);
        assert!(d < 1e-3, "{name}: gradients differ from the tape's by {d}");
    }
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let mut group = c.benchmark_group("gated_step");
    for (name, step) in STEPS {
        group.bench_function(name, |b| {
            b.iter(|| step(black_box(&p), black_box(&x), &labels))
        });
    }
    group.finish();
    c.final_summary();
    let (g, t, h) = (
        mean_ns("generated"),
        mean_ns("tape"),
        mean_ns("hand_unfused"),
    );
    println!(
        "\ngated 784-256-256-10, batch {BATCH}, f32, value + gradient: generated {:.3} ms, tape {:.3} ms, hand-written unfused {:.3} ms",
        g / 1e6,
        t / 1e6,
        h / 1e6
    );
    println!(
        "tape / generated {:.2}x, hand-written unfused / generated {:.2}x",
        t / g,
        h / g
    );
}
