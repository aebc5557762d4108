//! Counter-based dropout: expected value, the mask shared by the forward
//! and backward passes, seeds, gradients through the tape, and errors.

use super::{rand_t, rng, tape_gradcheck};
use crate::tape::Graph;
use crate::tensor::ops::dropout::{dropout_backward, dropout_keeps, dropout_uniform};
use crate::tensor::Tensor;

/// Which elements a dropout output zeroed (for inputs without zeros).
fn zeroed(y: &Tensor<f64>) -> Vec<bool> {
    y.data().iter().map(|&v| v == 0.0).collect()
}

#[test]
fn dropout_preserves_the_expected_value() {
    let mut r = rng(400);
    let n = 200_000;
    let x = rand_t(&[n], 0.5, 1.5, &mut r);
    for (p, seed) in [(0.1, 1), (0.5, 2), (0.9, 3)] {
        let y = x.dropout(p, seed);
        // E[y_i] = x_i, so the means agree up to sampling noise: the
        // standard error of the mean is about sqrt(p / (1 - p) / n) ≤ 0.007.
        assert!(
            (y.mean() - x.mean()).abs() < 0.03,
            "p = {p}: {} vs {}",
            y.mean(),
            x.mean()
        );
        // The kept fraction is 1 - p, and survivors are x / (1 - p).
        let kept = zeroed(&y).iter().filter(|&&z| !z).count() as f64 / n as f64;
        assert!((kept - (1.0 - p)).abs() < 0.01, "p = {p}: kept {kept}");
        for (i, (&yv, &xv)) in y.data().iter().zip(x.data()).enumerate() {
            assert!(
                yv == 0.0 || (yv - xv / (1.0 - p)).abs() < 1e-12,
                "element {i}"
            );
        }
    }
    // The uniform draws themselves are spread evenly over [0, 1).
    let mut bins = [0usize; 10];
    for i in 0..100_000 {
        let u = dropout_uniform(9, i);
        assert!((0.0..1.0).contains(&u));
        bins[(u * 10.0) as usize] += 1;
    }
    assert!(
        bins.iter().all(|&b| (9_500..10_500).contains(&b)),
        "{bins:?}"
    );
}

#[test]
fn dropout_backward_uses_the_forward_mask() {
    let mut r = rng(401);
    let x = rand_t(&[4, 250], 0.5, 1.5, &mut r);
    let graph = Graph::new();
    let xv = graph.leaf(x.clone());
    let y = xv.dropout(0.3, 42);
    let g = rand_t(&[4, 250], 0.5, 1.5, &mut r);
    let loss = (&y * &graph.constant(g.clone())).sum();
    let dx = loss.backward().wrt(&xv);
    // Zeros exactly where the forward pass zeroed, g / (1 - p) elsewhere.
    assert_eq!(zeroed(&dx), zeroed(y.value()));
    assert!(zeroed(y.value()).iter().any(|&z| z));
    for i in 0..x.len() {
        let keep = dropout_keeps(0.3, 42, i);
        assert_eq!(y.value().data()[i] != 0.0, keep);
        let expected = if keep { g.data()[i] / 0.7 } else { 0.0 };
        assert!((dx.data()[i] - expected).abs() < 1e-12);
    }
    assert_eq!(dropout_backward(0.3, 42, &g), dx);
}

#[test]
fn dropout_masks_depend_only_on_the_seed() {
    let x = Tensor::<f64>::ones(&[10_000]);
    let a = x.dropout(0.5, 7);
    assert_eq!(zeroed(&a), zeroed(&x.dropout(0.5, 7)));
    // The mask is per index, whatever the shape.
    assert_eq!(zeroed(&a), zeroed(&x.reshape(&[100, 100]).dropout(0.5, 7)));
    for other in [8, 7 ^ (1 << 40), u64::MAX] {
        let b = x.dropout(0.5, other);
        let differ = zeroed(&a)
            .iter()
            .zip(zeroed(&b))
            .filter(|(p, q)| **p != *q)
            .count();
        // Independent masks differ in about half the elements.
        assert!((4_000..6_000).contains(&differ), "seed {other}: {differ}");
    }
    // f32 uses the same mask.
    let xf = Tensor::<f32>::ones(&[10_000]);
    let af: Vec<bool> = xf
        .dropout(0.5, 7)
        .data()
        .iter()
        .map(|&v| v == 0.0)
        .collect();
    assert_eq!(af, zeroed(&a));
}

#[test]
fn dropout_p_zero_is_the_identity_and_p_is_checked() {
    let mut r = rng(402);
    let x = rand_t(&[3, 5], -1.0, 1.0, &mut r);
    assert_eq!(x.dropout(0.0, 5), x);
    for p in [1.0, -0.1, 1.5, f64::NAN] {
        assert_eq!(
            x.try_dropout(p, 5).map_err(|e| e.to_string()),
            Err(format!("dropout: drop probability {p} is not in [0, 1)"))
        );
    }
    let panic = std::panic::catch_unwind(|| dropout_backward(1.0, 5, &x))
        .expect_err("p = 1 panics in the backward too");
    assert_eq!(
        panic.downcast_ref::<String>().map(String::as_str),
        Some("dropout_backward: drop probability 1 is not in [0, 1)")
    );
}

#[test]
fn dropout_gradients_match_finite_differences() {
    let mut r = rng(403);
    let x = rand_t(&[2, 3, 5, 7], -1.0, 1.0, &mut r);
    tape_gradcheck(&[x], |v| v[0].dropout(0.4, 11).square(), &mut r);
}
