//! Convolutional networks as users write them: layer functions over
//! sub-models, a conv stack looped over a `Vec` of blocks, dropout seeded by
//! a `#[constant]` argument, and a hand-written batch norm
//! (`#[custom_adjoint]`) in place of the built-in one. Each network's
//! gradient is checked three ways in f64: against central differences
//! (`gradcheck`), elementwise against the tensor tape, and against forward
//! mode by the dot-product identity ⟨J v, 1⟩ = ⟨v, ∇f⟩. One f32 test uses
//! `adjoint::nn`'s layers directly and compares with the tape.

use adjoint::check::{gradcheck, Tolerance};
use adjoint::prelude::*;
use adjoint::tape::{Graph, TensorVar};
use adjoint::tensor::rand::{rngs::StdRng, SeedableRng};

const EPS: f64 = 1e-5;

// ---------------------------------------------------------------------------
// f64 layers, mirroring `adjoint::nn` (whose layers hold f32 tensors).

/// A 2-D convolution: weights `[out, in, k, k]`, bias `[out, 1, 1]`.
#[derive(Parameters, Clone)]
struct Conv {
    w: Tensor<f64>,
    b: Tensor<f64>,
}

/// Batch normalisation's scale and shift, `[C]` each.
#[derive(Parameters, Clone)]
struct Bn {
    gamma: Tensor<f64>,
    beta: Tensor<f64>,
}

/// A fully connected layer: weights `[in, out]`, bias `[out]`.
#[derive(Parameters, Clone)]
struct Dense {
    w: Tensor<f64>,
    b: Tensor<f64>,
}

/// conv3x3 + batch norm (+ ReLU in `conv_bn_relu`).
#[derive(Parameters, Clone)]
struct Block {
    conv: Conv,
    bn: Bn,
}

#[differentiable]
fn conv2d(
    l: &Conv,
    x: &Tensor<f64>,
    #[constant] stride: usize,
    #[constant] padding: usize,
) -> Tensor<f64> {
    x.conv2d(&l.w, stride, padding) + &l.b
}

#[differentiable]
fn batch_norm(l: &Bn, x: &Tensor<f64>) -> Tensor<f64> {
    x.batch_norm(&l.gamma, &l.beta, 1e-5)
}

#[differentiable]
fn linear(l: &Dense, x: &Tensor<f64>) -> Tensor<f64> {
    x.matmul(&l.w) + &l.b
}

#[differentiable]
fn conv_bn_relu(b: &Block, x: &Tensor<f64>) -> Tensor<f64> {
    batch_norm(&b.bn, &conv2d(&b.conv, x, 1, 1)).relu()
}

fn conv(rng: &mut StdRng, inputs: usize, outputs: usize) -> Conv {
    let scale = 1.0 / ((inputs * 9) as f64).sqrt();
    Conv {
        w: &Tensor::randn(&[outputs, inputs, 3, 3], rng) * scale,
        b: &Tensor::randn(&[outputs, 1, 1], rng) * 0.1,
    }
}

fn bn(rng: &mut StdRng, channels: usize) -> Bn {
    Bn {
        gamma: &(&Tensor::randn(&[channels], rng) * 0.2) + 1.0,
        beta: &Tensor::randn(&[channels], rng) * 0.1,
    }
}

fn block(rng: &mut StdRng, inputs: usize, outputs: usize) -> Block {
    Block {
        conv: conv(rng, inputs, outputs),
        bn: bn(rng, outputs),
    }
}

fn dense(rng: &mut StdRng, inputs: usize, outputs: usize) -> Dense {
    Dense {
        w: &Tensor::randn(&[inputs, outputs], rng) * (1.0 / (inputs as f64).sqrt()),
        b: &Tensor::randn(&[outputs], rng) * 0.1,
    }
}

// ---------------------------------------------------------------------------
// The three-way check, for any model.

/// The model's tensors in visiting order.
fn tensors<P: Parameters<Elem = f64>>(p: &P) -> Vec<Tensor<f64>> {
    p.named_tensors().into_iter().map(|(_, t)| t).collect()
}

/// `like` with its tensors replaced by `t` (in visiting order).
fn rebuilt<P: Parameters<Elem = f64> + Clone>(like: &P, t: &[Tensor<f64>]) -> P {
    let mut out = like.clone();
    let mut i = 0;
    out.visit_mut(&mut String::new(), &mut |_, x| {
        *x = t[i].clone();
        i += 1;
    });
    assert_eq!(i, t.len());
    out
}

fn dot<P: Parameters<Elem = f64>>(a: &P, b: &P) -> f64 {
    tensors(a)
        .iter()
        .zip(tensors(b))
        .map(|(x, y)| {
            x.data()
                .iter()
                .zip(y.data())
                .map(|(u, v)| u * v)
                .sum::<f64>()
        })
        .sum()
}

