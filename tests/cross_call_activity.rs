//! Activity across function boundaries (issue 8, defect 1): a callee's
//! `#[constant]` argument that receives a varying value is a compile error
//! (tests/ui/constant_slot_receives_active*.rs); a constant value passed there
//! is fine, and gradients through active slots agree with finite differences.

use adjoint::differentiable;

#[differentiable]
fn scaled(x: f64, #[constant] k: f64) -> f64 {
    k * x
}

#[differentiable]
fn caller(x: f64, y: f64, #[constant] c: f64) -> f64 {
    scaled(x * y, c * c) + y
}

#[test]
fn a_constant_value_in_a_constant_slot_is_accepted() {
    let (x, y, c) = (1.5, -0.7, 2.0);
    let g = caller_grad(x, y, c);
    assert_eq!(g.value, c * c * x * y + y);
    // ∂/∂x = c² y, ∂/∂y = c² x + 1
    assert!((g.x - c * c * y).abs() < 1e-12);
    assert!((g.y - (c * c * x + 1.0)).abs() < 1e-12);
    let (_, dy) = caller_jvp(x, y, c, 0.0, 1.0);
    assert!((dy - g.y).abs() < 1e-12);
}
