//! The reverse (adjoint) sweep.
//!
//! Regions are walked backwards. Each value's adjoint is declared with `let`
//! at its first contribution and accumulated with `+=` only where the value
//! has several uses; a value whose adjoint received no contribution is dead
//! and its rule is skipped. A nested region (a branch or a loop body) pops
//! the values it needs from the storage its forward sweep pushed them to:
//! this pass also decides that save set, which the forward sweep then uses.

use crate::codegen::names::Names;
use crate::ir::{parse_placeholder, Carried, Function, Kind, Op, Region, RegionId, Stmt, ValueId};
use crate::rules::{adjoint, has_adjoint};
use crate::sym::Sym;
use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::{format_ident, quote};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Something the reverse sweep reads that the forward sweep computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Item {
    /// A value.
    Value(ValueId),
    /// The pullback closure of a call.
    Pullback(ValueId),
    /// A value's number in a trace.
    Number(ValueId),
}

impl Item {
    /// The local the item lives in.
    pub fn ident(&self, names: &Names) -> syn::Ident {
        match *self {
            Item::Value(v) => names.value(v).clone(),
            Item::Pullback(v) => names.pullback(v),
            Item::Number(v) => names.num(v),
        }
    }
}

/// The name of the storage a nested region saves to.
pub fn storage_ident(region: RegionId) -> syn::Ident {
    format_ident!("__save_{}", region.0)
}

/// The reverse sweep of a function, and what each nested region saves.
pub struct ReverseSweep {
    pub code: TokenStream,
    /// The params whose adjoint local exists at the end of `code`.
    pub initialised: HashSet<ValueId>,

    pub saves: HashMap<RegionId, Vec<Item>>,
}

/// Generates the reverse sweep seeded with `seed` as the result's adjoint.
pub fn reverse_sweep(
    f: &Function,
    names: &Names,
    varied: &[bool],
    trace: bool,
    seed: Sym,
) -> ReverseSweep {
    // Run twice: the first run finds which adjoints are accumulated into
    // (emission does not depend on `mut`), so the second declares only those
    // `mut`.
    let run = |mutable: &HashSet<ValueId>| {
        let mut emitter = Emitter {
            f,
            names,
            varied,
            trace,
            float_ty: format_ident!("{}", f.float_ty.name()),
            mutable,
            accumulated: HashSet::new(),
            saves: HashMap::new(),
        };
        let top_defined: Vec<ValueId> = f.params.iter().map(|p| p.value).collect();
        let state = emitter.region(&f.body, &top_defined, vec![(f.result, seed.clone())], &[]);
        (state, emitter.accumulated, emitter.saves)
    };
    let (_, accumulated, _) = run(&HashSet::new());
    let (state, _, saves) = run(&accumulated);
    ReverseSweep {
        code: state.code.into_iter().collect(),
        initialised: state.init,
        saves,
    }
}

struct Emitter<'a> {
    f: &'a Function,
    names: &'a Names,
    varied: &'a [bool],
    trace: bool,
    float_ty: syn::Ident,
    mutable: &'a HashSet<ValueId>,
    accumulated: HashSet<ValueId>,
    saves: HashMap<RegionId, Vec<Item>>,
}

/// The reverse sweep of one region while it is being generated.
struct RegionState {
    defined: HashSet<ValueId>,
    init: HashSet<ValueId>,
    reads: BTreeSet<Item>,
    /// Values defined outside the region that it contributes adjoints to.
    outer: BTreeSet<ValueId>,
    /// The slices whose adjoint the region's code has scattered into.
    scattered: HashSet<ValueId>,
    code: Vec<TokenStream>,
}

