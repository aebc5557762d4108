//! Items for a function with a hand-written adjoint
//! (`#[custom_adjoint(backward)]`): the compiler treats the function as one
//! op whose reverse rule is the user's `backward`.
//!
//! `backward` takes all the function's arguments, then its value, then the
//! value's adjoint, and returns the adjoint of each active argument (a tuple
//! when there are several). Forward mode derives the tangent from it: for a
//! scalar function `ẏ = Σ ∂y/∂xᵢ ẋᵢ`, with `∂y/∂xᵢ = backward(.., y, 1)`.

use crate::codegen::{allow_lints, Parts};
use crate::signature::Signature;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// The arguments of `#[custom_adjoint(...)]`: `backward` alone, or
/// `forward = f, backward = b` where `f(args) -> (value, saved)` decides what
/// the backward receives: `b(saved, &adjoint)`.
pub struct CustomAdjoint {
    pub backward: syn::Path,
    pub forward: Option<syn::Path>,
}

impl syn::parse::Parse for CustomAdjoint {
    fn parse(input: syn::parse::ParseStream) -> syn::Result<Self> {
        const USAGE: &str = "expected `#[custom_adjoint(my_backward)]` or `#[custom_adjoint(forward = my_forward, backward = my_backward)]`";
        if !input.peek2(syn::Token![=]) {
            let backward = input
                .parse::<syn::Path>()
                .map_err(|e| syn::Error::new(e.span(), USAGE))?;
            if !input.is_empty() {
                return Err(input.error(USAGE));
            }
            return Ok(CustomAdjoint {
                backward,
                forward: None,
            });
        }
        let pairs = input.parse_terminated(syn::MetaNameValue::parse, syn::Token![,])?;
        let (mut backward, mut forward) = (None, None);
        for pair in pairs {
            let syn::Expr::Path(value) = &pair.value else {
                return Err(syn::Error::new_spanned(
                    &pair.value,
                    "expected a function path",
                ));
            };
            if pair.path.is_ident("backward") {
                backward = Some(value.path.clone());
            } else if pair.path.is_ident("forward") {
                forward = Some(value.path.clone());
            } else {
                return Err(syn::Error::new_spanned(&pair.path, USAGE));
            }
        }
        let backward =
            backward.ok_or_else(|| input.error("`backward = my_backward` is required"))?;
        Ok(CustomAdjoint { backward, forward })
    }
}

