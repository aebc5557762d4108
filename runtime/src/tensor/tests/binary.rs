//! `+ - * /` with broadcasting, scalar operands, compound assignment,
//! `reduce_to_shape`, and their adjoints.

use super::{assert_close, check_vjp, dim, rand_t, rng, t};
use crate::tensor::ops::{binary, broadcast, scalar};
use crate::tensor::{broadcast_shapes, reduce_to_shape, Tensor};

#[test]
fn same_shape_arithmetic() {
    let a = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let b = t(&[4.0, 3.0, 2.0, 1.0], &[2, 2]);
    assert_eq!((&a + &b).to_vec(), vec![5.0; 4]);
    assert_eq!((&a - &b).to_vec(), vec![-3.0, -1.0, 1.0, 3.0]);
    assert_eq!((&a * &b).to_vec(), vec![4.0, 6.0, 6.0, 4.0]);
    assert_eq!((&a / &b).to_vec(), vec![0.25, 2.0 / 3.0, 1.5, 4.0]);
    assert_eq!((-&a).to_vec(), vec![-1.0, -2.0, -3.0, -4.0]);
    assert_eq!((a.clone() + b.clone()).to_vec(), vec![5.0; 4]);
}

#[test]
fn broadcasting_follows_numpy() {
    let m = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    // Row vector: [[1,2,3],[4,5,6]] + [10,20,30].
    let row = t(&[10.0, 20.0, 30.0], &[3]);
    assert_eq!(
        (&m + &row).to_vec(),
        vec![11.0, 22.0, 33.0, 14.0, 25.0, 36.0]
    );
    assert_eq!((&row - &m).to_vec(), vec![9.0, 18.0, 27.0, 6.0, 15.0, 24.0]);
    // Column vector: each row scaled by its own factor.
    let col = t(&[2.0, 10.0], &[2, 1]);
    assert_eq!((&m * &col).to_vec(), vec![2.0, 4.0, 6.0, 40.0, 50.0, 60.0]);
    assert_eq!(
        (&col / &m).to_vec(),
        vec![2.0, 1.0, 2.0 / 3.0, 2.5, 2.0, 10.0 / 6.0]
    );
    // Outer sum: [2, 1] + [1, 3] -> [2, 3].
    let outer = &col + &t(&[0.0, 1.0, 2.0], &[1, 3]);
    assert_eq!(outer.shape(), &[2, 3]);
    assert_eq!(outer.to_vec(), vec![2.0, 3.0, 4.0, 10.0, 11.0, 12.0]);
    // Scalar tensors and 3-D against 2-D.
    assert_eq!(
        (&m * &Tensor::scalar(2.0)).to_vec(),
        vec![2.0, 4.0, 6.0, 8.0, 10.0, 12.0]
    );
    let cube = Tensor::<f64>::ones(&[2, 2, 3]);
    let sum = &cube + &m.reshape(&[1, 2, 3]);
    assert_eq!(sum.shape(), &[2, 2, 3]);
    assert_eq!(sum.data()[6..], [2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
    // A middle broadcast axis takes the strided path: [2, 1, 3] * [2, 2, 1].
    let mid =
        &t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 1, 3]) * &t(&[1.0, -1.0, 2.0, 0.0], &[2, 2, 1]);
    assert_eq!(
        mid.to_vec(),
        vec![1.0, 2.0, 3.0, -1.0, -2.0, -3.0, 8.0, 10.0, 12.0, 0.0, 0.0, 0.0]
    );
}

#[test]
fn scalar_operands_on_both_sides() {
    let a = t(&[1.0, 2.0, 4.0], &[3]);
    assert_eq!((&a + 1.0).to_vec(), vec![2.0, 3.0, 5.0]);
    assert_eq!((1.0 - &a).to_vec(), vec![0.0, -1.0, -3.0]);
    assert_eq!((a.clone() * 2.0).to_vec(), vec![2.0, 4.0, 8.0]);
    assert_eq!((2.0 * a.clone()).to_vec(), vec![2.0, 4.0, 8.0]);
    assert_eq!((&a / 2.0).to_vec(), vec![0.5, 1.0, 2.0]);
    assert_eq!((4.0 / &a).to_vec(), vec![4.0, 2.0, 1.0]);
    let f = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap();
    assert_eq!((3.0f32 - f).to_vec(), vec![2.0, 1.0]);
}