impl Emitter<'_> {
    fn is_active(&self, v: ValueId) -> bool {
        self.varied[v.0] && self.f.kind(v) == Kind::Float
    }

    fn region(
        &mut self,
        region: &Region,
        extra_defined: &[ValueId],
        seeds: Vec<(ValueId, Sym)>,
        finish: &[(syn::Ident, ValueId)],
    ) -> RegionState {
        let mut defined: HashSet<ValueId> = extra_defined.iter().copied().collect();
        for stmt in &region.stmts {
            match stmt {
                Stmt::Let { value, .. } => {
                    defined.insert(*value);
                }
                Stmt::If { merges, .. } => defined.extend(merges.iter().map(|m| m.out)),
                Stmt::For { carried, .. } => defined.extend(carried.iter().map(|c| c.out)),
                Stmt::Loop { trips, carried, .. } => {
                    defined.extend(carried.iter().map(|c| c.out));
                    defined.insert(*trips);
                }
            }
        }
        let mut st = RegionState {
            defined,
            init: HashSet::new(),
            reads: BTreeSet::new(),
            outer: BTreeSet::new(),
            scattered: HashSet::new(),
            code: Vec::new(),
        };
        for (target, seed) in seeds {
            self.contribute(&mut st, target, seed);
        }
        for stmt in region.stmts.iter().rev() {
            match stmt {
                Stmt::Let { value, op, args } => self.let_stmt(&mut st, *value, op, args),
                Stmt::If {
                    cond,
                    then_region,
                    else_region,
                    merges,
                } => {
                    st.reads.insert(Item::Value(*cond));
                    let cond = self.names.value(*cond);
                    let mut branches = Vec::new();
                    for (branch, then_side) in [(then_region, true), (else_region, false)] {
                        let seeds = merges
                            .iter()
                            .filter(|m| self.is_active(m.out) && st.init.contains(&m.out))
                            .map(|m| {
                                let v = if then_side {
                                    m.then_value
                                } else {
                                    m.else_value
                                };
                                (v, Sym::local(&self.names.bar(m.out)))
                            })
                            .collect();
                        branches.push(self.nested(&mut st, branch, &[], None, seeds, &[]));
                    }
                    let (then_code, else_code) = (&branches[0], &branches[1]);
                    st.code.push(quote! {
                        if #cond { #then_code } else { #else_code }
                    });
                }
                Stmt::For {
                    index,
                    lo,
                    hi,
                    inclusive,
                    carried,
                    body,
                } => {
                    st.reads.insert(Item::Value(*lo));
                    st.reads.insert(Item::Value(*hi));
                    let (lo, hi) = (self.names.value(*lo), self.names.value(*hi));
                    // The index runs backwards: it is known, not saved.
                    let range = if *inclusive {
                        quote!((#lo..=#hi).rev())
                    } else {
                        quote!((#lo..#hi).rev())
                    };
                    self.loop_stmt(&mut st, Some(*index), carried, body, range);
                }
                Stmt::Loop {
                    trips,
                    carried,
                    body,
                    ..
                } => {
                    // The body's adjoint runs as many times as the forward
                    // sweep counted.
                    st.reads.insert(Item::Value(*trips));
                    let trips = self.names.value(*trips);
                    self.loop_stmt(&mut st, None, carried, body, quote!(0..#trips));
                }
            }
        }
        for (slot, phi) in finish {
            let value = if st.init.contains(phi) {
                let bar = self.names.bar(*phi);
                quote!(#bar)
            } else {
                quote!(0.0)
            };
            st.code.push(quote!(#slot = #value;));
        }
        st
    }

    /// The reverse sweep of a loop: the body's adjoint runs once per
    /// forward iteration (`range` of them), the carried adjoints flowing from
    /// each iteration's `next` to its `phi`, then into the initial values.
    fn loop_stmt(
        &mut self,
        st: &mut RegionState,
        index: Option<ValueId>,
        carried: &[Carried],
        body: &Region,
        range: TokenStream,
    ) {
        let active: Vec<_> = carried.iter().filter(|c| self.is_active(c.out)).collect();
        let ty = &self.float_ty;
        let mut slots = Vec::new();
        for c in &active {
            let slot = self.names.bar(c.out);
            let start = if st.init.contains(&c.out) {
                quote!(#slot)
            } else {
                quote!(0.0)
            };
            st.code.push(quote!(let mut #slot: #ty = #start;));
            slots.push((slot, c));
        }
        let mut extra: Vec<ValueId> = index.into_iter().collect();
        extra.extend(carried.iter().map(|c| c.phi));
        let seeds = slots
            .iter()
            .map(|(slot, c)| (c.next, Sym::local(slot)))
            .collect();
        let finish: Vec<_> = slots.iter().map(|(s, c)| (s.clone(), c.phi)).collect();
        let body_code = self.nested(st, body, &extra, index, seeds, &finish);
        let binding = match index {
            Some(index) => {
                let index = self.names.value(index);
                quote!(#index)
            }
            None => quote!(_),
        };
        st.code.push(quote! {
            for #binding in #range { #body_code }
        });
        for (slot, c) in &slots {
            self.contribute(st, c.init, Sym::local(slot));
        }
    }

    /// Generates a nested region's reverse code, records its save set, and
    /// declares in the parent the adjoints it accumulates into.
    ///
    /// What the region's adjoint code reads of the values the region defines
    /// is saved by the forward sweep, except `known` (a loop index the
    /// reverse loop runs through again) and cheap pure values whose operands
    /// are at hand (constants, integer code, slice elements, `+ - *` and
    /// negation), which are recomputed instead.
    fn nested(
        &mut self,
        parent: &mut RegionState,
        region: &Region,
        extra_defined: &[ValueId],
        known: Option<ValueId>,
        seeds: Vec<(ValueId, Sym)>,
        finish: &[(syn::Ident, ValueId)],
    ) -> TokenStream {
        let sub = self.region(region, extra_defined, seeds, finish);
        let lets: HashMap<ValueId, (&Op, &[ValueId])> = region
            .stmts
            .iter()
            .filter_map(|s| match s {
                Stmt::Let { value, op, args } => Some((*value, (op, args.as_slice()))),
                _ => None,
            })
            .collect();
        let mut saved = BTreeSet::new();
        let mut recompute = HashSet::new();
        let mut work: Vec<Item> = sub.reads.iter().copied().collect();
        while let Some(item) = work.pop() {
            match item {
                Item::Value(v) if sub.defined.contains(&v) => {
                    if known == Some(v) || recompute.contains(&v) {
                        continue;
                    }
                    match lets.get(&v) {
                        Some((op, args)) if recomputable(op) => {
                            recompute.insert(v);
                            work.extend(operands(op, args).into_iter().map(Item::Value));
                        }
                        _ => {
                            saved.insert(item);
                        }
                    }
                }
                Item::Value(v) | Item::Pullback(v) | Item::Number(v)
                    if sub.defined.contains(&v) =>
                {
                    saved.insert(item);
                }
                outer => {
                    parent.reads.insert(outer);
                }
            }
        }
        let saved: Vec<Item> = saved.into_iter().collect();
        let recomputed: TokenStream = region
            .stmts
            .iter()
            .filter_map(|s| match s {
                Stmt::Let { value, op, args } if recompute.contains(value) => {
                    Some(self.recompute(*value, op, args))
                }
                _ => None,
            })
            .collect();
        let ty = &self.float_ty;
        for v in &sub.outer {
            if parent.defined.contains(v) {
                if !parent.init.contains(v) {
                    let bar = self.names.bar(*v);
                    parent.code.push(quote!(let mut #bar: #ty = 0.0;));
                    parent.init.insert(*v);
                }
            } else {
                parent.outer.insert(*v);
            }
        }
        let pop = if saved.is_empty() {
            quote!()
        } else {
            let storage = storage_ident(region.id);
            let idents: Vec<_> = saved.iter().map(|i| i.ident(self.names)).collect();
            quote!(let (#(#idents,)*) = #storage.pop();)
        };
        self.saves.insert(region.id, saved);
        let code = &sub.code;
        quote!(#pop #recomputed #(#code)*)
    }

    /// `let v = op(args);` again, in the reverse sweep.
    fn recompute(&self, value: ValueId, op: &Op, args: &[ValueId]) -> TokenStream {
        let v = self.names.value(value);
        let ty = &self.float_ty;
        let arg = |i: usize| self.names.value(args[i]);
        match op {
            Op::Const(tokens) if self.f.kind(value) == Kind::Float => {
                let tokens = self.names.resolve(tokens);
                quote!(let #v: #ty = #tokens;)
            }
            Op::Const(tokens) => {
                let tokens = self.names.resolve(tokens);
                quote!(let #v = #tokens;)
            }
            Op::Index => {
                let (x, k) = (arg(0), arg(1));
                quote!(let #v: #ty = #x[#k];)
            }
            op => {
                let x: Vec<Sym> = args
                    .iter()
                    .map(|a| Sym::value(*a, self.names.value(*a)))
                    .collect();
                let expr = crate::rules::forward(op, &x);
                let tokens = expr.tokens();
                quote!(let #v = #tokens;)
            }
        }
    }

    fn let_stmt(&mut self, st: &mut RegionState, value: ValueId, op: &Op, args: &[ValueId]) {
        if !self.is_active(value) {
            return;
        }
        let bar = self.names.bar(value);
        if self.trace {
            st.reads.insert(Item::Number(value));
            let num = self.names.num(value);
            let adjoint = if st.init.contains(&value) {
                quote!(f64::from(#bar))
            } else {
                quote!(0.0)
            };
            st.code.push(quote!(__trace.adjoint(#num, #adjoint);));
        }
        if !st.init.contains(&value) {
            return;
        }
        if let Op::Index = op {
            // y = x[k]: x̄[k] += ȳ (k saved like any value the sweep reads).
            st.reads.insert(Item::Value(args[1]));
            let (x_bar, k) = (self.names.bar(args[0]), self.names.value(args[1]));
            if !st.scattered.insert(args[0]) {
                // A second scatter into the same slice adjoint: a compiler
                // fence (no instruction) keeps LLVM's SLP vectorizer from
                // packing `x̄[i] += a; x̄[i + 1] += b` into one 16-byte
                // load/store, which the next iteration's overlapping one
                // cannot forward from (3x slower on the 1000-D Rosenbrock).
                st.code.push(quote!(::core::sync::atomic::compiler_fence(
                    ::core::sync::atomic::Ordering::SeqCst
                );));
            }
            st.code.push(quote!(#x_bar[#k] += #bar;));
            return;
        }
        if let Op::Call(_) = op {
            st.reads.insert(Item::Pullback(value));
            let pullback = self.names.pullback(value);
            let slice = |a: &ValueId| self.f.active_slice(*a).is_some();
            let outs: Vec<TokenStream> = args
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    if self.is_active(*a) || slice(a) {
                        let d = format_ident!("{}_d{}", self.names.value(value), i);
                        quote!(#d)
                    } else {
                        quote!(_)
                    }
                })
                .collect();
            st.code.push(quote!(let (#(#outs,)*) = #pullback(#bar);));
            for (i, a) in args.iter().enumerate() {
                let d = format_ident!("{}_d{}", self.names.value(value), i);
                if self.is_active(*a) {
                    self.contribute(st, *a, Sym::local(&d));
                } else if slice(a) {
                    // The callee's adjoint of a slice argument: a Vec.
                    let x_bar = self.names.bar(*a);
                    st.code.push(quote! {
                        for (__adjoint_a, __adjoint_d) in #x_bar.iter_mut().zip(#d) {
                            *__adjoint_a += __adjoint_d;
                        }
                    });
                }
            }
            return;
        }
        let x: Vec<Sym> = args
            .iter()
            .map(|a| Sym::value(*a, self.names.value(*a)))
            .collect();
        let y = Sym::value(value, self.names.value(value));
        let g = Sym::local(&bar);
        for (i, a) in args.iter().enumerate() {
            if self.is_active(*a) && has_adjoint(op, i) {
                let contribution = adjoint(op, &x, &y, &g, i);
                self.contribute(st, *a, contribution);
            }
        }
    }

    fn contribute(&mut self, st: &mut RegionState, target: ValueId, expr: Sym) {
        if !self.is_active(target) {
            return;
        }
        st.reads.extend(expr.reads.iter().map(|v| Item::Value(*v)));
        let bar = self.names.bar(target);
        let tokens = expr.tokens();
        if st.defined.contains(&target) && !st.init.contains(&target) {
            let ty = &self.float_ty;
            let m = if self.mutable.contains(&target) {
                quote!(mut)
            } else {
                quote!()
            };
            st.code.push(quote!(let #m #bar: #ty = #tokens;));
            st.init.insert(target);
        } else {
            match expr.negated() {
                Some(negated) => {
                    let tokens = negated.tokens();
                    st.code.push(quote!(#bar -= #tokens;));
                }
                None => st.code.push(quote!(#bar += #tokens;)),
            }
            self.accumulated.insert(target);
            if !st.defined.contains(&target) {
                st.outer.insert(target);
            }
        }
    }
}

/// Whether the reverse sweep recomputes a value defined by `op` rather than
/// saving it: pure and about as cheap as a load.
fn recomputable(op: &Op) -> bool {
    match op {
        Op::Const(tokens) => cheap_tokens(tokens),
        Op::Index | Op::Add | Op::Sub | Op::Mul | Op::Neg => true,
        _ => false,
    }
}

/// Opaque code without calls: literals, operators, casts, paths, field and
/// index reads, and `len()`/`is_empty()`.
fn cheap_tokens(tokens: &TokenStream) -> bool {
    let mut previous_ident: Option<String> = None;
    for tt in tokens.clone() {
        match &tt {
            TokenTree::Group(g) => {
                if g.delimiter() == Delimiter::Parenthesis {
                    if let Some(name) = &previous_ident {
                        let method = name == "len" || name == "is_empty";
                        if !method || !g.stream().is_empty() {
                            return false;
                        }
                    }
                }
                if !cheap_tokens(&g.stream()) {
                    return false;
                }
            }
            TokenTree::Punct(p)
                if p.as_char() == '!'
                    && p.spacing() == proc_macro2::Spacing::Alone
                    && previous_ident.is_some() =>
            {
                return false; // a macro
            }
            _ => {}
        }
        previous_ident = match tt {
            TokenTree::Ident(i) => Some(i.to_string()),
            _ => None,
        };
    }
    true
}

/// The values an op reads: its arguments, or the placeholders in opaque
/// code.
fn operands(op: &Op, args: &[ValueId]) -> Vec<ValueId> {
    match op {
        Op::Const(tokens) => {
            let mut found = Vec::new();
            placeholders(tokens, &mut found);
            found
        }
        _ => args.to_vec(),
    }
}

fn placeholders(tokens: &TokenStream, found: &mut Vec<ValueId>) {
    for tt in tokens.clone() {
        match tt {
            TokenTree::Ident(i) => found.extend(parse_placeholder(&i)),
            TokenTree::Group(g) => placeholders(&g.stream(), found),
            _ => {}
        }
    }
}
