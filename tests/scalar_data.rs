//! Data in scalar code: active `&[f64]` arguments (a `Vec` gradient, a slice
//! tangent), `#[constant]` data slices indexed in loops, and loops that end
//! at run time (`while`, `loop` with `break`, `for` with `break`/`continue`),
//! each against closed forms, central differences, forward mode and the tape.

// Index loops are what these functions are about: the compiler differentiates
// `x[i]` reads.
#![allow(clippy::needless_range_loop)]

use adjoint::check::{central_difference, check_gradient, compare_gradients, Tolerance};
use adjoint::differentiable;
use adjoint::tape::{Tape, Var};

// ----- functions under test ------------------------------------------------

/// The n-D Rosenbrock function over an active slice.
#[differentiable]
fn rosenbrock(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    s
}

/// Least squares over `#[constant]` data slices.
#[differentiable]
fn lsq(w: f64, b: f64, #[constant] xs: &[f64], #[constant] ys: &[f64]) -> f64 {
    let mut loss = 0.0;
    for i in 0..xs.len() {
        loss += (w * xs[i] + b - ys[i]).powi(2);
    }
    loss
}

/// √a by Newton's iteration, to a tolerance.
#[differentiable]
fn newton_sqrt(a: f64) -> f64 {
    let mut y = a;
    while (y * y - a).abs() > 1e-12 {
        y = 0.5 * (y + a / y);
    }
    y
}

/// The same with `loop` and `break`.
#[differentiable]
fn newton_sqrt_loop(a: f64) -> f64 {
    let mut y = a;
    loop {
        y = 0.5 * (y + a / y);
        if (y * y - a).abs() <= 1e-12 {
            break;
        }
    }
    y
}

/// A `for` loop that may stop early.
#[differentiable]
fn grow_until(x: f64, #[constant] n: usize) -> f64 {
    let mut acc = x;
    for i in 0..n {
        acc = acc * x + (i as f64);
        if acc > 100.0 {
            break;
        }
    }
    acc
}

/// A `for` loop that skips odd iterations' updates.
#[differentiable]
fn skip_even(x: f64, #[constant] n: usize) -> f64 {
    let mut acc = x;
    for i in 0..n {
        if i % 2 == 0 {
            continue;
        }
        acc = acc * x.sin() + 1.0;
    }
    acc
}

/// `return` from inside a `while` loop.
#[differentiable]
fn grow_or_return(x: f64) -> f64 {
    let mut y = x;
    let mut k = 0;
    while k < 10 {
        y *= 1.5;
        if y > 20.0 {
            return y * 2.0;
        }
        k += 1;
    }
    y
}

/// Nested `while` and `loop` over an active slice, with saved indices.
#[differentiable]
fn weighted_rows(x: &[f64], #[constant] m: usize) -> f64 {
    let mut s = 0.0;
    let mut i = 0;
    while i < x.len() {
        let mut j = 0;
        loop {
            s += (x[i] * (j as f64 + 1.0)).sin();
            j += 1;
            if j >= m {
                break;
            }
        }
        i += 1;
    }
    s
}

/// Σ xᵢ², called from another function.
#[differentiable]
fn sum_squares(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i] * x[i];
    }
    s
}

/// Composition: a slice passed on (its pullback returns a `Vec`), and a
/// constant slice passed to the same active argument.
#[differentiable]
fn composed(x: &[f64], t: f64, #[constant] d: &[f64]) -> f64 {
    let a = sum_squares(x);
    let b = sum_squares(d);
    a * x[0] * t + b * t.sin()
}

/// A `&Vec<f64>` argument is a slice too.
#[allow(clippy::ptr_arg)]
#[differentiable]
fn vec_energy(x: &Vec<f64>, #[constant] w: &Vec<f64>) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += w[i] * x[i] * x[i];
    }
    s
}

/// A constant sub-slice passed to an active slice argument.
#[differentiable]
fn tail_weighted(x: &[f64], #[constant] d: &[f64]) -> f64 {
    sum_squares(x) * sum_squares(&d[1..])
}

/// An `f32` slice.
#[differentiable]
fn mean_square_f32(x: &[f32]) -> f32 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i] * x[i];
    }
    s / x.len() as f32
}

