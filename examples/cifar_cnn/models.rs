//! The seeds' two CIFAR-10 networks written with `adjoint::nn` layers:
//!
//! - the ConvNet of sheet 003's Table 1: conv3×3 (s1, p1) + BatchNorm +
//!   ReLU blocks 3→64, 64→128, 128→256→256, 256→512→512, 512→512→512, a
//!   3×3/2 max pool (padding 1) after each stage, global average pooling,
//!   linear 512→10;
//! - VGG-16 (sheet 000, configuration D): stages of 2, 2, 3, 3, 3 conv3×3
//!   blocks (64, 128, 256, 512, 512 channels) each followed by a 2×2/2 max
//!   pool, then fully connected 512-512-10; BatchNorm after every conv and
//!   Dropout 0.5 after the first two fully connected layers when asked. The
//!   conv stack is a loop over a `Vec` of stages of blocks.

use adjoint::nn::{self, BatchNorm, Conv2d, Linear};
use adjoint::prelude::*;
use adjoint::tensor::rand::Rng;

/// A 3×3 convolution followed by batch normalisation.
#[derive(Parameters, Clone)]
pub struct ConvBn {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

impl ConvBn {
    pub fn new<R: Rng + ?Sized>(inputs: usize, outputs: usize, rng: &mut R) -> Self {
        ConvBn {
            conv: Conv2d::new(inputs, outputs, 3, rng),
            bn: BatchNorm::new(outputs),
        }
    }
}

/// conv3×3 (stride 1, padding 1), batch norm when `bn`, ReLU.
#[differentiable]
pub fn conv_block(b: &ConvBn, x: &Tensor, #[constant] bn: bool) -> Tensor {
    let h = nn::conv2d(&b.conv, x, 1, 1);
    if bn {
        nn::batch_norm(&b.bn, &h).relu()
    } else {
        h.relu()
    }
}

/// The Table-1 ConvNet.
#[derive(Parameters, Clone)]
pub struct ConvNet {
    pub conv1: ConvBn,
    pub conv2: ConvBn,
    pub conv3_a: ConvBn,
    pub conv3_b: ConvBn,
    pub conv4_a: ConvBn,
    pub conv4_b: ConvBn,
    pub conv5_a: ConvBn,
    pub conv5_b: ConvBn,
    pub fc: Linear,
}

impl ConvNet {
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        ConvNet {
            conv1: ConvBn::new(3, 64, rng),
            conv2: ConvBn::new(64, 128, rng),
            conv3_a: ConvBn::new(128, 256, rng),
            conv3_b: ConvBn::new(256, 256, rng),
            conv4_a: ConvBn::new(256, 512, rng),
            conv4_b: ConvBn::new(512, 512, rng),
            conv5_a: ConvBn::new(512, 512, rng),
            conv5_b: ConvBn::new(512, 512, rng),
            fc: Linear::new(512, 10, rng),
        }
    }
}

/// The ConvNet's class scores `[N, 10]` for images `[N, 3, 32, 32]`.
#[differentiable]
pub fn convnet_logits(p: &ConvNet, #[constant] x: &Tensor) -> Tensor {
    let h = conv_block(&p.conv1, x, true).max_pool2d(3, 2, 1);
    let h = conv_block(&p.conv2, &h, true).max_pool2d(3, 2, 1);
    let h = conv_block(&p.conv3_a, &h, true);
    let h = conv_block(&p.conv3_b, &h, true).max_pool2d(3, 2, 1);
    let h = conv_block(&p.conv4_a, &h, true);
    let h = conv_block(&p.conv4_b, &h, true).max_pool2d(3, 2, 1);
    let h = conv_block(&p.conv5_a, &h, true);
    let h = conv_block(&p.conv5_b, &h, true).max_pool2d(3, 2, 1);
    nn::linear(&p.fc, &h.global_avg_pool())
}

/// The ConvNet's mean cross-entropy on a batch.
#[differentiable]
pub fn convnet_loss(p: &ConvNet, #[constant] x: &Tensor, #[constant] labels: &[usize]) -> f32 {
    cross_entropy(&convnet_logits(p, x), labels)
}

/// One VGG stage: its conv blocks (a 2×2/2 max pool follows).
#[derive(Parameters, Clone)]
pub struct Stage {
    pub blocks: Vec<ConvBn>,
}

/// VGG-16, configuration D.
#[derive(Parameters, Clone)]
pub struct Vgg16 {
    pub stages: Vec<Stage>,
    pub fc1: Linear,
    pub fc2: Linear,
    pub fc3: Linear,
}

/// Configuration D: the output channels of each stage's blocks.
pub const VGG16_STAGES: [&[usize]; 5] = [
    &[64, 64],
    &[128, 128],
    &[256, 256, 256],
    &[512, 512, 512],
    &[512, 512, 512],
];

impl Vgg16 {
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut inputs = 3;
        let stages = VGG16_STAGES
            .iter()
            .map(|widths| Stage {
                blocks: widths
                    .iter()
                    .map(|&w| {
                        let block = ConvBn::new(inputs, w, rng);
                        inputs = w;
                        block
                    })
                    .collect(),
            })
            .collect();
        Vgg16 {
            stages,
            fc1: Linear::new(512, 512, rng),
            fc2: Linear::new(512, 512, rng),
            fc3: Linear::new(512, 10, rng),
        }
    }
}

/// A fully connected layer, ReLU, and dropout (p = 0.5, mask from `seed`)
/// when `dropout`.
#[differentiable]
pub fn fc_block(
    l: &Linear,
    x: &Tensor,
    #[constant] dropout: bool,
    #[constant] seed: u64,
) -> Tensor {
    let h = nn::linear(l, x).relu();
    if dropout {
        h.dropout(0.5, seed)
    } else {
        h * 1.0
    }
}

/// VGG-16's class scores; `bn` puts batch norm after every conv, `dropout`
/// drops half of the first two fully connected layers' outputs (masks
/// from `seed` and `seed + 1`).
#[differentiable]
pub fn vgg16_logits(
    p: &Vgg16,
    #[constant] x: &Tensor,
    #[constant] bn: bool,
    #[constant] dropout: bool,
    #[constant] seed: u64,
) -> Tensor {
    let mut h = x.clone();
    for stage in &p.stages {
        for block in &stage.blocks {
            h = conv_block(block, &h, bn);
        }
        h = h.max_pool2d(2, 2, 0);
    }
    let h = fc_block(&p.fc1, &h.flatten(), dropout, seed);
    let h = fc_block(&p.fc2, &h, dropout, seed + 1);
    nn::linear(&p.fc3, &h)
}

/// VGG-16's mean cross-entropy on a batch.
#[differentiable]
pub fn vgg16_loss(
    p: &Vgg16,
    #[constant] x: &Tensor,
    #[constant] labels: &[usize],
    #[constant] bn: bool,
    #[constant] dropout: bool,
    #[constant] seed: u64,
) -> f32 {
    cross_entropy(&vgg16_logits(p, x, bn, dropout, seed), labels)
}
