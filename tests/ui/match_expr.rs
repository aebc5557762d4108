use adjoint::differentiable;

#[differentiable]
fn f(x: f64, #[constant] k: usize) -> f64 {
    match k {
        0 => x,
        _ => x * x,
    }
}

fn main() {}
