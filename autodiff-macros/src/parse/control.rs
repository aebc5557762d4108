//! Lowering of control flow: `if`/`else` with merges, `for` loops with
//! loop-carried values.

use super::syntax::*;
use super::{Lowered, Lowerer, Tail};
use crate::env::{Env, Slot};
use crate::ir::Region;
use crate::ir::{Carried, Kind, Merge, Stmt, ValueId};
use proc_macro2::Span;
use syn::spanned::Spanned;

/// The model `Vec` a loop runs over by element: its model and path.
type ElementPath = (ValueId, Vec<crate::ir::FieldStep>);

impl Lowerer<'_> {
    pub(super) fn lower_if(
        &mut self,
        expr: &syn::ExprIf,
        env: &mut Env,
        want_value: bool,
    ) -> Lowered<Option<ValueId>> {
        if want_value
            && self.early_return.is_some()
            && contains_return_expr(&syn::Expr::If(expr.clone()))
        {
            self.error(
                expr.if_token.span(),
                "`return` inside an `if` used as a value is not supported: use an `if` statement",
            );
            return Err(());
        }
        let cond = self.lower_expr(&expr.cond, env)?;
        if self.kind(cond) == Kind::Float {
            self.error(expr.cond.span(), "the condition of `if` must be a boolean");
            return Err(());
        }
        let then_block = &expr.then_branch;
        let tail = if want_value {
            Tail::Value
        } else {
            Tail::Discard
        };
        let else_branch = expr.else_branch.as_ref().map(|(_, e)| &**e);
        if want_value && else_branch.is_none() {
            self.error(
                expr.if_token.span(),
                "an `if` used as a value needs an `else` branch",
            );
            return Err(());
        }
        self.lower_branches(
            cond,
            env,
            |this, env| this.lower_stmts(&then_block.stmts, env, tail),
            |this, env| match else_branch {
                None => Ok(None),
                Some(syn::Expr::Block(b)) => this.lower_stmts(&b.block.stmts, env, tail),
                Some(syn::Expr::If(nested)) => this.lower_if(nested, env, want_value),
                Some(other) => {
                    this.error(other.span(), "unsupported `else` branch");
                    Err(())
                }
            },
            want_value,
            expr.if_token.span(),
        )
    }

    pub(super) fn lower_block_stmts(
        &mut self,
        stmts: &[syn::Stmt],
        env: &mut Env,
    ) -> Lowered<Option<ValueId>> {
        self.lower_stmts(stmts, env, Tail::Value)
    }

    /// Lowers a two-way branch: each side in its own region and scope, then
    /// merges the variables either side assigns (and the branch values).
    pub(super) fn lower_branches(
        &mut self,
        cond: ValueId,
        env: &mut Env,
        then_f: impl FnOnce(&mut Self, &mut Env) -> Lowered<Option<ValueId>>,
        else_f: impl FnOnce(&mut Self, &mut Env) -> Lowered<Option<ValueId>>,
        want_value: bool,
        span: Span,
    ) -> Lowered<Option<ValueId>> {
        let (then_region, then_env, then_value) = self.lower_nested(env, then_f);
        let (else_region, else_env, else_value) = self.lower_nested(env, else_f);
        let (then_value, else_value) = (then_value?, else_value?);
        let mut slots: Vec<Slot> = env
            .changed_in(&then_env)
            .into_iter()
            .chain(env.changed_in(&else_env))
            .map(|(slot, _, _)| slot)
            .collect();
        slots.sort();
        slots.dedup();
        let mut pairs: Vec<(Option<Slot>, ValueId, ValueId)> = slots
            .iter()
            .map(|&s| (Some(s), then_env.get(s).value, else_env.get(s).value))
            .collect();
        if want_value {
            match (then_value, else_value) {
                (Some(t), Some(e)) => pairs.push((None, t, e)),
                _ => {
                    self.error(
                        span,
                        "both branches of an `if` used as a value must end in a value",
                    );
                    return Err(());
                }
            }
        }
        let mut merges = Vec::new();
        let mut result = None;
        for (slot, t, e) in pairs {
            let (t, e, kind) = self.join_kinds(t, e, span)?;
            let out = self.new_value(kind);
            merges.push(Merge {
                out,
                then_value: t,
                else_value: e,
            });
            match slot {
                Some(s) => env.set(s, out),
                None => result = Some(out),
            }
        }
        self.push_stmt(Stmt::If {
            cond,
            then_region,
            else_region,
            merges,
        });
        Ok(result)
    }

    /// Two values flowing into one variable: their common kind.
    pub(super) fn join_kinds(
        &mut self,
        a: ValueId,
        b: ValueId,
        span: Span,
    ) -> Lowered<(ValueId, ValueId, Kind)> {
        self.check_slice_flow(a, span)?;
        self.check_slice_flow(b, span)?;
        match (self.kind(a), self.kind(b)) {
            (x, y) if x == y => Ok((a, b, x)),
            (Kind::Float, _) | (_, Kind::Float) => {
                let (a, b) = (self.as_float(a, span)?, self.as_float(b, span)?);
                Ok((a, b, Kind::Float))
            }
            _ => Ok((a, b, Kind::Other)),
        }
    }

    /// Lowers `f` in a fresh region with a copy of `env` and a new scope.
    pub(super) fn lower_nested<T>(
        &mut self,
        env: &Env,
        f: impl FnOnce(&mut Self, &mut Env) -> Lowered<T>,
    ) -> (Region, Env, Lowered<T>) {
        let mut inner = env.clone();
        inner.push_scope();
        self.open_region();
        let out = f(self, &mut inner);
        let region = self.close_region();
        inner.pop_scope();
        (region, inner, out)
    }

    pub(super) fn lower_for(&mut self, f: &syn::ExprForLoop, env: &mut Env) -> Lowered<()> {
        if let Some(label) = &f.label {
            self.error(label.span(), "loop labels are not supported");
            return Err(());
        }

        let index_name = match &*f.pat {
            syn::Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
                Some(pi.ident.to_string())
            }
            syn::Pat::Wild(_) => None,
            other => {
                self.error(
                    other.span(),
                    "the loop variable must be a plain name or `_`",
                );
                return Err(());
            }
        };
        // `for layer in &p.layers` (or `p.layers.iter()`): an index loop
        // with `layer` bound to `p.layers[i]`.
        let elements = match strip_parens(&f.expr) {
            syn::Expr::Reference(r) if self.tensor_mode && r.mutability.is_none() => Some(&*r.expr),
            syn::Expr::MethodCall(m)
                if self.tensor_mode && m.method == "iter" && m.args.is_empty() =>
            {
                Some(&*m.receiver)
            }
            _ => None,
        };
        if let Some(vec) = elements {
            return self.lower_for_elements(f, index_name, vec, env);
        }
        let range = match strip_parens(&f.expr) {
            syn::Expr::Range(r) => r,
            other => {
                self.errors.push_spanned(
                    other,
                    "only integer ranges can be looped over: `for i in start..end` or `start..=end` \
                     (bounds may be run-time values)",
                );
                return Err(());
            }
        };
        let (Some(start), Some(end)) = (&range.start, &range.end) else {
            self.error(range.span(), "the loop range needs both a start and an end");
            return Err(());
        };
        let inclusive = matches!(range.limits, syn::RangeLimits::Closed(_));
        let lo = self.lower_expr(start, env)?;
        let hi = self.lower_expr(end, env)?;
        for (bound, expr) in [(lo, start), (hi, end)] {
            if self.kind(bound) == Kind::Float {
                self.error(expr.span(), "loop bounds must be integers");
                return Err(());
            }
        }
        if contains_loop_jump_block(&f.body) {
            return self.lower_for_with_jumps(index_name, (lo, hi, inclusive), &f.body, env);
        }
        let bind = index_name.map(|name| (name, None));
        self.lower_counted_for(f, bind, (lo, hi, inclusive), env)
    }

    /// `for layer in &p.layers { .. }`: `for i in 0..p.layers.len()` with
    /// `layer = p.layers[i]` (a model value) at the top of the body.
    fn lower_for_elements(
        &mut self,
        f: &syn::ExprForLoop,
        name: Option<String>,
        vec: &syn::Expr,
        env: &mut Env,
    ) -> Lowered<()> {
        if !super::expr::is_model_path(vec) {
            self.errors.push_spanned(
                vec,
                "only a model's `Vec` can be looped over by element (`for layer in &p.layers`); \
                 for anything else loop over indices: `for i in 0..n`",
            );
            return Err(());
        }
        if contains_loop_jump_block(&f.body) {
            self.error(
                f.for_token.span(),
                "`break` and `continue` are not supported in a loop over a model's `Vec`: loop over \
                 its indices (`for i in 0..p.layers.len()`, reading `p.layers[i]`)",
            );
            return Err(());
        }
        let (root, steps) = self.model_path(vec, env)?;
        let lo = self.opaque(quote::quote!(0usize));
        let hi = self.model_vec_len(vec, env)?;
        let bind = name.map(|n| (n, Some((root, steps))));
        self.lower_counted_for(f, bind, (lo, hi, false), env)
    }

    /// A loop over `lo..hi` whose index is bound to `bind`'s name, or with
    /// `bind`'s model path `root.steps[index]` bound to it.
    fn lower_counted_for(
        &mut self,
        f: &syn::ExprForLoop,
        bind: Option<(String, Option<ElementPath>)>,
        (lo, hi, inclusive): (ValueId, ValueId, bool),
        env: &mut Env,
    ) -> Lowered<()> {
        let guard_body = self.early_return.is_some() && contains_return_block(&f.body);
        let body_stmts = &f.body.stmts;
        let lower_body = |this: &mut Self, env: &mut Env, index: ValueId| -> Lowered<()> {
            match &bind {
                Some((name, None)) => env.declare(name.clone(), index, false),
                Some((name, Some((root, steps)))) => {
                    let mut steps = steps.clone();
                    steps.push(crate::ir::FieldStep::Var(index));
                    let element = this.emit_field(*root, steps, Kind::Model);
                    env.declare(name.clone(), element, false);
                }
                None => {}
            }
            if guard_body {
                this.guarded(env, |this, env| {
                    this.lower_stmts(body_stmts, env, Tail::Discard).map(|_| ())
                })
            } else {
                this.lower_stmts(body_stmts, env, Tail::Discard).map(|_| ())
            }
        };
        // Trial pass: which outer variables does the body assign?
        let assigned = self.trial(|this| {
            let index = this.new_value(Kind::Other);
            let (_, after, out) = this.lower_nested(env, |this, env| lower_body(this, env, index));
            out.map(|_| env.changed_in(&after))
        })?;
        // Real pass: the assigned variables become loop-carried.
        let mut carried_slots = Vec::new();
        for (slot, init, next) in &assigned {
            let mut init = *init;
            if self.kind(init) == Kind::Untyped && self.kind(*next) == Kind::Float {
                init = self.as_float(init, f.span())?;
            }
            carried_slots.push((*slot, init));
        }
        let index = self.new_value(Kind::Other);
        let mut body_env = env.clone();
        let mut phis = Vec::new();
        for (slot, init) in &carried_slots {
            let kind = match self.kind(*init) {
                Kind::Untyped => Kind::Other,
                k => k,
            };
            let phi = self.new_value(kind);
            body_env.set(*slot, phi);
            phis.push(phi);
        }
        let (body, after, out) =
            self.lower_nested(&body_env, |this, env| lower_body(this, env, index));
        out?;
        let mut carried = Vec::new();
        for ((slot, init), phi) in carried_slots.into_iter().zip(phis) {
            let mut next = after.get(slot).value;
            if self.kind(phi) == Kind::Float && self.kind(next) == Kind::Untyped {
                self.error(
                    f.span(),
                    "internal: untyped value carried through a float loop variable",
                );
                return Err(());
            }
            if self.kind(next) != self.kind(phi) && self.kind(next) != Kind::Untyped {
                next = self.as_float(next, f.span())?;
            }
            let out = self.new_value(self.kind(phi));
            env.set(slot, out);
            carried.push(Carried {
                init,
                phi,
                next,
                out,
            });
        }
        self.push_stmt(Stmt::For {
            index,
            lo,
            hi,
            inclusive,
            carried,
            body,
        });
        Ok(())
    }
}
