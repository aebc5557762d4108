//! The Rust names generated code gives values and their adjoints, tangents,
//! trace numbers and pullbacks.
//!
//! Float values are numbered `v1, v2, ...` in program order, so that for
//! straight-line code the names match the evaluation trace; arguments keep
//! their own names; other (integer, boolean) values are `k1, k2, ...`.

use crate::ir::{parse_placeholder, walk_stmts, Function, Kind, Stmt, ValueId};
use proc_macro2::{TokenStream, TokenTree};
use quote::format_ident;
use syn::Ident;

/// Names of every value of one function.
pub struct Names {
    idents: Vec<Ident>,
}

impl Names {
    /// Numbers the values of `f` in program order.
    pub fn new(f: &Function) -> Names {
        let clash = f.params.iter().any(|p| {
            let s = p.ident.to_string();
            let digits = s.get(1..).unwrap_or("");
            (s.starts_with('v') || s.starts_with('k'))
                && !digits.is_empty()
                && digits.chars().all(|c| c.is_ascii_digit())
        });
        let prefix = if clash { "t_" } else { "" };
        let mut idents: Vec<Option<Ident>> = vec![None; f.values.len()];
        for p in &f.params {
            idents[p.value.0] = Some(p.ident.clone());
        }
        let (mut floats, mut others) = (0usize, 0usize);
        let mut name = |v: ValueId, idents: &mut Vec<Option<Ident>>| {
            if idents[v.0].is_some() {
                return;
            }
            let ident = if f.kind(v) == Kind::Float {
                floats += 1;
                format_ident!("{}v{}", prefix, floats)
            } else {
                others += 1;
                format_ident!("{}k{}", prefix, others)
            };
            idents[v.0] = Some(ident);
        };
        walk_stmts(&f.body, &mut |stmt| match stmt {
            Stmt::Let { value, .. } => name(*value, &mut idents),
            Stmt::If { merges, .. } => merges.iter().for_each(|m| name(m.out, &mut idents)),
            Stmt::For { index, carried, .. } => {
                name(*index, &mut idents);
                carried.iter().for_each(|c| name(c.phi, &mut idents));
                carried.iter().for_each(|c| name(c.out, &mut idents));
            }
        });
        let idents = idents
            .into_iter()
            .enumerate()
            .map(|(i, n)| n.unwrap_or_else(|| format_ident!("{}u{}", prefix, i)))
            .collect();
        Names { idents }
    }

    /// The value's own name.
    pub fn value(&self, v: ValueId) -> &Ident {
        &self.idents[v.0]
    }

    /// Its adjoint: `v3_bar`.
    pub fn bar(&self, v: ValueId) -> Ident {
        format_ident!("{}_bar", self.idents[v.0])
    }

    /// Its tangent: `v3_dot`.
    pub fn dot(&self, v: ValueId) -> Ident {
        format_ident!("{}_dot", self.idents[v.0])
    }

    /// Its number in a trace: `v3_n`.
    pub fn num(&self, v: ValueId) -> Ident {
        format_ident!("{}_n", self.idents[v.0])
    }

    /// The pullback of the call that defined it: `v3_pb`.
    pub fn pullback(&self, v: ValueId) -> Ident {
        format_ident!("{}_pb", self.idents[v.0])
    }

    /// `tokens` with value placeholders replaced by the values' names.
    pub fn resolve(&self, tokens: &TokenStream) -> TokenStream {
        tokens
            .clone()
            .into_iter()
            .map(|tt| match tt {
                TokenTree::Ident(i) => match parse_placeholder(&i) {
                    Some(v) => TokenTree::Ident(self.idents[v.0].clone()),
                    None => TokenTree::Ident(i),
                },
                TokenTree::Group(g) => {
                    let mut group =
                        proc_macro2::Group::new(g.delimiter(), self.resolve(&g.stream()));
                    group.set_span(g.span());
                    TokenTree::Group(group)
                }
                other => other,
            })
            .collect()
    }
}
