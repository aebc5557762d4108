use adjoint::prelude::*;

#[differentiable]
fn f(x: &Tensor, s: f32) -> f32 {
    x.matmul(s).sum()
}

fn main() {}