/// Generated vs tape, elementwise to 1e-9 relative.
fn assert_matches_tape(what: &str, generated: &[Tensor<f64>], tape: &[Tensor<f64>]) {
    assert_eq!(generated.len(), tape.len(), "{what}: tensor count");
    for (k, (a, b)) in generated.iter().zip(tape).enumerate() {
        assert_eq!(a.shape(), b.shape(), "{what}: tensor {k}");
        for (x, y) in a.data().iter().zip(b.data()) {
            assert!(
                (x - y).abs() <= 1e-9 * (1.0 + y.abs()),
                "{what}: tensor {k}: generated {x} vs tape {y}"
            );
        }
    }
}

/// gradcheck of `f` at `p` against `grad`, then ⟨J v, 1⟩ = ⟨v, ∇f⟩ for a
/// random direction `v` with `jvp(v)` the forward-mode tangent.
fn check_gradcheck_and_jvp<P: Parameters<Elem = f64> + Clone>(
    what: &str,
    p: &P,
    f: impl Fn(&P) -> f64,
    grad: &P,
    jvp: impl Fn(&P) -> f64,
    seed: u64,
) {
    let tol = Tolerance {
        rtol: 1e-6,
        atol: 1e-8,
    };
    gradcheck(|t| f(&rebuilt(p, t)), &tensors(p), &tensors(grad), tol)
        .unwrap_or_else(|e| panic!("{what}: generated gradient vs finite differences: {e}"));
    let mut rng = StdRng::seed_from_u64(seed);
    let v = p.map(&mut |t| Tensor::randn(t.shape(), &mut rng));
    let (lhs, rhs) = (jvp(&v), dot(grad, &v));
    assert!(
        (lhs - rhs).abs() <= 1e-9 * (1.0 + rhs.abs()),
        "{what}: jvp {lhs} vs ∇f·v {rhs}"
    );
    // The check is not vacuous: the direction moves the loss.
    assert!(rhs.abs() > 1e-6, "{what}: ∇f·v = {rhs}");
}

// Tape versions of the layers; `leaves` are a layer's tensors in visiting
// order.

