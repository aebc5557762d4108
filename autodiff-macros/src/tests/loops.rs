//! Loops and slices at the IR level: what `while`/`loop`/`break` lower to,
//! and what the reverse sweep saves (indices known from a reversed loop and
//! cheap values recomputed, not pushed).

use crate::diagnostics::Errors;
use crate::ir::{walk_stmts, Function, Op, Stmt};
use crate::passes::activity;
use crate::{codegen, parse, signature};

fn lower(source: &str) -> Function {
    let item: syn::ItemFn = syn::parse_str(source).expect("test source parses");
    let mut errors = Errors::default();
    let sig = signature::check(&item, &mut errors).expect("signature is valid");
    let f = parse::lower(&item, &sig, &mut errors);
    assert!(errors.is_empty(), "lowering errors in\n{source}");
    let f = f.expect("lowered");
    let generated = codegen::generate(&f, &sig);
    syn::parse2::<syn::File>(generated).expect("generated code parses");
    f
}

/// The values each nested region of `f`'s gradient saves, in region order.
fn saves(f: &Function) -> Vec<usize> {
    let names = codegen::names::Names::new(f);
    let varied = activity::varied(f);
    let sweep = crate::sym::with_float_ty(f.float_ty, || {
        codegen::reverse::reverse_sweep(
            f,
            &names,
            &varied,
            false,
            <crate::sym::Sym as crate::sym::Real>::lit(1.0),
        )
    });
    let mut regions: Vec<_> = sweep.saves.into_iter().collect();
    regions.sort_by_key(|(id, _)| *id);
    regions.into_iter().map(|(_, items)| items.len()).collect()
}

fn count(f: &Function, pred: impl Fn(&Stmt) -> bool) -> usize {
    let mut n = 0;
    walk_stmts(&f.body, &mut |s| n += usize::from(pred(s)));
    n
}

#[test]
fn rosenbrock_saves_nothing() {
    // The index runs backwards in the reverse loop, and every value the
    // adjoint reads (x[i], x[i + 1], their differences, the constants) is
    // recomputed from it.
    let f = lower(
        "fn rosenbrock(x: &[f64]) -> f64 {
            let mut s = 0.0;
            for i in 0..x.len() - 1 {
                s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
            }
            s
        }",
    );
    let reads = count(&f, |s| matches!(s, Stmt::Let { op: Op::Index, .. }));
    assert_eq!(reads, 2, "x[i] is read once (CSE), x[i + 1] once");
    assert_eq!(saves(&f), vec![0]);
}

#[test]
fn a_loop_saves_only_what_it_cannot_recompute() {
    // acc·x is recomputed from the saved acc; sin's operand is not saved twice.
    let f = lower(
        "fn damped(x: f64, y: f64, #[constant] n: usize) -> f64 {
            let mut acc = y;
            for _ in 0..n {
                acc = (acc * x).sin() + y;
            }
            acc
        }",
    );
    assert_eq!(saves(&f), vec![1]);
}

#[test]
fn while_and_loop_lower_to_a_counted_loop() {
    let f = lower(
        "fn newton(a: f64) -> f64 {
            let mut y = a;
            while (y * y - a).abs() > 1e-12 {
                y = 0.5 * (y + a / y);
            }
            y
        }",
    );
    assert_eq!(count(&f, |s| matches!(s, Stmt::Loop { .. })), 1);
    let mut carried = 0;
    walk_stmts(&f.body, &mut |s| {
        if let Stmt::Loop { carried: c, .. } = s {
            carried = c.len();
        }
    });
    assert_eq!(
        carried, 1,
        "only y is carried (the break flags are per iteration)"
    );
    // The loop body saves y and the condition; the taken branch saves a / y.
    assert_eq!(saves(&f), vec![2, 1, 0]);

    let f = lower(
        "fn f(x: f64, #[constant] n: usize) -> f64 {
            let mut acc = x;
            for i in 0..n {
                if i % 3 == 0 {
                    continue;
                }
                acc = acc * x;
                if acc > 10.0 {
                    break;
                }
            }
            acc
        }",
    );
    assert_eq!(count(&f, |s| matches!(s, Stmt::Loop { .. })), 1);
    assert_eq!(count(&f, |s| matches!(s, Stmt::For { .. })), 0);
}

#[test]
fn constant_data_elements_are_float_constants() {
    let f = lower(
        "fn lsq(w: f64, #[constant] xs: &[f64], #[constant] idx: &[usize]) -> f64 {
            let mut loss = 0.0;
            for k in 0..idx.len() {
                loss += (w * xs[idx[k]]).powi(2);
            }
            loss
        }",
    );
    assert_eq!(
        count(&f, |s| matches!(s, Stmt::Let { op: Op::Index, .. })),
        0
    );
    let varied = activity::varied(&f);
    assert!(!varied[f.params[1].value.0] && !varied[f.params[2].value.0]);
}
