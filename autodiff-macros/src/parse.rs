//! Lowering: the syn AST of a function body to the structured SSA IR.
//!
//! This is also the fence: every syntax kind is either lowered or rejected
//! here with a spanned error saying what is supported instead. Lowering
//! continues after an error so that all problems are reported together.

use crate::diagnostics::Errors;
use crate::env::{Env, Slot};
use crate::ir::{
    value_placeholder, Carried, FloatTy, Function, Kind, Merge, Op, Param, Region, RegionId, Stmt,
    ValueId, ValueInfo,
};
use crate::rules::{method_op, SUPPORTED_METHODS};
use crate::signature::{float_ty_of, ParamKind, Signature};
use crate::tensor_rules::{self, Slot as Operand, TensorOp};
use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use std::collections::HashMap;
use syn::spanned::Spanned;
use syn::visit::Visit;

const SUPPORTED_SUMMARY: &str =
    "supported are float arithmetic (+ - * /, unary -), literals and consts, \
     the math methods, `let`/`let mut` with `=` `+=` `-=` `*=` `/=`, `if`/`else`, \
     `for i in a..b` loops, `return`, and calls to other #[differentiable] functions";

const TENSOR_CONTROL_FLOW: &str = "`if`, `for` and early `return` are not supported in tensor \
     functions yet: express the data dependence with ops (`relu`, `max`, masks) or move the control \
     flow into the caller, which can call this function in a loop";

/// Float methods whose derivative is zero almost everywhere: their result is
/// treated as a constant.
const PIECEWISE_CONSTANT: &[&str] = &["floor", "ceil", "round", "trunc", "signum"];

/// Float methods that inspect a value and return non-float data.
const INSPECTIONS: &[&str] = &[
    "is_nan",
    "is_finite",
    "is_infinite",
    "is_normal",
    "is_sign_positive",
    "is_sign_negative",
    "total_cmp",
    "partial_cmp",
];

type Lowered<T> = Result<T, ()>;

/// Lowers the body of a function with a checked signature.
pub fn lower(item: &syn::ItemFn, sig: &Signature, errors: &mut Errors) -> Option<Function> {
    let mut lowerer = Lowerer {
        values: Vec::new(),
        regions: Vec::new(),
        region_count: 0,
        const_tokens: HashMap::new(),
        errors,
        float_ty: sig.float_ty,
        early_return: None,
        tensor_mode: sig.tensor_mode(),
        returns_tensor: sig.returns_tensor,
    };
    let before = lowerer.errors.len();
    let mut env = Env::new();
    let mut params = Vec::new();
    lowerer.open_region();
    for p in &sig.params {
        let kind = match p.kind {
            ParamKind::Float => Kind::Float,
            ParamKind::Tensor => Kind::Tensor,
            ParamKind::Model => Kind::Model,
            ParamKind::Data => Kind::Other,
        };
        let value = lowerer.new_value(kind);
        env.declare(p.ident.to_string(), value, p.mutable);
        params.push(Param {
            ident: p.ident.clone(),
            value,
            active: p.active,
        });
    }
    let result = lowerer.lower_body(&item.block, &mut env);
    let body = lowerer.close_region();
    let result = result.ok()?;
    if lowerer.errors.len() > before {
        return None;
    }
    Some(Function {
        name: sig.name.clone(),
        float_ty: sig.float_ty,
        params,
        body,
        result,
        values: lowerer.values,
    })
}

struct RegionBuilder {
    id: RegionId,
    stmts: Vec<Stmt>,
    cse: HashMap<String, ValueId>,
}

/// Names of the variables that carry an early `return` through the body.
struct EarlyReturn {
    value: String,
    done: String,
}

struct Lowerer<'e> {
    values: Vec<ValueInfo>,
    regions: Vec<RegionBuilder>,
    region_count: usize,
    const_tokens: HashMap<ValueId, TokenStream>,
    errors: &'e mut Errors,
    float_ty: FloatTy,
    early_return: Option<EarlyReturn>,
    /// The function computes with tensors: control flow is not supported yet.
    tensor_mode: bool,
    /// The function returns a tensor.
    returns_tensor: bool,
}

/// What a statement list does with its tail expression.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// The tail is the block's value.
    Value,
    /// The block's value is unused: the tail is lowered as a statement.
    Discard,
    /// The tail is the function's result, assigned to the early-return slot.
    AssignReturn,
}

