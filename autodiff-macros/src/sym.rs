//! The algebra derivative rules are written in.
//!
//! [`Real`] is implemented twice: by [`Sym`], which builds Rust expressions
//! (what codegen emits), and by `f64` (what the IR interpreter in the tests
//! evaluates). Writing each rule once over `Real` means the tests check the
//! very rules the generated code uses.

use crate::ir::{FloatTy, ValueId};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use std::collections::BTreeSet;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// A number type the derivative rules can compute with.
pub trait Real:
    Clone
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// A literal constant.
    fn lit(x: f64) -> Self;
    /// Applies the named one-argument float method (`sin`, `exp`, ...).
    fn call1(self, method: &str) -> Self;
    /// Applies the named two-argument float method (`powf`, `atan2`, ...).
    fn call2(self, method: &str, other: Self) -> Self;
    /// `self * b + c` in one rounding (`mul_add`).
    fn mul_add3(self, b: Self, c: Self) -> Self;
    /// `self.powi(n)` where `n` holds an integer.
    fn powi(self, n: Self) -> Self;
    /// `n - 1` for an integer `n`.
    fn int_minus_one(self) -> Self;
    /// The integer `self` converted to the float type.
    fn int_to_float(self) -> Self;
    /// `if a > b { then } else { otherwise }`.
    fn select_gt(a: Self, b: Self, then: Self, otherwise: Self) -> Self;
    /// `if a == b { then } else { otherwise }` (a NaN equals nothing).
    fn select_eq(a: Self, b: Self, then: Self, otherwise: Self) -> Self;
    /// `if a == y || b.is_nan() { then } else { otherwise }`: whether `y =
    /// a.max(b)` (or `a.min(b)`) returned its first operand, ties and two
    /// NaNs included.
    fn select_first(a: Self, b: Self, y: Self, then: Self, otherwise: Self) -> Self;
    /// The runtime's logistic sigmoid.
    fn sigmoid(self) -> Self;
    /// The runtime's rectifier.
    fn relu(self) -> Self;
    /// `ln 2`.
    fn ln_2() -> Self;
    /// `ln 10`.
    fn ln_10() -> Self;
}

impl Real for f64 {
    fn lit(x: f64) -> Self {
        x
    }
    fn call1(self, method: &str) -> Self {
        match method {
            "sin" => self.sin(),
            "cos" => self.cos(),
            "tan" => self.tan(),
            "asin" => self.asin(),
            "acos" => self.acos(),
            "atan" => self.atan(),
            "sinh" => self.sinh(),
            "cosh" => self.cosh(),
            "tanh" => self.tanh(),
            "exp" => self.exp(),
            "exp2" => self.exp2(),
            "ln" => self.ln(),
            "log10" => self.log10(),
            "log2" => self.log2(),
            "sqrt" => self.sqrt(),
            "cbrt" => self.cbrt(),
            "abs" => self.abs(),
            "recip" => self.recip(),
            "signum" => self.signum(),
            other => panic!("interpreter: unknown method {other}"),
        }
    }
    fn call2(self, method: &str, other: Self) -> Self {
        match method {
            "powf" => self.powf(other),
            "atan2" => self.atan2(other),
            "hypot" => self.hypot(other),
            "log" => self.log(other),
            "max" => self.max(other),
            "min" => self.min(other),
            other => panic!("interpreter: unknown method {other}"),
        }
    }
    fn mul_add3(self, b: Self, c: Self) -> Self {
        self.mul_add(b, c)
    }
    fn powi(self, n: Self) -> Self {
        self.powi(n as i32)
    }
    fn int_minus_one(self) -> Self {
        self - 1.0
    }
    fn int_to_float(self) -> Self {
        self
    }
    fn select_gt(a: Self, b: Self, then: Self, otherwise: Self) -> Self {
        if a > b {
            then
        } else {
            otherwise
        }
    }
    fn select_eq(a: Self, b: Self, then: Self, otherwise: Self) -> Self {
        if a == b {
            then
        } else {
            otherwise
        }
    }
    fn select_first(a: Self, b: Self, y: Self, then: Self, otherwise: Self) -> Self {
        if a == y || b.is_nan() {
            then
        } else {
            otherwise
        }
    }
    fn sigmoid(self) -> Self {
        1.0 / (1.0 + (-self).exp())
    }
    fn relu(self) -> Self {
        if self > 0.0 || self.is_nan() {
            self
        } else {
            0.0
        }
    }
    fn ln_2() -> Self {
        std::f64::consts::LN_2
    }
    fn ln_10() -> Self {
        std::f64::consts::LN_10
    }
}

/// Binding strength of a generated expression, to parenthesise only where
/// Rust's precedence needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    Sum,
    Product,
    Prefix,
    Atom,
}

/// A generated Rust expression, with the SSA values it reads.
#[derive(Clone, Debug)]
pub struct Sym {
    tokens: TokenStream,
    prec: Prec,
    literal: Option<f64>,
    /// `x` when this expression is `-x`.
    negation_of: Option<Box<Sym>>,
    /// The values this expression reads: the reverse sweep must have them.
    pub reads: BTreeSet<ValueId>,
}

