//! Features of `#[differentiable]` beyond plain expressions: hand-written
//! adjoints, `#[constant]` arguments, `f32`, consts and casts, free-function
//! forms, and traces of functions with control flow.

use adjoint::check::{check_gradient, Tolerance};
use adjoint::prelude::*;
use adjoint::scalar::{relu, sigmoid};

/// `softplus(x) = ln(1 + e^x)` with a hand-written, overflow-safe adjoint.
#[differentiable]
#[custom_adjoint(softplus_backward)]
fn softplus(x: f64) -> f64 {
    if x > 30.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

fn softplus_backward(x: f64, _value: f64, adjoint: f64) -> f64 {
    adjoint * x.sigmoid()
}

/// Two active arguments and one constant, with a hand-written adjoint.
#[custom_adjoint(scaled_product_backward)]
fn scaled_product(a: f64, #[constant] k: f64, b: f64) -> f64 {
    k * a * b
}

fn scaled_product_backward(a: f64, k: f64, b: f64, _value: f64, g: f64) -> (f64, f64) {
    (g * k * b, g * k * a)
}

#[differentiable]
fn uses_custom(x: f64, y: f64) -> f64 {
    softplus(x * y) + scaled_product(x, 3.0, y.sin())
}

#[test]
fn custom_adjoints_are_used_and_compose() {
    let g = softplus_grad(1000.0);
    assert_eq!(g.value, 1000.0);
    assert_eq!(g.x, 1.0, "the hand-written adjoint avoids overflow");
    let (x, y) = (0.7, -1.3);
    let g = uses_custom_grad(x, y);
    let by_hand_x = y * sigmoid(x * y) + 3.0 * y.sin();
    let by_hand_y = x * sigmoid(x * y) + 3.0 * x * y.cos();
    assert!(
        (g.x - by_hand_x).abs() < 1e-12 && (g.y - by_hand_y).abs() < 1e-12,
        "{g:?}"
    );
    let (_, t) = uses_custom_jvp(x, y, 0.25, -2.0);
    assert!(
        (t - (0.25 * g.x - 2.0 * g.y)).abs() < 1e-12,
        "forward mode through custom ops"
    );
    let sp = scaled_product_grad(2.0, 5.0, 3.0);
    assert_eq!((sp.value, sp.a, sp.b), (30.0, 15.0, 10.0));
    let trace = uses_custom_trace(x, y).to_string();
    assert!(
        trace.contains("softplus(") && trace.contains("scaled_product("),
        "{trace}"
    );
}

const SCALE: f64 = 0.5;

#[differentiable]
fn with_constants(x: f64, #[constant] w: f64, #[constant] n: i32) -> f64 {
    let t = x * w + SCALE * std::f64::consts::PI;
    t.powi(n) + relu(x) + sigmoid(t) + f64::tanh(x) + (n as f64) * x
}

#[test]
fn constants_casts_and_free_functions() {
    let (x, w, n) = (0.8, 1.7, 3);
    let g = with_constants_grad(x, w, n);
    let f = |p: &[f64]| with_constants(p[0], w, n);
    check_gradient(f, &[g.x], &[x], Tolerance::default()).expect("matches finite differences");
    assert_eq!(g.value, with_constants(x, w, n));
}

#[differentiable]
fn single_precision(x: f32, y: f32) -> f32 {
    let mut acc = x;
    for _ in 0..3 {
        acc = acc * y + 0.5f32;
    }
    acc.sqrt() * y.exp2()
}

#[test]
fn f32_functions_differentiate_in_f32() {
    let (x, y) = (1.25f32, 0.75f32);
    let g = single_precision_grad(x, y);
    let g64 = {
        // the same function in f64, differentiated by finite differences
        let f = |p: &[f64]| {
            let mut acc = p[0];
            for _ in 0..3 {
                acc = acc * p[1] + 0.5;
            }
            acc.sqrt() * p[1].exp2()
        };
        adjoint::check::central_difference(f, &[x as f64, y as f64], 1e-6)
    };
    assert!(
        (g.x as f64 - g64[0]).abs() < 1e-4 * (1.0 + g64[0].abs()),
        "{} vs {}",
        g.x,
        g64[0]
    );
    assert!(
        (g.y as f64 - g64[1]).abs() < 1e-4 * (1.0 + g64[1].abs()),
        "{} vs {}",
        g.y,
        g64[1]
    );
}

#[differentiable]
fn looped(x: f64, #[constant] n: usize) -> f64 {
    let mut acc = x;
    for _ in 0..n {
        acc *= x;
    }
    acc
}

#[test]
fn traces_follow_the_executed_path() {
    // x^(n+1) at x = 2 with n = 3: three multiplications.
    let trace = looped_trace(2.0, 3);
    let values: Vec<f64> = trace.forward_steps().iter().map(|s| s.value).collect();
    assert_eq!(values, vec![2.0, 4.0, 8.0, 16.0]);
    assert_eq!(trace.adjoint_of(0), Some(32.0), "d/dx x^4 = 4 x^3 = 32");
    assert_eq!(looped_grad(2.0, 3).x, 32.0);
}

#[differentiable]
fn inactive_branch(x: f64, #[constant] flag: bool) -> f64 {
    if flag {
        x * x
    } else {
        3.0
    }
}

#[test]
fn constant_arguments_get_no_gradient_but_steer_control_flow() {
    assert_eq!(inactive_branch_grad(3.0, true).x, 6.0);
    assert_eq!(inactive_branch_grad(3.0, false).x, 0.0);
}

/// Argument names shaped like the generated ones (`v1`, `x_bar`).
#[differentiable]
fn clashing_names(x: f64, x_bar: f64, v1: f64) -> f64 {
    let t = x * x_bar;
    t * v1 + x.sin()
}

#[test]
fn argument_names_never_collide_with_generated_ones() {
    let g = clashing_names_grad(2.0, 3.0, 5.0);
    assert_eq!(g.value, 30.0 + 2f64.sin());
    assert_eq!((g.x, g.x_bar, g.v1), (15.0 + 2f64.cos(), 10.0, 6.0));
}
