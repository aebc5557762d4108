//! A conventional tape-based reverse-mode automatic differentiation of scalar code.
//!
//! Every arithmetic operation on a [`Var`] appends one node to a [`Tape`], holding the
//! indices of up to two operands and the local partial derivatives with respect to them,
//! computed during the forward pass. [`Var::backward`] then sweeps the tape once in reverse.
//! This is the run-time approach (operator overloading) that `adjoint` replaces with
//! compile-time code generation; it serves as the baseline in benchmarks and as an
//! independent oracle in tests.
//!
//! Constants may be mixed in freely: `x * 2.0`, `2.0 * x`, `x += 1.0`, and the two-argument
//! methods ([`Var::powf`], [`Var::atan2`], [`Var::hypot`], [`Var::log`], [`Var::max`],
//! [`Var::min`], [`Var::mul_add`]) accept either a `Var` or a plain float through
//! [`IntoOperand`]. A constant never creates a node of its own.
//!
//! ```
//! use adjoint_runtime::tape::Tape;
//!
//! let tape = Tape::new();
//! let x = tape.var(0.5_f64);
//! let y = tape.var(2.0);
//! let f = (x * y).sin() + x.powf(3.0) / y;
//! let g = f.backward();
//! assert!((g.wrt(x) - (2.0 * 1.0_f64.cos() + 3.0 * 0.25 / 2.0)).abs() < 1e-12);
//! ```

use adjoint_kernels::math;
use num_traits::Float;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// One recorded operation: its operands and the local partial derivatives with respect to
/// them. An unused operand slot points at the node itself and is skipped by the sweep.
#[derive(Debug, Clone, Copy)]
struct Node<F> {
    parents: [u32; 2],
    partials: [F; 2],
}

/// The record of one evaluation: a growing list of nodes, one per elementary operation.
///
/// Variables borrow the tape, so a tape is normally created per evaluation; to reuse its
/// allocation, drop the variables and call [`Tape::clear`].
#[derive(Debug, Default)]
pub struct Tape<F> {
    nodes: RefCell<Vec<Node<F>>>,
}

impl<F: Float> Tape<F> {
    /// An empty tape.
    pub fn new() -> Self {
        Self {
            nodes: RefCell::new(Vec::new()),
        }
    }

    /// An empty tape with room for `n` nodes, avoiding reallocation for evaluations of known
    /// size.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            nodes: RefCell::new(Vec::with_capacity(n)),
        }
    }

    /// A new independent variable (a leaf) holding `value`.
    pub fn var(&self, value: F) -> Var<'_, F> {
        self.push(value, [None, None])
    }

    /// The number of nodes (leaves and operations) recorded so far.
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.nodes.borrow().is_empty()
    }

    /// Forgets every node while keeping the allocation; requires that no variable of this
    /// tape is alive.
    pub fn clear(&mut self) {
        self.nodes.get_mut().clear();
    }

    /// Appends a node with the given operands (index and local partial) and returns its
    /// variable.
    ///
    /// # Panics
    /// If the tape would hold more than `u32::MAX` nodes.
    #[inline]
    fn push(&self, value: F, operands: [Option<(u32, F)>; 2]) -> Var<'_, F> {
        let mut nodes = self.nodes.borrow_mut();
        let index =
            u32::try_from(nodes.len()).expect("adjoint tape: more than u32::MAX nodes recorded");
        let slot = |op: Option<(u32, F)>| op.unwrap_or((index, F::zero()));
        let [(p0, d0), (p1, d1)] = [slot(operands[0]), slot(operands[1])];
        nodes.push(Node {
            parents: [p0, p1],
            partials: [d0, d1],
        });
        Var {
            tape: self,
            index,
            value,
        }
    }
}

/// A differentiable scalar recorded on a [`Tape`]: its value plus its position on the tape.
///
/// All operands of one computation must come from the same tape (checked in debug builds).
#[derive(Clone, Copy)]
pub struct Var<'t, F> {
    tape: &'t Tape<F>,
    index: u32,
    value: F,
}

/// The adjoints of every node up to a differentiated output, produced by [`Var::backward`].
#[derive(Debug, Clone, PartialEq)]
pub struct Gradients<F> {
    adjoints: Vec<F>,
}

impl<F: Float> Gradients<F> {
    /// The derivative of the output with respect to `v`; zero for variables the output does
    /// not depend on, including ones created after it.
    pub fn wrt(&self, v: Var<'_, F>) -> F {
        self.adjoints
            .get(v.index as usize)
            .copied()
            .unwrap_or_else(F::zero)
    }

