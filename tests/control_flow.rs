//! Branches, loops with run-time bounds, early returns and nested calls:
//! the generated gradient must agree with the tape-based oracle and with
//! central finite differences at many random points, and forward mode must
//! agree with reverse mode (⟨J v, w⟩ = ⟨v, Jᵀ w⟩ for scalar output).

// Plain `a = a op b` assignments are exercised on purpose (compound ones too).
#![allow(clippy::assign_op_pattern)]

use adjoint::check::{check_gradient, Tolerance};
use adjoint::differentiable;
use adjoint::scalar::ScalarExt;
use adjoint::tape::{Tape, Var};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// Defines a function twice from one body: `#[differentiable]` over `f64`,
/// and over the tape's `Var` (the oracle).
macro_rules! dual {
    ($name:ident, $tape:ident, ($($x:ident),*), ($($c:ident: $cty:ty),*), $body:block) => {
        #[differentiable]
        fn $name($($x: f64,)* $(#[constant] $c: $cty),*) -> f64 $body

        #[allow(clippy::all)]
        fn $tape<'t>($($x: Var<'t, f64>,)* $($c: $cty),*) -> Var<'t, f64> $body
    };
}

dual!(branchy, branchy_tape, (x, y), (), {
    let s = x * y;
    if s > 0.5 {
        (s * x).sin() + y.exp()
    } else {
        x.exp() - y * y.cos()
    }
});

dual!(nested_branches, nested_branches_tape, (x, y), (), {
    let mut acc = x * y;
    if x > 0.0 {
        acc += x.sin();
        if y > 0.0 {
            acc *= y;
        } else {
            acc -= (y * x).tanh();
        }
    } else if y < -0.5 {
        acc = acc / (1.0 + y * y);
    }
    acc * x + y
});

dual!(poly_loop, poly_loop_tape, (x, y), (n: usize), {
    let mut acc = y;
    for i in 0..n {
        acc = acc * x.sin() + (i as f64) * y;
    }
    acc
});

dual!(two_carried, two_carried_tape, (x, y), (n: usize), {
    let mut a = x;
    let mut b = y;
    for _ in 0..n {
        let t = a;
        a = (a * 0.9 + b * 0.1).sin();
        b = t * 0.5 + b.cos();
    }
    a * b
});

dual!(branch_in_loop, branch_in_loop_tape, (x, y), (n: usize), {
    let mut acc = x;
    for i in 1..=n {
        if acc > y {
            acc = acc * 0.5 + y.sin();
        } else {
            acc = acc + (i as f64) * 0.1 * x.cos();
        }
    }
    acc
});

dual!(nested_loops, nested_loops_tape, (x, y), (n: usize, m: usize), {
    let mut total = x * 0.0;
    for i in 0..n {
        let mut inner = y;
        for j in 0..m {
            inner = (inner * x + (j as f64) * 0.01).sin();
        }
        total += inner * (i as f64 + 1.0);
    }
    total + x
});

dual!(early_return, early_return_tape, (x, y), (), {
    if x < -1.0 {
        return x * y;
    }
    let z = x.exp() * y;
    if z > 2.0 {
        return z.ln() + x;
    }
    z * z
});

dual!(return_in_loop, return_in_loop_tape, (x, y), (n: usize), {
    let mut acc = x;
    for _ in 0..n {
        acc = acc * 1.5 + y;
        if acc > 10.0 {
            return acc.sqrt();
        }
    }
    acc * y
});

