//! The CUDA backend against the CPU, on `cuda:0`: generated gradients of an
//! MLP and of a small CNN with batch norm, max pooling and dropout (f32,
//! 1e-4 relative), running statistics and evaluation mode, Adam steps, a
//! short training run, and the device errors users meet. Needs the `cuda` feature and a GPU with its
//! driver, cuBLAS and NVRTC; elsewhere each test prints why it checks
//! nothing (`cargo test --features cuda --test cuda_device -- --nocapture`).
#![cfg(feature = "cuda")]

use adjoint::nn::{self, BatchNorm, Conv2d, Linear, MOMENTUM};
use adjoint::optim::{Adagrad, Adam, AdamW, Optimizer, RmsProp, Sgd};
use adjoint::prelude::*;
use adjoint::tensor::rand::{rngs::StdRng, SeedableRng};
use adjoint::Device;

#[derive(Parameters, Clone)]
struct Mlp {
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
    w3: Tensor,
    b3: Tensor,
}

#[differentiable]
fn mlp_loss(p: &Mlp, #[constant] x: &Tensor, #[constant] labels: &[usize]) -> f32 {
    let h1 = (x.matmul(&p.w1) + &p.b1).relu();
    let h2 = (h1.matmul(&p.w2) + &p.b2).tanh();
    cross_entropy(&(h2.matmul(&p.w3) + &p.b3), labels)
}

fn mlp(rng: &mut StdRng) -> Mlp {
    let layer = |i: usize, o: usize, rng: &mut StdRng| {
        let bound = 1.0 / (i as f32).sqrt();
        (
            Tensor::uniform(&[i, o], -bound, bound, rng),
            Tensor::uniform(&[o], -bound, bound, rng),
        )
    };
    let (w1, b1) = layer(64, 48, rng);
    let (w2, b2) = layer(48, 32, rng);
    let (w3, b3) = layer(32, 10, rng);
    Mlp {
        w1,
        b1,
        w2,
        b2,
        w3,
        b3,
    }
}

/// `cuda:0`, or `None` after printing why it cannot be used.
fn gpu() -> Option<Device> {
    match Device::cuda(0) {
        Ok(device) => Some(device),
        Err(e) => {
            println!("skipped: {e}");
            None
        }
    }
}

/// The largest difference between two tensors' elements relative to the
/// largest magnitude of the first (the max-norm relative error).
fn max_rel_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.shape(), b.shape());
    let (a, b) = (a.to_vec(), b.to_vec());
    let scale = a
        .iter()
        .fold(0.0f32, |m, x| m.max(x.abs()))
        .max(f32::MIN_POSITIVE);
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs() / scale)
        .fold(0.0, f32::max)
}

#[test]
fn mlp_gradients_on_cuda_match_the_cpu() {
    let Some(device) = gpu() else { return };
    let mut rng = StdRng::seed_from_u64(11);
    let p = mlp(&mut rng);
    let x = Tensor::randn(&[32, 64], &mut rng);
    let labels: Vec<usize> = (0..32).map(|i| (i * 7) % 10).collect();
    let cpu = mlp_loss_grad(&p, &x, &labels);
    let mut q = p.clone();
    q.move_to_device(device).expect("the model moves");
    let there = mlp_loss_grad(&q, &x.to_device(device).expect("the batch moves"), &labels);
    assert!(
        (there.value - cpu.value).abs() <= 1e-4 * cpu.value.abs(),
        "loss on {device} {} vs CPU {}",
        there.value,
        cpu.value
    );
    for ((name, c), (_, g)) in cpu.p.named_tensors().iter().zip(there.p.named_tensors()) {
        assert_eq!(g.device(), device, "{name}'s gradient stays on the device");
        let diff = max_rel_diff(c, &g);
        assert!(
            diff <= 1e-4,
            "{name}: gradient on {device} differs by {diff}"
        );
    }
}

#[test]
fn an_adam_step_on_cuda_matches_the_cpu() {
    let Some(device) = gpu() else { return };
    let mut rng = StdRng::seed_from_u64(12);
    let mut cpu = mlp(&mut rng);
    let x = Tensor::randn(&[16, 64], &mut rng);
    let labels: Vec<usize> = (0..16).map(|i| i % 10).collect();
    let mut there = cpu.clone();
    there.move_to_device(device).expect("the model moves");
    let xd = x.to_device(device).expect("the batch moves");
    let (mut a, mut b) = (Adam::new(1e-2), Adam::new(1e-2));
    for _ in 0..3 {
        let g = mlp_loss_grad(&cpu, &x, &labels);
        a.step(&mut cpu, &g.p);
        let g = mlp_loss_grad(&there, &xd, &labels);
        b.step(&mut there, &g.p);
    }
    for ((name, c), (_, d)) in cpu.named_tensors().iter().zip(there.named_tensors()) {
        let diff = max_rel_diff(c, &d);
        assert!(diff <= 1e-4, "{name} after 3 Adam steps differs by {diff}");
    }
}

/// Two steps of `make()`'s optimiser on the CPU and on `device` end with
/// the same parameters.
fn same_steps<O: Optimizer<Mlp>>(device: Device, name: &str, make: impl Fn() -> O) {
    let mut rng = StdRng::seed_from_u64(15);
    let mut cpu = mlp(&mut rng);
    let x = Tensor::randn(&[8, 64], &mut rng);
    let labels: Vec<usize> = (0..8).map(|i| i % 10).collect();
    let mut there = cpu.clone();
    there.move_to_device(device).expect("the model moves");
    let xd = x.to_device(device).expect("the batch moves");
    let (mut a, mut b) = (make(), make());
    for _ in 0..2 {
        let g = mlp_loss_grad(&cpu, &x, &labels);
        a.step(&mut cpu, &g.p);
        let g = mlp_loss_grad(&there, &xd, &labels);
        b.step(&mut there, &g.p);
    }
    for ((param, c), (_, d)) in cpu.named_tensors().iter().zip(there.named_tensors()) {
        let diff = max_rel_diff(c, &d);
        assert!(diff <= 1e-4, "{name}: {param} differs by {diff}");
    }
}

