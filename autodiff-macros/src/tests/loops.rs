//! Loops and slices at the IR level: what `while`/`loop`/`break` lower to,
//! what the reverse sweep saves (indices known from a reversed loop and
//! cheap values recomputed, not pushed), and random loop programs lowered by
//! the real parser and differentiated by the IR interpreter.

use super::interp::{run, Arg};
use super::random_dags::{expr, Rng};
use crate::diagnostics::Errors;
use crate::ir::{walk_stmts, Function, Op, Stmt};
use crate::passes::activity;
use crate::{codegen, parse, signature};

fn lower(source: &str) -> Function {
    let item: syn::ItemFn = syn::parse_str(source).expect("test source parses");
    let mut errors = Errors::default();
    let sig = signature::check(&item, &mut errors).expect("signature is valid");
    let f = parse::lower(&item, &sig, &mut errors);
    assert!(errors.is_empty(), "lowering errors in\n{source}");
    let f = f.expect("lowered");
    let generated = codegen::generate(&f, &sig);
    syn::parse2::<syn::File>(generated).expect("generated code parses");
    f
}

/// The values each nested region of `f`'s gradient saves, in region order.
fn saves(f: &Function) -> Vec<usize> {
    let names = codegen::names::Names::new(f);
    let varied = activity::varied(f);
    let sweep = crate::sym::with_float_ty(f.float_ty, || {
        codegen::reverse::reverse_sweep(
            f,
            &names,
            &varied,
            false,
            <crate::sym::Sym as crate::sym::Real>::lit(1.0),
        )
    });
    let mut regions: Vec<_> = sweep.saves.into_iter().collect();
    regions.sort_by_key(|(id, _)| *id);
    regions.into_iter().map(|(_, items)| items.len()).collect()
}

fn count(f: &Function, pred: impl Fn(&Stmt) -> bool) -> usize {
    let mut n = 0;
    walk_stmts(&f.body, &mut |s| n += usize::from(pred(s)));
    n
}

#[test]
fn rosenbrock_saves_nothing() {
    // The index runs backwards in the reverse loop, and every value the
    // adjoint reads (x[i], x[i + 1], their differences, the constants) is
    // recomputed from it.
    let f = lower(
        "fn rosenbrock(x: &[f64]) -> f64 {
            let mut s = 0.0;
            for i in 0..x.len() - 1 {
                s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
            }
            s
        }",
    );
    let reads = count(&f, |s| matches!(s, Stmt::Let { op: Op::Index, .. }));
    assert_eq!(reads, 2, "x[i] is read once (CSE), x[i + 1] once");
    assert_eq!(saves(&f), vec![0]);
}

#[test]
fn a_loop_saves_only_what_it_cannot_recompute() {
    // acc·x is recomputed from the saved acc; sin's operand is not saved twice.
    let f = lower(
        "fn damped(x: f64, y: f64, #[constant] n: usize) -> f64 {
            let mut acc = y;
            for _ in 0..n {
                acc = (acc * x).sin() + y;
            }
            acc
        }",
    );
    assert_eq!(saves(&f), vec![1]);
}

#[test]
fn while_and_loop_lower_to_a_counted_loop() {
    let f = lower(
        "fn newton(a: f64) -> f64 {
            let mut y = a;
            while (y * y - a).abs() > 1e-12 {
                y = 0.5 * (y + a / y);
            }
            y
        }",
    );
    assert_eq!(count(&f, |s| matches!(s, Stmt::Loop { .. })), 1);
    let mut carried = 0;
    walk_stmts(&f.body, &mut |s| {
        if let Stmt::Loop { carried: c, .. } = s {
            carried = c.len();
        }
    });
    assert_eq!(
        carried, 1,
        "only y is carried (the break flags are per iteration)"
    );
    // The loop body saves y and the condition; the taken branch saves a / y.
    assert_eq!(saves(&f), vec![2, 1, 0]);

    let f = lower(
        "fn f(x: f64, #[constant] n: usize) -> f64 {
            let mut acc = x;
            for i in 0..n {
                if i % 3 == 0 {
                    continue;
                }
                acc = acc * x;
                if acc > 10.0 {
                    break;
                }
            }
            acc
        }",
    );
    assert_eq!(count(&f, |s| matches!(s, Stmt::Loop { .. })), 1);
    assert_eq!(count(&f, |s| matches!(s, Stmt::For { .. })), 0);
}

