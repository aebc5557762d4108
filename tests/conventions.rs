//! One convention at kinks and special values (docs/ARCHITECTURE.md, "Kinks
//! and special values"), checked row by row in every place that computes a
//! derivative: generated scalar code (reverse and forward mode), the tensor
//! ops and their `*_backward` adjoints (and generated tensor code, which
//! calls them), the scalar tape and the tensor tape. Then empty reductions,
//! which are an error naming the op and the shape everywhere.

use adjoint::prelude::*;
use adjoint::tape::{Graph, Tape};
use adjoint::tensor::ops::{loss, reduce, unary};
use adjoint::tensor::try_cross_entropy;

const NAN: f64 = f64::NAN;
const INF: f64 = f64::INFINITY;

/// Asserts that two values are equal, NaN matching NaN (and 0 matching -0).
#[track_caller]
fn same(what: &str, got: f64, expected: f64) {
    assert!(
        (got.is_nan() && expected.is_nan()) || got == expected,
        "{what}: got {got}, expected {expected}"
    );
}

/// [`same`] element by element.
#[track_caller]
fn same_all(what: &str, got: &[f64], expected: &[f64]) {
    assert_eq!(got.len(), expected.len(), "{what}: lengths differ");
    for (i, (&g, &e)) in got.iter().zip(expected).enumerate() {
        same(&format!("{what}[{i}]"), g, e);
    }
}

fn vector(data: &[f64]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), &[data.len()]).expect("shape")
}

/// The message `f` panics with.
fn panic_message<R>(f: impl FnOnce() -> R) -> String {
    let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) else {
        panic!("expected a panic");
    };
    match payload.downcast_ref::<String>() {
        Some(s) => s.clone(),
        None => payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}

// ---------------------------------------------------------------------------
// The functions differentiated by the compiler.

#[differentiable]
fn abs_f(x: f64) -> f64 {
    x.abs()
}

#[differentiable]
fn abs_f32(x: f32) -> f32 {
    x.abs()
}

#[differentiable]
fn relu_f(x: f64) -> f64 {
    x.relu()
}

#[differentiable]
fn max_f(a: f64, b: f64) -> f64 {
    a.max(b)
}

#[differentiable]
fn min_f(a: f64, b: f64) -> f64 {
    a.min(b)
}

#[differentiable]
fn max_f32(a: f32, b: f32) -> f32 {
    a.max(b)
}

#[differentiable]
fn powf_f(x: f64, y: f64) -> f64 {
    x.powf(y)
}

#[differentiable]
fn sqrt_f(x: f64) -> f64 {
    x.sqrt()
}

#[differentiable]
fn abs_t(x: &Tensor<f64>) -> f64 {
    x.abs().sum()
}

#[differentiable]
fn relu_t(x: &Tensor<f64>) -> f64 {
    x.relu().sum()
}

#[differentiable]
fn fused_bias_relu_t(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    (a + b).relu().sum()
}

#[differentiable]
fn sqrt_t(x: &Tensor<f64>) -> f64 {
    x.sqrt().sum()
}

#[differentiable]
fn max_t(x: &Tensor<f64>) -> f64 {
    x.max()
}

#[differentiable]
fn mean_t(x: &Tensor<f64>) -> f64 {
    x.mean()
}

#[differentiable]
fn cross_entropy_t(x: &Tensor<f64>, #[constant] labels: &[usize]) -> f64 {
    cross_entropy(x, labels)
}

#[differentiable]
fn mse_t(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    mse(a, b)
}

// ---------------------------------------------------------------------------
// abs: abs'(0) = 0, abs'(NaN) = NaN.

#[test]
fn abs_derivative_is_zero_at_zero_and_nan_at_nan_in_generated_code() {
    for (x, d) in [
        (0.0, 0.0),
        (-0.0, 0.0),
        (NAN, NAN),
        (2.5, 1.0),
        (-2.5, -1.0),
    ] {
        same(&format!("abs_grad({x})"), abs_f_grad(x).x, d);
        same(&format!("abs_jvp({x})"), abs_f_jvp(x, 1.0).1, d);
    }
    assert_eq!(abs_f32_grad(0.0).x, 0.0);
    assert!(abs_f32_grad(f32::NAN).x.is_nan());
    assert_eq!(abs_f32_grad(-3.0).x, -1.0);
}

