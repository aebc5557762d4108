//! An interpreter of straight-line IR over `f64`, with a reverse sweep and
//! a tangent sweep built from `rules.rs` — the same rules codegen emits.

use crate::ir::{Function, Op, Stmt, ValueId};
use crate::rules::{adjoint, forward, has_adjoint, tangent};
use std::collections::HashMap;

/// Forward values of every value of `f` at `args`.
pub fn evaluate(f: &Function, args: &[f64]) -> HashMap<ValueId, f64> {
    let mut values = HashMap::new();
    for (p, a) in f.params.iter().zip(args) {
        values.insert(p.value, *a);
    }
    for stmt in &f.body.stmts {
        let Stmt::Let { value, op, args } = stmt else {
            panic!("the interpreter runs straight-line code only");
        };
        let y = match op {
            Op::Const(tokens) => tokens
                .to_string()
                .parse::<f64>()
                .expect("float literal constants only"),
            op => {
                let x: Vec<f64> = args.iter().map(|a| values[a]).collect();
                forward(op, &x)
            }
        };
        values.insert(*value, y);
    }
    values
}

/// The result and the gradient with respect to the parameters, by a reverse
/// sweep over the statements.
pub fn gradient(f: &Function, args: &[f64]) -> (f64, Vec<f64>) {
    let values = evaluate(f, args);
    let mut adjoints: HashMap<ValueId, f64> = HashMap::from([(f.result, 1.0)]);
    for stmt in f.body.stmts.iter().rev() {
        let Stmt::Let { value, op, args } = stmt else {
            unreachable!()
        };
        if matches!(op, Op::Const(_)) {
            continue;
        }
        let g = adjoints.get(value).copied().unwrap_or(0.0);
        let x: Vec<f64> = args.iter().map(|a| values[a]).collect();
        for (i, a) in args.iter().enumerate() {
            if has_adjoint(op, i) {
                *adjoints.entry(*a).or_insert(0.0) += adjoint(op, &x, &values[value], &g, i);
            }
        }
    }
    let grad = f
        .params
        .iter()
        .map(|p| adjoints.get(&p.value).copied().unwrap_or(0.0))
        .collect();
    (values[&f.result], grad)
}

/// The directional derivative along `direction`, by a tangent sweep.
pub fn directional(f: &Function, args: &[f64], direction: &[f64]) -> f64 {
    let values = evaluate(f, args);
    let mut tangents: HashMap<ValueId, f64> = HashMap::new();
    for (p, d) in f.params.iter().zip(direction) {
        tangents.insert(p.value, *d);
    }
    for stmt in &f.body.stmts {
        let Stmt::Let { value, op, args } = stmt else {
            unreachable!()
        };
        if matches!(op, Op::Const(_)) {
            continue;
        }
        let x: Vec<f64> = args.iter().map(|a| values[a]).collect();
        let dx: Vec<Option<f64>> = args.iter().map(|a| tangents.get(a).copied()).collect();
        if dx.iter().any(Option::is_some) {
            tangents.insert(*value, tangent(op, &x, &values[value], &dx));
        }
    }
    tangents.get(&f.result).copied().unwrap_or(0.0)
}
