use adjoint::differentiable;

#[differentiable]
fn f(x: f64, #[constant] n: usize) -> f64 {
    let mut acc = x;
    for _ in 0..n {
        if acc > 100.0 {
            continue;
        }
        acc = acc * x;
    }
    acc
}

fn main() {}
