//! Every CUDA C source the compiler emits for these networks (one per fused
//! element-wise region, wrapped in the runtime's grid-stride kernels for
//! `float` and `double`) compiles with NVRTC to CUBINs for sm_80 and sm_90.
//! Needs the `cuda` feature and `libnvrtc` (the PyPI wheel
//! `nvidia-cuda-nvrtc` ships it; put its `lib` directory on
//! `LD_LIBRARY_PATH`); without the library the test prints why it skips.
//! The printed bodies' math is checked on the CPU without NVRTC in
//! `autodiff-macros` (`cargo test -p adjoint-macros region`).
#![cfg(feature = "cuda")]

use adjoint::__private::ops::fused::Kernel;
use adjoint::kernels::cuda::{nvrtc, region_kernels};
use adjoint::prelude::*;

#[derive(Parameters, Clone)]
struct Mlp {
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
}

#[differentiable]
fn mlp_loss(p: &Mlp, #[constant] x: &Tensor, #[constant] labels: &[usize]) -> f32 {
    let h = (x.matmul(&p.w1) + &p.b1).relu();
    cross_entropy(&(h.matmul(&p.w2) + &p.b2), labels)
}

#[differentiable]
fn gated(a: &Tensor, b: &Tensor, c: &Tensor) -> Tensor {
    let d = a - &a.mean_axis(1, true);
    let s = (d.square().mean_axis(1, true) + 1e-5).sqrt();
    &(&d / &s).tanh() * &(b + c).sigmoid()
}

#[differentiable]
fn every_op(x: &Tensor<f64>, y: &Tensor<f64>) -> f64 {
    let u = (-x).abs().square().relu() + &(y * 2.0).exp().ln();
    let v = (&x.sin() * &y.cos()).powf(2.0) / 3.0;
    (&u - &v).sum()
}

/// Every region the compiler emitted for the functions above.
fn kernels() -> Vec<Kernel> {
    [
        __mlp_loss_adjoint::REGIONS,
        __gated_adjoint::REGIONS,
        __every_op_adjoint::REGIONS,
    ]
    .concat()
}

#[test]
fn every_emitted_region_compiles_with_nvrtc() {
    let kernels = kernels();
    assert!(kernels.len() >= 5, "{} regions", kernels.len());
    if !nvrtc::available() {
        println!(
            "skipped: libnvrtc not found; `pip download nvidia-cuda-nvrtc` and put its lib directory on LD_LIBRARY_PATH to run this test ({} regions not compiled)",
            kernels.len()
        );
        return;
    }
    for kernel in &kernels {
        let source = region_kernels(kernel.cuda, kernel.inputs);
        for arch in ["sm_80", "sm_90"] {
            let cubin = nvrtc::compile_cubin(&source, arch)
                .unwrap_or_else(|log| panic!("{} for {arch}:\n{log}\n{source}", kernel.name));
            assert!(
                cubin.len() > 1000,
                "{}: a {}-byte CUBIN",
                kernel.name,
                cubin.len()
            );
        }
    }
}

#[test]
fn a_wrong_source_is_reported_with_nvrtc_s_log() {
    if !nvrtc::available() {
        println!("skipped: libnvrtc not found");
        return;
    }
    let log = nvrtc::compile_cubin("__global__ void k() { undefined_fn(); }", "sm_80")
        .expect_err("does not compile");
    assert!(log.contains("undefined_fn"), "{log}");
}
