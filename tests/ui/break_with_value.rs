use adjoint::differentiable;

#[differentiable]
fn f(x: f64) -> f64 {
    let mut acc = x;
    loop {
        acc = acc * x;
        if acc > 100.0 {
            break acc;
        }
    }
    acc
}

fn main() {}