fn tape_conv_bn_relu<'g>(x: &TensorVar<'g, f64>, l: &[TensorVar<'g, f64>]) -> TensorVar<'g, f64> {
    let h = &x.conv2d(&l[0], 1, 1) + &l[1];
    h.batch_norm(&l[2], &l[3], EPS).0.relu()
}

fn tape_linear<'g>(x: &TensorVar<'g, f64>, l: &[TensorVar<'g, f64>]) -> TensorVar<'g, f64> {
    &x.matmul(&l[0]) + &l[1]
}

fn images(rng: &mut StdRng, n: usize) -> (Tensor<f64>, Vec<usize>) {
    let x = Tensor::randn(&[n, 3, 8, 8], rng);
    let labels = (0..n).map(|i| (2 * i + 1) % 3).collect();
    (x, labels)
}

// ---------------------------------------------------------------------------
// (a) A mini version of the seeds' Table-1 ConvNet.

#[derive(Parameters, Clone)]
struct MiniConvNet {
    b1: Block,
    b2: Block,
    fc: Dense,
}

#[differentiable]
fn convnet_loss(p: &MiniConvNet, #[constant] x: &Tensor<f64>, #[constant] labels: &[usize]) -> f64 {
    let h = conv_bn_relu(&p.b1, x).max_pool2d(3, 2, 1);
    let h = conv_bn_relu(&p.b2, &h).max_pool2d(3, 2, 1);
    cross_entropy(&linear(&p.fc, &h.global_avg_pool()), labels)
}

fn mini_convnet(rng: &mut StdRng) -> MiniConvNet {
    MiniConvNet {
        b1: block(rng, 3, 4),
        b2: block(rng, 4, 6),
        fc: dense(rng, 6, 3),
    }
}

/// The ConvNet on the tape: its loss and the gradients in visiting order.
fn convnet_tape(p: &MiniConvNet, x: &Tensor<f64>, labels: &[usize]) -> (f64, Vec<Tensor<f64>>) {
    let graph = Graph::new();
    let l: Vec<_> = tensors(p).into_iter().map(|t| graph.leaf(t)).collect();
    let h = tape_conv_bn_relu(&graph.constant(x.clone()), &l[0..4]).max_pool2d(3, 2, 1);
    let h = tape_conv_bn_relu(&h, &l[4..8]).max_pool2d(3, 2, 1);
    let loss = tape_linear(&h.global_avg_pool(), &l[8..10]).cross_entropy(labels);
    let g = loss.backward();
    (loss.item(), l.iter().map(|v| g.wrt(v)).collect())
}

#[test]
fn mini_table1_convnet_three_ways() {
    for n in [2, 4] {
        let mut rng = StdRng::seed_from_u64(100 + n as u64);
        let p = mini_convnet(&mut rng);
        let (x, labels) = images(&mut rng, n);
        let g = convnet_loss_grad(&p, &x, &labels);
        assert_eq!(g.value, convnet_loss(&p, &x, &labels));
        assert!(g.value.is_finite() && g.value > 0.0);
        assert_eq!(g.p.b1.conv.w.shape(), &[4, 3, 3, 3]);
        assert_eq!(g.p.b2.conv.w.shape(), &[6, 4, 3, 3]);
        assert_eq!(g.p.fc.w.shape(), &[6, 3]);

        let (tape_value, tape_grads) = convnet_tape(&p, &x, &labels);
        assert!((tape_value - g.value).abs() <= 1e-12 * (1.0 + g.value.abs()));
        assert_matches_tape("convnet", &tensors(&g.p), &tape_grads);

        check_gradcheck_and_jvp(
            "convnet",
            &p,
            |q| convnet_loss(q, &x, &labels),
            &g.p,
            |v| convnet_loss_jvp(&p, &x, &labels, v).1,
            7 + n as u64,
        );
    }
}

// ---------------------------------------------------------------------------
// (b) A mini VGG: the conv stack as a loop over a `Vec` of blocks, 2x2/2 max
// pools, flatten, two linears with dropout between them.

#[derive(Parameters, Clone)]
struct MiniVgg {
    blocks: Vec<Block>,
    fc1: Dense,
    fc2: Dense,
}

#[differentiable]
fn vgg_loss(
    p: &MiniVgg,
    #[constant] x: &Tensor<f64>,
    #[constant] labels: &[usize],
    #[constant] seed: u64,
) -> f64 {
    let mut h = x.clone();
    for block in &p.blocks {
        h = conv_bn_relu(block, &h).max_pool2d(2, 2, 0);
    }
    let h = linear(&p.fc1, &h.flatten()).relu().dropout(0.5, seed);
    cross_entropy(&linear(&p.fc2, &h), labels)
}

fn mini_vgg(rng: &mut StdRng) -> MiniVgg {
    MiniVgg {
        blocks: vec![block(rng, 3, 4), block(rng, 4, 6)],
        // 8x8 pooled twice: 6 channels of 2x2.
        fc1: dense(rng, 24, 8),
        fc2: dense(rng, 8, 3),
    }
}

fn vgg_tape(p: &MiniVgg, x: &Tensor<f64>, labels: &[usize], seed: u64) -> (f64, Vec<Tensor<f64>>) {
    let graph = Graph::new();
    let l: Vec<_> = tensors(p).into_iter().map(|t| graph.leaf(t)).collect();
    let mut h = graph.constant(x.clone());
    for b in 0..p.blocks.len() {
        h = tape_conv_bn_relu(&h, &l[4 * b..4 * b + 4]).max_pool2d(2, 2, 0);
    }
    let k = 4 * p.blocks.len();
    let h = tape_linear(&h.flatten(), &l[k..k + 2])
        .relu()
        .dropout(0.5, seed);
    let loss = tape_linear(&h, &l[k + 2..k + 4]).cross_entropy(labels);
    let g = loss.backward();
    (loss.item(), l.iter().map(|v| g.wrt(v)).collect())
}

#[test]
fn mini_vgg_with_a_loop_over_blocks_and_seeded_dropout() {
    let mut rng = StdRng::seed_from_u64(200);
    let p = mini_vgg(&mut rng);
    let (x, labels) = images(&mut rng, 3);
    for seed in [1u64, 2, 3] {
        let g = vgg_loss_grad(&p, &x, &labels, seed);
        assert_eq!(g.value, vgg_loss(&p, &x, &labels, seed));
        // The same seed gives the tape the same mask, in the value and in
        // the gradient.
        let (tape_value, tape_grads) = vgg_tape(&p, &x, &labels, seed);
        assert!(
            (tape_value - g.value).abs() <= 1e-12 * (1.0 + g.value.abs()),
            "seed {seed}: {} vs tape {tape_value}",
            g.value
        );
        assert_matches_tape(&format!("vgg seed {seed}"), &tensors(&g.p), &tape_grads);
        // Dropped hidden units get no gradient: a row of fc2.w is zero
        // exactly when that unit was dropped for every image.
        let mask = Tensor::<f64>::ones(&[3, 8]).dropout(0.5, seed);
        for unit in 0..8 {
            let kept_somewhere = (0..3).any(|i| mask.data()[i * 8 + unit] != 0.0);
            if !kept_somewhere {
                for c in 0..3 {
                    assert_eq!(g.p.fc2.w.data()[unit * 3 + c], 0.0, "unit {unit}");
                }
            }
        }
        check_gradcheck_and_jvp(
            &format!("vgg seed {seed}"),
            &p,
            |q| vgg_loss(q, &x, &labels, seed),
            &g.p,
            |v| vgg_loss_jvp(&p, &x, &labels, seed, v).1,
            20 + seed,
        );
    }
    // The seed reaches the mask: different seeds, different losses.
    let values: Vec<f64> = (1..=3).map(|s| vgg_loss(&p, &x, &labels, s)).collect();
    assert!(
        values[0] != values[1] && values[1] != values[2],
        "{values:?}"
    );
    // The mask is the one `Tensor::dropout` draws: kept units scaled by 2.
    let mask = Tensor::<f64>::ones(&[3, 8]).dropout(0.5, 1);
    assert!(mask.data().iter().all(|&m| m == 0.0 || m == 2.0));
    assert!(mask.data().contains(&0.0) && mask.data().contains(&2.0));
}

#[test]
fn the_loop_over_blocks_runs_for_any_depth() {
    // One block (8x8 -> 4x4, 4 channels), flatten 64.
    let mut rng = StdRng::seed_from_u64(210);
    let p = MiniVgg {
        blocks: vec![block(&mut rng, 3, 4)],
        fc1: dense(&mut rng, 64, 5),
        fc2: dense(&mut rng, 5, 3),
    };
    let (x, labels) = images(&mut rng, 2);
    let g = vgg_loss_grad(&p, &x, &labels, 9);
    let (tape_value, tape_grads) = vgg_tape(&p, &x, &labels, 9);
    assert!((tape_value - g.value).abs() <= 1e-12 * (1.0 + g.value.abs()));
    assert_matches_tape("vgg depth 1", &tensors(&g.p), &tape_grads);
    check_gradcheck_and_jvp(
        "vgg depth 1",
        &p,
        |q| vgg_loss(q, &x, &labels, 9),
        &g.p,
        |v| vgg_loss_jvp(&p, &x, &labels, 9, v).1,
        31,
    );
}

// ---------------------------------------------------------------------------
// (c) The seed sheet's batch norm as a user-written `#[custom_adjoint]`
// tensor function with the hand-derived backward.

/// Panics unless the input is `[N, C, H, W]` with `C` the length of `gamma`
/// and `beta`.
fn check_bn_shapes(x: &[usize], gamma: &[usize], beta: &[usize]) {
    assert!(
        x.len() == 4 && gamma.len() == 1 && beta == gamma && x[1] == gamma[0],
        "my_batch_norm: expected x [N, C, H, W] and gamma, beta [C], got x {x:?}, gamma {gamma:?}, beta {beta:?}"
    );
}

/// Mean over N, H, W, kept as `[1, C, 1, 1]`.
fn channel_mean(t: &Tensor<f64>) -> Tensor<f64> {
    t.mean_axis(0, true).mean_axis(2, true).mean_axis(3, true)
}

/// Sum over N, H, W, as `[C]`.
fn channel_sum(t: &Tensor<f64>) -> Tensor<f64> {
    let c = t.shape()[1];
    t.sum_axis(0, true)
        .sum_axis(2, true)
        .sum_axis(3, true)
        .reshape(&[c])
}

/// What the backward reads.
struct BnSaved {
    xhat: Tensor<f64>,
    inv: Tensor<f64>,
    gamma: Tensor<f64>,
}

/// Biased variance, as PyTorch's training mode.
fn my_batch_norm_forward(
    x: &Tensor<f64>,
    gamma: &Tensor<f64>,
    beta: &Tensor<f64>,
) -> (Tensor<f64>, BnSaved) {
    check_bn_shapes(x.shape(), gamma.shape(), beta.shape());
    let c = x.shape()[1];
    let xc = x - &channel_mean(x);
    let inv = (&channel_mean(&xc.square()) + EPS).powf(-0.5);
    let xhat = &xc * &inv;
    let y = &(&xhat * &gamma.reshape(&[1, c, 1, 1])) + &beta.reshape(&[1, c, 1, 1]);
    let saved = BnSaved {
        xhat,
        inv,
        gamma: gamma.clone(),
    };
    (y, saved)
}

/// dβ = Σ dy; dγ = Σ dy·x̂; dx = (γ·inv/m)(m·dy − dβ − x̂·dγ), the sums per
/// channel over N, H, W (m elements).
fn my_batch_norm_backward(s: BnSaved, dy: &Tensor<f64>) -> (Tensor<f64>, Tensor<f64>, Tensor<f64>) {
    let shape = s.xhat.shape();
    let c = shape[1];
    let m = (shape[0] * shape[2] * shape[3]) as f64;
    let dbeta = channel_sum(dy);
    let dgamma = channel_sum(&(dy * &s.xhat));
    let per_channel = |t: &Tensor<f64>| t.reshape(&[1, c, 1, 1]);
    let inner = &(&(dy * m) - &per_channel(&dbeta)) - &(&s.xhat * &per_channel(&dgamma));
    let scale = &(&per_channel(&s.gamma) * &s.inv) * (1.0 / m);
    (&inner * &scale, dgamma, dbeta)
}

#[custom_adjoint(forward = my_batch_norm_forward, backward = my_batch_norm_backward)]
fn my_batch_norm(x: &Tensor<f64>, gamma: &Tensor<f64>, beta: &Tensor<f64>) -> Tensor<f64> {
    // A `#[differentiable]` body cannot run `assert!` (no macro calls) nor a
    // `()`-returning call (taken for a float): the check is in the forward
    // function, which every reverse-mode caller runs; a plain call and
    // forward mode meet the runtime's own shape errors.
    let c = x.shape()[1];
    let mu = x.mean_axis(0, true).mean_axis(2, true).mean_axis(3, true);
    let xc = x - &mu;
    let var = xc
        .square()
        .mean_axis(0, true)
        .mean_axis(2, true)
        .mean_axis(3, true);
    let inv = (var + 1e-5).powf(-0.5);
    &(&xc * &inv) * &gamma.reshape(&[1, c, 1, 1]) + &beta.reshape(&[1, c, 1, 1])
}

/// The built-in, for comparison.
#[differentiable]
fn builtin_batch_norm(x: &Tensor<f64>, gamma: &Tensor<f64>, beta: &Tensor<f64>) -> Tensor<f64> {
    x.batch_norm(gamma, beta, 1e-5)
}

fn assert_close(what: &str, a: &Tensor<f64>, b: &Tensor<f64>, tol: f64) {
    assert_eq!(a.shape(), b.shape(), "{what}");
    for (x, y) in a.data().iter().zip(b.data()) {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{what}: {x} vs {y}");
    }
}

fn bn_inputs(rng: &mut StdRng) -> [Tensor<f64>; 4] {
    [
        &(&Tensor::randn(&[3, 4, 5, 6], rng) * 2.0) + 0.5,
        &(&Tensor::randn(&[4], rng) * 0.3) + 1.0,
        Tensor::randn(&[4], rng),
        Tensor::randn(&[3, 4, 5, 6], rng),
    ]
}

#[test]
fn hand_written_batch_norm_matches_the_built_in() {
    let mut rng = StdRng::seed_from_u64(300);
    let [x, gamma, beta, dy] = bn_inputs(&mut rng);
    let builtin = builtin_batch_norm(&x, &gamma, &beta);
    assert_close("value", &my_batch_norm(&x, &gamma, &beta), &builtin, 1e-10);
    assert_close(
        "forward",
        &my_batch_norm_forward(&x, &gamma, &beta).0,
        &builtin,
        1e-10,
    );
    // Per channel, the output has mean β and (biased) std ≈ γ.
    let mean = channel_mean(&builtin);
    for ch in 0..4 {
        assert!((mean.data()[ch] - beta.data()[ch]).abs() < 1e-10);
    }
    let mine = my_batch_norm_vjp(&x, &gamma, &beta, &dy);
    let theirs = builtin_batch_norm_vjp(&x, &gamma, &beta, &dy);
    assert_close("dx", &mine.x, &theirs.x, 1e-10);
    assert_close("dgamma", &mine.gamma, &theirs.gamma, 1e-10);
    assert_close("dbeta", &mine.beta, &theirs.beta, 1e-10);
    // dβ is Σ dy per channel.
    assert_close("dbeta = Σdy", &mine.beta, &channel_sum(&dy), 1e-12);
}

#[differentiable]
fn my_bn_probe(
    x: &Tensor<f64>,
    gamma: &Tensor<f64>,
    beta: &Tensor<f64>,
    #[constant] w: &Tensor<f64>,
) -> f64 {
    (&my_batch_norm(x, gamma, beta) * w).sum()
}

#[test]
fn hand_written_batch_norm_passes_gradcheck_and_forward_mode() {
    let mut rng = StdRng::seed_from_u64(301);
    let [x, gamma, beta, w] = bn_inputs(&mut rng);
    let g = my_bn_probe_grad(&x, &gamma, &beta, &w);
    let f = |t: &[Tensor<f64>]| my_bn_probe(&t[0], &t[1], &t[2], &w);
    let tol = Tolerance {
        rtol: 1e-6,
        atol: 1e-8,
    };
    gradcheck(
        f,
        &[x.clone(), gamma.clone(), beta.clone()],
        &[g.x.clone(), g.gamma.clone(), g.beta.clone()],
        tol,
    )
    .expect("the hand-written backward matches finite differences");
    // Forward mode runs the primal body; reverse the hand-written backward.
    let v = [
        Tensor::randn(x.shape(), &mut rng),
        Tensor::randn(&[4], &mut rng),
        Tensor::randn(&[4], &mut rng),
    ];
    let (_, jv) = my_batch_norm_jvp(&x, &gamma, &beta, &v[0], &v[1], &v[2]);
    let lhs: f64 = jv.data().iter().zip(w.data()).map(|(a, b)| a * b).sum();
    let dotp = |a: &Tensor<f64>, b: &Tensor<f64>| -> f64 {
        a.data().iter().zip(b.data()).map(|(p, q)| p * q).sum()
    };
    let rhs = dotp(&g.x, &v[0]) + dotp(&g.gamma, &v[1]) + dotp(&g.beta, &v[2]);
    assert!(
        (lhs - rhs).abs() <= 1e-10 * (1.0 + rhs.abs()),
        "{lhs} vs {rhs}"
    );
}

#[test]
#[should_panic(
    expected = "my_batch_norm: expected x [N, C, H, W] and gamma, beta [C], got x [3, 4]"
)]
fn hand_written_batch_norm_rejects_a_2d_input() {
    let x = Tensor::<f64>::zeros(&[3, 4]);
    let gamma = Tensor::<f64>::ones(&[4]);
    let _ = my_batch_norm_vjp(&x, &gamma, &Tensor::zeros(&[4]), &Tensor::zeros(&[3, 4]));
}