impl Sym {
    /// The expression naming an SSA value.
    pub fn value(v: ValueId, ident: &syn::Ident) -> Sym {
        Sym {
            tokens: quote!(#ident),
            prec: Prec::Atom,
            literal: None,
            negation_of: None,
            reads: BTreeSet::from([v]),
        }
    }

    /// An expression naming a local that is not an SSA value (an adjoint).
    pub fn local(ident: &syn::Ident) -> Sym {
        Sym {
            tokens: quote!(#ident),
            prec: Prec::Atom,
            literal: None,
            negation_of: None,
            reads: BTreeSet::new(),
        }
    }

    /// The Rust tokens.
    pub fn tokens(&self) -> &TokenStream {
        &self.tokens
    }

    /// `x` if this expression is `-x`.
    pub fn negated(&self) -> Option<Sym> {
        strip_neg(self)
    }

    fn merged(&self, other: &Sym, tokens: TokenStream, prec: Prec) -> Sym {
        Sym {
            tokens,
            prec,
            literal: None,
            negation_of: None,
            reads: self.reads.union(&other.reads).copied().collect(),
        }
    }

    fn at_least(&self, prec: Prec) -> TokenStream {
        let tokens = &self.tokens;
        if self.prec >= prec {
            tokens.clone()
        } else {
            quote!((#tokens))
        }
    }

    fn binary(self, other: Sym, op: TokenStream, prec: Prec) -> Sym {
        let lhs = self.at_least(prec);
        let rhs = other.at_least(next_prec(prec));
        self.merged(&other, quote!(#lhs #op #rhs), prec)
    }

    fn is_lit(&self, x: f64) -> bool {
        self.literal == Some(x)
    }

    fn ty_const(name: &str) -> Sym {
        let ident = format_ident!("{}", name);
        let ty = float_ty_ident();
        Sym {
            tokens: quote!(::core::#ty::consts::#ident),
            prec: Prec::Atom,
            literal: None,
            negation_of: None,
            reads: BTreeSet::new(),
        }
    }
}

fn next_prec(prec: Prec) -> Prec {
    match prec {
        Prec::Sum => Prec::Product,
        Prec::Product => Prec::Prefix,
        Prec::Prefix | Prec::Atom => Prec::Atom,
    }
}

impl Add for Sym {
    type Output = Sym;
    /// `a + b`, printed as `a - x` when `b` is `-x`.
    #[allow(clippy::suspicious_arithmetic_impl)]
    fn add(self, rhs: Sym) -> Sym {
        if self.is_lit(0.0) {
            return rhs;
        }
        if rhs.is_lit(0.0) {
            return self;
        }
        if let Some(negated) = strip_neg(&rhs) {
            return self - negated;
        }
        self.binary(rhs, quote!(+), Prec::Sum)
    }
}

impl Sub for Sym {
    type Output = Sym;
    fn sub(self, rhs: Sym) -> Sym {
        if rhs.is_lit(0.0) {
            return self;
        }
        if self.is_lit(0.0) {
            return -rhs;
        }
        self.binary(rhs, quote!(-), Prec::Sum)
    }
}

impl Mul for Sym {
    type Output = Sym;
    fn mul(self, rhs: Sym) -> Sym {
        if self.is_lit(1.0) {
            return rhs;
        }
        if rhs.is_lit(1.0) {
            return self;
        }
        if self.is_lit(-1.0) {
            return -rhs;
        }
        if rhs.is_lit(-1.0) {
            return -self;
        }
        self.binary(rhs, quote!(*), Prec::Product)
    }
}

impl Div for Sym {
    type Output = Sym;
    fn div(self, rhs: Sym) -> Sym {
        if rhs.is_lit(1.0) {
            return self;
        }
        self.binary(rhs, quote!(/), Prec::Product)
    }
}

impl Neg for Sym {
    type Output = Sym;
    fn neg(self) -> Sym {
        if let Some(x) = self.literal {
            return Sym::lit(-x);
        }
        if let Some(inner) = strip_neg(&self) {
            return inner;
        }
        let operand = self.at_least(Prec::Prefix);
        Sym {
            tokens: quote!(-#operand),
            prec: Prec::Prefix,
            literal: None,
            reads: self.reads.clone(),
            negation_of: Some(Box::new(self)),
        }
    }
}

/// `x` if `sym` is `-x`.
fn strip_neg(sym: &Sym) -> Option<Sym> {
    sym.negation_of.as_deref().cloned()
}

impl Real for Sym {
    fn lit(x: f64) -> Self {
        let magnitude = Literal::f64_unsuffixed(x.abs());
        let (tokens, prec, negation_of) = if x < 0.0 {
            (
                quote!(-#magnitude),
                Prec::Prefix,
                Some(Box::new(Sym::lit(-x))),
            )
        } else {
            (quote!(#magnitude), Prec::Atom, None)
        };
        Sym {
            tokens,
            prec,
            literal: Some(x),
            negation_of,
            reads: BTreeSet::new(),
        }
    }

    fn call1(self, method: &str) -> Self {
        let name = format_ident!("{}", method);
        // exp and tanh go through the runtime's vectorisable versions, which
        // its kernels and the tape use too.
        let tokens = if matches!(method, "exp" | "tanh") {
            let arg = &self.tokens;
            quote!(::adjoint::__private::#name(#arg))
        } else {
            let receiver = self.at_least(Prec::Atom);
            quote!(#receiver.#name())
        };
        Sym {
            tokens,
            prec: Prec::Atom,
            literal: None,
            negation_of: None,
            reads: self.reads,
        }
    }

    fn call2(self, method: &str, other: Self) -> Self {
        let receiver = self.at_least(Prec::Atom);
        let name = format_ident!("{}", method);
        let arg = &other.tokens;
        let tokens = quote!(#receiver.#name(#arg));
        self.merged(&other, tokens, Prec::Atom)
    }

    fn mul_add3(self, b: Self, c: Self) -> Self {
        let receiver = self.at_least(Prec::Atom);
        let (tb, tc) = (&b.tokens, &c.tokens);
        let tokens = quote!(#receiver.mul_add(#tb, #tc));
        let mut out = self.merged(&b, tokens, Prec::Atom);
        out.reads.extend(c.reads);
        out
    }

    fn powi(self, n: Self) -> Self {
        self.call2("powi", n)
    }

    fn int_minus_one(self) -> Self {
        let n = self.at_least(Prec::Product);
        Sym {
            tokens: quote!((#n - 1)),
            prec: Prec::Atom,
            literal: None,
            negation_of: None,
            reads: self.reads,
        }
    }

    fn int_to_float(self) -> Self {
        let n = self.at_least(Prec::Atom);
        let ty = float_ty_ident();
        Sym {
            tokens: quote!((#n as #ty)),
            prec: Prec::Atom,
            literal: None,
            negation_of: None,
            reads: self.reads,
        }
    }

    fn select_gt(a: Self, b: Self, then: Self, otherwise: Self) -> Self {
        select(a, b, quote!(>), then, otherwise)
    }

    fn select_eq(a: Self, b: Self, then: Self, otherwise: Self) -> Self {
        select(a, b, quote!(==), then, otherwise)
    }

    fn select_first(a: Self, b: Self, y: Self, then: Self, otherwise: Self) -> Self {
        let (ta, ty) = (a.at_least(Prec::Product), y.at_least(Prec::Product));
        let tb = b.at_least(Prec::Atom);
        let (tt, to) = (&then.tokens, &otherwise.tokens);
        let tokens = quote!((if #ta == #ty || #tb.is_nan() { #tt } else { #to }));
        let mut reads = a.reads;
        reads.extend(b.reads);
        reads.extend(y.reads);
        reads.extend(then.reads);
        reads.extend(otherwise.reads);
        Sym {
            tokens,
            prec: Prec::Atom,
            literal: None,
            negation_of: None,
            reads,
        }
    }

    fn sigmoid(self) -> Self {
        let arg = &self.tokens;
        Sym {
            tokens: quote!(::adjoint::__private::sigmoid(#arg)),
            prec: Prec::Atom,
            literal: None,
            negation_of: None,
            reads: self.reads,
        }
    }

    fn relu(self) -> Self {
        let arg = &self.tokens;
        Sym {
            tokens: quote!(::adjoint::__private::relu(#arg)),
            prec: Prec::Atom,
            literal: None,
            negation_of: None,
            reads: self.reads,
        }
    }

    fn ln_2() -> Self {
        Sym::ty_const("LN_2")
    }

    fn ln_10() -> Self {
        Sym::ty_const("LN_10")
    }
}

fn select(a: Sym, b: Sym, cmp: TokenStream, then: Sym, otherwise: Sym) -> Sym {
    let (ta, tb) = (a.at_least(Prec::Product), b.at_least(Prec::Product));
    let (tt, to) = (&then.tokens, &otherwise.tokens);
    let tokens = quote!((if #ta #cmp #tb { #tt } else { #to }));
    let mut reads = a.reads;
    reads.extend(b.reads);
    reads.extend(then.reads);
    reads.extend(otherwise.reads);
    Sym {
        tokens,
        prec: Prec::Atom,
        literal: None,
        negation_of: None,
        reads,
    }
}

thread_local! {
    static FLOAT_TY: std::cell::Cell<FloatTy> = const { std::cell::Cell::new(FloatTy::F64) };
}

/// Runs `f` with `float_ty` as the type named by casts and constants that
/// [`Sym`] emits (one macro expansion generates code for one float type).
pub fn with_float_ty<T>(float_ty: FloatTy, f: impl FnOnce() -> T) -> T {
    let previous = FLOAT_TY.with(|c| c.replace(float_ty));
    let out = f();
    FLOAT_TY.with(|c| c.set(previous));
    out
}

fn float_ty_ident() -> syn::Ident {
    format_ident!("{}", FLOAT_TY.with(|c| c.get()).name())
}
