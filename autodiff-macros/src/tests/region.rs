//! Fused regions printed from the rule algebra: the Rust printer's bodies
//! for a gated unit `tanh(x0 / x1) * sigmoid(x2 + x3)` against a checked-in
//! snapshot (`docs/generated/region_gate.rs`, `UPDATE_SNAPSHOTS=1` rewrites
//! it), and the same walkers evaluated in f64 (an evaluating printer)
//! against central differences and the dot-product identity, so a second
//! printer (CUDA C) has the math it must reproduce.

use crate::ir::{FloatTy, Op};
use crate::region::rust::RustPrinter;
use crate::region::{Printer, Ref, Region, Step};
use crate::sym::{with_float_ty, Sym};
use quote::{format_ident, quote};

/// `tanh(x0 / x1) * sigmoid(x2 + x3)`.
fn gate() -> Region {
    let step = |op, args: &[Ref]| Step {
        op,
        args: args.to_vec(),
    };
    Region {
        inputs: 4,
        steps: vec![
            step(Op::Div, &[Ref::Input(0), Ref::Input(1)]),
            step(Op::Tanh, &[Ref::Step(0)]),
            step(Op::Add, &[Ref::Input(2), Ref::Input(3)]),
            step(Op::Sigmoid, &[Ref::Step(2)]),
            step(Op::Mul, &[Ref::Step(1), Ref::Step(3)]),
        ],
    }
}

/// Evaluates bodies in f64: binding is the identity.
struct Eval;

impl Printer for Eval {
    type Expr = f64;
    fn bind(&mut self, _name: &str, value: f64) -> f64 {
        value
    }
}

#[test]
fn region_bodies_match_the_snapshot() {
    let region = gate();
    let printed = with_float_ty(FloatTy::F32, || {
        let ty = format_ident!("f32");
        let inputs: Vec<Sym> = (0..4usize)
            .map(|i| Sym::local(&format_ident!("__x{}", i)))
            .collect();
        let mut p = RustPrinter::new(&ty);
        let value = region.print_forward(&mut p, &inputs);
        let (forward, _) = p.finish(&[&value], value.tokens().clone());
        let mut p = RustPrinter::new(&ty);
        let (y, g) = (format_ident!("__y"), format_ident!("__g"));
        let needed = [true, true, false, true];
        let adjoints =
            region.print_adjoint(&mut p, &inputs, &Sym::local(&y), &Sym::local(&g), &needed);
        let live: Vec<&Sym> = adjoints.iter().flatten().collect();
        let results = adjoints.iter().map(|a| match a {
            Some(a) => a.tokens().clone(),
            None => quote!(0.0),
        });
        let (adjoint, _) = p.finish(&live, quote!([#(#results),*]));
        let tangents: Vec<Option<Sym>> = (0..4usize)
            .map(|i| (i != 1).then(|| Sym::local(&format_ident!("__t{}", i))))
            .collect();
        let mut p = RustPrinter::new(&ty);
        let dot = region.print_tangent(&mut p, &inputs, &tangents);
        let (tangent, _) = p.finish(&[&dot], dot.tokens().clone());
        let file: syn::File = syn::parse2(quote! {
            fn forward(__x0: f32, __x1: f32, __x2: f32, __x3: f32) -> f32 #forward
            fn adjoint(__x0: f32, __x1: f32, __x2: f32, __x3: f32, __y: f32, __g: f32) -> [f32; 4] #adjoint
            fn tangent(__x0: f32, __x1: f32, __x2: f32, __x3: f32, __t0: f32, __t2: f32, __t3: f32) -> f32 #tangent
        })
        .expect("bodies parse");
        prettyplease::unparse(&file)
    });
    let pretty = format!(
        "// The fused region `{}` as the Rust printer writes it (regenerate: UPDATE_SNAPSHOTS=1 cargo test -p adjoint-macros region).\n{printed}",
        region.describe()
    );
    let path = format!(
        "{}/../docs/generated/region_gate.rs",
        env!("CARGO_MANIFEST_DIR")
    );
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &pretty).expect("snapshot written");
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        stored == pretty,
        "the printed region changed; review it and rerun with UPDATE_SNAPSHOTS=1:\n{pretty}"
    );
}

#[test]
fn the_region_is_described_as_written() {
    assert_eq!(gate().describe(), "tanh(x0 / x1) * sigmoid(x2 + x3)");
}

#[test]
fn evaluated_adjoint_and_tangent_match_central_differences() {
    let region = gate();
    let f = |x: &[f64]| region.print_forward(&mut Eval, x);
    let x = [0.7, -1.3, 0.4, -0.9];
    let y = f(&x);
    let g = 1.7;
    let needed = [true; 4];
    let adjoint = region.print_adjoint(&mut Eval, &x, &y, &g, &needed);
    let h = 1e-6;
    for i in 0..4 {
        let (mut up, mut down) = (x, x);
        up[i] += h;
        down[i] -= h;
        let numeric = g * (f(&up) - f(&down)) / (2.0 * h);
        let analytic = adjoint[i].expect("needed");
        assert!(
            (numeric - analytic).abs() < 1e-7,
            "operand {i}: {analytic} vs {numeric}"
        );
    }
    // ⟨J v, g⟩ = ⟨v, Jᵀ g⟩.
    let v = [0.3, -0.2, 1.1, 0.5];
    let tangents: Vec<Option<f64>> = v.iter().map(|t| Some(*t)).collect();
    let jv = region.print_tangent(&mut Eval, &x, &tangents);
    let vjt: f64 = v
        .iter()
        .zip(&adjoint)
        .map(|(v, a)| v * a.expect("needed"))
        .sum();
    assert!((jv * g - vjt).abs() < 1e-12, "{} vs {vjt}", jv * g);
}
