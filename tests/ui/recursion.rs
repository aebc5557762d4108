use adjoint::differentiable;

#[differentiable]
fn power(x: f64, #[constant] n: u32) -> f64 {
    if n == 0 {
        1.0
    } else {
        x * power(x, n - 1)
    }
}

fn main() {}
