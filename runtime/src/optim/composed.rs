//! SGD, RMSprop and Adagrad composed of tensor ops, for parameters on a
//! device (where every op used here runs; Adam has a kernel of its own):
//! the same updates as the host loops, checked against them on the CPU.

use crate::tensor::ops::scalar::{add_scalar, mul_scalar};
use crate::tensor::{Device, Element, Tensor};

/// Whether `w` lives on a device, where the updates below replace the
/// host loops.
pub(super) fn on_device<E: Element>(w: &Tensor<E>) -> bool {
    w.device() != Device::Cpu
}

/// SGD with weight decay `wd` and, given a velocity, (Nesterov) momentum
/// `mu`: `g ← g + wd·w`, `v ← mu·v + g`, `w ← w − lr·(g + mu·v or v)`.
pub(super) fn sgd<E: Element>(
    w: &mut Tensor<E>,
    g: &Tensor<E>,
    velocity: Option<&mut Tensor<E>>,
    (lr, mu, wd): (E, E, E),
    nesterov: bool,
) {
    let g = &mul_scalar(w, wd) + g;
    let update = match velocity {
        None => g,
        Some(v) => {
            *v = &mul_scalar(v, mu) + &g;
            if nesterov {
                &g + &mul_scalar(v, mu)
            } else {
                v.clone()
            }
        }
    };
    *w = &*w - &mul_scalar(&update, lr);
}

/// RMSprop: `e ← α·e + (1 − α)·g²`, `w ← w − lr·g / (√e + ε)`.
pub(super) fn rmsprop<E: Element>(
    w: &mut Tensor<E>,
    g: &Tensor<E>,
    e: &mut Tensor<E>,
    (lr, alpha, eps): (E, E, E),
) {
    *e = &mul_scalar(e, alpha) + &mul_scalar(&g.square(), E::one() - alpha);
    *w = &*w - &(&mul_scalar(g, lr) / &add_scalar(&e.sqrt(), eps));
}

/// Adagrad: `s ← s + g²`, `w ← w − lr·g / (√s + ε)`.
pub(super) fn adagrad<E: Element>(
    w: &mut Tensor<E>,
    g: &Tensor<E>,
    s: &mut Tensor<E>,
    (lr, eps): (E, E),
) {
    *s = &*s + &g.square();
    *w = &*w - &(&mul_scalar(g, lr) / &add_scalar(&s.sqrt(), eps));
}

#[cfg(test)]
mod tests {
    use crate::optim::{Adagrad, Optimizer, RmsProp, Sgd};
    use crate::tensor::Tensor;
    use rand::{rngs::StdRng, SeedableRng};

    fn close(a: &Tensor<f64>, b: &Tensor<f64>) {
        for (x, y) in a.data().iter().zip(b.data()) {
            assert!((x - y).abs() <= 1e-12 * y.abs().max(1.0), "{x} vs {y}");
        }
    }

    /// Three steps of each optimiser: the compositions the device runs give
    /// the host loops' parameters and state.
    #[test]
    fn the_compositions_update_as_the_host_loops_do() {
        let mut rng = StdRng::seed_from_u64(12);
        let w0 = Tensor::<f64>::randn(&[5, 3], &mut rng);
        let grads: Vec<Tensor<f64>> = (0..3).map(|_| Tensor::randn(&[5, 3], &mut rng)).collect();
        for (momentum, nesterov) in [(0.0, false), (0.9, false), (0.9, true)] {
            let mut opt = Sgd::new(0.1)
                .with_momentum(momentum)
                .with_nesterov(nesterov)
                .with_weight_decay(0.01);
            let mut host = vec![w0.clone()];
            let (mut w, mut v) = (w0.clone(), Tensor::zeros(&[5, 3]));
            for g in &grads {
                opt.step(&mut host, &vec![g.clone()]);
                let velocity = (momentum != 0.0).then_some(&mut v);
                super::sgd(&mut w, g, velocity, (0.1, momentum, 0.01), nesterov);
            }
            close(&w, &host[0]);
        }
        let (mut rms, mut ada) = (RmsProp::new(0.01), Adagrad::new(0.1));
        let (mut host_r, mut host_a) = (vec![w0.clone()], vec![w0.clone()]);
        let (mut wr, mut e) = (w0.clone(), Tensor::zeros(&[5, 3]));
        let (mut wa, mut s) = (w0.clone(), Tensor::zeros(&[5, 3]));
        for g in &grads {
            rms.step(&mut host_r, &vec![g.clone()]);
            ada.step(&mut host_a, &vec![g.clone()]);
            super::rmsprop(&mut wr, g, &mut e, (0.01, 0.99, 1e-8));
            super::adagrad(&mut wa, g, &mut s, (0.1, 1e-10));
        }
        close(&wr, &host_r[0]);
        close(&wa, &host_a[0]);
    }
}
