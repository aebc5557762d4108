//! Forward mode: the primal computation with a tangent alongside every
//! varying value (`v3_dot`), from the same rule table as the adjoint.

use crate::codegen::forward::{trace_number, trace_op};
use crate::codegen::names::Names;
use crate::ir::{Function, Kind, Op, Region, Stmt, ValueId};
use crate::rules::{forward, tangent};
use crate::sym::Sym;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// The body of a tangent function: computes `(value, tangent)` of the result
/// from the arguments and the tangents of the active ones (`x_dot`).
///
/// With `trace`, every varying value is also recorded, with its tangent, in
/// a `Trace` named `__trace` (the seed sheet's table of `v_i` and `v̇_i`).
pub fn tangent_body(f: &Function, names: &Names, varied: &[bool], trace: bool) -> TokenStream {
    let emitter = Tangent {
        f,
        names,
        varied,
        trace,
        float_ty: format_ident!("{}", f.float_ty.name()),
    };
    let code = emitter.region(&f.body);
    let result = names.value(f.result);
    let result_dot = emitter.dot_or_zero(f.result);
    quote! {
        #code
        (#result, #result_dot)
    }
}

struct Tangent<'a> {
    f: &'a Function,
    names: &'a Names,
    varied: &'a [bool],
    trace: bool,
    float_ty: syn::Ident,
}

