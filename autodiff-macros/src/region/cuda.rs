//! The CUDA C printer of region bodies: the same walkers as the Rust printer
//! (`Region::print_forward`, `print_adjoint`) write `__device__` function
//! templates over the element type `T` (`float` or `double`), with no
//! includes: only CUDA's overloaded math functions (`exp`, `tanh`, `sqrt`,
//! `fma`, ...) and ternaries. The runtime's CUDA backend wraps them in a
//! grid-stride kernel with the broadcast indexing and compiles the module
//! with NVRTC.
//!
//! Every element-wise convention of the Rust side holds here too: `relu`
//! keeps NaN and is 0 at 0, `sigmoid` is evaluated on the side that cannot
//! overflow, `max`/`min` ignore a NaN operand (`fmax`/`fmin`), `abs'` is 0 at
//! 0 and NaN at NaN.

use super::{Printer, Region};
use crate::sym::Real;
use std::fmt::Write;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// A C expression over the element type `T`, always parenthesised where it
/// is an operation (the printed code is read by a compiler, not a person).
#[derive(Clone, Debug)]
pub struct CExpr(String);

impl CExpr {
    fn op(a: &CExpr, op: &str, b: &CExpr) -> CExpr {
        CExpr(format!("({} {op} {})", a.0, b.0))
    }

    fn call(name: &str, args: &[&CExpr]) -> CExpr {
        let args: Vec<&str> = args.iter().map(|a| a.0.as_str()).collect();
        CExpr(format!("{name}({})", args.join(", ")))
    }

    /// The C text.
    pub fn text(&self) -> &str {
        &self.0
    }
}

impl Add for CExpr {
    type Output = CExpr;
    fn add(self, rhs: CExpr) -> CExpr {
        CExpr::op(&self, "+", &rhs)
    }
}

impl Sub for CExpr {
    type Output = CExpr;
    fn sub(self, rhs: CExpr) -> CExpr {
        CExpr::op(&self, "-", &rhs)
    }
}

impl Mul for CExpr {
    type Output = CExpr;
    fn mul(self, rhs: CExpr) -> CExpr {
        CExpr::op(&self, "*", &rhs)
    }
}

impl Div for CExpr {
    type Output = CExpr;
    fn div(self, rhs: CExpr) -> CExpr {
        CExpr::op(&self, "/", &rhs)
    }
}

impl Neg for CExpr {
    type Output = CExpr;
    fn neg(self) -> CExpr {
        CExpr(format!("(-{})", self.0))
    }
}

impl Real for CExpr {
    fn lit(x: f64) -> Self {
        CExpr(format!("T({x:?})"))
    }

    fn call1(self, method: &str) -> Self {
        let name = match method {
            "ln" => "log",
            "abs" => "fabs",
            "recip" => return CExpr::lit(1.0) / self,
            // Rust's signum: ±1 by the sign bit (so ±0 gives ±1), NaN kept.
            "signum" => {
                let a = &self.0;
                return CExpr(format!("({a} != {a} ? {a} : copysign(T(1.0), {a}))"));
            }
            other => other,
        };
        CExpr::call(name, &[&self])
    }

    fn call2(self, method: &str, other: Self) -> Self {
        match method {
            "powf" => CExpr::call("pow", &[&self, &other]),
            "max" => CExpr::call("fmax", &[&self, &other]),
            "min" => CExpr::call("fmin", &[&self, &other]),
            // Rust's `a.log(b)`: the logarithm of `a` in base `b`.
            "log" => CExpr::call("log", &[&self]) / CExpr::call("log", &[&other]),
            name => CExpr::call(name, &[&self, &other]),
        }
    }

    fn mul_add3(self, b: Self, c: Self) -> Self {
        CExpr::call("fma", &[&self, &b, &c])
    }

    fn powi(self, n: Self) -> Self {
        CExpr(format!("pow({}, T({}))", self.0, n.0))
    }

    fn int_minus_one(self) -> Self {
        CExpr(format!("({} - 1)", self.0))
    }

    fn int_to_float(self) -> Self {
        CExpr(format!("T({})", self.0))
    }

    fn select_gt(a: Self, b: Self, then: Self, otherwise: Self) -> Self {
        CExpr(format!(
            "({} > {} ? {} : {})",
            a.0, b.0, then.0, otherwise.0
        ))
    }

    fn select_eq(a: Self, b: Self, then: Self, otherwise: Self) -> Self {
        CExpr(format!(
            "({} == {} ? {} : {})",
            a.0, b.0, then.0, otherwise.0
        ))
    }

    fn select_first(a: Self, b: Self, y: Self, then: Self, otherwise: Self) -> Self {
        CExpr(format!(
            "(({a} == {y} || {b} != {b}) ? {t} : {o})",
            a = a.0,
            b = b.0,
            y = y.0,
            t = then.0,
            o = otherwise.0
        ))
    }

    fn sigmoid(self) -> Self {
        let a = &self.0;
        CExpr(format!(
            "({a} >= T(0.0) ? T(1.0) / (T(1.0) + exp(-{a})) : exp({a}) / (T(1.0) + exp({a})))"
        ))
    }

    fn relu(self) -> Self {
        let a = &self.0;
        CExpr(format!("(({a} > T(0.0) || {a} != {a}) ? {a} : T(0.0))"))
    }

    fn ln_2() -> Self {
        CExpr::lit(std::f64::consts::LN_2)
    }

    fn ln_10() -> Self {
        CExpr::lit(std::f64::consts::LN_10)
    }
}

/// Collects the statements of one `__device__` function body.
#[derive(Default)]
pub struct CudaPrinter {
    body: String,
}

impl Printer for CudaPrinter {
    type Expr = CExpr;

    fn bind(&mut self, name: &str, value: CExpr) -> CExpr {
        let _ = writeln!(self.body, "    const T {name} = {};", value.0);
        CExpr(name.to_string())
    }
}

/// The CUDA C of a region: `adjoint_region_forward(x0, …)` returning the
/// value and `adjoint_region_adjoint(x0, …, y, g, d0, …)` writing every
/// operand's adjoint contribution through the pointers `d{i}`.
pub fn region_source(region: &Region) -> String {
    let inputs: Vec<CExpr> = (0..region.inputs).map(|i| CExpr(format!("x{i}"))).collect();
    let params: Vec<String> = (0..region.inputs).map(|i| format!("T x{i}")).collect();
    let params = params.join(", ");
    let mut forward = CudaPrinter::default();
    let value = region.print_forward(&mut forward, &inputs);
    let mut adjoint = CudaPrinter::default();
    let needed = vec![true; region.inputs];
    let (y, g) = (CExpr("y".into()), CExpr("g".into()));
    let adjoints = region.print_adjoint(&mut adjoint, &inputs, &y, &g, &needed);
    let mut stores = String::new();
    for (i, a) in adjoints.iter().enumerate() {
        let a = a.as_ref().map_or("T(0.0)", |a| a.text());
        let _ = writeln!(stores, "    *d{i} = {a};");
    }
    let outs: Vec<String> = (0..region.inputs).map(|i| format!("T* d{i}")).collect();
    format!(
        "// {description}\n\
         template <typename T>\n\
         __device__ T adjoint_region_forward({params}) {{\n{fb}    return {value};\n}}\n\
         template <typename T>\n\
         __device__ void adjoint_region_adjoint({params}, T y, T g, {outs}) {{\n{ab}{stores}}}\n",
        description = region.describe(),
        fb = forward.body,
        value = value.text(),
        ab = adjoint.body,
        outs = outs.join(", "),
    )
}
