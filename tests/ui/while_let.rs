use adjoint::differentiable;

#[differentiable]
fn f(x: f64, #[constant] n: Option<usize>) -> f64 {
    let mut acc = x;
    while let Some(k) = n {
        acc = acc * 2.0;
    }
    acc
}

fn main() {}
