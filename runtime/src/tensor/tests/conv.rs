//! conv2d against a direct convolution, its adjoints against central
//! differences (through the tape), its errors, the layout measurement, and
//! flatten.

use super::{assert_close, rand_t, rng, t, tape_gradcheck};
use crate::tape::{Graph, TensorVar};
use crate::tensor::ops::conv::{
    conv2d_backward, conv2d_backward_with, conv2d_forward, geometry, ConvLayout,
};
use crate::tensor::ops::reshape;
use crate::tensor::Tensor;

/// The convolution by its definition: `y[n, o, oy, ox] = Σ_{c, i, j}
/// w[o, c, i, j] · x[n, c, oy·s + i - p, ox·s + j - p]` (zero outside).
fn naive_conv2d(x: &Tensor<f64>, w: &Tensor<f64>, s: usize, p: usize) -> Tensor<f64> {
    let &[n, c, h, wd] = x.shape() else {
        panic!("4-D input")
    };
    let &[o, _, kh, kw] = w.shape() else {
        panic!("4-D weight")
    };
    let (ho, wo) = ((h + 2 * p - kh) / s + 1, (wd + 2 * p - kw) / s + 1);
    let (xd, wdat) = (x.data(), w.data());
    let mut out = Vec::new();
    for b in 0..n {
        for oc in 0..o {
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut acc = 0.0;
                    for ch in 0..c {
                        for i in 0..kh {
                            for j in 0..kw {
                                let iy = (oy * s + i) as isize - p as isize;
                                let ix = (ox * s + j) as isize - p as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let xv = xd[((b * c + ch) * h + iy as usize) * wd + ix as usize];
                                acc += wdat[((oc * c + ch) * kh + i) * kw + j] * xv;
                            }
                        }
                    }
                    out.push(acc);
                }
            }
        }
    }
    Tensor::from_vec(out, &[n, o, ho, wo]).expect("naive output fits its shape")
}

/// `(input shape, weight shape, stride, padding)`: strides 1 and 2, padding
/// 0 and 1, 3×3 and 2×2 kernels, odd non-square images.
fn cases() -> Vec<([usize; 4], [usize; 4], usize, usize)> {
    vec![
        ([2, 3, 5, 7], [4, 3, 3, 3], 1, 0),
        ([2, 3, 5, 7], [4, 3, 3, 3], 1, 1),
        ([2, 3, 5, 7], [4, 3, 3, 3], 2, 0),
        ([2, 3, 5, 7], [4, 3, 3, 3], 2, 1),
        ([2, 2, 5, 7], [3, 2, 2, 2], 1, 0),
        ([2, 2, 5, 7], [3, 2, 2, 2], 2, 1),
        ([1, 1, 4, 4], [2, 1, 1, 1], 1, 0),
        ([3, 2, 3, 3], [2, 2, 3, 3], 1, 0),
        ([1, 2, 2, 3], [2, 2, 3, 3], 2, 1),
    ]
}

#[test]
fn conv2d_closed_form() {
    // One 3×3 image of 1..9, a 2×2 kernel of ones, stride 1: window sums.
    let x = t(
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        &[1, 1, 3, 3],
    );
    let w = Tensor::ones(&[1, 1, 2, 2]);
    let y = x.conv2d(&w, 1, 0);
    assert_eq!(y.shape(), &[1, 1, 2, 2]);
    assert_eq!(y.to_vec(), vec![12.0, 16.0, 24.0, 28.0]);
    // Padding 1, stride 2, a kernel picking its centre: the image subsampled.
    let mut centre = vec![0.0; 9];
    centre[4] = 1.0;
    let y = x.conv2d(&t(&centre, &[1, 1, 3, 3]), 2, 1);
    assert_eq!(y.shape(), &[1, 1, 2, 2]);
    assert_eq!(y.to_vec(), vec![1.0, 3.0, 7.0, 9.0]);
}