    /// The derivatives with respect to each of `vars`, in order.
    pub fn wrt_all(&self, vars: &[Var<'_, F>]) -> Vec<F> {
        vars.iter().map(|&v| self.wrt(v)).collect()
    }
}

/// A second operand of a [`Var`] method: another variable or a constant.
#[derive(Debug, Clone, Copy)]
pub enum Operand<'t, F> {
    /// A recorded variable, which receives a share of the adjoint.
    Var(Var<'t, F>),
    /// A constant, which creates no node and receives nothing.
    Const(F),
}

impl<F: Float> Operand<'_, F> {
    /// The operand's numeric value.
    #[inline]
    fn value(self) -> F {
        match self {
            Operand::Var(v) => v.value,
            Operand::Const(c) => c,
        }
    }
}

/// Conversion into an [`Operand`], so that methods such as [`Var::powf`] accept both
/// `x.powf(y)` with `y: Var` and `x.powf(2.5)`.
pub trait IntoOperand<'t, F> {
    /// Wraps `self` as an operand.
    fn into_operand(self) -> Operand<'t, F>;
}

impl<'t, F> IntoOperand<'t, F> for Var<'t, F> {
    #[inline]
    fn into_operand(self) -> Operand<'t, F> {
        Operand::Var(self)
    }
}

impl<'t, F: Float> IntoOperand<'t, F> for F {
    #[inline]
    fn into_operand(self) -> Operand<'t, F> {
        Operand::Const(self)
    }
}

impl<'t, F> IntoOperand<'t, F> for Operand<'t, F> {
    #[inline]
    fn into_operand(self) -> Operand<'t, F> {
        self
    }
}

impl<'t, F: Float> Var<'t, F> {
    /// The value computed in the forward pass.
    #[inline]
    pub fn value(&self) -> F {
        self.value
    }

    /// The position of this variable's node on its tape.
    #[inline]
    pub fn index(&self) -> usize {
        self.index as usize
    }

    /// Reverse sweep: seeds this variable's adjoint with 1 and propagates adjoints to every
    /// earlier node. Adjoints that are exactly zero are not propagated, so an infinite local
    /// partial on a path that does not influence the output yields 0 rather than NaN.
    pub fn backward(&self) -> Gradients<F> {
        let nodes = self.tape.nodes.borrow();
        let len = self.index as usize + 1;
        let mut adjoints = vec![F::zero(); len];
        adjoints[len - 1] = F::one();
        for (i, node) in nodes[..len].iter().enumerate().rev() {
            let a = adjoints[i];
            if a == F::zero() {
                continue;
            }
            for (&p, &d) in node.parents.iter().zip(&node.partials) {
                let p = p as usize;
                if p != i {
                    adjoints[p] = adjoints[p] + d * a;
                }
            }
        }
        Gradients { adjoints }
    }

    /// Records a one-operand operation with result `value` and local partial `d`.
    #[inline]
    fn unary(self, value: F, d: F) -> Self {
        self.tape.push(value, [Some((self.index, d)), None])
    }

    /// Records a two-operand operation with result `value` and local partials `da`, `db`.
    #[inline]
    fn binary(self, other: Self, value: F, da: F, db: F) -> Self {
        debug_assert!(
            std::ptr::eq(self.tape, other.tape),
            "adjoint tape: operands recorded on different tapes"
        );
        self.tape
            .push(value, [Some((self.index, da)), Some((other.index, db))])
    }

    /// Records an operation on `self` and an operand; `d_other` is only evaluated when the
    /// operand is a variable.
    #[inline]
    fn with_operand(
        self,
        other: Operand<'t, F>,
        value: F,
        d_self: F,
        d_other: impl FnOnce() -> F,
    ) -> Self {
        match other {
            Operand::Var(o) => self.binary(o, value, d_self, d_other()),
            Operand::Const(_) => self.unary(value, d_self),
        }
    }

    /// A fresh leaf holding `value`, used where a branch selects a constant.
    #[inline]
    fn constant(self, value: F) -> Self {
        self.tape.var(value)
    }

    /// The operand itself as a variable (a constant becomes a leaf).
    #[inline]
    fn operand_var(self, other: Operand<'t, F>) -> Self {
        match other {
            Operand::Var(o) => o,
            Operand::Const(c) => self.constant(c),
        }
    }

    /// Sine; derivative `cos x`.
    pub fn sin(self) -> Self {
        let (s, c) = self.value.sin_cos();
        self.unary(s, c)
    }

    /// Cosine; derivative `-sin x`.
    pub fn cos(self) -> Self {
        let (s, c) = self.value.sin_cos();
        self.unary(c, -s)
    }

