use adjoint::differentiable;

struct Model;

impl Model {
    const SCALE: f64 = 2.0;

    #[differentiable]
    fn loss(x: f64) -> f64 {
        x * Self::SCALE
    }
}

fn main() {}