dual!(many_ops, many_ops_tape, (x, y), (), {
    let a = x.tanh() + y.sigmoid() + (x * y).relu();
    let b = x.atan2(y) + x.hypot(y) + x.max(y) - x.min(y);
    let c =
        (x * x + 1.0).ln() + (y * y + 2.0).sqrt() + (x * x + 1.0).log10() + (y * y + 1.0).log2();
    let d = x.powi(3)
        + (y * y + 1.0).powf(x * 0.5)
        + x.mul_add(y, 1.0)
        + x.abs()
        + (x * x + 0.5).recip();
    let e = (x * 0.3).asin() + (y * 0.3).acos() + x.atan() + x.sinh() + y.cosh() + (x * 0.5).tan();
    let f = x.exp2() + (y * y + 1.0).cbrt() + (x * x + 2.0).log(y * y + 2.0) - x / (y * y + 1.0);
    a + b + c + d + e + f
});

/// Nested calls: the caller's adjoint calls the callees' generated adjoints.
#[differentiable]
fn inner(a: f64, b: f64) -> f64 {
    (a * b).sin() + a / (b * b + 1.0)
}

#[differentiable]
fn middle(a: f64, #[constant] scale: f64, b: f64) -> f64 {
    let t = inner(a, b) * scale;
    t * t + inner(b, a)
}

#[differentiable]
fn outer(x: f64, y: f64, #[constant] n: usize) -> f64 {
    let mut acc = x;
    for _ in 0..n {
        acc = middle(acc, 0.5, y) * 0.1 + x;
    }
    acc + middle(y, 2.0, x)
}

fn inner_tape<'t>(a: Var<'t, f64>, b: Var<'t, f64>) -> Var<'t, f64> {
    (a * b).sin() + a / (b * b + 1.0)
}

fn middle_tape<'t>(a: Var<'t, f64>, scale: f64, b: Var<'t, f64>) -> Var<'t, f64> {
    let t = inner_tape(a, b) * scale;
    t * t + inner_tape(b, a)
}

fn outer_tape<'t>(x: Var<'t, f64>, y: Var<'t, f64>, n: usize) -> Var<'t, f64> {
    let mut acc = x;
    for _ in 0..n {
        acc = middle_tape(acc, 0.5, y) * 0.1 + x;
    }
    acc + middle_tape(y, 2.0, x)
}

/// The tape's value and gradient of a two-argument function.
fn tape_grad(
    f: impl for<'t> Fn(Var<'t, f64>, Var<'t, f64>) -> Var<'t, f64>,
    x: f64,
    y: f64,
) -> (f64, f64, f64) {
    let tape = Tape::new();
    let (vx, vy) = (tape.var(x), tape.var(y));
    let out = f(vx, vy);
    let grads = out.backward();
    (out.value(), grads.wrt(vx), grads.wrt(vy))
}

/// Checks one function at one point three ways.
fn agree(
    name: &str,
    generated: (f64, f64, f64),
    jvp: impl Fn(f64, f64) -> (f64, f64),
    tape: (f64, f64, f64),
    primal: impl Fn(&[f64]) -> f64,
    x: f64,
    y: f64,
) -> Result<(), TestCaseError> {
    let (value, gx, gy) = generated;
    let rel = |a: f64, b: f64| (a - b).abs() / (1.0 + a.abs().max(b.abs()));
    prop_assert!(
        rel(value, tape.0) < 1e-12,
        "{name}: value {value} vs tape {}",
        tape.0
    );
    prop_assert!(
        rel(gx, tape.1) < 1e-10,
        "{name}: d/dx {gx} vs tape {}",
        tape.1
    );
    prop_assert!(
        rel(gy, tape.2) < 1e-10,
        "{name}: d/dy {gy} vs tape {}",
        tape.2
    );
    let (v, w) = (0.3, -0.7);
    let (_, directional) = jvp(v, w);
    prop_assert!(
        rel(directional, gx * v + gy * w) < 1e-10,
        "{name}: jvp {directional} vs vjp"
    );
    let tol = Tolerance {
        rtol: 1e-5,
        atol: 1e-6,
    };
    if let Err(e) = check_gradient(primal, &[gx, gy], &[x, y], tol) {
        return Err(TestCaseError::fail(format!("{name} at ({x}, {y}): {e}")));
    }
    Ok(())
}