#[test]
fn conv2d_matches_a_direct_convolution() {
    let mut r = rng(100);
    for (xs, ws, s, p) in cases() {
        let x = rand_t(&xs, -1.0, 1.0, &mut r);
        let w = rand_t(&ws, -1.0, 1.0, &mut r);
        let expected = naive_conv2d(&x, &w, s, p);
        let y = x.conv2d(&w, s, p);
        assert_eq!(y.shape(), expected.shape(), "{xs:?} * {ws:?} s{s} p{p}");
        assert_close(y.data(), expected.data(), 1e-12);
    }
}

#[test]
fn conv2d_layouts_agree_on_a_batch_big_enough_to_split() {
    // Big enough that the images are spread across threads.
    let mut r = rng(101);
    let x = rand_t(&[9, 4, 9, 11], -1.0, 1.0, &mut r);
    let w = rand_t(&[6, 4, 3, 3], -1.0, 1.0, &mut r);
    let expected = naive_conv2d(&x, &w, 1, 1);
    let g = geometry("conv2d", x.shape(), w.shape(), 1, 1).expect("valid conv");
    for layout in [
        ConvLayout::PerImageParallel,
        ConvLayout::PerImageThreadedGemm,
        ConvLayout::Batched,
    ] {
        let y = conv2d_forward(&g, layout, x.data(), w.data());
        assert_close(&y, expected.data(), 1e-12);
    }
    // The backward passes agree too, for both strides.
    for stride in [1, 2] {
        let y = naive_conv2d(&x, &w, stride, 1);
        let grad = rand_t(y.shape(), -1.0, 1.0, &mut r);
        let backward = |layout: ConvLayout| {
            let (dx, dw) = conv2d_backward_with(|_| layout, &x, &w, stride, 1, &grad, [true, true]);
            (dx.expect("dx"), dw.expect("dw"))
        };
        let (dx, dw) = backward(ConvLayout::PerImageParallel);
        for layout in [ConvLayout::PerImageThreadedGemm, ConvLayout::Batched] {
            let (ex, ew) = backward(layout);
            assert_close(ex.data(), dx.data(), 1e-12);
            assert_close(ew.data(), dw.data(), 1e-12);
        }
    }
    // f32 goes through the same kernels.
    let xf = Tensor::from_vec(x.data().iter().map(|&v| v as f32).collect(), x.shape()).unwrap();
    let wf = Tensor::from_vec(w.data().iter().map(|&v| v as f32).collect(), w.shape()).unwrap();
    let yf = xf.conv2d(&wf, 1, 1);
    let yf: Vec<f64> = yf.data().iter().map(|&v| v as f64).collect();
    assert_close(&yf, expected.data(), 1e-5);
}

#[test]
fn conv2d_gradients_match_finite_differences() {
    let mut r = rng(102);
    for (xs, ws, s, p) in cases() {
        let x = rand_t(&xs, -1.0, 1.0, &mut r);
        let w = rand_t(&ws, -1.0, 1.0, &mut r);
        tape_gradcheck(&[x, w], |v| v[0].conv2d(&v[1], s, p), &mut r);
    }
}

#[test]
fn conv2d_backward_computes_only_what_is_needed() {
    let mut r = rng(103);
    let x = rand_t(&[5, 3, 6, 5], -1.0, 1.0, &mut r);
    let w = rand_t(&[4, 3, 3, 3], -1.0, 1.0, &mut r);
    let g = rand_t(&[5, 4, 3, 3], -1.0, 1.0, &mut r);
    let (dx, dw) = conv2d_backward(&x, &w, 2, 1, &g, [true, true]);
    let (dx, dw) = (dx.expect("dx asked for"), dw.expect("dw asked for"));
    assert_eq!((dx.shape(), dw.shape()), (x.shape(), w.shape()));
    let (only_dx, none) = conv2d_backward(&x, &w, 2, 1, &g, [true, false]);
    assert!(none.is_none());
    assert_eq!(only_dx.expect("dx asked for"), dx);
    let (none, only_dw) = conv2d_backward(&x, &w, 2, 1, &g, [false, true]);
    assert!(none.is_none());
    assert_close(only_dw.expect("dw asked for").data(), dw.data(), 1e-12);
    // ⟨g, conv(x, w)⟩ is bilinear: ⟨dw, w⟩ = ⟨dx, x⟩ = ⟨g, y⟩.
    let y = x.conv2d(&w, 2, 1);
    let gy: f64 = g.data().iter().zip(y.data()).map(|(a, b)| a * b).sum();
    let xdx: f64 = x.data().iter().zip(dx.data()).map(|(a, b)| a * b).sum();
    let wdw: f64 = w.data().iter().zip(dw.data()).map(|(a, b)| a * b).sum();
    assert!((gy - xdx).abs() < 1e-10 && (gy - wdw).abs() < 1e-10);
    // On the tape, a constant input gets no gradient and the weight one.
    let graph = Graph::new();
    let (xv, wv) = (graph.constant(x.clone()), graph.leaf(w.clone()));
    let loss = (&xv.conv2d(&wv, 2, 1) * &graph.constant(g.clone())).sum();
    let grads = loss.backward();
    assert_close(grads.wrt(&wv).data(), dw.data(), 1e-12);
}

