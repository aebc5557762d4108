use adjoint::prelude::*;

#[derive(Parameters)]
struct Model {
    w: Tensor,
}

#[differentiable]
fn f(p: &Model, #[constant] x: &Tensor) -> f32 {
    p.w = x.relu();
    x.matmul(&p.w).sum()
}

fn main() {}
