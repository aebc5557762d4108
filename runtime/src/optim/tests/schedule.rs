//! The learning-rate schedules at closed-form points.

use crate::optim::schedule::{cosine, step_decay};

#[test]
fn step_decay_multiplies_by_gamma_every_step_size_epochs() {
    let lrs: Vec<f64> = (0..7).map(|e| step_decay(0.1, 0.5, 3, e)).collect();
    assert_eq!(lrs, [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]);
    assert_eq!(step_decay(0.1, 0.5, 0, 2), 0.025);
}

#[test]
fn cosine_anneals_from_base_to_min() {
    assert_eq!(cosine(0.1, 0.001, 0, 100), 0.1);
    assert!((cosine(0.1, 0.0, 50, 100) - 0.05).abs() < 1e-15);
    // cos(π/4) = √2/2: 0.001 + 0.099·(1 + √2/2)/2.
    let quarter = 0.001 + 0.099 * (1.0 + std::f64::consts::FRAC_1_SQRT_2) / 2.0;
    assert!((cosine(0.1, 0.001, 25, 100) - quarter).abs() < 1e-15);
    assert_eq!(cosine(0.1, 0.001, 100, 100), 0.001);
    assert_eq!(cosine(0.1, 0.001, 150, 100), 0.001);
    assert_eq!(cosine(0.1, 0.001, 0, 0), 0.001);
}
