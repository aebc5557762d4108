//! Batch normalisation: training statistics, evaluation with running
//! statistics, the running-statistics update, gradients through the tape,
//! and errors.

use super::{assert_close, rand_t, rng, t, tape_gradcheck};
use crate::tape::Graph;
use crate::tensor::ops::batch_norm::{
    batch_norm_backward, batch_norm_eval_backward, update_running_stats,
};
use crate::tensor::Tensor;

/// The mean and biased variance of channel `ch` of an `[N, C, S...]` buffer.
fn channel_moments(x: &Tensor<f64>, ch: usize) -> (f64, f64) {
    let (n, c) = (x.shape()[0], x.shape()[1]);
    let s = x.len() / (n * c);
    let vals: Vec<f64> = (0..n)
        .flat_map(|b| x.data()[(b * c + ch) * s..(b * c + ch + 1) * s].to_vec())
        .collect();
    let m = vals.len() as f64;
    let mean = vals.iter().sum::<f64>() / m;
    let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / m;
    (mean, var)
}

#[test]
fn train_mode_normalises_each_channel() {
    let mut r = rng(300);
    for shape in [vec![4, 3, 5, 7], vec![16, 5]] {
        let c = shape[1];
        let x = &rand_t(&shape, -2.0, 3.0, &mut r) * 4.0;
        let (y, stats) = x.batch_norm_with_stats(&Tensor::ones(&[c]), &Tensor::zeros(&[c]), 1e-12);
        assert_eq!(y.shape(), x.shape());
        assert_eq!(stats.count, x.len() / c);
        for ch in 0..c {
            let (mean, var) = channel_moments(&y, ch);
            assert!(mean.abs() < 1e-12, "channel {ch} mean {mean}");
            assert!((var - 1.0).abs() < 1e-9, "channel {ch} variance {var}");
            // The statistics are the input's (biased variance).
            let (xm, xv) = channel_moments(&x, ch);
            assert!((stats.mean.data()[ch] - xm).abs() < 1e-12);
            assert!((stats.var.data()[ch] - xv).abs() < 1e-12);
            assert!((stats.inv_std.data()[ch] - 1.0 / (xv + 1e-12).sqrt()).abs() < 1e-9);
        }
        // γ and β scale and shift each channel.
        let gamma = Tensor::full(&[c], 2.0);
        let beta = Tensor::full(&[c], -1.0);
        let (z, _) = x.batch_norm_with_stats(&gamma, &beta, 1e-12);
        assert_close(z.data(), (&(&y * 2.0) - 1.0).data(), 1e-12);
    }
}

#[test]
fn train_mode_closed_form() {
    // One channel holding 1, 3 (N = 2, 1×1 planes): mean 2, variance 1.
    let x = t(&[1.0, 3.0], &[2, 1, 1, 1]);
    let (y, stats) = x.batch_norm_with_stats(&t(&[3.0], &[1]), &t(&[0.5], &[1]), 0.0);
    assert_eq!(y.to_vec(), vec![-2.5, 3.5]);
    assert_eq!(
        (stats.mean.to_vec(), stats.var.to_vec()),
        (vec![2.0], vec![1.0])
    );
}

#[test]
fn train_mode_gradients_match_finite_differences() {
    let mut r = rng(301);
    for shape in [vec![3, 2, 3, 4], vec![2, 3, 5, 7], vec![6, 4]] {
        let c = shape[1];
        let inputs = [
            rand_t(&shape, -1.0, 1.0, &mut r),
            rand_t(&[c], 0.5, 1.5, &mut r),
            rand_t(&[c], -0.5, 0.5, &mut r),
        ];
        tape_gradcheck(&inputs, |v| v[0].batch_norm(&v[1], &v[2], 1e-5).0, &mut r);
    }
}

#[test]
fn train_mode_backward_formulas_and_needs() {
    let mut r = rng(302);
    let x = rand_t(&[3, 2, 2, 2], -1.0, 1.0, &mut r);
    let gamma = rand_t(&[2], 0.5, 1.5, &mut r);
    let (y, stats) = x.batch_norm_with_stats(&gamma, &Tensor::zeros(&[2]), 1e-5);
    let g = rand_t(y.shape(), -1.0, 1.0, &mut r);
    let (dx, dgamma, dbeta) = batch_norm_backward(&x, &gamma, &stats, &g, [true, true, true]);
    let (dx, dgamma, dbeta) = (dx.unwrap(), dgamma.unwrap(), dbeta.unwrap());
    // dβ = Σ dy and dγ = Σ dy · x̂ per channel (x̂ = y / γ here, β = 0).
    for ch in 0..2 {
        let (mut sg, mut sgx) = (0.0, 0.0);
        for b in 0..3 {
            for k in 0..4 {
                let i = (b * 2 + ch) * 4 + k;
                sg += g.data()[i];
                sgx += g.data()[i] * y.data()[i] / gamma.data()[ch];
            }
        }
        assert!((dbeta.data()[ch] - sg).abs() < 1e-12);
        assert!((dgamma.data()[ch] - sgx).abs() < 1e-12);
        // Σ dx = 0 per channel: the mean is subtracted.
        let sdx: f64 = (0..3)
            .flat_map(|b| dx.data()[(b * 2 + ch) * 4..(b * 2 + ch + 1) * 4].to_vec())
            .sum();
        assert!(sdx.abs() < 1e-12, "Σ dx = {sdx}");
    }
    let (dx_only, none1, none2) = batch_norm_backward(&x, &gamma, &stats, &g, [true, false, false]);
    assert!(none1.is_none() && none2.is_none());
    assert_eq!(dx_only.unwrap(), dx);
}

