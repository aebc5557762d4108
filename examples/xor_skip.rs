//! The seed's skip-connection exercise and XOR experiment.
//!
//! Part 1, the pen-and-paper task: the scalar net `u0 = relu(w0 x)`,
//! `u1 = relu(w1 u0)`, `ŷ = w2 u1 + ws u0` with the L1 loss `|y − ŷ|` at
//! `(x, y) = (1, −3)`, all weights 0.5: the gradients of all four weights and
//! one gradient-descent step with learning rate 1.
//!
//! Part 2, the XOR experiment: a 2-8-2 net with a skip connection from the
//! input to the output units, trained with cross-entropy over two classes by
//! gradient descent on generated gradients.
//!
//! Run: `cargo run --release --example xor_skip` (`--help` for options).

use adjoint::optim::{Optimizer, Sgd};
use adjoint::prelude::*;
use adjoint::tensor::rand::{rngs::StdRng, SeedableRng};
use clap::Parser;

/// Command-line options.
#[derive(Parser)]
#[command(about = "The seed's skip-connection net: the worked example and XOR")]
struct Args {
    /// Gradient steps on XOR.
    #[arg(long, default_value_t = 2000)]
    epochs: usize,
    /// Learning rate of the XOR run.
    #[arg(long, default_value_t = 0.5)]
    lr: f64,
    /// Seed of the XOR net's initialisation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// The pen-and-paper net: three units, a skip connection from unit 0 to
/// unit 2, no biases, L1 loss.
#[differentiable]
fn skip_l1(w0: f64, w1: f64, w2: f64, ws: f64, #[constant] x: f64, #[constant] y: f64) -> f64 {
    let u0 = (w0 * x).relu();
    let u1 = (w1 * u0).relu();
    (y - (w2 * u1 + ws * u0)).abs()
}

/// The XOR net: a hidden layer, and output units that also see the input.
#[derive(Parameters, Clone)]
struct XorNet {
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    ws: Tensor,
    b2: Tensor,
}

#[differentiable]
fn xor_loss(p: &XorNet, #[constant] x: &Tensor, #[constant] labels: &[usize]) -> f32 {
    let h = (x.matmul(&p.w1) + &p.b1).tanh();
    let logits = h.matmul(&p.w2) + x.matmul(&p.ws) + &p.b2;
    cross_entropy(&logits, labels)
}

fn main() {
    let args = Args::parse();
    let (x, y) = (1.0, -3.0);
    let g = skip_l1_grad(0.5, 0.5, 0.5, 0.5, x, y);
    println!("pen and paper: (x, y) = (1, -3), w0 = w1 = w2 = ws = 0.5");
    println!("  loss {:.4}", g.value);
    println!(
        "  ∂L/∂w0 = {:.4}  ∂L/∂w1 = {:.4}  ∂L/∂w2 = {:.4}  ∂L/∂ws = {:.4}",
        g.w0, g.w1, g.w2, g.ws
    );
    let w = [0.5 - g.w0, 0.5 - g.w1, 0.5 - g.w2, 0.5 - g.ws];
    println!(
        "  after one step (learning rate 1): w0 = {:.4}, w1 = {:.4}, w2 = {:.4}, ws = {:.4}, loss {:.4}",
        w[0],
        w[1],
        w[2],
        w[3],
        skip_l1(w[0], w[1], w[2], w[3], x, y)
    );

    let inputs =
        Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], &[4, 2]).expect("4x2");
    let labels = [0, 1, 1, 0];
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut net = XorNet {
        w1: Tensor::randn(&[2, 8], &mut rng),
        b1: Tensor::zeros(&[8]),
        w2: Tensor::randn(&[8, 2], &mut rng),
        ws: Tensor::randn(&[2, 2], &mut rng),
        b2: Tensor::zeros(&[2]),
    };
    let mut sgd = Sgd::new(args.lr);
    println!("\nXOR, 2-8-2 net with a skip connection, cross-entropy, gradient descent:");
    for step in 1..=args.epochs {
        let g = xor_loss_grad(&net, &inputs, &labels);
        if step == 1 || step % (args.epochs / 5).max(1) == 0 {
            println!("  step {step:>5}: loss {:.5}", g.value);
        }
        sgd.step(&mut net, &g.p);
    }
    let h = (&inputs.matmul(&net.w1) + &net.b1).tanh();
    let probs = (&(&h.matmul(&net.w2) + &inputs.matmul(&net.ws)) + &net.b2).softmax(1);
    let predicted = probs.argmax_axis(1);
    for (i, (p, l)) in predicted.iter().zip(labels).enumerate() {
        let row = &probs.data()[2 * i..2 * i + 2];
        println!(
            "  {:?} → class {p} (p = {:.3}, {:.3}), label {l}",
            &inputs.data()[2 * i..2 * i + 2],
            row[0],
            row[1]
        );
    }
    let correct = predicted
        .iter()
        .zip(labels)
        .filter(|(p, l)| **p == *l)
        .count();
    println!("test accuracy: {:.4}", correct as f64 / 4.0);
}
