use adjoint::prelude::*;

#[differentiable]
fn f(x: &Tensor) -> f32 {
    x.frobnicate().sum()
}

trait Frobnicate {
    fn frobnicate(&self) -> Tensor;
}

impl Frobnicate for Tensor {
    fn frobnicate(&self) -> Tensor {
        self.clone()
    }
}

fn main() {}
