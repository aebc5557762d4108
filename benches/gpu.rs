//! Training steps on `cuda:0`, generated gradient vs tape, in one run: the
//! seed's MLP (784-512-256-10, batch 100, f32, forward + backward + Adam)
//! and the Table-1 ConvNet at batch 256 (forward + backward + Adam), each
//! checked against the other before timing. Needs the `cuda` feature and a
//! GPU; elsewhere it prints why it measures nothing.
//!
//! Run: `cargo bench --features cuda --bench gpu` (or the binary
//! `scripts/gpu-check.sh build` carries).

#[path = "common/convnet.rs"]
mod convnet;
#[path = "common/mlp_step.rs"]
#[allow(dead_code)]
mod mlp_step;

use adjoint::optim::{Adam, Optimizer};
use adjoint::params::Parameters;
use adjoint::tensor::rand::{rngs::StdRng, Rng, SeedableRng};
use adjoint::{Device, Tensor};
use std::time::Instant;

/// Median milliseconds of `runs` calls of `f` after `warm` unmeasured ones.
fn median_ms(warm: usize, runs: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..warm {
        f();
    }
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

/// The median step time of `step` and Adam on a model moved to `device`.
fn step_ms<M: Parameters<Elem = f32> + Clone>(
    model: &M,
    device: Device,
    x: &Tensor,
    labels: &[usize],
    step: fn(&M, &Tensor, &[usize]) -> (f32, M),
) -> f64 {
    let mut p = model.clone();
    p.move_to_device(device).expect("the model moves");
    let x = x.to_device(device).expect("the batch moves");
    let mut adam = Adam::new(1e-4);
    median_ms(3, 15, || {
        let (_, g) = step(&p, &x, labels);
        adam.step(&mut p, &g);
    })
}

/// Both steps' losses agree on `device`.
fn agree<M: Parameters<Elem = f32> + Clone>(
    name: &str,
    model: &M,
    device: Device,
    x: &Tensor,
    labels: &[usize],
    generated: fn(&M, &Tensor, &[usize]) -> (f32, M),
    tape: fn(&M, &Tensor, &[usize]) -> (f32, M),
) {
    let mut p = model.clone();
    p.move_to_device(device).expect("the model moves");
    let x = x.to_device(device).expect("the batch moves");
    let (lg, _) = generated(&p, &x, labels);
    let (lt, _) = tape(&p, &x, labels);
    assert!(
        (lg - lt).abs() <= 1e-4 * lt.abs().max(1.0),
        "{name} loss on {device}: generated {lg} vs tape {lt}"
    );
}

fn main() {
    let device = match Device::cuda(0) {
        Ok(device) => device,
        Err(e) => {
            println!("skipped: {e}");
            return;
        }
    };
    let mut rng = StdRng::seed_from_u64(9);
    let mlp = mlp_step::mlp(&mut rng);
    let x = Tensor::uniform(&[mlp_step::BATCH, 784], 0.0, 1.0, &mut rng);
    let labels: Vec<usize> = (0..mlp_step::BATCH)
        .map(|_| rng.random_range(0..10))
        .collect();
    agree(
        "MLP",
        &mlp,
        device,
        &x,
        &labels,
        mlp_step::generated_step,
        mlp_step::tape_step,
    );
    let mg = step_ms(&mlp, device, &x, &labels, mlp_step::generated_step);
    let mt = step_ms(&mlp, device, &x, &labels, mlp_step::tape_step);

    let batch = 256;
    let net = convnet::ConvNet::new(&mut rng);
    let images = Tensor::randn(&[batch, 3, 32, 32], &mut rng);
    let classes: Vec<usize> = (0..batch).map(|_| rng.random_range(0..10)).collect();
    agree(
        "ConvNet",
        &net,
        device,
        &images,
        &classes,
        convnet::generated_step,
        convnet::tape_step,
    );
    let cg = step_ms(&net, device, &images, &classes, convnet::generated_step);
    let ct = step_ms(&net, device, &images, &classes, convnet::tape_step);

    println!("\nsteps on {device} (median of 15 after 3 warm-up), f32, forward + backward + Adam:");
    println!("| step | generated | tape | tape / generated |");
    println!("|---|---|---|---|");
    println!(
        "| MLP 784-512-256-10, batch 100 | {mg:.3} ms | {mt:.3} ms | {:.2}x |",
        mt / mg
    );
    println!(
        "| Table-1 ConvNet, batch {batch} | {cg:.2} ms | {ct:.2} ms | {:.2}x |",
        ct / cg
    );
}
