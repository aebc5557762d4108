//! Transpose, reshape, squeeze/unsqueeze, select, slice, concat and their adjoints.

use super::{check_vjp, dim, rand_t, rng, t};
use crate::tensor::ops::{index, reshape, transpose};
use crate::tensor::{concat, Tensor};

#[test]
fn transpose_closed_form() {
    // [[1,2,3],[4,5,6]]ᵀ = [[1,4],[2,5],[3,6]].
    let x = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let y = x.t();
    assert_eq!(y.shape(), &[3, 2]);
    assert_eq!(y.to_vec(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    assert_eq!(y.t(), x);
    // Swapping axes 0 and 2 of a [2, 1, 3] tensor: y[k, 0, i] = x[i, 0, k].
    let z = x.reshape(&[2, 1, 3]).transpose(0, 2);
    assert_eq!(z.shape(), &[3, 1, 2]);
    assert_eq!(z.to_vec(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    assert_eq!(x.transpose(1, 1), x);
    // Larger than one tile, so the blocked copy crosses tile edges.
    let big = Tensor::<f64>::from_vec((0..70 * 45).map(f64::from).collect(), &[70, 45]).unwrap();
    let bt = big.t();
    assert_eq!(bt.data()[3 * 70 + 50], big.data()[50 * 45 + 3]);
}

#[test]
fn transpose_adjoints_match_finite_differences() {
    let mut r = rng(30);
    let shape = [dim(&mut r), dim(&mut r) + 1, dim(&mut r)];
    let inputs = [rand_t(&shape, -1.0, 1.0, &mut r)];
    for (a0, a1) in [(0, 1), (1, 2), (0, 2)] {
        check_vjp(
            &inputs,
            |x| x[0].transpose(a0, a1),
            |_, g| vec![transpose::transpose_backward(a0, a1, g)],
            &mut r,
        );
    }
    check_vjp(
        &inputs,
        |x| x[0].t(),
        |_, g| vec![transpose::t_backward(g)],
        &mut r,
    );
}

#[test]
fn reshape_squeeze_unsqueeze_share_storage() {
    let x = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let y = x.reshape(&[3, 1, 2]);
    assert!(std::ptr::eq(x.data().as_ptr(), y.data().as_ptr()));
    assert_eq!(y.squeeze(1).shape(), &[3, 2]);
    assert_eq!(x.unsqueeze(0).shape(), &[1, 2, 3]);
    assert_eq!(x.unsqueeze(2).shape(), &[2, 3, 1]);
    let mut r = rng(31);
    let inputs = [rand_t(&[2, 1, 3], -1.0, 1.0, &mut r)];
    check_vjp(
        &inputs,
        |x| x[0].reshape(&[3, 2]),
        |x, g| vec![reshape::reshape_backward(x[0].shape(), g)],
        &mut r,
    );
    check_vjp(
        &inputs,
        |x| x[0].squeeze(1),
        |x, g| vec![reshape::squeeze_backward(x[0].shape(), g)],
        &mut r,
    );
    check_vjp(
        &inputs,
        |x| x[0].unsqueeze(3),
        |x, g| vec![reshape::unsqueeze_backward(x[0].shape(), g)],
        &mut r,
    );
}

#[test]
fn select_gathers_and_its_adjoint_scatter_adds() {
    let x = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]);
    // Rows 2, 0, 2 of [[1,2],[3,4],[5,6]].
    let rows = x.select(0, &[2, 0, 2]);
    assert_eq!(rows.shape(), &[3, 2]);
    assert_eq!(rows.to_vec(), vec![5.0, 6.0, 1.0, 2.0, 5.0, 6.0]);
    assert_eq!(x.index_select(1, &[1]).to_vec(), vec![2.0, 4.0, 6.0]);
    // Row 2 was picked twice, so it collects both gradients; row 1 none.
    let dx = index::select_backward(x.shape(), 0, &[2, 0, 2], &Tensor::<f64>::ones(&[3, 2]));
    assert_eq!(dx.to_vec(), vec![1.0, 1.0, 0.0, 0.0, 2.0, 2.0]);
    let mut r = rng(32);
    let shape = [dim(&mut r) + 2, dim(&mut r), dim(&mut r)];
    let inputs = [rand_t(&shape, -1.0, 1.0, &mut r)];
    for (axis, &len) in shape.iter().enumerate() {
        let indices = [0, len - 1, 0];
        check_vjp(
            &inputs,
            |x| x[0].select(axis, &indices),
            |x, g| vec![index::select_backward(x[0].shape(), axis, &indices, g)],
            &mut r,
        );
    }
}

#[test]
fn slice_and_its_adjoint() {
    let x = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    assert_eq!(x.slice(1, 1..3).to_vec(), vec![2.0, 3.0, 5.0, 6.0]);
    assert_eq!(x.slice(0, 1..2).to_vec(), vec![4.0, 5.0, 6.0]);
    assert_eq!(x.slice(1, 2..2).shape(), &[2, 0]);
    let dx = index::slice_backward(x.shape(), 1, 1..3, &Tensor::<f64>::ones(&[2, 2]));
    assert_eq!(dx.to_vec(), vec![0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    let mut r = rng(33);
    let inputs = [rand_t(&[3, 4, 2], -1.0, 1.0, &mut r)];
    for (axis, range) in [(0, 1..3), (1, 0..2), (2, 1..2)] {
        check_vjp(
            &inputs,
            |x| x[0].slice(axis, range.clone()),
            |x, g| vec![index::slice_backward(x[0].shape(), axis, range.clone(), g)],
            &mut r,
        );
    }
}

#[test]
fn concat_and_its_adjoint() {
    let a = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let b = t(&[5.0, 6.0], &[2, 1]);
    // [[1,2],[3,4]] ++ [[5],[6]] along axis 1 = [[1,2,5],[3,4,6]].
    let c = concat(&[&a, &b], 1);
    assert_eq!(c.shape(), &[2, 3]);
    assert_eq!(c.to_vec(), vec![1.0, 2.0, 5.0, 3.0, 4.0, 6.0]);
    let rows = concat(&[&a, &a.slice(0, 0..1)], 0);
    assert_eq!(rows.to_vec(), vec![1.0, 2.0, 3.0, 4.0, 1.0, 2.0]);
    let mut r = rng(34);
    for axis in 0..3 {
        let mut s1 = vec![2, 3, 2];
        let mut s2 = s1.clone();
        s1[axis] = 1;
        s2[axis] = 3;
        let inputs = [
            rand_t(&s1, -1.0, 1.0, &mut r),
            rand_t(&s2, -1.0, 1.0, &mut r),
        ];
        check_vjp(
            &inputs,
            |x| concat(&[&x[0], &x[1]], axis),
            |x, g| index::concat_backward(&[x[0].shape()[axis], x[1].shape()[axis]], axis, g),
            &mut r,
        );
    }
}
