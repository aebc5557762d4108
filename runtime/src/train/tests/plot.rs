use super::scratch;
use crate::train::plot::{plot_curves, PlotError};

/// The width and height stored in a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    (be(16), be(20))
}

#[test]
fn writes_an_800_by_500_png_with_text() {
    let dir = scratch("plot");
    let path = dir.join("loss.png");
    let train = [0.9, 0.5, 0.3, 0.2];
    let test = [0.95, 0.6, f64::NAN, 0.25];
    plot_curves(&path, "loss", &[("train", &train), ("test", &test)], "loss").expect("plot");
    let bytes = std::fs::read(&path).expect("read");
    assert_eq!(png_size(&bytes), (800, 500));
    assert!(
        bytes.len() > 5_000,
        "a plot with text and lines, not a blank image: {} bytes",
        bytes.len()
    );
}

#[test]
fn a_single_epoch_and_a_constant_series_plot() {
    let dir = scratch("plot_single");
    let path = dir.join("one.png");
    plot_curves(&path, "one", &[("acc", &[0.5])], "accuracy").expect("plot");
    assert_eq!(png_size(&std::fs::read(&path).expect("read")), (800, 500));
}

#[test]
fn no_finite_value_is_an_error() {
    let dir = scratch("plot_empty");
    let err = plot_curves(dir.join("e.png"), "e", &[("x", &[f64::NAN])], "y").expect_err("empty");
    assert!(matches!(err, PlotError::NoData { .. }), "{err}");
}
