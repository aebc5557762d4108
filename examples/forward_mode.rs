//! Forward mode on the second exercise: `f(x1, x2, x3) = (x1 x2 sin x3 + exp(x1 x2)) / x3`
//! at (1, 1.5, 2). Prints ∂f/∂x2 from forward mode (one tangent sweep) and from
//! reverse mode (the whole gradient in one adjoint sweep), and the traces (v_i with v̇_i; v_i with v̄_i).
//!
//! Run: `cargo run --release --example forward_mode`

use adjoint::differentiable;

#[differentiable]
fn f(x1: f64, x2: f64, x3: f64) -> f64 {
    (x1 * x2 * x3.sin() + (x1 * x2).exp()) / x3
}

fn main() {
    let (x1, x2, x3) = (1.0, 1.5, 2.0);
    let (value, d_dx2) = f_jvp(x1, x2, x3, 0.0, 1.0, 0.0);
    println!("f(1, 1.5, 2) = {value:.4}");
    println!("∂f/∂x2 = {d_dx2:.4}   (forward mode, tangent (0, 1, 0))");
    let g = f_grad(x1, x2, x3);
    println!(
        "∇f = ({:.4}, {:.4}, {:.4})   (reverse mode, one adjoint sweep)",
        g.x1, g.x2, g.x3
    );
    let by_hand = (x1 * x3.sin() + x1 * (x1 * x2).exp()) / x3;
    println!("by hand: ∂f/∂x2 = (x1 sin x3 + x1 exp(x1 x2)) / x3 = {by_hand:.4}");
    println!();
    println!("forward mode along x2, v_i and v̇_i as on the sheet:");
    println!("{}", f_jvp_trace(x1, x2, x3, 0.0, 1.0, 0.0));
    println!("reverse mode:");
    println!("{}", f_trace(x1, x2, x3));
}
