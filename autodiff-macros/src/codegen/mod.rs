//! Code generation: from the IR to the items `#[differentiable]` emits next
//! to the user's function.

pub mod custom;
pub mod forward;
pub mod graph;
pub mod names;
pub mod reverse;
pub mod slots;
pub mod tangent;
pub mod tensor;

use crate::ir::Function;
use crate::passes::activity;
use crate::signature::Signature;
use crate::sym::{with_float_ty, Real, Sym};
use names::Names;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// The generated items: `NAME_grad` and its struct, `NAME_jvp`, `NAME_trace`,
/// `NAME_graph`, and the hidden `__NAME_pullback` / `__NAME_tangent` (associated
/// with the marker type `__NAME_adjoint`) that
/// callers' generated code composes with.
pub fn generate(f: &Function, sig: &Signature) -> TokenStream {
    with_float_ty(f.float_ty, || {
        let names = Names::new(f);
        let varied = activity::varied(f);
        let parts = Parts::new(sig);
        let grad = grad_fn(f, sig, &names, &varied, &parts);
        let pullback = pullback_fn(f, sig, &names, &varied, &parts);
        let tangent = tangent_fns(f, &names, &varied, &parts);
        let trace = trace_fn(f, &names, &varied, &parts);
        let graph = graph_fn(sig, &graph::dot(f, &names, &varied, &Default::default()));
        let used = mark_used(sig);
        let declared = slots::declare(sig);
        let checks = slots::check_calls(f, &varied);
        quote!(#grad #pullback #tangent #trace #graph #used #declared #checks)
    })
}

/// Pieces of the signature every generated function repeats.
pub struct Parts {
    pub vis: syn::Visibility,
    pub ty: syn::Ident,
    /// `x1: f64, n: usize` (without `#[constant]` or `mut`).
    pub params: Vec<TokenStream>,
    pub args: Vec<syn::Ident>,
    pub grad_struct: syn::Ident,
    pub name: syn::Ident,
}

impl Parts {
    /// Collects the pieces from a checked signature.
    pub fn new(sig: &Signature) -> Parts {
        let params = sig
            .params
            .iter()
            .map(|p| {
                let (ident, ty) = (&p.ident, &p.ty);
                quote!(#ident: #ty)
            })
            .collect();
        Parts {
            vis: sig.vis.clone(),
            ty: format_ident!("{}", sig.float_ty.name()),
            params,
            args: sig.params.iter().map(|p| p.ident.clone()).collect(),
            grad_struct: format_ident!("{}Grad", camel_case(&sig.name.to_string())),
            name: sig.name.clone(),
        }
    }

    /// The type of the pullback's output for each parameter: the float type
    /// for floats, `Inactive` for other data.
    pub fn adjoint_types(&self, sig: &Signature) -> Vec<TokenStream> {
        let ty = &self.ty;
        sig.params
            .iter()
            .map(|p| {
                if p.float {
                    quote!(#ty)
                } else if p.slice && p.active {
                    quote!(::std::vec::Vec<#ty>)
                } else {
                    quote!(::adjoint::__private::Inactive)
                }
            })
            .collect()
    }
}

/// The parameters of a pullback with every elided reference lifetime named
/// `'__a`, so the returned closure may capture reference arguments
/// (`labels: &[usize]`) it needs in the reverse sweep.
pub fn pullback_params(sig: &Signature) -> (syn::Lifetime, Vec<TokenStream>) {
    let lifetime = syn::Lifetime::new("'__a", proc_macro2::Span::call_site());
    let params = sig
        .params
        .iter()
        .map(|p| {
            let ident = &p.ident;
            let mut ty = p.ty.clone();
            if let syn::Type::Reference(r) = &mut ty {
                if r.lifetime.is_none() {
                    r.lifetime = Some(lifetime.clone());
                }
            }
            quote!(#ident: #ty)
        })
        .collect();
    (lifetime, params)
}

/// `tokens` with every token given `span`: generated code for one of the
/// user's expressions points at it (type errors, and run-time shape errors
/// through the runtime's `#[track_caller]` ops).
pub fn respan(tokens: TokenStream, span: proc_macro2::Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|tt| match tt {
            proc_macro2::TokenTree::Group(g) => {
                let mut group = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                proc_macro2::TokenTree::Group(group)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}

/// `lint` attributes for generated functions: their locals follow the
/// compiler's numbering, not the user's style.
pub fn allow_lints() -> TokenStream {
    quote!(#[allow(dead_code, unused_variables, unused_mut, unused_parens, non_snake_case, clippy::all)])
}

/// Marks the user's function as used: its derivatives are generated from it,
/// so calling only `NAME_grad` should not warn that `NAME` is dead code.
pub fn mark_used(sig: &Signature) -> TokenStream {
    let name = &sig.name;
    let tys = sig.params.iter().map(|p| &p.ty);
    let ty = format_ident!("{}", sig.float_ty.name());
    let out = if sig.returns_tensor {
        quote!(::adjoint::Tensor<#ty>)
    } else {
        quote!(#ty)
    };
    quote!(const _: fn(#(#tys),*) -> #out = #name;)
}

/// What a scalar function's gradient struct derives: a slice's gradient is
/// a `Vec`, so the struct is then not `Copy`.
pub fn grad_derives(sig: &Signature) -> TokenStream {
    if sig.active().any(|p| p.slice) {
        quote!(#[derive(Debug, Clone, PartialEq)])
    } else {
        quote!(#[derive(Debug, Clone, Copy, PartialEq)])
    }
}

fn camel_case(name: &str) -> String {
    name.split('_')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut c = s.chars();
            match c.next() {
                Some(first) => first.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// The adjoint of each parameter at the end of a reverse sweep.
fn param_adjoints(
    f: &Function,
    sig: &Signature,
    names: &Names,
    sweep: &reverse::ReverseSweep,
) -> Vec<TokenStream> {
    f.params
        .iter()
        .zip(&sig.params)
        .map(|(p, sp)| {
            // An active slice's adjoint always exists (zero-filled).
            if (p.slice && p.active) || sweep.initialised.contains(&p.value) {
                let bar = names.bar(p.value);
                quote!(#bar)
            } else if sp.float {
                quote!(0.0)
            } else {
                quote!(::adjoint::__private::Inactive)
            }
        })
        .collect()
}

/// The adjoints of the active slice arguments, zero-filled before the
/// reverse sweep scatters into them (`x_bar[k] += ...`).
fn slice_bars(f: &Function, names: &Names) -> TokenStream {
    let ty = format_ident!("{}", f.float_ty.name());
    f.params
        .iter()
        .filter(|p| p.slice && p.active)
        .map(|p| {
            let (x, bar) = (&p.ident, names.bar(p.value));
            quote!(let mut #bar: ::std::vec::Vec<#ty> = ::std::vec![0.0; #x.len()];)
        })
        .collect()
}

/// The number of trace inputs: one per active float, one per element of an
/// active slice.
fn trace_input_count(f: &Function) -> TokenStream {
    let floats = f.params.iter().filter(|p| p.active && !p.slice).count();
    let slices = f
        .params
        .iter()
        .filter(|p| p.active && p.slice)
        .map(|p| &p.ident);
    quote!(#floats #(+ #slices.len())*)
}

/// Records the active arguments as trace inputs (`x[0]`, `x[1]`, ... for a
/// slice, whose numbers go to `x_n: Vec<i64>`), with their tangents when
/// `tangents`.
fn trace_inputs(f: &Function, names: &Names, tangents: bool) -> TokenStream {
    f.params
        .iter()
        .filter(|p| p.active)
        .map(|p| {
            let (ident, num, dot) = (&p.ident, names.num(p.value), names.dot(p.value));
            let label = ident.to_string();
            if p.slice {
                let tangent = tangents.then(|| {
                    quote! {
                        for (__adjoint_n, __adjoint_d) in #num.iter().zip(#dot.iter()) {
                            __trace.tangent(*__adjoint_n, f64::from(*__adjoint_d));
                        }
                    }
                });
                quote! {
                    let #num: ::std::vec::Vec<i64> = #ident
                        .iter()
                        .enumerate()
                        .map(|(__adjoint_i, __adjoint_x)| {
                            __trace.input(&::std::format!("{}[{}]", #label, __adjoint_i), f64::from(*__adjoint_x))
                        })
                        .collect();
                    #tangent
                }
            } else {
                let tangent = tangents.then(|| quote!(__trace.tangent(#num, f64::from(#dot));));
                quote! {
                    let #num = __trace.input(#label, f64::from(#ident));
                    #tangent
                }
            }
        })
        .collect()
}

fn grad_fn(
    f: &Function,
    sig: &Signature,
    names: &Names,
    varied: &[bool],
    parts: &Parts,
) -> TokenStream {
    let sweep = reverse::reverse_sweep(f, names, varied, false, Sym::lit(1.0));
    let forward = forward::forward_sweep(f, names, varied, &sweep.saves, false);
    let reverse = &sweep.code;
    let adjoints = param_adjoints(f, sig, names, &sweep);
    let bars = slice_bars(f, names);
    let Parts {
        vis,
        ty,
        params,
        grad_struct,
        name,
        ..
    } = parts;
    let field_tys: Vec<TokenStream> = sig
        .active()
        .map(|p| {
            if p.slice {
                quote!(::std::vec::Vec<#ty>)
            } else {
                quote!(#ty)
            }
        })
        .collect();
    let derives = grad_derives(sig);
    let result = names.value(f.result);
    let fields: Vec<_> = sig.active().map(|p| p.ident.clone()).collect();
    let field_values: Vec<_> = sig
        .params
        .iter()
        .zip(&adjoints)
        .filter(|(p, _)| p.active)
        .map(|(_, a)| a.clone())
        .collect();
    let grad_fn = format_ident!("{}_grad", name);
    let struct_doc = format!(
        "Value and gradient of [`{name}`], returned by [`{grad_fn}`]: one field per differentiated argument."
    );
    let fn_doc = format!(
        "Value and gradient of [`{name}`] in one forward and one reverse sweep (generated by `#[differentiable]`)."
    );
    let field_docs = fields.iter().map(|f| format!("∂{name}/∂{f}"));
    let lints = allow_lints();
    quote! {
        #[doc = #struct_doc]
        #derives
        #[allow(dead_code)]
        #vis struct #grad_struct {
            /// The function's value.
            pub value: #ty,
            #(#[doc = #field_docs] pub #fields: #field_tys,)*
        }

        #[doc = #fn_doc]
        #lints
        #vis fn #grad_fn(#(#params),*) -> #grad_struct {
            #forward
            #bars
            #reverse
            #grad_struct { value: #result, #(#fields: #field_values),* }
        }
    }
}

fn pullback_fn(
    f: &Function,
    sig: &Signature,
    names: &Names,
    varied: &[bool],
    parts: &Parts,
) -> TokenStream {
    let seed = format_ident!("__adjoint_seed");
    let sweep = reverse::reverse_sweep(f, names, varied, false, Sym::local(&seed));
    let forward = forward::forward_sweep(f, names, varied, &sweep.saves, false);
    let reverse = &sweep.code;
    let adjoints = param_adjoints(f, sig, names, &sweep);
    let bars = slice_bars(f, names);
    let types = parts.adjoint_types(sig);
    let Parts {
        vis,
        ty,
        params,
        name,
        ..
    } = parts;
    let fn_name = format_ident!("__{}_pullback", name);
    let result = names.value(f.result);
    let lints = allow_lints();
    // The closure may capture reference arguments (a slice whose elements
    // the reverse sweep re-reads) or a callee's pullback that does: it is
    // tied to the arguments' lifetime.
    let captures_refs = sig
        .params
        .iter()
        .any(|p| matches!(p.ty, syn::Type::Reference(_)));
    let (lifetime, params, bound) = if captures_refs {
        let (lifetime, params) = pullback_params(sig);
        (quote!(<#lifetime>), params, quote!(+ #lifetime))
    } else {
        (quote!(), params.clone(), quote!())
    };
    slots::associated(
        name,
        quote! {
            /// The value and the pullback (vector-Jacobian product) of the
            /// function: what a calling `#[differentiable]` function composes with.
            #[doc(hidden)]
            #lints
            #vis fn #fn_name #lifetime(#(#params),*) -> (#ty, impl FnOnce(#ty) -> (#(#types,)*) #bound) {
                #forward
                #bars
                (#result, move |#seed: #ty| {
                    #reverse
                    (#(#adjoints,)*)
                })
            }
        },
    )
}

fn tangent_fns(f: &Function, names: &Names, varied: &[bool], parts: &Parts) -> TokenStream {
    let body = tangent::tangent_body(f, names, varied, false);
    let trace_body = tangent::tangent_body(f, names, varied, true);
    let Parts {
        vis,
        ty,
        params,
        args,
        name,
        ..
    } = parts;
    let jvp = format_ident!("{}_jvp", name);
    let jvp_trace = format_ident!("{}_jvp_trace", name);
    let count = trace_input_count(f);
    let inputs = trace_inputs(f, names, true);
    let jvp_trace_doc = format!(
        "Forward mode, traced: the evaluation trace of [`{name}`] with the tangent `v̇_i` of every \
         intermediate along the given tangents; print it with `{{}}`."
    );
    let hidden = format_ident!("__{}_tangent", name);
    let marker = slots::marker(name);
    let active_dots: Vec<_> = f
        .params
        .iter()
        .filter(|p| p.active)
        .map(|p| names.dot(p.value))
        .collect();
    // A slice's tangent is a slice of the same length.
    let dot_ty = |p: &crate::ir::Param| {
        if p.slice {
            quote!(&[#ty])
        } else {
            quote!(#ty)
        }
    };
    let active_dot_tys: Vec<_> = f.params.iter().filter(|p| p.active).map(dot_ty).collect();
    // The composable form takes any `SliceTangent` for a slice: a caller
    // passes `()` for a slice that does not vary.
    let all_dots: Vec<TokenStream> = f
        .params
        .iter()
        .map(|p| {
            let d = names.dot(p.value);
            match (p.active, p.slice) {
                (true, true) => {
                    quote!(#d: impl ::adjoint::__private::SliceTangent<#ty> + ::core::marker::Copy)
                }
                (true, false) => quote!(#d: #ty),
                (false, _) => quote!(#d: impl Sized),
            }
        })
        .collect();
    let length_checks: Vec<TokenStream> = f
        .params
        .iter()
        .filter(|p| p.active && p.slice)
        .map(|p| {
            let (x, d) = (&p.ident, names.dot(p.value));
            let message = format!("the tangent `{d}` must have one entry per element of `{x}`");
            quote!(::core::assert_eq!(#d.len(), #x.len(), #message);)
        })
        .collect();
    let dot_args: Vec<_> = f.params.iter().map(|p| names.dot(p.value)).collect();
    let doc = format!(
        "Forward mode: the value of [`{name}`] and its directional derivative along the given \
         tangents of the differentiated arguments (`{}`), in one sweep.",
        active_dots
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let constant_dots: Vec<_> = f
        .params
        .iter()
        .filter(|p| !p.active)
        .map(|p| names.dot(p.value))
        .collect();
    let lints = allow_lints();
    quote! {
        #[doc = #doc]
        #lints
        #vis fn #jvp(#(#params,)* #(#active_dots: #active_dot_tys),*) -> (#ty, #ty) {
            #(#length_checks)*
            #(let #constant_dots = ();)*
            #marker::#hidden(#(#args,)* #(#dot_args),*)
        }

        #[doc = #jvp_trace_doc]
        #lints
        #vis fn #jvp_trace(#(#params,)* #(#active_dots: #active_dot_tys),*) -> ::adjoint::Trace {
            #(#length_checks)*
            #(let #constant_dots = ();)*
            let mut __trace = ::adjoint::Trace::new(#count);
            #inputs
            let _ = { #trace_body };
            __trace
        }

        impl #marker {
            /// Forward mode with a tangent slot for every argument (ignored for
            /// constants): what a calling `#[differentiable]` function composes with.
            #[doc(hidden)]
            #lints
            #vis fn #hidden(#(#params,)* #(#all_dots),*) -> (#ty, #ty) {
                #body
            }
        }
    }
}

fn trace_fn(f: &Function, names: &Names, varied: &[bool], parts: &Parts) -> TokenStream {
    let sweep = reverse::reverse_sweep(f, names, varied, true, Sym::lit(1.0));
    let forward = forward::forward_sweep(f, names, varied, &sweep.saves, true);
    let reverse = &sweep.code;
    let Parts {
        vis, params, name, ..
    } = parts;
    let active: Vec<_> = f.params.iter().filter(|p| p.active).collect();
    let count = trace_input_count(f);
    let inputs = trace_inputs(f, names, false);
    let bars = slice_bars(f, names);
    let finals = active.iter().rev().map(|p| {
        let num = names.num(p.value);
        if p.slice {
            let bar = names.bar(p.value);
            quote! {
                for (__adjoint_n, __adjoint_b) in #num.iter().zip(#bar.iter()).rev() {
                    __trace.adjoint(*__adjoint_n, f64::from(*__adjoint_b));
                }
            }
        } else if sweep.initialised.contains(&p.value) {
            let bar = names.bar(p.value);
            quote!(__trace.adjoint(#num, f64::from(#bar));)
        } else {
            quote!(__trace.adjoint(#num, 0.0);)
        }
    });
    let fn_name = format_ident!("{}_trace", name);
    let doc = format!(
        "The evaluation trace (v_-n..v_k with every elementary operation) and the reverse trace of \
         adjoints of [`{name}`] at the given point, numbered as in Griewank & Walther; print it with `{{}}`."
    );
    let lints = allow_lints();
    quote! {
        #[doc = #doc]
        #lints
        #vis fn #fn_name(#(#params),*) -> ::adjoint::Trace {
            let mut __trace = ::adjoint::Trace::new(#count);
            #inputs
            #forward
            #bars
            #reverse
            #(#finals)*
            __trace
        }
    }
}

pub fn graph_fn(sig: &Signature, dot: &str) -> TokenStream {
    let vis = &sig.vis;
    let name = format_ident!("{}_graph", sig.name);
    let doc = format!(
        "The computation graph of [`{}`] as the compiler built it, in Graphviz DOT \
         (render with `dot -Tsvg`).",
        sig.name
    );
    quote! {
        #[doc = #doc]
        #[allow(dead_code)]
        #vis fn #name() -> &'static str {
            #dot
        }
    }
}
