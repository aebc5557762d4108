//! Batch norm's running statistics live in the model (`nn::BatchNorm`'s
//! buffers), so a training checkpoint keeps them: a CNN run that crashes
//! inside an epoch and resumes from its last checkpoint ends with the
//! uninterrupted run's parameters *and* running statistics, bit for bit,
//! and its evaluation-mode logits are the same.

use std::convert::Infallible;
use std::panic::{catch_unwind, AssertUnwindSafe};

use adjoint::data::Batches;
use adjoint::nn::{self, BatchNorm, Conv2d, Linear, MOMENTUM};
use adjoint::optim::Adam;
use adjoint::prelude::*;
use adjoint::tensor::rand::{rngs::StdRng, SeedableRng};
use adjoint::train::{load_training, Position, Trainer};

#[derive(Parameters, Clone)]
struct Net {
    conv: Conv2d,
    bn: BatchNorm,
    fc: Linear,
}

impl Net {
    fn new(seed: u64) -> Net {
        let mut rng = StdRng::seed_from_u64(seed);
        Net {
            conv: Conv2d::new(2, 3, 3, &mut rng),
            bn: BatchNorm::new(3),
            fc: Linear::new(3, 3, &mut rng),
        }
    }
}

#[differentiable]
fn logits(p: &Net, #[constant] x: &Tensor) -> Tensor {
    let h = nn::batch_norm(&p.bn, &nn::conv2d(&p.conv, x, 1, 1)).relu();
    nn::linear(&p.fc, &h.global_avg_pool())
}

#[differentiable]
fn loss(p: &Net, #[constant] x: &Tensor, #[constant] labels: &[usize]) -> f32 {
    cross_entropy(&logits(p, x), labels)
}

/// One step: the gradient, with the step's batch statistics folded into
/// the model's running estimates.
fn step(p: &mut Net, x: &Tensor, labels: &[usize]) -> (f32, Net) {
    let g = nn::train(p, MOMENTUM, |p| loss_grad(p, x, labels)).expect("the model's own layers");
    (g.value, g.p)
}

/// 40 random 2×4×4 images of 3 classes, batches of 6 (7 per epoch).
fn batches(seed: u64) -> Batches {
    let mut rng = StdRng::seed_from_u64(77);
    let images = Tensor::randn(&[40, 2, 4, 4], &mut rng);
    let labels = (0..40).map(|i| (i * 5 + i / 3) % 3).collect();
    Batches::new(images, labels, 6, seed).expect("valid batches")
}

/// Every tensor a checkpoint keeps, buffers included, as bits.
fn bits(model: &Net) -> Vec<u32> {
    model
        .named_state()
        .iter()
        .flat_map(|(_, t)| t.data().iter().map(|x| x.to_bits()).collect::<Vec<_>>())
        .collect()
}

#[test]
fn a_resumed_cnn_run_keeps_its_running_statistics_bit_for_bit() {
    let dir = std::env::temp_dir().join(format!("adjoint-bn-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let trainer = |name: &str| {
        Trainer::new(2)
            .checkpoint(dir.join(name), 3)
            .progress_bar(false)
    };
    let quiet = |_: &Net, _: &adjoint::train::EpochEnd| Ok::<(), Infallible>(());

    let mut reference = Net::new(1);
    trainer("reference.ckpt")
        .run(
            &mut reference,
            &mut Adam::new(0.01),
            &mut batches(5),
            Position::start(),
            step,
            quiet,
        )
        .expect("the run finishes");
    assert_ne!(
        reference.bn.running_mean.0.to_vec(),
        vec![0.0; 3],
        "training moved the running mean"
    );

    // The same run, crashing before its 10th step (the last checkpoint is
    // after step 9: epoch 2, step 2).
    let run = trainer("run.ckpt");
    let mut calls = 0;
    let crashed = catch_unwind(AssertUnwindSafe(|| {
        run.run(
            &mut Net::new(1),
            &mut Adam::new(0.01),
            &mut batches(5),
            Position::start(),
            |p, x, l| {
                calls += 1;
                if calls == 10 {
                    panic!("simulated crash before step 10");
                }
                step(p, x, l)
            },
            quiet,
        )
    }));
    assert!(crashed.is_err());

    let (mut model, mut adam, mut data) = (Net::new(2), Adam::new(0.01), batches(6));
    let start =
        load_training(dir.join("run.ckpt"), &mut model, &mut adam, &mut data).expect("resumes");
    assert_eq!((start.epoch, start.step), (1, 2));
    run.run(&mut model, &mut adam, &mut data, start, step, quiet)
        .expect("the resumed run finishes");
    assert_eq!(
        bits(&model),
        bits(&reference),
        "parameters and running statistics equal the uninterrupted run's"
    );
    let x = Tensor::randn(&[5, 2, 4, 4], &mut StdRng::seed_from_u64(3));
    assert_eq!(
        nn::evaluate(&model, |m| logits(m, &x)).to_vec(),
        nn::evaluate(&reference, |m| logits(m, &x)).to_vec()
    );

    // Control: the same resume with the running statistics reset ends with
    // other statistics, so the comparison above can fail.
    let (mut scratch, mut adam, mut data) = (Net::new(2), Adam::new(0.01), batches(6));
    let start =
        load_training(dir.join("run.ckpt"), &mut scratch, &mut adam, &mut data).expect("resumes");
    scratch.bn.running_mean = adjoint::params::Buffer(Tensor::zeros(&[3]));
    run.run(&mut scratch, &mut adam, &mut data, start, step, quiet)
        .expect("finishes");
    assert_ne!(bits(&scratch), bits(&reference));
    let _ = std::fs::remove_dir_all(&dir);
}
