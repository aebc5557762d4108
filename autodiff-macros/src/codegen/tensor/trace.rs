//! `NAME_trace` and the save-set annotations of the graph.

use super::{shape_ident, TensorGen};
use crate::codegen::{allow_lints, Parts};
use crate::ir::{Kind, Op, ValueId};
use crate::signature::ParamKind;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use std::collections::{HashMap, HashSet};

impl TensorGen<'_> {
    /// What the reverse sweep keeps of each value: `"saved"` (the tensor) or
    /// `"shape saved"`, for the graph.
    pub(super) fn saved_values(&self) -> HashMap<ValueId, &'static str> {
        let seed = if self.sig.returns_tensor {
            quote!(__seed)
        } else {
            quote!(1.0)
        };
        let rev = self.reverse(seed);
        let mentioned: HashSet<&String> =
            rev.lines.iter().flat_map(|l| l.mentions.iter()).collect();
        self.stmts()
            .filter(|(_, op, _)| !matches!(op, Op::Const(_)))
            .filter_map(|(value, _, _)| {
                let ident = self.names.value(value);
                if mentioned.contains(&ident.to_string()) {
                    Some((value, "saved"))
                } else if mentioned.contains(&shape_ident(ident).to_string()) {
                    Some((value, "shape saved"))
                } else {
                    None
                }
            })
            .collect()
    }

    /// `NAME_trace(args)`: runs the forward sweep and reports each value's op,
    /// shape, and what the reverse sweep keeps of it (from the same analysis
    /// that places the `drop`s).
    pub(super) fn trace_fn(&self, parts: &Parts) -> TokenStream {
        let Parts {
            vis, params, name, ..
        } = parts;
        let seed = if self.sig.returns_tensor {
            quote!(__seed)
        } else {
            quote!(1.0)
        };
        let rev = self.reverse(seed);
        let mentioned: HashSet<&String> =
            rev.lines.iter().flat_map(|l| l.mentions.iter()).collect();
        let kept = |ident: &syn::Ident| {
            if mentioned.contains(&ident.to_string()) {
                quote!(::adjoint::__private::Kept::Value)
            } else if mentioned.contains(&shape_ident(ident).to_string()) {
                quote!(::adjoint::__private::Kept::ShapeOnly)
            } else {
                quote!(::adjoint::__private::Kept::Nothing)
            }
        };
        let (forward, _) = self.forward(false, None);
        let tensor_params: Vec<&syn::Ident> = self
            .f
            .params
            .iter()
            .zip(&self.sig.params)
            .filter(|(_, sp)| sp.kind == ParamKind::Tensor)
            .map(|(p, _)| &p.ident)
            .collect();
        let mut body = TokenStream::new();
        let mut lines = forward.into_iter();
        for ident in &tensor_params {
            if let Some(line) = lines.next() {
                body.extend(line.tokens);
            }
            let (label, k) = (ident.to_string(), kept(ident));
            body.extend(quote!(__trace.record(#label, "argument", #ident.shape(), #k);));
        }
        for (stmt, line) in self.f.body.stmts.iter().zip(lines) {
            body.extend(line.tokens);
            // Branches and loops run as they are; their values are not listed.
            let crate::ir::Stmt::Let { value, op, args } = stmt else {
                continue;
            };
            let value = *value;
            if matches!(op, Op::Const(_)) {
                continue;
            }
            let v = self.names.value(value);
            let arg_names: Vec<String> = args
                .iter()
                .map(|a| self.names.value(*a).to_string())
                .collect();
            let expr = match op {
                Op::Field(path) => format!("{}{path}", arg_names[0]),
                Op::Tensor(crate::tensor_rules::TensorOp::Fused(id)) => {
                    format!("fused {}", self.f.regions[*id].describe_with(&arg_names))
                }
                op => {
                    let name = crate::rules::op_name(op);
                    match arg_names.as_slice() {
                        [a, b] if matches!(name.as_str(), "+" | "-" | "*" | "/") => {
                            format!("{a} {name} {b}")
                        }
                        _ => format!("{name}({})", arg_names.join(", ")),
                    }
                }
            };
            let shape = if self.f.kind(value) == Kind::Tensor {
                quote!(#v.shape())
            } else {
                quote!(&[])
            };
            let (label, k) = (v.to_string(), kept(v));
            body.extend(quote!(__trace.record(#label, #expr, #shape, #k);));
        }
        let fn_name = format_ident!("{}_trace", name);
        let doc = format!(
            "Runs [`{name}`] and reports every value it computes: the op, the shape, and what the \
             generated reverse sweep keeps of it (the save set); print it with `{{}}`."
        );
        let lints = allow_lints();
        quote! {
            #[doc = #doc]
            #lints
            #vis fn #fn_name(#(#params),*) -> ::adjoint::TensorTrace {
                let mut __trace = ::adjoint::TensorTrace::new();
                #body
                __trace
            }
        }
    }
}