    /// Tangent; derivative `1 + tan² x`.
    pub fn tan(self) -> Self {
        let t = self.value.tan();
        self.unary(t, F::one() + t * t)
    }

    /// Arcsine; derivative `1 / sqrt(1 - x²)`.
    pub fn asin(self) -> Self {
        let x = self.value;
        self.unary(x.asin(), (F::one() - x * x).sqrt().recip())
    }

    /// Arccosine; derivative `-1 / sqrt(1 - x²)`.
    pub fn acos(self) -> Self {
        let x = self.value;
        self.unary(x.acos(), -(F::one() - x * x).sqrt().recip())
    }

    /// Arctangent; derivative `1 / (1 + x²)`.
    pub fn atan(self) -> Self {
        let x = self.value;
        self.unary(x.atan(), (F::one() + x * x).recip())
    }

    /// Four-quadrant arctangent of `self / x` (`self` is `y`); partials `x / r²` and
    /// `-y / r²`, taken as 0 at the origin.
    pub fn atan2(self, x: impl IntoOperand<'t, F>) -> Self {
        let x = x.into_operand();
        let (yv, xv) = (self.value, x.value());
        let r2 = xv * xv + yv * yv;
        let (dy, dx) = if r2 == F::zero() {
            (F::zero(), F::zero())
        } else {
            (xv / r2, -yv / r2)
        };
        self.with_operand(x, yv.atan2(xv), dy, || dx)
    }

    /// Hyperbolic sine; derivative `cosh x`.
    pub fn sinh(self) -> Self {
        self.unary(self.value.sinh(), self.value.cosh())
    }

    /// Hyperbolic cosine; derivative `sinh x`.
    pub fn cosh(self) -> Self {
        self.unary(self.value.cosh(), self.value.sinh())
    }

    /// Hyperbolic tangent; derivative `1 - tanh² x`.
    pub fn tanh(self) -> Self
    where
        F: adjoint_kernels::Float,
    {
        let t = math::tanh(self.value);
        self.unary(t, F::one() - t * t)
    }

    /// `e^x`; derivative `e^x`.
    pub fn exp(self) -> Self
    where
        F: adjoint_kernels::Float,
    {
        let e = math::exp(self.value);
        self.unary(e, e)
    }

    /// `2^x`; derivative `2^x ln 2`.
    pub fn exp2(self) -> Self {
        let e = self.value.exp2();
        self.unary(e, e * two::<F>().ln())
    }

    /// Natural logarithm; derivative `1 / x`.
    pub fn ln(self) -> Self {
        self.unary(self.value.ln(), self.value.recip())
    }

    /// Base-10 logarithm; derivative `1 / (x ln 10)`.
    pub fn log10(self) -> Self {
        let ln10 = (two::<F>() * two() * two() + two()).ln();
        self.unary(self.value.log10(), (self.value * ln10).recip())
    }

    /// Base-2 logarithm; derivative `1 / (x ln 2)`.
    pub fn log2(self) -> Self {
        self.unary(self.value.log2(), (self.value * two::<F>().ln()).recip())
    }

    /// Logarithm in base `base`; partials `1 / (x ln b)` and `-log_b x / (b ln b)`.
    pub fn log(self, base: impl IntoOperand<'t, F>) -> Self {
        let base = base.into_operand();
        let (x, b) = (self.value, base.value());
        let ln_b = b.ln();
        let value = x.log(b);
        self.with_operand(base, value, (x * ln_b).recip(), || -value / (b * ln_b))
    }

    /// Square root; derivative `1 / (2 sqrt x)` (`+∞` at 0).
    pub fn sqrt(self) -> Self {
        let s = self.value.sqrt();
        self.unary(s, (two::<F>() * s).recip())
    }

    /// Cube root; derivative `1 / (3 cbrt² x)`.
    pub fn cbrt(self) -> Self {
        let c = self.value.cbrt();
        self.unary(c, ((two::<F>() + F::one()) * c * c).recip())
    }

    /// Integer power; derivative `n x^(n-1)` (0 for `n = 0`).
    pub fn powi(self, n: i32) -> Self {
        let x = self.value;
        let d = if n == 0 {
            F::zero()
        } else {
            F::from(n).unwrap_or_else(F::nan) * x.powi(n.saturating_sub(1))
        };
        self.unary(x.powi(n), d)
    }

    /// Real power `x^p`; partials `p x^(p-1)` (also at `x = 0`: 0, 1 or `+∞`) and `x^p ln x`
    /// (the latter taken as 0 where `x^p = 0`, e.g. `x = 0` with `p > 0`, and NaN for
    /// negative `x`).
    pub fn powf(self, p: impl IntoOperand<'t, F>) -> Self {
        let p = p.into_operand();
        let (x, pv) = (self.value, p.value());
        let value = x.powf(pv);
        let dx = pv * x.powf(pv - F::one());
        self.with_operand(p, value, dx, || {
            if value == F::zero() {
                F::zero()
            } else {
                value * x.ln()
            }
        })
    }