#[test]
fn abs_derivative_is_zero_at_zero_and_nan_at_nan_in_tensor_ops() {
    let x = vector(&[0.0, -0.0, NAN, 2.5, -2.5]);
    let expected = [0.0, 0.0, NAN, 3.0, -3.0];
    same_all(
        "abs_backward",
        unary::abs_backward(&x, &Tensor::full(&[5], 3.0)).data(),
        &expected,
    );
    same_all(
        "generated abs",
        abs_t_grad(&x).x.data(),
        &[0.0, 0.0, NAN, 1.0, -1.0],
    );
    // l1 = mean |pred - target| takes the sign the same way.
    let (pred, target) = (vector(&[1.0, 2.0, NAN, 0.0]), vector(&[1.0, 1.0, 0.0, 4.0]));
    let (dp, dt) = loss::l1_backward(&pred, &target, 4.0);
    same_all("l1_backward pred", dp.data(), &[0.0, 1.0, NAN, -1.0]);
    same_all("l1_backward target", dt.data(), &[0.0, -1.0, NAN, 1.0]);
}

#[test]
fn abs_derivative_is_zero_at_zero_and_nan_at_nan_on_the_tapes() {
    let tape = Tape::new();
    for (x, d) in [
        (0.0, 0.0),
        (-0.0, 0.0),
        (NAN, NAN),
        (2.5, 1.0),
        (-2.5, -1.0),
    ] {
        let v = tape.var(x);
        same(&format!("tape abs'({x})"), v.abs().backward().wrt(v), d);
    }
    let graph = Graph::new();
    let x = graph.leaf(vector(&[0.0, -0.0, NAN, 2.5, -2.5]));
    let g = x.abs().sum().backward().wrt(&x);
    same_all("tensor tape abs", g.data(), &[0.0, 0.0, NAN, 1.0, -1.0]);
}

// ---------------------------------------------------------------------------
// relu: relu'(0) = 0; relu(NaN) = NaN with adjoint NaN.

#[test]
fn relu_is_zero_sloped_at_zero_and_keeps_nan_in_generated_code() {
    for (x, y, d) in [
        (0.0, 0.0, 0.0),
        (-0.0, 0.0, 0.0),
        (NAN, NAN, NAN),
        (2.0, 2.0, 1.0),
        (-2.0, 0.0, 0.0),
        (f64::NEG_INFINITY, 0.0, 0.0),
    ] {
        let g = relu_f_grad(x);
        same(&format!("relu({x})"), g.value, y);
        same(&format!("relu'({x})"), g.x, d);
        same(&format!("relu jvp({x})"), relu_f_jvp(x, 1.0).1, d);
    }
    assert!(adjoint::scalar::relu(NAN).is_nan());
    assert_eq!(adjoint::scalar::relu(-0.0_f64), 0.0);
}

#[test]
fn relu_is_zero_sloped_at_zero_and_keeps_nan_in_tensor_ops() {
    let x = vector(&[0.0, NAN, 2.0, -2.0]);
    let y = x.relu();
    same_all("relu", y.data(), &[0.0, NAN, 2.0, 0.0]);
    let g = Tensor::full(&[4], 3.0);
    // From the output (what the tape and generated code pass) or the input.
    same_all(
        "relu_backward(y)",
        unary::relu_backward(&y, &g).data(),
        &[0.0, NAN, 3.0, 0.0],
    );
    same_all(
        "relu_backward(x)",
        unary::relu_backward(&x, &g).data(),
        &[0.0, NAN, 3.0, 0.0],
    );

    // The leaky rectifier: slope a at 0 (the side relu takes), NaN kept.
    let lx = vector(&[0.0, NAN, 2.0, -2.0]);
    same_all(
        "leaky_relu",
        lx.leaky_relu(0.1).data(),
        &[0.0, NAN, 2.0, -0.2],
    );
    same_all(
        "leaky_relu_backward",
        unary::leaky_relu_backward(&lx, 0.1, &Tensor::full(&[4], 10.0)).data(),
        &[1.0, NAN, 10.0, 1.0],
    );
    // ∂/∂a (summed when the slope is active): x where the slope applies, NaN kept.
    same_all(
        "leaky_relu_slope_partial",
        unary::leaky_relu_slope_partial(&lx).data(),
        &[0.0, NAN, 0.0, -2.0],
    );

    // Generated tensor code calls the same kernels.
    let g = relu_t_grad(&x);
    assert!(g.value.is_nan());
    same_all("generated relu", g.x.data(), &[0.0, NAN, 1.0, 0.0]);
    // A fused region relu(a + b) (one loop, body printed from the scalar rules).
    let a = Tensor::from_vec(vec![0.0, NAN, 1.0, -3.0], &[2, 2]).expect("shape");
    let b = vector(&[0.0, 1.0]);
    assert!(fused_bias_relu_t_graph().contains("fused relu("));
    let g = fused_bias_relu_t_grad(&a, &b);
    same_all(
        "generated fused relu(a + b) a",
        g.a.data(),
        &[0.0, NAN, 1.0, 0.0],
    );
    same_all("generated fused relu(a + b) b", g.b.data(), &[1.0, NAN]);
}

