use adjoint::prelude::*;

#[differentiable]
fn dense(w: &Tensor<f64>, #[constant] x: &Tensor<f64>) -> Tensor<f64> {
    x.matmul(w)
}

#[differentiable]
fn two_layers(w1: &Tensor<f64>, w2: &Tensor<f64>, #[constant] x: &Tensor<f64>) -> f64 {
    let h = dense(w1, x).tanh();
    dense(w2, &h).sum()
}

fn main() {}
