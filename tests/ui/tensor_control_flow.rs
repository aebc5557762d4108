use adjoint::prelude::*;

#[differentiable]
fn f(x: &Tensor, #[constant] clip: bool) -> Tensor {
    if clip {
        return x.tanh();
    }
    x.relu()
}

fn main() {}
