//! The seed exercises on scalar functions: Griewank & Walther's reverse-mode
//! example (value, gradient and both traces against the sheet's tables) and
//! forward mode on `(x1*x2*sin(x3) + exp(x1*x2))/x3`.

use adjoint::check::{check_gradient, Tolerance};
use adjoint::differentiable;

#[differentiable]
fn griewank(x1: f64, x2: f64) -> f64 {
    (f64::sin(x1 / x2) + (x1 / x2 - x2.exp())) * (x1 / x2 - x2.exp())
}

/// The same function written with named intermediates, as on the sheet.
#[differentiable]
fn griewank_steps(x1: f64, x2: f64) -> f64 {
    let v1 = x1 / x2;
    let v2 = v1.sin();
    let v3 = x2.exp();
    let v4 = v1 - v3;
    let v5 = v2 + v4;
    v5 * v4
}

#[differentiable]
fn forward_sheet(x1: f64, x2: f64, x3: f64) -> f64 {
    (x1 * x2 * x3.sin() + (x1 * x2).exp()) / x3
}

fn close(actual: f64, expected: f64, tol: f64) -> bool {
    (actual - expected).abs() <= tol
}

#[test]
fn griewank_value_and_gradient_match_the_sheet() {
    let g = griewank_grad(1.5, 0.5);
    assert!(close(g.value, 2.0167, 1e-4), "value {}", g.value);
    assert!(close(g.x1, 3.0118, 1e-4), "dy/dx1 {}", g.x1);
    assert!(close(g.x2, -13.7239, 1e-4), "dy/dx2 {}", g.x2);
    assert_eq!(g.value, griewank(1.5, 0.5));
    let s = griewank_steps_grad(1.5, 0.5);
    assert_eq!((s.value, s.x1, s.x2), (g.value, g.x1, g.x2));
}

#[test]
fn griewank_traces_match_the_sheets_tables() {
    let trace = griewank_trace(1.5, 0.5);
    let forward = [
        (-1, 1.5),
        (0, 0.5),
        (1, 3.0),
        (2, 0.1411),
        (3, 1.6487),
        (4, 1.3513),
        (5, 1.4924),
        (6, 2.0167),
    ];
    for (i, expected) in forward {
        let v = trace.value(i).unwrap_or(f64::NAN);
        assert!(close(v, expected, 1e-4), "v_{i} = {v}, sheet {expected}");
    }
    let adjoints = [
        (6, 1.0),
        (5, 1.3513),
        (4, 2.8437),
        (3, -2.8437),
        (2, 1.3513),
        (1, 1.5059),
        (0, -13.7239),
        (-1, 3.0118),
    ];
    for (i, expected) in adjoints {
        let v = trace.adjoint_of(i).unwrap_or(f64::NAN);
        assert!(
            close(v, expected, 1e-4),
            "adjoint of v_{i} = {v}, sheet {expected}"
        );
    }
    let order: Vec<i64> = trace.reverse_steps().iter().map(|s| s.index).collect();
    assert_eq!(order, vec![6, 5, 4, 3, 2, 1, 0, -1]);
    let text = trace.to_string();
    for line in [
        "v_1  = v_-1 / v_0",
        "v_2  = sin(v_1)",
        "v_3  = exp(v_0)",
        "v_4  = v_1 - v_3",
        "v_5  = v_2 + v_4",
        "v_6  = v_5 * v_4",
    ] {
        assert!(text.contains(line), "trace lacks {line:?}:\n{text}");
    }
}

#[test]
fn griewank_graph_is_the_sheets_dag() {
    let dot = griewank_graph();
    assert!(dot.starts_with("digraph griewank {"));
    for edge in [
        "x1 -> v1;",
        "x2 -> v1;",
        "v1 -> v2;",
        "x2 -> v3;",
        "v1 -> v4;",
        "v3 -> v4;",
        "v2 -> v5;",
        "v4 -> v5;",
        "v5 -> v6;",
        "v4 -> v6;",
    ] {
        assert!(dot.contains(edge), "graph lacks {edge}:\n{dot}");
    }
    // Common subexpressions appear once: six operations.
    assert_eq!(dot.matches(" = ").count() - 2, 6, "{dot}");
}

