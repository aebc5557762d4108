use adjoint::differentiable;

#[differentiable]
fn f(x: f64, #[constant] n: usize) -> f64 {
    let mut acc = x;
    for _ in 0..n {
        acc = acc.frobnicate();
    }
    acc
}

trait Frobnicate {
    fn frobnicate(self) -> Self;
}

impl Frobnicate for f64 {
    fn frobnicate(self) -> f64 {
        self
    }
}

fn main() {}
