//! Chains of element-wise ops on one tensor, summed against weights, value
//! and gradient: the generated code (each chain fused into one loop forward,
//! computing the value and its derivative, and one multiply backward)
//! against the tape (one kernel per op, each intermediate kept), in one run.
//! Two chains: cheap ops, where memory traffic dominates, and
//! transcendental ones, where arithmetic does.
//!
//! Run: `cargo bench --bench fusion`

use adjoint::prelude::*;
use adjoint::tape::Graph;
use adjoint::tensor::rand::{rngs::StdRng, SeedableRng};
use criterion::{black_box, Criterion};
use std::time::Duration;

#[differentiable]
fn cheap(x: &Tensor, #[constant] w: &Tensor) -> f32 {
    (&(-x).abs().square().relu() * w).sum()
}

#[differentiable]
fn transcendental(x: &Tensor, #[constant] w: &Tensor) -> f32 {
    (&x.sin().exp().tanh().square().sigmoid() * w).sum()
}

fn cheap_tape(x: &Tensor, w: &Tensor) -> (f32, Tensor) {
    let graph = Graph::new();
    let xv = graph.leaf(x.clone());
    let loss = (&xv.neg().abs().square().relu() * &graph.constant(w.clone())).sum();
    (loss.item(), loss.backward().wrt(&xv))
}

fn transcendental_tape(x: &Tensor, w: &Tensor) -> (f32, Tensor) {
    let graph = Graph::new();
    let xv = graph.leaf(x.clone());
    let loss = (&xv.sin().exp().tanh().square().sigmoid() * &graph.constant(w.clone())).sum();
    (loss.item(), loss.backward().wrt(&xv))
}

fn same(generated: (f32, &Tensor), tape: (f32, Tensor)) {
    let (value, dx) = tape;
    assert!((generated.0 - value).abs() <= 1e-3 * value.abs().max(1.0));
    let close = generated.1.data().iter().zip(dx.data());
    assert!(close
        .into_iter()
        .all(|(a, b)| (a - b).abs() <= 1e-4 * (1.0 + b.abs())));
}

fn main() {
    let mut rng = StdRng::seed_from_u64(1);
    let x = Tensor::<f32>::randn(&[2048, 2048], &mut rng);
    let w = Tensor::<f32>::randn(&[2048, 2048], &mut rng);
    let g = cheap_grad(&x, &w);
    same((g.value, &g.x), cheap_tape(&x, &w));
    let g = transcendental_grad(&x, &w);
    same((g.value, &g.x), transcendental_tape(&x, &w));

    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    let mut group = c.benchmark_group("fused_chain_2048x2048");
    group.bench_function("cheap/generated", |b| {
        b.iter(|| cheap_grad(black_box(&x), black_box(&w)))
    });
    group.bench_function("cheap/tape", |b| {
        b.iter(|| cheap_tape(black_box(&x), black_box(&w)))
    });
    group.bench_function("transcendental/generated", |b| {
        b.iter(|| transcendental_grad(black_box(&x), black_box(&w)))
    });
    group.bench_function("transcendental/tape", |b| {
        b.iter(|| transcendental_tape(black_box(&x), black_box(&w)))
    });
    group.finish();
    c.final_summary();
}
