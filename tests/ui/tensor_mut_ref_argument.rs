use adjoint::prelude::*;

#[differentiable]
fn f(x: &mut Tensor) -> f32 {
    x.sum()
}

fn main() {}
