//! The reverse sweep of a tensor function: adjoint contributions in
//! reverse statement order, and the gradients of the arguments.

use super::{shape_ident, Line, Reverse, TensorGen};
use crate::ir::{Kind, Op, ValueId};
use crate::rules::{adjoint, has_adjoint};
use crate::signature::ParamKind;
use crate::sym::Sym;
use crate::tensor_rules::{self, Slot};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use std::collections::HashSet;

impl TensorGen<'_> {
    /// Adds `expr` to `target`'s adjoint: `let` at the first contribution,
    /// in-place `+=` after it, `zip_mut` for a whole model.
    pub(super) fn contribute(&self, rev: &mut Reverse, target: ValueId, expr: TokenStream) {
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
    pub(super) fn reverse(&self, seed: TokenStream) -> Reverse {
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
        let whole: Vec<ValueId> = rev.whole_models.iter().copied().collect();
        for m in whole {
            let bar = self.names.bar(m);
            let ident = self.names.value(m);
            rev.lines.push(Line::new(quote!(let mut #bar = {
                use ::adjoint::params::Parameters as _;
                #ident.zeros_like()
            };)));
            rev.init.insert(m);
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
                        rev.lines.push(Line::new(quote!(
                            ::adjoint::params::Parameters::zip_mut(&mut #model_bar #path, &#bar, &mut |__a, __b| *__a += __b);
                        )));
                    } else {
                        rev.fields.push((args[0], path.clone(), value));
                    }
                }
                Op::Tensor(top) => {
                    let x = self.operands(*top, args);
                    let slots = tensor_rules::slots(*top);
                    let needs: Vec<bool> = args
                        .iter()
                        .zip(slots)
                        .map(|(a, s)| {
                            matches!(s, Slot::Tensor | Slot::Scalar) && self.is_active(*a)
                        })
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
                Op::Call(callee) => {
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
                    let ty = self.value_ty(value);
                    let seed = quote::quote_spanned!(callee.span=> <_ as ::adjoint::__private::CallResult<#ty>>::adjoint_from(#bar));
                    let mut line = Line::new(quote!(let (#(#outs,)*) = #pb(#seed);));
                    line.mentions
                        .extend(args.iter().map(|a| self.names.value(*a).to_string()));
                    rev.lines.push(line);
                    for (i, a) in args.iter().enumerate() {
                        if self.is_active(*a) {
                            let d = format_ident!("{}_d{}", v, i);
                            let adjoint = match self.f.kind(*a) {
                                Kind::Model => {
                                    quote!(::adjoint::__private::IntoAdjoint::into_adjoint(#d))
                                }
                                _ => {
                                    let ty = self.value_ty(*a);
                                    quote!(<_ as ::adjoint::__private::IntoAdjoint<#ty>>::into_adjoint(#d))
                                }
                            };
                            self.contribute(&mut rev, *a, adjoint);
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
    pub(super) fn param_adjoints(&self, rev: &Reverse) -> (Vec<Line>, Vec<TokenStream>) {
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
                ParamKind::Float if rev.init.contains(&p.value) => quote!(#bar),
                ParamKind::Tensor if rev.init.contains(&p.value) => {
                    let label = ident.to_string();
                    quote!(::adjoint::__private::checked_gradient(#label, #bar, #ident.shape()))
                }
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
                        // Shorter paths first: a path inside a sub-model
                        // that was already assigned accumulates into it.
                        let mut fields: Vec<_> = rev
                            .fields
                            .iter()
                            .filter(|(m, _, _)| *m == p.value)
                            .collect();
                        fields.sort_by_key(|(_, path, _)| path.0.len());
                        let mut assigned: Vec<&crate::ir::FieldPath> = Vec::new();
                        for (_, path, field) in fields {
                            let fbar = self.names.bar(*field);
                            let label = format!("{ident}{path}");
                            let checked = if self.f.kind(*field) == Kind::Model {
                                quote!(::adjoint::__private::checked_model_gradient(#label, #fbar, &#ident #path))
                            } else {
                                quote!(::adjoint::__private::checked_gradient(#label, #fbar, #ident #path.shape()))
                            };
                            let inside = assigned.iter().any(|a| path.0.starts_with(&a.0));
                            lines.push(Line::new(if inside {
                                quote!(::adjoint::params::Parameters::zip_mut(&mut #bar #path, &#checked, &mut |__a, __b| *__a += __b);)
                            } else {
                                quote!(#bar #path = #checked;)
                            }));
                            assigned.push(path);
                        }
                        // Every computed gradient was checked above, so a
                        // shape that differs is a placeholder: an unused field.
                        lines.push(Line::new(quote!({
                            use ::adjoint::params::Parameters as _;
                            #bar.zip_mut(::core::borrow::Borrow::borrow(&#ident), &mut |__g, __p| {
                                if __g.shape() != __p.shape() {
                                    *__g = ::adjoint::Tensor::zeros(__p.shape());
                                }
                            });
                        })));
                    }
                    if rev.whole_models.contains(&p.value) {
                        let label = ident.to_string();
                        quote!(::adjoint::__private::checked_model_gradient(#label, #bar, #ident))
                    } else {
                        quote!(#bar)
                    }
                }
                ParamKind::Data => quote!(::adjoint::__private::Inactive),
            };
            out.push(expr);
        }
        (lines, out)
    }
}
