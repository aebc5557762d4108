//! Random expression DAGs, written as Rust tokens, lowered by the real
//! parser and differentiated by the interpreter: the adjoint must match
//! central finite differences and the tangent sweep (⟨∇f, v⟩ = f'(x; v)).

use super::interp::{directional, evaluate, gradient};
use crate::diagnostics::Errors;
use crate::ir::Function;
use crate::{codegen, parse, signature};

/// A small deterministic generator (xorshift64*), so failures reproduce.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub(super) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A random expression over `names`, of bounded depth. Every function is
/// applied in a form that keeps it in its domain and its values moderate.
pub(super) fn expr(rng: &mut Rng, names: &[String], depth: usize) -> String {
    if depth == 0 || rng.below(4) == 0 {
        return match rng.below(5) {
            0 => format!("{:.2}", rng.uniform(0.1, 2.0)),
            _ => names[rng.below(names.len())].clone(),
        };
    }
    let a = expr(rng, names, depth - 1);
    let b = expr(rng, names, depth - 1);
    match rng.below(22) {
        0 => format!("({a} + {b})"),
        1 => format!("({a} - {b})"),
        2 => format!("({a} * {b})"),
        3 => format!("({a} / ({b} * {b} + 1.0))"),
        4 => format!("(-{a})"),
        5 => format!("{a}.sin()"),
        6 => format!("f64::cos({a})"),
        7 => format!("{a}.tanh()"),
        8 => format!("{a}.tanh().exp()"),
        9 => format!("({a} * {a} + 0.5).sqrt()"),
        10 => format!("({a} * {a} + 1.0).ln()"),
        11 => format!("{a}.tanh().powi(3)"),
        12 => format!("{a}.atan2({b} * {b} + 0.5)"),
        13 => format!("{a}.hypot({b} + 3.0)"),
        14 => format!("{a}.sigmoid()"),
        15 => format!("{a}.mul_add({b}, 0.5)"),
        16 => format!("({a} * {a} + 1.0).powf({b}.tanh())"),
        17 => format!("{a}.atan()"),
        18 => format!("({a}.tanh() * 0.9).asin()"),
        19 => format!("({a} * {a} + 2.0).log({b} * {b} + 2.0)"),
        20 => format!("({a} * {a} + 1.0).cbrt()"),
        _ => format!("{a}.sinh()"),
    }
}

/// A random function of three arguments with shared intermediates.
fn random_function(rng: &mut Rng) -> String {
    let mut names: Vec<String> = vec!["x".into(), "y".into(), "z".into()];
    let mut body = String::new();
    for k in 0..1 + rng.below(4) {
        let e = expr(rng, &names, 3);
        body.push_str(&format!("let t{k} = {e};\n"));
        names.push(format!("t{k}"));
    }
    let tail = expr(rng, &names, 2);
    format!("fn f(x: f64, y: f64, z: f64) -> f64 {{\n{body}{tail} + t0\n}}")
}

fn lower(source: &str) -> Function {
    let item: syn::ItemFn = syn::parse_str(source).expect("generated source parses");
    let mut errors = Errors::default();
    let sig = signature::check(&item, &mut errors).expect("signature is valid");
    let f = parse::lower(&item, &sig, &mut errors);
    assert!(errors.is_empty(), "lowering errors in\n{source}");
    let f = f.expect("lowered");
    // The generated code must be valid Rust.
    let generated = codegen::generate(&f, &sig);
    syn::parse2::<syn::File>(generated).expect("generated code parses");
    f
}

#[test]
fn random_dags_match_finite_differences_and_forward_mode() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut checked = 0;
    for case in 0..300 {
        let source = random_function(&mut rng);
        let f = lower(&source);
        let point = [
            rng.uniform(-1.5, 1.5),
            rng.uniform(-1.5, 1.5),
            rng.uniform(-1.5, 1.5),
        ];
        let (value, grad) = gradient(&f, &point);
        if !value.is_finite() || grad.iter().any(|g| !g.is_finite()) {
            continue;
        }
        for i in 0..3 {
            let h = 1e-6 * (1.0 + point[i].abs());
            let (mut plus, mut minus) = (point, point);
            plus[i] += h;
            minus[i] -= h;
            let fd = (evaluate(&f, &plus) - evaluate(&f, &minus)) / (2.0 * h);
            let tol = 1e-5 * (1.0 + fd.abs().max(grad[i].abs()));
            assert!(
                (fd - grad[i]).abs() <= tol,
                "case {case}, ∂f/∂x{i}: adjoint {} vs finite difference {fd}\n{source}",
                grad[i]
            );
        }
        let v = [0.3, -0.5, 0.8];
        let jvp = directional(&f, &point, &v);
        let vjp: f64 = grad.iter().zip(v).map(|(g, d)| g * d).sum();
        assert!(
            (jvp - vjp).abs() <= 1e-9 * (1.0 + jvp.abs()),
            "case {case}: tangent {jvp} vs adjoint {vjp}\n{source}"
        );
        checked += 1;
    }
    assert!(checked > 250, "only {checked} of 300 cases were finite");
}

#[test]
fn common_subexpressions_are_computed_once() {
    let f = lower("fn f(x: f64, y: f64) -> f64 { (x / y).sin() + (x / y) * (x / y) }");
    // x / y once, sin, the product, the sum.
    assert_eq!(f.body.stmts.len(), 4);
}
