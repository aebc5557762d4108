//! Kernel benchmarks: f32 GFLOP/s of the threaded `gemm` against
//! `gemm_single_threaded` for the matrix products of a 784-512-256-10 MLP
//! with batch 100 (forward, weight gradients Xᵀ·G and input gradients G·Wᵀ,
//! the transposes as views without copies) and for 512³. After the
//! criterion run it prints a table with the speedup per shape.
//!
//! It also times the largest block of `gemm`'s split alone on one thread:
//! `single / block` is the speedup a perfect machine would give that split
//! (free fork/join, no contention between the cores), its ceiling.
//!
//! Last, one training step of the seed's MLP (784-512-256-10, batch 100) with
//! the tape, with its GFLOP/s (`benches/mlp.rs` compares it with the
//! generated and hand-written steps).
//!
//! Run: `cargo bench --bench kernels`

#[path = "common/mlp_step.rs"]
#[allow(dead_code)]
mod mlp_step;

use adjoint::tensor::rand::{rngs::StdRng, Rng, SeedableRng};
use adjoint::Tensor;
use adjoint_kernels::gemm::{plan, Split};
use adjoint_kernels::{gemm, gemm_single_threaded, threads, MatRef};
use criterion::{black_box, Criterion, Throughput};
use std::time::Duration;

/// One benchmarked product `C (m×n) = A (m×k) · B (k×n)`, where `A` or `B`
/// may be the transpose of a row-major buffer.
struct Case {
    /// Criterion group (a directory name under target/criterion).
    id: &'static str,
    /// What the product is in the network.
    what: &'static str,
    m: usize,
    k: usize,
    n: usize,
    /// `A` is the transpose of a row-major `k×m` buffer (`Xᵀ` in `Xᵀ·G`).
    a_t: bool,
    /// `B` is the transpose of a row-major `n×k` buffer (`Wᵀ` in `G·Wᵀ`).
    b_t: bool,
}

impl Case {
    const fn new(
        id: &'static str,
        what: &'static str,
        mkn: (usize, usize, usize),
        a_t: bool,
        b_t: bool,
    ) -> Self {
        let (m, k, n) = mkn;
        Case {
            id,
            what,
            m,
            k,
            n,
            a_t,
            b_t,
        }
    }

    fn flop(&self) -> u64 {
        2 * (self.m * self.k * self.n) as u64
    }

    fn shape(&self) -> String {
        let view = |t: bool| if t { " (view of ᵀ)" } else { "" };
        format!(
            "({}x{}{})·({}x{}{})",
            self.m,
            self.k,
            view(self.a_t),
            self.k,
            self.n,
            view(self.b_t)
        )
    }
}

const CASES: [Case; 10] = [
    Case::new(
        "gemm_fwd1",
        "forward 1: X·W1",
        (100, 784, 512),
        false,
        false,
    ),
    Case::new(
        "gemm_fwd2",
        "forward 2: H1·W2",
        (100, 512, 256),
        false,
        false,
    ),
    Case::new(
        "gemm_fwd3",
        "forward 3: H2·W3",
        (100, 256, 10),
        false,
        false,
    ),
    Case::new(
        "gemm_dw1",
        "weight grad 1: Xᵀ·G1",
        (784, 100, 512),
        true,
        false,
    ),
    Case::new(
        "gemm_dw2",
        "weight grad 2: H1ᵀ·G2",
        (512, 100, 256),
        true,
        false,
    ),
    Case::new(
        "gemm_dw3",
        "weight grad 3: H2ᵀ·G3",
        (256, 100, 10),
        true,
        false,
    ),
    Case::new(
        "gemm_dx1",
        "input grad 1: G1·W1ᵀ",
        (100, 512, 784),
        false,
        true,
    ),
    Case::new(
        "gemm_dx2",
        "input grad 2: G2·W2ᵀ",
        (100, 256, 512),
        false,
        true,
    ),
    Case::new(
        "gemm_dx3",
        "input grad 3: G3·W3ᵀ",
        (100, 10, 256),
        false,
        true,
    ),
    Case::new("gemm_sq512", "square 512³", (512, 512, 512), false, false),
];

/// Deterministic values in [-1, 1).
fn values(len: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

/// The operands of a case: buffers and the views on them.
struct Operands {
    a: Vec<f32>,
    b: Vec<f32>,
}

impl Operands {
    fn new(case: &Case) -> Self {
        Operands {
            a: values(case.m * case.k, 1),
            b: values(case.k * case.n, 2),
        }
    }

    fn a<'s>(&'s self, case: &Case) -> MatRef<'s, f32> {
        if case.a_t {
            MatRef::row_major(&self.a, case.k, case.m).t()
        } else {
            MatRef::row_major(&self.a, case.m, case.k)
        }
    }

    fn b<'s>(&'s self, case: &Case) -> MatRef<'s, f32> {
        if case.b_t {
            MatRef::row_major(&self.b, case.n, case.k).t()
        } else {
            MatRef::row_major(&self.b, case.k, case.n)
        }
    }
}

