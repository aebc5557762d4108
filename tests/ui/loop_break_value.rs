use adjoint::differentiable;

#[differentiable]
fn f(x: f64) -> f64 {
    let y = loop {
        break x;
    };
    y * 2.0
}

fn main() {}
