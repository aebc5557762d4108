//! Code generation for tensor functions (straight-line code over tensors,
//! models and scalars): one forward sweep calling the runtime's kernels and
//! one reverse sweep calling their adjoints.
//!
//! The code is built as a flat list of statements, each with the names it
//! mentions; a last-use pass then inserts `drop` after the last statement
//! that reads a tensor, so the forward sweep keeps alive only the tensors the
//! reverse sweep reads (the save set), and each is freed as soon as its
//! adjoint rule has run.

use crate::codegen::forward::generated_path;
use crate::codegen::names::Names;
use crate::codegen::{allow_lints, mark_used, Parts};
use crate::ir::{Function, Kind, Op, Stmt, ValueId};
use crate::rules::{adjoint, forward, has_adjoint};
use crate::signature::{ParamKind, Signature};
use crate::sym::{with_float_ty, Sym};
use crate::tensor_rules::{self, Slot};
use proc_macro2::{TokenStream, TokenTree};
use quote::{format_ident, quote};
use std::collections::{HashMap, HashSet};

/// The generated items of a tensor function.
pub fn generate(f: &Function, sig: &Signature) -> TokenStream {
    with_float_ty(f.float_ty, || {
        let names = Names::new(f);
        let varied = crate::passes::activity::varied(f);
        let parts = Parts::new(sig);
        let gen = TensorGen {
            f,
            sig,
            names: &names,
            varied: &varied,
            ty: format_ident!("{}", f.float_ty.name()),
        };
        let grad = gen.grad_fn(&parts);
        let pullback = gen.pullback_fn(&parts);
        let trace = gen.trace_fn(&parts);
        let jvp = gen.jvp_fns(&parts);
        let saved = gen.saved_values();
        let graph =
            crate::codegen::graph_fn(sig, &crate::codegen::graph::dot(f, &names, &varied, &saved));
        let used = mark_used(sig);
        quote!(#grad #pullback #trace #jvp #graph #used)
    })
}

/// The local holding a tensor's shape for the reverse sweep: `v6_shape`.
fn shape_ident(value: &syn::Ident) -> syn::Ident {
    format_ident!("{}_shape", value)
}

/// Inserts `let v_shape = v.shape().to_vec();` right after the definition of
/// every tensor whose shape `reverse` mentions, so the tensor itself can be
/// freed before the reverse sweep when only its shape is needed there.
fn record_shapes(
    forward: Vec<Line>,
    reverse: &[Line],
    defined: &[(usize, syn::Ident)],
) -> Vec<Line> {
    let mentioned: HashSet<&String> = reverse.iter().flat_map(|l| l.mentions.iter()).collect();
    let mut after: HashMap<usize, Vec<&syn::Ident>> = HashMap::new();
    for (line, ident) in defined {
        if mentioned.contains(&shape_ident(ident).to_string()) {
            after.entry(*line).or_default().push(ident);
        }
    }
    let mut out = Vec::new();
    for (i, line) in forward.into_iter().enumerate() {
        out.push(line);
        for ident in after.get(&i).into_iter().flatten() {
            let s = shape_ident(ident);
            out.push(Line::new(
                quote!(let #s: ::std::vec::Vec<usize> = #ident.shape().to_vec();),
            ));
        }
    }
    out
}

/// One generated statement and the names it mentions.
struct Line {
    tokens: TokenStream,
    mentions: HashSet<String>,
}

impl Line {
    fn new(tokens: TokenStream) -> Line {
        let mut mentions = HashSet::new();
        collect_idents(&tokens, &mut mentions);
        Line { tokens, mentions }
    }
}

fn collect_idents(tokens: &TokenStream, out: &mut HashSet<String>) {
    for tt in tokens.clone() {
        match tt {
            TokenTree::Ident(i) => {
                out.insert(i.to_string());
            }
            TokenTree::Group(g) => collect_idents(&g.stream(), out),
            _ => {}
        }
    }
}

struct TensorGen<'a> {
    f: &'a Function,
    sig: &'a Signature,
    names: &'a Names,
    varied: &'a [bool],
    ty: syn::Ident,
}

/// The reverse sweep's bookkeeping.
struct Reverse {
    lines: Vec<Line>,
    init: HashSet<ValueId>,
    /// Field values of a model parameter: (model value, field path, adjoint).
    fields: Vec<(ValueId, Vec<syn::Ident>, ValueId)>,
    /// Model parameters whose adjoint is accumulated as a whole (passed to a
    /// call).
    whole_models: HashSet<ValueId>,
    /// Adjoints moved into a callee's pullback (never dropped explicitly).
    moved: HashSet<String>,
}

impl TensorGen<'_> {
    fn is_active(&self, v: ValueId) -> bool {
        self.varied[v.0] && self.f.kind(v).is_differentiable()
    }

    fn stmts(&self) -> impl Iterator<Item = (ValueId, &Op, &[ValueId])> {
        self.f.body.stmts.iter().filter_map(|s| match s {
            Stmt::Let { value, op, args } => Some((*value, op, args.as_slice())),
            _ => None,
        })
    }

    /// The forward sweep: tensor parameters are cloned into owned locals
    /// (an `Arc` increment) so every tensor value is used the same way; with
    /// `own_models`, models too (a shallow copy), so that a pullback closure
    /// owns what it captures.
    fn forward(&self, own_models: bool) -> (Vec<Line>, Vec<(usize, syn::Ident)>) {
        let mut lines = Vec::new();
        let mut defined = Vec::new();
        for (p, sp) in self.f.params.iter().zip(&self.sig.params) {
            let ident = &p.ident;
            if sp.kind == ParamKind::Tensor {
                lines.push(Line::new(
                    quote!(let #ident = ::core::clone::Clone::clone(#ident);),
                ));
                defined.push((lines.len() - 1, ident.clone()));
            } else if sp.kind == ParamKind::Model && own_models {
                lines.push(Line::new(quote!(
                    let #ident = ::adjoint::params::Parameters::map(#ident, &mut |__t| ::core::clone::Clone::clone(__t));
                )));
            }
        }
        for (value, op, args) in self.stmts() {
            let tokens = self.forward_line(value, op, args);
            lines.push(Line::new(tokens));
            if self.f.kind(value) == Kind::Tensor {
                defined.push((lines.len() - 1, self.names.value(value).clone()));
            }
        }
        (lines, defined)
    }

    /// The forward code of one statement (calls go through the callee's
    /// pullback when the result varies).
    fn forward_line(&self, value: ValueId, op: &Op, args: &[ValueId]) -> TokenStream {
        let v = self.names.value(value);
        let arg = |a: &ValueId| self.names.value(*a).clone();
        match op {
            Op::Const(tokens) => {
                let tokens = self.names.resolve(tokens);
                if self.f.kind(value) == Kind::Float {
                    let ty = &self.ty;
                    quote!(let #v: #ty = #tokens;)
                } else {
                    quote!(let #v = #tokens;)
                }
            }
            Op::Field(path) => {
                let model = arg(&args[0]);
                quote!(let #v = ::core::clone::Clone::clone(&#model.#(#path).*);)
            }
            Op::Tensor(top) => {
                let x: Vec<TokenStream> = args
                    .iter()
                    .map(|a| {
                        let i = arg(a);
                        quote!(#i)
                    })
                    .collect();
                let e = tensor_rules::forward(*top, &x);
                quote!(let #v = #e;)
            }
            Op::Call(path) => {
                let passed: Vec<TokenStream> = args.iter().map(|a| self.pass(*a)).collect();
                if self.is_active(value) {
                    let pb = self.names.pullback(value);
                    let callee = generated_path(path, "__", "_pullback");
                    quote!(let (#v, #pb) = #callee(#(#passed),*);)
                } else {
                    quote!(let #v = #path(#(#passed),*);)
                }
            }
            scalar => {
                let x: Vec<Sym> = args
                    .iter()
                    .map(|a| Sym::value(*a, self.names.value(*a)))
                    .collect();
                let e = forward(scalar, &x);
                let e = e.tokens();
                quote!(let #v = #e;)
            }
        }
    }

    /// The definitions of the non-differentiable data (axes, shapes, index
    /// lists): re-evaluated inside a pullback closure instead of capturing
    /// references to the forward sweep's locals.
    fn data_lines(&self) -> Vec<Line> {
        self.stmts()
            .filter(|(v, op, _)| matches!(op, Op::Const(_)) && !self.f.kind(*v).is_differentiable())
            .map(|(v, op, _)| {
                let Op::Const(tokens) = op else {
                    unreachable!("filtered")
                };
                let ident = self.names.value(v);
                let tokens = self.names.resolve(tokens);
                Line::new(quote!(let #ident = #tokens;))
            })
            .collect()
    }

    /// How a value is passed to a called `#[differentiable]` function.
    fn pass(&self, v: ValueId) -> TokenStream {
        let ident = self.names.value(v);
        match self.f.kind(v) {
            Kind::Tensor => quote!(&#ident),
            _ => quote!(#ident),
        }
    }

    fn contribute(&self, rev: &mut Reverse, target: ValueId, expr: TokenStream) {
        if !self.is_active(target) {
            return;
        }
        let bar = self.names.bar(target);
        let line = match self.f.kind(target) {
            Kind::Model => {
                quote!(::adjoint::params::Parameters::zip_mut(&mut #bar, &#expr, &mut |__a, __b| *__a += __b);)
            }
            Kind::Tensor if rev.init.contains(&target) => quote!(#bar += &#expr;),
            Kind::Tensor => {
                rev.init.insert(target);
                quote!(let mut #bar = #expr;)
            }
            _ if rev.init.contains(&target) => quote!(#bar += #expr;),
            _ => {
                rev.init.insert(target);
                let ty = &self.ty;
                quote!(let mut #bar: #ty = #expr;)
            }
        };
        rev.lines.push(Line::new(line));
    }

    /// The reverse sweep seeded with `seed` as the result's adjoint.
    fn reverse(&self, seed: TokenStream) -> Reverse {
        let mut rev = Reverse {
            lines: Vec::new(),
            init: HashSet::new(),
            fields: Vec::new(),
            whole_models: HashSet::new(),
            moved: HashSet::new(),
        };
        for (_, op, args) in self.stmts() {
            if let Op::Call(_) = op {
                for a in args {
                    if self.f.kind(*a) == Kind::Model && self.is_active(*a) {
                        rev.whole_models.insert(*a);
                    }
                }
            }
        }
        for m in &rev.whole_models {
            let bar = self.names.bar(*m);
            let ident = self.names.value(*m);
            rev.lines.push(Line::new(quote!(let mut #bar = {
                use ::adjoint::params::Parameters as _;
                #ident.zeros_like()
            };)));
        }
        self.contribute(&mut rev, self.f.result, seed);
        let stmts: Vec<_> = self.stmts().collect();
        for (value, op, args) in stmts.into_iter().rev() {
            if !self.is_active(value) || !rev.init.contains(&value) {
                continue;
            }
            let bar = self.names.bar(value);
            let v = self.names.value(value);
            match op {
                Op::Const(_) => {}
                Op::Field(path) => {
                    if rev.whole_models.contains(&args[0]) {
                        let model_bar = self.names.bar(args[0]);
                        rev.lines
                            .push(Line::new(quote!(#model_bar.#(#path).* += &#bar;)));
                    } else {
                        rev.fields.push((args[0], path.clone(), value));
                    }
                }
                Op::Tensor(top) => {
                    let x: Vec<TokenStream> = args
                        .iter()
                        .map(|a| {
                            let i = self.names.value(*a);
                            quote!(#i)
                        })
                        .collect();
                    let slots = tensor_rules::slots(*top);
                    let needs: Vec<bool> = args
                        .iter()
                        .zip(slots)
                        .map(|(a, s)| *s != Slot::Data && self.is_active(*a))
                        .collect();
                    if !needs.iter().any(|n| *n) {
                        continue;
                    }
                    let d = |i: usize| format_ident!("{}_d{}", v, i);
                    let pattern = |i: usize| {
                        if needs[i] {
                            let d = d(i);
                            quote!(#d)
                        } else {
                            quote!(_)
                        }
                    };
                    let shapes: Vec<TokenStream> = args
                        .iter()
                        .map(|a| {
                            let s = shape_ident(self.names.value(*a));
                            quote!(&#s)
                        })
                        .collect();
                    let rule = tensor_rules::adjoint(
                        *top,
                        &x,
                        &shapes,
                        &quote!(#v),
                        &quote!(#bar),
                        &needs,
                    );
                    let line = match rule {
                        tensor_rules::Adjoint::Pair { call, swap: false } => {
                            let (p0, p1) = (pattern(0), pattern(1));
                            quote!(let (#p0, #p1) = #call;)
                        }
                        tensor_rules::Adjoint::Pair { call, swap: true } => {
                            let (p0, p1) = (pattern(0), pattern(1));
                            quote!(let (#p1, #p0) = #call;)
                        }
                        tensor_rules::Adjoint::Single { operand, expr } => {
                            let d = d(operand);
                            quote!(let #d = #expr;)
                        }
                    };
                    rev.lines.push(Line::new(line));
                    for (i, need) in needs.iter().enumerate() {
                        if *need {
                            self.contribute(&mut rev, args[i], {
                                let d = d(i);
                                quote!(#d)
                            });
                        }
                    }
                }
                Op::Call(_) => {
                    let pb = self.names.pullback(value);
                    let outs: Vec<TokenStream> = args
                        .iter()
                        .enumerate()
                        .map(|(i, a)| {
                            if self.is_active(*a) {
                                let d = format_ident!("{}_d{}", v, i);
                                quote!(#d)
                            } else {
                                quote!(_)
                            }
                        })
                        .collect();
                    rev.moved.insert(bar.to_string());
                    // The pullback may borrow the arguments until it runs.
                    let mut line = Line::new(quote!(let (#(#outs,)*) = #pb(#bar);));
                    line.mentions
                        .extend(args.iter().map(|a| self.names.value(*a).to_string()));
                    rev.lines.push(line);
                    for (i, a) in args.iter().enumerate() {
                        if self.is_active(*a) {
                            let d = format_ident!("{}_d{}", v, i);
                            self.contribute(&mut rev, *a, quote!(#d));
                        }
                    }
                }
                scalar => {
                    let x: Vec<Sym> = args
                        .iter()
                        .map(|a| Sym::value(*a, self.names.value(*a)))
                        .collect();
                    let y = Sym::value(value, v);
                    let g = Sym::local(&bar);
                    for (i, a) in args.iter().enumerate() {
                        if self.is_active(*a) && has_adjoint(scalar, i) {
                            let c = adjoint(scalar, &x, &y, &g, i);
                            let c = c.tokens().clone();
                            self.contribute(&mut rev, *a, c);
                        }
                    }
                }
            }
        }
        rev
    }

    /// The adjoint of each parameter after the reverse sweep.
    fn param_adjoints(&self, rev: &Reverse) -> (Vec<Line>, Vec<TokenStream>) {
        let mut lines = Vec::new();
        let mut out = Vec::new();
        for (p, sp) in self.f.params.iter().zip(&self.sig.params) {
            let ident = &p.ident;
            let bar = self.names.bar(p.value);
            let expr = match sp.kind {
                _ if !p.active => match sp.kind {
                    ParamKind::Float => quote!(0.0),
                    _ => quote!(::adjoint::__private::Inactive),
                },
                ParamKind::Float | ParamKind::Tensor if rev.init.contains(&p.value) => quote!(#bar),
                ParamKind::Float => quote!(0.0),
                ParamKind::Tensor => quote!(::adjoint::Tensor::zeros(#ident.shape())),
                ParamKind::Model => {
                    if !rev.whole_models.contains(&p.value) {
                        // Empty placeholders, the computed field gradients,
                        // then zeros only where a field got no gradient: no
                        // large zero tensor is allocated just to be replaced.
                        lines.push(Line::new(quote!(let mut #bar = {
                            use ::adjoint::params::Parameters as _;
                            #ident.map(&mut |_| ::adjoint::Tensor::zeros(&[0]))
                        };)));
                        for (model, path, field) in &rev.fields {
                            if *model == p.value {
                                let fbar = self.names.bar(*field);
                                lines.push(Line::new(quote!(#bar.#(#path).* = #fbar;)));
                            }
                        }
                        lines.push(Line::new(quote!({
                            use ::adjoint::params::Parameters as _;
                            #bar.zip_mut(::core::borrow::Borrow::borrow(&#ident), &mut |__g, __p| {
                                if __g.shape() != __p.shape() {
                                    *__g = ::adjoint::Tensor::zeros(__p.shape());
                                }
                            });
                        })));
                    }
                    quote!(#bar)
                }
                ParamKind::Data => quote!(::adjoint::__private::Inactive),
            };
            out.push(expr);
        }
        (lines, out)
    }

    /// `drop` after the last mention of each tensor the sweeps hold, except
    /// the values the final statement moves out.
    fn with_drops(&self, lines: Vec<Line>, keep: &HashSet<String>) -> TokenStream {
        let mut droppable: HashSet<String> = HashSet::new();
        for (value, op, _) in self.stmts() {
            if self.f.kind(value) == Kind::Tensor && !matches!(op, Op::Field(_)) {
                droppable.insert(self.names.value(value).to_string());
                droppable.insert(self.names.bar(value).to_string());
            } else if self.f.kind(value) == Kind::Tensor {
                droppable.insert(self.names.value(value).to_string());
            }
        }
        for (p, sp) in self.f.params.iter().zip(&self.sig.params) {
            if sp.kind == ParamKind::Tensor {
                droppable.insert(p.ident.to_string());
            }
        }
        droppable.retain(|n| !keep.contains(n));
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (i, line) in lines.iter().enumerate() {
            for name in &line.mentions {
                if droppable.contains(name) {
                    last.insert(name.as_str(), i);
                }
            }
        }
        let mut drops_after: HashMap<usize, Vec<syn::Ident>> = HashMap::new();
        for (name, i) in last {
            if i + 1 < lines.len() {
                drops_after
                    .entry(i)
                    .or_default()
                    .push(format_ident!("{}", name));
            }
        }
        let mut out = TokenStream::new();
        for (i, line) in lines.iter().enumerate() {
            out.extend(line.tokens.clone());
            if let Some(names) = drops_after.get_mut(&i) {
                names.sort_by_key(|n| n.to_string());
                for n in names {
                    out.extend(quote!(::core::mem::drop(#n);));
                }
            }
        }
        out
    }

    fn out_ty(&self) -> TokenStream {
        let ty = &self.ty;
        if self.sig.returns_tensor {
            quote!(::adjoint::Tensor<#ty>)
        } else {
            quote!(#ty)
        }
    }

    fn adjoint_types(&self) -> Vec<TokenStream> {
        let ty = &self.ty;
        self.sig
            .params
            .iter()
            .map(|p| match (p.kind, p.active) {
                (ParamKind::Float, _) => quote!(#ty),
                (ParamKind::Tensor | ParamKind::Model, true) => {
                    let g = p.gradient_ty();
                    quote!(#g)
                }
                _ => quote!(::adjoint::__private::Inactive),
            })
            .collect()
    }

    fn grad_fn(&self, parts: &Parts) -> TokenStream {
        let Parts {
            vis,
            params,
            grad_struct,
            name,
            ..
        } = parts;
        let ty = &self.ty;
        let result = self.names.value(self.f.result).clone();
        let (fn_name, extra_param, seed) = if self.sig.returns_tensor {
            let seed = format_ident!("__seed");
            (
                format_ident!("{}_vjp", name),
                quote!(, #seed: &::adjoint::Tensor<#ty>),
                quote!(::core::clone::Clone::clone(#seed)),
            )
        } else {
            (format_ident!("{}_grad", name), quote!(), quote!(1.0))
        };
        let (forward, defined) = self.forward(false);
        let mut rev = self.reverse(seed);
        let mut lines = record_shapes(forward, &rev.lines, &defined);
        lines.append(&mut rev.lines);
        let (final_lines, adjoints) = self.param_adjoints(&rev);
        lines.extend(final_lines);
        let fields: Vec<_> = self.sig.active().map(|p| p.ident.clone()).collect();
        let field_values: Vec<_> = self
            .sig
            .params
            .iter()
            .zip(&adjoints)
            .filter(|(p, _)| p.active)
            .map(|(_, a)| a.clone())
            .collect();
        let field_types: Vec<_> = self
            .sig
            .params
            .iter()
            .zip(self.adjoint_types())
            .filter(|(p, _)| p.active)
            .map(|(_, t)| t)
            .collect();
        lines.push(Line::new(
            quote!(#grad_struct { value: #result, #(#fields: #field_values),* }),
        ));
        let mut keep: HashSet<String> = rev.moved.clone();
        keep.insert(result.to_string());
        let body = self.with_drops(lines, &keep);
        let out_ty = self.out_ty();
        let field_docs = fields
            .iter()
            .map(|f| format!("The gradient with respect to `{f}`."));
        let struct_doc = format!("Value and gradients of [`{name}`], returned by [`{fn_name}`].");
        let fn_doc = if self.sig.returns_tensor {
            format!("The value of [`{name}`] and the vector-Jacobian product with `__seed` (the adjoint of the value): one forward and one reverse sweep over the tensor kernels.")
        } else {
            format!("The value of [`{name}`] and its gradients: one forward and one reverse sweep over the tensor kernels (generated by `#[differentiable]`).")
        };
        let lints = allow_lints();
        quote! {
            #[doc = #struct_doc]
            #[derive(Clone)]
            #[allow(dead_code)]
            #vis struct #grad_struct {
                /// The function's value.
                pub value: #out_ty,
                #(#[doc = #field_docs] pub #fields: #field_types,)*
            }

            #[doc = #fn_doc]
            #lints
            #vis fn #fn_name(#(#params),* #extra_param) -> #grad_struct {
                #body
            }
        }
    }

    fn pullback_fn(&self, parts: &Parts) -> TokenStream {
        let Parts { vis, name, .. } = parts;
        let seed = format_ident!("__adjoint_seed");
        let (forward, defined) = self.forward(true);
        let mut rev = self.reverse(quote!(#seed));
        let forward = record_shapes(forward, &rev.lines, &defined);
        let mut reverse: Vec<Line> = self.data_lines();
        reverse.append(&mut rev.lines);
        let (final_lines, adjoints) = self.param_adjoints(&rev);
        reverse.extend(final_lines);
        reverse.push(Line::new(quote!((#(#adjoints,)*))));
        let result = self.names.value(self.f.result).clone();
        let mut all = forward;
        let split = all.len();
        all.extend(reverse);
        let mut keep = rev.moved.clone();
        keep.insert(result.to_string());
        // The closure boundary sits between the sweeps: the forward part
        // keeps what the reverse part mentions (the closure captures it).
        let forward_keep = self.needed_after(&all, split, &keep);
        let reverse_lines = all.split_off(split);
        let forward_code = self.with_drops(all, &forward_keep);
        let reverse_code = self.with_drops(reverse_lines, &keep);
        let out_ty = self.out_ty();
        let types = self.adjoint_types();
        let fn_name = format_ident!("__{}_pullback", name);
        let lints = allow_lints();
        let (lifetime, lifetime_params) = crate::codegen::pullback_params(self.sig);
        // Only reference data the reverse sweep reads (labels) ties the
        // closure to the arguments' lifetime.
        let captures_refs = self.sig.params.iter().any(|p| {
            matches!(p.ty, syn::Type::Reference(_))
                && p.kind == ParamKind::Data
                && forward_keep.contains(&p.ident.to_string())
        });
        let (lifetime, params) = if captures_refs {
            (quote!(#lifetime), lifetime_params)
        } else {
            (quote!(), parts.params.clone())
        };
        let bound = if captures_refs {
            quote!(+ #lifetime)
        } else {
            quote!()
        };
        quote! {
            /// The value and the pullback of the function: what a calling
            /// `#[differentiable]` function composes with.
            #[doc(hidden)]
            #lints
            #vis fn #fn_name<#lifetime>(#(#params),*) -> (#out_ty, impl FnOnce(#out_ty) -> (#(#types,)*) #bound) {
                #forward_code
                (::core::clone::Clone::clone(&#result), move |#seed: #out_ty| {
                    #reverse_code
                })
            }
        }
    }

    /// Forward mode: `NAME_jvp(args, tangents of the active args) -> (value,
    /// tangent)` and the hidden `__NAME_tangent` (a tangent slot for every
    /// argument) that calling functions compose with.
    fn jvp_fns(&self, parts: &Parts) -> TokenStream {
        let Parts {
            vis,
            ty,
            params,
            args,
            name,
            ..
        } = parts;
        let mut body = TokenStream::new();
        let mut tangent_params = Vec::new();
        let mut active_params = Vec::new();
        let mut tangent_args = Vec::new();
        for (p, sp) in self.f.params.iter().zip(&self.sig.params) {
            let ident = &p.ident;
            let dot = self.names.dot(p.value);
            tangent_args.push(quote!(#dot));
            if sp.kind == ParamKind::Tensor {
                body.extend(quote!(let #ident = ::core::clone::Clone::clone(#ident);));
            }
            let dot_ty = match sp.kind {
                ParamKind::Float => quote!(#ty),
                ParamKind::Tensor | ParamKind::Model => {
                    let g = sp.gradient_ty();
                    quote!(&#g)
                }
                ParamKind::Data => quote!(impl Sized),
            };
            if p.active {
                if sp.kind == ParamKind::Tensor {
                    body.extend(quote!(let #dot = ::core::clone::Clone::clone(#dot);));
                }
                tangent_params.push(quote!(#dot: #dot_ty));
                active_params.push(quote!(#dot: #dot_ty));
            } else {
                tangent_params.push(quote!(#dot: impl Sized));
            }
        }
        for (value, op, stmt_args) in self.stmts() {
            let v = self.names.value(value);
            let arg_idents: Vec<TokenStream> = stmt_args
                .iter()
                .map(|a| {
                    let i = self.names.value(*a);
                    quote!(#i)
                })
                .collect();
            if let Op::Call(path) = op {
                if self.is_active(value) {
                    let dot = self.names.dot(value);
                    let callee = generated_path(path, "__", "_tangent");
                    let passed: Vec<TokenStream> =
                        stmt_args.iter().map(|a| self.pass(*a)).collect();
                    let dots: Vec<TokenStream> =
                        stmt_args.iter().map(|a| self.tangent_arg(*a)).collect();
                    body.extend(quote!(let (#v, #dot) = #callee(#(#passed,)* #(#dots),*);));
                    continue;
                }
            }
            body.extend(self.forward_line(value, op, stmt_args));
            if !self.is_active(value) {
                continue;
            }
            let dot = self.names.dot(value);
            let tangent = match op {
                Op::Field(path) => {
                    let model_dot = self.names.dot(stmt_args[0]);
                    quote!(::core::clone::Clone::clone(&#model_dot.#(#path).*))
                }
                Op::Tensor(top) => {
                    let dx: Vec<Option<TokenStream>> = stmt_args
                        .iter()
                        .map(|a| {
                            self.is_active(*a).then(|| {
                                let d = self.names.dot(*a);
                                quote!(#d)
                            })
                        })
                        .collect();
                    tensor_rules::tangent(*top, &arg_idents, &quote!(#v), &dx)
                }
                Op::Const(_) | Op::Call(_) => continue,
                scalar => {
                    let x: Vec<Sym> = stmt_args
                        .iter()
                        .map(|a| Sym::value(*a, self.names.value(*a)))
                        .collect();
                    let y = Sym::value(value, v);
                    let dx: Vec<Option<Sym>> = stmt_args
                        .iter()
                        .map(|a| self.is_active(*a).then(|| Sym::local(&self.names.dot(*a))))
                        .collect();
                    crate::rules::tangent(scalar, &x, &y, &dx).tokens().clone()
                }
            };
            body.extend(quote!(let #dot = #tangent;));
        }
        let result = self.names.value(self.f.result);
        let result_dot = if self.is_active(self.f.result) {
            let d = self.names.dot(self.f.result);
            quote!(#d)
        } else if self.sig.returns_tensor {
            quote!(::adjoint::Tensor::zeros(#result.shape()))
        } else {
            quote!(0.0)
        };
        let out_ty = self.out_ty();
        let jvp = format_ident!("{}_jvp", name);
        let hidden = format_ident!("__{}_tangent", name);
        let constant_dots: Vec<_> = self
            .f
            .params
            .iter()
            .filter(|p| !p.active)
            .map(|p| self.names.dot(p.value))
            .collect();
        let doc = format!(
            "Forward mode: the value of [`{name}`] and its directional derivative along the given \
             tangents of the differentiated arguments (same types, passed by reference for tensors \
             and models), in one sweep."
        );
        let lints = allow_lints();
        quote! {
            #[doc = #doc]
            #lints
            #vis fn #jvp(#(#params,)* #(#active_params),*) -> (#out_ty, #out_ty) {
                #(let #constant_dots = ();)*
                #hidden(#(#args,)* #(#tangent_args),*)
            }

            /// Forward mode with a tangent slot for every argument (ignored for
            /// constants): what a calling `#[differentiable]` function composes with.
            #[doc(hidden)]
            #lints
            #vis fn #hidden(#(#params,)* #(#tangent_params),*) -> (#out_ty, #out_ty) {
                #body
                (#result, #result_dot)
            }
        }
    }

    /// The tangent passed to a callee for argument `v`: its own tangent, or
    /// a zero of its type when it does not vary.
    fn tangent_arg(&self, v: ValueId) -> TokenStream {
        let ident = self.names.value(v);
        let dot = self.names.dot(v);
        match self.f.kind(v) {
            Kind::Tensor if self.is_active(v) => quote!(&#dot),
            Kind::Tensor => quote!(&::adjoint::Tensor::zeros(#ident.shape())),
            Kind::Model if self.is_active(v) => quote!(#dot),
            Kind::Model => quote!(&{ use ::adjoint::params::Parameters as _; #ident.zeros_like() }),
            Kind::Float if self.is_active(v) => quote!(#dot),
            Kind::Float => quote!(0.0),
            _ => quote!(()),
        }
    }

    /// What the reverse sweep keeps of each value: `"saved"` (the tensor) or
    /// `"shape saved"`, for the graph.
    fn saved_values(&self) -> HashMap<ValueId, &'static str> {
        let seed = if self.sig.returns_tensor {
            quote!(__seed)
        } else {
            quote!(1.0)
        };
        let rev = self.reverse(seed);
        let mentioned: HashSet<&String> =
            rev.lines.iter().flat_map(|l| l.mentions.iter()).collect();
        self.stmts()
            .filter(|(_, op, _)| !matches!(op, Op::Const(_)))
            .filter_map(|(value, _, _)| {
                let ident = self.names.value(value);
                if mentioned.contains(&ident.to_string()) {
                    Some((value, "saved"))
                } else if mentioned.contains(&shape_ident(ident).to_string()) {
                    Some((value, "shape saved"))
                } else {
                    None
                }
            })
            .collect()
    }

    /// `NAME_trace(args)`: runs the forward sweep and reports each value's op,
    /// shape, and what the reverse sweep keeps of it (from the same analysis
    /// that places the `drop`s).
    fn trace_fn(&self, parts: &Parts) -> TokenStream {
        let Parts {
            vis, params, name, ..
        } = parts;
        let seed = if self.sig.returns_tensor {
            quote!(__seed)
        } else {
            quote!(1.0)
        };
        let rev = self.reverse(seed);
        let mentioned: HashSet<&String> =
            rev.lines.iter().flat_map(|l| l.mentions.iter()).collect();
        let kept = |ident: &syn::Ident| {
            if mentioned.contains(&ident.to_string()) {
                quote!(::adjoint::__private::Kept::Value)
            } else if mentioned.contains(&shape_ident(ident).to_string()) {
                quote!(::adjoint::__private::Kept::ShapeOnly)
            } else {
                quote!(::adjoint::__private::Kept::Nothing)
            }
        };
        let (forward, _) = self.forward(false);
        let tensor_params: Vec<&syn::Ident> = self
            .f
            .params
            .iter()
            .zip(&self.sig.params)
            .filter(|(_, sp)| sp.kind == ParamKind::Tensor)
            .map(|(p, _)| &p.ident)
            .collect();
        let mut body = TokenStream::new();
        let mut lines = forward.into_iter();
        for ident in &tensor_params {
            if let Some(line) = lines.next() {
                body.extend(line.tokens);
            }
            let (label, k) = (ident.to_string(), kept(ident));
            body.extend(quote!(__trace.record(#label, "argument", #ident.shape(), #k);));
        }
        for ((value, op, args), line) in self.stmts().zip(lines) {
            body.extend(line.tokens);
            if matches!(op, Op::Const(_)) {
                continue;
            }
            let v = self.names.value(value);
            let arg_names: Vec<String> = args
                .iter()
                .map(|a| self.names.value(*a).to_string())
                .collect();
            let expr = match op {
                Op::Field(path) => format!(
                    "{}.{}",
                    arg_names[0],
                    path.iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(".")
                ),
                op => format!("{}({})", crate::rules::op_name(op), arg_names.join(", ")),
            };
            let shape = if self.f.kind(value) == Kind::Tensor {
                quote!(#v.shape())
            } else {
                quote!(&[])
            };
            let (label, k) = (v.to_string(), kept(v));
            body.extend(quote!(__trace.record(#label, #expr, #shape, #k);));
        }
        let fn_name = format_ident!("{}_trace", name);
        let doc = format!(
            "Runs [`{name}`] and reports every value it computes: the op, the shape, and what the \
             generated reverse sweep keeps of it (the save set); print it with `{{}}`."
        );
        let lints = allow_lints();
        quote! {
            #[doc = #doc]
            #lints
            #vis fn #fn_name(#(#params),*) -> ::adjoint::TensorTrace {
                let mut __trace = ::adjoint::TensorTrace::new();
                #body
                __trace
            }
        }
    }

    /// Names mentioned at or after `split` (kept alive by the forward part).
    fn needed_after(
        &self,
        lines: &[Line],
        split: usize,
        keep: &HashSet<String>,
    ) -> HashSet<String> {
        let mut needed = keep.clone();
        for line in &lines[split..] {
            needed.extend(line.mentions.iter().cloned());
        }
        needed
    }
}
