//! The optimisers' panics on mismatched gradients and models, and
//! copy-on-write of shared parameters.

use super::model;
use crate::optim::{Adam, Optimizer, Sgd};
use crate::tensor::Tensor;

#[test]
#[should_panic(expected = "optimizer gradient: shapes [3] and [4] differ")]
fn gradient_of_another_shape_panics() {
    let mut params = vec![Tensor::<f64>::zeros(&[3])];
    Sgd::new(0.1).step(&mut params, &vec![Tensor::zeros(&[4])]);
}

#[test]
#[should_panic(expected = "a Vec of 1 against one of 2")]
fn gradient_of_another_structure_panics() {
    let mut params = vec![Tensor::<f64>::zeros(&[3])];
    Adam::new(0.1).step(&mut params, &vec![Tensor::zeros(&[3]); 2]);
}

#[test]
#[should_panic(expected = "optimizer state: shapes [2] and [3] differ")]
fn state_of_another_model_panics() {
    let mut opt = Adam::new(0.1);
    let mut a = vec![Tensor::<f64>::zeros(&[3])];
    let g = a.clone();
    opt.step(&mut a, &g);
    let mut b = vec![Tensor::<f64>::zeros(&[2])];
    let g = b.clone();
    opt.step(&mut b, &g);
}

#[test]
#[should_panic(expected = "optimizer state was created for a model of 1 tensors, not more")]
fn model_larger_than_the_state_panics() {
    let mut opt = Sgd::new(0.1).with_momentum(0.9);
    let mut a = vec![Tensor::<f64>::zeros(&[3])];
    let g = a.clone();
    opt.step(&mut a, &g);
    let mut b = vec![Tensor::<f64>::zeros(&[3]); 2];
    let g = b.clone();
    opt.step(&mut b, &g);
}

#[test]
#[should_panic(expected = "optimizer state was created for a model of 2 tensors, not 1")]
fn model_smaller_than_the_state_panics() {
    let mut opt = Sgd::new(0.1).with_momentum(0.9);
    let mut a = vec![Tensor::<f64>::zeros(&[3]); 2];
    let g = a.clone();
    opt.step(&mut a, &g);
    let mut b = vec![Tensor::<f64>::zeros(&[3])];
    let g = b.clone();
    opt.step(&mut b, &g);
}

#[test]
fn step_leaves_clones_of_the_parameters_alone() {
    let start = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
    let mut params = model(&start);
    let snapshot = params.clone();
    let grads = model(&[1.0; 7]);
    Adam::new(0.1).step(&mut params, &grads);
    assert_eq!(super::flatten(&snapshot), start);
    // Adam's first step moves each weight by lr·g/(|g| + eps/…) ≈ lr.
    for (w, s) in super::flatten(&params).iter().zip(start) {
        assert!((s - w - 0.1).abs() < 1e-7, "{w} from {s}");
    }
    assert_eq!(grads[0].data(), [1.0; 3]);
}
