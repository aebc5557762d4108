use adjoint::prelude::*;

#[differentiable]
fn f(x: &Tensor, #[constant] clip: bool) -> Tensor {
    if clip {
        return 2.0;
    }
    x.relu()
}

fn main() {}