fn config() -> Config {
    Config {
        cases: 200,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x5eed),
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn branches_agree(x in -2.0..2.0f64, y in -2.0..2.0f64) {
        // Finite differences are meaningless across a branch switch: keep
        // away from the conditions' boundaries (x = 0, y = 0, y = -0.5,
        // x*y = 0.5, x = -1, e^x*y = 2, and x = y for max/min).
        let kinks = [x, y, y + 0.5, x * y - 0.5, x + 1.0, x.exp() * y - 2.0, x - y];
        prop_assume!(kinks.iter().all(|k| k.abs() > 1e-3));
        let g = branchy_grad(x, y);
        agree("branchy", (g.value, g.x, g.y), |a, b| branchy_jvp(x, y, a, b),
              tape_grad(branchy_tape, x, y), |p| branchy(p[0], p[1]), x, y)?;
        let g = nested_branches_grad(x, y);
        agree("nested_branches", (g.value, g.x, g.y), |a, b| nested_branches_jvp(x, y, a, b),
              tape_grad(nested_branches_tape, x, y), |p| nested_branches(p[0], p[1]), x, y)?;
        let g = early_return_grad(x, y);
        agree("early_return", (g.value, g.x, g.y), |a, b| early_return_jvp(x, y, a, b),
              tape_grad(early_return_tape, x, y), |p| early_return(p[0], p[1]), x, y)?;
        let g = many_ops_grad(x, y);
        agree("many_ops", (g.value, g.x, g.y), |a, b| many_ops_jvp(x, y, a, b),
              tape_grad(many_ops_tape, x, y), |p| many_ops(p[0], p[1]), x, y)?;
    }

    #[test]
    fn loops_with_run_time_bounds_agree(x in -1.5..1.5f64, y in -1.5..1.5f64, n in 0usize..12, m in 0usize..5) {
        let g = poly_loop_grad(x, y, n);
        agree("poly_loop", (g.value, g.x, g.y), |a, b| poly_loop_jvp(x, y, n, a, b),
              tape_grad(|a, b| poly_loop_tape(a, b, n), x, y), |p| poly_loop(p[0], p[1], n), x, y)?;
        let g = two_carried_grad(x, y, n);
        agree("two_carried", (g.value, g.x, g.y), |a, b| two_carried_jvp(x, y, n, a, b),
              tape_grad(|a, b| two_carried_tape(a, b, n), x, y), |p| two_carried(p[0], p[1], n), x, y)?;
        let g = branch_in_loop_grad(x, y, n);
        agree("branch_in_loop", (g.value, g.x, g.y), |a, b| branch_in_loop_jvp(x, y, n, a, b),
              tape_grad(|a, b| branch_in_loop_tape(a, b, n), x, y), |p| branch_in_loop(p[0], p[1], n), x, y)?;
        let g = nested_loops_grad(x, y, n, m);
        agree("nested_loops", (g.value, g.x, g.y), |a, b| nested_loops_jvp(x, y, n, m, a, b),
              tape_grad(|a, b| nested_loops_tape(a, b, n, m), x, y), |p| nested_loops(p[0], p[1], n, m), x, y)?;
        let g = return_in_loop_grad(x, y, n);
        agree("return_in_loop", (g.value, g.x, g.y), |a, b| return_in_loop_jvp(x, y, n, a, b),
              tape_grad(|a, b| return_in_loop_tape(a, b, n), x, y), |p| return_in_loop(p[0], p[1], n), x, y)?;
    }

    #[test]
    fn nested_calls_agree(x in -1.0..1.0f64, y in -1.0..1.0f64, n in 0usize..6) {
        let g = outer_grad(x, y, n);
        agree("outer", (g.value, g.x, g.y), |a, b| outer_jvp(x, y, n, a, b),
              tape_grad(|a, b| outer_tape(a, b, n), x, y), |p| outer(p[0], p[1], n), x, y)?;
    }
}
