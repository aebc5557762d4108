//! An interpreter of the IR over `f64`, with a reverse sweep and a tangent
//! sweep built from `rules.rs` — the same rules codegen emits.
//!
//! Straight-line code, branches, `for` and `while`/`loop` loops and slice
//! arguments are run as the IR says; the integer and boolean code the
//! parser keeps as opaque Rust (`Op::Const`) is evaluated by a small
//! evaluator of the expressions it contains. Every differentiable operation
//! executed becomes a node of a dynamic tape, which the reverse sweep walks
//! backwards and the tangent sweep forwards.

use crate::ir::{parse_placeholder, Function, Op, Region, Stmt, ValueId};
use crate::rules::{adjoint, forward, has_adjoint, tangent};
use std::collections::HashMap;

/// A run-time value of the interpreted program.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    F(f64),
    I(i64),
    B(bool),
    /// A slice argument.
    S(Vec<f64>),
}

impl Val {
    fn f(&self) -> f64 {
        match self {
            Val::F(x) => *x,
            Val::I(i) => *i as f64,
            other => panic!("interpreter: {other:?} is not a number"),
        }
    }
    fn i(&self) -> i64 {
        match self {
            Val::I(i) => *i,
            other => panic!("interpreter: {other:?} is not an integer"),
        }
    }
    fn b(&self) -> bool {
        match self {
            Val::B(b) => *b,
            other => panic!("interpreter: {other:?} is not a boolean"),
        }
    }
}

/// An argument: a float or a slice of floats.
#[derive(Clone, Debug)]
pub enum Arg {
    F(f64),
    S(Vec<f64>),
}

/// One executed differentiable operation.
struct Node {
    op: Option<Op>,
    /// Operand nodes (`None` for constants and integer operands).
    args: Vec<Option<usize>>,
    /// Operand values (an integer exponent as a float).
    x: Vec<f64>,
    y: f64,
    /// The tangent along the direction given to [`run`].
    dot: f64,
}

/// One run of a function: its result, the tape, the input nodes per
/// argument, and the path taken (each branch and trip count).
pub struct Run {
    pub value: f64,
    pub path: Vec<i64>,
    nodes: Vec<Node>,
    result: Option<usize>,
    inputs: Vec<Vec<usize>>,
}

struct Machine<'a> {
    f: &'a Function,
    vals: HashMap<ValueId, Val>,
    node_of: HashMap<ValueId, usize>,
    slice_nodes: HashMap<ValueId, Vec<usize>>,
    nodes: Vec<Node>,
    path: Vec<i64>,
}

/// Runs `f` at `args`, with tangents `direction` (one per argument, a
/// vector for a slice; `None` for none).
pub fn run(f: &Function, args: &[Arg], direction: Option<&[Arg]>) -> Run {
    let mut m = Machine {
        f,
        vals: HashMap::new(),
        node_of: HashMap::new(),
        slice_nodes: HashMap::new(),
        nodes: Vec::new(),
        path: Vec::new(),
    };
    let mut inputs = Vec::new();
    for (i, (p, a)) in f.params.iter().zip(args).enumerate() {
        let dot = |k: usize| match direction.map(|d| &d[i]) {
            Some(Arg::F(d)) => *d,
            Some(Arg::S(d)) => d[k],
            None => 0.0,
        };
        let input = |y: f64, dot: f64| Node {
            op: None,
            args: Vec::new(),
            x: Vec::new(),
            y,
            dot,
        };
        match a {
            Arg::F(x) => {
                m.vals.insert(p.value, Val::F(*x));
                if p.active {
                    m.nodes.push(input(*x, dot(0)));
                    m.node_of.insert(p.value, m.nodes.len() - 1);
                    inputs.push(vec![m.nodes.len() - 1]);
                } else {
                    inputs.push(Vec::new());
                }
            }
            Arg::S(xs) => {
                m.vals.insert(p.value, Val::S(xs.clone()));
                let mut ids = Vec::new();
                if p.active {
                    for (k, x) in xs.iter().enumerate() {
                        m.nodes.push(input(*x, dot(k)));
                        ids.push(m.nodes.len() - 1);
                    }
                    m.slice_nodes.insert(p.value, ids.clone());
                }
                inputs.push(ids);
            }
        }
    }
    m.region(&f.body);
    Run {
        value: m.vals[&f.result].f(),
        path: m.path,
        result: m.node_of.get(&f.result).copied(),
        nodes: m.nodes,
        inputs,
    }
}

