use adjoint::{custom_adjoint, differentiable};

fn cube_backward(x: f64, _k: f64, _y: f64, g: f64) -> f64 {
    3.0 * x * x * g
}

#[custom_adjoint(cube_backward)]
fn cube(x: f64, #[constant] k: f64) -> f64 {
    x * x * x + k
}

#[differentiable]
fn caller(a: f64, b: f64) -> f64 {
    cube(a.sin(), a * b)
}

fn main() {
    let _ = caller_grad(1.0, 2.0);
}
