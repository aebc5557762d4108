//! Issue 8, defect 5: a gradient of the wrong shape is never silently
//! replaced. Unused parameters get zeros of their own shape; a computed
//! gradient whose shape differs from its parameter's is an internal error
//! naming the parameter and both shapes.

use adjoint::prelude::*;

#[derive(Parameters, Clone)]
struct TwoLayers {
    used: Tensor<f64>,
    unused: Tensor<f64>,
    layers: Vec<Tensor<f64>>,
}

/// `spare` is an active argument the function never reads.
#[differentiable]
#[allow(unused_variables)]
fn uses_some(p: &TwoLayers, x: &Tensor<f64>, spare: &Tensor<f64>) -> f64 {
    (x.matmul(&p.used) + &p.layers[1]).square().sum()
}

#[test]
fn unused_parameters_get_zeros_of_their_shape() {
    let p = TwoLayers {
        used: Tensor::full(&[3, 2], 0.5),
        unused: Tensor::full(&[4, 5], 1.0),
        layers: vec![Tensor::full(&[7], 1.0), Tensor::full(&[2], 0.25)],
    };
    let x = Tensor::full(&[1, 3], 1.0);
    let spare = Tensor::full(&[2, 2], 3.0);
    let g = uses_some_grad(&p, &x, &spare);
    // y = x·used + b = 1.5 + 0.25 per column; ∂/∂b = 2y = 3.5.
    assert_eq!(g.p.layers[1].data(), &[3.5, 3.5]);
    assert_eq!(g.p.used.data(), &[3.5; 6]);
    assert_eq!(g.p.unused.shape(), &[4, 5]);
    assert!(g.p.unused.data().iter().all(|v| *v == 0.0));
    assert_eq!(g.p.layers[0].shape(), &[7]);
    assert!(g.p.layers[0].data().iter().all(|v| *v == 0.0));
    assert_eq!(g.spare.shape(), &[2, 2]);
    assert!(g.spare.data().iter().all(|v| *v == 0.0));
}

#[test]
#[should_panic(
    expected = "the gradient of `p.w` has shape [2, 3] but the parameter has shape [3, 2]"
)]
fn a_wrongly_shaped_gradient_is_an_internal_error() {
    let wrong = Tensor::<f64>::zeros(&[2, 3]);
    let _ = adjoint::params::checked_gradient("p.w", wrong, &[3, 2]);
}

#[test]
#[should_panic(
    expected = "the gradient of `p.layers.1` has shape [3] but the parameter has shape [2]"
)]
fn a_wrongly_shaped_model_gradient_is_an_internal_error() {
    let model = vec![Tensor::<f64>::zeros(&[7]), Tensor::zeros(&[2])];
    let grad = vec![Tensor::<f64>::zeros(&[7]), Tensor::zeros(&[3])];
    let _ = adjoint::params::checked_model_gradient("p.layers", grad, &model);
}