    /// Absolute value; derivative `sign x`, taken as 0 at 0 (and NaN at NaN).
    pub fn abs(self) -> Self {
        let x = self.value;
        let d = if x == F::zero() {
            F::zero()
        } else {
            x.signum()
        };
        self.unary(x.abs(), d)
    }

    /// `1 / x`; derivative `-1 / x²`.
    pub fn recip(self) -> Self {
        let r = self.value.recip();
        self.unary(r, -r * r)
    }

    /// `sqrt(x² + y²)`; partials `x / h` and `y / h`, taken as 0 at the origin.
    pub fn hypot(self, y: impl IntoOperand<'t, F>) -> Self {
        let y = y.into_operand();
        let (xv, yv) = (self.value, y.value());
        let h = xv.hypot(yv);
        let (dx, dy) = if h == F::zero() {
            (F::zero(), F::zero())
        } else {
            (xv / h, yv / h)
        };
        self.with_operand(y, h, dx, || dy)
    }

    /// The larger operand, as `f64::max` (a NaN operand is ignored); the derivative flows
    /// entirely to the operand selected, `self` on ties (and when both are NaN).
    pub fn max(self, other: impl IntoOperand<'t, F>) -> Self {
        let other = other.into_operand();
        let o = other.value();
        if o.is_nan() || self.value >= o {
            self
        } else {
            self.operand_var(other)
        }
    }

    /// The smaller operand, as `f64::min` (a NaN operand is ignored); the derivative flows
    /// entirely to the operand selected, `self` on ties (and when both are NaN).
    pub fn min(self, other: impl IntoOperand<'t, F>) -> Self {
        let other = other.into_operand();
        let o = other.value();
        if o.is_nan() || self.value <= o {
            self
        } else {
            self.operand_var(other)
        }
    }

    /// Fused `self * a + b`; partials `a`, `self` and `1`.
    pub fn mul_add(self, a: impl IntoOperand<'t, F>, b: impl IntoOperand<'t, F>) -> Self {
        let (a, b) = (a.into_operand(), b.into_operand());
        let (x, av, bv) = (self.value, a.value(), b.value());
        let value = x.mul_add(av, bv);
        match (a, b) {
            (Operand::Var(a), Operand::Var(b)) => {
                let product = self.binary(a, x * av, av, x);
                product.binary(b, value, F::one(), F::one())
            }
            (Operand::Var(a), Operand::Const(_)) => self.binary(a, value, av, x),
            (Operand::Const(_), Operand::Var(b)) => self.binary(b, value, av, F::one()),
            (Operand::Const(_), Operand::Const(_)) => self.unary(value, av),
        }
    }

    /// The logistic function `1 / (1 + e^-x)`, evaluated stably; derivative `s (1 - s)`.
    pub fn sigmoid(self) -> Self
    where
        F: adjoint_kernels::Float,
    {
        let s = math::sigmoid(self.value);
        self.unary(s, s * (F::one() - s))
    }

    /// The rectifier: `self` if positive, otherwise a constant 0 (derivative 0, also at 0);
    /// NaN stays NaN, with derivative NaN so the gradient shows it.
    pub fn relu(self) -> Self {
        if self.value > F::zero() {
            self
        } else if self.value.is_nan() {
            self.unary(self.value, F::nan())
        } else {
            self.constant(F::zero())
        }
    }
}

/// The constant 2 in any float type.
#[inline]
fn two<F: Float>() -> F {
    F::one() + F::one()
}

impl<F: fmt::Debug> fmt::Debug for Var<'_, F> {
    /// Shows the node index and value (not the whole tape).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Var")
            .field("index", &self.index)
            .field("value", &self.value)
            .finish()
    }
}

impl<F: fmt::Display> fmt::Display for Var<'_, F> {
    /// Shows the value, honouring the formatter's precision.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<F: Float> Neg for Var<'_, F> {
    type Output = Self;
    /// Negation; derivative `-1`.
    fn neg(self) -> Self {
        self.unary(-self.value, -F::one())
    }
}

impl<F: Float> Add for Var<'_, F> {
    type Output = Self;
    /// Sum; partials `1`, `1`.
    fn add(self, rhs: Self) -> Self {
        self.binary(rhs, self.value + rhs.value, F::one(), F::one())
    }
}

