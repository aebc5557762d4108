//! The derivative rule table: for every elementary operation, its forward
//! value and its adjoint (the contribution to each operand's adjoint given the
//! output's adjoint `g`), side by side.
//!
//! Forward mode needs no separate table: for a scalar op the adjoint rule is
//! `g * ∂y/∂x_i`, linear in `g`, so the tangent is the sum over operands of
//! the adjoint rule applied to each operand's tangent (see [`tangent`]).
//!
//! To add an op: add a variant to `ir::Op`, its method/function names to
//! [`method_op`], and one arm to [`forward`] and [`adjoint`]; then add it to
//! the rule tests at the bottom of this file.

use crate::ir::Op;
use crate::sym::Real;

/// The op a float method (or free function) of this name and its arity
/// (operands including the receiver), if the compiler knows it.
pub fn method_op(name: &str) -> Option<(Op, usize)> {
    let op = match name {
        "sin" => (Op::Sin, 1),
        "cos" => (Op::Cos, 1),
        "tan" => (Op::Tan, 1),
        "asin" => (Op::Asin, 1),
        "acos" => (Op::Acos, 1),
        "atan" => (Op::Atan, 1),
        "atan2" => (Op::Atan2, 2),
        "sinh" => (Op::Sinh, 1),
        "cosh" => (Op::Cosh, 1),
        "tanh" => (Op::Tanh, 1),
        "exp" => (Op::Exp, 1),
        "exp2" => (Op::Exp2, 1),
        "ln" => (Op::Ln, 1),
        "log10" => (Op::Log10, 1),
        "log2" => (Op::Log2, 1),
        "log" => (Op::Log, 2),
        "sqrt" => (Op::Sqrt, 1),
        "cbrt" => (Op::Cbrt, 1),
        "powi" => (Op::Powi, 2),
        "powf" => (Op::Powf, 2),
        "abs" => (Op::Abs, 1),
        "recip" => (Op::Recip, 1),
        "hypot" => (Op::Hypot, 2),
        "max" => (Op::Max, 2),
        "min" => (Op::Min, 2),
        "mul_add" => (Op::MulAdd, 3),
        "sigmoid" => (Op::Sigmoid, 1),
        "relu" => (Op::Relu, 1),
        _ => return None,
    };
    Some(op)
}

/// Every method name [`method_op`] accepts, for error messages.
pub const SUPPORTED_METHODS: &str = "sin cos tan asin acos atan atan2 sinh cosh tanh exp exp2 \
     ln log10 log2 log sqrt cbrt powi powf abs recip hypot max min mul_add sigmoid relu";

/// The short name of an op, as shown in traces and graphs.
pub fn op_name(op: &Op) -> String {
    match op {
        Op::Const(_) => "const".into(),
        Op::Add => "+".into(),
        Op::Sub => "-".into(),
        Op::Mul => "*".into(),
        Op::Div => "/".into(),
        Op::Neg => "neg".into(),
        Op::Call(callee) => callee
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        Op::Tensor(op) => crate::tensor_rules::name(*op),
        Op::Field(path) => path.to_string(),
        Op::Index => "index".into(),
        other => method_name(other).into(),
    }
}

/// A trace template for an op: `{0}`, `{1}` stand for the operands.
pub fn trace_template(op: &Op, arity: usize) -> String {
    let operands: Vec<String> = (0..arity).map(|i| format!("{{{i}}}")).collect();
    match op {
        Op::Add => "{0} + {1}".into(),
        Op::Sub => "{0} - {1}".into(),
        Op::Mul => "{0} * {1}".into(),
        Op::Div => "{0} / {1}".into(),
        Op::Neg => "-{0}".into(),
        // An element of an active slice: a copy of that element's input.
        Op::Index => "{0}".into(),
        _ => format!("{}({})", op_name(op), operands.join(", ")),
    }
}

