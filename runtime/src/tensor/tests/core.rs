//! Constructors, accessors, copy-on-write, initialisers and printing.

use super::{rng, t};
use crate::tensor::Tensor;

#[test]
fn constructors_and_accessors() {
    let x = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    assert_eq!(x.shape(), &[2, 3]);
    assert_eq!(x.strides(), vec![3, 1]);
    assert_eq!((x.ndim(), x.len(), x.is_empty()), (2, 6, false));
    assert_eq!(x.data(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(Tensor::<f32>::zeros(&[2, 2]).to_vec(), vec![0.0; 4]);
    assert_eq!(Tensor::<f32>::ones(&[3]).to_vec(), vec![1.0; 3]);
    assert_eq!(Tensor::full(&[2], 7.5f64).to_vec(), vec![7.5, 7.5]);
    assert_eq!(Tensor::<f64>::zeros(&[2, 3, 4]).strides(), vec![12, 4, 1]);
    let s = Tensor::scalar(3.0f32);
    assert_eq!((s.shape(), s.ndim(), s.item()), (&[][..], 0, 3.0));
    assert_eq!(Tensor::from(vec![1.0f32, 2.0]).shape(), &[2]);
    assert!(Tensor::<f32>::zeros(&[0, 3]).is_empty());
}

#[test]
fn item_takes_any_one_element_shape() {
    assert_eq!(t(&[4.0], &[1, 1]).item(), 4.0);
    assert!(t(&[1.0, 2.0], &[2]).try_item().is_err());
}

#[test]
#[should_panic(expected = "item: expected exactly one element, got shape [2]")]
fn item_panics_with_the_shape() {
    t(&[1.0, 2.0], &[2]).item();
}

#[test]
fn clones_share_storage_until_written() {
    let a = t(&[1.0, 2.0], &[2]);
    let mut b = a.clone();
    assert!(std::ptr::eq(a.data().as_ptr(), b.data().as_ptr()));
    b.data_mut()[0] = 9.0;
    assert_eq!(a.to_vec(), vec![1.0, 2.0]);
    assert_eq!(b.to_vec(), vec![9.0, 2.0]);
    // A uniquely held tensor is updated in place.
    let before = b.data().as_ptr();
    b.data_mut()[1] = 8.0;
    assert!(std::ptr::eq(before, b.data().as_ptr()));
    assert_eq!(b.into_vec(), vec![9.0, 8.0]);
}

#[test]
fn owned_operands_are_updated_in_place() {
    let a = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let before = a.data().as_ptr();
    let c = a + &t(&[10.0, 20.0], &[2]);
    assert!(std::ptr::eq(before, c.data().as_ptr()));
    assert_eq!(c.to_vec(), vec![11.0, 22.0, 13.0, 24.0]);
}

#[test]
fn random_constructors_have_the_right_moments() {
    let mut r = rng(1);
    let n = 20_000;
    let x = Tensor::<f64>::randn(&[n], &mut r);
    let mean = x.mean();
    let var = x
        .data()
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum::<f64>()
        / n as f64;
    assert!(
        mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
        "mean {mean}, var {var}"
    );

    let u = Tensor::<f32>::uniform(&[n], -2.0, 3.0, &mut r);
    assert!(u.data().iter().all(|&v| (-2.0..3.0).contains(&v)));
    assert!((u.mean() - 0.5).abs() < 0.05);

    // Glorot: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)) = sqrt(6 / 400).
    let g = Tensor::<f64>::glorot_uniform(300, 100, &mut r);
    let limit = (6.0f64 / 400.0).sqrt();
    assert_eq!(g.shape(), &[300, 100]);
    assert!(g.data().iter().all(|v| v.abs() <= limit));
    assert!(g.max() > 0.95 * limit);

    // He: N(0, 2 / fan_in), so the variance is 2 / 200 = 0.01.
    let h = Tensor::<f64>::he_normal(200, 100, &mut r);
    let var = h.data().iter().map(|v| v * v).sum::<f64>() / h.len() as f64;
    assert!((var - 0.01).abs() < 0.0005, "var {var}");
}

#[test]
fn seeded_generators_reproduce() {
    let a = Tensor::<f32>::randn(&[5], &mut rng(7));
    let b = Tensor::<f32>::randn(&[5], &mut rng(7));
    assert_eq!(a, b);
}

#[test]
fn display_matches_numpy() {
    let x = t(&[1.0, -2.5, 0.125, 3.0], &[2, 2]);
    assert_eq!(x.to_string(), "[[ 1.0000, -2.5000],\n [ 0.1250,  3.0000]]");
    assert_eq!(Tensor::scalar(2.0f32).to_string(), "2.0000");
    assert_eq!(t(&[1.0, 2.0], &[2]).to_string(), "[1.0000, 2.0000]");
    let cube = Tensor::<f64>::from_vec((0..8).map(f64::from).collect(), &[2, 2, 2]).unwrap();
    assert_eq!(
        cube.to_string(),
        "[[[0.0000, 1.0000],\n  [2.0000, 3.0000]],\n\n [[4.0000, 5.0000],\n  [6.0000, 7.0000]]]"
    );
    assert_eq!(Tensor::<f32>::zeros(&[0]).to_string(), "[]");
    assert_eq!(t(&[1e-6, 2.0], &[2]).to_string(), "[1.0000e-6,  2.0000e0]");
}

#[test]
fn display_elides_large_tensors() {
    let long = Tensor::<f64>::from_vec((0..2000).map(f64::from).collect(), &[2000]).unwrap();
    assert_eq!(
        long.to_string(),
        "[   0.0000,    1.0000,    2.0000, ..., 1997.0000, 1998.0000, 1999.0000]"
    );
    let wide = Tensor::<f64>::zeros(&[100, 100]);
    let text = wide.to_string();
    assert_eq!(text.lines().count(), 7);
    assert!(text.starts_with("[[0.0000, 0.0000, 0.0000, ..., 0.0000, 0.0000, 0.0000],\n [0.0000"));
    assert!(text.contains("\n ...,\n"));
}

#[test]
fn debug_shows_the_shape() {
    let x = t(&[1.0, 2.0], &[1, 2]);
    assert_eq!(
        format!("{x:?}"),
        "Tensor { shape: [1, 2], data: [[1.0000, 2.0000]] }"
    );
}
