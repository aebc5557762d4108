//! Convolutional networks, generated gradient vs tape, in one run:
//!
//! - one training step (forward + backward + Adam, lr 1e-4) of the seeds'
//!   Table-1 ConvNet (`benches/common/convnet.rs`: eight conv3×3, BatchNorm,
//!   ReLU layers, 3×3/2 max pools, global average pooling, linear 512 → 10)
//!   at batch 32 on random 3×32×32 images, with its GFLOP/s (conv and linear
//!   FLOPs) against the gemm peak (512³) measured in the same run, and the
//!   peak heap of one step after warm-up (counting allocator);
//! - forward + backward of the "3-conv VGG-like net" at batch 32: conv3×3
//!   3→64, 64→128, 128→256, each + ReLU + 2×2 max pool, flatten 4096,
//!   linear → 10, softmax cross-entropy (for reading against JAX 173–237 ms,
//!   burn 230–253 ms, candle 535–583 ms on a 2-core Zen 3).
//!
//! Run: `cargo bench --bench conv`

use adjoint::nn::{self, Conv2d, Linear};
use adjoint::optim::{Adam, Optimizer};
use adjoint::tape::Graph;
use adjoint::tensor::cross_entropy;
use adjoint::tensor::rand::{rngs::StdRng, Rng, SeedableRng};
use adjoint::{differentiable, Parameters, Tensor};
use criterion::{black_box, Criterion};
use std::time::Duration;

#[path = "common/convnet.rs"]
mod convnet;
#[path = "common/measure.rs"]
mod measure;
use convnet::*;
use measure::{max_rel_diff, mean_ns, peak_bytes};

const BATCH: usize = 32;
const LR: f64 = 1e-4;

// ---------------------------------------------------------------------------
// The 3-conv VGG-like net.

#[derive(Parameters, Clone)]
struct Vgg3 {
    conv1: Conv2d,
    conv2: Conv2d,
    conv3: Conv2d,
    fc: Linear,
}

#[differentiable]
fn vgg3_loss(p: &Vgg3, #[constant] x: &Tensor, #[constant] labels: &[usize]) -> f32 {
    let h = nn::conv2d(&p.conv1, x, 1, 1).relu().max_pool2d(2, 2, 0);
    let h = nn::conv2d(&p.conv2, &h, 1, 1).relu().max_pool2d(2, 2, 0);
    let h = nn::conv2d(&p.conv3, &h, 1, 1).relu().max_pool2d(2, 2, 0);
    cross_entropy(&nn::linear(&p.fc, &h.flatten()), labels)
}

fn vgg3(rng: &mut StdRng) -> Vgg3 {
    Vgg3 {
        conv1: Conv2d::new(3, 64, 3, rng),
        conv2: Conv2d::new(64, 128, 3, rng),
        conv3: Conv2d::new(128, 256, 3, rng),
        fc: Linear::new(4096, CLASSES, rng),
    }
}

fn vgg3_generated(p: &Vgg3, x: &Tensor, labels: &[usize]) -> (f32, Vgg3) {
    let g = vgg3_loss_grad(p, x, labels);
    (g.value, g.p)
}

fn vgg3_tape(p: &Vgg3, x: &Tensor, labels: &[usize]) -> (f32, Vgg3) {
    let graph = Graph::new();
    let l: Vec<_> = p
        .named_tensors()
        .into_iter()
        .map(|(_, t)| graph.leaf(t))
        .collect();
    let mut h = graph.constant(x.clone());
    for k in 0..3 {
        h = (&h.conv2d(&l[2 * k], 1, 1) + &l[2 * k + 1])
            .relu()
            .max_pool2d(2, 2, 0);
    }
    let loss = (&h.flatten().matmul(&l[6]) + &l[7]).cross_entropy(labels);
    let g = loss.backward();
    let mut i = 0;
    let grad = p.map(&mut |_| {
        let t = g.wrt(&l[i]);
        i += 1;
        t
    });
    (loss.item(), grad)
}

/// FLOPs of one VGG forward + backward (no input gradient for conv1).
fn vgg3_flops() -> f64 {
    let convs = [(3, 64, 32), (64, 128, 16), (128, 256, 8)];
    let mut total = 0.0;
    for (k, (i, o, side)) in convs.into_iter().enumerate() {
        let fwd = 2.0 * (BATCH * o * i * 9 * side * side) as f64;
        total += if k == 0 { 2.0 * fwd } else { 3.0 * fwd };
    }
    total + 3.0 * 2.0 * (BATCH * 4096 * CLASSES) as f64
}

// ---------------------------------------------------------------------------

type ConvStep = fn(&ConvNet, &Tensor, &[usize]) -> (f32, ConvNet);
const CONVNET_STEPS: [(&str, ConvStep); 2] = [("generated", generated_step), ("tape", tape_step)];

type VggStep = fn(&Vgg3, &Tensor, &[usize]) -> (f32, Vgg3);
const VGG_STEPS: [(&str, VggStep); 2] = [("generated", vgg3_generated), ("tape", vgg3_tape)];

