//! `#[custom_adjoint]` on a tensor function: the reverse sweep is the user's
//! backward; forward mode, the trace and the graph come from the primal body,
//! which the compiler lowers as usual.
//!
//! With `forward = f`, `f(args) -> (value, saved)` decides what the backward
//! receives, `backward(saved, &adjoint)`; without it the backward receives
//! `(args..., &value, &adjoint)`. Either way it returns the adjoints of the
//! active arguments only (a tuple when there are several), in order.

use super::TensorGen;
use crate::codegen::custom::CustomAdjoint;
use crate::codegen::{allow_lints, pullback_params, Parts};
use crate::signature::ParamKind;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

impl TensorGen<'_> {
    /// `__NAME_pullback` calling the user's forward and backward.
    pub(super) fn custom_pullback_fn(&self, parts: &Parts, spec: &CustomAdjoint) -> TokenStream {
        let Parts {
            vis, name, args, ..
        } = parts;
        let backward = &spec.backward;
        let seed = format_ident!("__adjoint_seed");
        let out_ty = self.out_ty();
        let seed_arg = if self.sig.returns_tensor {
            quote!(&#seed)
        } else {
            quote!(#seed)
        };
        let (forward, call) = match &spec.forward {
            Some(f) => (
                quote!(let (__value, __saved) = #f(#(#args),*);),
                quote!(#backward(__saved, #seed_arg)),
            ),
            None => {
                let value_arg = if self.sig.returns_tensor {
                    quote!(&__value)
                } else {
                    quote!(__value)
                };
                // The closure owns the tensors and models it passes back (a
                // shared-storage copy), so it borrows only reference data.
                let owned = self.sig.params.iter().map(|p| {
                    let i = &p.ident;
                    match p.kind {
                        ParamKind::Tensor => quote!(let #i = ::core::clone::Clone::clone(#i);),
                        ParamKind::Model => quote!(let #i = ::adjoint::params::Parameters::map(#i, &mut |__t| ::core::clone::Clone::clone(__t));),
                        _ => quote!(),
                    }
                });
                let passed = self.sig.params.iter().map(|p| {
                    let i = &p.ident;
                    match p.kind {
                        ParamKind::Tensor | ParamKind::Model => quote!(&#i),
                        _ => quote!(#i),
                    }
                });
                (
                    quote!(let __value = #name(#(#args),*); #(#owned)*),
                    quote!(#backward(#(#passed,)* #value_arg, #seed_arg)),
                )
            }
        };
        let borrows = spec.forward.is_none()
            && self
                .sig
                .params
                .iter()
                .any(|p| p.kind == ParamKind::Data && matches!(p.ty, syn::Type::Reference(_)));
        let active: Vec<_> = self
            .sig
            .params
            .iter()
            .filter(|p| p.active)
            .map(|p| format_ident!("__adjoint_of_{}", p.ident))
            .collect();
        let destructure = if active.len() == 1 {
            quote!(let #(#active)* = #call;)
        } else {
            quote!(let (#(#active),*) = #call;)
        };
        let per_param = self.sig.params.iter().map(|p| {
            if p.active {
                let a = format_ident!("__adjoint_of_{}", p.ident);
                quote!(#a)
            } else {
                quote!(::adjoint::__private::Inactive)
            }
        });
        let types = self.adjoint_types();
        let (lifetime, params, bound) = if borrows {
            let (lifetime, params) = pullback_params(self.sig);
            (quote!(#lifetime), params, quote!(+ #lifetime))
        } else {
            (quote!(), parts.params.clone(), quote!())
        };
        let fn_name = format_ident!("__{}_pullback", name);
        let lints = allow_lints();
        crate::codegen::slots::associated(
            name,
            quote! {
                /// The value and the pullback through the hand-written backward.
                #[doc(hidden)]
                #lints
                #vis fn #fn_name<#lifetime>(#(#params),*) -> (#out_ty, impl FnOnce(#out_ty) -> (#(#types,)*) #bound) {
                    #forward
                    (::core::clone::Clone::clone(&__value), move |#seed: #out_ty| {
                        #destructure
                        (#(#per_param,)*)
                    })
                }
            },
        )
    }

    /// `NAME_grad` (or `NAME_vjp`) through the pullback.
    pub(super) fn custom_grad_fn(&self, parts: &Parts) -> TokenStream {
        let Parts {
            vis,
            params,
            args,
            grad_struct,
            name,
            ..
        } = parts;
        let (fn_name, extra_param, seed) = self.grad_fn_head(name);
        let pullback = format_ident!("__{}_pullback", name);
        let marker = crate::codegen::slots::marker(name);
        let outs = self.sig.params.iter().map(|p| {
            if p.active {
                let i = &p.ident;
                quote!(#i)
            } else {
                quote!(_)
            }
        });
        let fields: Vec<_> = self.sig.active().map(|p| p.ident.clone()).collect();
        let doc = format!("Value and gradients of [`{name}`] through its hand-written backward.");
        let grad_struct_def = self.grad_struct_def(parts, &doc);
        let lints = allow_lints();
        quote! {
            #grad_struct_def

            #[doc = #doc]
            #lints
            #vis fn #fn_name(#(#params),* #extra_param) -> #grad_struct {
                let (value, __pullback) = #marker::#pullback(#(#args),*);
                let (#(#outs,)*) = __pullback(#seed);
                #grad_struct { value, #(#fields),* }
            }
        }
    }
}
