use adjoint::differentiable;

#[differentiable]
fn f(x: f64, #[constant] n: usize) -> f64 {
    let mut acc = x;
    'outer: for _ in 0..n {
        acc = acc * x;
        if acc > 100.0 {
            break 'outer;
        }
    }
    acc
}

fn main() {}