#[test]
fn compound_assignment_broadcasts_the_right_operand() {
    let mut a = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    a += &t(&[1.0, 1.0], &[2]);
    a *= 2.0;
    a -= t(&[1.0, 2.0], &[2, 1]);
    a /= &Tensor::scalar(2.0);
    // ((x + 1) * 2 - [[1], [2]]) / 2
    assert_eq!(a.to_vec(), vec![1.5, 2.5, 3.0, 4.0]);
    // A middle broadcast axis takes the strided path and agrees with `+`.
    let b = rand_t(&[2, 1, 3], -1.0, 1.0, &mut rng(9));
    let mut c = rand_t(&[2, 4, 3], -1.0, 1.0, &mut rng(8));
    let expected = &c + &b;
    c += &b;
    assert_eq!(c, expected);
}

#[test]
fn reduce_to_shape_sums_broadcast_axes() {
    let g = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    assert_eq!(reduce_to_shape(&g, &[3]).to_vec(), vec![5.0, 7.0, 9.0]);
    assert_eq!(reduce_to_shape(&g, &[1, 3]).shape(), &[1, 3]);
    assert_eq!(reduce_to_shape(&g, &[2, 1]).to_vec(), vec![6.0, 15.0]);
    assert_eq!(reduce_to_shape(&g, &[]).to_vec(), vec![21.0]);
    assert_eq!(reduce_to_shape(&g, &[2, 3]), g);
    let cube = Tensor::<f64>::from_vec((0..12).map(f64::from).collect(), &[2, 3, 2]).unwrap();
    // Sum over axes 0 and 2, keep axis 1: [0+1+6+7, 2+3+8+9, 4+5+10+11].
    assert_eq!(
        reduce_to_shape(&cube, &[3, 1]).to_vec(),
        vec![14.0, 22.0, 30.0]
    );
}

/// Random broadcast pairs: equal shapes, row, column, scalar and two-sided
/// broadcasts, in both orders.
fn broadcast_pairs(seed: u64) -> Vec<(Vec<usize>, Vec<usize>)> {
    let mut r = rng(seed);
    let (b, m, n) = (dim(&mut r) + 1, dim(&mut r) + 1, dim(&mut r) + 1);
    vec![
        (vec![m, n], vec![m, n]),
        (vec![m, n], vec![n]),
        (vec![m, n], vec![1, n]),
        (vec![n], vec![m, n]),
        (vec![m, n], vec![m, 1]),
        (vec![m, 1], vec![m, n]),
        (vec![m, 1], vec![1, n]),
        (vec![b, m, n], vec![m, 1]),
        (vec![b, 1, n], vec![b, m, 1]),
        (vec![b, 1, n], vec![1, m, n]),
        (vec![m, 1], vec![b, 1, 1]),
        (vec![], vec![m, n]),
        (vec![m, n], vec![1]),
    ]
}

#[test]
fn add_sub_adjoints_match_finite_differences() {
    let mut r = rng(10);
    for (sa, sb) in broadcast_pairs(11) {
        let inputs = [
            rand_t(&sa, -1.0, 1.0, &mut r),
            rand_t(&sb, -1.0, 1.0, &mut r),
        ];
        // The broadcasting loops agree with materialising both operands first.
        let out = broadcast_shapes(&sa, &sb).expect("test shapes broadcast");
        let (ea, eb) = (inputs[0].broadcast_to(&out), inputs[1].broadcast_to(&out));
        assert_eq!(&inputs[0] * &inputs[1], &ea * &eb);
        assert_eq!(&inputs[0] - &inputs[1], &ea - &eb);
        check_vjp(
            &inputs,
            |x| &x[0] + &x[1],
            |x, g| {
                let (da, db) = binary::add_backward(x[0].shape(), x[1].shape(), g);
                vec![da, db]
            },
            &mut r,
        );
        check_vjp(
            &inputs,
            |x| &x[0] - &x[1],
            |x, g| {
                let (da, db) = binary::sub_backward(x[0].shape(), x[1].shape(), g);
                vec![da, db]
            },
            &mut r,
        );
    }
}

