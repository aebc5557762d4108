//! Matrix products and their adjoints.

use super::{check_vjp, dim, rand_t, rng, t};
use crate::tensor::ops::matmul::matmul_backward;
use crate::tensor::Tensor;

#[test]
fn matmul_2d_closed_form() {
    // [[1,2,3],[4,5,6]] · [[1,0],[0,1],[1,1]] = [[1+3, 2+3], [4+6, 5+6]].
    let a = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let b = t(&[1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2]);
    let c = a.matmul(&b);
    assert_eq!(c.shape(), &[2, 2]);
    assert_eq!(c.to_vec(), vec![4.0, 5.0, 10.0, 11.0]);
    // f32 goes through the same kernel.
    let af = Tensor::from_vec(vec![1.0f32, 2.0], &[1, 2]).unwrap();
    let bf = Tensor::from_vec(vec![3.0f32, 4.0], &[2, 1]).unwrap();
    assert_eq!(af.matmul(&bf).to_vec(), vec![11.0]);
}

#[test]
fn matmul_batched_closed_form() {
    // Batch 0: I · B0 = B0; batch 1: 2I · B1 = 2 B1.
    let a = t(&[1.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 2.0], &[2, 2, 2]);
    let b = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], &[2, 2, 2]);
    assert_eq!(
        a.matmul(&b).to_vec(),
        vec![1.0, 2.0, 3.0, 4.0, 10.0, 12.0, 14.0, 16.0]
    );
    // [b, m, k] x [k, n]: one weight for every batch: rows times [1, 1]ᵀ are row sums.
    let w = t(&[1.0, 1.0], &[2, 1]);
    let y = b.matmul(&w);
    assert_eq!(y.shape(), &[2, 2, 1]);
    assert_eq!(y.to_vec(), vec![3.0, 7.0, 11.0, 15.0]);
}

#[test]
fn matmul_adjoint_closed_form() {
    // dA = G Bᵀ, dB = Aᵀ G with G all ones: dA rows are B's row sums, dB rows are A's column sums.
    let a = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let b = t(&[5.0, 6.0, 7.0, 8.0], &[2, 2]);
    let (da, db) = matmul_backward(&a, &b, &Tensor::ones(&[2, 2]));
    assert_eq!(da.to_vec(), vec![11.0, 15.0, 11.0, 15.0]);
    assert_eq!(db.to_vec(), vec![4.0, 4.0, 6.0, 6.0]);
}

#[test]
fn matmul_adjoints_match_finite_differences() {
    let mut r = rng(20);
    for _ in 0..3 {
        let (bt, m, k, n) = (dim(&mut r), dim(&mut r), dim(&mut r), dim(&mut r));
        for (sa, sb) in [
            (vec![m, k], vec![k, n]),
            (vec![bt, m, k], vec![bt, k, n]),
            (vec![bt, m, k], vec![k, n]),
        ] {
            let inputs = [
                rand_t(&sa, -1.0, 1.0, &mut r),
                rand_t(&sb, -1.0, 1.0, &mut r),
            ];
            check_vjp(
                &inputs,
                |x| x[0].matmul(&x[1]),
                |x, g| {
                    let (da, db) = matmul_backward(&x[0], &x[1], g);
                    vec![da, db]
                },
                &mut r,
            );
        }
    }
}

#[test]
fn matmul_of_large_matrices_matches_a_naive_loop() {
    let mut r = rng(21);
    let (m, k, n) = (37, 129, 65);
    let a = rand_t(&[m, k], -1.0, 1.0, &mut r);
    let b = rand_t(&[k, n], -1.0, 1.0, &mut r);
    let c = a.matmul(&b);
    for i in 0..m {
        for j in 0..n {
            let expected: f64 = (0..k)
                .map(|p| a.data()[i * k + p] * b.data()[p * n + j])
                .sum();
            assert!((c.data()[i * n + j] - expected).abs() < 1e-12);
        }
    }
}