/// Reads through `#[constant]` integer data: indices into the slice.
#[differentiable]
fn gather(x: &[f64], #[constant] idx: &[usize], #[constant] w: &[f64]) -> f64 {
    let mut s = 0.0;
    for k in 0..idx.len() {
        s += w[k] * x[idx[k]].exp();
    }
    s
}

// ----- helpers -----------------------------------------------------------------

/// A deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let u = (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * u
    }
    fn vec(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn assert_close(a: f64, b: f64, rtol: f64, what: &str) {
    assert!(
        (a - b).abs() <= rtol * (1.0 + a.abs().max(b.abs())),
        "{what}: {a} vs {b}"
    );
}

/// ∂/∂xᵢ of the n-D Rosenbrock function, in closed form.
fn rosenbrock_closed_form(x: &[f64]) -> (f64, Vec<f64>) {
    let n = x.len();
    let mut value = 0.0;
    let mut grad = vec![0.0; n];
    for i in 0..n {
        if i + 1 < n {
            value += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
            grad[i] += -400.0 * x[i] * (x[i + 1] - x[i] * x[i]) - 2.0 * (1.0 - x[i]);
        }
        if i > 0 {
            grad[i] += 200.0 * (x[i] - x[i - 1] * x[i - 1]);
        }
    }
    (value, grad)
}

fn rosenbrock_tape<'t>(x: &[Var<'t, f64>]) -> Var<'t, f64> {
    let mut s = x[0] * 0.0;
    for i in 0..x.len() - 1 {
        let a = x[i + 1] - x[i] * x[i];
        let b = (x[i] * -1.0) + 1.0;
        s = s + a.powi(2) * 100.0 + b.powi(2);
    }
    s
}

// ----- active slices -------------------------------------------------------------

#[test]
fn rosenbrock_gradient_matches_the_closed_form() {
    let mut rng = Rng(0x5eed_0001);
    for n in [2, 10, 1000] {
        let x = rng.vec(n, -2.0, 2.0);
        let g = rosenbrock_grad(&x);
        let (value, grad) = rosenbrock_closed_form(&x);
        assert_close(g.value, value, 1e-12, "value");
        assert_eq!(g.x.len(), n);
        for i in 0..n {
            assert_close(g.x[i], grad[i], 1e-12, &format!("n = {n}, ∂/∂x{i}"));
        }
        assert_eq!(rosenbrock(&x), g.value);
    }
    // The minimum: value 0, gradient 0.
    let g = rosenbrock_grad(&[1.0; 7]);
    assert_eq!(g.value, 0.0);
    assert!(g.x.iter().all(|d| *d == 0.0));
}

#[test]
fn rosenbrock_gradient_matches_central_differences() {
    let mut rng = Rng(0x5eed_0002);
    for _ in 0..5 {
        let x = rng.vec(10, -1.5, 1.5);
        let g = rosenbrock_grad(&x);
        check_gradient(rosenbrock, &g.x, &x, Tolerance::default()).unwrap();
        let fd = central_difference(rosenbrock, &x, 1e-6);
        compare_gradients(
            &g.x,
            &fd,
            Tolerance {
                rtol: 1e-5,
                atol: 1e-5,
            },
        )
        .unwrap();
    }
}

#[test]
fn rosenbrock_forward_mode_agrees_with_reverse_mode() {
    // ⟨J v, w⟩ = ⟨v, Jᵀ w⟩ with w = 1: the tangent along v is ∇f · v.
    let mut rng = Rng(0x5eed_0003);
    for n in [2, 10, 1000] {
        let x = rng.vec(n, -2.0, 2.0);
        let v = rng.vec(n, -1.0, 1.0);
        let (value, tangent) = rosenbrock_jvp(&x, &v);
        let g = rosenbrock_grad(&x);
        assert_eq!(value, g.value);
        assert_close(tangent, dot(&g.x, &v), 1e-11, &format!("n = {n}"));
        // Unit tangents give single partial derivatives.
        let mut e = vec![0.0; n];
        e[n / 2] = 1.0;
        assert_close(rosenbrock_jvp(&x, &e).1, g.x[n / 2], 1e-12, "unit tangent");
    }
}

