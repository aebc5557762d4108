//! Per-channel normalization with training-set statistics.

use crate::data::normalize_channels;
use crate::tensor::{ShapeError, Tensor};

/// An `f32` tensor from literal data.
fn t(data: &[f32], shape: &[usize]) -> Tensor<f32> {
    Tensor::from_vec(data.to_vec(), shape).expect("test tensor data fits its shape")
}

/// Asserts two slices agree to within `1e-6`.
fn assert_close(actual: &[f32], expected: &[f32]) {
    assert_eq!(actual.len(), expected.len());
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!((a - e).abs() < 1e-6, "element {i}: {a} vs {e}");
    }
}

#[test]
fn uses_train_statistics_per_channel() {
    // Two images of two channels of two pixels: channel 0 holds 1, 3, 5, 7
    // (mean 4, std √5), channel 1 holds 10, 10, 20, 20 (mean 15, std 5).
    let mut train = t(&[1.0, 3.0, 10.0, 10.0, 5.0, 7.0, 20.0, 20.0], &[2, 2, 2]);
    let mut test = t(&[4.0, 6.0, 15.0, 25.0], &[1, 2, 2]);
    let stats = normalize_channels(&mut train, &mut test, 2).expect("valid shapes");
    assert_close(&stats.mean, &[4.0, 15.0]);
    assert_close(&stats.std, &[5f32.sqrt(), 5.0]);
    let s = 5f32.sqrt();
    assert_close(
        train.data(),
        &[-3.0 / s, -1.0 / s, -1.0, -1.0, 1.0 / s, 3.0 / s, 1.0, 1.0],
    );
    assert_close(test.data(), &[0.0, 2.0 / s, 0.0, 2.0]);
}

#[test]
fn flat_images_are_one_channel() {
    let mut train = t(&[0.0, 1.0, 1.0, 0.0], &[2, 2]);
    let mut test = t(&[0.5, 1.0], &[1, 2]);
    let stats = normalize_channels(&mut train, &mut test, 1).expect("valid shapes");
    assert_close(&stats.mean, &[0.5]);
    assert_close(&stats.std, &[0.5]);
    assert_close(train.data(), &[-1.0, 1.0, 1.0, -1.0]);
    assert_close(test.data(), &[0.0, 1.0]);
}

#[test]
fn rejects_wrong_channel_count() {
    let mut train = Tensor::<f32>::zeros(&[2, 3, 4, 4]);
    let mut test = Tensor::<f32>::zeros(&[1, 3, 4, 4]);
    let err = normalize_channels(&mut train, &mut test, 1).expect_err("3 channels, not 1");
    assert_eq!(
        err.to_string(),
        "normalize_channels: shape [2, 3, 4, 4] does not have 1 channels \
         (expected [n, 1, ...] or [n, d] with 1 channel)"
    );
}

#[test]
fn rejects_test_shaped_unlike_train() {
    let mut train = t(&[0.0, 1.0, 2.0, 3.0], &[2, 2]);
    let mut test = t(&[0.0, 1.0, 2.0], &[1, 3]);
    let err = normalize_channels(&mut train, &mut test, 1).expect_err("2 vs 3 pixels");
    assert!(matches!(err, ShapeError::Mismatch { .. }));
    assert_eq!(train.data(), &[0.0, 1.0, 2.0, 3.0], "left unchanged");
}

#[test]
fn rejects_empty_and_constant_training_sets() {
    let mut empty = Tensor::<f32>::zeros(&[0, 2]);
    let mut test = t(&[0.0, 1.0], &[1, 2]);
    let err = normalize_channels(&mut empty, &mut test, 1).expect_err("no images");
    assert!(matches!(err, ShapeError::Empty { .. }));

    let mut constant = t(&[0.0, 1.0, 2.0, 2.0, 0.0, 1.0, 2.0, 2.0], &[2, 2, 2]);
    let mut test = t(&[0.0; 4], &[1, 2, 2]);
    let err = normalize_channels(&mut constant, &mut test, 2).expect_err("channel 1 constant");
    assert_eq!(
        err.to_string(),
        "normalize_channels: channel 1 of the training set has standard deviation 0, \
         so it cannot be standardized"
    );
}