#[test]
fn relu_is_zero_sloped_at_zero_and_keeps_nan_on_the_tapes() {
    let tape = Tape::new();
    for (x, y, d) in [
        (0.0, 0.0, 0.0),
        (NAN, NAN, NAN),
        (2.0, 2.0, 1.0),
        (-2.0, 0.0, 0.0),
    ] {
        let v = tape.var(x);
        let r = v.relu();
        same(&format!("tape relu({x})"), r.value(), y);
        same(&format!("tape relu'({x})"), r.backward().wrt(v), d);
    }
    let graph = Graph::new();
    let x = graph.leaf(vector(&[0.0, NAN, 2.0, -2.0]));
    let r = x.relu();
    same_all("tensor tape relu", r.value().data(), &[0.0, NAN, 2.0, 0.0]);
    same_all(
        "tensor tape relu'",
        r.sum().backward().wrt(&x).data(),
        &[0.0, NAN, 1.0, 0.0],
    );
    let l = x.leaky_relu(0.1);
    same_all(
        "tensor tape leaky_relu",
        l.value().data(),
        &[0.0, NAN, 2.0, -0.2],
    );
    same_all(
        "tensor tape leaky_relu'",
        l.sum().backward().wrt(&x).data(),
        &[0.1, NAN, 1.0, 0.1],
    );
}

// ---------------------------------------------------------------------------
// max/min: Rust's value; the whole adjoint to the operand returned, the
// first on a tie.

/// `(a, b, max value, ∂/∂a, ∂/∂b)` for `a.max(b)`.
const MAX_CASES: [(f64, f64, f64, f64, f64); 7] = [
    (1.0, 2.0, 2.0, 0.0, 1.0),
    (2.0, 1.0, 2.0, 1.0, 0.0),
    (1.5, 1.5, 1.5, 1.0, 0.0),
    (0.0, -0.0, 0.0, 1.0, 0.0),
    (NAN, 1.0, 1.0, 0.0, 1.0),
    (1.0, NAN, 1.0, 1.0, 0.0),
    (NAN, NAN, NAN, 1.0, 0.0),
];

/// `(a, b, min value, ∂/∂a, ∂/∂b)` for `a.min(b)`.
const MIN_CASES: [(f64, f64, f64, f64, f64); 7] = [
    (1.0, 2.0, 1.0, 1.0, 0.0),
    (2.0, 1.0, 1.0, 0.0, 1.0),
    (1.5, 1.5, 1.5, 1.0, 0.0),
    (-0.0, 0.0, 0.0, 1.0, 0.0),
    (NAN, 1.0, 1.0, 0.0, 1.0),
    (1.0, NAN, 1.0, 1.0, 0.0),
    (NAN, NAN, NAN, 1.0, 0.0),
];

#[test]
fn max_min_send_the_adjoint_to_the_returned_operand_in_generated_code() {
    for (a, b, y, da, db) in MAX_CASES {
        let g = max_f_grad(a, b);
        same(&format!("max({a}, {b})"), g.value, y);
        same(&format!("max({a}, {b}) d/da"), g.a, da);
        same(&format!("max({a}, {b}) d/db"), g.b, db);
        same(
            &format!("max jvp a ({a}, {b})"),
            max_f_jvp(a, b, 1.0, 0.0).1,
            da,
        );
        same(
            &format!("max jvp b ({a}, {b})"),
            max_f_jvp(a, b, 0.0, 1.0).1,
            db,
        );
    }
    for (a, b, y, da, db) in MIN_CASES {
        let g = min_f_grad(a, b);
        same(&format!("min({a}, {b})"), g.value, y);
        same(&format!("min({a}, {b}) d/da"), g.a, da);
        same(&format!("min({a}, {b}) d/db"), g.b, db);
    }
    let g = max_f32_grad(1.0, f32::NAN);
    assert_eq!((g.value, g.a, g.b), (1.0, 1.0, 0.0));
    let g = max_f32_grad(2.0, 2.0);
    assert_eq!((g.a, g.b), (1.0, 0.0));
}

