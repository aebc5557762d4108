use adjoint::differentiable;

#[differentiable]
fn f(x: f64, n: usize) -> f64 {
    let mut acc = x;
    for _ in 0..n {
        acc = acc * x;
    }
    acc
}

fn main() {}