#[test]
fn conv2d_shape_errors_name_the_op_and_both_shapes() {
    let x = Tensor::<f32>::zeros(&[2, 3, 8, 8]);
    let msg = |r: Result<Tensor<f32>, crate::tensor::ShapeError>| match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    };
    assert_eq!(
        msg(x.try_conv2d(&Tensor::zeros(&[16, 4, 3, 3]), 1, 1)),
        "conv2d: input has 3 channels but the weight expects 4: [2, 3, 8, 8] and [16, 4, 3, 3]"
    );
    assert_eq!(
        msg(x.try_conv2d(&Tensor::zeros(&[16, 3, 11, 3]), 1, 1)),
        "conv2d: kernel 11x3 does not fit the padded input 10x10: [2, 3, 8, 8] and [16, 3, 11, 3]"
    );
    assert_eq!(
        msg(Tensor::zeros(&[3, 8, 8]).try_conv2d(&Tensor::zeros(&[16, 3, 3, 3]), 1, 0)),
        "conv2d: expected an input of shape [N, C, H, W], got shape [3, 8, 8]"
    );
    assert_eq!(
        msg(x.try_conv2d(&Tensor::zeros(&[16, 3, 3]), 1, 0)),
        "conv2d: expected a weight of shape [O, C, kh, kw], got shape [16, 3, 3]"
    );
    assert_eq!(
        msg(x.try_conv2d(&Tensor::zeros(&[16, 3, 3, 3]), 0, 0)),
        "conv2d: stride must be positive"
    );
    let panic = std::panic::catch_unwind(|| x.conv2d(&Tensor::zeros(&[16, 4, 3, 3]), 1, 1))
        .expect_err("mismatched channels panic");
    assert_eq!(
        panic.downcast_ref::<String>().map(String::as_str),
        Some(
            "conv2d: input has 3 channels but the weight expects 4: [2, 3, 8, 8] and [16, 4, 3, 3]"
        )
    );
}

#[test]
fn flatten_keeps_the_batch_axis_and_its_gradient_reshapes_back() {
    let mut r = rng(104);
    let x = rand_t(&[2, 3, 4, 5], -1.0, 1.0, &mut r);
    let y = x.flatten();
    assert_eq!(y.shape(), &[2, 60]);
    assert_eq!(y.data(), x.data());
    assert_eq!(t(&[1.0, 2.0], &[2]).flatten().shape(), &[2, 1]);
    let g = rand_t(&[2, 60], -1.0, 1.0, &mut r);
    let dx = reshape::flatten_backward(x.shape(), &g);
    assert_eq!((dx.shape(), dx.data()), (x.shape(), g.data()));
    assert_eq!(
        Tensor::scalar(1.0f32)
            .try_flatten()
            .map_err(|e| e.to_string()),
        Err("flatten: expected a tensor with a batch axis, [N, ...], got shape []".to_string())
    );
    // conv → flatten on the tape.
    let w = rand_t(&[2, 3, 3, 3], -1.0, 1.0, &mut r);
    tape_gradcheck(&[x, w], |v| v[0].conv2d(&v[1], 2, 1).flatten(), &mut r);
}