#[test]
fn max_min_send_the_adjoint_to_the_returned_operand_on_the_tape() {
    let tape = Tape::new();
    for (cases, name) in [(MAX_CASES, "max"), (MIN_CASES, "min")] {
        for (a, b, y, da, db) in cases {
            let (va, vb) = (tape.var(a), tape.var(b));
            let out = if name == "max" {
                va.max(vb)
            } else {
                va.min(vb)
            };
            let g = out.backward();
            same(&format!("tape {name}({a}, {b})"), out.value(), y);
            same(&format!("tape {name}({a}, {b}) d/da"), g.wrt(va), da);
            same(&format!("tape {name}({a}, {b}) d/db"), g.wrt(vb), db);
        }
    }
}

#[test]
fn max_reductions_send_the_adjoint_to_the_first_arg_max() {
    // Ties go to the first; NaNs are ignored unless all are NaN.
    for (data, value, grad) in [
        (vec![1.0, 3.0, 3.0], 3.0, vec![0.0, 1.0, 0.0]),
        (vec![NAN, 1.0, 0.5], 1.0, vec![0.0, 1.0, 0.0]),
        (vec![2.0, NAN, 2.0], 2.0, vec![1.0, 0.0, 0.0]),
        (vec![NAN, NAN], NAN, vec![1.0, 0.0]),
    ] {
        let x = vector(&data);
        let what = format!("max of {data:?}");
        same(&what, x.max(), value);
        same(&what, data.iter().copied().fold(NAN, f64::max), value);
        same_all(&what, reduce::max_backward(&x, 1.0).data(), &grad);
        same_all(&what, max_t_grad(&x).x.data(), &grad);
        let graph = Graph::new();
        let v = graph.leaf(x.clone());
        same_all(&what, v.max().backward().wrt(&v).data(), &grad);
    }
    let x = Tensor::from_vec(vec![3.0, NAN, 3.0, 1.0, 1.0, 0.0], &[2, 3]).expect("shape");
    same_all("max_axis", x.max_axis(1, false).data(), &[3.0, 1.0]);
    same_all(
        "max_axis_backward",
        reduce::max_axis_backward(&x, 1, &vector(&[10.0, 20.0])).data(),
        &[10.0, 0.0, 0.0, 20.0, 0.0, 0.0],
    );
}

// ---------------------------------------------------------------------------
// powf: ∂(x^y)/∂y = 0 where x^y = 0; ∂(x^y)/∂x = y x^(y-1), also at 0.

/// `(x, y, x^y, ∂/∂x, ∂/∂y)`.
fn powf_cases() -> [(f64, f64, f64, f64, f64); 6] {
    [
        (0.0, 2.0, 0.0, 0.0, 0.0),
        (INF, -1.0, 0.0, 0.0, 0.0),
        (0.0, 0.5, 0.0, INF, 0.0),
        (0.0, 1.0, 0.0, 1.0, 0.0),
        (2.0, 3.0, 8.0, 12.0, 8.0 * 2.0_f64.ln()),
        (0.5, 2.0, 0.25, 1.0, 0.25 * 0.5_f64.ln()),
    ]
}

#[test]
fn powf_exponent_derivative_is_zero_where_the_power_vanishes_in_generated_code() {
    for (x, y, value, dx, dy) in powf_cases() {
        let g = powf_f_grad(x, y);
        same(&format!("{x}^{y}"), g.value, value);
        same(&format!("d({x}^{y})/dx"), g.x, dx);
        same(&format!("d({x}^{y})/dy"), g.y, dy);
        // Forward mode sums both operands' terms: with x's tangent 0 its term
        // is 0 · ∞ = NaN where ∂/∂x is infinite, so check ∂/∂y alone elsewhere.
        if dx.is_finite() {
            same(
                &format!("jvp d({x}^{y})/dy"),
                powf_f_jvp(x, y, 0.0, 1.0).1,
                dy,
            );
        }
        same(
            &format!("jvp d({x}^{y})/dx"),
            powf_f_jvp(x, y, 1.0, 0.0).1,
            dx,
        );
    }
}

