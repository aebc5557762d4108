use adjoint::differentiable;

#[differentiable]
fn f(x: f64) -> f64 {
    x.frobnicate() + 1.0
}

fn main() {}
