//! softmax, log_softmax, the losses, normalize and dropout, and their adjoints.

use super::{assert_close, check_scalar_vjp, check_vjp, dim, rand_t, rng, t};
use crate::tensor::ops::{dropout, loss, normalize, softmax};
use crate::tensor::{cross_entropy, l1, mse, Tensor};

#[test]
fn softmax_closed_form() {
    // softmax([0, ln 3]) = [1/4, 3/4]; adding a constant changes nothing.
    let x = t(&[0.0, 3f64.ln(), 1000.0, 1000.0 + 3f64.ln()], &[2, 2]);
    // (1000 + ln 3 is itself rounded by ~1e-13, hence the tolerance.)
    assert_close(x.softmax(1).data(), &[0.25, 0.75, 0.25, 0.75], 1e-12);
    assert_close(
        x.log_softmax(1).data(),
        &[0.25f64.ln(), 0.75f64.ln(), 0.25f64.ln(), 0.75f64.ln()],
        1e-12,
    );
    // Along axis 0 the columns [0, 1000] and [ln 3, 1000 + ln 3] saturate.
    assert_close(x.softmax(0).data(), &[0.0, 0.0, 1.0, 1.0], 1e-14);
    let cube = rand_t(&[2, 3, 4], -1.0, 1.0, &mut rng(60));
    let s = cube.softmax(1).sum_axis(1, false);
    assert_close(s.data(), &[1.0; 8], 1e-14);
}

#[test]
fn softmax_adjoints_match_finite_differences() {
    let mut r = rng(61);
    let shape = [dim(&mut r) + 1, dim(&mut r) + 1, dim(&mut r) + 1];
    let inputs = [rand_t(&shape, -2.0, 2.0, &mut r)];
    for axis in 0..3 {
        check_vjp(
            &inputs,
            |x| x[0].softmax(axis),
            |x, g| vec![softmax::softmax_backward(&x[0].softmax(axis), axis, g)],
            &mut r,
        );
        check_vjp(
            &inputs,
            |x| x[0].log_softmax(axis),
            |x, g| {
                vec![softmax::log_softmax_backward(
                    &x[0].log_softmax(axis),
                    axis,
                    g,
                )]
            },
            &mut r,
        );
    }
}

#[test]
fn cross_entropy_closed_form() {
    // Row 0: logits [0, ln 3] and class 1: -ln(3/4). Row 1: equal logits over 2 classes: ln 2.
    let x = t(&[0.0, 3f64.ln(), 5.0, 5.0], &[2, 2]);
    let expected = (-(0.75f64.ln()) + 2f64.ln()) / 2.0;
    assert_close(&[cross_entropy(&x, &[1, 0])], &[expected], 1e-14);
    let one_hot = t(&[0.0, 1.0, 1.0, 0.0], &[2, 2]);
    assert_close(&[cross_entropy(&x, &one_hot)], &[expected], 1e-14);
    // Adjoint: (softmax - onehot) / n.
    let dx = loss::cross_entropy_backward(&x, &vec![1, 0], 1.0);
    assert_close(dx.data(), &[0.125, -0.125, -0.25, 0.25], 1e-14);
    // Huge logits stay finite.
    let big = Tensor::from_vec(vec![1000.0f32, -1000.0], &[1, 2]).unwrap();
    assert_eq!(cross_entropy(&big, &[0]), 0.0);
}

#[test]
fn losses_closed_form() {
    let a = t(&[1.0, 2.0, 3.0], &[3]);
    let b = t(&[1.0, 0.0, 4.0], &[3]);
    // mse = (0 + 4 + 1) / 3, l1 = (0 + 2 + 1) / 3.
    assert_close(&[mse(&a, &b)], &[5.0 / 3.0], 1e-15);
    assert_close(&[l1(&a, &b)], &[1.0], 1e-15);
    let (da, db) = loss::mse_backward(&a, &b, 1.0);
    assert_close(da.data(), &[0.0, 4.0 / 3.0, -2.0 / 3.0], 1e-15);
    assert_close(db.data(), &[0.0, -4.0 / 3.0, 2.0 / 3.0], 1e-15);
    let (da, _) = loss::l1_backward(&a, &b, 3.0);
    assert_eq!(da.to_vec(), vec![0.0, 1.0, -1.0]);
}

