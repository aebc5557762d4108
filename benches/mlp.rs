//! One training step of the seed's MLP (784-512-256-10, ReLU, batch 100,
//! f32, cross-entropy): forward + backward, and the same plus an SGD update,
//! with the tape and with a hand-written backward over the same kernels.
//! Prints the step times, their ratio, and the step's GFLOP/s.
//!
//! Run: `cargo bench --bench mlp`

use adjoint::tape::Graph;
use adjoint::tensor::ops::{loss, matmul, unary};
use adjoint::tensor::rand::{rngs::StdRng, Rng, SeedableRng};
use adjoint::Tensor;
use criterion::{black_box, Criterion};
use std::time::Duration;

const BATCH: usize = 100;
const SIZES: [usize; 4] = [784, 512, 256, 10];

/// Weights `[in, out]` and biases `[out]` of the three layers.
#[derive(Clone)]
struct Mlp {
    w: [Tensor; 3],
    b: [Tensor; 3],
}

fn mlp(rng: &mut StdRng) -> Mlp {
    let layer = |i: usize, rng: &mut StdRng| Tensor::he_normal(SIZES[i], SIZES[i + 1], rng);
    Mlp {
        w: [layer(0, rng), layer(1, rng), layer(2, rng)],
        b: [
            Tensor::zeros(&[512]),
            Tensor::zeros(&[256]),
            Tensor::zeros(&[10]),
        ],
    }
}

/// Loss and gradients (w1, w2, w3, b1, b2, b3) by the tape.
fn tape_step(p: &Mlp, x: &Tensor, labels: &[usize]) -> (f32, Vec<Tensor>) {
    let graph = Graph::new();
    let x = graph.constant(x.clone());
    let w: Vec<_> = p.w.iter().map(|t| graph.leaf(t.clone())).collect();
    let b: Vec<_> = p.b.iter().map(|t| graph.leaf(t.clone())).collect();
    let h1 = (&x.matmul(&w[0]) + &b[0]).relu();
    let h2 = (&h1.matmul(&w[1]) + &b[1]).relu();
    let loss = (&h2.matmul(&w[2]) + &b[2]).cross_entropy(labels);
    let grads = loss.backward();
    let g = w.iter().chain(&b).map(|v| grads.wrt(v)).collect();
    (loss.item(), g)
}

/// Loss and gradients by a hand-written backward over the same kernels.
fn hand_step(p: &Mlp, x: &Tensor, labels: &[usize]) -> (f32, Vec<Tensor>) {
    let h1 = (&x.matmul(&p.w[0]) + &p.b[0]).relu();
    let h2 = (&h1.matmul(&p.w[1]) + &p.b[1]).relu();
    let logits = &h2.matmul(&p.w[2]) + &p.b[2];
    let value = loss::cross_entropy(&logits, labels);
    let g3 = loss::cross_entropy_backward(&logits, labels, 1.0);
    let dw3 = matmul::matmul_backward_rhs(&h2, &p.w[2], &g3);
    let db3 = g3.sum_axis(0, false);
    let g2 = unary::relu_backward(&h2, &matmul::matmul_backward_lhs(&h2, &p.w[2], &g3));
    let dw2 = matmul::matmul_backward_rhs(&h1, &p.w[1], &g2);
    let db2 = g2.sum_axis(0, false);
    let g1 = unary::relu_backward(&h1, &matmul::matmul_backward_lhs(&h1, &p.w[1], &g2));
    let dw1 = matmul::matmul_backward_rhs(x, &p.w[0], &g1);
    let db1 = g1.sum_axis(0, false);
    (value, vec![dw1, dw2, dw3, db1, db2, db3])
}

fn sgd(p: &mut Mlp, grads: &[Tensor], lr: f32) {
    for (t, g) in p.w.iter_mut().chain(p.b.iter_mut()).zip(grads) {
        *t -= &(g * lr);
    }
}

fn step_flops() -> f64 {
    let forward: usize = (0..3).map(|i| 2 * BATCH * SIZES[i] * SIZES[i + 1]).sum();
    let input_grads: usize = (1..3).map(|i| 2 * BATCH * SIZES[i] * SIZES[i + 1]).sum();
    (2 * forward + input_grads) as f64
}

fn bench(c: &mut Criterion, p: &Mlp, x: &Tensor, labels: &[usize]) {
    let mut g = c.benchmark_group("mlp_step");
    g.bench_function("tape", |b| {
        b.iter(|| tape_step(black_box(p), black_box(x), labels))
    });
    g.bench_function("hand_written", |b| {
        b.iter(|| hand_step(black_box(p), black_box(x), labels))
    });
    let mut params = p.clone();
    g.bench_function("tape_sgd", |b| {
        b.iter(|| {
            let (_, grads) = tape_step(&params, x, labels);
            sgd(&mut params, &grads, 1e-3);
        })
    });
    let mut params = p.clone();
    g.bench_function("hand_written_sgd", |b| {
        b.iter(|| {
            let (_, grads) = hand_step(&params, x, labels);
            sgd(&mut params, &grads, 1e-3);
        })
    });
    g.finish();
}

fn mean_ns(name: &str) -> f64 {
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let path = format!("{dir}/criterion/mlp_step/{name}/new/estimates.json");
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|j| j["mean"]["point_estimate"].as_f64())
        .unwrap_or(f64::NAN)
}

fn main() {
    let mut rng = StdRng::seed_from_u64(1);
    let p = mlp(&mut rng);
    let x = Tensor::uniform(&[BATCH, 784], 0.0, 1.0, &mut rng);
    let labels: Vec<usize> = (0..BATCH).map(|_| rng.random_range(0..10)).collect();
    let (lt, gt) = tape_step(&p, &x, &labels);
    let (lh, gh) = hand_step(&p, &x, &labels);
    assert!(
        (lt - lh).abs() < 1e-5,
        "tape and hand-written losses differ: {lt} vs {lh}"
    );
    for (a, b) in gt.iter().zip(&gh) {
        let diff = a
            .data()
            .iter()
            .zip(b.data())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(
            diff < 1e-4,
            "tape and hand-written gradients differ by {diff}"
        );
    }
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    bench(&mut c, &p, &x, &labels);
    c.final_summary();
    let flops = step_flops();
    println!(
        "\nMLP 784-512-256-10, batch 100, f32 ({:.1} MFLOP per forward+backward):",
        flops / 1e6
    );
    println!("| step | tape | hand-written | tape / hand-written |");
    println!("|---|---|---|---|");
    for (label, t, h) in [
        ("forward + backward", "tape", "hand_written"),
        ("+ SGD update", "tape_sgd", "hand_written_sgd"),
    ] {
        let (t, h) = (mean_ns(t), mean_ns(h));
        println!(
            "| {label} | {:.3} ms ({:.0} GFLOP/s) | {:.3} ms ({:.0} GFLOP/s) | {:.2}x |",
            t / 1e6,
            flops / t,
            h / 1e6,
            flops / h,
            t / h
        );
    }
}
