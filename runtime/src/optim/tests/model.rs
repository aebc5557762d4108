//! A hand-written (no `#[derive]`) `f32` model: linear regression fitted by
//! each optimiser through its own `Parameters` implementation.

use crate::optim::{Adam, AdamW, Optimizer, Sgd};
use crate::params::{with_segment, MapFn, Parameters, ZipFn};
use crate::tensor::Tensor;

/// `y = x·w + b` with the weights as a `Vec` of per-output columns.
#[derive(Clone, Debug)]
struct Linear {
    columns: Vec<Tensor<f32>>,
    bias: Tensor<f32>,
}

impl Parameters for Linear {
    type Elem = f32;

    fn visit(&self, path: &mut String, f: &mut dyn FnMut(&str, &Tensor<f32>)) {
        with_segment(path, "columns", |path| self.columns.visit(path, f));
        with_segment(path, "bias", |path| self.bias.visit(path, f));
    }

    fn visit_mut(&mut self, path: &mut String, f: &mut dyn FnMut(&str, &mut Tensor<f32>)) {
        with_segment(path, "columns", |path| self.columns.visit_mut(path, f));
        with_segment(path, "bias", |path| self.bias.visit_mut(path, f));
    }

    fn zip_mut(&mut self, other: &Self, f: &mut ZipFn<'_, f32>) {
        self.columns.zip_mut(&other.columns, f);
        self.bias.zip_mut(&other.bias, f);
    }

    fn map(&self, f: &mut MapFn<'_, f32>) -> Self {
        Self {
            columns: self.columns.map(f),
            bias: f(&self.bias),
        }
    }
}

/// Inputs of the regression: 8 points in 3 dimensions.
const X: [[f32; 3]; 8] = [
    [1.0, 0.0, 0.5],
    [0.0, 1.0, -0.5],
    [1.0, 1.0, 0.0],
    [-1.0, 0.5, 1.0],
    [0.5, -1.0, 0.25],
    [0.0, 0.0, 1.0],
    [2.0, -0.5, -1.0],
    [-0.5, 1.5, 0.5],
];

/// The true weights (one column per output) and biases.
const W: [[f32; 3]; 2] = [[1.5, -2.0, 0.5], [-1.0, 0.25, 3.0]];
const B: [f32; 2] = [0.5, -1.0];

/// The gradient of the mean squared error `½·mean ‖x·w + b − y‖²` against
/// targets made by the true weights.
fn gradient(model: &Linear) -> Linear {
    let mut grad = model.zeros_like();
    for x in X {
        for (k, column) in model.columns.iter().enumerate() {
            let w = column.data();
            let predicted: f32 = (0..3).map(|j| x[j] * w[j]).sum::<f32>() + model.bias.data()[k];
            let target: f32 = (0..3).map(|j| x[j] * W[k][j]).sum::<f32>() + B[k];
            let r = (predicted - target) / X.len() as f32;
            for (j, g) in grad.columns[k].data_mut().iter_mut().enumerate() {
                *g += r * x[j];
            }
            grad.bias.data_mut()[k] += r;
        }
    }
    grad
}

/// Fits the regression from zero with `opt` and returns the largest error
/// of a learned weight or bias.
fn fit(opt: &mut impl Optimizer<Linear>, steps: usize) -> f32 {
    let mut model = Linear {
        columns: vec![Tensor::zeros(&[3]); 2],
        bias: Tensor::zeros(&[2]),
    };
    for _ in 0..steps {
        let grad = gradient(&model);
        opt.step(&mut model, &grad);
    }
    let learned = model.columns.iter().flat_map(|c| c.data().iter());
    let weights = learned.zip(W.iter().flatten());
    let biases = model.bias.data().iter().zip(&B);
    weights
        .chain(biases)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

#[test]
fn hand_written_f32_model_is_fitted_by_sgd() {
    let worst = fit(&mut Sgd::new(0.3).with_momentum(0.5), 500);
    assert!(worst < 1e-4, "{worst}");
}

#[test]
fn hand_written_f32_model_is_fitted_by_adam() {
    let mut opt = Adam::new(0.05);
    let mut worst = fit(&mut opt, 1500);
    assert_eq!(opt.steps(), 1500);
    assert!(worst < 1e-3, "{worst}");
    worst = fit(&mut AdamW::new(0.05).with_weight_decay(0.0), 1500);
    assert!(worst < 1e-3, "{worst}");
}

#[test]
fn one_sgd_step_on_a_hand_written_model_has_the_expected_values() {
    let mut model = Linear {
        columns: vec![Tensor::from(vec![1.0f32, 2.0, 3.0]); 2],
        bias: Tensor::from(vec![0.5f32, -0.5]),
    };
    let grad = Parameters::map(&model, &mut |t| t * 2.0);
    Optimizer::<Linear>::step(&mut Sgd::new(0.25), &mut model, &grad);
    assert_eq!(model.columns[1].data(), [0.5, 1.0, 1.5]);
    assert_eq!(model.bias.data(), [0.25, -0.25]);
    let names: Vec<String> = model.named_tensors().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["columns.0", "columns.1", "bias"]);
}
