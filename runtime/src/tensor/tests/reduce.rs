//! Reductions and their adjoints.

use super::{check_scalar_vjp, check_vjp, dim, rand_t, rng, t};
use crate::tensor::ops::reduce;
use crate::tensor::Tensor;

#[test]
fn whole_tensor_reductions() {
    let x = t(&[1.0, 5.0, -2.0, 5.0], &[2, 2]);
    assert_eq!(x.sum(), 9.0);
    assert_eq!(x.mean(), 2.25);
    assert_eq!(x.max(), 5.0);
    // The gradient of max goes to the first of the tied maxima only.
    assert_eq!(
        reduce::max_backward(&x, 2.0).to_vec(),
        vec![0.0, 2.0, 0.0, 0.0]
    );
    assert_eq!(reduce::sum_backward(&[2], 3.0).to_vec(), vec![3.0, 3.0]);
    assert_eq!(reduce::mean_backward(&[2, 2], 1.0).to_vec(), vec![0.25; 4]);
    // Long sums use eight lanes; Σ 1..=1000 = 500500.
    let long = Tensor::<f32>::from_vec((1..=1000).map(|i| i as f32).collect(), &[1000]).unwrap();
    assert_eq!(long.sum(), 500_500.0);
}

#[test]
fn axis_reductions() {
    // [[1, 2, 3], [4, 5, 0]]
    let x = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 0.0], &[2, 3]);
    assert_eq!(x.sum_axis(0, false).to_vec(), vec![5.0, 7.0, 3.0]);
    assert_eq!(x.sum_axis(1, false).to_vec(), vec![6.0, 9.0]);
    assert_eq!(x.sum_axis(1, true).shape(), &[2, 1]);
    assert_eq!(x.sum_axis(0, true).shape(), &[1, 3]);
    assert_eq!(x.mean_axis(0, false).to_vec(), vec![2.5, 3.5, 1.5]);
    assert_eq!(x.mean_axis(1, false).to_vec(), vec![2.0, 3.0]);
    assert_eq!(x.max_axis(0, false).to_vec(), vec![4.0, 5.0, 3.0]);
    assert_eq!(x.max_axis(1, true).to_vec(), vec![3.0, 5.0]);
    assert_eq!(x.argmax_axis(1), vec![2, 1]);
    assert_eq!(x.argmax_axis(0), vec![1, 1, 0]);
    let cube = Tensor::<f64>::from_vec((0..12).map(f64::from).collect(), &[2, 3, 2]).unwrap();
    // Middle axis: [[0+2+4, 1+3+5], [6+8+10, 7+9+11]].
    assert_eq!(cube.sum_axis(1, false).to_vec(), vec![6.0, 9.0, 24.0, 27.0]);
    assert_eq!(cube.max_axis(1, false).to_vec(), vec![4.0, 5.0, 10.0, 11.0]);
}

#[test]
fn max_axis_adjoint_routes_to_the_first_argmax() {
    let x = t(&[3.0, 1.0, 3.0, 2.0, 7.0, 7.0], &[2, 3]);
    let dx = reduce::max_axis_backward(&x, 1, &t(&[10.0, 20.0], &[2]));
    assert_eq!(dx.to_vec(), vec![10.0, 0.0, 0.0, 0.0, 20.0, 0.0]);
}

#[test]
fn adjoints_match_finite_differences() {
    let mut r = rng(50);
    let shape = [dim(&mut r) + 1, dim(&mut r) + 1, dim(&mut r)];
    let inputs = [rand_t(&shape, -1.0, 1.0, &mut r)];
    check_scalar_vjp(
        &inputs,
        |x| x[0].sum(),
        |x, g| vec![reduce::sum_backward(x[0].shape(), g)],
        &mut r,
    );
    check_scalar_vjp(
        &inputs,
        |x| x[0].mean(),
        |x, g| vec![reduce::mean_backward(x[0].shape(), g)],
        &mut r,
    );
    check_scalar_vjp(
        &inputs,
        |x| x[0].max(),
        |x, g| vec![reduce::max_backward(&x[0], g)],
        &mut r,
    );
    for axis in 0..3 {
        for keepdim in [false, true] {
            check_vjp(
                &inputs,
                |x| x[0].sum_axis(axis, keepdim),
                |x, g| vec![reduce::sum_axis_backward(x[0].shape(), axis, g)],
                &mut r,
            );
            check_vjp(
                &inputs,
                |x| x[0].mean_axis(axis, keepdim),
                |x, g| vec![reduce::mean_axis_backward(x[0].shape(), axis, g)],
                &mut r,
            );
            check_vjp(
                &inputs,
                |x| x[0].max_axis(axis, keepdim),
                |x, g| vec![reduce::max_axis_backward(&x[0], axis, g)],
                &mut r,
            );
        }
    }
}
