//! The reverse sweep of a tensor function: adjoint contributions in
//! reverse statement order, and the gradients of the arguments.

use super::{
    accumulator_ident, carry_ident, region_values, shape_ident, stack_ident, Line, Reverse, Scope,
    TensorGen,
};
use crate::ir::{walk_stmts, Carried, Kind, Merge, Op, Region, RegionId, Stmt, ValueId};
use crate::rules::{adjoint, has_adjoint};
use crate::signature::ParamKind;
use crate::sym::Sym;
use crate::tensor_rules::{self, Slot};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use std::collections::{HashMap, HashSet};

impl TensorGen<'_> {
    /// Adds `expr` to `target`'s adjoint: `let` at the first contribution,
    /// in-place `+=` after it, `add_model_gradient` for a whole model (its
    /// placeholders take the first contribution to each tensor without a
    /// copy). Inside a branch or loop body, a target defined outside it
    /// accumulates into the region's accumulator, added to the target after
    /// the region.
    pub(super) fn contribute(&self, rev: &mut Reverse, target: ValueId, expr: TokenStream) {
        if !self.is_active(target) {
            return;
        }
        let bar = self.names.bar(target);
        if rev.whole_models.contains(&target) {
            rev.lines.push(Line::new(quote!(
                ::adjoint::__private::add_model_gradient(&mut #bar, #expr);
            )));
            return;
        }
        if let Some(scope) = rev.scopes.last_mut() {
            if !scope.defined.contains(&target) {
                let acc = accumulator_ident(scope.id, &bar);
                if !scope.outer.contains(&target) {
                    scope.outer.push(target);
                }
                let line = match self.f.kind(target) {
                    Kind::Float => quote!(#acc += #expr;),
                    _ => quote!(::adjoint::__private::accumulate(&mut #acc, #expr);),
                };
                rev.lines.push(Line::new(line));
                return;
            }
        }
        let line = match self.f.kind(target) {
            Kind::Model if rev.init.contains(&target) => {
                quote!(::adjoint::__private::add_model_gradient(&mut #bar, #expr);)
            }
            Kind::Tensor if rev.init.contains(&target) => quote!(#bar += &#expr;),
            Kind::Tensor | Kind::Model => {
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
            whole_models: self.whole_models(),
            moved: HashSet::new(),
            scopes: Vec::new(),
            saves: HashMap::new(),
        };
        let mut whole: Vec<ValueId> = rev.whole_models.iter().copied().collect();
        whole.sort();
        for m in whole {
            let bar = self.names.bar(m);
            let ident = self.names.value(m);
            rev.lines.push(Line::new(quote!(
                let mut #bar = { use ::adjoint::params::Parameters as _; #ident.pending_gradient() };
            )));
            rev.init.insert(m);
        }
        self.contribute(&mut rev, self.f.result, seed);
        self.region_reverse(&mut rev, &self.f.body.stmts);
        rev
    }

    /// Model arguments whose gradient is accumulated as a whole (placeholders,
    /// then added into at each use): those passed to a call, and those read at a
    /// run-time index or inside a branch or loop, where a field may be read
    /// many times.
    fn whole_models(&self) -> HashSet<ValueId> {
        let mut whole = HashSet::new();
        let visit = |stmts: &[Stmt], nested: bool, whole: &mut HashSet<ValueId>| {
            for stmt in stmts {
                if let Stmt::Let { op, args, .. } = stmt {
                    let root_param = |v: &ValueId| self.is_param(*v) && self.is_active(*v);
                    match op {
                        Op::Call(_) => whole.extend(
                            args.iter()
                                .filter(|a| self.f.kind(**a) == Kind::Model && root_param(a)),
                        ),
                        Op::Field(path) if nested || path.is_dynamic() => {
                            whole.extend(args.iter().filter(|a| root_param(a)))
                        }
                        _ => {}
                    }
                }
            }
        };
        visit(&self.f.body.stmts, false, &mut whole);
        walk_stmts(&self.f.body, &mut |stmt| match stmt {
            Stmt::If {
                then_region,
                else_region,
                ..
            } => {
                visit(&then_region.stmts, true, &mut whole);
                visit(&else_region.stmts, true, &mut whole);
            }
            Stmt::For { body, .. } | Stmt::Loop { body, .. } => {
                visit(&body.stmts, true, &mut whole)
            }
            Stmt::Let { .. } => {}
        });
        whole
    }

    /// The reverse code of a region's statements, last to first.
    fn region_reverse(&self, rev: &mut Reverse, stmts: &[Stmt]) {
        for stmt in stmts.iter().rev() {
            match stmt {
                Stmt::Let { value, op, args } => self.let_reverse(rev, *value, op, args),
                Stmt::For {
                    index,
                    carried,
                    body,
                    ..
                } => self.loop_reverse(rev, Some(*index), carried, body),
                Stmt::If {
                    cond,
                    then_region,
                    else_region,
                    merges,
                } => self.if_reverse(rev, *cond, then_region, else_region, merges),
                Stmt::Loop { carried, body, .. } => self.loop_reverse(rev, None, carried, body),
            }
        }
    }

    /// Generates a nested region's reverse code into its own lines, with
    /// `seeds` contributed first; returns the lines and the values defined
    /// outside it that it contributed to.
    fn nested_reverse(
        &self,
        rev: &mut Reverse,
        region: &Region,
        acc_id: RegionId,
        extra_defined: &[ValueId],
        seeds: Vec<(ValueId, TokenStream)>,
    ) -> (Vec<Line>, Vec<ValueId>) {
        let mut defined: HashSet<ValueId> = region_values(region).into_iter().collect();
        defined.extend(extra_defined);
        rev.scopes.push(Scope {
            id: acc_id,
            defined,
            outer: Vec::new(),
        });
        let outer_lines = std::mem::take(&mut rev.lines);
        for (target, seed) in seeds {
            self.contribute(rev, target, seed);
        }
        self.region_reverse(rev, &region.stmts);
        let lines = std::mem::replace(&mut rev.lines, outer_lines);
        let scope = rev.scopes.pop().expect("scope pushed above");
        (lines, scope.outer)
    }

    /// The saved tuple of a region: what its reverse code reads that its
    /// forward code defines (sorted by name), recorded for the forward sweep.
    fn save_set(
        &self,
        rev: &mut Reverse,
        region: &Region,
        extra: &[ValueId],
        lines: &[Line],
    ) -> Vec<syn::Ident> {
        let mut defined = self.defined_names(region, extra);
        // Data is re-evaluated, not saved (`region_data_lines`).
        for stmt in &region.stmts {
            if let Stmt::Let {
                value,
                op: Op::Const(_),
                ..
            } = stmt
            {
                if !self.f.kind(*value).is_differentiable() {
                    defined.remove(&self.names.value(*value).to_string());
                }
            }
        }
        let mut saved: Vec<&String> = lines
            .iter()
            .flat_map(|l| l.mentions.iter())
            .filter(|m| defined.contains_key(*m))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        saved.sort();
        let idents: Vec<syn::Ident> = saved.iter().map(|s| defined[*s].clone()).collect();
        rev.saves.insert(region.id, idents.clone());
        idents
    }

    /// Accumulators for the outer values a region contributes to: declared
    /// before its reverse code, added to their values after it.
    fn accumulators(
        &self,
        acc_id: RegionId,
        outer: &[ValueId],
    ) -> (Vec<Line>, Vec<(ValueId, TokenStream)>) {
        let mut declare = Vec::new();
        let mut after = Vec::new();
        let ty = &self.ty;
        for v in outer {
            let acc = accumulator_ident(acc_id, &self.names.bar(*v));
            match self.f.kind(*v) {
                Kind::Float => {
                    declare.push(Line::new(quote!(let mut #acc: #ty = 0.0;)));
                    after.push((*v, quote!(#acc)));
                }
                _ => {
                    declare.push(Line::new(
                        quote!(let mut #acc = ::core::option::Option::None;),
                    ));
                    let zero = self.zero_like(*v);
                    after.push((*v, quote!(#acc.unwrap_or_else(|| #zero))));
                }
            }
        }
        (declare, after)
    }

    /// A zero of `v`'s type and shape (from its recorded shape for tensors).
    fn zero_like(&self, v: ValueId) -> TokenStream {
        let ident = self.names.value(v);
        match self.f.kind(v) {
            Kind::Tensor => {
                let s = shape_ident(ident);
                quote!(::adjoint::Tensor::zeros(&#s))
            }
            Kind::Model => {
                quote!({ use ::adjoint::params::Parameters as _; #ident.pending_gradient() })
            }
            _ => quote!(0.0),
        }
    }

    /// A loop: per iteration, in reverse, pop the saved tuple, seed the
    /// carried values' `next` with their adjoints, run the body's adjoint,
    /// and carry the `phi` adjoints to the previous iteration.
    fn loop_reverse(
        &self,
        rev: &mut Reverse,
        index: Option<ValueId>,
        carried: &[Carried],
        body: &Region,
    ) {
        let active: Vec<&Carried> = carried.iter().filter(|c| self.is_active(c.out)).collect();
        let mut before = Vec::new();
        for c in &active {
            let cb = carry_ident(&self.names.bar(c.out));
            let start = if rev.init.contains(&c.out) {
                let bar = self.names.bar(c.out);
                rev.moved.insert(bar.to_string());
                quote!(#bar)
            } else {
                self.zero_like(c.out)
            };
            before.push(Line::new(quote!(let mut #cb = #start;)));
        }
        let seeds = active
            .iter()
            .map(|c| {
                let cb = carry_ident(&self.names.bar(c.out));
                (c.next, quote!(#cb))
            })
            .collect();
        let mut extra: Vec<ValueId> = carried.iter().map(|c| c.phi).collect();
        extra.extend(index);
        let (body_lines, outer) = self.nested_reverse(rev, body, body.id, &extra, seeds);
        let mut lines = self.region_data_lines(&body.stmts);
        lines.extend(body_lines);
        for c in &active {
            let cb = carry_ident(&self.names.bar(c.out));
            let next = if rev.init.contains(&c.phi) {
                let bar = self.names.bar(c.phi);
                quote!(#bar)
            } else {
                self.zero_like(c.phi)
            };
            lines.push(Line::new(quote!(#cb = #next;)));
        }
        let saved = self.save_set(rev, body, &extra, &lines);
        let stack = stack_ident(body.id);
        let (declare, after) = self.accumulators(body.id, &outer);
        let code: Vec<TokenStream> = lines.into_iter().map(|l| l.tokens).collect();
        let mut line = Line::new(quote! {
            while let ::core::option::Option::Some((#(mut #saved,)*)) = #stack.pop() {
                #(#code)*
            }
        });
        line.mentions.insert(stack.to_string());
        rev.lines.extend(before);
        rev.lines.extend(declare);
        rev.lines.push(line);
        for c in &active {
            let cb = carry_ident(&self.names.bar(c.out));
            self.contribute(rev, c.init, quote!(#cb));
        }
        for (v, expr) in after {
            self.contribute(rev, v, expr);
        }
    }

    /// A branch: the merged values' adjoints flow into the branch taken.
    fn if_reverse(
        &self,
        rev: &mut Reverse,
        cond: ValueId,
        then_region: &Region,
        else_region: &Region,
        merges: &[Merge],
    ) {
        let active: Vec<&Merge> = merges.iter().filter(|m| self.is_active(m.out)).collect();
        let mut before = Vec::new();
        for m in &active {
            let mb = carry_ident(&self.names.bar(m.out));
            let start = if rev.init.contains(&m.out) {
                let bar = self.names.bar(m.out);
                rev.moved.insert(bar.to_string());
                quote!(#bar)
            } else {
                self.zero_like(m.out)
            };
            before.push(Line::new(quote!(let #mb = #start;)));
        }
        let mut outer_all = Vec::new();
        let mut branches = Vec::new();
        for (region, pick) in [(then_region, true), (else_region, false)] {
            let seeds = active
                .iter()
                .map(|m| {
                    let mb = carry_ident(&self.names.bar(m.out));
                    (if pick { m.then_value } else { m.else_value }, quote!(#mb))
                })
                .collect();
            let (body_lines, outer) = self.nested_reverse(rev, region, then_region.id, &[], seeds);
            let mut lines = self.region_data_lines(&region.stmts);
            lines.extend(body_lines);
            let saved = self.save_set(rev, region, &[], &lines);
            let slot = stack_ident(region.id);
            let code: Vec<TokenStream> = lines.into_iter().map(|l| l.tokens).collect();
            branches.push(quote! {
                let (#(mut #saved,)*) = #slot.expect("adjoint internal error: the branch taken saved nothing");
                #(#code)*
            });
            for v in outer {
                if !outer_all.contains(&v) {
                    outer_all.push(v);
                }
            }
        }
        let (declare, after) = self.accumulators(then_region.id, &outer_all);
        let (then_code, else_code) = (&branches[0], &branches[1]);
        let c = self.names.value(cond);
        let mut line = Line::new(quote!(if #c { #then_code } else { #else_code }));
        line.mentions
            .insert(stack_ident(then_region.id).to_string());
        line.mentions
            .insert(stack_ident(else_region.id).to_string());
        rev.lines.extend(before);
        rev.lines.extend(declare);
        rev.lines.push(line);
        for (v, expr) in after {
            self.contribute(rev, v, expr);
        }
    }

    /// The adjoint code of one `let`.
    fn let_reverse(&self, rev: &mut Reverse, value: ValueId, op: &Op, args: &[ValueId]) {
        if !self.is_active(value) || !rev.init.contains(&value) {
            return;
        }
        let bar = self.names.bar(value);
        let v = self.names.value(value);
        match op {
            Op::Const(_) => {}
            Op::Field(path) => {
                if rev.whole_models.contains(&args[0]) {
                    let model_bar = self.names.bar(args[0]);
                    let path = self.names.resolve(&quote!(#path));
                    rev.lines.push(Line::new(quote!(
                        ::adjoint::__private::add_model_gradient(&mut #model_bar #path, #bar);
                    )));
                } else {
                    rev.fields.push((args[0], path.clone(), value));
                }
            }
            Op::Tensor(tensor_rules::TensorOp::Fused(id)) => {
                self.fused_reverse(rev, value, *id, args)
            }
            Op::Tensor(top) => {
                let x = self.operands(*top, args);
                let slots = tensor_rules::slots(*top);
                let needs: Vec<bool> = args
                    .iter()
                    .zip(slots)
                    .map(|(a, s)| matches!(s, Slot::Tensor | Slot::Scalar) && self.is_active(*a))
                    .collect();
                if !needs.iter().any(|n| *n) {
                    return;
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
                let extra = super::extra_ident(v);
                let rule = tensor_rules::adjoint(
                    *top,
                    &x,
                    &shapes,
                    &quote!(#v),
                    &quote!(#extra),
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
                    tensor_rules::Adjoint::Needed { call, operands } => {
                        let patterns = (0..operands).map(|i| {
                            if needs[i] {
                                let d = d(i);
                                quote!(::core::option::Option::Some(#d))
                            } else {
                                quote!(_)
                            }
                        });
                        quote! {
                            let (#(#patterns,)*) = #call else {
                                ::core::unreachable!("adjoint internal error: a needed gradient is missing")
                            };
                        }
                    }
                    tensor_rules::Adjoint::Single { operand, expr } => {
                        let d = d(operand);
                        quote!(let #d = #expr;)
                    }
                };
                let line = crate::codegen::respan(line, self.names.at(self.f.span(value)));
                rev.lines.push(Line::new(line));
                for (i, need) in needs.iter().enumerate() {
                    if *need {
                        let d = d(i);
                        self.contribute(rev, args[i], quote!(#d));
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
                        self.contribute(rev, *a, adjoint);
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
                        self.contribute(rev, *a, c);
                    }
                }
            }
        }
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
                ParamKind::Tensor => quote!(::adjoint::Tensor::zeros_like(&#ident)),
                ParamKind::Model => {
                    if !rev.whole_models.contains(&p.value) {
                        // Empty placeholders, the computed field gradients,
                        // then zeros only where a field got no gradient: no
                        // large zero tensor is allocated just to be replaced.
                        lines.push(Line::new(quote!(
                            let mut #bar = { use ::adjoint::params::Parameters as _; #ident.pending_gradient() };
                        )));
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
                                quote!(::adjoint::__private::add_model_gradient(&mut #bar #path, #checked);)
                            } else {
                                quote!(#bar #path = #checked;)
                            }));
                            assigned.push(path);
                        }
                    }
                    let label = ident.to_string();
                    quote!(::adjoint::__private::finished_model_gradient(#label, #bar, ::core::borrow::Borrow::borrow(&#ident)))
                }
                ParamKind::Data => quote!(::adjoint::__private::Inactive),
            };
            out.push(expr);
        }
        (lines, out)
    }
}
