use adjoint::differentiable;

#[differentiable]
fn f(x: &[f64], y: &[f64], #[constant] first: bool) -> f64 {
    let s = if first { x } else { y };
    s[0] * 2.0
}

fn main() {}