#[test]
fn rosenbrock_gradient_matches_the_tape() {
    let mut rng = Rng(0x5eed_0004);
    let x = rng.vec(50, -2.0, 2.0);
    let tape = Tape::new();
    let vars: Vec<_> = x.iter().map(|xi| tape.var(*xi)).collect();
    let y = rosenbrock_tape(&vars);
    let grads = y.backward();
    let g = rosenbrock_grad(&x);
    assert_close(g.value, y.value(), 1e-12, "value");
    for (i, v) in vars.iter().enumerate() {
        assert_close(g.x[i], grads.wrt(*v), 1e-12, &format!("∂/∂x{i}"));
    }
}

#[test]
fn rosenbrock_trace_records_each_element_as_an_input() {
    let x = [1.0, 2.0, 0.5];
    let trace = rosenbrock_trace(&x);
    let g = rosenbrock_grad(&x);
    // Inputs v_-2, v_-1, v_0 are x[0], x[1], x[2]; their adjoints are the gradient.
    for (i, input) in trace.forward_steps()[..3].iter().enumerate() {
        assert_eq!(input.expr, format!("x[{i}]"));
        assert_eq!(input.value, x[i]);
        assert_close(
            trace.adjoint_of(input.index).unwrap(),
            g.x[i],
            1e-12,
            "adjoint",
        );
    }
    let v = [0.5, -1.0, 2.0];
    let jt = rosenbrock_jvp_trace(&x, &v);
    assert_eq!(jt.tangent_of(-1), Some(-1.0));
    assert!(rosenbrock_graph().contains("x [label=\"v_0 = x\""));
}

#[test]
fn nested_loops_over_an_active_slice() {
    let mut rng = Rng(0x5eed_0005);
    let x = rng.vec(6, -1.0, 1.0);
    let g = weighted_rows_grad(&x, 4);
    let f = |x: &[f64]| weighted_rows(x, 4);
    check_gradient(f, &g.x, &x, Tolerance::default()).unwrap();
    for (i, xi) in x.iter().enumerate() {
        let closed: f64 = (1..=4).map(|j| j as f64 * (xi * j as f64).cos()).sum();
        assert_close(g.x[i], closed, 1e-12, "closed form");
    }
    let v = rng.vec(6, -1.0, 1.0);
    assert_close(weighted_rows_jvp(&x, 4, &v).1, dot(&g.x, &v), 1e-12, "jvp");
}

#[test]
fn slices_compose_through_calls() {
    let mut rng = Rng(0x5eed_0006);
    let x = rng.vec(5, -1.0, 1.0);
    let d = rng.vec(3, -1.0, 1.0);
    let t = 0.7;
    let g = composed_grad(&x, t, &d);
    // d/dx of (Σx²) x₀ t, and d/dt.
    let sx = sum_squares(&x);
    let sd = sum_squares(&d);
    for i in 0..x.len() {
        let mut expect = 2.0 * x[i] * x[0] * t;
        if i == 0 {
            expect += sx * t;
        }
        assert_close(g.x[i], expect, 1e-12, &format!("∂/∂x{i}"));
    }
    assert_close(g.t, sx * x[0] + sd * t.cos(), 1e-12, "∂/∂t");
    let mut v = rng.vec(5, -1.0, 1.0);
    let (_, tangent) = composed_jvp(&x, t, &d, &v, 0.3);
    assert_close(tangent, dot(&g.x, &v) + 0.3 * g.t, 1e-12, "jvp");
    // Central differences over (x, t).
    v.clone_from(&x);
    v.push(t);
    let mut analytic = g.x.clone();
    analytic.push(g.t);
    let f = |z: &[f64]| composed(&z[..5], z[5], &d);
    check_gradient(f, &analytic, &v, Tolerance::default()).unwrap();
}

#[test]
fn a_constant_sub_slice_goes_to_an_active_slice_argument() {
    let (x, d) = ([0.5, -1.0, 2.0], [9.0, 1.0, 2.0]);
    let g = tail_weighted_grad(&x, &d);
    assert_eq!(g.value, 5.25 * 5.0);
    for i in 0..3 {
        assert_close(g.x[i], 2.0 * x[i] * 5.0, 1e-12, &format!("∂/∂x{i}"));
    }
    let v = [1.0, 2.0, 3.0];
    assert_close(tail_weighted_jvp(&x, &d, &v).1, dot(&g.x, &v), 1e-12, "jvp");
}