impl Lowerer<'_> {
    // ----- values and regions -------------------------------------------------

    fn new_value(&mut self, kind: Kind) -> ValueId {
        self.values.push(ValueInfo { kind });
        ValueId(self.values.len() - 1)
    }

    fn kind(&self, v: ValueId) -> Kind {
        self.values[v.0].kind
    }

    /// Sets the kind of a call's result from a `let` type annotation (the
    /// macro cannot see the callee's return type).
    fn retype_call(&mut self, v: ValueId, kind: Kind) {
        let is_call = self.regions.iter().any(|r| {
            r.stmts
                .iter()
                .any(|s| matches!(s, Stmt::Let { value, op: Op::Call(_), .. } if *value == v))
        });
        if is_call {
            self.values[v.0].kind = kind;
        }
    }

    fn open_region(&mut self) -> RegionId {
        let id = RegionId(self.region_count);
        self.region_count += 1;
        self.regions.push(RegionBuilder {
            id,
            stmts: Vec::new(),
            cse: HashMap::new(),
        });
        id
    }

    fn close_region(&mut self) -> Region {
        let builder = self
            .regions
            .pop()
            .expect("adjoint-macros internal error: region stack underflow");
        Region {
            id: builder.id,
            stmts: builder.stmts,
        }
    }

    fn push_stmt(&mut self, stmt: Stmt) {
        if let Some(r) = self.regions.last_mut() {
            r.stmts.push(stmt);
        }
    }

    /// Emits `op(args)`, reusing an identical earlier value in scope (CSE).
    fn emit(&mut self, op: Op, args: Vec<ValueId>, kind: Kind) -> ValueId {
        let key = match &op {
            Op::Call(_) => None,
            Op::Const(tokens) => Some(format!("const {kind:?} {tokens}")),
            other => Some(format!("{other:?} {args:?}")),
        };
        if let Some(key) = &key {
            if let Some(v) = self.regions.iter().rev().find_map(|r| r.cse.get(key)) {
                return *v;
            }
        }
        let value = self.new_value(kind);
        if let Op::Const(tokens) = &op {
            self.const_tokens.insert(value, tokens.clone());
        }
        if let (Some(key), Some(r)) = (key, self.regions.last_mut()) {
            r.cse.insert(key, value);
        }
        self.push_stmt(Stmt::Let { value, op, args });
        value
    }

    fn constant(&mut self, tokens: TokenStream, kind: Kind) -> ValueId {
        self.emit(Op::Const(tokens), Vec::new(), kind)
    }

    /// `v` as a float operand: untyped constants become float constants,
    /// integers and booleans are an error.
    fn as_float(&mut self, v: ValueId, span: Span) -> Lowered<ValueId> {
        match self.kind(v) {
            Kind::Float => Ok(v),
            Kind::Untyped => {
                let tokens = self
                    .const_tokens
                    .get(&v)
                    .cloned()
                    .unwrap_or_else(|| value_placeholder(v).into_token_stream());
                Ok(self.constant(tokens, Kind::Float))
            }
            Kind::Other => {
                self.errors.push(
                    span,
                    format!(
                        "this integer or boolean value is used in float arithmetic: convert it with `as {}`",
                        self.float_ty.name()
                    ),
                );
                Err(())
            }
            Kind::Tensor | Kind::Model => {
                self.errors.push(
                    span,
                    "a tensor is used where a float is expected: reduce it first (e.g. `.sum()`, `.mean()`)",
                );
                Err(())
            }
        }
    }

    /// Runs `f` as a trial whose values and regions are thrown away (used to
    /// find which variables a loop body assigns). Its errors are kept when it
    /// fails, and dropped when it succeeds (the real pass reports them again).
    fn trial<T>(&mut self, f: impl FnOnce(&mut Self) -> Lowered<T>) -> Lowered<T> {
        let (values, regions, errors) = (self.values.len(), self.region_count, self.errors.len());
        let depth = self.regions.len();
        let out = f(self);
        self.values.truncate(values);
        self.region_count = regions;
        self.regions.truncate(depth);
        if out.is_ok() {
            self.errors.truncate(errors);
        }
        out
    }

    fn error(&mut self, span: Span, message: impl std::fmt::Display) {
        self.errors.push(span, message);
    }

    // ----- function body and statements ----------------------------------------

    fn lower_body(&mut self, block: &syn::Block, env: &mut Env) -> Lowered<ValueId> {
        let stmts = &block.stmts;
        let last_is_return = matches!(stmts.last(), Some(syn::Stmt::Expr(syn::Expr::Return(_), _)));
        if self.tensor_mode {
            if let Some(ret) = stmts.iter().find_map(find_return) {
                self.error(ret, TENSOR_CONTROL_FLOW);
                return Err(());
            }
        }
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
        let zero = self.constant(quote!(0.0), Kind::Float);
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
    fn lower_stmts(
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
    fn guarded(
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

    fn lower_return(&mut self, ret: &syn::ExprReturn, env: &mut Env) -> Lowered<()> {
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

    fn assign_return(&mut self, value: ValueId, span: Span, env: &mut Env) -> Lowered<()> {
        let value = self.as_float(value, span)?;
        let name = match &self.early_return {
            Some(names) => names.value.clone(),
            None => return Ok(()),
        };
        let slot = env.find(&name).expect("return slot declared");
        env.set(slot, value);
        Ok(())
    }

    fn lower_stmt(&mut self, stmt: &syn::Stmt, env: &mut Env) -> Lowered<()> {
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

    fn lower_local(&mut self, local: &syn::Local, env: &mut Env) -> Lowered<()> {
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
        let mut value = self.lower_expr(&init.expr, env)?;
        if let Some(ty) = declared_ty {
            if crate::signature::tensor_elem_of(ty).is_some() {
                self.retype_call(value, Kind::Tensor);
            } else if float_ty_of(ty).is_some() {
                self.retype_call(value, Kind::Float);
            }
        }
        if declared_ty.and_then(float_ty_of) == Some(self.float_ty) {
            value = self.as_float(value, init.expr.span())?;
        }
        env.declare(ident.to_string(), value, mutable);
        Ok(())
    }

    /// Lowers an expression in statement position (its value is unused).
    fn lower_statement_expr(&mut self, e: &syn::Expr, env: &mut Env) -> Lowered<()> {
        match e {
            syn::Expr::Assign(a) => {
                let value = self.lower_expr(&a.right, env)?;
                self.assign(&a.left, value, env)
            }
            syn::Expr::Binary(b) if compound_op(&b.op).is_some() => {
                let current = self.lower_expr(&b.left, env)?;
                let rhs = self.lower_expr(&b.right, env)?;
                let (op, sym) = compound_op(&b.op).expect("checked by the guard");
                let value = self.arith(op, sym, current, rhs, b.op.span())?;
                self.assign(&b.left, value, env)
            }
            syn::Expr::If(i) => self.lower_if(i, env, false).map(|_| ()),
            syn::Expr::ForLoop(f) => self.lower_for(f, env),
            syn::Expr::Return(r) => self.lower_return(r, env),
            other => self.lower_expr(other, env).map(|_| ()),
        }
    }

    fn assign(&mut self, target: &syn::Expr, value: ValueId, env: &mut Env) -> Lowered<()> {
        let ident = match target {
            syn::Expr::Path(p) if p.qself.is_none() => p.path.get_ident(),
            _ => None,
        };
        let Some(ident) = ident else {
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
        let old = env.get(slot).value;
        let value = match (self.kind(old), self.kind(value)) {
            (Kind::Float, Kind::Untyped) => self.as_float(value, target.span())?,
            _ => value,
        };
        env.set(slot, value);
        Ok(())
    }

    // ----- control flow --------------------------------------------------------

    fn lower_if(
        &mut self,
        expr: &syn::ExprIf,
        env: &mut Env,
        want_value: bool,
    ) -> Lowered<Option<ValueId>> {
        if self.tensor_mode {
            self.error(expr.if_token.span(), TENSOR_CONTROL_FLOW);
            return Err(());
        }
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

    fn lower_block_stmts(
        &mut self,
        stmts: &[syn::Stmt],
        env: &mut Env,
    ) -> Lowered<Option<ValueId>> {
        self.lower_stmts(stmts, env, Tail::Value)
    }

    /// Lowers a two-way branch: each side in its own region and scope, then
    /// merges the variables either side assigns (and the branch values).
    fn lower_branches(
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
    fn join_kinds(
        &mut self,
        a: ValueId,
        b: ValueId,
        span: Span,
    ) -> Lowered<(ValueId, ValueId, Kind)> {
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
    fn lower_nested<T>(
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

    fn lower_for(&mut self, f: &syn::ExprForLoop, env: &mut Env) -> Lowered<()> {
        if self.tensor_mode {
            self.error(f.for_token.span(), TENSOR_CONTROL_FLOW);
            return Err(());
        }
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
        let guard_body = self.early_return.is_some() && contains_return_block(&f.body);
        let body_stmts = &f.body.stmts;
        let lower_body = |this: &mut Self, env: &mut Env, index: ValueId| -> Lowered<()> {
            if let Some(name) = &index_name {
                env.declare(name.clone(), index, false);
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

    // ----- expressions ---------------------------------------------------------

    fn lower_expr(&mut self, e: &syn::Expr, env: &mut Env) -> Lowered<ValueId> {
        match e {
            syn::Expr::Lit(lit) => self.lower_lit(&lit.lit),
            syn::Expr::Path(p) => self.lower_path(p, env),
            syn::Expr::Paren(p) => self.lower_expr(&p.expr, env),
            syn::Expr::Group(g) => self.lower_expr(&g.expr, env),
            syn::Expr::Binary(b) => self.lower_binary(b, env),
            syn::Expr::Unary(u) => self.lower_unary(u, env),
            syn::Expr::MethodCall(m) => self.lower_method_call(m, env),
            syn::Expr::Call(c) => self.lower_call(c, env),
            syn::Expr::Cast(c) => self.lower_cast(c, env),
            syn::Expr::Reference(r) => self.lower_reference(r, env),
            syn::Expr::Array(a) => {
                let elems = a.elems.iter().collect::<Vec<_>>();
                self.lower_data(&elems, env, |vals| quote!([#(#vals),*]))
            }
            syn::Expr::Range(r) if r.start.is_some() && r.end.is_some() => {
                let (Some(start), Some(end)) = (&r.start, &r.end) else {
                    unreachable!("guarded")
                };
                let limits = &r.limits;
                self.lower_data(&[&**start, &**end], env, |vals| {
                    let (s, e) = (&vals[0], &vals[1]);
                    quote!((#s #limits #e))
                })
            }
            syn::Expr::Field(f) => self.lower_field(f, env),
            syn::Expr::If(i) => match self.lower_if(i, env, true)? {
                Some(v) => Ok(v),
                None => Err(()),
            },
            syn::Expr::Block(b) if b.label.is_none() => {
                if self.early_return.is_some() && contains_return_block(&b.block) {
                    self.error(
                        b.span(),
                        "`return` inside a block used as a value is not supported",
                    );
                    return Err(());
                }
                env.push_scope();
                let out = self.lower_block_stmts(&b.block.stmts, env);
                env.pop_scope();
                match out? {
                    Some(v) => Ok(v),
                    None => {
                        self.error(
                            b.span(),
                            "this block has no value: end it with an expression",
                        );
                        Err(())
                    }
                }
            }
            other => {
                let (span, message) = unsupported_expr(other);
                self.error(span, message);
                Err(())
            }
        }
    }

    fn lower_lit(&mut self, lit: &syn::Lit) -> Lowered<ValueId> {
        let kind = match lit {
            syn::Lit::Float(f) => {
                if !f.suffix().is_empty() && f.suffix() != self.float_ty.name() {
                    self.error(
                        f.span(),
                        format!(
                            "this literal is `{}` but the function computes in `{}`",
                            f.suffix(),
                            self.float_ty.name()
                        ),
                    );
                    return Err(());
                }
                Kind::Float
            }
            syn::Lit::Int(i) if i.suffix() == "f32" || i.suffix() == "f64" => Kind::Float,
            syn::Lit::Int(_) | syn::Lit::Bool(_) => Kind::Other,
            other => {
                self.error(
                    other.span(),
                    "only number and boolean literals are supported in #[differentiable] functions",
                );
                return Err(());
            }
        };
        Ok(self.constant(lit.to_token_stream(), kind))
    }

    fn lower_path(&mut self, p: &syn::ExprPath, env: &Env) -> Lowered<ValueId> {
        if let Some(ident) = p.path.get_ident() {
            if let Some(slot) = env.find(&ident.to_string()) {
                return Ok(env.get(slot).value);
            }
        }
        Ok(self.constant(p.to_token_stream(), Kind::Untyped))
    }

    fn opaque(&mut self, tokens: TokenStream) -> ValueId {
        self.constant(tokens, Kind::Other)
    }

    fn lower_binary(&mut self, b: &syn::ExprBinary, env: &mut Env) -> Lowered<ValueId> {
        if compound_op(&b.op).is_some() {
            self.error(
                b.op.span(),
                "compound assignment is a statement here: write it on its own line ending in `;`",
            );
            return Err(());
        }
        let lhs = self.lower_expr(&b.left, env)?;
        let rhs = self.lower_expr(&b.right, env)?;
        let op = &b.op;
        let (arith, sym): (Option<Op>, TokenStream) = match op {
            syn::BinOp::Add(_) => (Some(Op::Add), quote!(+)),
            syn::BinOp::Sub(_) => (Some(Op::Sub), quote!(-)),
            syn::BinOp::Mul(_) => (Some(Op::Mul), quote!(*)),
            syn::BinOp::Div(_) => (Some(Op::Div), quote!(/)),
            other => (None, other.to_token_stream()),
        };
        let tensors = self.kind(lhs) == Kind::Tensor || self.kind(rhs) == Kind::Tensor;
        match arith {
            Some(arith) if tensors => self.tensor_arith(arith, lhs, rhs, op.span()),
            Some(arith) => self.arith(arith, sym, lhs, rhs, op.span()),
            None => {
                let any_float = self.kind(lhs) == Kind::Float || self.kind(rhs) == Kind::Float;
                let is_comparison = matches!(
                    op,
                    syn::BinOp::Lt(_)
                        | syn::BinOp::Le(_)
                        | syn::BinOp::Gt(_)
                        | syn::BinOp::Ge(_)
                        | syn::BinOp::Eq(_)
                        | syn::BinOp::Ne(_)
                );
                if any_float && !is_comparison {
                    self.error(
                        op.span(),
                        format!(
                            "`{}` is not differentiable on floats; supported are + - * / and comparisons",
                            op.to_token_stream()
                        ),
                    );
                    return Err(());
                }
                let (l, r) = (value_placeholder(lhs), value_placeholder(rhs));
                Ok(self.opaque(quote!((#l #sym #r))))
            }
        }
    }

    /// `lhs op rhs` for one of + - * /: a float op if either side is a
    /// float, integer arithmetic otherwise.
    fn arith(
        &mut self,
        op: Op,
        sym: TokenStream,
        lhs: ValueId,
        rhs: ValueId,
        span: Span,
    ) -> Lowered<ValueId> {
        let float = self.kind(lhs) == Kind::Float || self.kind(rhs) == Kind::Float;
        if float {
            let lhs = self.as_float(lhs, span)?;
            let rhs = self.as_float(rhs, span)?;
            Ok(self.emit(op, vec![lhs, rhs], Kind::Float))
        } else {
            let (l, r) = (value_placeholder(lhs), value_placeholder(rhs));
            let kind = if self.kind(lhs) == Kind::Untyped && self.kind(rhs) == Kind::Untyped {
                Kind::Untyped
            } else {
                Kind::Other
            };
            Ok(self.constant(quote!((#l #sym #r)), kind))
        }
    }

    fn lower_unary(&mut self, u: &syn::ExprUnary, env: &mut Env) -> Lowered<ValueId> {
        let operand = self.lower_expr(&u.expr, env)?;
        let x = value_placeholder(operand);
        match (&u.op, self.kind(operand)) {
            (syn::UnOp::Neg(_), Kind::Float) => Ok(self.emit(Op::Neg, vec![operand], Kind::Float)),
            (syn::UnOp::Neg(_), Kind::Tensor) => {
                Ok(self.emit(Op::Tensor(TensorOp::Neg), vec![operand], Kind::Tensor))
            }
            (syn::UnOp::Neg(_), kind) => Ok(self.constant(quote!((-#x)), kind)),
            (syn::UnOp::Not(_), Kind::Float) => {
                self.error(u.op.span(), "`!` cannot be applied to a float");
                Err(())
            }
            (syn::UnOp::Not(_), _) => Ok(self.opaque(quote!((!#x)))),
            (other, _) => {
                self.error(
                    other.span(),
                    "dereferencing is not supported: arguments and locals are plain values",
                );
                Err(())
            }
        }
    }

    fn lower_cast(&mut self, c: &syn::ExprCast, env: &mut Env) -> Lowered<ValueId> {
        let operand = self.lower_expr(&c.expr, env)?;
        let x = value_placeholder(operand);
        let ty = &c.ty;
        match (float_ty_of(ty), self.kind(operand)) {
            (Some(t), Kind::Float) if t == self.float_ty => Ok(operand),
            (Some(_), Kind::Float) => {
                self.error(
                    c.ty.span(),
                    format!(
                        "casting between float types is not differentiable here: the function computes in `{}`",
                        self.float_ty.name()
                    ),
                );
                Err(())
            }
            (Some(t), _) if t == self.float_ty => {
                Ok(self.constant(quote!((#x as #ty)), Kind::Float))
            }
            _ => Ok(self.opaque(quote!((#x as #ty)))),
        }
    }

    fn lower_method_call(&mut self, m: &syn::ExprMethodCall, env: &mut Env) -> Lowered<ValueId> {
        if let Some(t) = &m.turbofish {
            self.error(t.span(), "generic method calls are not supported");
            return Err(());
        }
        let receiver = self.lower_expr(&m.receiver, env)?;
        let mut args = Vec::new();
        for a in &m.args {
            args.push(self.lower_expr(a, env)?);
        }
        let name = m.method.to_string();
        let span = m.method.span();
        if self.kind(receiver) == Kind::Tensor && name == "clone" && args.is_empty() {
            return Ok(receiver);
        }
        if self.kind(receiver) == Kind::Tensor {
            let Some(op) = tensor_rules::method_op(&name) else {
                self.error(
                    span,
                    format!(
                        "`{name}` is not a tensor op the differentiating compiler knows; supported are: {}",
                        tensor_rules::SUPPORTED_TENSOR_METHODS
                    ),
                );
                return Err(());
            };
            let mut operands = vec![receiver];
            operands.extend(args);
            let mut spans = vec![m.receiver.span()];
            spans.extend(m.args.iter().map(|a| a.span()));
            return self.tensor_op(op, operands, &spans, m.span());
        }
        if self.kind(receiver) == Kind::Model {
            self.error(
                span,
                "methods of a model are not differentiated: use its fields (`p.w1`) in tensor ops",
            );
            return Err(());
        }
        if self.kind(receiver) == Kind::Other {
            return Ok(self.opaque_method(receiver, &m.method, &args));
        }
        if PIECEWISE_CONSTANT.contains(&name.as_str()) && args.is_empty() {
            let receiver = self.as_float(receiver, span)?;
            let tokens = self.method_tokens(receiver, &m.method, &args);
            return Ok(self.constant(tokens, Kind::Float));
        }
        if INSPECTIONS.contains(&name.as_str()) {
            return Ok(self.opaque_method(receiver, &m.method, &args));
        }
        let mut operands = vec![receiver];
        operands.extend(args);
        let mut spans = vec![m.receiver.span()];
        spans.extend(m.args.iter().map(|a| a.span()));
        self.lower_op_call(&name, operands, &spans, span, m.span())
    }

    fn method_tokens(
        &self,
        receiver: ValueId,
        method: &syn::Ident,
        args: &[ValueId],
    ) -> TokenStream {
        let r = value_placeholder(receiver);
        let args = args.iter().map(|a| value_placeholder(*a));
        quote!(#r.#method(#(#args),*))
    }

    fn opaque_method(
        &mut self,
        receiver: ValueId,
        method: &syn::Ident,
        args: &[ValueId],
    ) -> ValueId {
        let tokens = self.method_tokens(receiver, method, args);
        self.opaque(tokens)
    }

    /// A known math op by name, with the receiver as first operand.
    fn lower_op_call(
        &mut self,
        name: &str,
        operands: Vec<ValueId>,
        operand_spans: &[Span],
        name_span: Span,
        span: Span,
    ) -> Lowered<ValueId> {
        let Some((op, arity)) = method_op(name) else {
            self.error(
                name_span,
                format!(
                    "`{name}` is not a method the differentiating compiler knows; supported are: {SUPPORTED_METHODS} \
                     (or write a #[differentiable] function for it)"
                ),
            );
            return Err(());
        };
        if operands.len() != arity {
            self.error(
                span,
                format!(
                    "`{name}` takes {} argument(s) besides the receiver",
                    arity - 1
                ),
            );
            return Err(());
        }
        let mut lowered = Vec::new();
        for (i, v) in operands.into_iter().enumerate() {
            let operand_span = operand_spans.get(i).copied().unwrap_or(span);
            if matches!(op, Op::Powi) && i == 1 {
                if self.kind(v) == Kind::Float {
                    self.error(operand_span, "the exponent of `powi` must be an integer; use `powf` for a float exponent");
                    return Err(());
                }
                lowered.push(v);
            } else {
                lowered.push(self.as_float(v, operand_span)?);
            }
        }
        Ok(self.emit(op, lowered, Kind::Float))
    }

    /// A tensor op: checks each operand against the op's slots.
    fn tensor_op(
        &mut self,
        op: TensorOp,
        operands: Vec<ValueId>,
        spans: &[Span],
        span: Span,
    ) -> Lowered<ValueId> {
        let slots = tensor_rules::slots(op);
        if operands.len() != slots.len() {
            self.error(
                span,
                format!(
                    "`{}` takes {} argument(s) besides the receiver",
                    tensor_rules::name(op),
                    slots.len() - 1
                ),
            );
            return Err(());
        }
        let mut lowered = Vec::new();
        for (i, (v, slot)) in operands.into_iter().zip(slots).enumerate() {
            let span = spans.get(i).copied().unwrap_or(span);
            let ok = match slot {
                Operand::Tensor => self.kind(v) == Kind::Tensor,
                Operand::Scalar => matches!(self.kind(v), Kind::Float | Kind::Untyped),
                Operand::Data => !matches!(self.kind(v), Kind::Tensor | Kind::Model),
            };
            if !ok {
                let expected = match slot {
                    Operand::Tensor => "a tensor",
                    Operand::Scalar => "a float",
                    Operand::Data => "non-differentiable data (an axis, a shape, labels)",
                };
                self.error(
                    span,
                    format!("`{}` expects {expected} here", tensor_rules::name(op)),
                );
                return Err(());
            }
            let v = if *slot == Operand::Scalar {
                self.as_float(v, span)?
            } else {
                v
            };
            lowered.push(v);
        }
        let kind = if tensor_rules::returns_tensor(op) {
            Kind::Tensor
        } else {
            Kind::Float
        };
        Ok(self.emit(Op::Tensor(op), lowered, kind))
    }

    /// `lhs op rhs` where one side is a tensor: broadcasting tensor
    /// arithmetic, or tensor-scalar arithmetic.
    fn tensor_arith(&mut self, op: Op, lhs: ValueId, rhs: ValueId, span: Span) -> Lowered<ValueId> {
        let (lt, rt) = (
            self.kind(lhs) == Kind::Tensor,
            self.kind(rhs) == Kind::Tensor,
        );
        let tensor_op = match (op, lt, rt) {
            (Op::Add, true, true) => TensorOp::Add,
            (Op::Sub, true, true) => TensorOp::Sub,
            (Op::Mul, true, true) => TensorOp::Mul,
            (Op::Div, true, true) => TensorOp::Div,
            (Op::Add, true, false) => TensorOp::AddScalar,
            (Op::Sub, true, false) => TensorOp::SubScalar,
            (Op::Mul, true, false) => TensorOp::MulScalar,
            (Op::Div, true, false) => TensorOp::DivScalar,
            (Op::Add, false, true) => {
                return self.tensor_op(TensorOp::AddScalar, vec![rhs, lhs], &[], span)
            }
            (Op::Mul, false, true) => {
                return self.tensor_op(TensorOp::MulScalar, vec![rhs, lhs], &[], span)
            }
            (Op::Sub, false, true) => TensorOp::RSubScalar,
            (Op::Div, false, true) => TensorOp::RDivScalar,
            _ => unreachable!("tensor_arith is called for + - * / with a tensor operand"),
        };
        self.tensor_op(tensor_op, vec![lhs, rhs], &[], span)
    }

    /// Non-differentiable data built from parts (`[3, 4]`, `1..n`): opaque,
    /// and an error if a part is a float, tensor or model.
    fn lower_data(
        &mut self,
        parts: &[&syn::Expr],
        env: &mut Env,
        build: impl FnOnce(Vec<syn::Ident>) -> TokenStream,
    ) -> Lowered<ValueId> {
        let mut vals = Vec::new();
        for p in parts {
            let v = self.lower_expr(p, env)?;
            if self.kind(v).is_differentiable() {
                self.error(p.span(), "arrays and ranges may hold only integers and other data, not floats or tensors");
                return Err(());
            }
            vals.push(value_placeholder(v));
        }
        Ok(self.opaque(build(vals)))
    }

    /// `&e`: tensors and models are borrowed by generated code anyway; other
    /// data keeps its reference.
    fn lower_reference(&mut self, r: &syn::ExprReference, env: &mut Env) -> Lowered<ValueId> {
        if let Some(m) = &r.mutability {
            self.error(
                m.span(),
                "`&mut` is not supported: #[differentiable] functions do not mutate",
            );
            return Err(());
        }
        let v = self.lower_expr(&r.expr, env)?;
        match self.kind(v) {
            Kind::Tensor | Kind::Model => Ok(v),
            Kind::Float => {
                self.error(
                    r.and_token.span(),
                    "references to floats are not supported: pass floats by value",
                );
                Err(())
            }
            Kind::Other | Kind::Untyped => {
                let x = value_placeholder(v);
                Ok(self.opaque(quote!(&#x)))
            }
        }
    }

    /// `model.field.field`: the tensor at that path of a model argument.
    fn lower_field(&mut self, f: &syn::ExprField, env: &mut Env) -> Lowered<ValueId> {
        let mut members = Vec::new();
        let mut base: &syn::Expr = &syn::Expr::Field(f.clone());
        while let syn::Expr::Field(inner) = strip_parens(base) {
            match &inner.member {
                syn::Member::Named(ident) => members.push(ident.clone()),
                syn::Member::Unnamed(index) => {
                    members.push(syn::Ident::new(&format!("_{}", index.index), index.span))
                }
            }
            base = &inner.base;
        }
        members.reverse();
        let root = self.lower_expr(base, env)?;
        if self.kind(root) != Kind::Model {
            self.error(
                f.dot_token.span(),
                "field access is supported on model arguments (`p.w1`, a struct deriving `Parameters`)",
            );
            return Err(());
        }
        if members.iter().any(|m| m.to_string().starts_with('_')) {
            self.error(
                f.member.span(),
                "tuple-struct fields are not supported in model paths; name the fields",
            );
            return Err(());
        }
        Ok(self.emit(Op::Field(members), vec![root], Kind::Tensor))
    }

    fn lower_call(&mut self, c: &syn::ExprCall, env: &mut Env) -> Lowered<ValueId> {
        let path = match strip_parens(&c.func) {
            syn::Expr::Path(p) if p.qself.is_none() => p.path.clone(),
            other => {
                self.error(
                    other.span(),
                    "only calls of named functions are supported (math functions or #[differentiable] functions)",
                );
                return Err(());
            }
        };
        let mut args = Vec::new();
        for a in &c.args {
            args.push(self.lower_expr(a, env)?);
        }
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let last = path
            .segments
            .last()
            .map(|s| s.ident.clone())
            .expect("a path has at least one segment");
        if segments.len() == 1 && args.first().is_some_and(|a| self.kind(*a) == Kind::Tensor) {
            if let Some(op) = tensor_rules::function_op(&segments[0]) {
                let spans: Vec<Span> = c.args.iter().map(|a| a.span()).collect();
                return self.tensor_op(op, args, &spans, c.span());
            }
        }
        let is_float_ty_path =
            segments.len() == 2 && (segments[0] == "f64" || segments[0] == "f32");
        let runtime_prefix = segments.len() >= 2
            && segments[segments.len() - 2] == "scalar"
            && (segments.len() == 2 || segments[0] == "adjoint");
        let is_runtime_fn = (segments.len() == 1 || runtime_prefix)
            && segments.last().is_some_and(|s| method_op(s).is_some());
        if is_float_ty_path || is_runtime_fn {
            if is_float_ty_path && segments[0] != self.float_ty.name() {
                self.error(
                    path.span(),
                    format!("the function computes in `{}`", self.float_ty.name()),
                );
                return Err(());
            }
            let spans: Vec<Span> = c.args.iter().map(|a| a.span()).collect();
            return self.lower_op_call(&last.to_string(), args, &spans, last.span(), c.span());
        }
        if path.segments.iter().any(|s| !s.arguments.is_empty()) {
            self.error(path.span(), "generic function calls are not supported");
            return Err(());
        }
        // A call's result kind: in tensor code, a tensor when it takes tensors
        // or models (a layer), unless a `let` annotation says otherwise.
        let takes_tensors = args
            .iter()
            .any(|a| matches!(self.kind(*a), Kind::Tensor | Kind::Model));
        let kind = if self.tensor_mode && takes_tensors {
            Kind::Tensor
        } else {
            Kind::Float
        };
        Ok(self.emit(Op::Call(path), args, kind))
    }
}

/// Expressions that only make sense as statements (assignments, loops).
fn is_statement_like(e: &syn::Expr) -> bool {
    match e {
        syn::Expr::Assign(_) | syn::Expr::ForLoop(_) => true,
        syn::Expr::Binary(b) => compound_op(&b.op).is_some(),
        _ => false,
    }
}

fn compound_op(op: &syn::BinOp) -> Option<(Op, TokenStream)> {
    match op {
        syn::BinOp::AddAssign(_) => Some((Op::Add, quote!(+))),
        syn::BinOp::SubAssign(_) => Some((Op::Sub, quote!(-))),
        syn::BinOp::MulAssign(_) => Some((Op::Mul, quote!(*))),
        syn::BinOp::DivAssign(_) => Some((Op::Div, quote!(/))),
        _ => None,
    }
}

fn strip_parens(e: &syn::Expr) -> &syn::Expr {
    match e {
        syn::Expr::Paren(p) => strip_parens(&p.expr),
        syn::Expr::Group(g) => strip_parens(&g.expr),
        other => other,
    }
}

/// The span and message for an expression kind the compiler rejects.
fn unsupported_expr(e: &syn::Expr) -> (Span, String) {
    let (span, what): (Span, String) = match e {
        syn::Expr::While(w) => (
            w.while_token.span(),
            "`while` loops are not supported: the adjoint needs the trip count; \
             use `for i in 0..n` with a run-time bound `n`"
                .into(),
        ),
        syn::Expr::Loop(l) => (
            l.loop_token.span(),
            "`loop` is not supported: the adjoint needs the trip count; use `for i in 0..n`".into(),
        ),
        syn::Expr::Closure(c) => (
            c.or1_token.span(),
            "closures are not supported inside #[differentiable] functions: \
             write a separate #[differentiable] function and call it"
                .into(),
        ),
        syn::Expr::Unsafe(u) => (
            u.unsafe_token.span(),
            "`unsafe` blocks are not supported in #[differentiable] functions".into(),
        ),
        syn::Expr::Match(m) => (
            m.match_token.span(),
            "`match` is not supported: use `if`/`else`".into(),
        ),
        syn::Expr::Break(b) => (
            b.break_token.span(),
            "`break` is not supported: loops run over their whole range; use `if` inside the loop".into(),
        ),
        syn::Expr::Continue(c) => (
            c.continue_token.span(),
            "`continue` is not supported: use `if` inside the loop".into(),
        ),
        syn::Expr::Macro(m) => (
            m.mac.path.span(),
            "macro calls are not supported inside #[differentiable] functions \
             (the compiler cannot see what they compute)"
                .into(),
        ),
        syn::Expr::Index(i) => (
            i.bracket_token.span.join(),
            "indexing is not supported in scalar #[differentiable] functions: pass the elements as arguments".into(),
        ),
        syn::Expr::Tuple(t) => (t.paren_token.span.join(), "tuples are not supported: a #[differentiable] function returns one float".into()),
        syn::Expr::Async(a) => (a.async_token.span(), "`async` blocks are not supported".into()),
        syn::Expr::Await(a) => (a.await_token.span(), "`.await` is not supported".into()),
        syn::Expr::Try(t) => (t.question_token.span(), "the `?` operator is not supported".into()),
        other => (other.span(), "this expression is not supported".into()),
    };
    (span, format!("{what} ({SUPPORTED_SUMMARY})"))
}

struct ReturnFinder(bool);

impl<'ast> Visit<'ast> for ReturnFinder {
    fn visit_expr_return(&mut self, _: &'ast syn::ExprReturn) {
        self.0 = true;
    }
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

struct ReturnSpan(Option<Span>);

impl<'ast> Visit<'ast> for ReturnSpan {
    fn visit_expr_return(&mut self, r: &'ast syn::ExprReturn) {
        self.0.get_or_insert(r.return_token.span());
    }
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

/// The span of the first `return` in a statement that is not its last one.
fn find_return(stmt: &syn::Stmt) -> Option<Span> {
    let mut finder = ReturnSpan(None);
    finder.visit_stmt(stmt);
    finder.0
}

fn contains_return(stmt: &syn::Stmt) -> bool {
    let mut finder = ReturnFinder(false);
    finder.visit_stmt(stmt);
    finder.0
}

fn contains_return_expr(e: &syn::Expr) -> bool {
    let mut finder = ReturnFinder(false);
    finder.visit_expr(e);
    finder.0
}

fn contains_return_block(b: &syn::Block) -> bool {
    let mut finder = ReturnFinder(false);
    finder.visit_block(b);
    finder.0
}
