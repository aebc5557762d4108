use adjoint::prelude::*;

#[differentiable]
fn weird(x: &Tensor<f64>, a: f64) -> f64 {
    let k = a * 2.0;
    x.sum_axis(k, true).sum()
}

fn main() {}
