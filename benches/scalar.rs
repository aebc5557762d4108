//! Scalar benchmarks: primal, generated gradient, hand-written adjoint and
//! tape gradient, for Griewank's function, a 100-iteration loop and the
//! 1000-D Rosenbrock function over a slice.
//! After the criterion run it prints the ratios the README reports.
//!
//! Run: `cargo bench --bench scalar`

use adjoint::differentiable;
use adjoint::tape::{Tape, Var};
use criterion::{black_box, Criterion};
use std::time::Duration;

#[differentiable]
fn griewank(x1: f64, x2: f64) -> f64 {
    (f64::sin(x1 / x2) + (x1 / x2 - x2.exp())) * (x1 / x2 - x2.exp())
}

/// Griewank's adjoint written by hand, as on the exercise sheet.
fn griewank_by_hand(x1: f64, x2: f64) -> (f64, f64, f64) {
    let v1 = x1 / x2;
    let v2 = v1.sin();
    let v3 = x2.exp();
    let v4 = v1 - v3;
    let v5 = v2 + v4;
    let v6 = v5 * v4;
    let v5_bar = v4;
    let v4_bar = v5_bar + v5;
    let v3_bar = -v4_bar;
    let v1_bar = v5_bar * v1.cos() + v4_bar;
    let x2_bar = v3_bar * v3 - v1_bar * v1 / x2;
    let x1_bar = v1_bar / x2;
    (v6, x1_bar, x2_bar)
}

fn griewank_tape<'t>(x1: Var<'t, f64>, x2: Var<'t, f64>) -> Var<'t, f64> {
    let v = x1 / x2;
    let w = v - x2.exp();
    (v.sin() + w) * w
}

#[differentiable]
fn damped_loop(x: f64, y: f64, #[constant] n: usize) -> f64 {
    let mut acc = y;
    for _ in 0..n {
        acc = (acc * x).sin() + y;
    }
    acc
}

/// The loop's adjoint by hand: save each iteration's input and product.
fn damped_loop_by_hand(x: f64, y: f64, n: usize) -> (f64, f64, f64) {
    let mut saved = Vec::with_capacity(n);
    let mut acc = y;
    for _ in 0..n {
        let s = acc * x;
        saved.push((acc, s));
        acc = s.sin() + y;
    }
    let (mut acc_bar, mut x_bar, mut y_bar) = (1.0, 0.0, 0.0);
    while let Some((a, s)) = saved.pop() {
        y_bar += acc_bar;
        let s_bar = acc_bar * s.cos();
        x_bar += s_bar * a;
        acc_bar = s_bar * x;
    }
    (acc, x_bar, y_bar + acc_bar)
}

fn damped_loop_tape<'t>(x: Var<'t, f64>, y: Var<'t, f64>, n: usize) -> Var<'t, f64> {
    let mut acc = y;
    for _ in 0..n {
        acc = (acc * x).sin() + y;
    }
    acc
}

/// The n-D Rosenbrock function over an active slice.
#[differentiable]
fn rosenbrock(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    s
}

/// Rosenbrock's gradient by hand: one fused loop, each term's adjoint
/// scattered into `x_bar[i]` and `x_bar[i + 1]` as it is computed.
fn rosenbrock_by_hand(x: &[f64]) -> (f64, Vec<f64>) {
    let mut x_bar = vec![0.0; x.len()];
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        let a = x[i + 1] - x[i] * x[i];
        let b = 1.0 - x[i];
        s += 100.0 * a * a + b * b;
        let a_bar = 200.0 * a;
        x_bar[i] += -2.0 * x[i] * a_bar - 2.0 * b;
        x_bar[i + 1] += a_bar;
    }
    (s, x_bar)
}

fn rosenbrock_tape<'t>(x: &[Var<'t, f64>]) -> Var<'t, f64> {
    let mut s = x[0] * 0.0;
    for i in 0..x.len() - 1 {
        let b = (x[i] * -1.0) + 1.0;
        s = s + (x[i + 1] - x[i] * x[i]).powi(2) * 100.0 + b.powi(2);
    }
    s
}

const N: usize = 100;
/// Dimension of the Rosenbrock benchmark.
const DIM: usize = 1000;

