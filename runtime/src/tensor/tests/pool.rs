//! max_pool2d, avg_pool2d and global_avg_pool: closed forms, ties, NaN,
//! gradients through the tape, and errors.

use super::{assert_close, rand_t, rng, t, tape_gradcheck};
use crate::tape::Graph;
use crate::tensor::ops::pool;
use crate::tensor::Tensor;

/// `(input shape, kernel, stride, padding)`: 2×2/2, overlapping 3×3/2 and
/// 3×3/1, padding 0 and 1, odd non-square images.
fn cases() -> Vec<([usize; 4], usize, usize, usize)> {
    vec![
        ([2, 3, 5, 7], 2, 2, 0),
        ([2, 3, 5, 7], 2, 1, 1),
        ([2, 3, 5, 7], 3, 2, 0),
        ([2, 3, 5, 7], 3, 2, 1),
        ([2, 3, 5, 7], 3, 1, 1),
        ([1, 2, 4, 4], 2, 2, 1),
    ]
}

#[test]
fn max_pool2d_closed_form_with_indices() {
    // 4×4 plane of 0..16, 2×2/2 windows: the bottom-right of each.
    let x = t(&(0..16).map(f64::from).collect::<Vec<_>>(), &[1, 1, 4, 4]);
    let (y, idx) = x.max_pool2d_with_indices(2, 2, 0);
    assert_eq!(y.shape(), &[1, 1, 2, 2]);
    assert_eq!(y.to_vec(), vec![5.0, 7.0, 13.0, 15.0]);
    assert_eq!(idx.to_vec(), vec![5, 7, 13, 15]);
    // Padding acts as -∞: with all-negative values the padded windows
    // still take a real element. 3×3/2 windows with padding 1 over a 3×3 plane.
    let neg = t(
        &[-9.0, -8.0, -7.0, -6.0, -5.0, -4.0, -3.0, -2.0, -1.0],
        &[1, 1, 3, 3],
    );
    let (y, idx) = neg.max_pool2d_with_indices(3, 2, 1);
    assert_eq!(y.to_vec(), vec![-5.0, -4.0, -2.0, -1.0]);
    assert_eq!(idx.to_vec(), vec![4, 5, 7, 8]);
    // Indices are flat into the whole input: the second plane starts at 16.
    let two = t(&(0..32).map(f64::from).collect::<Vec<_>>(), &[1, 2, 4, 4]);
    let (_, idx) = two.max_pool2d_with_indices(2, 2, 0);
    assert_eq!(idx.to_vec(), vec![5, 7, 13, 15, 21, 23, 29, 31]);
}

#[test]
fn max_pool2d_ties_route_the_gradient_to_exactly_one_input() {
    // Every value equal: each 3×3/2 window (overlapping) has nine tied maxima.
    let x = Tensor::<f64>::full(&[1, 1, 5, 5], 2.0);
    let graph = Graph::new();
    let xv = graph.leaf(x.clone());
    let y = xv.max_pool2d(3, 2, 0);
    assert_eq!(y.shape(), &[1, 1, 2, 2]);
    let g = t(&[1.0, 10.0, 100.0, 1000.0], &[1, 1, 2, 2]);
    let loss = (&y * &graph.constant(g.clone())).sum();
    let dx = loss.backward().wrt(&xv);
    // The gradient's total is the output gradient's, and each window's
    // share went to its first element in scan order (its top-left corner).
    assert_eq!(dx.sum(), 1111.0);
    let mut expected = vec![0.0; 25];
    expected[0] = 1.0;
    expected[2] = 10.0;
    expected[10] = 100.0;
    expected[12] = 1000.0;
    assert_eq!(dx.to_vec(), expected);
    // A tie inside one window between two of its elements: only the first gets it.
    let x = t(&[1.0, 3.0, 3.0, 0.0], &[1, 1, 2, 2]);
    let (_, idx) = x.max_pool2d_with_indices(2, 2, 0);
    let dx = pool::max_pool2d_backward(x.shape(), &idx, &t(&[5.0], &[1, 1, 1, 1]));
    assert_eq!(dx.to_vec(), vec![0.0, 5.0, 0.0, 0.0]);
}

#[test]
fn max_pool2d_overlapping_windows_accumulate() {
    // 3×3/1 over a 3×4 plane whose maximum (9) lies in both windows.
    let x = t(
        &[0.0, 1.0, 2.0, 0.0, 3.0, 9.0, 4.0, 0.0, 5.0, 6.0, 7.0, 0.0],
        &[1, 1, 3, 4],
    );
    let (y, idx) = x.max_pool2d_with_indices(3, 1, 0);
    assert_eq!(y.to_vec(), vec![9.0, 9.0]);
    let dx = pool::max_pool2d_backward(x.shape(), &idx, &t(&[1.0, 2.0], &[1, 1, 1, 2]));
    assert_eq!(dx.data()[5], 3.0);
    assert_eq!(dx.sum(), 3.0);
}

#[test]
fn max_pool2d_propagates_nan() {
    let x = t(
        &[1.0, f64::NAN, 3.0, 2.0, 5.0, 6.0, 7.0, 8.0],
        &[1, 1, 2, 4],
    );
    let (y, idx) = x.max_pool2d_with_indices(2, 2, 0);
    assert!(y.data()[0].is_nan());
    assert_eq!(y.data()[1], 8.0);
    assert_eq!(idx.to_vec(), vec![1, 7]);
    // NaN after a larger value wins too.
    let x = t(&[9.0, 1.0, 2.0, f64::NAN], &[1, 1, 2, 2]);
    assert!(x.max_pool2d(2, 2, 0).data()[0].is_nan());
}