#[test]
fn loss_adjoints_match_finite_differences() {
    let mut r = rng(62);
    let (n, c) = (dim(&mut r) + 1, dim(&mut r) + 1);
    let logits = [rand_t(&[n, c], -2.0, 2.0, &mut r)];
    let classes: Vec<usize> = (0..n).map(|i| i % c).collect();
    check_scalar_vjp(
        &logits,
        |x| cross_entropy(&x[0], &classes),
        |x, g| vec![loss::cross_entropy_backward(&x[0], &classes, g)],
        &mut r,
    );
    // Soft targets whose rows do not sum to 1 exercise the Σ p term.
    let probs = rand_t(&[n, c], 0.0, 1.0, &mut r);
    check_scalar_vjp(
        &logits,
        |x| cross_entropy(&x[0], &probs),
        |x, g| vec![loss::cross_entropy_backward(&x[0], &probs, g)],
        &mut r,
    );
    let pair = [
        rand_t(&[n, c], -1.0, 1.0, &mut r),
        rand_t(&[n, c], -1.0, 1.0, &mut r),
    ];
    check_scalar_vjp(
        &pair,
        |x| mse(&x[0], &x[1]),
        |x, g| {
            let (da, db) = loss::mse_backward(&x[0], &x[1], g);
            vec![da, db]
        },
        &mut r,
    );
    check_scalar_vjp(
        &pair,
        |x| l1(&x[0], &x[1]),
        |x, g| {
            let (da, db) = loss::l1_backward(&x[0], &x[1], g);
            vec![da, db]
        },
        &mut r,
    );
}

#[test]
fn normalize_closed_form_and_adjoint() {
    // Rows [1, 3] / 4 and [2, 2] / 4; columns [1, 2] / 3 and [3, 2] / 5.
    let x = t(&[1.0, 3.0, 2.0, 2.0], &[2, 2]);
    assert_eq!(x.normalize(1).to_vec(), vec![0.25, 0.75, 0.5, 0.5]);
    assert_close(
        x.normalize(0).data(),
        &[1.0 / 3.0, 0.6, 2.0 / 3.0, 0.4],
        1e-15,
    );
    let mut r = rng(63);
    let inputs = [rand_t(&[3, 4, 2], 0.5, 2.0, &mut r)];
    for axis in 0..3 {
        check_vjp(
            &inputs,
            |x| x[0].normalize(axis),
            |x, g| vec![normalize::normalize_backward(&x[0], axis, g)],
            &mut r,
        );
    }
}

#[test]
fn dropout_is_inverted_and_its_mask_is_regenerated() {
    let mut r = rng(64);
    let x = Tensor::<f64>::ones(&[10_000]);
    let y = x.dropout(0.25, 7);
    // Survivors are scaled by 1 / (1 - p) = 4/3, so the mean stays near 1.
    assert!(y
        .data()
        .iter()
        .all(|&v| v == 0.0 || (v - 4.0 / 3.0).abs() < 1e-15));
    assert!((y.mean() - 1.0).abs() < 0.05);
    // The adjoint is g times the same mask, regenerated from (p, seed).
    let g = rand_t(&[10_000], -1.0, 1.0, &mut r);
    assert_eq!(dropout::dropout_backward(0.25, 7, &g), &g * &y);
    // p = 0 is the identity both ways.
    assert_eq!(x.dropout(0.0, 7), x);
    assert_eq!(dropout::dropout_backward(0.0, 7, &g), g);
}