#[test]
fn constant_data_elements_are_float_constants() {
    let f = lower(
        "fn lsq(w: f64, #[constant] xs: &[f64], #[constant] idx: &[usize]) -> f64 {
            let mut loss = 0.0;
            for k in 0..idx.len() {
                loss += (w * xs[idx[k]]).powi(2);
            }
            loss
        }",
    );
    assert_eq!(
        count(&f, |s| matches!(s, Stmt::Let { op: Op::Index, .. })),
        0
    );
    let varied = activity::varied(&f);
    assert!(!varied[f.params[1].value.0] && !varied[f.params[2].value.0]);
}

/// A random program of `while`, `loop`, `for` with `break`/`continue`, nested
/// loops and early `return`s over three arguments.
fn random_loop_program(rng: &mut Rng) -> String {
    let mut body = String::new();
    let scalars: Vec<String> = ["x", "y", "z"].iter().map(|s| s.to_string()).collect();
    let all: Vec<String> = ["a", "b", "x", "y", "z"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    body.push_str(&format!(
        "let mut a = ({}).tanh();\n",
        expr(rng, &scalars, 2)
    ));
    body.push_str(&format!(
        "let mut b = ({}).tanh();\n",
        expr(rng, &scalars, 2)
    ));
    for block in 0..2 + rng.below(3) {
        let n = rng.below(5);
        let t = format!("{:.2}", rng.uniform(-0.5, 1.5));
        let e = expr(rng, &all, 2);
        let code = match rng.below(6) {
            0 => format!(
                "let mut k{block} = 0;\nwhile k{block} < {n} && a < {t} {{\n    a = ({e}).tanh() + 0.5 * a;\n    k{block} += 1;\n}}\n"
            ),
            1 => format!(
                "let mut k{block} = 0;\nloop {{\n    b = 0.5 * b + ({e}).tanh();\n    k{block} += 1;\n    if k{block} >= {} {{\n        break;\n    }}\n}}\n",
                n + 1
            ),
            2 => format!(
                "for i in 0..{n} {{\n    if i % 2 == {} {{\n        continue;\n    }}\n    a = a + 0.5 * ({e}).sin() * b;\n    if a > {t} {{\n        break;\n    }}\n}}\n",
                rng.below(2)
            ),
            3 => format!(
                "for i in 0..{n} {{\n    let mut j = 0;\n    while j < i {{\n        b = b * 0.9 + 0.1 * ({e}).tanh();\n        j += 1;\n    }}\n}}\n"
            ),
            4 => format!(
                "let mut k{block} = 0;\nwhile k{block} < {n} {{\n    a = 0.5 * a + ({e}).tanh();\n    if a > {t} {{\n        return a * b;\n    }}\n    k{block} += 1;\n}}\n"
            ),
            _ => format!("if a > {t} {{\n    b = b * ({e}).tanh();\n}}\n"),
        };
        body.push_str(&code);
    }
    format!("fn f(x: f64, y: f64, z: f64) -> f64 {{\n{body}a * b + a\n}}")
}

#[test]
fn random_loop_programs_match_finite_differences_and_forward_mode() {
    let mut rng = Rng(0x1007_5eed_c0ff_ee01);
    let (mut checked, mut loops) = (0, 0);
    for case in 0..200 {
        let source = random_loop_program(&mut rng);
        let f = lower(&source);
        loops += count(&f, |s| matches!(s, Stmt::Loop { .. }));
        let point = [
            rng.uniform(-1.5, 1.5),
            rng.uniform(-1.5, 1.5),
            rng.uniform(-1.5, 1.5),
        ];
        let args: Vec<Arg> = point.iter().map(|x| Arg::F(*x)).collect();
        let v = [0.3, -0.5, 0.8];
        let dir: Vec<Arg> = v.iter().map(|x| Arg::F(*x)).collect();
        let base = run(&f, &args, Some(&dir));
        let item: syn::ItemFn = syn::parse_str(&source).expect("parses");
        let direct = source_eval::call(&item, &point);
        assert!(
            base.value == direct || (base.value - direct).abs() <= 1e-12 * (1.0 + direct.abs()),
            "case {case}: the lowered program gives {} where Rust gives {direct}\n{source}",
            base.value
        );
        let grad: Vec<f64> = base.gradient().iter().map(|g| g[0]).collect();
        if !base.value.is_finite() || grad.iter().any(|g| !g.is_finite()) {
            continue;
        }
        for i in 0..3 {
            let h = 1e-6 * (1.0 + point[i].abs());
            let at = |d: f64| {
                let mut p = point;
                p[i] += d;
                let args: Vec<Arg> = p.iter().map(|x| Arg::F(*x)).collect();
                run(&f, &args, None)
            };
            let (plus, minus) = (at(h), at(-h));
            if plus.path != base.path || minus.path != base.path {
                continue; // a branch or trip count changes within the step
            }
            let fd = (plus.value - minus.value) / (2.0 * h);
            let tol = 1e-5 * (1.0 + fd.abs().max(grad[i].abs()));
            assert!(
                (fd - grad[i]).abs() <= tol,
                "case {case}, ∂f/∂x{i}: adjoint {} vs finite difference {fd}\n{source}",
                grad[i]
            );
        }
        let vjp: f64 = grad.iter().zip(v).map(|(g, d)| g * d).sum();
        assert!(
            (base.tangent() - vjp).abs() <= 1e-9 * (1.0 + vjp.abs()),
            "case {case}: tangent {} vs adjoint {vjp}\n{source}",
            base.tangent()
        );
        checked += 1;
    }
    assert!(checked > 150, "only {checked} of 200 cases were finite");
    assert!(loops > 200, "only {loops} run-time loops were generated");
}

#[test]
fn the_interpreter_runs_slices() {
    let f = lower(
        "fn rosenbrock(x: &[f64]) -> f64 {
            let mut s = 0.0;
            for i in 0..x.len() - 1 {
                s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
            }
            s
        }",
    );
    let x = vec![0.5, -1.0, 1.5, 2.0];
    let r = run(
        &f,
        &[Arg::S(x.clone())],
        Some(&[Arg::S(vec![1.0, 0.0, 0.0, 1.0])]),
    );
    let g = &r.gradient()[0];
    for i in 0..4 {
        let mut d = 0.0;
        if i + 1 < 4 {
            d += -400.0 * x[i] * (x[i + 1] - x[i] * x[i]) - 2.0 * (1.0 - x[i]);
        }
        if i > 0 {
            d += 200.0 * (x[i] - x[i - 1] * x[i - 1]);
        }
        assert!((g[i] - d).abs() < 1e-9, "∂/∂x{i}: {} vs {d}", g[i]);
    }
    assert!((r.tangent() - (g[0] + g[3])).abs() < 1e-9);
}

