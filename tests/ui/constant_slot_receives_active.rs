use adjoint::differentiable;

#[differentiable]
fn scaled(x: f64, #[constant] k: f64) -> f64 {
    k * x
}

#[differentiable]
fn caller(x: f64, y: f64) -> f64 {
    scaled(x, y * y) + y
}

fn main() {
    let _ = caller_grad(1.0, 2.0);
}
