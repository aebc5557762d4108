use adjoint::differentiable;

#[differentiable]
fn f(x: f64, #[constant] xs: &[f64]) -> f64 {
    let mut acc = x;
    for v in xs.iter() {
        acc = acc * v;
    }
    acc
}

fn main() {}