/// The generated items for a custom-adjoint function.
pub fn generate(sig: &Signature, backward: &syn::Path) -> TokenStream {
    let parts = Parts::new(sig);
    let Parts {
        vis,
        ty,
        params,
        args,
        grad_struct,
        name,
    } = &parts;
    let types = parts.adjoint_types(sig);
    let active: Vec<_> = sig
        .active()
        .map(|p| format_ident!("__adjoint_of_{}", p.ident))
        .collect();
    let destructure = destructure_with(&active, ty);
    let per_param_pat: Vec<TokenStream> = sig
        .params
        .iter()
        .map(|p| {
            if p.active {
                let bar = format_ident!("__adjoint_of_{}", p.ident);
                quote!(#bar)
            } else {
                quote!(_)
            }
        })
        .collect();
    let per_param: Vec<TokenStream> = sig
        .params
        .iter()
        .map(|p| {
            if p.active {
                let bar = format_ident!("__adjoint_of_{}", p.ident);
                quote!(#bar)
            } else if p.float {
                quote!(0.0)
            } else {
                quote!(::adjoint::__private::Inactive)
            }
        })
        .collect();
    let pullback = format_ident!("__{}_pullback", name);
    let tangent = format_ident!("__{}_tangent", name);
    let marker = crate::codegen::slots::marker(name);
    let grad = format_ident!("{}_grad", name);
    let jvp = format_ident!("{}_jvp", name);
    let trace = format_ident!("{}_trace", name);
    let graph = format_ident!("{}_graph", name);
    let fields: Vec<_> = sig.active().map(|p| p.ident.clone()).collect();
    let dots: Vec<_> = sig
        .active()
        .map(|p| format_ident!("__tangent_of_{}", p.ident))
        .collect();
    let all_dots: Vec<TokenStream> = sig
        .params
        .iter()
        .map(|p| {
            let d = format_ident!("__tangent_of_{}", p.ident);
            if p.active {
                quote!(#d: #ty)
            } else {
                quote!(#d: impl Sized)
            }
        })
        .collect();
    let all_dot_args: Vec<_> = sig
        .params
        .iter()
        .map(|p| format_ident!("__tangent_of_{}", p.ident))
        .collect();
    let constant_dots: Vec<_> = sig
        .params
        .iter()
        .filter(|p| !p.active)
        .map(|p| format_ident!("__tangent_of_{}", p.ident))
        .collect();
    let count = active.len();
    let input_indices: Vec<i64> = (0..count as i64)
        .rev()
        .map(|k| k + 1 - count as i64)
        .collect();
    let reversed_active: Vec<_> = active.iter().rev().collect();
    let inputs: Vec<_> = sig
        .active()
        .map(|p| {
            let (ident, label) = (&p.ident, p.ident.to_string());
            quote!(::adjoint::__private::TraceArg::Var(__trace.input(#label, f64::from(#ident))))
        })
        .collect();
    let template = format!(
        "{name}({})",
        (0..count)
            .map(|i| format!("{{{i}}}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let dot = format!(
        "digraph {name} {{\n  node [shape=box];\n  {name} [label=\"{name} (custom adjoint: {})\"];\n}}\n",
        quote!(#backward).to_string().replace('"', "\\\"")
    );
    let lints = allow_lints();
    let slots = crate::codegen::slots::declare(sig);
    quote! {
        #slots

        #[doc = concat!("Value and gradient of [`", stringify!(#name), "`] (hand-written adjoint).")]
        #[derive(Debug, Clone, Copy, PartialEq)]
        #[allow(dead_code)]
        #vis struct #grad_struct {
            /// The function's value.
            pub value: #ty,
            #(#[doc = "A partial derivative."] pub #fields: #ty,)*
        }

        impl #marker {
            #[doc(hidden)]
            #lints
            #vis fn #pullback(#(#params),*) -> (#ty, impl FnOnce(#ty) -> (#(#types,)*)) {
                let __value = #name(#(#args),*);
                (__value, move |__adjoint_seed: #ty| {
                    #destructure = #backward(#(#args,)* __value, __adjoint_seed);
                    (#(#per_param,)*)
                })
            }

            #[doc(hidden)]
            #lints
            #vis fn #tangent(#(#params,)* #(#all_dots),*) -> (#ty, #ty) {
                let __value = #name(#(#args),*);
                #destructure = #backward(#(#args,)* __value, 1.0);
                (__value, 0.0 #(+ #active * #dots)*)
            }
        }

        #[doc = concat!("Value and gradient of [`", stringify!(#name), "`] through its hand-written adjoint.")]
        #lints
        #vis fn #grad(#(#params),*) -> #grad_struct {
            let (__value, __pullback) = #marker::#pullback(#(#args),*);
            let (#(#per_param_pat,)*) = __pullback(1.0);
            #grad_struct { value: __value, #(#fields: #active),* }
        }

        #[doc = concat!("Forward mode of [`", stringify!(#name), "`], derived from its hand-written adjoint.")]
        #lints
        #vis fn #jvp(#(#params,)* #(#dots: #ty),*) -> (#ty, #ty) {
            #(let #constant_dots = ();)*
            #marker::#tangent(#(#args,)* #(#all_dot_args),*)
        }

        #[doc = concat!("The trace of [`", stringify!(#name), "`]: one custom op.")]
        #lints
        #vis fn #trace(#(#params),*) -> ::adjoint::Trace {
            let mut __trace = ::adjoint::Trace::new(#count);
            let __inputs = [#(#inputs),*];
            let (__value, __pullback) = #marker::#pullback(#(#args),*);
            let __n = __trace.op(#template, &__inputs, f64::from(__value));
            __trace.adjoint(__n, 1.0);
            let (#(#per_param_pat,)*) = __pullback(1.0);
            #(__trace.adjoint(#input_indices, f64::from(#reversed_active));)*
            __trace
        }

        #[doc = concat!("The graph of [`", stringify!(#name), "`]: one custom op.")]
        #[allow(dead_code)]
        #vis fn #graph() -> &'static str {
            #dot
        }
    }
}

fn destructure_with(active: &[syn::Ident], ty: &syn::Ident) -> TokenStream {
    if active.len() == 1 {
        quote!(let #(#active)*: #ty)
    } else {
        let tys = active.iter().map(|_| ty);
        quote!(let (#(#active),*): (#(#tys),*))
    }
}
