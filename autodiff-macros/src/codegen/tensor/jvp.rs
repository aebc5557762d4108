//! Forward mode for tensor functions: `NAME_jvp` and `__NAME_tangent`.

use super::{carry_ident, TensorGen};
use crate::codegen::{allow_lints, Parts};
use crate::ir::{Carried, Kind, Merge, Op, Region, Stmt, ValueId};
use crate::signature::ParamKind;
use crate::sym::Sym;
use crate::tensor_rules::{self};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

impl TensorGen<'_> {
    /// Forward mode: `NAME_jvp(args, tangents of the active args) -> (value,
    /// tangent)` and the hidden `__NAME_tangent` (a tangent slot for every
    /// argument) that calling functions compose with.
    pub(super) fn jvp_fns(&self, parts: &Parts) -> TokenStream {
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
        body.extend(self.region_jvp(&self.f.body.stmts));
        let result = self.names.value(self.f.result);
        let result_dot = if self.is_active(self.f.result) {
            let d = self.names.dot(self.f.result);
            quote!(#d)
        } else if self.sig.returns_tensor {
            quote!(::adjoint::Tensor::zeros_like(&#result))
        } else {
            quote!(0.0)
        };
        let out_ty = self.out_ty();
        let jvp = format_ident!("{}_jvp", name);
        let hidden = format_ident!("__{}_tangent", name);
        let marker = crate::codegen::slots::marker(name);
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
                #marker::#hidden(#(#args,)* #(#tangent_args),*)
            }

            impl #marker {
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
    }

    /// Forward mode through a region: each value next to its tangent;
    /// loops carry both, branches merge both.
    fn region_jvp(&self, stmts: &[Stmt]) -> TokenStream {
        let mut out = TokenStream::new();
        for stmt in stmts {
            match stmt {
                Stmt::Let { value, op, args } => out.extend(self.let_jvp(*value, op, args)),
                Stmt::For {
                    index,
                    lo,
                    hi,
                    inclusive,
                    carried,
                    body,
                } => {
                    let range = self.range(*lo, *hi, *inclusive);
                    let i = self.names.value(*index);
                    out.extend(self.loop_jvp(
                        carried,
                        body,
                        |iteration| quote!(for #i in #range { #iteration }),
                    ));
                }
                Stmt::If {
                    cond,
                    then_region,
                    else_region,
                    merges,
                } => out.extend(self.if_jvp(*cond, then_region, else_region, merges)),
                Stmt::Loop {
                    trips,
                    exit,
                    carried,
                    body,
                } => {
                    let (trips, exit) = (self.names.value(*trips), self.names.value(*exit));
                    out.extend(self.loop_jvp(carried, body, |iteration| {
                        quote! {
                            let mut #trips: usize = 0;
                            loop {
                                #iteration
                                #trips += 1;
                                if #exit {
                                    break;
                                }
                            }
                        }
                    }));
                }
            }
        }
        out
    }

    /// The tangent of `v`, or a zero of its type where it does not vary.
    fn dot_or_zero(&self, v: ValueId) -> TokenStream {
        let ident = self.names.value(v);
        let dot = self.names.dot(v);
        let ty = &self.ty;
        match self.f.kind(v) {
            _ if self.is_active(v) => quote!(::core::clone::Clone::clone(&#dot)),
            Kind::Tensor => quote!(::adjoint::Tensor::<#ty>::zeros_like(&#ident)),
            Kind::Model => quote!({ use ::adjoint::params::Parameters as _; #ident.zeros_like() }),
            _ => quote!(0.0),
        }
    }

    /// Forward mode through a loop: values and tangents carried together;
    /// `run` wraps one iteration in the loop.
    fn loop_jvp(
        &self,
        carried: &[Carried],
        body: &Region,
        run: impl FnOnce(TokenStream) -> TokenStream,
    ) -> TokenStream {
        let active: Vec<&Carried> = carried.iter().filter(|c| self.is_active(c.out)).collect();
        let carries: Vec<syn::Ident> = carried
            .iter()
            .map(|c| carry_ident(self.names.value(c.out)))
            .collect();
        let dot_carries: Vec<syn::Ident> = active
            .iter()
            .map(|c| carry_ident(&self.names.dot(c.out)))
            .collect();
        let inits = carried.iter().map(|c| self.names.value(c.init));
        let init_dots = active.iter().map(|c| self.dot_or_zero(c.init));
        let phis = carried.iter().map(|c| self.names.value(c.phi));
        let phi_dots = active.iter().map(|c| self.names.dot(c.phi));
        let nexts = carried.iter().map(|c| self.names.value(c.next));
        let next_dots = active.iter().map(|c| self.dot_or_zero(c.next));
        let outs = carried.iter().map(|c| self.names.value(c.out));
        let out_dots = active.iter().map(|c| self.names.dot(c.out));
        let code = self.region_jvp(&body.stmts);
        let run = run(quote! {
            #(let #phis = #carries;)*
            #(let #phi_dots = #dot_carries;)*
            #code
            #(#dot_carries = #next_dots;)*
            #(#carries = ::core::clone::Clone::clone(&#nexts);)*
        });
        quote! {
            #(let mut #carries = ::core::clone::Clone::clone(&#inits);)*
            #(let mut #dot_carries = #init_dots;)*
            #run
            #(let #outs = #carries;)*
            #(let #out_dots = #dot_carries;)*
        }
    }

    fn if_jvp(
        &self,
        cond: ValueId,
        then_region: &Region,
        else_region: &Region,
        merges: &[Merge],
    ) -> TokenStream {
        let active: Vec<&Merge> = merges.iter().filter(|m| self.is_active(m.out)).collect();
        let outs = merges.iter().map(|m| self.names.value(m.out));
        let out_dots = active.iter().map(|m| self.names.dot(m.out));
        let side = |region: &Region, pick: bool| {
            let code = self.region_jvp(&region.stmts);
            let values = merges.iter().map(|m| {
                let v = self
                    .names
                    .value(if pick { m.then_value } else { m.else_value });
                quote!(::core::clone::Clone::clone(&#v))
            });
            let dots = active
                .iter()
                .map(|m| self.dot_or_zero(if pick { m.then_value } else { m.else_value }));
            quote!({ #code ((#(#values,)*), (#(#dots,)*)) })
        };
        let (then_code, else_code) = (side(then_region, true), side(else_region, false));
        let c = self.names.value(cond);
        quote!(let ((#(#outs,)*), (#(#out_dots,)*)) = if #c #then_code else #else_code;)
    }

    /// Forward mode of one `let`: its value, then its tangent.
    fn let_jvp(&self, value: ValueId, op: &Op, stmt_args: &[ValueId]) -> TokenStream {
        let mut out = TokenStream::new();
        let v = self.names.value(value);
        let arg_idents: Vec<TokenStream> = match op {
            Op::Tensor(top) => self.operands(*top, stmt_args),
            _ => stmt_args
                .iter()
                .map(|a| {
                    let i = self.names.value(*a);
                    quote!(#i)
                })
                .collect(),
        };
        if let Op::Call(callee) = op {
            if self.is_active(value) {
                let dot = self.names.dot(value);
                let tangent = crate::codegen::slots::hidden_item(&callee.path, "_tangent");
                let passed: Vec<TokenStream> = stmt_args.iter().map(|a| self.pass(*a)).collect();
                let dots: Vec<TokenStream> =
                    stmt_args.iter().map(|a| self.tangent_arg(*a)).collect();
                let (v_as, dot_as) = (
                    self.call_result(value, callee, quote!(#v)),
                    self.call_result(value, callee, quote!(#dot)),
                );
                out.extend(quote! {
                    let (#v, #dot) = #tangent(#(#passed,)* #(#dots),*);
                    let (#v, #dot) = (#v_as, #dot_as);
                });
                return out;
            }
        }
        out.extend(self.forward_line(value, op, stmt_args));
        if !self.is_active(value) {
            return out;
        }
        let dot = self.names.dot(value);
        let tangent = match op {
            Op::Field(path) if self.f.kind(value) == Kind::Model => {
                let model_dot = self.names.dot(stmt_args[0]);
                let path = self.names.resolve(&quote!(#path));
                quote!(::adjoint::params::Parameters::map(&#model_dot #path, &mut |__t| ::core::clone::Clone::clone(__t)))
            }
            Op::Field(path) => {
                let model_dot = self.names.dot(stmt_args[0]);
                let path = self.names.resolve(&quote!(#path));
                quote!(::core::clone::Clone::clone(&#model_dot #path))
            }
            Op::Tensor(tensor_rules::TensorOp::Fused(id)) => self.fused_tangent(*id, stmt_args),
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
                let extra = super::extra_ident(v);
                tensor_rules::tangent(*top, &arg_idents, &quote!(#v), &quote!(#extra), &dx)
            }
            Op::Const(_) | Op::Call(_) => return out,
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
        out.extend(quote!(let #dot = #tangent;));
        out
    }

    /// The tangent passed to a callee for argument `v`: its own tangent, or
    /// a zero of its type when it does not vary.
    pub(super) fn tangent_arg(&self, v: ValueId) -> TokenStream {
        let ident = self.names.value(v);
        let dot = self.names.dot(v);
        match self.f.kind(v) {
            Kind::Tensor if self.is_active(v) => quote!(&#dot),
            Kind::Tensor => {
                let ty = &self.ty;
                quote!(&::adjoint::Tensor::<#ty>::zeros_like(&#ident))
            }
            Kind::Model if self.is_active(v) && self.is_param(v) => quote!(#dot),
            Kind::Model if self.is_active(v) => quote!(&#dot),
            Kind::Model => quote!(&{ use ::adjoint::params::Parameters as _; #ident.zeros_like() }),
            Kind::Float if self.is_active(v) => quote!(#dot),
            Kind::Float => quote!(0.0),
            _ => quote!(()),
        }
    }
}
