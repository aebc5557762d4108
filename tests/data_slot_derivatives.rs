//! Issue 8, defect 2: an active scalar in a tensor op's exponent or slope
//! gets its derivative (it used to get a silent zero). Each gradient is
//! checked against central differences in f64 and forward mode.

use adjoint::check::central_difference;
use adjoint::prelude::*;

#[differentiable]
fn power_sum(x: &Tensor<f64>, s: f64) -> f64 {
    x.powf(s).sum()
}

#[differentiable]
fn leaky_sum(x: &Tensor<f64>, s: f64) -> f64 {
    (x.leaky_relu(s) * x).sum()
}

/// The exponent and slope computed from the arguments, not passed directly.
#[differentiable]
fn through_expressions(x: &Tensor<f64>, a: f64) -> f64 {
    let p = a * a + 0.5;
    x.powf(p).leaky_relu(a.sin()).mean()
}

fn input() -> Tensor<f64> {
    Tensor::from_vec(vec![0.3, 1.7, 2.5, 0.9, -1.2, 0.0], &[2, 3]).expect("6 values")
}

fn positive() -> Tensor<f64> {
    Tensor::from_vec(vec![0.3, 1.7, 2.5, 0.9, 1.2, 0.0], &[2, 3]).expect("6 values")
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

#[test]
fn powf_exponent_gets_its_derivative() {
    let x = positive();
    let s = 2.3;
    let g = power_sum_grad(&x, s);
    // ∂/∂s Σ x^s = Σ x^s ln x, with the x = 0 term 0.
    let expected: f64 = x
        .data()
        .iter()
        .filter(|v| **v > 0.0)
        .map(|v| v.powf(s) * v.ln())
        .sum();
    assert!(close(g.s, expected, 1e-12), "{} vs {expected}", g.s);
    let fd = central_difference(|p| power_sum(&x, p[0]), &[s], 1e-6)[0];
    assert!(close(g.s, fd, 1e-6), "{} vs finite differences {fd}", g.s);
    let (_, ds) = power_sum_jvp(&x, s, &Tensor::zeros(&[2, 3]), 1.0);
    assert!(close(ds, g.s, 1e-12), "forward {ds} vs reverse {}", g.s);
}

#[test]
fn leaky_relu_slope_gets_its_derivative() {
    let x = input();
    let s = 0.07;
    let g = leaky_sum_grad(&x, s);
    // ∂/∂s Σ leaky(x, s)·x = Σ_{x ≤ 0} x².
    let expected: f64 = x.data().iter().filter(|v| **v <= 0.0).map(|v| v * v).sum();
    assert!(close(g.s, expected, 1e-12), "{} vs {expected}", g.s);
    let fd = central_difference(|p| leaky_sum(&x, p[0]), &[s], 1e-6)[0];
    assert!(close(g.s, fd, 1e-6), "{} vs finite differences {fd}", g.s);
    let (_, ds) = leaky_sum_jvp(&x, s, &Tensor::zeros(&[2, 3]), 1.0);
    assert!(close(ds, g.s, 1e-12));
}

#[test]
fn exponent_and_slope_computed_from_arguments() {
    let x = Tensor::from_vec(vec![0.3, 1.7, 2.5, 0.9, 1.2, 0.4], &[2, 3]).expect("6 values");
    let a = 0.8;
    let g = through_expressions_grad(&x, a);
    let fd = central_difference(|p| through_expressions(&x, p[0]), &[a], 1e-6)[0];
    assert!(g.a != 0.0);
    assert!(close(g.a, fd, 1e-6), "{} vs finite differences {fd}", g.a);
    // ⟨J v, w⟩ = ⟨v, Jᵀ w⟩ with v on both arguments at once.
    let vx = Tensor::from_vec(vec![0.1, -0.2, 0.3, 0.05, -0.4, 0.7], &[2, 3]).expect("6 values");
    let (_, jv) = through_expressions_jvp(&x, a, &vx, 0.6);
    let back: f64 =
        g.x.data()
            .iter()
            .zip(vx.data())
            .map(|(g, v)| g * v)
            .sum::<f64>()
            + g.a * 0.6;
    assert!(close(jv, back, 1e-10), "{jv} vs {back}");
}