#[test]
fn mul_div_adjoints_match_finite_differences() {
    let mut r = rng(12);
    for (sa, sb) in broadcast_pairs(13) {
        let inputs = [
            rand_t(&sa, -1.0, 1.0, &mut r),
            rand_t(&sb, 0.5, 2.0, &mut r),
        ];
        check_vjp(
            &inputs,
            |x| &x[0] * &x[1],
            |x, g| {
                let (da, db) = binary::mul_backward(&x[0], &x[1], g);
                vec![da, db]
            },
            &mut r,
        );
        check_vjp(
            &inputs,
            |x| &x[0] / &x[1],
            |x, g| {
                let (da, db) = binary::div_backward(&x[0], &x[1], g);
                vec![da, db]
            },
            &mut r,
        );
    }
}

#[test]
fn broadcast_to_and_its_adjoint() {
    let x = t(&[1.0, 2.0], &[2, 1]);
    // [[1], [2]] broadcast to [2, 3].
    assert_eq!(
        x.expand(&[2, 3]).to_vec(),
        vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    );
    assert_eq!(
        t(&[1.0, 2.0], &[2]).broadcast_to(&[2, 2]).to_vec(),
        vec![1.0, 2.0, 1.0, 2.0]
    );
    assert_eq!(x.broadcast_to(&[3, 2, 2]).shape(), &[3, 2, 2]);
    let mut r = rng(14);
    for (from, to) in [
        (vec![3, 1], vec![2, 3, 4]),
        (vec![4], vec![3, 4]),
        (vec![2, 1], vec![2, 5]),
        (vec![], vec![2]),
    ] {
        let inputs = [rand_t(&from, -1.0, 1.0, &mut r)];
        check_vjp(
            &inputs,
            |x| x[0].broadcast_to(&to),
            |x, g| vec![broadcast::broadcast_to_backward(x[0].shape(), g)],
            &mut r,
        );
    }
}

/// A tensor–scalar op, `f(x, s)`.
type ScalarForward = fn(&Tensor<f64>, f64) -> Tensor<f64>;

/// Its adjoint, `(x, s, g) -> (dx, ds)`.
type ScalarBackward = fn(&Tensor<f64>, f64, &Tensor<f64>) -> (Tensor<f64>, f64);

#[test]
fn scalar_op_adjoints_match_finite_differences() {
    let mut r = rng(15);
    let shape = [dim(&mut r), dim(&mut r)];
    let x = rand_t(&shape, 0.5, 2.0, &mut r);
    let s = Tensor::scalar(1.7);
    let inputs = [x, s];
    let cases: [(ScalarForward, ScalarBackward); 6] = [
        (scalar::add_scalar, |_, _, g| scalar::add_scalar_backward(g)),
        (scalar::sub_scalar, |_, _, g| scalar::sub_scalar_backward(g)),
        (
            |x, s| scalar::rsub_scalar(s, x),
            |_, _, g| scalar::rsub_scalar_backward(g),
        ),
        (scalar::mul_scalar, scalar::mul_scalar_backward),
        (scalar::div_scalar, scalar::div_scalar_backward),
        (
            |x, s| scalar::rdiv_scalar(s, x),
            |x, s, g| scalar::rdiv_scalar_backward(s, x, g),
        ),
    ];
    for (forward, backward) in cases {
        check_vjp(
            &inputs,
            |x| forward(&x[0], x[1].item()),
            |x, g| {
                let (dx, ds) = backward(&x[0], x[1].item(), g);
                vec![dx, Tensor::scalar(ds)]
            },
            &mut r,
        );
    }
    // Closed form: d/ds Σ w ⊙ (x / s) = -Σ w x / s².
    let (x, w) = (t(&[1.0, 2.0], &[2]), t(&[3.0, 4.0], &[2]));
    let (dx, ds) = scalar::div_scalar_backward(&x, 2.0, &w);
    assert_close(dx.data(), &[1.5, 2.0], 1e-15);
    assert_close(&[ds], &[-(3.0 + 8.0) / 4.0], 1e-15);
}