#[test]
#[should_panic(expected = "the tangent `x_dot` must have one entry per element of `x`")]
fn a_tangent_of_the_wrong_length_is_an_error() {
    rosenbrock_jvp(&[1.0, 2.0, 3.0], &[1.0, 0.0]);
}

#[test]
fn integer_data_indexes_an_active_slice() {
    let x = [0.1, -0.3, 0.5, 0.2];
    let idx = [2usize, 0, 2, 3];
    let w = [1.0, 2.0, -0.5, 3.0];
    let g = gather_grad(&x, &idx, &w);
    let mut expect = [0.0; 4];
    for k in 0..idx.len() {
        expect[idx[k]] += w[k] * x[idx[k]].exp();
    }
    for i in 0..4 {
        assert_close(g.x[i], expect[i], 1e-12, &format!("∂/∂x{i}"));
    }
    assert_eq!(g.x[1], 0.0, "an element never read has a zero gradient");
}

#[test]
fn vec_arguments_are_slices() {
    let (x, w) = (vec![1.0, -2.0, 3.0], vec![0.5, 1.0, 2.0]);
    let g = vec_energy_grad(&x, &w);
    assert_eq!(g.value, 0.5 + 4.0 + 18.0);
    assert_eq!(g.x, vec![1.0, -4.0, 12.0]);
    assert_eq!(vec_energy_jvp(&x, &w, &[1.0, 1.0, 1.0]).1, 9.0);
}

#[test]
fn f32_slices() {
    let x = [1.0f32, -2.0, 0.5, 4.0];
    let g = mean_square_f32_grad(&x);
    assert!((g.value - 21.25 / 4.0).abs() < 1e-6);
    for i in 0..4 {
        assert!((g.x[i] - x[i] / 2.0).abs() < 1e-6, "∂/∂x{i}");
    }
    let (_, t) = mean_square_f32_jvp(&x, &[1.0, 0.0, 0.0, 1.0]);
    assert!((t - (g.x[0] + g.x[3])).abs() < 1e-6);
}

#[test]
fn an_empty_slice_has_an_empty_gradient() {
    let g = sum_squares_grad(&[]);
    assert_eq!(g.value, 0.0);
    assert!(g.x.is_empty());
    assert_eq!(sum_squares_jvp(&[], &[]), (0.0, 0.0));
}

// ----- constant data --------------------------------------------------------------

#[test]
fn least_squares_over_constant_data() {
    let mut rng = Rng(0x5eed_0007);
    let xs = rng.vec(40, -2.0, 2.0);
    let ys: Vec<f64> = xs.iter().map(|x| 1.5 * x - 0.3 + 0.1 * x.sin()).collect();
    for (w, b) in [(0.2, 0.1), (1.5, -0.3), (-1.0, 2.0)] {
        let g = lsq_grad(w, b, &xs, &ys);
        // ∂/∂w = Σ 2 rᵢ xᵢ, ∂/∂b = Σ 2 rᵢ with rᵢ = w xᵢ + b - yᵢ.
        let r: Vec<f64> = xs.iter().zip(&ys).map(|(x, y)| w * x + b - y).collect();
        let loss: f64 = r.iter().map(|r| r * r).sum();
        let dw: f64 = r.iter().zip(&xs).map(|(r, x)| 2.0 * r * x).sum();
        let db: f64 = r.iter().map(|r| 2.0 * r).sum();
        assert_close(g.value, loss, 1e-12, "loss");
        assert_close(g.w, dw, 1e-12, "∂/∂w");
        assert_close(g.b, db, 1e-12, "∂/∂b");
        let f = |p: &[f64]| lsq(p[0], p[1], &xs, &ys);
        check_gradient(f, &[g.w, g.b], &[w, b], Tolerance::default()).unwrap();
        let (_, t) = lsq_jvp(w, b, &xs, &ys, 0.4, -0.9);
        assert_close(t, 0.4 * g.w - 0.9 * g.b, 1e-12, "jvp");
    }
}