#[test]
fn forward_and_reverse_mode_agree_on_the_forward_sheet() {
    let (x1, x2, x3) = (1.0, 1.5, 2.0);
    let (value, d_dx2) = forward_sheet_jvp(x1, x2, x3, 0.0, 1.0, 0.0);
    let g = forward_sheet_grad(x1, x2, x3);
    // By hand: ∂f/∂x2 = (x1 sin x3 + x1 exp(x1 x2)) / x3
    let by_hand = (x1 * x3.sin() + x1 * (x1 * x2).exp()) / x3;
    assert!(close(d_dx2, by_hand, 1e-12), "jvp {d_dx2} vs {by_hand}");
    assert!(close(g.x2, d_dx2, 1e-12), "vjp {} vs jvp {d_dx2}", g.x2);
    assert_eq!(value, g.value);
    let f = |x: &[f64]| forward_sheet(x[0], x[1], x[2]);
    check_gradient(f, &[g.x1, g.x2, g.x3], &[x1, x2, x3], Tolerance::default())
        .expect("gradient agrees with finite differences");
}

#[test]
fn forward_mode_trace_lists_every_tangent() {
    // The sheet's table: v_i and v̇_i = ∂v_i/∂x2 at (1, 1.5, 2).
    let trace = forward_sheet_jvp_trace(1.0, 1.5, 2.0, 0.0, 1.0, 0.0);
    let expected = [
        (-2, 1.0, 0.0),
        (-1, 1.5, 1.0),
        (0, 2.0, 0.0),
        (1, 1.5, 1.0),
        (2, 0.9093, 0.0),
        (3, 1.3639, 0.9093),
        (4, 4.4817, 4.4817),
        (5, 5.8456, 5.3910),
        (6, 2.9228, 2.6955),
    ];
    for (i, v, dv) in expected {
        let (value, tangent) = (
            trace.value(i).unwrap_or(f64::NAN),
            trace.tangent_of(i).unwrap_or(f64::NAN),
        );
        assert!(
            close(value, v, 1e-4) && close(tangent, dv, 1e-4),
            "v_{i} = {value}, v̇ = {tangent}"
        );
    }
}

/// The seed's skip-connection sheet: u0 = relu(w0 x), u1 = relu(w1 u0),
/// ŷ = w2 u1 + ws u0, L = |y − ŷ| at (x, y) = (1, −3), all weights 0.5.
#[differentiable]
fn skip_l1(w0: f64, w1: f64, w2: f64, ws: f64, #[constant] x: f64, #[constant] y: f64) -> f64 {
    let u0 = adjoint::scalar::relu(w0 * x);
    let u1 = adjoint::scalar::relu(w1 * u0);
    (y - (w2 * u1 + ws * u0)).abs()
}

#[test]
fn skip_connection_sheet_gradients_and_step() {
    // By hand: u0 = 0.5, u1 = 0.25, ŷ = 0.375, L = 3.375, ∂L/∂ŷ = 1;
    // ∂L/∂w2 = u1, ∂L/∂ws = u0, ∂L/∂w1 = w2 u0, ∂L/∂w0 = (ws + w1 w2) x.
    let g = skip_l1_grad(0.5, 0.5, 0.5, 0.5, 1.0, -3.0);
    assert_eq!(g.value, 3.375);
    assert_eq!((g.w0, g.w1, g.w2, g.ws), (0.75, 0.25, 0.25, 0.5));
    // One step with learning rate 1: w0 = -0.25 switches unit 0 off, L = 3.
    let loss = skip_l1(0.5 - g.w0, 0.5 - g.w1, 0.5 - g.w2, 0.5 - g.ws, 1.0, -3.0);
    assert_eq!(loss, 3.0);
}
