//! The seeds' Table-1 ConvNet for 3×32×32 images (CIFAR-10): eight
//! conv3×3 (stride 1, padding 1) + BatchNorm + ReLU layers with 3×3/2
//! max pools (padding 1), global average pooling and a linear read-out to
//! 10 classes, f32, cross-entropy:
//!
//! | layer | channels | output |
//! |---|---|---|
//! | conv1, maxpool | 3 → 64 | 64×16×16 |
//! | conv2, maxpool | 64 → 128 | 128×8×8 |
//! | conv3_a, conv3_b, maxpool | 128 → 256 → 256 | 256×4×4 |
//! | conv4_a, conv4_b, maxpool | 256 → 512 → 512 | 512×2×2 |
//! | conv5_a, conv5_b, maxpool | 512 → 512 → 512 | 512×1×1 |
//! | global_avg_pool, linear | 512 → 10 | 10 |
//!
//! The network itself is the `cifar_cnn` example's (`examples/cifar_cnn/
//! models.rs`, written with `adjoint::nn`'s layers); this file adds the same
//! network on the tape ([`tape_step`]) and the step's FLOP count, for
//! `benches/conv.rs`.

#![allow(dead_code)]

#[path = "../../examples/cifar_cnn/models.rs"]
mod models;

use adjoint::params::Parameters;
use adjoint::tape::{Graph, TensorVar};
use adjoint::Tensor;
pub use models::{convnet_logits, convnet_loss_grad, ConvNet};

/// Batch norm's ε, as `nn::batch_norm`.
pub const BN_EPS: f64 = 1e-5;

/// The convolutions' `(in, out)` channels in order, with whether a max pool
/// follows.
pub const CONVS: [(usize, usize, bool); 8] = [
    (3, 64, true),
    (64, 128, true),
    (128, 256, false),
    (256, 256, true),
    (256, 512, false),
    (512, 512, true),
    (512, 512, false),
    (512, 512, true),
];

/// Classes of the read-out.
pub const CLASSES: usize = 10;

/// The forward pass (training-mode batch statistics): logits `[N, 10]`.
pub fn logits(p: &ConvNet, x: &Tensor) -> Tensor {
    convnet_logits(p, x)
}

/// The loss and gradient by the generated code.
pub fn generated_step(p: &ConvNet, x: &Tensor, labels: &[usize]) -> (f32, ConvNet) {
    let g = convnet_loss_grad(p, x, labels);
    (g.value, g.p)
}

/// The loss on the tape; `leaves` are the model's tensors in visiting order.
pub fn tape_loss<'g>(
    graph: &'g Graph<f32>,
    leaves: &[TensorVar<'g, f32>],
    x: &Tensor,
    labels: &[usize],
) -> TensorVar<'g, f32> {
    let mut h = graph.constant(x.clone());
    for (k, &(_, _, pool)) in CONVS.iter().enumerate() {
        let l = &leaves[4 * k..4 * k + 4];
        let z = &h.conv2d(&l[0], 1, 1) + &l[1];
        h = z.batch_norm(&l[2], &l[3], BN_EPS).0.relu();
        if pool {
            h = h.max_pool2d(3, 2, 1);
        }
    }
    let fc = &leaves[32..34];
    (&h.global_avg_pool().matmul(&fc[0]) + &fc[1]).cross_entropy(labels)
}

/// The loss and gradient by the tape.
pub fn tape_step(p: &ConvNet, x: &Tensor, labels: &[usize]) -> (f32, ConvNet) {
    let graph = Graph::new();
    let leaves: Vec<_> = p
        .named_tensors()
        .into_iter()
        .map(|(_, t)| graph.leaf(t))
        .collect();
    let loss = tape_loss(&graph, &leaves, x, labels);
    let g = loss.backward();
    let mut i = 0;
    let grad = p.map(&mut |_| {
        let t = g.wrt(&leaves[i]);
        i += 1;
        t
    });
    (loss.item(), grad)
}

/// Multiply-adds ×2 of one forward + backward at `batch`: every conv and
/// the linear layer forward, their weight gradients, and their input
/// gradients except the first conv's (its input is data).
pub fn step_flops(batch: usize) -> f64 {
    let mut side = 32;
    let mut total = 0.0;
    for (k, &(i, o, pool)) in CONVS.iter().enumerate() {
        let fwd = 2.0 * (batch * o * i * 9 * side * side) as f64;
        total += if k == 0 { 2.0 * fwd } else { 3.0 * fwd };
        if pool {
            side = (side + 2 - 3) / 2 + 1;
        }
    }
    total + 3.0 * 2.0 * (batch * 512 * CLASSES) as f64
}