#[test]
#[should_panic(expected = "got x [2, 3, 4, 4], gamma [4]")]
fn hand_written_batch_norm_rejects_a_channel_mismatch_in_the_gradient() {
    let x = Tensor::<f64>::zeros(&[2, 3, 4, 4]);
    let gamma = Tensor::<f64>::ones(&[4]);
    let _ = my_batch_norm_vjp(
        &x,
        &gamma,
        &Tensor::zeros(&[4]),
        &Tensor::zeros(&[2, 4, 4, 4]),
    );
}

/// The mini ConvNet with the hand-written batch norm in place of the
/// built-in one.
#[differentiable]
fn conv_my_bn_relu(b: &Block, x: &Tensor<f64>) -> Tensor<f64> {
    my_batch_norm(&conv2d(&b.conv, x, 1, 1), &b.bn.gamma, &b.bn.beta).relu()
}

#[differentiable]
fn my_bn_convnet_loss(
    p: &MiniConvNet,
    #[constant] x: &Tensor<f64>,
    #[constant] labels: &[usize],
) -> f64 {
    let h = conv_my_bn_relu(&p.b1, x).max_pool2d(3, 2, 1);
    let h = conv_my_bn_relu(&p.b2, &h).max_pool2d(3, 2, 1);
    cross_entropy(&linear(&p.fc, &h.global_avg_pool()), labels)
}

