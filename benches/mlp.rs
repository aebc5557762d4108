//! One training step of the seed's MLP (784-512-256-10, ReLU, batch 100,
//! f32, cross-entropy): forward + backward, and the same plus an SGD update,
//! with the generated gradient (`#[differentiable]`), the tape, and a
//! hand-written backward over the same kernels. Prints the step times, their
//! ratios, the step's GFLOP/s against the gemm peak measured in the same run,
//! and the peak memory of a step (counting allocator).
//!
//! Run: `cargo bench --bench mlp`

use adjoint::kernels::{gemm, MatRef};
use adjoint::optim::{Adam, Optimizer};
use adjoint::tensor::rand::{rngs::StdRng, Rng, SeedableRng};
use adjoint::Tensor;
use criterion::{black_box, Criterion};
use std::time::Duration;

#[path = "common/measure.rs"]
mod measure;
use measure::{max_rel_diff, peak_bytes};

/// The mean time of `mlp_step/name` in this run.
fn mean_ns(name: &str) -> f64 {
    measure::mean_ns("mlp_step", name)
}

#[path = "common/mlp_step.rs"]
mod mlp_step;
use mlp_step::*;

fn bench(c: &mut Criterion, p: &Mlp, x: &Tensor, labels: &[usize]) {
    let mut g = c.benchmark_group("mlp_step");
    for (name, step) in STEPS {
        g.bench_function(name, |b| {
            b.iter(|| step(black_box(p), black_box(x), labels))
        });
        let mut params = p.clone();
        g.bench_function(format!("{name}_sgd"), |b| {
            b.iter(|| {
                let (_, grad) = step(&params, x, labels);
                sgd(&mut params, &grad, 1e-3);
            })
        });
    }
    // The full training step as users run it: generated gradient + Adam.
    let mut params = p.clone();
    let mut adam = Adam::new(1e-3);
    g.bench_function("generated_adam", |b| {
        b.iter(|| {
            let (_, grad) = generated_step(&params, x, labels);
            adam.step(&mut params, &grad);
        })
    });
    let mut params = p.clone();
    let mut adam = Adam::new(1e-3);
    let grad = generated_step(&params, x, labels).1;
    g.bench_function("adam_alone", |b| {
        b.iter(|| adam.step(&mut params, black_box(&grad)))
    });
    // The step's floor: its eight matrix products alone, same shapes.
    let floor = GemmFloor::new();
    g.bench_function("gemm_floor", |b| b.iter(|| floor.run()));
    // The gemm peak on this machine: a 512³ product on both cores.
    measure::bench_gemm_peak(&mut g);
    g.finish();
}

/// The eight matrix products of one step (three forward; the weight and
/// input gradients of the last two layers and the first layer's weight
/// gradient backward), on buffers of the step's shapes.
struct GemmFloor {
    x: Vec<f32>,
    w: [Vec<f32>; 3],
    h: [Vec<f32>; 2],
    d: [Vec<f32>; 3],
}

impl GemmFloor {
    fn new() -> Self {
        let n = BATCH;
        let [i, a, b, o] = SIZES;
        GemmFloor {
            x: vec![0.5; n * i],
            w: [vec![0.01; i * a], vec![0.01; a * b], vec![0.01; b * o]],
            h: [vec![0.5; n * a], vec![0.5; n * b]],
            d: [vec![0.1; n * a], vec![0.1; n * b], vec![0.1; n * o]],
        }
    }

    fn run(&self) {
        let n = BATCH;
        let [i, a, b, o] = SIZES;
        fn m(d: &[f32], r: usize, c: usize) -> MatRef<'_, f32> {
            MatRef::row_major(d, r, c)
        }
        let out = |a: MatRef<f32>, b: MatRef<f32>| {
            let mut c = vec![0.0f32; a.rows() * b.cols()];
            gemm(1.0, a, b, 0.0, &mut c);
            black_box(c);
        };
        // forward
        out(m(&self.x, n, i), m(&self.w[0], i, a));
        out(m(&self.h[0], n, a), m(&self.w[1], a, b));
        out(m(&self.h[1], n, b), m(&self.w[2], b, o));
        // backward: dW3, dh2, dW2, dh1, dW1
        out(m(&self.h[1], n, b).t(), m(&self.d[2], n, o));
        out(m(&self.d[2], n, o), m(&self.w[2], b, o).t());
        out(m(&self.h[0], n, a).t(), m(&self.d[1], n, b));
        out(m(&self.d[1], n, b), m(&self.w[1], a, b).t());
        out(m(&self.x, n, i).t(), m(&self.d[0], n, a));
    }
}

fn main() {
    let mut rng = StdRng::seed_from_u64(1);
    let p = mlp(&mut rng);
    let x = Tensor::uniform(&[BATCH, 784], 0.0, 1.0, &mut rng);
    let labels: Vec<usize> = (0..BATCH).map(|_| rng.random_range(0..10)).collect();
    let (lh, gh) = hand_step(&p, &x, &labels);
    for (name, step) in STEPS {
        let (l, g) = step(&p, &x, &labels);
        assert!((l - lh).abs() < 1e-5, "{name}: loss {l} vs {lh}");
        let d = max_rel_diff(&g, &gh);
        assert!(
            d < 1e-4,
            "{name}: gradients differ from the hand-written ones by {d}"
        );
    }
    let peaks: Vec<usize> = STEPS
        .iter()
        .map(|(_, step)| peak_bytes(|| drop(black_box(step(&p, &x, &labels)))))
        .collect();
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    bench(&mut c, &p, &x, &labels);
    c.final_summary();
    let flops = step_flops();
    let peak_gflops = measure::gemm_peak_gflops("mlp_step");
    println!(
        "\nMLP 784-512-256-10, batch 100, f32: {:.1} MFLOP per forward + backward; gemm peak (512³) in this run {:.0} GFLOP/s",
        flops / 1e6,
        peak_gflops
    );
    println!("| step | forward + backward | GFLOP/s (% of gemm peak) | + SGD update | peak memory of a step |");
    println!("|---|---|---|---|---|");
    for ((name, _), peak) in STEPS.iter().zip(&peaks) {
        let (t, ts) = (mean_ns(name), mean_ns(&format!("{name}_sgd")));
        println!(
            "| {name} | {:.3} ms | {:.0} ({:.0}%) | {:.3} ms | {:.2} MB |",
            t / 1e6,
            flops / t,
            100.0 * flops / t / peak_gflops,
            ts / 1e6,
            *peak as f64 / 1e6
        );
    }
    let (g, t, h) = (
        mean_ns("generated"),
        mean_ns("tape"),
        mean_ns("hand_written"),
    );
    let (full, floor, adam) = (
        mean_ns("generated_adam"),
        mean_ns("gemm_floor"),
        mean_ns("adam_alone"),
    );
    println!(
        "generated step + Adam {:.3} ms, its eight gemms alone {:.3} ms: {:.2}x the floor (Adam alone {:.3} ms)",
        full / 1e6,
        floor / 1e6,
        full / floor,
        adam / 1e6
    );
    println!(
        "generated / hand-written {:.2}x, tape / generated {:.2}x, peak memory generated / tape {:.2}x",
        g / h,
        t / g,
        peaks[2] as f64 / peaks[1] as f64
    );
}