#[test]
fn powf_derivatives_agree_on_the_tape_and_in_tensor_ops() {
    let tape = Tape::new();
    for (x, y, value, dx, dy) in powf_cases() {
        let (vx, vy) = (tape.var(x), tape.var(y));
        let p = vx.powf(vy);
        let g = p.backward();
        same(&format!("tape {x}^{y}"), p.value(), value);
        same(&format!("tape d({x}^{y})/dx"), g.wrt(vx), dx);
        same(&format!("tape d({x}^{y})/dy"), g.wrt(vy), dy);
        // The tensor op: ∂/∂x from its adjoint, ∂/∂p from the partial the
        // tensor compiler sums when the exponent is active.
        let t = vector(&[x]);
        let p = t.powf(y);
        same(&format!("tensor {x}^{y}"), p.data()[0], value);
        let d = unary::powf_backward(&t, y, &vector(&[1.0]));
        same(&format!("powf_backward {x}^{y}"), d.data()[0], dx);
        let d = unary::powf_exponent_partial(&t, &p);
        same(&format!("powf_exponent_partial {x}^{y}"), d.data()[0], dy);
        let graph = Graph::new();
        let v = graph.leaf(t);
        let d = v.powf(y).sum().backward().wrt(&v);
        same(&format!("tensor tape d({x}^{y})/dx"), d.data()[0], dx);
    }
}

// ---------------------------------------------------------------------------
// sqrt'(0) = +∞.

#[test]
fn sqrt_derivative_is_infinite_at_zero_everywhere() {
    assert_eq!(sqrt_f_grad(0.0).x, INF);
    assert_eq!(sqrt_f_jvp(0.0, 1.0).1, INF);
    assert_eq!(sqrt_f_grad(4.0).x, 0.25);

    let tape = Tape::new();
    let v = tape.var(0.0_f64);
    assert_eq!(v.sqrt().backward().wrt(v), INF);

    let x = vector(&[0.0, 4.0]);
    let y = x.sqrt();
    same_all(
        "sqrt_backward",
        unary::sqrt_backward(&y, &vector(&[1.0, 1.0])).data(),
        &[INF, 0.25],
    );
    same_all("generated sqrt", sqrt_t_grad(&x).x.data(), &[INF, 0.25]);
    let graph = Graph::new();
    let v = graph.leaf(x);
    same_all(
        "tensor tape sqrt",
        v.sqrt().sum().backward().wrt(&v).data(),
        &[INF, 0.25],
    );
}

// ---------------------------------------------------------------------------
// Empty reductions: an error naming the op and the shape, never 0 or NaN.

#[test]
fn empty_reductions_fail_the_same_through_the_tensor_tape() {
    let empty = Tensor::<f64>::zeros(&[0, 10]);
    let graph = Graph::new();
    let x = graph.leaf(empty.clone());
    assert_eq!(
        panic_message(|| x.mean()),
        "mean: cannot average over zero elements (shape [0, 10])"
    );
    assert_eq!(
        panic_message(|| x.mean_axis(0, false)),
        "mean_axis: cannot average over zero elements (axis 0 of shape [0, 10])"
    );
    assert_eq!(
        panic_message(|| x.max()),
        "max: cannot take the maximum of zero elements (shape [0, 10])"
    );
    assert_eq!(
        panic_message(|| x.max_axis(0, true)),
        "max_axis: cannot take the maximum of zero elements (axis 0 of shape [0, 10])"
    );
    assert_eq!(
        panic_message(|| x.cross_entropy(&[])),
        "cross_entropy: cannot average over zero elements (axis 0 of shape [0, 10])"
    );
    assert_eq!(
        panic_message(|| x.cross_entropy_probs(&empty)),
        "cross_entropy: cannot average over zero elements (axis 0 of shape [0, 10])"
    );
    let target = graph.constant(empty.clone());
    assert_eq!(
        panic_message(|| x.mse(&target)),
        "mse: cannot average over zero elements (shape [0, 10])"
    );
    assert_eq!(
        panic_message(|| x.l1(&target)),
        "l1: cannot average over zero elements (shape [0, 10])"
    );
    // A sum of nothing is 0, with an empty gradient.
    let s = x.sum();
    assert_eq!(s.item(), 0.0);
    assert_eq!(s.backward().wrt(&x).shape(), &[0, 10]);
}

