//! Issue 13: a run that crashes inside an epoch and is resumed from its
//! last checkpoint ends with the parameters of the uninterrupted run, bit
//! for bit, for SGD with momentum and for Adam (same seed, same process,
//! so the same thread count).

use std::convert::Infallible;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use adjoint::data::Batches;
use adjoint::optim::schedule::cosine;
use adjoint::optim::{Adam, Optimizer, Sgd};
use adjoint::prelude::*;
use adjoint::tensor::rand::{rngs::StdRng, SeedableRng};
use adjoint::train::{load_training, Position, Trainer};

/// A small MLP: 6 inputs, 16 hidden ReLU units, 3 classes.
#[derive(Parameters, Clone)]
struct Mlp {
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
}

impl Mlp {
    fn new(seed: u64) -> Mlp {
        let mut rng = StdRng::seed_from_u64(seed);
        Mlp {
            w1: Tensor::he_normal(6, 16, &mut rng),
            b1: Tensor::zeros(&[16]),
            w2: Tensor::he_normal(16, 3, &mut rng),
            b2: Tensor::zeros(&[3]),
        }
    }
}

#[differentiable]
fn loss(p: &Mlp, #[constant] x: &Tensor, #[constant] labels: &[usize]) -> f32 {
    let h = (x.matmul(&p.w1) + &p.b1).relu();
    cross_entropy(&(h.matmul(&p.w2) + &p.b2), labels)
}

fn gradient(p: &Mlp, x: &Tensor, labels: &[usize]) -> (f32, Mlp) {
    let g = loss_grad(p, x, labels);
    (g.value, g.p)
}

/// 60 random examples of 3 classes, in batches of 7: 9 batches an epoch
/// (the last of 4), shuffled by `seed`.
fn batches(seed: u64) -> Batches {
    let mut rng = StdRng::seed_from_u64(99);
    let images = Tensor::randn(&[60, 6], &mut rng);
    let labels = (0..60).map(|i| (i * 7 + i / 5) % 3).collect();
    Batches::new(images, labels, 7, seed).expect("valid batches")
}

const EPOCHS: usize = 3;
const PER_EPOCH: usize = 9;

/// Three epochs with a cosine schedule, a checkpoint every 4 steps.
fn trainer(path: &Path, lr: f64) -> Trainer {
    Trainer::new(EPOCHS)
        .checkpoint(path, 4)
        .schedule(move |epoch| cosine(lr, 0.0, epoch, EPOCHS))
        .progress_bar(false)
}

/// The bits of every parameter.
fn bits(model: &Mlp) -> Vec<u32> {
    model
        .named_tensors()
        .iter()
        .flat_map(|(_, t)| t.data().iter().map(|x| x.to_bits()).collect::<Vec<_>>())
        .collect()
}

/// What a run ends with: the parameters' bits and each epoch's mean loss.
struct Finished {
    bits: Vec<u32>,
    losses: Vec<(usize, f64)>,
}

/// Runs `trainer` from `start` and returns what it ends with.
fn finish<O: Optimizer<Mlp>>(
    trainer: &Trainer,
    model: &mut Mlp,
    opt: &mut O,
    data: &mut Batches,
    start: Position,
) -> Finished {
    let mut losses = Vec::new();
    trainer
        .run(
            model,
            opt,
            data,
            start,
            |m, x, l| gradient(m, x, l),
            |_, end| {
                losses.push((end.epoch, end.train_loss));
                Ok::<(), Infallible>(())
            },
        )
        .expect("the run finishes");
    Finished {
        bits: bits(model),
        losses,
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "adjoint-exact-resume-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Trains uninterrupted; then trains again, crashing (a panic out of the
/// gradient) just before step `crash`, resumes from the last checkpoint
/// into a model, optimiser and data iterator built with other seeds, and
/// finishes. Returns the uninterrupted and the resumed parameters, and the
/// parameters of a resume whose optimiser state was thrown away.
fn crash_and_resume<O: Optimizer<Mlp>>(name: &str, lr: f64, make: impl Fn() -> O, crash: usize) {
    let dir = scratch(name);
    let reference = finish(
        &trainer(&dir.join("reference.ckpt"), lr),
        &mut Mlp::new(1),
        &mut make(),
        &mut batches(5),
        Position::start(),
    );
    assert_eq!(reference.losses.len(), EPOCHS);

    let path = dir.join("run.ckpt");
    let run = trainer(&path, lr);
    let mut calls = 0;
    let mut first_losses = Vec::new();
    let crashed = catch_unwind(AssertUnwindSafe(|| {
        run.run(
            &mut Mlp::new(1),
            &mut make(),
            &mut batches(5),
            Position::start(),
            |p, x, l| {
                calls += 1;
                if calls == crash {
                    panic!("simulated crash before step {crash}");
                }
                gradient(p, x, l)
            },
            |_, end| {
                first_losses.push((end.epoch, end.train_loss));
                Ok::<(), Infallible>(())
            },
        )
    }));
    assert!(crashed.is_err(), "{name}: the run crashed");

    // The resumed run writes its own checkpoints to the same file; keep the
    // one the crash left for the control below.
    let at_crash = dir.join("at_crash.ckpt");
    std::fs::copy(&path, &at_crash).expect("copy the checkpoint");

    // The last checkpoint is the last multiple of 4 before the crash.
    let saved = (crash - 1) / 4 * 4;
    let (mut model, mut opt, mut data) = (Mlp::new(2), make(), batches(6));
    let start = load_training(&path, &mut model, &mut opt, &mut data).expect("resumes");
    assert_eq!(
        (start.epoch, start.step),
        (saved / PER_EPOCH, saved % PER_EPOCH),
        "{name}: resumed at step {saved}"
    );
    assert!(start.step > 0, "{name}: the checkpoint is inside an epoch");
    let resumed = finish(&run, &mut model, &mut opt, &mut data, start);

    assert_eq!(
        resumed.bits, reference.bits,
        "{name}: the resumed run ends with the uninterrupted run's parameters"
    );
    let losses = [first_losses, resumed.losses].concat();
    assert_eq!(
        losses, reference.losses,
        "{name}: every epoch's mean loss is the same"
    );

    // The same resume without the optimiser state (what `--resume` did
    // before) ends elsewhere, so the comparison above can fail.
    let (mut model, mut opt, mut data) = (Mlp::new(2), make(), batches(6));
    let start = load_training(&at_crash, &mut model, &mut opt, &mut data).expect("resumes");
    assert_eq!(start.global_step(PER_EPOCH), saved);
    let forgetful = finish(&run, &mut model, &mut make(), &mut data, start);
    assert_ne!(
        forgetful.bits, reference.bits,
        "{name}: optimiser state matters"
    );
}

#[test]
fn sgd_with_momentum_resumes_bit_for_bit() {
    // Step 15 is the 6th of the 9 steps of epoch 2; the last checkpoint
    // is after step 12 (epoch 2, step 3).
    crash_and_resume("sgd", 0.1, || Sgd::new(0.1).with_momentum(0.9), 15);
}

#[test]
fn adam_resumes_bit_for_bit() {
    // Step 24 is the 6th of epoch 3; the last checkpoint is after step 20
    // (epoch 3, step 2).
    crash_and_resume("adam", 0.01, || Adam::new(0.01), 24);
}
