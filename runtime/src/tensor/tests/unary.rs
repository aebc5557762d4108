//! Element-wise functions and their adjoints.

use super::{assert_close, check_vjp, dim, rand_t, rng, t};
use crate::scalar::ScalarExt;
use crate::tensor::ops::unary;
use crate::tensor::Tensor;

#[test]
fn closed_form_values() {
    let x = t(&[-2.0, -0.5, 0.5, 2.0], &[2, 2]);
    let e = std::f64::consts::E;
    assert_close(t(&[0.0, 1.0], &[2]).exp().data(), &[1.0, e], 1e-15);
    assert_close(t(&[1.0, e], &[2]).ln().data(), &[0.0, 1.0], 1e-15);
    assert_close(t(&[4.0, 9.0], &[2]).sqrt().data(), &[2.0, 3.0], 1e-15);
    assert_eq!(x.square().to_vec(), vec![4.0, 0.25, 0.25, 4.0]);
    assert_close(
        t(&[4.0, 8.0], &[2]).powf(1.5).data(),
        &[8.0, 8.0f64.powf(1.5)],
        1e-15,
    );
    assert_eq!(x.abs().to_vec(), vec![2.0, 0.5, 0.5, 2.0]);
    let half_pi = std::f64::consts::FRAC_PI_2;
    assert_close(t(&[0.0, half_pi], &[2]).sin().data(), &[0.0, 1.0], 1e-15);
    assert_close(t(&[0.0, half_pi], &[2]).cos().data(), &[1.0, 0.0], 1e-15);
    // tanh(x) = (e^2x - 1) / (e^2x + 1); sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4.
    assert_close(
        t(&[1.0], &[1]).tanh().data(),
        &[(e * e - 1.0) / (e * e + 1.0)],
        1e-15,
    );
    assert_close(
        t(&[0.0, 3f64.ln()], &[2]).sigmoid().data(),
        &[0.5, 0.75],
        1e-15,
    );
    assert_eq!(x.relu().to_vec(), vec![0.0, 0.0, 0.5, 2.0]);
    assert_eq!(x.leaky_relu(0.1).to_vec(), vec![-0.2, -0.05, 0.5, 2.0]);
    assert_eq!(unary::neg(&x).to_vec(), vec![2.0, 0.5, -0.5, -2.0]);
}

#[test]
fn sigmoid_is_stable_and_agrees_with_the_scalar_runtime() {
    let x = t(&[-800.0, -30.0, 0.0, 30.0, 800.0], &[5]);
    let y = x.sigmoid();
    assert!(y.data().iter().all(|v| v.is_finite()));
    for (&xi, &yi) in x.data().iter().zip(y.data()) {
        assert_eq!(yi, xi.sigmoid());
    }
    let xf = Tensor::from_vec(vec![-3.0f32, 0.25, 7.0], &[3]).unwrap();
    for (&xi, &yi) in xf.data().iter().zip(xf.sigmoid().data()) {
        assert_eq!(yi, xi.sigmoid());
    }
}

/// Checks one adjoint that takes `saved` (the input or output) and the gradient.
fn check_unary(
    inputs: &[Tensor<f64>],
    forward: impl Fn(&Tensor<f64>) -> Tensor<f64>,
    backward: impl Fn(&Tensor<f64>, &Tensor<f64>, &Tensor<f64>) -> Tensor<f64>,
    rng: &mut rand::rngs::StdRng,
) {
    check_vjp(
        inputs,
        |x| forward(&x[0]),
        |x, g| vec![backward(&x[0], &forward(&x[0]), g)],
        rng,
    );
}

#[test]
fn adjoints_match_finite_differences() {
    let mut r = rng(40);
    let shape = [dim(&mut r), dim(&mut r) + 1];
    // Values in ±[0.2, 2]: away from the kinks of abs, relu and leaky_relu at 0.
    let magnitude = rand_t(&shape, 0.2, 2.0, &mut r);
    let signs = rand_t(&shape, -1.0, 1.0, &mut r).map(f64::signum);
    let mixed = [&magnitude * &signs];
    let positive = [magnitude];
    check_vjp(
        &mixed,
        |x| unary::neg(&x[0]),
        |_, g| vec![unary::neg_backward(g)],
        &mut r,
    );
    check_unary(
        &mixed,
        unary::exp,
        |_, y, g| unary::exp_backward(y, g),
        &mut r,
    );
    check_unary(
        &positive,
        unary::ln,
        |x, _, g| unary::ln_backward(x, g),
        &mut r,
    );
    check_unary(
        &positive,
        unary::sqrt,
        |_, y, g| unary::sqrt_backward(y, g),
        &mut r,
    );
    check_unary(
        &mixed,
        unary::square,
        |x, _, g| unary::square_backward(x, g),
        &mut r,
    );
    check_unary(
        &positive,
        |x| unary::powf(x, 2.5),
        |x, _, g| unary::powf_backward(x, 2.5, g),
        &mut r,
    );
    check_unary(
        &mixed,
        unary::abs,
        |x, _, g| unary::abs_backward(x, g),
        &mut r,
    );
    check_unary(
        &mixed,
        unary::sin,
        |x, _, g| unary::sin_backward(x, g),
        &mut r,
    );
    check_unary(
        &mixed,
        unary::cos,
        |x, _, g| unary::cos_backward(x, g),
        &mut r,
    );
    check_unary(
        &mixed,
        unary::tanh,
        |_, y, g| unary::tanh_backward(y, g),
        &mut r,
    );
    check_unary(
        &mixed,
        unary::sigmoid,
        |_, y, g| unary::sigmoid_backward(y, g),
        &mut r,
    );
    check_unary(
        &mixed,
        unary::relu,
        |_, y, g| unary::relu_backward(y, g),
        &mut r,
    );
    check_unary(
        &mixed,
        |x| unary::leaky_relu(x, 0.2),
        |x, _, g| unary::leaky_relu_backward(x, 0.2, g),
        &mut r,
    );
}
