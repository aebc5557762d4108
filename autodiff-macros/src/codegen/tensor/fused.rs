//! The code of a fused element-wise region (`TensorOp::Fused`): one call of
//! the runtime's region driver per sweep, its closure body printed from the
//! scalar rule table by `region::Region` through the Rust printer.
//!
//! - forward: `fused::map(name, [&x0, …], |[x0, …]| value)`;
//! - reverse: `fused::map_backward(name, [Value(&x0) | Shape(&x0_shape), …],
//!   y, &g, needs, |[x0, …], y, g| [dx0, …])`, passing only what the
//!   printed adjoint reads;
//! - forward mode: `fused::map(&REGIONS[i].host_only(), [&x0, …, &dx0, …],
//!   |…| tangent)` (the region's CUDA C is its forward and adjoint, not this).
//!
//! Every operand is a closure parameter in the forward and the reverse, so
//! the operands line up with the region's CUDA C: a scalar operand (never
//! active: the fusion pass leaves ops with a varying scalar alone) is
//! passed as a 0-d tensor on the first tensor operand's device. In forward
//! mode scalars are read from the enclosing code.

use super::{shape_ident, Line, Reverse, TensorGen};
use crate::ir::{Kind, ValueId};
use crate::region::rust::RustPrinter;
use crate::region::Region;
use crate::sym::Sym;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