/// The value of a generated program by walking its syntax directly (Rust's
/// semantics for the subset `random_loop_program` writes): an oracle for
/// the lowering, independent of the IR.
mod source_eval {
    use std::collections::HashMap;

    #[derive(Clone, Copy, Debug)]
    pub enum V {
        F(f64),
        I(i64),
        B(bool),
    }

    impl V {
        fn f(self) -> f64 {
            match self {
                V::F(x) => x,
                other => panic!("{other:?} is not a float"),
            }
        }
    }

    enum Flow {
        Normal,
        Break,
        Continue,
        Return(f64),
    }

    pub fn call(item: &syn::ItemFn, args: &[f64]) -> f64 {
        let mut scopes = vec![HashMap::new()];
        for (input, a) in item.sig.inputs.iter().zip(args) {
            let syn::FnArg::Typed(pt) = input else {
                panic!("receiver")
            };
            let syn::Pat::Ident(pi) = &*pt.pat else {
                panic!("pattern")
            };
            scopes[0].insert(pi.ident.to_string(), V::F(*a));
        }
        let mut ev = Eval { scopes };
        let stmts = &item.block.stmts;
        let (last, rest) = stmts.split_last().expect("a body");
        if let Flow::Return(x) = ev.stmts(rest) {
            return x;
        }
        let syn::Stmt::Expr(e, None) = last else {
            panic!("tail")
        };
        ev.expr(e).f()
    }

