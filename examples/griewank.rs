//! Griewank & Walther's example from the first exercise sheet:
//! `y = (sin(x1/x2) + x1/x2 - exp(x2)) * (x1/x2 - exp(x2))` at (1.5, 0.5).
//! Prints the value, the gradient (reverse and forward mode), both traces and
//! the computation graph.
//!
//! Run: `cargo run --release --example griewank`

use adjoint::differentiable;

/// Written so that the compiler's numbering matches the textbook's:
/// common subexpressions (`x1 / x2`, `x1 / x2 - exp(x2)`) are computed once.
#[differentiable]
fn griewank(x1: f64, x2: f64) -> f64 {
    (f64::sin(x1 / x2) + (x1 / x2 - x2.exp())) * (x1 / x2 - x2.exp())
}

fn main() {
    let (x1, x2) = (1.5, 0.5);
    let g = griewank_grad(x1, x2);
    println!("y(1.5, 0.5)  = {:.4}", g.value);
    println!(
        "∂y/∂x1 = {:.4}   ∂y/∂x2 = {:.4}   (reverse mode)",
        g.x1, g.x2
    );
    let (_, d1) = griewank_jvp(x1, x2, 1.0, 0.0);
    let (_, d2) = griewank_jvp(x1, x2, 0.0, 1.0);
    println!("∂y/∂x1 = {d1:.4}   ∂y/∂x2 = {d2:.4}   (forward mode)");
    println!();
    println!("{}", griewank_trace(x1, x2));
    println!("computation graph (Graphviz DOT):");
    println!("{}", griewank_graph());
}