impl<F: Float> Sub for Var<'_, F> {
    type Output = Self;
    /// Difference; partials `1`, `-1`.
    fn sub(self, rhs: Self) -> Self {
        self.binary(rhs, self.value - rhs.value, F::one(), -F::one())
    }
}

impl<F: Float> Mul for Var<'_, F> {
    type Output = Self;
    /// Product; partials `b`, `a`.
    fn mul(self, rhs: Self) -> Self {
        self.binary(rhs, self.value * rhs.value, rhs.value, self.value)
    }
}

impl<F: Float> Div for Var<'_, F> {
    type Output = Self;
    /// Quotient `q = a / b`; partials `1 / b`, `-q / b`.
    fn div(self, rhs: Self) -> Self {
        let q = self.value / rhs.value;
        self.binary(rhs, q, rhs.value.recip(), -q / rhs.value)
    }
}

impl<F: Float> Add<F> for Var<'_, F> {
    type Output = Self;
    /// Adds a constant; derivative `1`.
    fn add(self, rhs: F) -> Self {
        self.unary(self.value + rhs, F::one())
    }
}

impl<F: Float> Sub<F> for Var<'_, F> {
    type Output = Self;
    /// Subtracts a constant; derivative `1`.
    fn sub(self, rhs: F) -> Self {
        self.unary(self.value - rhs, F::one())
    }
}

impl<F: Float> Mul<F> for Var<'_, F> {
    type Output = Self;
    /// Scales by a constant `c`; derivative `c`.
    fn mul(self, rhs: F) -> Self {
        self.unary(self.value * rhs, rhs)
    }
}

impl<F: Float> Div<F> for Var<'_, F> {
    type Output = Self;
    /// Divides by a constant `c`; derivative `1 / c`.
    fn div(self, rhs: F) -> Self {
        self.unary(self.value / rhs, rhs.recip())
    }
}

/// Implements a compound assignment for both `Var` and constant right-hand sides in terms of
/// the corresponding binary operator.
macro_rules! compound_assign {
    ($($trait:ident :: $method:ident => $op:tt),*) => {$(
        impl<'t, F: Float> $trait for Var<'t, F> {
            #[doc = concat!("`self = self ", stringify!($op), " rhs`, recorded as one operation.")]
            fn $method(&mut self, rhs: Self) {
                *self = *self $op rhs;
            }
        }

        impl<'t, F: Float> $trait<F> for Var<'t, F> {
            #[doc = concat!("`self = self ", stringify!($op), " c` for a constant `c`.")]
            fn $method(&mut self, rhs: F) {
                *self = *self $op rhs;
            }
        }
    )*};
}

compound_assign!(AddAssign::add_assign => +, SubAssign::sub_assign => -,
    MulAssign::mul_assign => *, DivAssign::div_assign => /);

impl<F: Float> PartialEq for Var<'_, F> {
    /// Compares values (not identity).
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<F: Float> PartialOrd for Var<'_, F> {
    /// Compares values.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.value.partial_cmp(&other.value)
    }
}

impl<F: Float> PartialEq<F> for Var<'_, F> {
    /// Compares the value with a constant.
    fn eq(&self, other: &F) -> bool {
        self.value == *other
    }
}

impl<F: Float> PartialOrd<F> for Var<'_, F> {
    /// Compares the value with a constant.
    fn partial_cmp(&self, other: &F) -> Option<Ordering> {
        self.value.partial_cmp(other)
    }
}

/// Implements the operators with a concrete float constant on the left-hand side, which
/// coherence rules forbid writing generically.
macro_rules! constant_lhs_ops {
    ($($t:ty),*) => {$(
        impl<'t> Add<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            /// Constant plus variable; derivative `1`.
            fn add(self, rhs: Var<'t, $t>) -> Var<'t, $t> {
                rhs.unary(self + rhs.value, 1.0)
            }
        }

        impl<'t> Sub<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            /// Constant minus variable; derivative `-1`.
            fn sub(self, rhs: Var<'t, $t>) -> Var<'t, $t> {
                rhs.unary(self - rhs.value, -1.0)
            }
        }

        impl<'t> Mul<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            /// Constant `c` times variable; derivative `c`.
            fn mul(self, rhs: Var<'t, $t>) -> Var<'t, $t> {
                rhs.unary(self * rhs.value, self)
            }
        }

        impl<'t> Div<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            /// Constant over variable, `q = c / x`; derivative `-q / x`.
            fn div(self, rhs: Var<'t, $t>) -> Var<'t, $t> {
                let q = self / rhs.value;
                rhs.unary(q, -q / rhs.value)
            }
        }

        impl<'t> PartialEq<Var<'t, $t>> for $t {
            /// Compares a constant with the variable's value.
            fn eq(&self, other: &Var<'t, $t>) -> bool {
                *self == other.value
            }
        }

        impl<'t> PartialOrd<Var<'t, $t>> for $t {
            /// Compares a constant with the variable's value.
            fn partial_cmp(&self, other: &Var<'t, $t>) -> Option<Ordering> {
                self.partial_cmp(&other.value)
            }
        }
    )*};
}

