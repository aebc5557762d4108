//! The forward sweep of the gradient: the primal computation, plus pushes of
//! the values each nested region's reverse sweep needs (decided by
//! `reverse.rs`), plus, in trace mode, the recording of each operation.

use crate::codegen::names::Names;
use crate::codegen::reverse::{storage_ident, Item};
use crate::ir::{Function, Kind, Op, Region, RegionId, Stmt, ValueId};
use crate::rules::{forward, trace_template};
use crate::sym::Sym;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use std::collections::HashMap;

/// Generates the forward sweep.
pub fn forward_sweep(
    f: &Function,
    names: &Names,
    varied: &[bool],
    saves: &HashMap<RegionId, Vec<Item>>,
    trace: bool,
) -> TokenStream {
    let emitter = Forward {
        f,
        names,
        varied,
        saves,
        trace,
        float_ty: format_ident!("{}", f.float_ty.name()),
    };
    emitter.region(&f.body, 0)
}

struct Forward<'a> {
    f: &'a Function,
    names: &'a Names,
    varied: &'a [bool],
    saves: &'a HashMap<RegionId, Vec<Item>>,
    trace: bool,
    float_ty: syn::Ident,
}

impl Forward<'_> {
    fn is_active(&self, v: ValueId) -> bool {
        self.varied[v.0] && self.f.kind(v) == Kind::Float
    }

    fn saved(&self, region: RegionId) -> &[Item] {
        self.saves.get(&region).map(Vec::as_slice).unwrap_or(&[])
    }

    /// `loops` counts the loops enclosing `region`.
    fn region(&self, region: &Region, loops: usize) -> TokenStream {
        let mut out = TokenStream::new();
        for stmt in &region.stmts {
            if region.id.0 == 0 {
                out.extend(self.storage_decls(stmt));
            }
            out.extend(self.stmt(stmt, loops));
        }
        out
    }

    fn push(&self, region: RegionId) -> TokenStream {
        let saved = self.saved(region);
        if saved.is_empty() {
            return quote!();
        }
        let storage = storage_ident(region);
        let idents = saved.iter().map(|i| i.ident(self.names));
        quote!(#storage.push((#(#idents,)*));)
    }

    /// Declarations of the save storage of every region nested in a
    /// top-level statement: a slot where the region runs at most once, a
    /// stack (sized up front for a top-level loop) where it repeats.
    fn storage_decls(&self, stmt: &Stmt) -> TokenStream {
        let mut decls = TokenStream::new();
        let mut visit = |region: &Region, in_loop: bool, capacity: Option<TokenStream>| {
            if self.saved(region.id).is_empty() {
                return;
            }
            let storage = storage_ident(region.id);
            let init = match (in_loop, capacity) {
                (false, _) => quote!(::adjoint::__private::SaveSlot::new()),
                (true, Some(range)) => quote!(::adjoint::__private::SaveStack::with_capacity(
                    ::core::iter::Iterator::size_hint(&(#range)).0
                )),
                (true, None) => quote!(::adjoint::__private::SaveStack::new()),
            };
            decls.extend(quote!(let mut #storage = #init;));
        };
        walk_regions(stmt, false, true, &mut visit, self.names);
        decls
    }

    fn stmt(&self, stmt: &Stmt, loops: usize) -> TokenStream {
        match stmt {
            Stmt::Let { value, op, args } => self.let_stmt(*value, op, args),
            Stmt::If {
                cond,
                then_region,
                else_region,
                merges,
            } => {
                let cond = self.names.value(*cond);
                let mut outs = Vec::new();
                let mut then_vals = Vec::new();
                let mut else_vals = Vec::new();
                let mut then_nums = TokenStream::new();
                let mut else_nums = TokenStream::new();
                for m in merges {
                    outs.push(self.names.value(m.out).clone());
                    then_vals.push(self.names.value(m.then_value).clone());
                    else_vals.push(self.names.value(m.else_value).clone());
                    if self.trace && self.is_active(m.out) {
                        outs.push(self.names.num(m.out));
                        let (tn, tcode) = self.number_of(m.then_value);
                        let (en, ecode) = self.number_of(m.else_value);
                        then_vals.push(tn);
                        else_vals.push(en);
                        then_nums.extend(tcode);
                        else_nums.extend(ecode);
                    }
                }
                let then_code = self.region(then_region, loops);
                let else_code = self.region(else_region, loops);
                let (then_push, else_push) = (self.push(then_region.id), self.push(else_region.id));
                quote! {
                    let (#(#outs,)*) = if #cond {
                        #then_code #then_nums #then_push (#(#then_vals,)*)
                    } else {
                        #else_code #else_nums #else_push (#(#else_vals,)*)
                    };
                }
            }
            Stmt::For {
                index,
                lo,
                hi,
                inclusive,
                carried,
                body,
            } => {
                let (prelude, slots, inits, nexts, outs, next_nums) = self.carried(carried);
                let (index, lo, hi) = (
                    self.names.value(*index),
                    self.names.value(*lo),
                    self.names.value(*hi),
                );
                let range = if *inclusive {
                    quote!(#lo..=#hi)
                } else {
                    quote!(#lo..#hi)
                };
                let body_code = self.region(body, loops + 1);
                let push = self.push(body.id);
                let assign = match slots.len() {
                    0 => quote!(),
                    1 => quote!(#(#slots)* = #(#nexts)*;),
                    _ => quote!((#(#slots),*) = (#(#nexts),*);),
                };
                quote! {
                    #prelude
                    #(let mut #slots = #inits;)*
                    for #index in #range {
                        #body_code
                        #next_nums
                        #push
                        #assign
                    }
                    #(let #outs = #slots;)*
                }
            }
            Stmt::Loop {
                trips,
                exit,
                carried,
                body,
            } => {
                let (prelude, slots, inits, nexts, outs, next_nums) = self.carried(carried);
                let (trips, exit) = (self.names.value(*trips), self.names.value(*exit));
                let body_code = self.region(body, loops + 1);
                let push = self.push(body.id);
                let assign = match slots.len() {
                    0 => quote!(),
                    1 => quote!(#(#slots)* = #(#nexts)*;),
                    _ => quote!((#(#slots),*) = (#(#nexts),*);),
                };
                quote! {
                    #prelude
                    #(let mut #slots = #inits;)*
                    let mut #trips: usize = 0;
                    loop {
                        #body_code
                        #next_nums
                        #push
                        let __adjoint_exit: bool = #exit;
                        #assign
                        #trips += 1;
                        if __adjoint_exit {
                            break;
                        }
                    }
                    #(let #outs = #slots;)*
                }
            }
        }
    }

    /// The loop-carried slots of a loop: (trace prelude, slots, their
    /// initial and next values, the values after the loop, trace code at the
    /// end of the body).
    #[allow(clippy::type_complexity)]
    fn carried(
        &self,
        carried: &[crate::ir::Carried],
    ) -> (
        TokenStream,
        Vec<syn::Ident>,
        Vec<syn::Ident>,
        Vec<syn::Ident>,
        Vec<syn::Ident>,
        TokenStream,
    ) {
        let mut slots = Vec::new();
        let mut inits = Vec::new();
        let mut nexts = Vec::new();
        let mut outs = Vec::new();
        let mut prelude = TokenStream::new();
        let mut next_nums = TokenStream::new();
        for c in carried {
            slots.push(self.names.value(c.phi).clone());
            inits.push(self.names.value(c.init).clone());
            nexts.push(self.names.value(c.next).clone());
            outs.push(self.names.value(c.out).clone());
            if self.trace && self.is_active(c.out) {
                let (init_n, code) = self.number_of(c.init);
                prelude.extend(code);
                let (next_n, code) = self.number_of(c.next);
                next_nums.extend(code);
                slots.push(self.names.num(c.phi));
                inits.push(init_n);
                nexts.push(next_n);
                outs.push(self.names.num(c.out));
            }
        }
        (prelude, slots, inits, nexts, outs, next_nums)
    }

    fn number_of(&self, v: ValueId) -> (syn::Ident, TokenStream) {
        trace_number(self.names, self.is_active(v), v)
    }

    fn let_stmt(&self, value: ValueId, op: &Op, args: &[ValueId]) -> TokenStream {
        let v = self.names.value(value);
        let arg_idents: Vec<_> = args.iter().map(|a| self.names.value(*a)).collect();
        let body = match op {
            Op::Const(tokens) => {
                let tokens = self.names.resolve(tokens);
                if self.f.kind(value) == Kind::Float {
                    let ty = &self.float_ty;
                    return quote!(let #v: #ty = #tokens;);
                }
                return quote!(let #v = #tokens;);
            }
            Op::Call(callee) if self.is_active(value) => {
                let pullback = self.names.pullback(value);
                let callee = crate::codegen::slots::hidden_item(&callee.path, "_pullback");
                quote!(let (#v, #pullback) = #callee(#(#arg_idents),*);)
            }
            Op::Call(callee) => {
                let path = &callee.path;
                quote!(let #v = #path(#(#arg_idents),*);)
            }
            Op::Index => {
                let (x, k) = (&arg_idents[0], &arg_idents[1]);
                let ty = &self.float_ty;
                quote!(let #v: #ty = #x[#k];)
            }
            op => {
                let x: Vec<Sym> = args
                    .iter()
                    .map(|a| Sym::value(*a, self.names.value(*a)))
                    .collect();
                let expr = forward(op, &x);
                let tokens = expr.tokens();
                quote!(let #v = #tokens;)
            }
        };
        if !(self.trace && self.is_active(value)) {
            return body;
        }
        let record = trace_op(self.f, self.names, self.varied, value, op, args);
        quote!(#body #record)
    }
}

/// The trace number of value `v`, recording it as a constant operation when
/// it does not vary (and so has no number yet).
pub fn trace_number(names: &Names, active: bool, v: ValueId) -> (syn::Ident, TokenStream) {
    let num = names.num(v);
    if active {
        return (num, quote!());
    }
    let value = names.value(v);
    let code = quote! {
        let #num = __trace.op("{0}", &[::adjoint::__private::TraceArg::Const(f64::from(#value))], f64::from(#value));
    };
    (num, code)
}

/// Records `value = op(args)` in the trace, binding its number `value_n`.
pub fn trace_op(
    f: &Function,
    names: &Names,
    varied: &[bool],
    value: ValueId,
    op: &Op,
    args: &[ValueId],
) -> TokenStream {
    let active = |v: ValueId| varied[v.0] && f.kind(v) == Kind::Float;
    let (v, num) = (names.value(value), names.num(value));
    let mut template = trace_template(op, args.len());
    if let Op::Index = op {
        // A copy of the element's input `x_n[k]`.
        let (x_n, k) = (names.num(args[0]), names.value(args[1]));
        return quote! {
            let #num = __trace.op(#template, &[::adjoint::__private::TraceArg::Var(#x_n[#k])], f64::from(#v));
        };
    }
    // A slice passed to a call is shown by its name.
    for (i, a) in args.iter().enumerate() {
        if let Some(p) = f.params.iter().find(|p| p.value == *a && p.slice) {
            template = template.replace(&format!("{{{i}}}"), &p.ident.to_string());
        }
    }
    let trace_args = args.iter().map(|a| {
        let ident = names.value(*a);
        if f.params.iter().any(|p| p.value == *a && p.slice) {
            quote!(::adjoint::__private::TraceArg::Const(0.0))
        } else if active(*a) {
            let n = names.num(*a);
            quote!(::adjoint::__private::TraceArg::Var(#n))
        } else if f.kind(*a) == Kind::Float {
            quote!(::adjoint::__private::TraceArg::Const(f64::from(#ident)))
        } else {
            quote!(::adjoint::__private::TraceArg::Const(#ident as f64))
        }
    });
    quote! {
        let #num = __trace.op(#template, &[#(#trace_args),*], f64::from(#v));
    }
}

/// Visits the regions nested in `stmt` with whether they sit in a loop and,
/// for the body of a top-level loop, its range.
fn walk_regions(
    stmt: &Stmt,
    in_loop: bool,
    top: bool,
    visit: &mut impl FnMut(&Region, bool, Option<TokenStream>),
    names: &Names,
) {
    match stmt {
        Stmt::Let { .. } => {}
        Stmt::If {
            then_region,
            else_region,
            ..
        } => {
            visit_region(then_region, in_loop, None, visit, names);
            visit_region(else_region, in_loop, None, visit, names);
        }
        Stmt::For {
            lo,
            hi,
            inclusive,
            body,
            ..
        } => {
            let range = top.then(|| {
                let (lo, hi) = (names.value(*lo), names.value(*hi));
                if *inclusive {
                    quote!(#lo..=#hi)
                } else {
                    quote!(#lo..#hi)
                }
            });
            visit_region(body, true, range, visit, names);
        }
        Stmt::Loop { body, .. } => visit_region(body, true, None, visit, names),
    }
}

fn visit_region(
    region: &Region,
    in_loop: bool,
    range: Option<TokenStream>,
    visit: &mut impl FnMut(&Region, bool, Option<TokenStream>),
    names: &Names,
) {
    visit(region, in_loop, range);
    for s in &region.stmts {
        walk_regions(s, in_loop, false, visit, names);
    }
}
