//! The Rust printer of region bodies: `let` bindings of the float type, then
//! the result; bindings nothing reads are dropped.

use super::Printer;
use crate::ir::ValueId;
use crate::sym::Sym;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use std::collections::BTreeSet;

/// Collects the `let` statements of one closure body.
pub struct RustPrinter {
    ty: syn::Ident,
    bindings: Vec<(syn::Ident, Sym, ValueId)>,
}

impl RustPrinter {
    /// A printer for bodies over the float type `ty` (`f32`, `f64`).
    pub fn new(ty: &syn::Ident) -> Self {
        RustPrinter {
            ty: ty.clone(),
            bindings: Vec::new(),
        }
    }

    /// The block `{ let …; result }` with only the bindings `results` need,
    /// and every value the block reads.
    pub fn finish(self, results: &[&Sym], result: TokenStream) -> (TokenStream, BTreeSet<ValueId>) {
        let mut live: BTreeSet<ValueId> = results
            .iter()
            .flat_map(|r| r.reads.iter().copied())
            .collect();
        let mut kept = Vec::new();
        for (ident, value, id) in self.bindings.into_iter().rev() {
            if live.contains(&id) {
                live.extend(value.reads.iter().copied());
                kept.push((ident, value));
            }
        }
        let ty = &self.ty;
        let lets = kept.iter().rev().map(|(ident, value)| {
            let value = value.tokens();
            quote!(let #ident: #ty = #value;)
        });
        (quote!({ #(#lets)* #result }), live)
    }
}

impl Printer for RustPrinter {
    type Expr = Sym;

    fn bind(&mut self, name: &str, value: Sym) -> Sym {
        // Bound locals get ids counted down from the top, apart from SSA values.
        let id = ValueId(usize::MAX - self.bindings.len());
        let ident = format_ident!("{}", name);
        let local = Sym::value(id, &ident);
        self.bindings.push((ident, value, id));
        local
    }
}