// ----- loops that end at run time ---------------------------------------------------

#[test]
fn newton_iteration_with_while() {
    for a in [0.25, 2.0, 9.0, 1234.5] {
        let g = newton_sqrt_grad(a);
        assert_close(g.value, a.sqrt(), 1e-12, "√a");
        assert_close(g.a, 0.5 / a.sqrt(), 1e-9, "d√a/da");
        let f = |p: &[f64]| newton_sqrt(p[0]);
        let fd = central_difference(f, &[a], 1e-5 * a);
        assert_close(g.a, fd[0], 1e-6, "finite difference");
        assert_close(newton_sqrt_jvp(a, 1.0).1, g.a, 1e-12, "jvp");
        // The trace records every iteration; its input's adjoint is the gradient.
        let trace = newton_sqrt_trace(a);
        assert_close(trace.adjoint_of(0).unwrap(), g.a, 1e-12, "trace");
        assert!(trace.forward_steps().len() > 5);
        // The tape, iterating on the same condition.
        let tape = Tape::new();
        let av = tape.var(a);
        let mut y = av;
        while (y.value() * y.value() - a).abs() > 1e-12 {
            y = (y + av / y) * 0.5;
        }
        assert_close(g.a, y.backward().wrt(av), 1e-12, "tape");
    }
}

#[test]
fn newton_iteration_with_loop_and_break() {
    for a in [0.25, 2.0, 9.0, 1234.5] {
        let g = newton_sqrt_loop_grad(a);
        assert_close(g.value, a.sqrt(), 1e-12, "√a");
        assert_close(g.a, 0.5 / a.sqrt(), 1e-9, "d√a/da");
        let f = |p: &[f64]| newton_sqrt_loop(p[0]);
        let fd = central_difference(f, &[a], 1e-5 * a);
        assert_close(g.a, fd[0], 1e-6, "finite difference");
        assert_close(newton_sqrt_loop_jvp(a, 1.0).1, g.a, 1e-12, "jvp");
    }
}

#[test]
fn break_and_continue_in_for_loops() {
    for x in [0.5, 1.2, 1.9, 3.0] {
        for n in [0, 1, 5, 40] {
            let g = grow_until_grad(x, n);
            let tape = Tape::new();
            let xv = tape.var(x);
            let mut acc = xv;
            for i in 0..n {
                acc = acc * xv + i as f64;
                if acc.value() > 100.0 {
                    break;
                }
            }
            assert_eq!(g.value, acc.value());
            assert_close(g.x, acc.backward().wrt(xv), 1e-12, "grow_until vs tape");
            let f = |p: &[f64]| grow_until(p[0], n);
            check_gradient(f, &[g.x], &[x], Tolerance::default()).unwrap();
            assert_close(grow_until_jvp(x, n, 1.0).1, g.x, 1e-12, "jvp");

            let g = skip_even_grad(x, n);
            let f = |p: &[f64]| skip_even(p[0], n);
            check_gradient(f, &[g.x], &[x], Tolerance::default()).unwrap();
            assert_close(skip_even_jvp(x, n, 1.0).1, g.x, 1e-12, "jvp");
        }
    }
}

#[test]
fn return_from_inside_a_while_loop() {
    // 1.5⁸ · 1 > 20 returns early; 0.1 · 1.5¹⁰ does not.
    let g = grow_or_return_grad(1.0);
    assert_close(g.value, 2.0 * 1.5f64.powi(8), 1e-12, "returned");
    assert_close(g.x, 2.0 * 1.5f64.powi(8), 1e-12, "d/dx returned");
    let g = grow_or_return_grad(0.1);
    assert_close(g.value, 0.1 * 1.5f64.powi(10), 1e-12, "ran out");
    assert_close(g.x, 1.5f64.powi(10), 1e-12, "d/dx ran out");
    for x in [0.1, 0.5, 1.0, 3.0] {
        let g = grow_or_return_grad(x);
        let f = |p: &[f64]| grow_or_return(p[0]);
        check_gradient(f, &[g.x], &[x], Tolerance::default()).unwrap();
        assert_close(grow_or_return_jvp(x, 1.0).1, g.x, 1e-12, "jvp");
    }
}