#[test]
fn convnet_with_the_hand_written_batch_norm() {
    let mut rng = StdRng::seed_from_u64(310);
    let p = mini_convnet(&mut rng);
    let (x, labels) = images(&mut rng, 3);
    let mine = my_bn_convnet_loss_grad(&p, &x, &labels);
    let builtin = convnet_loss_grad(&p, &x, &labels);
    assert!((mine.value - builtin.value).abs() <= 1e-10 * (1.0 + builtin.value.abs()));
    for ((name, a), (_, b)) in mine.p.named_tensors().iter().zip(builtin.p.named_tensors()) {
        assert_close(name, a, &b, 1e-10);
    }
    // The tape with its built-in batch norm.
    let (tape_value, tape_grads) = convnet_tape(&p, &x, &labels);
    assert!((tape_value - mine.value).abs() <= 1e-10 * (1.0 + mine.value.abs()));
    assert_matches_tape("convnet, my batch norm", &tensors(&mine.p), &tape_grads);
    check_gradcheck_and_jvp(
        "convnet, my batch norm",
        &p,
        |q| my_bn_convnet_loss(q, &x, &labels),
        &mine.p,
        |v| my_bn_convnet_loss_jvp(&p, &x, &labels, v).1,
        41,
    );
}

// ---------------------------------------------------------------------------
// f32, with `adjoint::nn`'s layers as they are.

