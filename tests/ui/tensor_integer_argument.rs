use adjoint::prelude::*;

#[differentiable]
fn f(x: &Tensor, axis: usize) -> f32 {
    x.sum_axis(axis, false).sum()
}

fn main() {}
