//! Lowering of expressions: literals, paths, operators, casts, method and
//! function calls.

use super::syntax::*;
use super::{Lowered, Lowerer, INSPECTIONS, PIECEWISE_CONSTANT};
use crate::env::Env;
use crate::ir::{value_placeholder, Callee, Kind, Op, ValueId};
use crate::rules::{method_op, SUPPORTED_METHODS};
use crate::signature::float_ty_of;
use crate::tensor_rules::{self, TensorOp};
use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::spanned::Spanned;

impl Lowerer<'_> {
    pub(super) fn lower_expr(&mut self, e: &syn::Expr, env: &mut Env) -> Lowered<ValueId> {
        let outer = std::mem::replace(&mut self.span, e.span());
        let out = self.lower_expr_here(e, env);
        self.span = outer;
        out
    }

    fn lower_expr_here(&mut self, e: &syn::Expr, env: &mut Env) -> Lowered<ValueId> {
        // What the context expects passes through parentheses, negation and
        // arithmetic to the calls they contain, and stops everywhere else.
        let expect = self.expect.take();
        if matches!(
            e,
            syn::Expr::Paren(_)
                | syn::Expr::Group(_)
                | syn::Expr::Unary(_)
                | syn::Expr::Binary(_)
                | syn::Expr::Call(_)
        ) {
            self.expect = expect;
        }
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
            syn::Expr::Reference(r) => match self.slice_reference(r, env) {
                Some(v) => Ok(v),
                None => self.lower_reference(r, env),
            },
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
            syn::Expr::Field(_) => self.lower_model_path(e, env),
            syn::Expr::Index(_) if self.tensor_mode && self.reaches_model(e, env) => {
                self.lower_model_path(e, env)
            }
            syn::Expr::Index(i) => self.lower_index(i, env),
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

    pub(super) fn lower_lit(&mut self, lit: &syn::Lit) -> Lowered<ValueId> {
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

    pub(super) fn lower_path(&mut self, p: &syn::ExprPath, env: &Env) -> Lowered<ValueId> {
        if let Some(ident) = p.path.get_ident() {
            if let Some(slot) = env.find(&ident.to_string()) {
                return Ok(env.get(slot).value);
            }
        }
        Ok(self.constant(p.to_token_stream(), Kind::Untyped))
    }

    pub(super) fn opaque(&mut self, tokens: TokenStream) -> ValueId {
        self.constant(tokens, Kind::Other)
    }

    pub(super) fn lower_binary(&mut self, b: &syn::ExprBinary, env: &mut Env) -> Lowered<ValueId> {
        if compound_op(&b.op).is_some() {
            self.error(
                b.op.span(),
                "compound assignment is a statement here: write it on its own line ending in `;`",
            );
            return Err(());
        }
        let expect = self.expect.take().filter(|_| is_arithmetic(&b.op));
        self.expect = expect;
        let lhs = self.lower_expr(&b.left, env)?;
        self.expect = expect;
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
    pub(super) fn arith(
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

    pub(super) fn lower_unary(&mut self, u: &syn::ExprUnary, env: &mut Env) -> Lowered<ValueId> {
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

    pub(super) fn lower_cast(&mut self, c: &syn::ExprCast, env: &mut Env) -> Lowered<ValueId> {
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

    pub(super) fn lower_method_call(
        &mut self,
        m: &syn::ExprMethodCall,
        env: &mut Env,
    ) -> Lowered<ValueId> {
        if let Some(t) = &m.turbofish {
            self.error(t.span(), "generic method calls are not supported");
            return Err(());
        }
        if self.tensor_mode && m.method == "len" && m.args.is_empty() && is_model_path(&m.receiver)
        {
            return self.model_vec_len(&m.receiver, env);
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
        if self.kind(receiver) == Kind::Tensor && name == "shape" && args.is_empty() {
            let x = value_placeholder(receiver);
            return Ok(self.opaque(quote!(#x.shape().to_vec())));
        }
        if self.kind(receiver) == Kind::Tensor {
            let Some(op) = tensor_rules::method_op(&name) else {
                self.error(
                    span,
                    format!(
                        "`{name}` is not a tensor op the differentiating compiler knows; supported are: {}",
                        tensor_rules::supported_tensor_ops()
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
            self.check_slice_method(receiver, &name, span)?;
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

    pub(super) fn method_tokens(
        &self,
        receiver: ValueId,
        method: &syn::Ident,
        args: &[ValueId],
    ) -> TokenStream {
        let r = value_placeholder(receiver);
        let args = args.iter().map(|a| value_placeholder(*a));
        quote!(#r.#method(#(#args),*))
    }

    pub(super) fn opaque_method(
        &mut self,
        receiver: ValueId,
        method: &syn::Ident,
        args: &[ValueId],
    ) -> ValueId {
        let tokens = self.method_tokens(receiver, method, args);
        self.opaque(tokens)
    }

    /// A known math op by name, with the receiver as first operand.
    pub(super) fn lower_op_call(
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

    pub(super) fn lower_call(&mut self, c: &syn::ExprCall, env: &mut Env) -> Lowered<ValueId> {
        let expect = self.expect.take();
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
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if self.tensor_mode && segments.len() == 2 && segments[0] == "Tensor" {
            let parts: Vec<&syn::Expr> = c.args.iter().collect();
            return self.tensor_constructor(&path.segments[1].ident, &parts, env);
        }
        if segments.len() == 1 && segments[0] == self.fn_name {
            self.error(
                path.span(),
                "recursion is not supported in #[differentiable] functions: write it as a loop \
                 (`for` with a run-time bound, or `while`)",
            );
            return Err(());
        }
        let mut args = Vec::new();
        for a in &c.args {
            let arg = match strip_reference(a) {
                Some(path @ (syn::Expr::Field(_) | syn::Expr::Index(_))) if self.tensor_mode => {
                    self.lower_model_path_as(path, env, Kind::Model)?
                }
                _ => self.lower_expr(a, env)?,
            };
            args.push(arg);
        }
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
        // A call's result kind: in tensor code, a float where the context
        // expects one (the function's float result, a `let x: f64`, float
        // arithmetic around it), else a tensor when it takes tensors or models
        // (a layer). The generated code checks the guess against the callee's
        // real return type.
        let takes_tensors = args
            .iter()
            .any(|a| matches!(self.kind(*a), Kind::Tensor | Kind::Model));
        let kind = match expect {
            Some(Kind::Float) => Kind::Float,
            Some(Kind::Other) => Kind::Other,
            _ if self.tensor_mode && takes_tensors => Kind::Tensor,
            _ => Kind::Float,
        };
        let arg_spans = c.args.iter().map(|a| a.span()).collect();
        let callee = Callee {
            path,
            span: c.span(),
            arg_spans,
        };
        let value = self.emit(Op::Call(callee), args, kind);
        if kind == Kind::Tensor && expect.is_none() {
            self.guessed_tensor_calls
                .insert(value, (last.to_string(), c.span()));
        }
        Ok(value)
    }
}

fn is_arithmetic(op: &syn::BinOp) -> bool {
    matches!(
        op,
        syn::BinOp::Add(_) | syn::BinOp::Sub(_) | syn::BinOp::Mul(_) | syn::BinOp::Div(_)
    )
}

/// `e` without a leading shared `&` (and parentheses), if it has one.
fn strip_reference(e: &syn::Expr) -> Option<&syn::Expr> {
    match strip_parens(e) {
        syn::Expr::Reference(r) if r.mutability.is_none() => Some(strip_parens(&r.expr)),
        _ => None,
    }
}

impl Lowerer<'_> {
    /// Whether the fields and indices of `e` start at a model variable
    /// (`p.layers[i]`, `layer.w`), rather than at data (`x.shape()[0]`).
    fn reaches_model(&self, e: &syn::Expr, env: &Env) -> bool {
        let mut base = strip_parens(e);
        while let syn::Expr::Field(syn::ExprField { base: inner, .. })
        | syn::Expr::Index(syn::ExprIndex { expr: inner, .. }) = base
        {
            base = strip_parens(inner);
        }
        match base {
            syn::Expr::Path(p) => p
                .path
                .get_ident()
                .and_then(|i| env.find(&i.to_string()))
                .is_some_and(|slot| self.kind(env.get(slot).value) == Kind::Model),
            _ => false,
        }
    }
}

/// Whether `e` has the shape of a path into a model (`p.layers`, `p.blocks[0].layers`).
pub(super) fn is_model_path(e: &syn::Expr) -> bool {
    matches!(strip_parens(e), syn::Expr::Field(_) | syn::Expr::Index(_))
}
