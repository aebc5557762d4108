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

/// A region using every element-wise op a region can hold:
/// `relu(sigmoid(tanh(sin(x0) * cos(x1)) + exp(-x2) / sqrt(x3)) - ln(abs(x4)) * square(x0)) + powf(x3, x1)`.
fn every_op() -> Region {
    let step = |op, args: &[Ref]| Step {
        op,
        args: args.to_vec(),
    };
    use Ref::{Input as I, Step as S};
    Region {
        inputs: 5,
        steps: vec![
            step(Op::Sin, &[I(0)]),         // 0
            step(Op::Cos, &[I(1)]),         // 1
            step(Op::Mul, &[S(0), S(1)]),   // 2
            step(Op::Tanh, &[S(2)]),        // 3
            step(Op::Neg, &[I(2)]),         // 4
            step(Op::Exp, &[S(4)]),         // 5
            step(Op::Sqrt, &[I(3)]),        // 6
            step(Op::Div, &[S(5), S(6)]),   // 7
            step(Op::Add, &[S(3), S(7)]),   // 8
            step(Op::Sigmoid, &[S(8)]),     // 9
            step(Op::Abs, &[I(4)]),         // 10
            step(Op::Ln, &[S(10)]),         // 11
            step(Op::Mul, &[I(0), I(0)]),   // 12
            step(Op::Mul, &[S(11), S(12)]), // 13
            step(Op::Sub, &[S(9), S(13)]),  // 14
            step(Op::Relu, &[S(14)]),       // 15
            step(Op::Powf, &[I(3), I(1)]),  // 16
            step(Op::Add, &[S(15), S(16)]), // 17
        ],
    }
}

/// Points of [`every_op`], the relu active and inactive.
const POINTS: [[f64; 5]; 3] = [
    [0.7, -0.4, 0.3, 1.6, -2.5],
    [-1.1, 0.9, -0.8, 0.4, 0.6],
    [2.0, 0.1, 1.5, 2.2, -0.3],
];

#[test]
fn cuda_bodies_compute_what_the_rust_rules_compute() {
    use crate::region::cuda::region_source;
    let Some(compiler) = ["g++", "c++", "clang++"].into_iter().find(|c| {
        std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok()
    }) else {
        println!("skipped: no C++ compiler (g++, c++ or clang++) to compile the printed CUDA C as host code");
        return;
    };
    for region in [gate(), every_op()] {
        let n = region.inputs;
        let points: Vec<Vec<f64>> = POINTS.iter().map(|p| p[..n].to_vec()).collect();
        let g = 1.3;
        // The shim: no CUDA, `__device__` erased, CUDA's overloaded math from <cmath>.
        let mut program = String::from(
            "#include <cmath>\n#include <cstdio>\nusing namespace std;\n#define __device__\n",
        );
        program.push_str(&region_source(&region));
        program.push_str("int main() {\n");
        for p in &points {
            let args: Vec<String> = p.iter().map(|v| format!("{v:?}")).collect();
            let args = args.join(", ");
            let outs: Vec<String> = (0..n).map(|i| format!("&d[{i}]")).collect();
            program.push_str(&format!(
                "  {{ double d[{n}]; double y = adjoint_region_forward<double>({args});\n    adjoint_region_adjoint<double>({args}, y, {g:?}, {outs});\n    printf(\"%.17g\", y); for (int i = 0; i < {n}; i++) printf(\" %.17g\", d[i]); printf(\"\\n\"); }}\n",
                outs = outs.join(", ")
            ));
        }
        program.push_str("  return 0;\n}\n");
        let dir =
            std::env::temp_dir().join(format!("adjoint_cuda_host_{}_{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (source, binary) = (dir.join("region.cpp"), dir.join("region"));
        std::fs::write(&source, &program).expect("source written");
        let built = std::process::Command::new(compiler)
            .args(["-std=c++17", "-O0", "-o"])
            .arg(&binary)
            .arg(&source)
            .output()
            .expect("compiler runs");
        assert!(
            built.status.success(),
            "{compiler} rejected the printed CUDA C:\n{}\n{program}",
            String::from_utf8_lossy(&built.stderr)
        );
        let run = std::process::Command::new(&binary)
            .output()
            .expect("program runs");
        let printed = String::from_utf8_lossy(&run.stdout);
        for (p, line) in points.iter().zip(printed.lines()) {
            let host: Vec<f64> = line
                .split_whitespace()
                .map(|v| v.parse().expect("a number"))
                .collect();
            let y = region.print_forward(&mut Eval, p);
            let adjoint = region.print_adjoint(&mut Eval, p, &y, &g, &vec![true; n]);
            let mut rust = vec![y];
            rust.extend(adjoint.into_iter().map(|a| a.expect("needed")));
            assert_eq!(host.len(), rust.len(), "{line}");
            for (h, r) in host.iter().zip(&rust) {
                assert!(
                    (h - r).abs() <= 1e-12 * r.abs().max(1.0),
                    "{}: host CUDA C {h} vs Rust rules {r} at {p:?}",
                    region.describe()
                );
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