/// One training step: value and gradient by `step`, then Adam.
fn train_step(step: ConvStep, p: &mut ConvNet, adam: &mut Adam, x: &Tensor, labels: &[usize]) {
    let (_, grad) = step(p, x, labels);
    adam.step(p, &grad);
}

fn main() {
    let mut rng = StdRng::seed_from_u64(5);
    let net = ConvNet::new(&mut rng);
    let x = Tensor::randn(&[BATCH, 3, 32, 32], &mut rng);
    let labels: Vec<usize> = (0..BATCH).map(|_| rng.random_range(0..CLASSES)).collect();
    let vgg = vgg3(&mut rng);

    // The two agree before anything is timed.
    let (lt, gt) = tape_step(&net, &x, &labels);
    let (lg, gg) = generated_step(&net, &x, &labels);
    let plain = cross_entropy(&logits(&net, &x), &labels[..]);
    assert!(
        (lg - lt).abs() < 1e-4,
        "ConvNet loss: generated {lg} vs tape {lt}"
    );
    assert!(
        (lg - plain).abs() < 1e-4,
        "ConvNet loss: generated {lg} vs plain forward {plain}"
    );
    let convnet_diff = max_rel_diff(&gg, &gt);
    assert!(
        convnet_diff < 1e-3,
        "ConvNet gradients differ by {convnet_diff}"
    );
    let (vl_t, vg_t) = vgg3_tape(&vgg, &x, &labels);
    let (vl_g, vg_g) = vgg3_generated(&vgg, &x, &labels);
    assert!(
        (vl_g - vl_t).abs() < 1e-4,
        "VGG loss: generated {vl_g} vs tape {vl_t}"
    );
    let vgg_diff = max_rel_diff(&vg_g, &vg_t);
    assert!(vgg_diff < 1e-3, "VGG gradients differ by {vgg_diff}");

    // Peak heap of one training step after a warm-up step (Adam's moments
    // already allocated).
    let peaks: Vec<usize> = CONVNET_STEPS
        .iter()
        .map(|&(_, step)| {
            let mut p = net.clone();
            let mut adam = Adam::new(LR);
            train_step(step, &mut p, &mut adam, &x, &labels);
            peak_bytes(|| train_step(step, &mut p, &mut adam, &x, &labels))
        })
        .collect();

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let mut g = c.benchmark_group("convnet_step");
    for (name, step) in CONVNET_STEPS {
        let mut p = net.clone();
        let mut adam = Adam::new(LR);
        g.bench_function(format!("{name}_adam"), |b| {
            b.iter(|| train_step(step, &mut p, &mut adam, black_box(&x), &labels))
        });
    }
    // The gemm peak on this machine: a 512³ product on all cores.
    measure::bench_gemm_peak(&mut g);
    g.finish();
    let mut g = c.benchmark_group("vgg3_fwd_bwd");
    for (name, step) in VGG_STEPS {
        g.bench_function(name, |b| {
            b.iter(|| step(black_box(&vgg), black_box(&x), &labels))
        });
    }
    g.finish();
    c.final_summary();

    let gemm_gflops = measure::gemm_peak_gflops("convnet_step");
    let flops = step_flops(BATCH);
    let (cg, ct) = (
        mean_ns("convnet_step", "generated_adam"),
        mean_ns("convnet_step", "tape_adam"),
    );
    println!(
        "\nTable-1 ConvNet, batch {BATCH}, 3x32x32, f32, forward + backward + Adam (lr {LR}): \
         {:.2} GFLOP per step (conv + linear); gemm peak (512³) in this run {:.0} GFLOP/s; \
         gradients generated vs tape max rel diff {convnet_diff:.1e}",
        flops / 1e9,
        gemm_gflops
    );
    println!("| ConvNet step | time | GFLOP/s (% of gemm peak) | peak heap of a step |");
    println!("|---|---|---|---|");
    for ((name, t), peak) in [("generated", cg), ("tape", ct)].into_iter().zip(&peaks) {
        println!(
            "| {name} | {:.1} ms | {:.1} ({:.0}%) | {:.1} MB |",
            t / 1e6,
            flops / t,
            100.0 * flops / t / gemm_gflops,
            *peak as f64 / 1e6
        );
    }
    println!(
        "ConvNet: tape / generated {:.2}x time, peak heap generated / tape {:.2}x",
        ct / cg,
        peaks[0] as f64 / peaks[1] as f64
    );
    let (vg, vt) = (
        mean_ns("vgg3_fwd_bwd", "generated"),
        mean_ns("vgg3_fwd_bwd", "tape"),
    );
    let vflops = vgg3_flops();
    println!(
        "\n3-conv VGG-like net, batch {BATCH}, f32, forward + backward ({:.2} GFLOP): \
         generated {:.1} ms ({:.1} GFLOP/s), tape {:.1} ms ({:.1} GFLOP/s), tape / generated {:.2}x; \
         gradients max rel diff {vgg_diff:.1e}",
        vflops / 1e9,
        vg / 1e6,
        vflops / vg,
        vt / 1e6,
        vflops / vt,
        vt / vg
    );
    println!("(reference, 2-core Zen 3: JAX 173–237 ms, burn 230–253 ms, candle 535–583 ms)");
}
