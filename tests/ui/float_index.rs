use adjoint::differentiable;

#[differentiable]
fn f(x: f64, #[constant] xs: &[f64]) -> f64 {
    x * xs[x]
}

fn main() {}
