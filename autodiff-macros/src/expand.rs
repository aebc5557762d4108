//! The two attribute macros' expansion: parse, check, lower, generate, or
//! report every error with its span (plus stubs of the generated functions so
//! that callers do not drown in follow-on errors).

use crate::codegen;
use crate::codegen::custom::CustomAdjoint;
use crate::diagnostics::Errors;
use crate::parse;
use crate::signature::{self, strip_constant_attrs};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::spanned::Spanned;

/// `#[differentiable]`, or `#[custom_adjoint(backward)]` when `custom` is set.
pub fn expand(attr: TokenStream, item: TokenStream, custom: Option<TokenStream>) -> TokenStream {
    let mut errors = Errors::default();
    let mut item: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(_) => {
            let err = syn::Error::new(
                item.clone().into_iter().next().map(|t| t.span()).unwrap_or_else(proc_macro2::Span::call_site),
                "#[differentiable] applies to free functions (`fn name(x: f64, ...) -> f64 { ... }`)",
            );
            let err = err.to_compile_error();
            return quote!(#err #item);
        }
    };
    let mut backward: Option<CustomAdjoint> = None;
    match custom {
        Some(tokens) => match syn::parse2::<CustomAdjoint>(tokens) {
            Ok(spec) => backward = Some(spec),
            Err(e) => errors.push_error(e),
        },
        None => {
            if !attr.is_empty() {
                errors.push(attr.span(), "#[differentiable] takes no arguments; for a hand-written adjoint use `#[custom_adjoint(backward_fn)]`");
            }
        }
    }
    // The other attribute of the pair, if present, is consumed here.
    let mut kept = Vec::new();
    for a in item.attrs.drain(..) {
        if a.path().is_ident("custom_adjoint") {
            match a.parse_args::<CustomAdjoint>() {
                Ok(spec) => backward = Some(spec),
                Err(e) => errors.push_error(e),
            }
        } else if a.path().is_ident("differentiable") {
        } else {
            kept.push(a);
        }
    }
    item.attrs = kept;
    let original = strip_constant_attrs(&item);
    let sig = signature::check(&item, &mut errors);
    let generated = match (&sig, &backward) {
        (Some(sig), Some(spec)) if sig.tensor_mode() => {
            // The primal body is lowered as usual: forward mode, the trace and
            // the graph come from it; the reverse sweep is the user's.
            parse::lower(&item, sig, &mut errors)
                .map(|f| codegen::tensor::generate(&f, sig, Some(spec)))
        }
        (Some(sig), Some(spec)) => match &spec.forward {
            Some(forward) => {
                errors.push(
                    forward.span(),
                    "`forward = ...` is supported for tensor functions; a scalar function's backward receives its arguments, value and adjoint",
                );
                None
            }
            None => match sig.active().find(|p| p.slice) {
                Some(p) => {
                    errors.push_spanned(
                        &p.ty,
                        "active slices are not supported with #[custom_adjoint]: pass floats, or mark the slice `#[constant]`",
                    );
                    None
                }
                None => Some(codegen::custom::generate(sig, &spec.backward)),
            },
        },
        (Some(sig), None) => {
            let lowered = parse::lower(&item, sig, &mut errors);
            if lowered.is_none() && errors.is_empty() {
                errors.push(
                    item.sig.ident.span(),
                    "adjoint internal error: lowering failed without a diagnostic; please report this function",
                );
            }
            lowered.map(|mut f| {
                let varied = crate::passes::activity::varied(&f);
                crate::passes::activity::check_data_operands(&f, &varied, &mut errors);
                if sig.tensor_mode() {
                    crate::passes::fusion::fuse(&mut f, &varied);
                    codegen::tensor::generate(&f, sig, None)
                } else {
                    codegen::generate(&f, sig)
                }
            })
        }
        (None, _) => None,
    };
    if errors.is_empty() {
        if let Some(generated) = generated {
            dump(&item.sig.ident, &original, &generated);
            return quote!(#original #generated);
        }
    }
    let compile_errors = errors.to_compile_errors();
    let Some(sig) = sig else {
        return quote!(#compile_errors #original);
    };
    // The body has errors: rustc need not type-check it and repeat them.
    let mut original = original;
    original.block = syn::parse_quote!({ ::core::panic!(#STUB_MESSAGE) });
    original
        .attrs
        .push(syn::parse_quote!(#[allow(unused_variables, unreachable_code)]));
    let stubs = stubs(&sig);
    let slots = codegen::slots::declare(&sig);
    quote!(#compile_errors #original #stubs #slots)
}

/// Placeholder items with every generated name and signature (the Grad
/// struct derives what the real one derives), so a function with errors
/// reports only its own errors, not follow-on errors in its callers.
fn stubs(sig: &signature::Signature) -> TokenStream {
    use signature::ParamKind;
    let parts = codegen::Parts::new(sig);
    let codegen::Parts {
        vis,
        ty,
        params,
        grad_struct,
        name,
        ..
    } = &parts;
    let tensor = sig.tensor_mode();
    let gradient_ty = |p: &signature::SigParam| match p.kind {
        ParamKind::Float => quote!(#ty),
        ParamKind::Data if p.slice => quote!(::std::vec::Vec<#ty>),
        _ => {
            let g = p.gradient_ty();
            quote!(#g)
        }
    };
    let fields: Vec<_> = sig.active().map(|p| p.ident.clone()).collect();
    let field_types: Vec<_> = sig.active().map(gradient_ty).collect();
    let adjoint_types: Vec<_> = sig
        .params
        .iter()
        .map(|p| match p.kind {
            ParamKind::Float => quote!(#ty),
            ParamKind::Tensor | ParamKind::Model if p.active => gradient_ty(p),
            ParamKind::Data if p.active && p.slice => gradient_ty(p),
            _ => quote!(::adjoint::__private::Inactive),
        })
        .collect();
    let tangent_ty = |p: &signature::SigParam| match p.kind {
        ParamKind::Float => quote!(#ty),
        ParamKind::Data if p.slice => quote!(&[#ty]),
        _ => {
            let g = p.gradient_ty();
            quote!(&#g)
        }
    };
    let dots: Vec<_> = sig
        .active()
        .map(|p| {
            let d = format_ident!("{}_dot", p.ident);
            let t = tangent_ty(p);
            quote!(#d: #t)
        })
        .collect();
    let all_dots: Vec<_> = sig
        .params
        .iter()
        .map(|p| {
            let d = format_ident!("{}_dot", p.ident);
            if p.active {
                let t = tangent_ty(p);
                quote!(#d: #t)
            } else {
                quote!(#d: impl Sized)
            }
        })
        .collect();
    let value_ty = if sig.returns_tensor {
        quote!(::adjoint::Tensor<#ty>)
    } else {
        quote!(#ty)
    };
    let (grad, seed) = if sig.returns_tensor {
        (format_ident!("{}_vjp", name), quote!(, __seed: &#value_ty))
    } else {
        (format_ident!("{}_grad", name), quote!())
    };
    let (derives, clone_impl) = if tensor {
        (quote!(), codegen::tensor::grad_clone_impl(sig, grad_struct))
    } else {
        (codegen::grad_derives(sig), quote!())
    };
    let trace_ty = if tensor {
        quote!(::adjoint::TensorTrace)
    } else {
        quote!(::adjoint::Trace)
    };
    let jvp = format_ident!("{}_jvp", name);
    let trace = format_ident!("{}_trace", name);
    let graph = format_ident!("{}_graph", name);
    let pullback = format_ident!("__{}_pullback", name);
    let tangent = format_ident!("__{}_tangent", name);
    let marker = codegen::slots::marker(name);
    let jvp_trace = (!tensor).then(|| {
        let f = format_ident!("{}_jvp_trace", name);
        quote! {
            #[allow(unused_variables, dead_code)]
            #vis fn #f(#(#params,)* #(#dots),*) -> ::adjoint::Trace { ::core::panic!(#STUB_MESSAGE) }
        }
    });
    quote! {
        #derives
        #[allow(dead_code)]
        #vis struct #grad_struct { pub value: #value_ty, #(pub #fields: #field_types,)* }
        #clone_impl
        #[allow(unused_variables, dead_code)]
        #vis fn #grad(#(#params),* #seed) -> #grad_struct { ::core::panic!(#STUB_MESSAGE) }
        #[allow(unused_variables, dead_code)]
        #vis fn #jvp(#(#params,)* #(#dots),*) -> (#value_ty, #value_ty) { ::core::panic!(#STUB_MESSAGE) }
        #jvp_trace
        #[allow(unused_variables, dead_code)]
        #vis fn #trace(#(#params),*) -> #trace_ty { ::core::panic!(#STUB_MESSAGE) }
        #[allow(dead_code)]
        #vis fn #graph() -> &'static str { #STUB_MESSAGE }
        impl #marker {
            #[doc(hidden)]
            #[allow(unused_variables, dead_code, unreachable_code)]
            #vis fn #pullback(#(#params),*) -> (#value_ty, impl FnOnce(#value_ty) -> (#(#adjoint_types,)*)) {
                (::core::panic!(#STUB_MESSAGE), move |_: #value_ty| ::core::panic!(#STUB_MESSAGE))
            }
            #[doc(hidden)]
            #[allow(unused_variables, dead_code)]
            #vis fn #tangent(#(#params,)* #(#all_dots),*) -> (#value_ty, #value_ty) { ::core::panic!(#STUB_MESSAGE) }
        }
    }
}

const STUB_MESSAGE: &str = "#[differentiable] function has compile errors";

/// With `ADJOINT_DUMP=dir` set at build time, writes each expansion,
/// formatted, to `dir/CRATE/NAME.rs` (`CRATE` is the crate being compiled,
/// so functions of the same name in different binaries or tests do not
/// overwrite each other).
fn dump(name: &syn::Ident, original: &syn::ItemFn, generated: &TokenStream) {
    let Some(dir) = std::env::var_os("ADJOINT_DUMP") else {
        return;
    };
    let krate = std::env::var("CARGO_CRATE_NAME").unwrap_or_else(|_| "unknown_crate".into());
    let dir = std::path::Path::new(&dir).join(krate);
    let tokens = quote!(#original #generated);
    let text = match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(_) => tokens.to_string(),
    };
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(format!("{name}.rs")), text);
}
