use adjoint::prelude::*;

#[differentiable]
fn penalty(w: &Tensor<f64>) -> f64 {
    w.square().sum()
}

#[differentiable]
fn loss(w: &Tensor<f64>) -> f64 {
    let r = penalty(w);
    let scaled = r * 2.0;
    scaled + 1.0
}

fn main() {}
