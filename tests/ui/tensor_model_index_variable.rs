use adjoint::prelude::*;

#[derive(Parameters)]
struct Layer {
    w: Tensor,
}

#[derive(Parameters)]
struct Model {
    layers: Vec<Layer>,
}

#[differentiable]
fn f(p: &Model, #[constant] x: &Tensor, #[constant] i: usize) -> f32 {
    x.matmul(&p.layers[i].w).sum()
}

fn main() {}
