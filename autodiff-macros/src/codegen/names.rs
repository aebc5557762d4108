//! The Rust names generated code gives values and their adjoints, tangents,
//! trace numbers and pullbacks.
//!
//! Float values are numbered `v1, v2, ...` in program order, so that for
//! straight-line code the names match the evaluation trace; arguments keep
//! their own names; other (integer, boolean) values are `k1, k2, ...`.
//!
//! Generated names resolve where the user's code does (the hygiene of the
//! first argument, which the body refers to; see [`Names::at`]): tensor
//! codegen gives the code of each user expression that expression's span,
//! and the locals it mentions must be the ones the code around it declares,
//! also when a `macro_rules!` writes the function around a body its caller
//! passes in.

use crate::ir::{parse_placeholder, walk_stmts, Function, Kind, Stmt, ValueId};
use proc_macro2::{Span, TokenStream, TokenTree};
use quote::format_ident;
use syn::Ident;

/// Whether an argument's name has the shape of a generated name (`v3`,
/// `k2`, `x_bar`, ...), in which case generated names get a prefix.
fn could_clash(name: &str) -> bool {
    let numbered = |s: &str| {
        let digits = s.get(1..).unwrap_or("");
        (s.starts_with('v') || s.starts_with('k'))
            && !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit())
    };
    numbered(name)
        || ["_bar", "_dot", "_n", "_pb", "_carry", "_jac"]
            .iter()
            .any(|s| name.ends_with(s))
        || name.starts_with("t_")
        || name
            .rsplit_once("_d")
            .is_some_and(|(_, d)| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
}

/// Names of every value of one function.
pub struct Names {
    idents: Vec<Ident>,
    /// The hygiene of the user's code: its first argument's (which the body
    /// refers to), or the macro's call site for a function without one.
    hygiene: Span,
    /// When some argument's own name could collide with a generated one,
    /// names derived from argument `i` become `__a{i}_bar` instead of `x_bar`.
    param_prefix: Vec<Option<String>>,
}

impl Names {
    /// Numbers the values of `f` in program order.
    pub fn new(f: &Function) -> Names {
        let clash = f.params.iter().any(|p| could_clash(&p.ident.to_string()));
        let prefix = if clash { "t_" } else { "" };
        let hygiene = f
            .params
            .first()
            .map_or_else(Span::call_site, |p| p.ident.span());
        let span = Span::call_site().resolved_at(hygiene);
        let mut idents: Vec<Option<Ident>> = vec![None; f.values.len()];
        for p in &f.params {
            idents[p.value.0] = Some(p.ident.clone());
        }
        let (mut floats, mut others) = (0usize, 0usize);
        let mut name = |v: ValueId, idents: &mut Vec<Option<Ident>>| {
            if idents[v.0].is_some() {
                return;
            }
            let ident = if matches!(f.kind(v), Kind::Float | Kind::Tensor) {
                floats += 1;
                format_ident!("{}v{}", prefix, floats, span = span)
            } else {
                others += 1;
                format_ident!("{}k{}", prefix, others, span = span)
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
            Stmt::Loop { trips, carried, .. } => {
                carried.iter().for_each(|c| name(c.phi, &mut idents));
                carried.iter().for_each(|c| name(c.out, &mut idents));
                name(*trips, &mut idents);
            }
        });
        let idents = idents
            .into_iter()
            .enumerate()
            .map(|(i, n)| n.unwrap_or_else(|| format_ident!("{}u{}", prefix, i, span = span)))
            .collect();
        let mut param_prefix = vec![None; f.values.len()];
        if clash {
            for (i, p) in f.params.iter().enumerate() {
                param_prefix[p.value.0] = Some(format!("__a{i}_"));
            }
        }
        Names {
            idents,
            hygiene,
            param_prefix,
        }
    }

    /// `location` resolving where generated names do: generated code for a
    /// user's expression spanned so keeps the expression's location (type
    /// errors, `#[track_caller]` shape errors) and sees the locals around it.
    pub fn at(&self, location: Span) -> Span {
        location.resolved_at(self.hygiene)
    }

    fn derived(&self, v: ValueId, suffix: &str) -> Ident {
        match &self.param_prefix[v.0] {
            Some(prefix) => {
                format_ident!("{}{}", prefix, suffix, span = self.at(Span::call_site()))
            }
            None => format_ident!("{}_{}", self.idents[v.0], suffix),
        }
    }

    /// The value's own name.
    pub fn value(&self, v: ValueId) -> &Ident {
        &self.idents[v.0]
    }

    /// Its adjoint: `v3_bar`.
    pub fn bar(&self, v: ValueId) -> Ident {
        self.derived(v, "bar")
    }

    /// Its tangent: `v3_dot`.
    pub fn dot(&self, v: ValueId) -> Ident {
        self.derived(v, "dot")
    }

    /// Its number in a trace: `v3_n`.
    pub fn num(&self, v: ValueId) -> Ident {
        self.derived(v, "n")
    }

    /// The pullback of the call that defined it: `v3_pb`.
    pub fn pullback(&self, v: ValueId) -> Ident {
        self.derived(v, "pb")
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
