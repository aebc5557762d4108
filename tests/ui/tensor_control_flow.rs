use adjoint::prelude::*;

#[differentiable]
fn f(x: &Tensor, #[constant] steps: usize) -> f32 {
    let mut h = x.clone();
    let mut i = 0;
    while i < steps {
        h = h.tanh();
        i += 1;
    }
    h.sum()
}

fn main() {}