impl TensorGen<'_> {
    fn region(&self, id: usize) -> &Region {
        &self.f.regions[id]
    }

    /// The region's `Kernel` (name and CUDA C), a constant of the
    /// function's marker type (see [`region_consts`]).
    fn kernel(&self, id: usize) -> TokenStream {
        let marker = crate::codegen::slots::marker(&self.sig.name);
        let id = proc_macro2::Literal::usize_unsuffixed(id);
        quote!(&<#marker>::REGIONS[#id])
    }

    /// The region's `Kernel` without its CUDA C, for forward mode's map.
    fn host_kernel(&self, id: usize) -> TokenStream {
        let marker = crate::codegen::slots::marker(&self.sig.name);
        let id = proc_macro2::Literal::usize_unsuffixed(id);
        quote!(&<#marker>::REGIONS[#id].host_only())
    }

    /// Which operands of a region are tensors (closure parameters).
    fn tensor_operands(&self, args: &[ValueId]) -> Vec<usize> {
        (0..args.len())
            .filter(|&i| self.f.kind(args[i]) == Kind::Tensor)
            .collect()
    }

    /// The operands as the printer sees them: every operand as parameter
    /// `__x{i}`, or (`scalars_inline`, forward mode) scalars as the
    /// enclosing code's locals.
    fn region_inputs(&self, args: &[ValueId], scalars_inline: bool) -> Vec<Sym> {
        args.iter()
            .enumerate()
            .map(|(i, a)| {
                if scalars_inline && self.f.kind(*a) != Kind::Tensor {
                    Sym::value(*a, self.names.value(*a))
                } else {
                    Sym::value(param_id(i), &param(i))
                }
            })
            .collect()
    }

    /// Operand `i` as the drivers take it: a tensor by reference, a scalar
    /// as a 0-d tensor on the device of the region's first tensor operand.
    fn operand_ref(&self, args: &[ValueId], i: usize) -> TokenStream {
        let x = self.names.value(args[i]);
        if self.f.kind(args[i]) == Kind::Tensor {
            return quote!(&#x);
        }
        let like = self.tensor_operands(args)[0];
        let like = self.names.value(args[like]);
        let ty = &self.ty;
        quote!(&::adjoint::Tensor::<#ty>::scalar_like(&#like, #x))
    }

    /// `let v = fused::map(…);`
    pub(super) fn fused_forward(&self, value: ValueId, id: usize, args: &[ValueId]) -> TokenStream {
        let region = self.region(id);
        let mut printer = RustPrinter::new(&self.ty);
        let out = region.print_forward(&mut printer, &self.region_inputs(args, false));
        let (body, read) = printer.finish(&[&out], out.tokens().clone());
        let operands = (0..args.len()).map(|i| self.operand_ref(args, i));
        let params = (0..args.len()).map(|i| {
            if read.contains(&param_id(i)) {
                let p = param(i);
                quote!(#p)
            } else {
                quote!(_)
            }
        });
        let (ty, n, name) = (&self.ty, arity(args.len()), self.kernel(id));
        let v = self.names.value(value);
        quote! {
            let #v = ::adjoint::__private::ops::fused::map(#name, [#(#operands),*], |[#(#params),*]: [#ty; #n]| #body);
        }
    }

    /// The adjoint of a region: one `map_backward` giving every active
    /// tensor operand's contribution.
    pub(super) fn fused_reverse(
        &self,
        rev: &mut Reverse,
        value: ValueId,
        id: usize,
        args: &[ValueId],
    ) {
        let region = self.region(id);
        let needed: Vec<bool> = args
            .iter()
            .map(|a| self.f.kind(*a) == Kind::Tensor && self.is_active(*a))
            .collect();
        if !needed.iter().any(|n| *n) {
            return;
        }
        let mut printer = RustPrinter::new(&self.ty);
        let (y, g) = (format_ident!("__y"), format_ident!("__g"));
        let adjoints = region.print_adjoint(
            &mut printer,
            &self.region_inputs(args, false),
            &Sym::value(VALUE_ID, &y),
            &Sym::local(&g),
            &needed,
        );
        let results: Vec<TokenStream> = adjoints
            .iter()
            .map(|a| match a {
                Some(a) => a.tokens().clone(),
                None => quote!(0.0),
            })
            .collect();
        let live: Vec<&Sym> = adjoints.iter().flatten().collect();
        let (body, read) = printer.finish(&live, quote!([#(#results),*]));
        let reads: Vec<bool> = (0..args.len())
            .map(|i| read.contains(&param_id(i)))
            .collect();
        let reads_value = read.contains(&VALUE_ID);
        let v = self.names.value(value);
        let operands = (0..args.len()).map(|i| {
            let tensor = self.f.kind(args[i]) == Kind::Tensor;
            if reads[i] {
                let x = self.operand_ref(args, i);
                quote!(::adjoint::__private::ops::fused::Operand::Value(#x))
            } else if tensor {
                let s = shape_ident(self.names.value(args[i]));
                quote!(::adjoint::__private::ops::fused::Operand::Shape(&#s))
            } else {
                quote!(::adjoint::__private::ops::fused::Operand::Shape(&[]))
            }
        });
        let params = (0..args.len()).map(|i| {
            if reads[i] {
                let p = param(i);
                quote!(#p)
            } else {
                quote!(_)
            }
        });
        let y_param = if reads_value { quote!(#y) } else { quote!(_) };
        let y_arg = if reads_value {
            quote!(::core::option::Option::Some(&#v))
        } else {
            quote!(::core::option::Option::None)
        };
        let needs = needed.iter();
        let d = |i: usize| format_ident!("{}_d{}", v, i);
        let patterns = (0..args.len()).map(|i| {
            if needed[i] {
                let d = d(i);
                quote!(::core::option::Option::Some(#d))
            } else {
                quote!(_)
            }
        });
        let bar = self.names.bar(value);
        let (ty, n, name) = (&self.ty, arity(args.len()), self.kernel(id));
        let line = quote! {
            let [#(#patterns),*] = ::adjoint::__private::ops::fused::map_backward(
                #name,
                [#(#operands),*],
                #y_arg,
                &#bar,
                [#(#needs),*],
                |[#(#params),*]: [#ty; #n], #y_param: #ty, #g: #ty| #body,
            ) else {
                ::core::unreachable!("adjoint internal error: a fused region returned no gradient")
            };
        };
        let line = crate::codegen::respan(line, self.names.at(self.f.span(value)));
        rev.lines.push(Line::new(line));
        for i in 0..args.len() {
            if needed[i] {
                let d = d(i);
                self.contribute(rev, args[i], quote!(#d));
            }
        }
    }

    /// The tangent of a region: one `map` over the operands and the tangents
    /// of the varying ones.
    pub(super) fn fused_tangent(&self, id: usize, args: &[ValueId]) -> TokenStream {
        let region = self.region(id);
        let tensors = self.tensor_operands(args);
        let varying: Vec<usize> = tensors
            .iter()
            .copied()
            .filter(|i| self.is_active(args[*i]))
            .collect();
        let tangents: Vec<Option<Sym>> = (0..args.len())
            .map(|i| {
                varying
                    .contains(&i)
                    .then(|| Sym::value(tangent_id(i), &tangent_param(i)))
            })
            .collect();
        let mut printer = RustPrinter::new(&self.ty);
        let dot = region.print_tangent(&mut printer, &self.region_inputs(args, true), &tangents);
        let (body, read) = printer.finish(&[&dot], dot.tokens().clone());
        let operands = tensors
            .iter()
            .map(|i| self.names.value(args[*i]).clone())
            .chain(varying.iter().map(|i| self.names.dot(args[*i])));
        let unless_unread = |id: ValueId, ident: syn::Ident| {
            if read.contains(&id) {
                quote!(#ident)
            } else {
                quote!(_)
            }
        };
        let params = tensors
            .iter()
            .map(|i| unless_unread(param_id(*i), param(*i)))
            .chain(
                varying
                    .iter()
                    .map(|i| unless_unread(tangent_id(*i), tangent_param(*i))),
            );
        let (ty, n, name) = (
            &self.ty,
            arity(tensors.len() + varying.len()),
            self.host_kernel(id),
        );
        quote! {
            ::adjoint::__private::ops::fused::map(#name, [#(&#operands),*], |[#(#params),*]: [#ty; #n]| #body)
        }
    }
}

/// The ids the printer tracks closure parameters by (bound locals count
/// down from `usize::MAX`, SSA values up from 0).
const VALUE_ID: ValueId = ValueId(usize::MAX / 2);

fn param_id(i: usize) -> ValueId {
    ValueId(usize::MAX / 2 + 1 + i)
}

fn tangent_id(i: usize) -> ValueId {
    ValueId(usize::MAX / 4 + i)
}

/// An array length as written in code (`2`, not `2usize`).
fn arity(n: usize) -> proc_macro2::Literal {
    proc_macro2::Literal::usize_unsuffixed(n)
}

/// The closure parameter of tensor operand `i`.
fn param(i: usize) -> syn::Ident {
    format_ident!("__x{}", i)
}

/// The closure parameter of tensor operand `i`'s tangent.
fn tangent_param(i: usize) -> syn::Ident {
    format_ident!("__t{}", i)
}

/// `impl __NAME_adjoint { pub const REGIONS: &[Kernel] = &[...]; }`: every
/// fused region of the function, named as written and printed as CUDA C.
pub(super) fn region_consts(
    f: &crate::ir::Function,
    sig: &crate::signature::Signature,
) -> TokenStream {
    if f.regions.is_empty() {
        return quote!();
    }
    let marker = crate::codegen::slots::marker(&sig.name);
    let kernels = f.regions.iter().map(|r| {
        let (name, cuda) = (r.describe(), crate::region::cuda::region_source(r));
        let inputs = proc_macro2::Literal::usize_unsuffixed(r.inputs);
        quote!(::adjoint::__private::ops::fused::Kernel { name: #name, inputs: #inputs, cuda: #cuda })
    });
    quote! {
        impl #marker {
            #[doc(hidden)]
            pub const REGIONS: &'static [::adjoint::__private::ops::fused::Kernel] = &[#(#kernels),*];
        }
    }
}