/// The layout measurement quoted in `ops/conv.rs`: the Table-1 ConvNet's
/// heaviest layer, `x [32, 64, 16, 16]`, `w [128, 64, 3, 3]`, padding 1,
/// f32, median of 7 forward passes per layout (and the backward once).
/// Run with `cargo test --release -p adjoint-runtime conv2d_layout_timing
/// -- --ignored --nocapture`.
#[test]
#[ignore = "timing; run by hand in release mode"]
fn conv2d_layout_timing() {
    use std::time::Instant;
    let mut r = rng(105);
    let x: Tensor<f32> = Tensor::uniform(&[32, 64, 16, 16], -1.0, 1.0, &mut r);
    let w: Tensor<f32> = Tensor::uniform(&[128, 64, 3, 3], -1.0, 1.0, &mut r);
    let y = x.conv2d(&w, 1, 1);
    let g = geometry("conv2d", x.shape(), w.shape(), 1, 1).expect("valid conv");
    let layouts = [
        ConvLayout::PerImageParallel,
        ConvLayout::PerImageThreadedGemm,
        ConvLayout::Batched,
    ];
    // Rounds interleave the layouts so that load from other processes hits
    // them alike; the median of each is reported.
    let (mut fwd, mut bwd) = (vec![Vec::new(); 3], vec![Vec::new(); 2]);
    for _ in 0..15 {
        for (i, &layout) in layouts.iter().enumerate() {
            let start = Instant::now();
            std::hint::black_box(conv2d_forward(&g, layout, x.data(), w.data()));
            fwd[i].push(start.elapsed().as_secs_f64() * 1e3);
        }
        for (i, &layout) in layouts[..2].iter().enumerate() {
            let start = Instant::now();
            std::hint::black_box(conv2d_backward_with(
                |_| layout,
                &x,
                &w,
                1,
                1,
                &y,
                [true, true],
            ));
            bwd[i].push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    let report = |what: &str, times: &mut Vec<f64>| {
        times.sort_by(f64::total_cmp);
        println!(
            "{what}: median {:.2} ms (min {:.2}, max {:.2})",
            times[times.len() / 2],
            times[0],
            times[times.len() - 1]
        );
    };
    for (layout, times) in layouts.iter().zip(&mut fwd) {
        report(&format!("forward {layout:?}"), times);
    }
    for (layout, times) in layouts.iter().zip(&mut bwd) {
        report(&format!("backward {layout:?}"), times);
    }
}

/// conv → batch norm → leaky relu → max pool → conv → avg pool → dropout →
/// (global average pool, and flatten summed) → linear → cross-entropy.
fn small_cnn<'g>(v: &[TensorVar<'g, f64>]) -> TensorVar<'g, f64> {
    let h = v[0].conv2d(&v[1], 1, 1);
    let (h, _) = h.batch_norm(&v[2], &v[3], 1e-5);
    let h = h.leaky_relu(0.1).max_pool2d(3, 2, 1);
    let h = h.conv2d(&v[4], 1, 0).avg_pool2d(2, 1, 1).dropout(0.25, 3);
    let a = h.global_avg_pool();
    let b = h.flatten().sum_axis(1, true);
    (&a.matmul(&v[5]) + &b).cross_entropy(&[0, 1, 1])
}

#[test]
fn a_small_cnn_on_the_tape_matches_finite_differences() {
    // Every input and parameter checked at once.
    let mut r = rng(106);
    let inputs = [
        rand_t(&[3, 2, 7, 5], -1.0, 1.0, &mut r),
        rand_t(&[4, 2, 3, 3], -0.5, 0.5, &mut r),
        rand_t(&[4], 0.5, 1.5, &mut r),
        rand_t(&[4], -0.5, 0.5, &mut r),
        rand_t(&[3, 4, 2, 2], -0.5, 0.5, &mut r),
        rand_t(&[3, 2], -1.0, 1.0, &mut r),
    ];
    let graph = Graph::new();
    let vars: Vec<_> = inputs.iter().map(|x| graph.leaf(x.clone())).collect();
    let loss = small_cnn(&vars).item();
    assert!(loss.is_finite() && loss > 0.0, "loss {loss}");
    tape_gradcheck(&inputs, small_cnn, &mut r);
}
