//! Each optimiser against its paper's update rule written out over plain
//! `f64` arrays, for several steps with changing gradients.

use super::{check_against_reference, model_start};
use crate::optim::{schedule, Adagrad, Adam, AdamW, Optimizer, RmsProp, Sgd};
use crate::tensor::Tensor;

#[test]
fn sgd_without_momentum_is_gradient_descent() {
    let final_w = check_against_reference(&mut Sgd::new(0.1), 4, |w, g, _| {
        for i in 0..w.len() {
            w[i] -= 0.1 * g[i];
        }
    });
    // First element: 0.5 − 0.1·0.3·(1.3 + 1.6 − 1.9 + 2.2).
    assert!((final_w[0] - (0.5 - 0.1 * 0.3 * 3.2)).abs() < 1e-12);
}

#[test]
fn sgd_with_momentum_follows_pytorch() {
    let mut v = [0.0; 7];
    let mut opt = Sgd::new(0.05).with_momentum(0.9);
    check_against_reference(&mut opt, 5, |w, g, _| {
        for i in 0..w.len() {
            v[i] = 0.9 * v[i] + g[i];
            w[i] -= 0.05 * v[i];
        }
    });
}

#[test]
fn sgd_with_nesterov_and_weight_decay_follows_pytorch() {
    let mut v = [0.0; 7];
    let mut opt = Sgd::new(0.05)
        .with_momentum(0.8)
        .with_nesterov(true)
        .with_weight_decay(0.01);
    check_against_reference(&mut opt, 5, |w, g, _| {
        for i in 0..w.len() {
            let d = g[i] + 0.01 * w[i];
            v[i] = 0.8 * v[i] + d;
            w[i] -= 0.05 * (d + 0.8 * v[i]);
        }
    });
}

#[test]
fn plain_sgd_applies_weight_decay() {
    let mut opt = Sgd::new(0.1).with_weight_decay(0.5);
    check_against_reference(&mut opt, 3, |w, g, _| {
        for i in 0..w.len() {
            w[i] -= 0.1 * (g[i] + 0.5 * w[i]);
        }
    });
}

#[test]
fn adagrad_follows_duchi_et_al() {
    let mut sum_sq = [0.0; 7];
    check_against_reference(&mut Adagrad::new(0.3), 5, |w, g, _| {
        for i in 0..w.len() {
            sum_sq[i] += g[i] * g[i];
            w[i] -= 0.3 * g[i] / (sum_sq[i].sqrt() + 1e-10);
        }
    });
}

#[test]
fn adagrad_first_step_moves_each_weight_by_about_lr() {
    let w = check_against_reference(&mut Adagrad::new(0.3), 1, |w, g, _| {
        for i in 0..w.len() {
            w[i] -= 0.3 * g[i] / (g[i].abs() + 1e-10);
        }
    });
    let moved: Vec<f64> = w.iter().zip(model_start()).map(|(a, b)| b - a).collect();
    // g₁ = [0.39, -1.56, -0, 3.25, 0.065, 0.91, 1.43]: each nonzero
    // coordinate steps by lr against its sign, the zero one stays.
    let expected = [0.3, -0.3, 0.0, 0.3, 0.3, 0.3, 0.3];
    for (m, e) in moved.iter().zip(expected) {
        assert!((m - e).abs() < 1e-9, "{moved:?}");
    }
}

#[test]
fn rmsprop_follows_tieleman_and_hinton() {
    let mut mean_sq = [0.0; 7];
    let mut opt = RmsProp::new(0.01).with_alpha(0.9).with_eps(1e-6);
    check_against_reference(&mut opt, 5, |w, g, _| {
        for i in 0..w.len() {
            mean_sq[i] = 0.9 * mean_sq[i] + (1.0 - 0.9) * g[i] * g[i];
            w[i] -= 0.01 * g[i] / (mean_sq[i].sqrt() + 1e-6);
        }
    });
}

#[test]
fn rmsprop_defaults_are_pytorchs() {
    let opt = RmsProp::<f32>::new(0.01);
    assert_eq!((opt.alpha, opt.eps), (0.99, 1e-8));
    let mut mean_sq = [0.0; 7];
    check_against_reference(&mut RmsProp::new(0.01), 4, |w, g, _| {
        for i in 0..w.len() {
            mean_sq[i] = 0.99 * mean_sq[i] + (1.0 - 0.99) * g[i] * g[i];
            w[i] -= 0.01 * g[i] / (mean_sq[i].sqrt() + 1e-8);
        }
    });
}

