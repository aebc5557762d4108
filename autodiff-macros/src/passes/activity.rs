//! Activity analysis: which values vary with the active arguments. Only
//! those get adjoint and tangent code; constants cost nothing in the sweeps.

use crate::diagnostics::Errors;
use crate::ir::{walk_stmts, Function, Op, Param, Stmt};

/// `varied[v]` is true when value `v` is a float that depends on an active
/// argument. Loop-carried values make this a fixpoint.
pub fn varied(f: &Function) -> Vec<bool> {
    varied_from(f, |p| p.active)
}

/// The values that vary with the arguments `seed` selects (among the
/// differentiable ones): `varied_from(f, |p| p.ident == "y")` is what depends
/// on `y`.
pub fn varied_from(f: &Function, seed: impl Fn(&Param) -> bool) -> Vec<bool> {
    let mut varied = vec![false; f.values.len()];
    for p in &f.params {
        // An active slice is data whose elements (`Op::Index`) vary.
        varied[p.value.0] = seed(p) && (f.kind(p.value).is_differentiable() || p.slice);
    }
    loop {
        let snapshot = varied.clone();
        let mut changed = false;
        let mut mark = |v: crate::ir::ValueId, on: bool| {
            if on && f.kind(v).is_differentiable() && !varied[v.0] {
                varied[v.0] = true;
                changed = true;
            }
        };
        walk_stmts(&f.body, &mut |stmt| match stmt {
            Stmt::Let { value, op, args } => {
                let differentiable = !matches!(op, Op::Const(_));
                mark(*value, differentiable && args.iter().any(|a| snapshot[a.0]));
            }
            Stmt::If { merges, .. } => {
                for m in merges {
                    mark(m.out, snapshot[m.then_value.0] || snapshot[m.else_value.0]);
                }
            }
            Stmt::For { carried, .. } | Stmt::Loop { carried, .. } => {
                for c in carried {
                    let on = snapshot[c.init.0] || snapshot[c.next.0];
                    mark(c.phi, on);
                    mark(c.out, on);
                }
            }
        });
        if !changed {
            return varied;
        }
    }
}

/// Every operand slot without a derivative rule must receive an inactive
/// value: an active float there is an error at the user's token (the
/// gradient through it would silently be zero).
pub fn check_data_operands(f: &Function, varied: &[bool], errors: &mut Errors) {
    for d in &f.data_operands {
        if varied[d.value.0] {
            errors.push(
                d.span,
                format!(
                    "`{}` has no derivative for this operand, but the value depends on the differentiated arguments: pass a constant here (or a `#[constant]` argument)",
                    d.op
                ),
            );
        }
    }
}