    struct Eval {
        scopes: Vec<HashMap<String, V>>,
    }

    impl Eval {
        fn get(&self, name: &str) -> V {
            self.scopes
                .iter()
                .rev()
                .find_map(|s| s.get(name).copied())
                .expect("bound")
        }
        fn set(&mut self, name: &str, v: V) {
            let scope = self.scopes.iter_mut().rev().find(|s| s.contains_key(name));
            scope.expect("declared").insert(name.to_string(), v);
        }
        fn block(&mut self, stmts: &[syn::Stmt]) -> Flow {
            self.scopes.push(HashMap::new());
            let flow = self.stmts(stmts);
            self.scopes.pop();
            flow
        }
        fn stmts(&mut self, stmts: &[syn::Stmt]) -> Flow {
            for s in stmts {
                let flow = self.stmt(s);
                if !matches!(flow, Flow::Normal) {
                    return flow;
                }
            }
            Flow::Normal
        }
        fn stmt(&mut self, s: &syn::Stmt) -> Flow {
            match s {
                syn::Stmt::Local(l) => {
                    let syn::Pat::Ident(pi) = &l.pat else {
                        panic!("pattern")
                    };
                    let v = self.expr(&l.init.as_ref().expect("init").expr);
                    let scope = self.scopes.last_mut().expect("scope");
                    scope.insert(pi.ident.to_string(), v);
                    Flow::Normal
                }
                syn::Stmt::Expr(e, _) => self.statement(e),
                other => panic!("statement {}", quote::quote!(#other)),
            }
        }
        fn statement(&mut self, e: &syn::Expr) -> Flow {
            match e {
                syn::Expr::Assign(a) => {
                    let v = self.expr(&a.right);
                    self.set(&name(&a.left), v);
                }
                syn::Expr::Binary(b) if matches!(b.op, syn::BinOp::AddAssign(_)) => {
                    let v = add(self.get(&name(&b.left)), self.expr(&b.right));
                    self.set(&name(&b.left), v);
                }
                syn::Expr::If(i) => {
                    if self.truth(&i.cond) {
                        return self.block(&i.then_branch.stmts);
                    }
                    if let Some((_, e)) = &i.else_branch {
                        let syn::Expr::Block(b) = &**e else {
                            panic!("else if")
                        };
                        return self.block(&b.block.stmts);
                    }
                }
                syn::Expr::While(w) => {
                    while self.truth(&w.cond) {
                        match self.block(&w.body.stmts) {
                            Flow::Break => break,
                            Flow::Return(x) => return Flow::Return(x),
                            _ => {}
                        }
                    }
                }
                syn::Expr::Loop(l) => loop {
                    match self.block(&l.body.stmts) {
                        Flow::Break => break,
                        Flow::Return(x) => return Flow::Return(x),
                        _ => {}
                    }
                },
                syn::Expr::ForLoop(f) => {
                    let syn::Expr::Range(r) = &*f.expr else {
                        panic!("range")
                    };
                    let lo = self.int(r.start.as_deref().expect("start"));
                    let hi = self.int(r.end.as_deref().expect("end"));
                    let syn::Pat::Ident(pi) = &*f.pat else {
                        panic!("index")
                    };
                    for i in lo..hi {
                        self.scopes
                            .push(HashMap::from([(pi.ident.to_string(), V::I(i))]));
                        let flow = self.block(&f.body.stmts);
                        self.scopes.pop();
                        match flow {
                            Flow::Break => break,
                            Flow::Return(x) => return Flow::Return(x),
                            _ => {}
                        }
                    }
                }
                syn::Expr::Break(_) => return Flow::Break,
                syn::Expr::Continue(_) => return Flow::Continue,
                syn::Expr::Return(r) => {
                    return Flow::Return(self.expr(r.expr.as_deref().expect("value")).f())
                }
                other => panic!("statement {}", quote::quote!(#other)),
            }
            Flow::Normal
        }
        fn truth(&mut self, e: &syn::Expr) -> bool {
            match self.expr(e) {
                V::B(b) => b,
                other => panic!("{other:?} is not a boolean"),
            }
        }
        fn int(&mut self, e: &syn::Expr) -> i64 {
            match self.expr(e) {
                V::I(i) => i,
                other => panic!("{other:?} is not an integer"),
            }
        }
        fn expr(&mut self, e: &syn::Expr) -> V {
            use syn::BinOp::*;
            match e {
                syn::Expr::Lit(l) => match &l.lit {
                    syn::Lit::Int(i) => V::I(i.base10_parse().expect("int")),
                    syn::Lit::Float(x) => V::F(x.base10_parse().expect("float")),
                    other => panic!("literal {other:?}"),
                },
                syn::Expr::Path(p) => self.get(&p.path.get_ident().expect("name").to_string()),
                syn::Expr::Paren(p) => self.expr(&p.expr),
                syn::Expr::Unary(u) => V::F(-self.expr(&u.expr).f()),
                syn::Expr::Binary(b) => {
                    let (l, r) = (self.expr(&b.left), self.expr(&b.right));
                    match (&b.op, l, r) {
                        (And(_), V::B(l), V::B(r)) => V::B(l && r),
                        (Add(_), l, r) => add(l, r),
                        (Sub(_), V::F(l), V::F(r)) => V::F(l - r),
                        (Mul(_), V::F(l), V::F(r)) => V::F(l * r),
                        (Div(_), V::F(l), V::F(r)) => V::F(l / r),
                        (Rem(_), V::I(l), V::I(r)) => V::I(l % r),
                        (Eq(_), V::I(l), V::I(r)) => V::B(l == r),
                        (Lt(_), V::I(l), V::I(r)) => V::B(l < r),
                        (Ge(_), V::I(l), V::I(r)) => V::B(l >= r),
                        (Lt(_), V::F(l), V::F(r)) => V::B(l < r),
                        (Gt(_), V::F(l), V::F(r)) => V::B(l > r),
                        (op, l, r) => panic!("{l:?} {op:?} {r:?}"),
                    }
                }
                syn::Expr::MethodCall(m) => {
                    let x = self.expr(&m.receiver).f();
                    let args: Vec<V> = m.args.iter().map(|a| self.expr(a)).collect();
                    method(&m.method.to_string(), x, &args)
                }
                syn::Expr::Call(c) => {
                    let x = self.expr(&c.args[0]).f();
                    method("cos", x, &[])
                }
                other => panic!("expression {}", quote::quote!(#other)),
            }
        }
    }

    fn name(e: &syn::Expr) -> String {
        let syn::Expr::Path(p) = e else {
            panic!("assignment target")
        };
        p.path.get_ident().expect("name").to_string()
    }

    fn add(l: V, r: V) -> V {
        match (l, r) {
            (V::I(l), V::I(r)) => V::I(l + r),
            (l, r) => V::F(l.f() + r.f()),
        }
    }

    fn method(name: &str, x: f64, args: &[V]) -> V {
        let a = |i: usize| args[i].f();
        V::F(match name {
            "sin" => x.sin(),
            "cos" => x.cos(),
            "tanh" => x.tanh(),
            "exp" => x.exp(),
            "sqrt" => x.sqrt(),
            "ln" => x.ln(),
            "atan" => x.atan(),
            "asin" => x.asin(),
            "cbrt" => x.cbrt(),
            "sinh" => x.sinh(),
            "sigmoid" => 1.0 / (1.0 + (-x).exp()),
            "powi" => match args[0] {
                V::I(n) => x.powi(n as i32),
                other => panic!("powi({other:?})"),
            },
            "atan2" => x.atan2(a(0)),
            "hypot" => x.hypot(a(0)),
            "powf" => x.powf(a(0)),
            "log" => x.log(a(0)),
            "mul_add" => x.mul_add(a(0), a(1)),
            other => panic!("method {other}"),
        })
    }
}
