use adjoint::prelude::*;

#[differentiable]
fn f(x: &Tensor, #[constant] train: bool) -> f32 {
    let y = if train { x.relu() } else { x.tanh() };
    y.sum()
}

fn main() {}