fn method_name(op: &Op) -> &'static str {
    match op {
        Op::Sin => "sin",
        Op::Cos => "cos",
        Op::Tan => "tan",
        Op::Asin => "asin",
        Op::Acos => "acos",
        Op::Atan => "atan",
        Op::Atan2 => "atan2",
        Op::Sinh => "sinh",
        Op::Cosh => "cosh",
        Op::Tanh => "tanh",
        Op::Exp => "exp",
        Op::Exp2 => "exp2",
        Op::Ln => "ln",
        Op::Log10 => "log10",
        Op::Log2 => "log2",
        Op::Log => "log",
        Op::Sqrt => "sqrt",
        Op::Cbrt => "cbrt",
        Op::Powi => "powi",
        Op::Powf => "powf",
        Op::Abs => "abs",
        Op::Recip => "recip",
        Op::Hypot => "hypot",
        Op::Max => "max",
        Op::Min => "min",
        Op::MulAdd => "mul_add",
        Op::Sigmoid => "sigmoid",
        Op::Relu => "relu",
        Op::Const(_)
        | Op::Add
        | Op::Sub
        | Op::Mul
        | Op::Div
        | Op::Neg
        | Op::Call(_)
        | Op::Tensor(_)
        | Op::Field(_)
        | Op::Index => "",
    }
}

/// The forward value of `op` applied to `x`.
///
/// `Const`, `Call` and `Index` are emitted by codegen directly and never
/// reach here.
pub fn forward<R: Real>(op: &Op, x: &[R]) -> R {
    let a = || x[0].clone();
    let b = || x[1].clone();
    match op {
        Op::Add => a() + b(),
        Op::Sub => a() - b(),
        Op::Mul => a() * b(),
        Op::Div => a() / b(),
        Op::Neg => -a(),
        Op::Powi => a().powi(b()),
        Op::Sigmoid => a().sigmoid(),
        Op::Relu => a().relu(),
        Op::MulAdd => a().mul_add3(b(), x[2].clone()),
        Op::Atan2 | Op::Log | Op::Powf | Op::Hypot | Op::Max | Op::Min => {
            a().call2(method_name(op), b())
        }
        Op::Const(_) | Op::Call(_) | Op::Tensor(_) | Op::Field(_) | Op::Index => {
            unreachable_rule(op)
        }
        _ => a().call1(method_name(op)),
    }
}

