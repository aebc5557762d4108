//! The seed's MLP (784-512-256-10, ReLU, batch 100, f32, cross-entropy) and
//! one training step three ways: the generated gradient, the tape, and a
//! hand-written backward over the same kernels. Shared by `benches/mlp.rs`
//! and `benches/kernels.rs`.

use adjoint::tape::Graph;
use adjoint::tensor::cross_entropy;
use adjoint::tensor::ops::{loss, matmul, unary};
use adjoint::tensor::rand::rngs::StdRng;
use adjoint::{differentiable, Parameters, Tensor};

pub const BATCH: usize = 100;
pub const SIZES: [usize; 4] = [784, 512, 256, 10];

/// The MLP of DESIGN.md: weights `[in, out]`, biases `[out]`.
#[derive(Parameters, Clone)]
pub struct Mlp {
    pub w1: Tensor,
    pub b1: Tensor,
    pub w2: Tensor,
    pub b2: Tensor,
    pub w3: Tensor,
    pub b3: Tensor,
}

#[differentiable]
pub fn mlp_loss(p: &Mlp, #[constant] x: &Tensor, #[constant] labels: &[usize]) -> f32 {
    let h1 = (x.matmul(&p.w1) + &p.b1).relu();
    let h2 = (h1.matmul(&p.w2) + &p.b2).relu();
    cross_entropy(&(h2.matmul(&p.w3) + &p.b3), labels)
}

pub fn mlp(rng: &mut StdRng) -> Mlp {
    Mlp {
        w1: Tensor::he_normal(784, 512, rng),
        b1: Tensor::zeros(&[512]),
        w2: Tensor::he_normal(512, 256, rng),
        b2: Tensor::zeros(&[256]),
        w3: Tensor::he_normal(256, 10, rng),
        b3: Tensor::zeros(&[10]),
    }
}

/// Loss and gradient by the generated code.
pub fn generated_step(p: &Mlp, x: &Tensor, labels: &[usize]) -> (f32, Mlp) {
    let g = mlp_loss_grad(p, x, labels);
    (g.value, g.p)
}

/// Loss and gradient by the tape.
pub fn tape_step(p: &Mlp, x: &Tensor, labels: &[usize]) -> (f32, Mlp) {
    let graph = Graph::new();
    let x = graph.constant(x.clone());
    let v: Vec<_> = [&p.w1, &p.b1, &p.w2, &p.b2, &p.w3, &p.b3]
        .into_iter()
        .map(|t| graph.leaf(t.clone()))
        .collect();
    let h1 = (&x.matmul(&v[0]) + &v[1]).relu();
    let h2 = (&h1.matmul(&v[2]) + &v[3]).relu();
    let loss = (&h2.matmul(&v[4]) + &v[5]).cross_entropy(labels);
    let g = loss.backward();
    let grad = Mlp {
        w1: g.wrt(&v[0]),
        b1: g.wrt(&v[1]),
        w2: g.wrt(&v[2]),
        b2: g.wrt(&v[3]),
        w3: g.wrt(&v[4]),
        b3: g.wrt(&v[5]),
    };
    (loss.item(), grad)
}

/// Loss and gradient by a hand-written backward over the same kernels.
pub fn hand_step(p: &Mlp, x: &Tensor, labels: &[usize]) -> (f32, Mlp) {
    let h1 = (&x.matmul(&p.w1) + &p.b1).relu();
    let h2 = (&h1.matmul(&p.w2) + &p.b2).relu();
    let logits = &h2.matmul(&p.w3) + &p.b3;
    let value = loss::cross_entropy(&logits, labels);
    let g3 = loss::cross_entropy_backward(&logits, labels, 1.0);
    drop(logits);
    let w3 = matmul::matmul_backward_rhs(&h2, &p.w3, &g3);
    let b3 = g3.sum_axis(0, false);
    let g2 = unary::relu_backward(&h2, &matmul::matmul_backward_lhs(&h2, &p.w3, &g3));
    drop(h2);
    let w2 = matmul::matmul_backward_rhs(&h1, &p.w2, &g2);
    let b2 = g2.sum_axis(0, false);
    let g1 = unary::relu_backward(&h1, &matmul::matmul_backward_lhs(&h1, &p.w2, &g2));
    drop(h1);
    let w1 = matmul::matmul_backward_rhs(x, &p.w1, &g1);
    let b1 = g1.sum_axis(0, false);
    (
        value,
        Mlp {
            w1,
            b1,
            w2,
            b2,
            w3,
            b3,
        },
    )
}

pub type Step = fn(&Mlp, &Tensor, &[usize]) -> (f32, Mlp);

pub const STEPS: [(&str, Step); 3] = [
    ("hand_written", hand_step),
    ("tape", tape_step),
    ("generated", generated_step),
];

pub fn sgd(p: &mut Mlp, grad: &Mlp, lr: f32) {
    p.zip_mut(grad, &mut |t, g| *t -= &(g * lr));
}

pub fn step_flops() -> f64 {
    let forward: usize = (0..3).map(|i| 2 * BATCH * SIZES[i] * SIZES[i + 1]).sum();
    let input_grads: usize = (1..3).map(|i| 2 * BATCH * SIZES[i] * SIZES[i + 1]).sum();
    (2 * forward + input_grads) as f64
}
