use adjoint::differentiable;

#[differentiable]
fn f<T>(x: f64) -> f64 {
    x * x
}

fn main() {}