#[test]
fn every_optimiser_steps_on_cuda_as_on_the_cpu() {
    let Some(device) = gpu() else { return };
    same_steps(device, "sgd", || Sgd::new(0.05));
    same_steps(device, "sgd with momentum", || {
        Sgd::new(0.05)
            .with_momentum(0.9)
            .with_nesterov(true)
            .with_weight_decay(1e-3)
    });
    same_steps(device, "rmsprop", || RmsProp::new(1e-3));
    same_steps(device, "adagrad", || Adagrad::new(0.05));
    same_steps(device, "adamw", || AdamW::new(1e-3));
}

#[test]
fn training_on_cuda_lowers_the_loss() {
    let Some(device) = gpu() else { return };
    let mut rng = StdRng::seed_from_u64(13);
    let mut p = mlp(&mut rng);
    p.move_to_device(device).expect("the model moves");
    let x = Tensor::randn(&[64, 64], &mut rng)
        .to_device(device)
        .expect("the batch moves");
    let labels: Vec<usize> = (0..64).map(|i| (i * 3) % 10).collect();
    let mut adam = Adam::new(1e-2);
    let first = mlp_loss_grad(&p, &x, &labels).value;
    let mut last = first;
    for _ in 0..50 {
        let g = mlp_loss_grad(&p, &x, &labels);
        last = g.value;
        adam.step(&mut p, &g.p);
    }
    assert!(last < 0.5 * first, "loss {first} -> {last} after 50 steps");
}

#[derive(Parameters, Clone)]
struct Cnn {
    conv: Conv2d,
    bn: BatchNorm,
    fc: Linear,
}

#[differentiable]
fn cnn_logits(p: &Cnn, #[constant] x: &Tensor, #[constant] seed: u64) -> Tensor {
    let h = nn::batch_norm(&p.bn, &nn::conv2d(&p.conv, x, 1, 1)).relu();
    let h = h.max_pool2d(3, 2, 1).dropout(0.25, seed);
    nn::linear(&p.fc, &h.global_avg_pool())
}

#[differentiable]
fn cnn_loss(p: &Cnn, #[constant] x: &Tensor, #[constant] labels: &[usize]) -> f32 {
    cross_entropy(&cnn_logits(p, x, 7), labels)
}

#[test]
fn cnn_gradients_and_running_statistics_on_cuda_match_the_cpu() {
    let Some(device) = gpu() else { return };
    let mut rng = StdRng::seed_from_u64(14);
    let mut cpu = Cnn {
        conv: Conv2d::new(3, 8, 3, &mut rng),
        bn: BatchNorm::new(8),
        fc: Linear::new(8, 10, &mut rng),
    };
    let x = Tensor::randn(&[6, 3, 9, 9], &mut rng);
    let labels = [1usize, 4, 9, 0, 3, 3];
    let mut there = cpu.clone();
    there.move_to_device(device).expect("the model moves");
    let xd = x.to_device(device).expect("the batch moves");
    let c = nn::train(&mut cpu, MOMENTUM, |p| cnn_loss_grad(p, &x, &labels)).expect("own layers");
    let d =
        nn::train(&mut there, MOMENTUM, |p| cnn_loss_grad(p, &xd, &labels)).expect("own layers");
    assert!(
        (c.value - d.value).abs() <= 1e-4 * c.value.abs(),
        "loss {} vs {}",
        d.value,
        c.value
    );
    for ((name, a), (_, b)) in c.p.named_tensors().iter().zip(d.p.named_tensors()) {
        let diff = max_rel_diff(a, &b);
        assert!(
            diff <= 1e-4,
            "{name}: gradient on {device} differs by {diff}"
        );
    }
    for ((name, a), (_, b)) in cpu.named_state().iter().zip(there.named_state()) {
        let diff = max_rel_diff(a, &b);
        assert!(
            diff <= 1e-4,
            "{name} after a training step differs by {diff}"
        );
    }
    let eval_cpu = nn::evaluate(&cpu, |m| cnn_logits(m, &x, 7));
    let eval_there = nn::evaluate(&there, |m| cnn_logits(m, &xd, 7));
    assert!(max_rel_diff(&eval_cpu, &eval_there) <= 1e-4);
}

#[test]
fn mixing_devices_names_both() {
    let Some(device) = gpu() else { return };
    let a = Tensor::<f32>::ones(&[2, 2])
        .to_device(device)
        .expect("moves");
    let b = Tensor::<f32>::ones(&[2, 2]);
    let message = std::panic::catch_unwind(|| &a + &b)
        .err()
        .and_then(|e| e.downcast_ref::<String>().cloned())
        .expect("mixing devices panics with a message");
    assert!(
        message.contains("cpu") && message.contains(&device.to_string()),
        "{message}"
    );
}

#[test]
fn an_op_without_a_cuda_path_says_so() {
    let Some(device) = gpu() else { return };
    let x = Tensor::<f32>::ones(&[1, 1, 4, 4])
        .to_device(device)
        .expect("moves");
    let message = std::panic::catch_unwind(|| x.max_pool2d(2, 2, 0))
        .err()
        .and_then(|e| e.downcast_ref::<String>().cloned())
        .expect("an op without a CUDA path panics with a message");
    assert!(message.contains("no cuda:0 path"), "{message}");
}