impl Tangent<'_> {
    fn is_active(&self, v: ValueId) -> bool {
        self.varied[v.0] && self.f.kind(v) == Kind::Float
    }

    fn dot_or_zero(&self, v: ValueId) -> TokenStream {
        if self.is_active(v) {
            let d = self.names.dot(v);
            quote!(#d)
        } else {
            quote!(0.0)
        }
    }

    /// In trace mode, records a varying value and its tangent.
    fn record(&self, value: ValueId, op: &Op, args: &[ValueId]) -> TokenStream {
        if !self.trace {
            return quote!();
        }
        let record = trace_op(self.f, self.names, self.varied, value, op, args);
        let (num, dot) = (self.names.num(value), self.names.dot(value));
        quote!(#record __trace.tangent(#num, f64::from(#dot));)
    }

    fn region(&self, region: &Region) -> TokenStream {
        region.stmts.iter().map(|s| self.stmt(s)).collect()
    }

    fn stmt(&self, stmt: &Stmt) -> TokenStream {
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
                for m in merges {
                    let (out, t, e) = (
                        self.names.value(m.out),
                        self.names.value(m.then_value),
                        self.names.value(m.else_value),
                    );
                    outs.push(quote!(#out));
                    then_vals.push(quote!(#t));
                    else_vals.push(quote!(#e));
                    if self.is_active(m.out) {
                        let d = self.names.dot(m.out);
                        outs.push(quote!(#d));
                        then_vals.push(self.dot_or_zero(m.then_value));
                        else_vals.push(self.dot_or_zero(m.else_value));
                        if self.trace {
                            let n = self.names.num(m.out);
                            outs.push(quote!(#n));
                            let (tn, tcode) = trace_number(
                                self.names,
                                self.is_active(m.then_value),
                                m.then_value,
                            );
                            let (en, ecode) = trace_number(
                                self.names,
                                self.is_active(m.else_value),
                                m.else_value,
                            );
                            then_vals.push(quote!({ #tcode #tn }));
                            else_vals.push(quote!({ #ecode #en }));
                        }
                    }
                }
                let then_code = self.region(then_region);
                let else_code = self.region(else_region);
                quote! {
                    let (#(#outs,)*) = if #cond {
                        #then_code (#(#then_vals,)*)
                    } else {
                        #else_code (#(#else_vals,)*)
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
                let (decls, slots, nexts, outs) = self.carried(carried);
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
                let body_code = self.region(body);
                let assign = match slots.len() {
                    0 => quote!(),
                    1 => quote!(#(#slots)* = #(#nexts)*;),
                    _ => quote!((#(#slots),*) = (#(#nexts),*);),
                };
                quote! {
                    #decls
                    for #index in #range {
                        #body_code
                        #assign
                    }
                    #outs
                }
            }
            Stmt::Loop {
                exit,
                carried,
                body,
                ..
            } => {
                let (decls, slots, nexts, outs) = self.carried(carried);
                let exit = self.names.value(*exit);
                let body_code = self.region(body);
                let assign = match slots.len() {
                    0 => quote!(),
                    1 => quote!(#(#slots)* = #(#nexts)*;),
                    _ => quote!((#(#slots),*) = (#(#nexts),*);),
                };
                quote! {
                    #decls
                    loop {
                        #body_code
                        let __adjoint_exit: bool = #exit;
                        #assign
                        if __adjoint_exit {
                            break;
                        }
                    }
                    #outs
                }
            }
        }
    }

    /// The loop-carried slots of a loop with their tangents (and trace
    /// numbers): (declarations, slots, next values, bindings after the loop).
    fn carried(
        &self,
        carried: &[crate::ir::Carried],
    ) -> (TokenStream, Vec<TokenStream>, Vec<TokenStream>, TokenStream) {
        let ty = &self.float_ty;
        let mut decls = TokenStream::new();
        let mut slots = Vec::new();
        let mut nexts = Vec::new();
        let mut outs = TokenStream::new();
        for c in carried {
            let (phi, init, next, out) = (
                self.names.value(c.phi),
                self.names.value(c.init),
                self.names.value(c.next),
                self.names.value(c.out),
            );
            decls.extend(quote!(let mut #phi = #init;));
            slots.push(quote!(#phi));
            nexts.push(quote!(#next));
            outs.extend(quote!(let #out = #phi;));
            if self.is_active(c.out) {
                let (phi_d, out_d) = (self.names.dot(c.phi), self.names.dot(c.out));
                let init_d = self.dot_or_zero(c.init);
                decls.extend(quote!(let mut #phi_d: #ty = #init_d;));
                slots.push(quote!(#phi_d));
                nexts.push(self.dot_or_zero(c.next));
                outs.extend(quote!(let #out_d = #phi_d;));
                if self.trace {
                    let (phi_n, out_n) = (self.names.num(c.phi), self.names.num(c.out));
                    let (init_n, icode) = trace_number(self.names, self.is_active(c.init), c.init);
                    let (next_n, ncode) = trace_number(self.names, self.is_active(c.next), c.next);
                    decls.extend(quote!(#icode let mut #phi_n = #init_n;));
                    slots.push(quote!(#phi_n));
                    nexts.push(quote!({ #ncode #next_n }));
                    outs.extend(quote!(let #out_n = #phi_n;));
                }
            }
        }
        (decls, slots, nexts, outs)
    }

    fn let_stmt(&self, value: ValueId, op: &Op, args: &[ValueId]) -> TokenStream {
        let v = self.names.value(value);
        let arg_idents: Vec<_> = args.iter().map(|a| self.names.value(*a)).collect();
        match op {
            Op::Const(tokens) => {
                let tokens = self.names.resolve(tokens);
                if self.f.kind(value) == Kind::Float {
                    let ty = &self.float_ty;
                    quote!(let #v: #ty = #tokens;)
                } else {
                    quote!(let #v = #tokens;)
                }
            }
            Op::Call(callee) if self.is_active(value) => {
                let d = self.names.dot(value);
                let callee = crate::codegen::slots::hidden_item(&callee.path, "_tangent");
                let tangents = args.iter().map(|a| {
                    match (self.f.kind(*a), self.f.active_slice(*a)) {
                        (Kind::Float, _) => self.dot_or_zero(*a),
                        (_, Some(_)) => {
                            let d = self.names.dot(*a);
                            quote!(#d)
                        }
                        // Data, a constant slice included: `()`, which is
                        // also a zero `SliceTangent` for a slice argument.
                        _ => quote!(()),
                    }
                });
                let record = self.record(value, op, args);
                quote!(let (#v, #d) = #callee(#(#arg_idents,)* #(#tangents),*); #record)
            }
            Op::Call(callee) => {
                let path = &callee.path;
                quote!(let #v = #path(#(#arg_idents),*);)
            }
            Op::Index => {
                let (x, k) = (&arg_idents[0], &arg_idents[1]);
                let ty = &self.float_ty;
                if !self.is_active(value) {
                    return quote!(let #v: #ty = #x[#k];);
                }
                let (d, x_dot) = (self.names.dot(value), self.names.dot(args[0]));
                let record = self.record(value, op, args);
                quote! {
                    let #v: #ty = #x[#k];
                    let #d: #ty = ::adjoint::__private::SliceTangent::at(&#x_dot, #k);
                    #record
                }
            }
            op => {
                let x: Vec<Sym> = args
                    .iter()
                    .map(|a| Sym::value(*a, self.names.value(*a)))
                    .collect();
                let y = Sym::value(value, v);
                let primal = forward(op, &x);
                let primal = primal.tokens();
                if !self.is_active(value) {
                    return quote!(let #v = #primal;);
                }
                let dx: Vec<Option<Sym>> = args
                    .iter()
                    .map(|a| self.is_active(*a).then(|| Sym::local(&self.names.dot(*a))))
                    .collect();
                let t = tangent(op, &x, &y, &dx);
                let t = t.tokens();
                let d = self.names.dot(value);
                let record = self.record(value, op, args);
                quote! {
                    let #v = #primal;
                    let #d = #t;
                    #record
                }
            }
        }
    }
}