#[test]
fn eval_mode_uses_the_running_statistics() {
    let x = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]);
    let gamma = t(&[2.0, 1.0], &[2]);
    let beta = t(&[0.0, 1.0], &[2]);
    let rm = t(&[1.0, -1.0], &[2]);
    let rv = t(&[4.0, 0.25], &[2]);
    let y = x.batch_norm_eval(&gamma, &beta, &rm, &rv, 0.0);
    // Channel 0: 2 (x - 1) / 2; channel 1: (x + 1) / 0.5 + 1.
    assert_eq!(y.to_vec(), vec![0.0, 7.0, 2.0, 11.0, 4.0, 15.0]);
    // Unlike training mode, the batch's own statistics play no part: the
    // output's channels are not centred.
    let (train, _) = x.batch_norm_with_stats(&gamma, &beta, 0.0);
    assert_ne!(train, y);
    let g = t(&[1.0, 1.0, 2.0, 1.0, 3.0, 1.0], &[3, 2]);
    let (dx, dg, db) = batch_norm_eval_backward(&x, &gamma, &rm, &rv, 0.0, &g, [true; 3]);
    assert_eq!(dx.unwrap().to_vec(), vec![1.0, 2.0, 2.0, 2.0, 3.0, 2.0]);
    // dγ = Σ g x̂: channel 0 x̂ = 0, 1, 2; channel 1 x̂ = 6, 10, 14.
    assert_eq!(dg.unwrap().to_vec(), vec![8.0, 30.0]);
    assert_eq!(db.unwrap().to_vec(), vec![6.0, 3.0]);
}

#[test]
fn eval_mode_gradients_match_finite_differences() {
    let mut r = rng(303);
    for shape in [vec![2, 3, 5, 7], vec![5, 3]] {
        let inputs = [
            rand_t(&shape, -1.0, 1.0, &mut r),
            rand_t(&[3], 0.5, 1.5, &mut r),
            rand_t(&[3], -0.5, 0.5, &mut r),
        ];
        let rm = rand_t(&[3], -0.2, 0.2, &mut r);
        let rv = rand_t(&[3], 0.5, 2.0, &mut r);
        tape_gradcheck(
            &inputs,
            |v| v[0].batch_norm_eval(&v[1], &v[2], &rm, &rv, 1e-5),
            &mut r,
        );
    }
}

#[test]
fn running_statistics_update_with_unbiased_variance() {
    // One channel, values 1, 2, 3, 6 over N = 2 and 1×2 planes: mean 3,
    // biased variance 3.5, unbiased 14/3.
    let x = t(&[1.0, 2.0, 3.0, 6.0], &[2, 1, 1, 2]);
    let graph = Graph::new();
    let (xv, gv, bv) = (
        graph.constant(x),
        graph.leaf(Tensor::ones(&[1])),
        graph.leaf(Tensor::zeros(&[1])),
    );
    let (_, stats) = xv.batch_norm(&gv, &bv, 1e-5);
    assert_eq!(stats.var.to_vec(), vec![3.5]);
    let mut rm = Tensor::zeros(&[1]);
    let mut rv = Tensor::ones(&[1]);
    update_running_stats(&mut rm, &mut rv, &stats, 0.1).expect("matching shapes");
    assert_close(rm.data(), &[0.1 * 3.0], 1e-15);
    assert_close(rv.data(), &[0.9 + 0.1 * 14.0 / 3.0], 1e-15);
    // Momentum 1 replaces the running values by the batch's.
    update_running_stats(&mut rm, &mut rv, &stats, 1.0).expect("matching shapes");
    assert_close(rm.data(), &[3.0], 1e-15);
    assert_close(rv.data(), &[14.0 / 3.0], 1e-15);
    let mut wrong = Tensor::zeros(&[2]);
    assert_eq!(
        update_running_stats(&mut wrong, &mut rv, &stats, 0.1).map_err(|e| e.to_string()),
        Err("update_running_stats: shapes [2] and [1] differ".to_string())
    );
}

#[test]
fn batch_norm_errors_name_the_op_and_shapes() {
    let x = Tensor::<f32>::zeros(&[2, 3, 4, 4]);
    let msg = |r: Result<(Tensor<f32>, _), crate::tensor::ShapeError>| match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    };
    assert_eq!(
        msg(x.try_batch_norm(&Tensor::ones(&[4]), &Tensor::zeros(&[3]), 1e-5)),
        "batch_norm: per-channel parameters must have shape [3]: [2, 3, 4, 4] and [4]"
    );
    assert_eq!(
        msg(Tensor::zeros(&[2, 3, 4]).try_batch_norm(
            &Tensor::ones(&[3]),
            &Tensor::zeros(&[3]),
            1e-5
        )),
        "batch_norm: expected an input of shape [N, C] or [N, C, H, W], got shape [2, 3, 4]"
    );
    assert_eq!(
        msg(Tensor::zeros(&[0, 3]).try_batch_norm(&Tensor::ones(&[3]), &Tensor::zeros(&[3]), 1e-5)),
        "batch_norm: cannot normalise over zero elements (shape [0, 3])"
    );
}
