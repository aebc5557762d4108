use adjoint::differentiable;

#[differentiable]
fn f(x: f64, #[constant] xs: &[f64]) -> f64 {
    x * xs[0]
}

fn main() {}
