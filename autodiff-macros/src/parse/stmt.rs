//! Lowering of the function body and its statements: `let`, assignments,
//! early `return`.

use super::syntax::*;
use super::{EarlyReturn, Lowered, Lowerer, Tail, SUPPORTED_SUMMARY};
use crate::env::Env;
use crate::ir::{value_placeholder, Kind, ValueId};
use crate::signature::float_ty_of;
use proc_macro2::Span;
use quote::quote;
use syn::spanned::Spanned;

impl Lowerer<'_> {
    pub(super) fn lower_body(&mut self, block: &syn::Block, env: &mut Env) -> Lowered<ValueId> {
        let stmts = &block.stmts;
        let last_is_return = matches!(stmts.last(), Some(syn::Stmt::Expr(syn::Expr::Return(_), _)));
        let returns_early = stmts
            .iter()
            .enumerate()
            .any(|(i, s)| contains_return(s) && !(last_is_return && i + 1 == stmts.len()));
        if !returns_early {
            if let Some(syn::Stmt::Expr(syn::Expr::Return(ret), _)) = stmts.last() {
                self.lower_stmts(&stmts[..stmts.len() - 1], env, Tail::Discard)?;
                let Some(e) = &ret.expr else {
                    self.error(ret.span(), "`return` needs the float value to return");
                    return Err(());
                };
                let value = self.lower_expr(e, env)?;
                return self.as_float(value, e.span());
            }
            return match self.lower_stmts(stmts, env, Tail::Value)? {
                Some(v) if self.returns_tensor => {
                    if self.kind(v) != Kind::Tensor {
                        self.error(block.span(), "the function returns a tensor, but its body ends in a non-tensor value");
                        return Err(());
                    }
                    Ok(v)
                }
                Some(v) => self.as_float(v, block.span()),
                None => {
                    self.error(
                        block.brace_token.span.close(),
                        "the function body must end in the float value it returns",
                    );
                    Err(())
                }
            };
        }
        let names = EarlyReturn {
            value: "\u{0}return".into(),
            done: "\u{0}returned".into(),
        };
        // The result slot before any `return`: every path assigns it, so
        // the placeholder never escapes (an empty tensor for a tensor result).
        let zero = if self.returns_tensor {
            let ty = syn::Ident::new(self.float_ty.name(), Span::call_site());
            self.constant(quote!(::adjoint::Tensor::<#ty>::zeros(&[0])), Kind::Tensor)
        } else {
            self.constant(quote!(0.0), Kind::Float)
        };
        let not_done = self.constant(quote!(false), Kind::Other);
        env.declare(names.value.clone(), zero, true);
        env.declare(names.done.clone(), not_done, true);
        let value_name = names.value.clone();
        self.early_return = Some(names);
        self.lower_stmts(stmts, env, Tail::AssignReturn)?;
        let slot = env
            .find(&value_name)
            .expect("adjoint-macros internal error: return slot missing");
        Ok(env.get(slot).value)
    }

    /// Lowers a statement list; returns the tail expression's value, if any.
    pub(super) fn lower_stmts(
        &mut self,
        stmts: &[syn::Stmt],
        env: &mut Env,
        tail: Tail,
    ) -> Lowered<Option<ValueId>> {
        for (i, stmt) in stmts.iter().enumerate() {
            let is_last = i + 1 == stmts.len();
            let rest = &stmts[i + 1..];
            if let syn::Stmt::Expr(syn::Expr::Return(ret), _) = stmt {
                self.lower_return(ret, env)?;
                if !rest.is_empty() {
                    self.error(rest[0].span(), "unreachable code after `return`");
                }
                return Ok(None);
            }
            if is_last {
                if let syn::Stmt::Expr(e, None) = stmt {
                    let returns = self.early_return.is_some() && contains_return(stmt);
                    if returns || tail == Tail::Discard || is_statement_like(e) {
                        self.lower_statement_expr(e, env)?;
                        return Ok(None);
                    }
                    if self.regions.len() == 1 && tail != Tail::Discard {
                        self.expect = Some(self.result_kind());
                    }
                    let value = self.lower_expr(e, env)?;
                    return match tail {
                        Tail::Value | Tail::Discard => Ok(Some(value)),
                        Tail::AssignReturn => {
                            self.assign_return(value, e.span(), env)?;
                            Ok(None)
                        }
                    };
                }
            }
            self.lower_stmt(stmt, env)?;
            if self.loop_flags.is_some() && contains_loop_jump(stmt) && !rest.is_empty() {
                self.guarded_after_jump(stmt, env, |this, env| {
                    this.lower_stmts(rest, env, tail).map(|_| ())
                })?;
                return Ok(None);
            }
            if self.early_return.is_some() && contains_return(stmt) && !rest.is_empty() {
                self.guarded(env, |this, env| {
                    this.lower_stmts(rest, env, tail).map(|_| ())
                })?;
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// Lowers `f` so that it runs only while no `return` has happened.
    pub(super) fn guarded(
        &mut self,
        env: &mut Env,
        f: impl FnOnce(&mut Self, &mut Env) -> Lowered<()>,
    ) -> Lowered<()> {
        let done_name = match &self.early_return {
            Some(e) => e.done.clone(),
            None => return f(self, env),
        };
        let done = env
            .find(&done_name)
            .map(|s| env.get(s).value)
            .expect("adjoint-macros internal error: return flag missing");
        let placeholder = value_placeholder(done);
        let cond = self.constant(quote!(!#placeholder), Kind::Other);
        self.lower_branches(
            cond,
            env,
            |this, env| f(this, env).map(|_| None),
            |_, _| Ok(None),
            false,
            Span::call_site(),
        )?;
        Ok(())
    }

    pub(super) fn lower_return(&mut self, ret: &syn::ExprReturn, env: &mut Env) -> Lowered<()> {
        let Some(e) = &ret.expr else {
            self.error(ret.span(), "`return` needs the float value to return");
            return Err(());
        };
        let value = self.lower_expr(e, env)?;
        self.assign_return(value, e.span(), env)?;
        let done_name = match &self.early_return {
            Some(names) => names.done.clone(),
            None => {
                self.error(
                    ret.span(),
                    "`return` is supported in statement position only",
                );
                return Err(());
            }
        };
        let done = self.constant(quote!(true), Kind::Other);
        let slot = env.find(&done_name).expect("return flag declared");
        env.set(slot, done);
        Ok(())
    }

    pub(super) fn assign_return(
        &mut self,
        value: ValueId,
        span: Span,
        env: &mut Env,
    ) -> Lowered<()> {
        let value = if self.returns_tensor {
            if self.kind(value) != Kind::Tensor {
                self.error(
                    span,
                    "the function returns a tensor, but this is not a tensor",
                );
                return Err(());
            }
            value
        } else {
            self.as_float(value, span)?
        };
        let name = match &self.early_return {
            Some(names) => names.value.clone(),
            None => return Ok(()),
        };
        let slot = env.find(&name).expect("return slot declared");
        env.set(slot, value);
        Ok(())
    }

    pub(super) fn lower_stmt(&mut self, stmt: &syn::Stmt, env: &mut Env) -> Lowered<()> {
        match stmt {
            syn::Stmt::Local(local) => self.lower_local(local, env),
            syn::Stmt::Expr(e, _) => self.lower_statement_expr(e, env),
            syn::Stmt::Item(item) => {
                self.error(
                    item.span(),
                    "items (fn, struct, use, ...) inside a #[differentiable] function are not supported: \
                     define them outside the function",
                );
                Err(())
            }
            syn::Stmt::Macro(m) => {
                self.error(
                    m.mac.path.span(),
                    format!(
                        "macro calls are not supported inside #[differentiable] functions (the compiler \
                         cannot see what they compute); {SUPPORTED_SUMMARY}"
                    ),
                );
                Err(())
            }
        }
    }

    pub(super) fn lower_local(&mut self, local: &syn::Local, env: &mut Env) -> Lowered<()> {
        let (pat, declared_ty) = match &local.pat {
            syn::Pat::Type(pt) => (&*pt.pat, Some(&*pt.ty)),
            other => (other, None),
        };
        let (ident, mutable) = match pat {
            syn::Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
                (&pi.ident, pi.mutability.is_some())
            }
            other => {
                self.error(
                    other.span(),
                    "only `let name = ...;` and `let mut name = ...;` bindings are supported \
                     (no tuple, struct or slice patterns)",
                );
                return Err(());
            }
        };
        let Some(init) = &local.init else {
            self.error(
                local.span(),
                "a `let` without a value is not supported: initialise the variable where it is declared",
            );
            return Err(());
        };
        if let Some((else_token, _)) = &init.diverge {
            self.error(else_token.span(), "`let ... else` is not supported");
            return Err(());
        }
        let declared_kind = declared_ty.and_then(|ty| {
            if crate::signature::tensor_elem_of(ty).is_some() {
                Some(Kind::Tensor)
            } else if float_ty_of(ty).is_some() {
                Some(Kind::Float)
            } else {
                is_data_ty(ty).then_some(Kind::Other)
            }
        });
        self.expect = declared_kind;
        let mut value = self.lower_expr(&init.expr, env)?;
        if let Some(kind) = declared_kind {
            self.retype_call(value, kind);
        }
        if declared_ty.and_then(float_ty_of) == Some(self.float_ty) {
            value = self.as_float(value, init.expr.span())?;
        }
        env.declare(ident.to_string(), value, mutable);
        Ok(())
    }

    /// Lowers an expression in statement position (its value is unused).
    pub(super) fn lower_statement_expr(&mut self, e: &syn::Expr, env: &mut Env) -> Lowered<()> {
        match e {
            syn::Expr::Assign(a) => {
                let value = self.lower_expr(&a.right, env)?;
                self.assign(&a.left, value, env)
            }
            syn::Expr::Binary(b) if compound_op(&b.op).is_some() => {
                let current = self.lower_expr(&b.left, env)?;
                let rhs = self.lower_expr(&b.right, env)?;
                let (op, sym) = compound_op(&b.op).expect("checked by the guard");
                let tensors = self.kind(current) == Kind::Tensor || self.kind(rhs) == Kind::Tensor;
                let value = if tensors {
                    self.tensor_arith(op, current, rhs, b.op.span())?
                } else {
                    self.arith(op, sym, current, rhs, b.op.span())?
                };
                self.assign(&b.left, value, env)
            }
            syn::Expr::If(i) => self.lower_if(i, env, false).map(|_| ()),
            syn::Expr::ForLoop(f) => self.lower_for(f, env),
            syn::Expr::While(w) => self.lower_while(w, env),
            syn::Expr::Loop(l) => self.lower_loop(l, env),
            syn::Expr::Break(b) => self.lower_break(b, env),
            syn::Expr::Continue(c) => self.lower_continue(c, env),
            syn::Expr::Return(r) => self.lower_return(r, env),
            other => self.lower_expr(other, env).map(|_| ()),
        }
    }

    pub(super) fn assign(
        &mut self,
        target: &syn::Expr,
        value: ValueId,
        env: &mut Env,
    ) -> Lowered<()> {
        let ident = match target {
            syn::Expr::Path(p) if p.qself.is_none() => p.path.get_ident(),
            _ => None,
        };
        let Some(ident) = ident else {
            if let syn::Expr::Index(_) = target {
                self.errors.push_spanned(
                    target,
                    "writing into slices is not supported in #[differentiable] functions: \
                     slice arguments are read-only; accumulate into a local variable instead",
                );
                return Err(());
            }
            let message = if matches!(target, syn::Expr::Field(_)) {
                "a #[differentiable] function may not mutate its arguments or their fields: \
                 bind the new value to a local (`let w = ...;`) instead"
            } else {
                "only local variables can be assigned in a #[differentiable] function"
            };
            self.errors.push_spanned(target, message);
            return Err(());
        };
        let Some(slot) = env.find(&ident.to_string()) else {
            self.error(ident.span(), format!("cannot find variable `{ident}`"));
            return Err(());
        };
        if !env.get(slot).mutable {
            self.error(
                ident.span(),
                format!("cannot assign to `{ident}`: declare it `let mut {ident}`"),
            );
            return Err(());
        }
        self.check_slice_flow(value, target.span())?;
        let old = env.get(slot).value;
        let value = match (self.kind(old), self.kind(value)) {
            (Kind::Float, Kind::Untyped) => self.as_float(value, target.span())?,
            _ => value,
        };
        env.set(slot, value);
        Ok(())
    }
}

/// Whether `ty` is an integer or `bool`: a `let` of this type holds data,
/// even when a call computes it from tensors (`let c: usize = channels(x);`).
fn is_data_ty(ty: &syn::Type) -> bool {
    const DATA: [&str; 13] = [
        "usize", "isize", "u8", "u16", "u32", "u64", "u128", "i8", "i16", "i32", "i64", "i128",
        "bool",
    ];
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => p
            .path
            .get_ident()
            .is_some_and(|ident| DATA.iter().any(|d| ident == d)),
        syn::Type::Paren(p) => is_data_ty(&p.elem),
        syn::Type::Group(g) => is_data_ty(&g.elem),
        _ => false,
    }
}