#[test]
fn empty_reductions_fail_the_same_in_generated_tensor_code() {
    let empty = Tensor::<f64>::zeros(&[0, 10]);
    assert_eq!(
        panic_message(|| mean_t_grad(&empty)),
        "mean: cannot average over zero elements (shape [0, 10])"
    );
    assert_eq!(
        panic_message(|| mean_t(&empty)),
        "mean: cannot average over zero elements (shape [0, 10])"
    );
    assert_eq!(
        panic_message(|| max_t_grad(&empty)),
        "max: cannot take the maximum of zero elements (shape [0, 10])"
    );
    assert_eq!(
        panic_message(|| cross_entropy_t_grad(&empty, &[])),
        "cross_entropy: cannot average over zero elements (axis 0 of shape [0, 10])"
    );
    assert_eq!(
        panic_message(|| mse_t_grad(&empty, &empty)),
        "mse: cannot average over zero elements (shape [0, 10])"
    );
    // The same errors from the `try_` forms.
    assert_eq!(
        try_cross_entropy(&empty, &[] as &[usize])
            .unwrap_err()
            .to_string(),
        "cross_entropy: cannot average over zero elements (axis 0 of shape [0, 10])"
    );
    assert!(matches!(
        empty.try_mean(),
        Err(ShapeError::EmptyReduction { op: "mean", .. })
    ));
}

// ---------------------------------------------------------------------------
// exp, tanh, sigmoid in f32: one implementation (`adjoint_kernels::math`)
// in the kernels, both tapes, fused loops and generated scalar code.

#[differentiable]
fn transcendentals_f32(x: f32) -> f32 {
    x.exp() + x.tanh() + x.sigmoid()
}

/// Each function the root of its own fused region (`x * 1`, `x / 1` and
/// `-(-x)` change no bit and keep the regions apart), so generated code
/// computes them in fused loops.
#[differentiable]
fn transcendentals_t(x: &Tensor<f32>) -> Tensor<f32> {
    let e = (x * 1.0).exp();
    let t = (x / 1.0).tanh();
    let s = (-(-x)).sigmoid();
    &(&e + &t) + &s
}

/// Points across the range, the overflow limits, ±0 and NaN.
const TRANSCENDENTAL_POINTS: [f32; 11] = [
    -100.0,
    -87.5,
    -3.25,
    -0.5,
    -0.0,
    0.0,
    0.3,
    2.0,
    88.5,
    100.0,
    f32::NAN,
];

#[test]
fn exp_tanh_sigmoid_give_the_same_bits_in_every_implementation() {
    use adjoint::kernels::math;
    let expected: Vec<f32> = TRANSCENDENTAL_POINTS
        .iter()
        .map(|&x| math::exp(x) + math::tanh(x) + math::sigmoid(x))
        .collect();
    let nan_aware = |v: &[f32]| {
        v.iter()
            .map(|x| if x.is_nan() { u32::MAX } else { x.to_bits() })
            .collect::<Vec<_>>()
    };
    let x = Tensor::from_vec(TRANSCENDENTAL_POINTS.to_vec(), &[11]).expect("shape");
    // The runtime's kernels (what the tensor tape calls).
    let kernels = &(&unary::exp(&x) + &unary::tanh(&x)) + &unary::sigmoid(&x);
    assert_eq!(nan_aware(kernels.data()), nan_aware(&expected), "kernels");
    // The tensor tape.
    let graph = Graph::new();
    let v = graph.leaf(x.clone());
    let taped = &(&v.exp() + &v.tanh()) + &v.sigmoid();
    assert_eq!(
        nan_aware(taped.value().data()),
        nan_aware(&expected),
        "tensor tape"
    );
    // The function itself (the runtime's ops), and its generated code,
    // where the sum of the three is one fused loop.
    let plain = transcendentals_t(&x);
    assert_eq!(nan_aware(plain.data()), nan_aware(&expected), "tensor ops");
    let fused = transcendentals_t_vjp(&x, &Tensor::ones(&[11])).value;
    assert_eq!(
        nan_aware(fused.data()),
        nan_aware(&expected),
        "fused region"
    );
    for (&x, &e) in TRANSCENDENTAL_POINTS.iter().zip(&expected) {
        // Generated scalar code and the scalar tape.
        let generated = transcendentals_f32_grad(x).value;
        let tape = Tape::new();
        let t = tape.var(x);
        let taped = (t.exp() + t.tanh() + t.sigmoid()).value();
        for (what, got) in [("generated scalar", generated), ("scalar tape", taped)] {
            assert!(
                got.to_bits() == e.to_bits() || (got.is_nan() && e.is_nan()),
                "{what} at {x}: {got} vs {e}"
            );
        }
    }
}
