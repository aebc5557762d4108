//! Activity across function boundaries.
//!
//! A caller's macro cannot see its callee's attributes, so each generated
//! function declares per argument whether it differentiates through it
//! (`__NAME_adjoint`, implementing `Slot<I>` with `Kind = Active` or
//! `Constant`), and each caller requires `Kind = Active` for every argument to
//! which it passes a value that varies with its own active arguments. Passing
//! such a value into a `#[constant]` argument is then a compile error at the
//! argument, naming the callee, the argument and what the value depends on.

use crate::ir::{walk_stmts, Function, Op, Stmt};
use crate::passes::activity::varied_from;
use crate::signature::Signature;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

/// The callee side: the marker type with one `Slot<I>` impl per argument.
pub fn declare(sig: &Signature) -> TokenStream {
    let vis = &sig.vis;
    let slots = marker(&sig.name);
    let impls = sig.params.iter().enumerate().map(|(i, p)| {
        let kind = if p.active {
            quote!(Active)
        } else {
            quote!(Constant)
        };
        quote! {
            impl ::adjoint::__private::Slot<#i> for #slots {
                type Kind = ::adjoint::__private::#kind;
            }
        }
    });
    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #slots;
        #(#impls)*
    }
}

/// The caller side: a compile-time check that every argument receiving a
/// varying value is an active argument of its callee.
pub fn check_calls(f: &Function, varied: &[bool]) -> TokenStream {
    let mut checks = Vec::new();
    walk_stmts(&f.body, &mut |stmt| {
        let Stmt::Let {
            op: Op::Call(callee),
            args,
            ..
        } = stmt
        else {
            return;
        };
        for (i, a) in args.iter().enumerate() {
            if varied[a.0] {
                checks.push((callee, i, *a));
            }
        }
    });
    if checks.is_empty() {
        return quote!();
    }
    let items = checks.iter().enumerate().map(|(k, (callee, i, arg))| {
        let callee_name = callee
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        let sources = depends_on(f, *arg);
        let message = format!(
            "argument {} of `{callee_name}` is `#[constant]` but receives a value that depends on {sources}",
            i + 1
        );
        let label = format!("this depends on {sources}");
        let note = format!(
            "no derivative flows through a `#[constant]` argument: remove `#[constant]` from argument {} of `{callee_name}`, or pass a value that does not depend on the differentiated arguments",
            i + 1
        );
        let slots = marker_path(&callee.path);
        let span = callee.arg_spans.get(*i).copied().unwrap_or_else(proc_macro2::Span::call_site);
        let receives = format_ident!("__AdjointReceivesActive{}", k, span = span);
        let require = format_ident!("__adjoint_require_{}", k, span = span);
        quote_spanned! {span=>
            #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
            trait #receives {}
            impl #receives for ::adjoint::__private::Active {}
            fn #require<T: #receives>() {}
            #require::<<#slots as ::adjoint::__private::Slot<#i>>::Kind>();
        }
    });
    quote! {
        const _: () = {
            #[allow(dead_code, non_snake_case, clippy::all)]
            fn __adjoint_activity_checks() { #(#items)* }
        };
    }
}

/// "`y`" or "`x` and `y`": the active arguments `v` varies with.
fn depends_on(f: &Function, v: crate::ir::ValueId) -> String {
    let names: Vec<String> = f
        .params
        .iter()
        .filter(|p| p.active && varied_from(f, |q| q.ident == p.ident)[v.0])
        .map(|p| format!("`{}`", p.ident))
        .collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => "the differentiated arguments".into(),
    }
}

/// The marker type of a generated function: its argument slots and its
/// hidden pullback and tangent are associated with it, so a caller names
/// the callee's generated items through one path, and calling a function
/// that is not `#[differentiable]` is one error: "cannot find type
/// `__square_adjoint`".
pub fn marker(name: &syn::Ident) -> syn::Ident {
    format_ident!("__{}_adjoint", name)
}

/// `<path::__NAME_adjoint>::__NAME{suffix}`: a callee's hidden item,
/// spanned at the user's callee name.
pub fn hidden_item(callee: &syn::Path, suffix: &str) -> TokenStream {
    let marker = marker_path(callee);
    let name = callee
        .segments
        .last()
        .map(|s| format_ident!("__{}{}", s.ident, suffix, span = s.ident.span()))
        .expect("a path has at least one segment");
    quote!(<#marker>::#name)
}

/// The callee path with its last segment replaced by its marker type.
fn marker_path(callee: &syn::Path) -> syn::Path {
    let mut path = callee.clone();
    if let Some(last) = path.segments.last_mut() {
        let span = last.ident.span();
        let mut ident = marker(&last.ident);
        ident.set_span(span);
        last.ident = ident;
    }
    path
}

/// `items` (the hidden pullback and tangent) as associated functions of the
/// function's marker type.
pub fn associated(name: &syn::Ident, items: TokenStream) -> TokenStream {
    let marker = marker(name);
    quote!(impl #marker { #items })
}