impl Run {
    /// The gradient with respect to each argument (one entry per element of
    /// a slice), by a reverse sweep over the tape.
    pub fn gradient(&self) -> Vec<Vec<f64>> {
        let mut adj = vec![0.0; self.nodes.len()];
        if let Some(r) = self.result {
            adj[r] = 1.0;
        }
        for (n, node) in self.nodes.iter().enumerate().rev() {
            let Some(op) = &node.op else { continue };
            let g = adj[n];
            for (i, a) in node.args.iter().enumerate() {
                if let Some(a) = a {
                    if has_adjoint(op, i) {
                        adj[*a] += adjoint(op, &node.x, &node.y, &g, i);
                    }
                }
            }
        }
        self.inputs
            .iter()
            .map(|ids| ids.iter().map(|n| adj[*n]).collect())
            .collect()
    }

    /// The tangent of the result along the direction given to [`run`].
    pub fn tangent(&self) -> f64 {
        self.result.map_or(0.0, |r| self.nodes[r].dot)
    }
}

impl Machine<'_> {
    fn region(&mut self, region: &Region) {
        for stmt in &region.stmts {
            self.stmt(stmt);
        }
    }

    fn copy(&mut self, to: ValueId, from: ValueId) {
        let v = self.vals[&from].clone();
        self.vals.insert(to, v);
        match self.node_of.get(&from).copied() {
            Some(n) => self.node_of.insert(to, n),
            None => self.node_of.remove(&to),
        };
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Let { value, op, args } => self.let_stmt(*value, op, args),
            Stmt::If {
                cond,
                then_region,
                else_region,
                merges,
            } => {
                let taken = self.vals[cond].b();
                self.path.push(i64::from(taken));
                self.region(if taken { then_region } else { else_region });
                for m in merges {
                    self.copy(m.out, if taken { m.then_value } else { m.else_value });
                }
            }
            Stmt::For {
                index,
                lo,
                hi,
                inclusive,
                carried,
                body,
            } => {
                let (lo, hi) = (self.vals[lo].i(), self.vals[hi].i());
                let hi = if *inclusive { hi + 1 } else { hi };
                for c in carried {
                    self.copy(c.phi, c.init);
                }
                for i in lo..hi {
                    self.vals.insert(*index, Val::I(i));
                    self.region(body);
                    for c in carried {
                        self.copy(c.phi, c.next);
                    }
                }
                self.path.push((hi - lo).max(0));
                for c in carried {
                    self.copy(c.out, c.phi);
                }
            }
            Stmt::Loop {
                trips,
                exit,
                carried,
                body,
            } => {
                for c in carried {
                    self.copy(c.phi, c.init);
                }
                let mut count = 0;
                loop {
                    self.region(body);
                    count += 1;
                    let done = self.vals[exit].b();
                    for c in carried {
                        self.copy(c.phi, c.next);
                    }
                    assert!(count < 100_000, "interpreter: the loop does not end");
                    if done {
                        break;
                    }
                }
                self.vals.insert(*trips, Val::I(count));
                self.path.push(count);
                for c in carried {
                    self.copy(c.out, c.phi);
                }
            }
        }
    }

    fn let_stmt(&mut self, value: ValueId, op: &Op, args: &[ValueId]) {
        match op {
            Op::Const(tokens) => {
                let expr: syn::Expr = syn::parse2(tokens.clone()).expect("opaque code parses");
                let v = self.eval(&expr);
                // A float constant is a float even when written `2`.
                let v = match (self.f.kind(value), v) {
                    (crate::ir::Kind::Float, Val::I(i)) => Val::F(i as f64),
                    (_, v) => v,
                };
                self.vals.insert(value, v);
                self.node_of.remove(&value);
            }
            Op::Index => {
                let k = self.vals[&args[1]].i() as usize;
                let Val::S(xs) = &self.vals[&args[0]] else {
                    panic!("interpreter: indexing a non-slice")
                };
                self.vals.insert(value, Val::F(xs[k]));
                match self.slice_nodes.get(&args[0]) {
                    Some(ids) => self.node_of.insert(value, ids[k]),
                    None => self.node_of.remove(&value),
                };
            }
            Op::Call(_) | Op::Tensor(_) | Op::Field(_) => {
                panic!("interpreter: {op:?} is not interpreted")
            }
            op => {
                let x: Vec<f64> = args.iter().map(|a| self.vals[a].f()).collect();
                let y = forward(op, &x);
                self.vals.insert(value, Val::F(y));
                let arg_nodes: Vec<Option<usize>> =
                    args.iter().map(|a| self.node_of.get(a).copied()).collect();
                if arg_nodes.iter().all(Option::is_none) {
                    self.node_of.remove(&value);
                    return;
                }
                let dx: Vec<Option<f64>> = arg_nodes
                    .iter()
                    .map(|n| n.map(|n| self.nodes[n].dot))
                    .collect();
                let dot = tangent(op, &x, &y, &dx);
                self.nodes.push(Node {
                    op: Some(op.clone()),
                    args: arg_nodes,
                    x,
                    y,
                    dot,
                });
                self.node_of.insert(value, self.nodes.len() - 1);
            }
        }
    }

    /// Evaluates the opaque code of an `Op::Const`.
    fn eval(&self, e: &syn::Expr) -> Val {
        match e {
            syn::Expr::Lit(l) => match &l.lit {
                syn::Lit::Int(i) => Val::I(i.base10_parse().expect("integer literal")),
                syn::Lit::Float(x) => Val::F(x.base10_parse().expect("float literal")),
                syn::Lit::Bool(b) => Val::B(b.value),
                other => panic!("interpreter: literal {other:?}"),
            },
            syn::Expr::Path(p) => {
                let ident = p.path.get_ident().expect("a value placeholder");
                let v = parse_placeholder(ident).expect("a value placeholder");
                self.vals[&v].clone()
            }
            syn::Expr::Paren(p) => self.eval(&p.expr),
            syn::Expr::Group(g) => self.eval(&g.expr),
            syn::Expr::Reference(r) => self.eval(&r.expr),
            syn::Expr::Unary(u) => match (&u.op, self.eval(&u.expr)) {
                (syn::UnOp::Neg(_), Val::I(i)) => Val::I(-i),
                (syn::UnOp::Neg(_), Val::F(x)) => Val::F(-x),
                (syn::UnOp::Not(_), Val::B(b)) => Val::B(!b),
                (op, v) => panic!("interpreter: {op:?} on {v:?}"),
            },
            syn::Expr::Cast(c) => {
                let v = self.eval(&c.expr);
                match crate::signature::float_ty_of(&c.ty) {
                    Some(_) => Val::F(v.f()),
                    None => Val::I(match v {
                        Val::F(x) => x as i64,
                        v => v.i(),
                    }),
                }
            }
            syn::Expr::MethodCall(m) => {
                match (m.method.to_string().as_str(), self.eval(&m.receiver)) {
                    ("len", Val::S(xs)) => Val::I(xs.len() as i64),
                    ("is_empty", Val::S(xs)) => Val::B(xs.is_empty()),
                    (name, v) => panic!("interpreter: method {name} on {v:?}"),
                }
            }
            syn::Expr::Index(i) => match (self.eval(&i.expr), self.eval(&i.index)) {
                (Val::S(xs), Val::I(k)) => Val::F(xs[k as usize]),
                (b, k) => panic!("interpreter: {b:?}[{k:?}]"),
            },
            syn::Expr::Binary(b) => {
                use syn::BinOp::*;
                let (l, r) = (self.eval(&b.left), self.eval(&b.right));
                match (&b.op, l, r) {
                    (And(_), Val::B(l), Val::B(r)) => Val::B(l && r),
                    (Or(_), Val::B(l), Val::B(r)) => Val::B(l || r),
                    (Eq(_), l, r) => Val::B(l == r),
                    (Ne(_), l, r) => Val::B(l != r),
                    (op, Val::I(l), Val::I(r)) => match op {
                        Add(_) => Val::I(l + r),
                        Sub(_) => Val::I(l - r),
                        Mul(_) => Val::I(l * r),
                        Div(_) => Val::I(l / r),
                        Rem(_) => Val::I(l % r),
                        Lt(_) => Val::B(l < r),
                        Le(_) => Val::B(l <= r),
                        Gt(_) => Val::B(l > r),
                        Ge(_) => Val::B(l >= r),
                        op => panic!("interpreter: integer {op:?}"),
                    },
                    (op, l, r) => {
                        let (l, r) = (l.f(), r.f());
                        match op {
                            Lt(_) => Val::B(l < r),
                            Le(_) => Val::B(l <= r),
                            Gt(_) => Val::B(l > r),
                            Ge(_) => Val::B(l >= r),
                            op => panic!("interpreter: float {op:?} in opaque code"),
                        }
                    }
                }
            }
            other => panic!("interpreter: cannot evaluate {}", quote::quote!(#other)),
        }
    }
}

/// Forward values: the result of `f` at scalar `args`.
pub fn evaluate(f: &Function, args: &[f64]) -> f64 {
    let args: Vec<Arg> = args.iter().map(|x| Arg::F(*x)).collect();
    run(f, &args, None).value
}

/// The result and the gradient with respect to scalar parameters.
pub fn gradient(f: &Function, args: &[f64]) -> (f64, Vec<f64>) {
    let args: Vec<Arg> = args.iter().map(|x| Arg::F(*x)).collect();
    let r = run(f, &args, None);
    let grad = r
        .gradient()
        .into_iter()
        .map(|g| g.first().copied().unwrap_or(0.0))
        .collect();
    (r.value, grad)
}

/// The directional derivative along `direction`, by the tangent sweep.
pub fn directional(f: &Function, args: &[f64], direction: &[f64]) -> f64 {
    let args: Vec<Arg> = args.iter().map(|x| Arg::F(*x)).collect();
    let dir: Vec<Arg> = direction.iter().map(|x| Arg::F(*x)).collect();
    run(f, &args, Some(&dir)).tangent()
}
