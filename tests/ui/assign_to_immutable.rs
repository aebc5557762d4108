use adjoint::differentiable;

#[differentiable]
fn f(x: f64) -> f64 {
    let y = x * 2.0;
    y = y + x;
    y
}

fn main() {}
