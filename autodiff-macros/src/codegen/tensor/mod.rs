//! Code generation for tensor functions (straight-line code over tensors,
//! models and scalars): one forward sweep calling the runtime's kernels and
//! one reverse sweep calling their adjoints.
//!
//! The code is built as a flat list of statements, each with the names it
//! mentions; a last-use pass then inserts `drop` after the last statement
//! that reads a tensor, so the forward sweep keeps alive only the tensors the
//! reverse sweep reads (the save set), and each is freed as soon as its
//! adjoint rule has run.

use crate::codegen::names::Names;
use crate::codegen::{mark_used, Parts};
use crate::ir::{Carried, Function, Kind, Merge, Op, Region, RegionId, Stmt, ValueId};
use crate::rules::forward;
use crate::signature::{ParamKind, Signature};
use crate::sym::{with_float_ty, Sym};
use crate::tensor_rules::{self};
use proc_macro2::{TokenStream, TokenTree};
use quote::{format_ident, quote};
use std::collections::{HashMap, HashSet};

mod custom;
mod emit;
mod fused;
mod jvp;
mod reverse;
mod trace;

/// The generated items of a tensor function; with `custom`, its reverse
/// sweep is the user's hand-written backward (forward mode and the trace
/// still come from the body).
pub fn generate(
    f: &Function,
    sig: &Signature,
    custom: Option<&crate::codegen::custom::CustomAdjoint>,
) -> TokenStream {
    with_float_ty(f.float_ty, || {
        let names = Names::new(f);
        let varied = crate::passes::activity::varied(f);
        let parts = Parts::new(sig);
        let gen = TensorGen {
            f,
            sig,
            names: &names,
            varied: &varied,
            ty: format_ident!("{}", f.float_ty.name()),
        };
        let (grad, pullback, saved) = match custom {
            Some(spec) => (
                gen.custom_grad_fn(&parts),
                gen.custom_pullback_fn(&parts, spec),
                Default::default(),
            ),
            None => (
                gen.grad_fn(&parts),
                gen.pullback_fn(&parts),
                gen.saved_values(),
            ),
        };
        let trace = gen.trace_fn(&parts);
        let jvp = gen.jvp_fns(&parts);
        let graph =
            crate::codegen::graph_fn(sig, &crate::codegen::graph::dot(f, &names, &varied, &saved));
        let used = mark_used(sig);
        let declared = crate::codegen::slots::declare(sig);
        let regions = fused::region_consts(f, sig);
        let checks = crate::codegen::slots::check_calls(f, &varied);
        quote!(#grad #pullback #trace #jvp #graph #used #declared #regions #checks)
    })
}

/// How a loop runs: over a range, or until a flag its body sets (`while`,
/// `loop`, `for` with `break`/`continue`), counting its trips.
enum LoopHead {
    Range { index: ValueId, range: TokenStream },
    Exit { trips: ValueId, exit: ValueId },
}

/// The values a region's own statements define (not those of regions
/// nested in it, except their results).
fn region_values(region: &Region) -> Vec<ValueId> {
    region
        .stmts
        .iter()
        .flat_map(|stmt| match stmt {
            Stmt::Let { value, .. } => vec![*value],
            Stmt::For { carried, .. } | Stmt::Loop { carried, .. } => {
                carried.iter().map(|c| c.out).collect()
            }
            Stmt::If { merges, .. } => merges.iter().map(|m| m.out).collect(),
        })
        .collect()
}

/// The stack (loop body) or slot (branch) holding a region's saved tuples.
fn stack_ident(region: RegionId) -> syn::Ident {
    format_ident!("__saved_{}", region.0)
}

/// The extra output of an op's forward that its backward reads
/// (`tensor_rules::has_extra_output`).
fn extra_ident(value: &syn::Ident) -> syn::Ident {
    format_ident!("{}_extra", value)
}

/// The local carrying a loop-carried value (or its adjoint) between iterations.
fn carry_ident(value: &syn::Ident) -> syn::Ident {
    format_ident!("__carry_{}", value)
}

/// A nested region's accumulator for an outer value's adjoint.
fn accumulator_ident(region: RegionId, bar: &syn::Ident) -> syn::Ident {
    format_ident!("__acc{}_{}", region.0, bar)
}

/// `Clone` for a tensor function's gradient struct: models are cloned
/// through `Parameters` (shared storage), so they need not derive `Clone`.
pub fn grad_clone_impl(sig: &Signature, grad_struct: &syn::Ident) -> TokenStream {
    let fields = sig.active().map(|p| {
        let f = &p.ident;
        let value = if p.kind == ParamKind::Model {
            quote!(::adjoint::params::Parameters::map(&self.#f, &mut |__t| ::core::clone::Clone::clone(__t)))
        } else {
            quote!(::core::clone::Clone::clone(&self.#f))
        };
        quote!(#f: #value)
    });
    quote! {
        impl ::core::clone::Clone for #grad_struct {
            fn clone(&self) -> Self {
                Self { value: ::core::clone::Clone::clone(&self.value), #(#fields),* }
            }
        }
    }
}

/// The local holding a tensor's shape for the reverse sweep: `v6_shape`.
fn shape_ident(value: &syn::Ident) -> syn::Ident {
    format_ident!("{}_shape", value)
}

/// Inserts `let v_shape = Placement::of(&v);` (the shape, and the device)
/// right after the definition of every tensor whose shape `reverse`
/// mentions, so the tensor itself can be freed before the reverse sweep
/// when only its shape is needed there.
fn record_shapes(
    forward: Vec<Line>,
    reverse: &[Line],
    defined: &[(usize, syn::Ident)],
) -> Vec<Line> {
    let mentioned: HashSet<String> = reverse
        .iter()
        .flat_map(|l| l.mentions.iter())
        .cloned()
        .collect();
    record_shapes_of(forward, &mentioned, defined)
}

/// [`record_shapes`] given the names the reverse code mentions.
fn record_shapes_of(
    forward: Vec<Line>,
    mentioned: &HashSet<String>,
    defined: &[(usize, syn::Ident)],
) -> Vec<Line> {
    let mut after: HashMap<usize, Vec<&syn::Ident>> = HashMap::new();
    for (line, ident) in defined {
        if mentioned.contains(&shape_ident(ident).to_string()) {
            after.entry(*line).or_default().push(ident);
        }
    }
    let mut out = Vec::new();
    for (i, line) in forward.into_iter().enumerate() {
        out.push(line);
        for ident in after.get(&i).into_iter().flatten() {
            let s = shape_ident(ident);
            out.push(Line::new(
                quote!(let #s = ::adjoint::__private::Placement::of(&#ident);),
            ));
        }
    }
    out
}

/// One generated statement and the names it mentions.
struct Line {
    tokens: TokenStream,
    mentions: HashSet<String>,
}

impl Line {
    fn new(tokens: TokenStream) -> Line {
        let mut mentions = HashSet::new();
        collect_idents(&tokens, &mut mentions);
        Line { tokens, mentions }
    }
}

fn collect_idents(tokens: &TokenStream, out: &mut HashSet<String>) {
    for tt in tokens.clone() {
        match tt {
            TokenTree::Ident(i) => {
                out.insert(i.to_string());
            }
            TokenTree::Group(g) => collect_idents(&g.stream(), out),
            _ => {}
        }
    }
}

struct TensorGen<'a> {
    f: &'a Function,
    sig: &'a Signature,
    names: &'a Names,
    varied: &'a [bool],
    ty: syn::Ident,
}

/// A branch or loop body whose reverse code is being generated.
struct Scope {
    /// Names this region's accumulators (a branch's two sides share them).
    id: RegionId,
    /// The values the region defines (its adjoints are local to it).
    defined: HashSet<ValueId>,
    /// Values defined outside that it contributed to (via accumulators).
    outer: Vec<ValueId>,
}

/// The reverse sweep's bookkeeping.
struct Reverse {
    /// The enclosing nested regions, innermost last.
    scopes: Vec<Scope>,
    /// Each nested region's saved tuple: what its reverse code reads that
    /// its forward code defines, pushed per iteration (or branch taken).
    saves: HashMap<RegionId, Vec<syn::Ident>>,
    lines: Vec<Line>,
    init: HashSet<ValueId>,
    /// Field values of a model parameter: (model value, field path, adjoint).
    fields: Vec<(ValueId, crate::ir::FieldPath, ValueId)>,
    /// Model parameters whose adjoint is accumulated as a whole (passed to a
    /// call).
    whole_models: HashSet<ValueId>,
    /// Adjoints moved into a callee's pullback (never dropped explicitly).
    moved: HashSet<String>,
}

impl TensorGen<'_> {
    fn is_active(&self, v: ValueId) -> bool {
        self.varied[v.0] && self.f.kind(v).is_differentiable()
    }

    fn stmts(&self) -> impl Iterator<Item = (ValueId, &Op, &[ValueId])> {
        self.f.body.stmts.iter().filter_map(|s| match s {
            Stmt::Let { value, op, args } => Some((*value, op, args.as_slice())),
            _ => None,
        })
    }

    /// The forward sweep: tensor parameters are cloned into owned locals
    /// (an `Arc` increment) so every tensor value is used the same way; with
    /// `own_models`, models too (a shallow copy), so that a pullback closure
    /// owns what it captures.
    fn forward(
        &self,
        own_models: bool,
        saves: Option<&HashMap<RegionId, Vec<syn::Ident>>>,
    ) -> (Vec<Line>, Vec<(usize, syn::Ident)>) {
        let mut lines = Vec::new();
        let mut defined = Vec::new();
        for (p, sp) in self.f.params.iter().zip(&self.sig.params) {
            let ident = &p.ident;
            if sp.kind == ParamKind::Tensor {
                lines.push(Line::new(
                    quote!(let #ident = ::core::clone::Clone::clone(#ident);),
                ));
                defined.push((lines.len() - 1, ident.clone()));
            } else if sp.kind == ParamKind::Model && own_models {
                lines.push(Line::new(quote!(
                    let #ident = ::adjoint::params::Parameters::map(#ident, &mut |__t| ::core::clone::Clone::clone(__t));
                )));
            }
        }
        let offset = lines.len();
        let (body, body_defined) = self.region_forward(&self.f.body.stmts, saves);
        lines.extend(body);
        defined.extend(body_defined.into_iter().map(|(i, v)| (i + offset, v)));
        (lines, defined)
    }

    /// The forward code of a region's statements and the tensors each line
    /// defines. With `saves`, each nested region pushes its saved tuple for
    /// the reverse sweep.
    fn region_forward(
        &self,
        stmts: &[Stmt],
        saves: Option<&HashMap<RegionId, Vec<syn::Ident>>>,
    ) -> (Vec<Line>, Vec<(usize, syn::Ident)>) {
        let mut lines = Vec::new();
        let mut defined = Vec::new();
        for stmt in stmts {
            let outs: Vec<ValueId> = match stmt {
                Stmt::Let { value, op, args } => {
                    lines.push(Line::new(self.forward_line(*value, op, args)));
                    vec![*value]
                }
                Stmt::For {
                    index,
                    lo,
                    hi,
                    inclusive,
                    carried,
                    body,
                } => {
                    let head = LoopHead::Range {
                        index: *index,
                        range: self.range(*lo, *hi, *inclusive),
                    };
                    lines.push(Line::new(self.loop_forward(head, carried, body, saves)));
                    carried.iter().map(|c| c.out).collect()
                }
                Stmt::If {
                    cond,
                    then_region,
                    else_region,
                    merges,
                } => {
                    let code = self.if_forward(*cond, then_region, else_region, merges, saves);
                    lines.push(Line::new(code));
                    merges.iter().map(|m| m.out).collect()
                }
                Stmt::Loop {
                    trips,
                    exit,
                    carried,
                    body,
                } => {
                    let head = LoopHead::Exit {
                        trips: *trips,
                        exit: *exit,
                    };
                    lines.push(Line::new(self.loop_forward(head, carried, body, saves)));
                    carried.iter().map(|c| c.out).collect()
                }
            };
            for v in outs {
                if self.f.kind(v) == Kind::Tensor {
                    defined.push((lines.len() - 1, self.names.value(v).clone()));
                }
            }
        }
        (lines, defined)
    }

    fn range(&self, lo: ValueId, hi: ValueId, inclusive: bool) -> TokenStream {
        let (lo, hi) = (self.names.value(lo), self.names.value(hi));
        if inclusive {
            quote!(#lo..=#hi)
        } else {
            quote!(#lo..#hi)
        }
    }

    /// A region's forward code with its shapes recorded, and (with `saves`)
    /// the statement storing its saved tuple with `store`, to run after the
    /// region's results have been taken.
    fn nested_forward(
        &self,
        region: &Region,
        saves: Option<&HashMap<RegionId, Vec<syn::Ident>>>,
        store: impl FnOnce(TokenStream) -> TokenStream,
    ) -> (TokenStream, TokenStream) {
        let (lines, defined) = self.region_forward(&region.stmts, saves);
        let saved = saves.and_then(|s| s.get(&region.id));
        let lines = match saved {
            Some(saved) => {
                let mentioned: HashSet<String> = saved.iter().map(|i| i.to_string()).collect();
                record_shapes_of(lines, &mentioned, &defined)
            }
            None => lines,
        };
        let code: Vec<TokenStream> = lines.into_iter().map(|l| l.tokens).collect();
        let push = match saved {
            Some(saved) => store(quote!((#(#saved,)*))),
            None => quote!(),
        };
        (quote!(#(#code)*), push)
    }

    /// A loop: the carried values move through `__carry` locals; with
    /// `saves`, each iteration pushes its saved tuple on the loop's stack.
    fn loop_forward(
        &self,
        head: LoopHead,
        carried: &[Carried],
        body: &Region,
        saves: Option<&HashMap<RegionId, Vec<syn::Ident>>>,
    ) -> TokenStream {
        let stack = stack_ident(body.id);
        let carries: Vec<syn::Ident> = carried
            .iter()
            .map(|c| carry_ident(self.names.value(c.out)))
            .collect();
        let inits = carried.iter().map(|c| self.names.value(c.init));
        let phis = carried.iter().map(|c| self.names.value(c.phi));
        let nexts = carried.iter().map(|c| self.names.value(c.next));
        let outs = carried.iter().map(|c| self.names.value(c.out));
        let (code, push) = self.nested_forward(body, saves, |tuple| quote!(#stack.push(#tuple);));
        // The carried tensors' shapes, where the body's reverse code needs them.
        let saved: HashSet<String> = saves
            .and_then(|s| s.get(&body.id))
            .map(|s| s.iter().map(|i| i.to_string()).collect())
            .unwrap_or_default();
        let phi_shapes = carried.iter().filter_map(|c| {
            let phi = self.names.value(c.phi);
            let shape = shape_ident(phi);
            saved
                .contains(&shape.to_string())
                .then(|| quote!(let #shape = ::adjoint::__private::Placement::of(&#phi);))
        });
        let declare = if saves.is_some() {
            quote!(let mut #stack = ::std::vec::Vec::new();)
        } else {
            quote!()
        };
        let iteration = quote! {
            #(let #phis = #carries;)*
            #(#phi_shapes)*
            #code
            #(#carries = ::core::clone::Clone::clone(&#nexts);)*
            #push
        };
        let run = match head {
            LoopHead::Range { index, range } => {
                let i = self.names.value(index);
                quote!(for #i in #range { #iteration })
            }
            LoopHead::Exit { trips, exit } => {
                let (trips, exit) = (self.names.value(trips), self.names.value(exit));
                quote! {
                    let mut #trips: usize = 0;
                    loop {
                        #iteration
                        #trips += 1;
                        if #exit {
                            break;
                        }
                    }
                }
            }
        };
        quote! {
            #(let mut #carries = ::core::clone::Clone::clone(&#inits);)*
            #declare
            #run
            #(let #outs = #carries;)*
        }
    }

    /// A branch: each side stores its saved tuple in its slot.
    fn if_forward(
        &self,
        cond: ValueId,
        then_region: &Region,
        else_region: &Region,
        merges: &[Merge],
        saves: Option<&HashMap<RegionId, Vec<syn::Ident>>>,
    ) -> TokenStream {
        let c = self.names.value(cond);
        let outs: Vec<&syn::Ident> = merges.iter().map(|m| self.names.value(m.out)).collect();
        let side = |region: &Region, values: Vec<&syn::Ident>| {
            let slot = stack_ident(region.id);
            let (code, store) = self.nested_forward(
                region,
                saves,
                |tuple| quote!(#slot = ::core::option::Option::Some(#tuple);),
            );
            quote!({
                #code
                let __results = (#(::core::clone::Clone::clone(&#values),)*);
                #store
                __results
            })
        };
        let then_code = side(
            then_region,
            merges
                .iter()
                .map(|m| self.names.value(m.then_value))
                .collect(),
        );
        let else_code = side(
            else_region,
            merges
                .iter()
                .map(|m| self.names.value(m.else_value))
                .collect(),
        );
        let slots = if saves.is_some() {
            let (t, e) = (stack_ident(then_region.id), stack_ident(else_region.id));
            quote!(let mut #t = ::core::option::Option::None; let mut #e = ::core::option::Option::None;)
        } else {
            quote!()
        };
        quote! {
            #slots
            let (#(#outs,)*) = if #c #then_code else #else_code;
        }
    }

    /// The names a region's forward code defines, each with its identifier:
    /// its values, their shapes and pullbacks, nested regions' stacks, and
    /// `extra` (a loop's index and carried values).
    fn defined_names(&self, region: &Region, extra: &[ValueId]) -> HashMap<String, syn::Ident> {
        let mut names = HashMap::new();
        let mut add = |ident: syn::Ident| {
            names.insert(ident.to_string(), ident);
        };
        for v in region_values(region)
            .into_iter()
            .chain(extra.iter().copied())
        {
            let ident = self.names.value(v);
            add(ident.clone());
            add(shape_ident(ident));
            add(extra_ident(ident));
            add(self.names.pullback(v));
        }
        for stmt in &region.stmts {
            match stmt {
                Stmt::For { body, .. } | Stmt::Loop { body, .. } => add(stack_ident(body.id)),
                Stmt::If {
                    then_region,
                    else_region,
                    ..
                } => {
                    add(stack_ident(then_region.id));
                    add(stack_ident(else_region.id));
                }
                Stmt::Let { .. } => {}
            }
        }
        names
    }

    /// The forward code of one statement (calls go through the callee's
    /// pullback when the result varies).
    fn forward_line(&self, value: ValueId, op: &Op, args: &[ValueId]) -> TokenStream {
        let code = self.forward_code(value, op, args);
        match op {
            Op::Tensor(_) => crate::codegen::respan(code, self.names.at(self.f.span(value))),
            _ => code,
        }
    }

    fn forward_code(&self, value: ValueId, op: &Op, args: &[ValueId]) -> TokenStream {
        let v = self.names.value(value);
        let arg = |a: &ValueId| self.names.value(*a).clone();
        match op {
            Op::Const(tokens) => {
                let tokens = self.names.resolve(tokens);
                if self.f.kind(value) == Kind::Float {
                    let ty = &self.ty;
                    quote!(let #v: #ty = #tokens;)
                } else {
                    quote!(let #v = #tokens;)
                }
            }
            Op::Field(path) if self.f.kind(value) == Kind::Model => {
                let model = arg(&args[0]);
                let path = self.names.resolve(&quote!(#path));
                quote!(let #v = ::adjoint::params::Parameters::map(&#model #path, &mut |__t| ::core::clone::Clone::clone(__t));)
            }
            Op::Field(path) => {
                let model = arg(&args[0]);
                let path = self.names.resolve(&quote!(#path));
                quote!(let #v = ::core::clone::Clone::clone(&#model #path);)
            }
            Op::Tensor(tensor_rules::TensorOp::Fused(id)) => self.fused_forward(value, *id, args),
            Op::Tensor(top) => {
                let x = self.operands(*top, args);
                let e = tensor_rules::forward(*top, &x);
                if tensor_rules::has_extra_output(*top) {
                    let extra = extra_ident(v);
                    quote!(let (#v, #extra) = #e;)
                } else {
                    quote!(let #v = #e;)
                }
            }
            Op::Call(callee) => {
                let passed: Vec<TokenStream> = args.iter().map(|a| self.pass(*a)).collect();
                let as_expected = self.call_result(value, callee, quote!(#v));
                if self.is_active(value) {
                    let pb = self.names.pullback(value);
                    let pullback = crate::codegen::slots::hidden_item(&callee.path, "_pullback");
                    quote!(let (#v, #pb) = #pullback(#(#passed),*); let #v = #as_expected;)
                } else {
                    let path = &callee.path;
                    quote!(let #v = #path(#(#passed),*); let #v = #as_expected;)
                }
            }
            scalar => {
                let x: Vec<Sym> = args
                    .iter()
                    .map(|a| Sym::value(*a, self.names.value(*a)))
                    .collect();
                let e = forward(scalar, &x);
                let e = e.tokens();
                quote!(let #v = #e;)
            }
        }
    }

    /// The definitions of the non-differentiable data (axes, shapes, index
    /// lists): re-evaluated inside a pullback closure instead of capturing
    /// references to the forward sweep's locals.
    fn data_lines(&self) -> Vec<Line> {
        self.region_data_lines(&self.f.body.stmts)
    }

    /// [`data_lines`](Self::data_lines) of one region's statements: a branch
    /// or loop body re-evaluates its data in its reverse code rather than
    /// saving it (a reference into a local would not outlive the iteration).
    fn region_data_lines(&self, stmts: &[Stmt]) -> Vec<Line> {
        stmts
            .iter()
            .filter_map(|stmt| match stmt {
                Stmt::Let {
                    value,
                    op: Op::Const(tokens),
                    ..
                } if !self.f.kind(*value).is_differentiable() => {
                    let ident = self.names.value(*value);
                    let tokens = self.names.resolve(tokens);
                    Some(Line::new(quote!(let #ident = #tokens;)))
                }
                _ => None,
            })
            .collect()
    }

    /// How a value is passed to a called `#[differentiable]` function.
    fn pass(&self, v: ValueId) -> TokenStream {
        let ident = self.names.value(v);
        // A model argument may be rebound to an owned copy (in a pullback),
        // so it is borrowed like any model; `&&M` coerces to `&M`.
        match self.f.kind(v) {
            Kind::Tensor | Kind::Model => quote!(&#ident),
            _ => quote!(#ident),
        }
    }

    /// The operands of a tensor op as its rule takes them: idents, with a
    /// target tensor borrowed (labels arrive as the user passed them).
    fn operands(&self, op: tensor_rules::TensorOp, args: &[ValueId]) -> Vec<TokenStream> {
        args.iter()
            .zip(tensor_rules::slots(op))
            .map(|(a, slot)| {
                let i = self.names.value(*a);
                if *slot == tensor_rules::Slot::Target && self.f.kind(*a) == Kind::Tensor {
                    quote!((&#i))
                } else {
                    quote!(#i)
                }
            })
            .collect()
    }

    /// Whether `v` is an argument of the function (models arrive as references).
    fn is_param(&self, v: ValueId) -> bool {
        self.f.params.iter().any(|p| p.value == v)
    }

    /// The Rust type of a call's result as this function took it.
    fn value_ty(&self, v: ValueId) -> TokenStream {
        let ty = &self.ty;
        match self.f.kind(v) {
            Kind::Tensor => quote!(::adjoint::Tensor<#ty>),
            _ => quote!(#ty),
        }
    }

    /// `value` (a call's result, or its tangent) converted to the type this
    /// function took it for: a spanned error at the call if the guess was wrong.
    fn call_result(
        &self,
        v: ValueId,
        callee: &crate::ir::Callee,
        value: TokenStream,
    ) -> TokenStream {
        if self.f.kind(v) == Kind::Other {
            // Data the user's `let` typed (`let c: usize = channels(x);`):
            // its uses check the type.
            return value;
        }
        let ty = self.value_ty(v);
        quote::quote_spanned!(callee.span=> <_ as ::adjoint::__private::CallResult<#ty>>::into_expected(#value))
    }
}