fn rosenbrock_point() -> Vec<f64> {
    (0..DIM).map(|i| (i as f64 * 0.37).sin() * 1.5).collect()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("griewank");
    g.bench_function("primal", |b| {
        b.iter(|| griewank(black_box(1.5), black_box(0.5)))
    });
    g.bench_function("generated", |b| {
        b.iter(|| griewank_grad(black_box(1.5), black_box(0.5)))
    });
    g.bench_function("hand_written", |b| {
        b.iter(|| griewank_by_hand(black_box(1.5), black_box(0.5)))
    });
    let mut tape = Tape::with_capacity(32);
    g.bench_function("tape", |b| {
        b.iter(|| {
            tape.clear();
            let (x1, x2) = (tape.var(black_box(1.5)), tape.var(black_box(0.5)));
            let y = griewank_tape(x1, x2);
            let grads = y.backward();
            (y.value(), grads.wrt(x1), grads.wrt(x2))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("loop100");
    g.bench_function("primal", |b| {
        b.iter(|| damped_loop(black_box(0.9), black_box(0.3), black_box(N)))
    });
    g.bench_function("generated", |b| {
        b.iter(|| damped_loop_grad(black_box(0.9), black_box(0.3), black_box(N)))
    });
    g.bench_function("hand_written", |b| {
        b.iter(|| damped_loop_by_hand(black_box(0.9), black_box(0.3), black_box(N)))
    });
    let mut tape = Tape::with_capacity(4 * N);
    g.bench_function("tape", |b| {
        b.iter(|| {
            tape.clear();
            let (x, y) = (tape.var(black_box(0.9)), tape.var(black_box(0.3)));
            let out = damped_loop_tape(x, y, black_box(N));
            let grads = out.backward();
            (out.value(), grads.wrt(x), grads.wrt(y))
        })
    });
    g.finish();

    let x = rosenbrock_point();
    let mut g = c.benchmark_group("rosenbrock1000");
    g.bench_function("primal", |b| b.iter(|| rosenbrock(black_box(&x))));
    g.bench_function("generated", |b| b.iter(|| rosenbrock_grad(black_box(&x))));
    g.bench_function("hand_written", |b| {
        b.iter(|| rosenbrock_by_hand(black_box(&x)))
    });
    let mut tape = Tape::with_capacity(16 * DIM);
    g.bench_function("tape", |b| {
        b.iter(|| {
            tape.clear();
            let vars: Vec<_> = black_box(&x).iter().map(|xi| tape.var(*xi)).collect();
            let out = rosenbrock_tape(&vars);
            let grads = out.backward();
            (out.value(), grads.wrt_all(&vars))
        })
    });
    g.finish();
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
    println!("\nratios from this run (mean times):");
    println!("| function | primal | generated | hand-written | tape | generated / hand-written | generated / primal | tape / generated |");
    println!("|---|---|---|---|---|---|---|---|");
    for group in ["griewank", "loop100", "rosenbrock1000"] {
        if mean_ns(group, "generated").is_none() {
            continue; // filtered out of this run
        }
        let t = |n| mean_ns(group, n).unwrap_or(f64::NAN);
        let (p, gen, hand, tape) = (t("primal"), t("generated"), t("hand_written"), t("tape"));
        println!(
            "| {group} | {} | {} | {} | {} | {:.2}x | {:.2}x | {:.1}x |",
            fmt_ns(p),
            fmt_ns(gen),
            fmt_ns(hand),
            fmt_ns(tape),
            gen / hand,
            gen / p,
            tape / gen
        );
    }
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1000.0 {
        format!("{:.2} µs", ns / 1000.0)
    } else {
        format!("{ns:.1} ns")
    }
}

fn main() {
    let g = griewank_grad(1.5, 0.5);
    assert_close((g.value, g.x1, g.x2), griewank_by_hand(1.5, 0.5));
    let g = damped_loop_grad(0.9, 0.3, N);
    assert_close((g.value, g.x, g.y), damped_loop_by_hand(0.9, 0.3, N));
    let x = rosenbrock_point();
    let (g, (value, x_bar)) = (rosenbrock_grad(&x), rosenbrock_by_hand(&x));
    for (generated, by_hand) in g.x.iter().zip(&x_bar) {
        assert_close((g.value, *generated, 0.0), (value, *by_hand, 0.0));
    }
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    bench(&mut c);
    c.final_summary();
    report();
}

/// The benchmarked implementations compute the same thing.
fn assert_close(generated: (f64, f64, f64), by_hand: (f64, f64, f64)) {
    let ok = |x: f64, y: f64| (x - y).abs() <= 1e-12 * (1.0 + x.abs());
    assert!(
        ok(generated.0, by_hand.0) && ok(generated.1, by_hand.1) && ok(generated.2, by_hand.2),
        "{generated:?} vs {by_hand:?}"
    );
}
