use adjoint::differentiable;

#[differentiable]
fn f(x: f64) -> f64 {
    let mut acc = x;
    while acc < 10.0 {
        acc = acc * 2.0;
    }
    acc
}

fn main() {}
