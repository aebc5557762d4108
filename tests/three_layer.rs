//! The seed's matrix-backprop exercise: `f(W1, W2, W3) = ½‖Y − W3 σ(W2 σ(W1 X))‖²_F`
//! with σ = ReLU, Y 2×50, X 5×50, W1 4×5, W2 3×4, W3 2×3 (iid Gaussian, fixed
//! seed). The tape's gradients must equal the closed-form backprop of the
//! sheet and central finite differences.

use adjoint::check::{gradcheck, Tolerance};
use adjoint::tape::Graph;
use adjoint::tensor::rand::{rngs::StdRng, SeedableRng};
use adjoint::Tensor;

struct Problem {
    x: Tensor<f64>,
    y: Tensor<f64>,
    w: [Tensor<f64>; 3],
}

fn problem() -> Problem {
    let mut rng = StdRng::seed_from_u64(2022);
    Problem {
        x: Tensor::randn(&[5, 50], &mut rng),
        y: Tensor::randn(&[2, 50], &mut rng),
        w: [
            Tensor::randn(&[4, 5], &mut rng),
            Tensor::randn(&[3, 4], &mut rng),
            Tensor::randn(&[2, 3], &mut rng),
        ],
    }
}

/// The loss and its gradients from the tape.
fn tape(p: &Problem, w: &[Tensor<f64>]) -> (f64, Vec<Tensor<f64>>) {
    let graph = Graph::new();
    let (x, y) = (graph.constant(p.x.clone()), graph.constant(p.y.clone()));
    let ws: Vec<_> = w.iter().map(|t| graph.leaf(t.clone())).collect();
    let h1 = ws[0].matmul(&x).relu();
    let h2 = ws[1].matmul(&h1).relu();
    let r = &y - &ws[2].matmul(&h2);
    let loss = r.square().sum().mul_scalar(0.5);
    let grads = loss.backward();
    (loss.item(), ws.iter().map(|v| grads.wrt(v)).collect())
}

/// The sheet's closed form: with Z1 = W1 X, H1 = σ(Z1), Z2 = W2 H1,
/// H2 = σ(Z2), R = W3 H2 − Y:
/// ∂f/∂W3 = R H2ᵀ, Δ2 = (W3ᵀ R) ⊙ σ'(Z2), ∂f/∂W2 = Δ2 H1ᵀ,
/// Δ1 = (W2ᵀ Δ2) ⊙ σ'(Z1), ∂f/∂W1 = Δ1 Xᵀ.
fn closed_form(p: &Problem) -> Vec<Tensor<f64>> {
    let relu_grad = |z: &Tensor<f64>| {
        Tensor::from_vec(
            z.data()
                .iter()
                .map(|v| f64::from(u8::from(*v > 0.0)))
                .collect(),
            z.shape(),
        )
        .expect("shape")
    };
    let z1 = p.w[0].matmul(&p.x);
    let h1 = z1.relu();
    let z2 = p.w[1].matmul(&h1);
    let h2 = z2.relu();
    let r = &p.w[2].matmul(&h2) - &p.y;
    let d3 = r.matmul(&h2.t());
    let delta2 = &p.w[2].t().matmul(&r) * &relu_grad(&z2);
    let d2 = delta2.matmul(&h1.t());
    let delta1 = &p.w[1].t().matmul(&delta2) * &relu_grad(&z1);
    let d1 = delta1.matmul(&p.x.t());
    vec![d1, d2, d3]
}

#[test]
fn tape_matches_the_closed_form_backprop() {
    let p = problem();
    let (_, grads) = tape(&p, &p.w);
    for (k, (g, c)) in grads.iter().zip(closed_form(&p)).enumerate() {
        let diff = g
            .data()
            .iter()
            .zip(c.data())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let scale = c.data().iter().map(|v| v.abs()).fold(1.0, f64::max);
        assert!(diff <= 1e-12 * scale, "dW{}: max difference {diff}", k + 1);
    }
}

#[test]
fn tape_matches_finite_differences() {
    let p = problem();
    let (_, grads) = tape(&p, &p.w);
    let f = |w: &[Tensor<f64>]| tape(&p, w).0;
    let tol = Tolerance {
        rtol: 1e-6,
        atol: 1e-6,
    };
    gradcheck(f, &p.w, &grads, tol).expect("tape gradients agree with finite differences");
}