/// The contribution of `y = op(x)` to the adjoint of operand `i`, given the
/// output's value `y` and adjoint `g`.
pub fn adjoint<R: Real>(op: &Op, x: &[R], y: &R, g: &R, i: usize) -> R {
    let a = || x[0].clone();
    let b = || x[1].clone();
    let y = || y.clone();
    let g = || g.clone();
    let one = || R::lit(1.0);
    match (op, i) {
        // y = a + b, y = a - b
        (Op::Add, _) | (Op::Sub, 0) => g(),
        (Op::Sub, _) => -g(),
        // y = a * b
        (Op::Mul, 0) => g() * b(),
        (Op::Mul, _) => g() * a(),
        // y = a / b: ∂y/∂a = 1/b, ∂y/∂b = -a/b² = -y/b
        (Op::Div, 0) => g() / b(),
        (Op::Div, _) => -(g() * y() / b()),
        (Op::Neg, _) => -g(),
        (Op::Sin, _) => g() * a().call1("cos"),
        (Op::Cos, _) => -(g() * a().call1("sin")),
        // tan' = 1 + tan²
        (Op::Tan, _) => g() * (one() + y() * y()),
        // asin' = 1/√(1-x²), acos' = -1/√(1-x²), atan' = 1/(1+x²)
        (Op::Asin, _) => g() / (one() - a() * a()).call1("sqrt"),
        (Op::Acos, _) => -(g() / (one() - a() * a()).call1("sqrt")),
        (Op::Atan, _) => g() / (one() + a() * a()),
        // y = atan2(a, b) = atan(a/b): ∂a = b/(a²+b²), ∂b = -a/(a²+b²)
        (Op::Atan2, 0) => g() * b() / (a() * a() + b() * b()),
        (Op::Atan2, _) => -(g() * a() / (a() * a() + b() * b())),
        (Op::Sinh, _) => g() * a().call1("cosh"),
        (Op::Cosh, _) => g() * a().call1("sinh"),
        // tanh' = 1 - tanh²
        (Op::Tanh, _) => g() * (one() - y() * y()),
        (Op::Exp, _) => g() * y(),
        (Op::Exp2, _) => g() * y() * R::ln_2(),
        (Op::Ln, _) => g() / a(),
        (Op::Log10, _) => g() / (a() * R::ln_10()),
        (Op::Log2, _) => g() / (a() * R::ln_2()),
        // y = log_b(a) = ln a / ln b: ∂a = 1/(a ln b), ∂b = -y/(b ln b)
        (Op::Log, 0) => g() / (a() * b().call1("ln")),
        (Op::Log, _) => -(g() * y() / (b() * b().call1("ln"))),
        // √' = 1/(2√x) (+∞ at 0, as 1/(2·0)), ∛' = 1/(3∛x²)
        (Op::Sqrt, _) => g() / (R::lit(2.0) * y()),
        (Op::Cbrt, _) => g() / (R::lit(3.0) * y() * y()),
        // y = a^n (integer n): n a^(n-1); the exponent has no adjoint
        (Op::Powi, 0) => g() * b().int_to_float() * a().powi(b().int_minus_one()),
        (Op::Powi, _) => R::lit(0.0),
        // y = a^b: ∂a = b a^(b-1) (followed at a = 0 too: 0, 1 or ∞),
        // ∂b = y ln a, taken as 0 where y = 0 (a = 0 with b > 0), not 0 · -∞
        (Op::Powf, 0) => g() * b() * a().call2("powf", b() - one()),
        (Op::Powf, _) => R::select_eq(y(), R::lit(0.0), R::lit(0.0), g() * y() * a().call1("ln")),
        // |a|' = sign a: 0 at a = ±0 (`signum` would give ±1), NaN at NaN
        (Op::Abs, _) => g() * R::select_eq(a(), R::lit(0.0), R::lit(0.0), a().call1("signum")),
        // (1/x)' = -1/x² = -y²
        (Op::Recip, _) => -(g() * y() * y()),
        // y = √(a²+b²): ∂a = a/y, ∂b = b/y
        (Op::Hypot, 0) => g() * a() / y(),
        (Op::Hypot, _) => g() * b() / y(),
        // max/min (Rust's, which ignore a NaN operand): the whole adjoint
        // flows to the operand whose value was returned, the first on a tie
        (Op::Max | Op::Min, 0) => R::select_first(a(), b(), y(), g(), R::lit(0.0)),
        (Op::Max | Op::Min, _) => R::select_first(a(), b(), y(), R::lit(0.0), g()),
        // y = a * b + c
        (Op::MulAdd, 0) => g() * b(),
        (Op::MulAdd, 1) => g() * a(),
        (Op::MulAdd, _) => g(),
        // σ' = σ (1 - σ)
        (Op::Sigmoid, _) => g() * y() * (one() - y()),
        // relu' = 1 where y > 0, 0 where y = 0 (a <= 0, at 0 too), NaN where
        // y = a is NaN: in the last two cases the adjoint is y itself
        (Op::Relu, _) => R::select_gt(y(), R::lit(0.0), g(), y()),
        (Op::Const(_) | Op::Call(_) | Op::Tensor(_) | Op::Field(_) | Op::Index, _) => {
            unreachable_rule(op)
        }
    }
}

/// The tangent of `y = op(x)` given the tangents of the operands (`None` for
/// operands that do not vary).
pub fn tangent<R: Real>(op: &Op, x: &[R], y: &R, dx: &[Option<R>]) -> R {
    let mut total: Option<R> = None;
    for (i, d) in dx.iter().enumerate() {
        if let Some(d) = d {
            let term = adjoint(op, x, y, d, i);
            total = Some(match total {
                Some(t) => t + term,
                None => term,
            });
        }
    }
    total.unwrap_or_else(|| R::lit(0.0))
}

/// Whether the adjoint rule of operand `i` of `op` is identically zero (the
/// integer exponent of `powi`).
pub fn has_adjoint(op: &Op, i: usize) -> bool {
    !matches!((op, i), (Op::Powi, 1))
}

fn unreachable_rule(op: &Op) -> ! {
    panic!("adjoint-macros internal error: no algebraic rule for {op:?}")
}