mod with_nn {
    use adjoint::nn::{self, BatchNorm, Conv2d, Linear};
    use adjoint::prelude::*;
    use adjoint::tape::{Graph, TensorVar};
    use adjoint::tensor::rand::{rngs::StdRng, SeedableRng};

    #[derive(Parameters, Clone)]
    struct Net {
        conv1: Conv2d,
        bn1: BatchNorm,
        conv2: Conv2d,
        bn2: BatchNorm,
        fc: Linear,
    }

    #[differentiable]
    fn loss(p: &Net, #[constant] x: &Tensor, #[constant] labels: &[usize]) -> f32 {
        let h = nn::batch_norm(&p.bn1, &nn::conv2d(&p.conv1, x, 1, 1)).relu();
        let h = h.max_pool2d(3, 2, 1);
        let h = nn::batch_norm(&p.bn2, &nn::conv2d(&p.conv2, &h, 1, 1)).relu();
        let h = h.max_pool2d(3, 2, 1).global_avg_pool();
        cross_entropy(&nn::linear(&p.fc, &h), labels)
    }

    /// conv + batch norm + ReLU on the tape, `l` the layers' leaves.
    fn block<'g>(h: &TensorVar<'g, f32>, l: &[TensorVar<'g, f32>]) -> TensorVar<'g, f32> {
        let z = &h.conv2d(&l[0], 1, 1) + &l[1];
        z.batch_norm(&l[2], &l[3], 1e-5).0.relu()
    }

    #[test]
    fn nn_layers_in_f32_match_the_tape() {
        let mut rng = StdRng::seed_from_u64(400);
        let p = Net {
            conv1: Conv2d::new(3, 8, 3, &mut rng),
            bn1: BatchNorm::new(8),
            conv2: Conv2d::new(8, 16, 3, &mut rng),
            bn2: BatchNorm::new(16),
            fc: Linear::new(16, 10, &mut rng),
        };
        let x = Tensor::randn(&[4, 3, 16, 16], &mut rng);
        let labels = [3usize, 0, 9, 5];
        let g = loss_grad(&p, &x, &labels);

        let graph = Graph::new();
        let l: Vec<_> = p
            .named_tensors()
            .into_iter()
            .map(|(_, t)| graph.leaf(t))
            .collect();
        let h = block(&graph.constant(x.clone()), &l[0..4]).max_pool2d(3, 2, 1);
        let h = block(&h, &l[4..8]).max_pool2d(3, 2, 1).global_avg_pool();
        let out = (&h.matmul(&l[8]) + &l[9]).cross_entropy(&labels);
        let tape = out.backward();
        assert!((out.item() - g.value).abs() <= 1e-5 * g.value.abs());
        for ((name, a), leaf) in g.p.named_tensors().iter().zip(&l) {
            let b = tape.wrt(leaf);
            assert_eq!(a.shape(), b.shape(), "{name}");
            // Relative to the tensor's largest entry (a conv bias feeding a
            // batch norm has a gradient of rounding noise only).
            let scale = b.data().iter().fold(0.0f32, |m, v| m.max(v.abs()));
            for (u, v) in a.data().iter().zip(b.data()) {
                assert!(
                    (u - v).abs() <= 1e-4 * scale + 1e-6,
                    "{name}: generated {u} vs tape {v} (scale {scale})"
                );
            }
        }
        // The gradients are not trivially zero.
        let wscale =
            g.p.conv1
                .w
                .data()
                .iter()
                .fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(wscale > 1e-4, "conv1.w gradient {wscale}");
    }

    #[differentiable]
    fn logits(p: &Net, #[constant] x: &Tensor) -> Tensor {
        let h = nn::batch_norm(&p.bn1, &nn::conv2d(&p.conv1, x, 1, 1)).relu();
        let h = h.max_pool2d(3, 2, 1);
        let h = nn::batch_norm(&p.bn2, &nn::conv2d(&p.conv2, &h, 1, 1)).relu();
        nn::linear(&p.fc, &h.max_pool2d(3, 2, 1).global_avg_pool())
    }

    /// Running statistics: buffers of the model's `BatchNorm` layers that a
    /// generated training step inside `nn::train` feeds the batch
    /// statistics of each batch norm (once per step, PyTorch's update with
    /// the unbiased variance); evaluation normalises with them; optimisers
    /// and gradients never see them; checkpoints keep them.
    /// With the weight `1 / n` at the `n`-th step (PyTorch's
    /// `momentum=None`, the `cifar_cnn` example's VGG-16 default), the
    /// running statistics are the plain average of every batch's: no trace
    /// of their starting values after a short run.
    #[test]
    fn a_cumulative_momentum_averages_the_batches_statistics() {
        let mut rng = StdRng::seed_from_u64(402);
        let mut bn = BatchNorm::new(3);
        let batches: Vec<Tensor> = (0..3)
            .map(|k| &Tensor::randn(&[8, 3], &mut rng) * (k as f32 + 1.0))
            .collect();
        for (n, x) in batches.iter().enumerate() {
            nn::train(&mut bn, 1.0 / (n + 1) as f64, |bn| nn::batch_norm(bn, x))
                .expect("own layer");
        }
        for c in 0..3 {
            let column = |x: &Tensor| -> Vec<f32> { (0..8).map(|i| x.data()[i * 3 + c]).collect() };
            let means: Vec<f32> = batches
                .iter()
                .map(|x| column(x).iter().sum::<f32>() / 8.0)
                .collect();
            let vars: Vec<f32> = batches
                .iter()
                .zip(&means)
                .map(|(x, m)| column(x).iter().map(|v| (v - m) * (v - m)).sum::<f32>() / 7.0)
                .collect();
            let mean = bn.running_mean.0.data()[c];
            let var = bn.running_var.0.data()[c];
            assert!(
                (mean - means.iter().sum::<f32>() / 3.0).abs() < 1e-5,
                "mean {c}: {mean} vs {means:?}"
            );
            assert!(
                (var - vars.iter().sum::<f32>() / 3.0).abs() < 1e-4,
                "var {c}: {var} vs {vars:?}"
            );
        }
    }

    #[test]
    fn running_statistics_are_model_buffers_that_training_steps_update() {
        use adjoint::nn::MOMENTUM;
        use adjoint::optim::{Adam, Optimizer};
        use adjoint::weights::Weights;
        let mut rng = StdRng::seed_from_u64(401);
        let mut p = Net {
            conv1: Conv2d::new(3, 8, 3, &mut rng),
            bn1: BatchNorm::new(8),
            conv2: Conv2d::new(8, 16, 3, &mut rng),
            bn2: BatchNorm::new(16),
            fc: Linear::new(16, 10, &mut rng),
        };
        let x = Tensor::randn(&[4, 3, 16, 16], &mut rng);
        let labels = [3usize, 0, 9, 5];
        let g = nn::train(&mut p, MOMENTUM, |p| loss_grad(p, &x, &labels)).expect("its own layers");
        assert!(g.value.is_finite());
        // The first layer's batch statistics, computed directly.
        let z = x.conv2d(&p.conv1.w, 1, 1);
        let z = &z + &p.conv1.b;
        let (_, stats) = z.batch_norm_with_stats(&p.bn1.gamma, &p.bn1.beta, 1e-5);
        let m = stats.count as f32;
        for c in 0..8 {
            let mean = p.bn1.running_mean.0.data()[c];
            let var = p.bn1.running_var.0.data()[c];
            assert!((mean - 0.1 * stats.mean.data()[c]).abs() < 1e-5, "mean {c}");
            let unbiased = stats.var.data()[c] * m / (m - 1.0);
            assert!((var - (0.9 + 0.1 * unbiased)).abs() < 1e-4, "var {c}");
        }
        // The second layer moved off its start too.
        assert!(p.bn2.running_mean.0.data().iter().any(|v| v.abs() > 1e-6));
        // A batch norm called with a γ that is not the model's is refused.
        let stranger = BatchNorm::new(8);
        let refused = nn::train(&mut p, MOMENTUM, |_| nn::batch_norm(&stranger, &z));
        assert!(refused.is_err());
        // Evaluation uses the running estimates: it differs from training
        // mode, and equals the explicit evaluation-mode op.
        let train_mode = logits(&p, &x);
        let eval_mode = nn::evaluate(&p, |p| logits(p, &x));
        let differs = train_mode
            .data()
            .iter()
            .zip(eval_mode.data())
            .any(|(a, b)| (a - b).abs() > 1e-3);
        assert!(differs, "evaluation mode gave the training-mode logits");
        let (mean, var) = (&p.bn1.running_mean.0, &p.bn1.running_var.0);
        let by_op = z.batch_norm_eval(&p.bn1.gamma, &p.bn1.beta, mean, var, 1e-5);
        let inside = nn::evaluate(&p, |p| z.batch_norm(&p.bn1.gamma, &p.bn1.beta, 1e-5));
        assert_eq!(by_op.to_vec(), inside.to_vec());
        // Parameters (what optimisers and gradients see) are the 10
        // learned tensors; the gradient's buffers are empty; an optimiser
        // step leaves the running statistics alone.
        assert_eq!(p.named_tensors().len(), 10);
        assert_eq!(g.p.named_tensors().len(), 10);
        assert_eq!(g.p.bn1.running_mean.0.len(), 0);
        let before = p.bn1.running_var.0.to_vec();
        Adam::new(1e-2).step(&mut p, &g.p);
        assert_eq!(p.bn1.running_var.0.to_vec(), before);
        // A weights file keeps them: 10 parameters and 4 buffers.
        assert_eq!(p.named_state().len(), 14);
        let path = std::env::temp_dir().join("adjoint-cnn-running.safetensors");
        p.save_safetensors(&path).expect("save");
        let mut fresh = Net {
            conv1: Conv2d::new(3, 8, 3, &mut rng),
            bn1: BatchNorm::new(8),
            conv2: Conv2d::new(8, 16, 3, &mut rng),
            bn2: BatchNorm::new(16),
            fc: Linear::new(16, 10, &mut rng),
        };
        fresh.load_safetensors(&path).expect("load");
        std::fs::remove_file(&path).ok();
        assert_eq!(
            fresh.bn2.running_mean.0.to_vec(),
            p.bn2.running_mean.0.to_vec()
        );
        assert_eq!(fresh.bn1.running_var.0.to_vec(), before);
    }

    /// A loss handing its whole model to a logits function, as the example's
    /// losses do (the model argument is passed on by reference from every
    /// generated function, its pullback included).
    #[differentiable]
    fn loss_through_logits(p: &Net, #[constant] x: &Tensor, #[constant] labels: &[usize]) -> f32 {
        cross_entropy(&logits(p, x), labels)
    }

    #[test]
    fn a_model_passed_whole_to_a_callee_gets_the_same_gradient() {
        let mut rng = StdRng::seed_from_u64(402);
        let p = Net {
            conv1: Conv2d::new(3, 4, 3, &mut rng),
            bn1: BatchNorm::new(4),
            conv2: Conv2d::new(4, 6, 3, &mut rng),
            bn2: BatchNorm::new(6),
            fc: Linear::new(6, 10, &mut rng),
        };
        let x = Tensor::randn(&[3, 3, 8, 8], &mut rng);
        let labels = [1usize, 4, 7];
        let (direct, through) = (
            loss_grad(&p, &x, &labels),
            loss_through_logits_grad(&p, &x, &labels),
        );
        assert_eq!(direct.value, through.value);
        for ((name, a), (_, b)) in direct
            .p
            .named_tensors()
            .iter()
            .zip(through.p.named_tensors())
        {
            assert_eq!(a.to_vec(), b.to_vec(), "{name}");
        }
    }
}
