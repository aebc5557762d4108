use adjoint::prelude::*;

#[differentiable]
fn broken(x: f64) -> f64 {
    x.frobnicate()
}

#[differentiable]
fn broken_tensor(w: &Tensor<f64>) -> f64 {
    w.frobnicate().sum()
}

#[differentiable]
fn caller(x: f64) -> f64 {
    broken(x) * 2.0
}

#[differentiable]
fn tensor_caller(w: &Tensor<f64>) -> f64 {
    broken_tensor(w) + 1.0
}

fn main() {
    let g = broken_grad(1.0);
    println!("{g:?} {}", g == g.clone());
    let t = broken_tensor_grad(&Tensor::zeros(&[2]));
    let _ = t.clone();
    let _ = (caller_grad(1.0), broken_jvp(1.0, 1.0), broken_trace(1.0), broken_graph());
    let _ = (tensor_caller_grad(&Tensor::zeros(&[2])), broken_tensor_jvp(&Tensor::zeros(&[2]), &Tensor::zeros(&[2])));
}