fn bench(c: &mut Criterion) {
    for case in &CASES {
        let ops = Operands::new(case);
        let (a, b) = (ops.a(case), ops.b(case));
        let mut out = vec![0.0f32; case.m * case.n];
        let mut g = c.benchmark_group(case.id);
        g.throughput(Throughput::Elements(case.flop()));
        g.bench_function("single", |bench| {
            bench.iter(|| gemm_single_threaded(1.0, black_box(a), black_box(b), 0.0, &mut out))
        });
        g.bench_function("threaded", |bench| {
            bench.iter(|| gemm(1.0, black_box(a), black_box(b), 0.0, &mut out))
        });
        let (a, b) = largest_block(case, a, b);
        g.bench_function("largest_block", |bench| {
            bench.iter(|| gemm_single_threaded(1.0, black_box(a), black_box(b), 0.0, &mut out))
        });
        g.finish();
    }
    let mut rng = StdRng::seed_from_u64(1);
    let model = mlp_step::mlp(&mut rng);
    let x = Tensor::uniform(&[mlp_step::BATCH, 784], 0.0, 1.0, &mut rng);
    let labels: Vec<usize> = (0..mlp_step::BATCH)
        .map(|_| rng.random_range(0..10))
        .collect();
    let mut g = c.benchmark_group("mlp_step_tape");
    g.bench_function("tape", |bench| {
        bench.iter(|| mlp_step::tape_step(black_box(&model), black_box(&x), &labels))
    });
    g.finish();
}

/// The operands of the largest block `gemm` splits the case into (the
/// first one), or the whole product if it does not split it.
fn largest_block<'s>(
    case: &Case,
    a: MatRef<'s, f32>,
    b: MatRef<'s, f32>,
) -> (MatRef<'s, f32>, MatRef<'s, f32>) {
    let (m, k, n) = (case.m, case.k, case.n);
    match plan(m, k, n) {
        Split::Serial => (a, b),
        Split::Cols { width } => (a, b.block(0..k, 0..width.min(n))),
        Split::Rows { height } => (a.block(0..height.min(m), 0..k), b),
    }
}

/// How `gemm` splits the case, in words.
fn describe(case: &Case) -> String {
    match plan(case.m, case.k, case.n) {
        Split::Serial => "none".into(),
        Split::Cols { width } => format!("{} col blocks of ≤{width}", case.n.div_ceil(width)),
        Split::Rows { height } => format!("{} row blocks of ≤{height}", case.m.div_ceil(height)),
    }
}

/// The threaded product is bit for bit the single-threaded one.
fn check_agreement() {
    for case in &CASES {
        let ops = Operands::new(case);
        let mut threaded = values(case.m * case.n, 3);
        let mut single = threaded.clone();
        gemm(0.5, ops.a(case), ops.b(case), 1.0, &mut threaded);
        gemm_single_threaded(0.5, ops.a(case), ops.b(case), 1.0, &mut single);
        assert!(
            threaded == single,
            "{}: threaded differs from single-threaded",
            case.id
        );
    }
}

/// The mean time criterion measured for `group/name`, in nanoseconds.
fn mean_ns(group: &str, name: &str) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let path = format!("{dir}/criterion/{group}/{name}/new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn report() {
    println!(
        "\nf32 gemm, GFLOP/s from criterion's mean times ({} threads); ceiling = single / largest block alone:",
        threads()
    );
    println!(
        "| product | shape | MFLOP | split | single-threaded | threaded | speedup | ceiling |"
    );
    println!("|---|---|---:|---|---:|---:|---:|---:|");
    for case in &CASES {
        let ns = |name| mean_ns(case.id, name).unwrap_or(f64::NAN);
        let (single, threaded, block) = (ns("single"), ns("threaded"), ns("largest_block"));
        let gflops = |t: f64| case.flop() as f64 / t;
        println!(
            "| {} | {} | {:.1} | {} | {:.1} | {:.1} | {:.2}x | {:.2}x |",
            case.what,
            case.shape(),
            case.flop() as f64 / 1e6,
            describe(case),
            gflops(single),
            gflops(threaded),
            single / threaded,
            single / block
        );
    }
    let step = mean_ns("mlp_step_tape", "tape").unwrap_or(f64::NAN);
    println!(
        "\nMLP 784-512-256-10 training step (forward + backward, batch 100) with the tape: {:.3} ms, {:.0} GFLOP/s",
        step / 1e6,
        mlp_step::step_flops() / step
    );
}

fn main() {
    check_agreement();
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    bench(&mut c);
    c.final_summary();
    report();
}