/// Kingma & Ba 2014, Algorithm 1, with L2 decay `wd` added to the gradient
/// and learning rate `lr(t)`.
fn adam_reference(wd: f64, lr: impl Fn(usize) -> f64) -> impl FnMut(&mut [f64], &[f64], usize) {
    let (beta1, beta2, eps) = (0.9_f64, 0.999_f64, 1e-8);
    let mut m = [0.0; 7];
    let mut v = [0.0; 7];
    move |w, g, t| {
        for i in 0..w.len() {
            let g = g[i] + wd * w[i];
            m[i] = beta1 * m[i] + (1.0 - beta1) * g;
            v[i] = beta2 * v[i] + (1.0 - beta2) * g * g;
            let m_hat = m[i] / (1.0 - beta1.powi(t as i32));
            let v_hat = v[i] / (1.0 - beta2.powi(t as i32));
            w[i] -= lr(t) * m_hat / (v_hat.sqrt() + eps);
        }
    }
}

#[test]
fn adam_follows_kingma_and_ba_algorithm_1() {
    let mut opt = Adam::new(0.01);
    check_against_reference(&mut opt, 5, adam_reference(0.0, |_| 0.01));
    assert_eq!(opt.steps(), 5);
    assert_eq!((opt.beta1, opt.beta2, opt.eps), (0.9, 0.999, 1e-8));
}

#[test]
fn adam_with_l2_weight_decay_adds_it_to_the_gradient() {
    let mut opt = Adam::new(0.02).with_weight_decay(0.1);
    check_against_reference(&mut opt, 5, adam_reference(0.1, |_| 0.02));
}

#[test]
fn adam_uses_the_learning_rate_set_between_steps() {
    /// Adam whose learning rate follows a step decay over the epochs,
    /// set through the `Optimizer` trait before each step.
    struct Scheduled(Adam<f64>, usize);
    impl Optimizer<Model> for Scheduled {
        fn step(&mut self, params: &mut Model, grads: &Model) {
            let lr = schedule::step_decay(0.1, 0.5, 2, self.1);
            Optimizer::<Model>::set_learning_rate(&mut self.0, lr);
            assert_eq!(Optimizer::<Model>::learning_rate(&self.0), lr);
            self.1 += 1;
            self.0.step(params, grads);
        }
        fn learning_rate(&self) -> f64 {
            self.0.learning_rate()
        }
        fn set_learning_rate(&mut self, lr: f64) {
            self.0.set_learning_rate(lr);
        }
        fn state(&self, params: &Model) -> crate::optim::OptimizerState<f64> {
            self.0.state(params)
        }
        fn load_state(
            &mut self,
            params: &Model,
            state: crate::optim::OptimizerState<f64>,
        ) -> Result<(), crate::optim::StateError> {
            self.0.load_state(params, state)
        }
    }
    type Model = Vec<Tensor<f64>>;
    // Epochs 0..5 → 0.1, 0.1, 0.05, 0.05, 0.025.
    let lr = |t: usize| [0.1, 0.1, 0.05, 0.05, 0.025][t - 1];
    let mut opt = Scheduled(Adam::new(1.0), 0);
    check_against_reference(&mut opt, 5, adam_reference(0.0, lr));
    assert_eq!(opt.0.learning_rate(), 0.025);
}

#[test]
fn adamw_decouples_weight_decay() {
    let (beta1, beta2, eps, lr, wd) = (0.8_f64, 0.99_f64, 1e-7, 0.01, 0.2);
    let mut m = [0.0; 7];
    let mut v = [0.0; 7];
    let mut opt = AdamW::new(lr)
        .with_betas(beta1, beta2)
        .with_eps(eps)
        .with_weight_decay(wd);
    check_against_reference(&mut opt, 5, |w, g, t| {
        for i in 0..w.len() {
            m[i] = beta1 * m[i] + (1.0 - beta1) * g[i];
            v[i] = beta2 * v[i] + (1.0 - beta2) * g[i] * g[i];
            let m_hat = m[i] / (1.0 - beta1.powi(t as i32));
            let v_hat = v[i] / (1.0 - beta2.powi(t as i32));
            w[i] -= lr * wd * w[i] + lr * m_hat / (v_hat.sqrt() + eps);
        }
    });
}

#[test]
fn adamw_without_decay_is_adam() {
    let mut opt = AdamW::new(0.01).with_weight_decay(0.0);
    assert_eq!(AdamW::<f64>::new(0.01).weight_decay, 0.01);
    check_against_reference(&mut opt, 5, adam_reference(0.0, |_| 0.01));
}