constant_lhs_ops!(f32, f64);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{central_difference, check_gradient, Tolerance};

    /// Asserts `|a - b| <= tol`, naming the quantity on failure.
    fn close(what: &str, a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{what}: {a} vs {b}");
    }

    /// Value and gradient of a function written against the tape, at `x`.
    fn tape_gradient(
        f: impl for<'t> Fn(&[Var<'t, f64>]) -> Var<'t, f64>,
        x: &[f64],
    ) -> (f64, Vec<f64>) {
        let tape = Tape::new();
        let vars: Vec<_> = x.iter().map(|&v| tape.var(v)).collect();
        let y = f(&vars);
        (y.value(), y.backward().wrt_all(&vars))
    }

    #[test]
    fn sin_of_product_plus_quotient() {
        let (x, y) = (0.7_f64, 1.3_f64);
        let tape = Tape::new();
        let (vx, vy) = (tape.var(x), tape.var(y));
        let f = (vx * vy).sin() + vx / vy;
        assert_eq!(tape.len(), 6);
        close("value", f.value(), (x * y).sin() + x / y, 1e-15);
        let g = f.backward();
        close("df/dx", g.wrt(vx), y * (x * y).cos() + 1.0 / y, 1e-14);
        close("df/dy", g.wrt(vy), x * (x * y).cos() - x / (y * y), 1e-14);
        let numeric = central_difference(|p| (p[0] * p[1]).sin() + p[0] / p[1], &[x, y], 1e-6);
        close("fd x", g.wrt(vx), numeric[0], 1e-8);
        close("fd y", g.wrt(vy), numeric[1], 1e-8);
    }

    #[test]
    fn hundred_iteration_logistic_map() {
        // x_{k+1} = r x_k (1 - x_k); dx_{k+1}/dx_0 = r (1 - 2 x_k) dx_k/dx_0, and
        // dx_{k+1}/dr = x_k (1 - x_k) + r (1 - 2 x_k) dx_k/dr.
        let (x0, r) = (0.3_f64, 2.9_f64);
        let (mut x, mut dx0, mut dr) = (x0, 1.0, 0.0);
        for _ in 0..100 {
            let factor = r * (1.0 - 2.0 * x);
            dr = x * (1.0 - x) + factor * dr;
            dx0 *= factor;
            x = r * x * (1.0 - x);
        }

        let tape = Tape::with_capacity(512);
        let (vx0, vr) = (tape.var(x0), tape.var(r));
        let mut v = vx0;
        for _ in 0..100 {
            v = vr * v * (1.0 - v);
        }
        assert_eq!(tape.len(), 2 + 100 * 3);
        close("value", v.value(), x, 1e-15);
        let g = v.backward();
        close("d/dx0", g.wrt(vx0), dx0, 1e-12 * dx0.abs().max(1.0));
        close("d/dr", g.wrt(vr), dr, 1e-12 * dr.abs().max(1.0));
    }

    #[test]
    fn hundred_iteration_sum_against_closed_form() {
        // f(x) = sum_{i<100} sin(i x) / (i + 1); f'(x) = sum i cos(i x) / (i + 1).
        let x = 0.37_f64;
        let (value, g) = tape_gradient(
            |v| {
                let mut acc = v[0] * 0.0;
                for i in 0..100 {
                    let i = f64::from(i);
                    acc += (v[0] * i).sin() / (i + 1.0);
                }
                acc
            },
            &[x],
        );
        let expected: f64 = (0..100)
            .map(|i| f64::from(i) * (f64::from(i) * x).cos() / f64::from(i + 1))
            .sum();
        let expected_value: f64 = (0..100)
            .map(|i| (f64::from(i) * x).sin() / f64::from(i + 1))
            .sum();
        close("value", value, expected_value, 1e-12);
        close("derivative", g[0], expected, 1e-11);
    }

    #[test]
    fn max_min_and_relu_follow_the_branch_taken() {
        let tape = Tape::new();
        let (a, b) = (tape.var(2.0_f64), tape.var(-3.0));
        let m = a.max(b) * 5.0;
        assert_eq!(m.value(), 10.0);
        let g = m.backward();
        assert_eq!((g.wrt(a), g.wrt(b)), (5.0, 0.0));

        let n = a.min(b) * a;
        assert_eq!(n.value(), -6.0);
        let g = n.backward();
        assert_eq!((g.wrt(a), g.wrt(b)), (-3.0, 2.0));

        let r = (a.relu() + b.relu()) * a;
        assert_eq!(r.value(), 4.0);
        let g = r.backward();
        assert_eq!((g.wrt(a), g.wrt(b)), (4.0, 0.0));

        let zero = tape.var(0.0_f64);
        assert_eq!(zero.relu().backward().wrt(zero), 0.0);

        let clipped = b.max(0.5);
        assert_eq!(clipped.value(), 0.5);
        assert_eq!(clipped.backward().wrt(b), 0.0);
        let kept = a.min(7.0);
        assert_eq!(kept.value(), 2.0);
        assert_eq!(kept.backward().wrt(a), 1.0);
        assert_eq!(a.max(f64::NAN).value(), 2.0);
    }

    #[test]
    fn every_elementary_method_matches_finite_differences() {
        type Case = (
            &'static str,
            fn(f64) -> f64,
            fn(Var<'_, f64>) -> Var<'_, f64>,
        );
        let cases: [Case; 26] = [
            ("sin", f64::sin, |v| v.sin()),
            ("cos", f64::cos, |v| v.cos()),
            ("tan", f64::tan, |v| v.tan()),
            ("asin", f64::asin, |v| v.asin()),
            ("acos", f64::acos, |v| v.acos()),
            ("atan", f64::atan, |v| v.atan()),
            ("sinh", f64::sinh, |v| v.sinh()),
            ("cosh", f64::cosh, |v| v.cosh()),
            ("tanh", f64::tanh, |v| v.tanh()),
            ("exp", f64::exp, |v| v.exp()),
            ("exp2", f64::exp2, |v| v.exp2()),
            ("ln", f64::ln, |v| v.ln()),
            ("log10", f64::log10, |v| v.log10()),
            ("log2", f64::log2, |v| v.log2()),
            ("sqrt", f64::sqrt, |v| v.sqrt()),
            ("cbrt", f64::cbrt, |v| v.cbrt()),
            ("abs", f64::abs, |v| v.abs()),
            ("recip", f64::recip, |v| v.recip()),
            ("neg", |x| -x, |v| -v),
            ("powi", |x| x.powi(5), |v| v.powi(5)),
            ("powi-neg", |x| x.powi(-2), |v| v.powi(-2)),
            ("powf-const", |x| x.powf(2.5), |v| v.powf(2.5)),
            ("sigmoid", |x| 1.0 / (1.0 + (-x).exp()), |v| v.sigmoid()),
            (
                "const-lhs",
                |x| 3.0 - 2.0 * x + 1.5 / x + (0.5 + x),
                |v| 3.0 - 2.0 * v + 1.5 / v + (0.5 + v),
            ),
            (
                "const-rhs",
                |x| (x + 1.0) * 4.0 / 8.0 - 0.25,
                |v| (v + 1.0) * 4.0 / 8.0 - 0.25,
            ),
            (
                "compound",
                |x| ((x + 1.0) * 3.0 - x) / 2.0 / x,
                |v| {
                    let mut w = v;
                    w += 1.0;
                    w *= 3.0;
                    w -= v;
                    w /= 2.0;
                    w /= v;
                    w
                },
            ),
        ];
        for x in [0.35, 0.8, -0.6] {
            for (name, plain, taped) in cases {
                if plain(x).is_nan() {
                    continue;
                }
                let (value, g) = tape_gradient(|v| taped(v[0]), &[x]);
                close(name, value, plain(x), 1e-14);
                check_gradient(|p| plain(p[0]), &g, &[x], Tolerance::default())
                    .unwrap_or_else(|e| panic!("{name} at {x}: {e}"));
            }
        }
    }

    #[test]
    fn two_argument_methods_match_finite_differences() {
        type Case = (
            &'static str,
            fn(&[f64]) -> f64,
            for<'t> fn(&[Var<'t, f64>]) -> Var<'t, f64>,
        );
        let cases: [Case; 12] = [
            ("atan2", |p| p[0].atan2(p[1]), |v| v[0].atan2(v[1])),
            ("atan2-const", |p| p[0].atan2(-0.4), |v| v[0].atan2(-0.4)),
            ("hypot", |p| p[0].hypot(p[1]), |v| v[0].hypot(v[1])),
            ("hypot-const", |p| p[1].hypot(2.0), |v| v[1].hypot(2.0)),
            ("log", |p| p[0].log(p[1]), |v| v[0].log(v[1])),
            ("log-const", |p| p[1].log(3.0), |v| v[1].log(3.0)),
            ("powf", |p| p[1].powf(p[0]), |v| v[1].powf(v[0])),
            (
                "mul_add",
                |p| p[0].mul_add(p[1], p[0]),
                |v| v[0].mul_add(v[1], v[0]),
            ),
            (
                "mul_add-c1",
                |p| p[0].mul_add(2.0, p[1]),
                |v| v[0].mul_add(2.0, v[1]),
            ),
            (
                "mul_add-c2",
                |p| p[0].mul_add(p[1], 2.0),
                |v| v[0].mul_add(v[1], 2.0),
            ),
            (
                "mul_add-cc",
                |p| p[1].mul_add(-3.0, 2.0),
                |v| v[1].mul_add(-3.0, 2.0),
            ),
            (
                "div-mul-sub",
                |p| p[0] / p[1] * p[0] - p[1],
                |v| v[0] / v[1] * v[0] - v[1],
            ),
        ];
        for x in [[0.6, 1.7], [1.4, 2.3], [-0.9, 0.8]] {
            for (name, plain, taped) in cases {
                if plain(&x).is_nan() {
                    continue;
                }
                let (value, g) = tape_gradient(taped, &x);
                close(name, value, plain(&x), 1e-14);
                check_gradient(plain, &g, &x, Tolerance::default())
                    .unwrap_or_else(|e| panic!("{name} at {x:?}: {e}"));
            }
        }
    }

    #[test]
    fn powf_exponent_derivative_is_zero_where_the_power_vanishes() {
        let tape = Tape::new();
        let (x, p) = (tape.var(0.0_f64), tape.var(2.0));
        let y = x.powf(p);
        let g = y.backward();
        assert_eq!((y.value(), g.wrt(x), g.wrt(p)), (0.0, 0.0, 0.0));
    }

    #[test]
    fn unrelated_and_later_variables_get_zero() {
        let tape = Tape::new();
        let (a, b) = (tape.var(1.5_f64), tape.var(2.0));
        let y = a.exp();
        let later = tape.var(4.0);
        let g = y.backward();
        close("d/da", g.wrt(a), 1.5_f64.exp(), 1e-15);
        assert_eq!(g.wrt(b), 0.0);
        assert_eq!(g.wrt(later), 0.0);
        assert_eq!(g.wrt(y), 1.0);
    }

    #[test]
    fn unused_infinite_partial_does_not_poison_gradients() {
        let tape = Tape::new();
        let x = tape.var(0.0_f64);
        let unused = x.sqrt() * 0.0;
        let y = x * 3.0 + unused.relu();
        assert_eq!(y.backward().wrt(x), 3.0);
    }

    #[test]
    fn works_in_single_precision() {
        let tape = Tape::new();
        let (x, y) = (tape.var(0.5_f32), tape.var(2.0_f32));
        let f = x * y + 2.0_f32 * x.powf(y) - y.sigmoid();
        let g = f.backward();
        let s = 1.0 / (1.0 + (-2.0_f32).exp());
        assert!((g.wrt(x) - (2.0 + 2.0 * 2.0 * 0.5)).abs() < 1e-6);
        assert!((g.wrt(y) - (0.5 + 2.0 * 0.25 * 0.5_f32.ln() - s * (1.0 - s))).abs() < 1e-6);
    }

    #[test]
    fn comparisons_use_values() {
        let tape = Tape::new();
        let (a, b) = (tape.var(1.0_f64), tape.var(2.0));
        assert!(a < b);
        assert!(b > a);
        assert!(a != b);
        assert!(a == 1.0);
        assert!(1.0 == a);
        assert!(a < 1.5);
        assert!(0.5 < a);
        assert!(a > 0.5);
        assert_eq!(a.partial_cmp(&b), Some(Ordering::Less));
        assert_eq!(a, tape.var(1.0));
    }

    #[test]
    fn clear_reuses_the_tape() {
        let mut tape = Tape::with_capacity(8);
        {
            let x = tape.var(3.0_f64);
            let y = x * x;
            assert_eq!(y.index(), 1);
            assert_eq!(y.backward().wrt(x), 6.0);
        }
        assert_eq!(tape.len(), 2);
        tape.clear();
        assert!(tape.is_empty());
        let x = tape.var(-1.0_f64);
        assert_eq!(x.index(), 0);
        assert_eq!((x * x * x).backward().wrt(x), 3.0);
        assert_eq!(format!("{x:?}"), "Var { index: 0, value: -1.0 }");
        assert_eq!(format!("{:.2}", x), "-1.00");
    }
}