#[test]
fn max_pool2d_gradients_match_finite_differences() {
    let mut r = rng(200);
    for (shape, k, s, p) in cases() {
        let x = rand_t(&shape, -1.0, 1.0, &mut r);
        tape_gradcheck(&[x], |v| v[0].max_pool2d(k, s, p), &mut r);
    }
}

#[test]
fn avg_pool2d_closed_form_counts_padding() {
    let x = t(&(1..=16).map(f64::from).collect::<Vec<_>>(), &[1, 1, 4, 4]);
    assert_eq!(x.avg_pool2d(2, 2, 0).to_vec(), vec![3.5, 5.5, 11.5, 13.5]);
    // 3×3/2 with padding 1 over a 3×3 plane of ones: the corner windows
    // hold 4 ones and 5 padding zeros, divided by 9 (count_include_pad).
    let ones = Tensor::<f64>::ones(&[1, 1, 3, 3]);
    assert_close(
        ones.avg_pool2d(3, 2, 1).data(),
        &[4.0 / 9.0, 4.0 / 9.0, 4.0 / 9.0, 4.0 / 9.0],
        1e-15,
    );
    // Its adjoint spreads g / 9 over each window (the centre is in all four).
    let dx = pool::avg_pool2d_backward(ones.shape(), 3, 2, 1, &Tensor::ones(&[1, 1, 2, 2]));
    assert_close(
        dx.data(),
        &[1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0].map(|v| v / 9.0),
        1e-15,
    );
}

#[test]
fn avg_pool2d_gradients_match_finite_differences() {
    let mut r = rng(201);
    for (shape, k, s, p) in cases() {
        let x = rand_t(&shape, -1.0, 1.0, &mut r);
        tape_gradcheck(&[x], |v| v[0].avg_pool2d(k, s, p), &mut r);
    }
}

#[test]
fn pooling_large_batches_matches_small_ones() {
    // Large enough to be split across threads: each plane pooled alone agrees.
    let mut r = rng(202);
    let x = rand_t(&[8, 16, 12, 10], -1.0, 1.0, &mut r);
    let (ym, idx) = x.max_pool2d_with_indices(3, 2, 1);
    let idx = idx.to_vec();
    let ya = x.avg_pool2d(3, 2, 1);
    assert_eq!(ym.shape(), &[8, 16, 6, 5]);
    let plane = 12 * 10;
    for p in [0, 37, 127] {
        let single = Tensor::from_vec(
            x.data()[p * plane..(p + 1) * plane].to_vec(),
            &[1, 1, 12, 10],
        )
        .unwrap();
        let (sm, sidx) = single.max_pool2d_with_indices(3, 2, 1);
        assert_eq!(sm.data(), &ym.data()[p * 30..(p + 1) * 30]);
        let shifted: Vec<usize> = sidx.to_vec().iter().map(|i| i + p * plane).collect();
        assert_eq!(shifted, idx[p * 30..(p + 1) * 30]);
        assert_eq!(
            single.avg_pool2d(3, 2, 1).data(),
            &ya.data()[p * 30..(p + 1) * 30]
        );
    }
    let g = rand_t(ym.shape(), -1.0, 1.0, &mut r);
    let dx = pool::avg_pool2d_backward(x.shape(), 3, 2, 1, &g);
    // ⟨g, avg(x)⟩ = ⟨avg_backward(g), x⟩ (the op is linear).
    let lhs: f64 = g.data().iter().zip(ya.data()).map(|(a, b)| a * b).sum();
    let rhs: f64 = dx.data().iter().zip(x.data()).map(|(a, b)| a * b).sum();
    assert!((lhs - rhs).abs() < 1e-10);
}

#[test]
fn global_avg_pool_closed_form_and_gradient() {
    let x = t(&(0..12).map(f64::from).collect::<Vec<_>>(), &[1, 3, 2, 2]);
    let y = x.global_avg_pool();
    assert_eq!(y.shape(), &[1, 3]);
    assert_eq!(y.to_vec(), vec![1.5, 5.5, 9.5]);
    let dx = pool::global_avg_pool_backward(x.shape(), &t(&[4.0, 8.0, 12.0], &[1, 3]));
    assert_eq!(
        dx.to_vec(),
        vec![1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0, 3.0]
    );
    let mut r = rng(203);
    let x = rand_t(&[2, 3, 5, 7], -1.0, 1.0, &mut r);
    tape_gradcheck(&[x], |v| v[0].global_avg_pool(), &mut r);
}

#[test]
fn pooling_errors() {
    let x = Tensor::<f32>::zeros(&[2, 3, 4, 4]);
    let msg = |r: Result<Tensor<f32>, crate::tensor::ShapeError>| match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    };
    assert_eq!(
        msg(Tensor::zeros(&[3, 4, 4]).try_max_pool2d(2, 2, 0)),
        "max_pool2d: expected an input of shape [N, C, H, W], got shape [3, 4, 4]"
    );
    assert_eq!(
        msg(x.try_max_pool2d(2, 2, 2)),
        "max_pool2d: padding 2 exceeds half the kernel size 2"
    );
    assert_eq!(
        msg(x.try_avg_pool2d(0, 2, 0)),
        "avg_pool2d: kernel size 0 and stride 2 must be positive"
    );
    assert_eq!(
        msg(x.try_avg_pool2d(5, 1, 0)),
        "avg_pool2d: kernel 5x5 does not fit the padded input 4x4 of shape [2, 3, 4, 4]"
    );
    assert_eq!(
        msg(Tensor::zeros(&[2, 3]).try_global_avg_pool()),
        "global_avg_pool: expected an input of shape [N, C, H, W], got shape [2, 3]"
    );
    assert_eq!(
        msg(Tensor::zeros(&[2, 3, 0, 4]).try_global_avg_pool()),
        "global_avg_pool: cannot average over zero elements (shape [2, 3, 0, 4])"
    );
}
