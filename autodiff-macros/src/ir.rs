//! The compiler's intermediate representation: a structured SSA program.
//!
//! A function body is a [`Region`]: a list of statements, each defining SSA
//! values. Control flow stays structured: an [`Stmt::If`] holds two regions and
//! merges the values its branches assign, a [`Stmt::For`] holds a body region
//! with loop-carried values, and a [`Stmt::Loop`] (`while`, `loop`) runs its
//! body until a flag the body computes says stop. Mutable Rust variables exist only in the parser's
//! environment; in the IR every assignment is a fresh value.

use proc_macro2::{Span, TokenStream};

/// Index of an SSA value in [`Function::values`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValueId(pub usize);

/// Index of a region, unique within a function (the body is region 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionId(pub usize);

/// What kind of Rust value an SSA value holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The function's float type: may carry derivatives.
    Float,
    /// Integers, booleans and other data: never differentiated.
    Other,
    /// A constant whose type the macro cannot see (a `const` item, an unknown
    /// path); it becomes a float constant when used in float arithmetic.
    Untyped,
    /// A `Tensor` of the function's float type.
    Tensor,
    /// A model: a struct implementing `Parameters` (its fields are tensors).
    Model,
}

impl Kind {
    /// Whether values of this kind can carry derivatives.
    pub fn is_differentiable(self) -> bool {
        matches!(self, Kind::Float | Kind::Tensor | Kind::Model)
    }
}

/// The float type a function computes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatTy {
    F32,
    F64,
}

impl FloatTy {
    /// The Rust type name, `f32` or `f64`.
    pub fn name(self) -> &'static str {
        match self {
            FloatTy::F32 => "f32",
            FloatTy::F64 => "f64",
        }
    }
}

/// Facts about one SSA value.
#[derive(Clone, Debug)]
pub struct ValueInfo {
    pub kind: Kind,
    /// Where the user wrote the expression that computes it: generated code
    /// for the value carries this span, so type errors and run-time shape
    /// errors (through `#[track_caller]`) name the user's line.
    pub span: Span,
}

/// An elementary operation. Each has a forward and an adjoint rule in
/// `rules.rs`, except [`Op::Const`] (no derivative) and [`Op::Call`]
/// (the callee's own generated pullback).
#[derive(Clone, Debug)]
pub enum Op {
    /// Rust code evaluated as is (literals, constants, casts, integer and boolean
    /// arithmetic). Values it reads appear as placeholder idents, see
    /// [`value_placeholder`].
    Const(TokenStream),
    Add,
    Sub,
    Mul,
    Div,
    Neg,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Atan2,
    Sinh,
    Cosh,
    Tanh,
    Exp,
    Exp2,
    Ln,
    Log10,
    Log2,
    Log,
    Sqrt,
    Cbrt,
    Powi,
    Powf,
    Abs,
    Recip,
    Hypot,
    Max,
    Min,
    MulAdd,
    Sigmoid,
    Relu,
    /// A call of another `#[differentiable]` function.
    Call(Callee),
    /// A tensor op (rules in `tensor_rules.rs`).
    Tensor(crate::tensor_rules::TensorOp),
    /// The tensor at a path into a model (`p.layer1.w`, `p.layers[0].w`).
    Field(FieldPath),
    /// `x[i]`: an element of an active slice argument (args: the slice, the
    /// integer index). Its adjoint is scattered into the slice's adjoint at
    /// the same index (`x_bar[i] += g`).
    Index,
}

/// The callee of an [`Op::Call`] and where each argument was written (so a
/// check about an argument lands on the user's token).
#[derive(Clone, Debug)]
pub struct Callee {
    pub path: syn::Path,
    pub span: Span,
    pub arg_spans: Vec<Span>,
}

/// A path into a model: field names and `Vec` indices (constants or run-time
/// values). As tokens it is `.layers[0].w` (run-time indices as value
/// placeholders, resolved by codegen); displayed likewise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath(pub Vec<FieldStep>);

/// One step of a [`FieldPath`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldStep {
    /// `.name`
    Name(syn::Ident),
    /// `[index]`
    Index(usize),
    /// `[i]` with a run-time index (an integer value, e.g. a loop index).
    Var(ValueId),
}

impl quote::ToTokens for FieldPath {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        for step in &self.0 {
            match step {
                FieldStep::Name(ident) => tokens.extend(quote::quote!(.#ident)),
                FieldStep::Index(i) => {
                    let i = proc_macro2::Literal::usize_unsuffixed(*i);
                    tokens.extend(quote::quote!([#i]));
                }
                FieldStep::Var(v) => {
                    let v = value_placeholder(*v);
                    tokens.extend(quote::quote!([#v]));
                }
            }
        }
    }
}

impl FieldPath {
    /// Whether some index is a run-time value.
    pub fn is_dynamic(&self) -> bool {
        self.0.iter().any(|s| matches!(s, FieldStep::Var(_)))
    }
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for step in &self.0 {
            match step {
                FieldStep::Name(ident) => write!(f, ".{ident}")?,
                FieldStep::Index(i) => write!(f, "[{i}]")?,
                FieldStep::Var(v) => write!(f, "[#{}]", v.0)?,
            }
        }
        Ok(())
    }
}

/// A merge of one variable at the end of an `if`: `out` is `then_value` or
/// `else_value` depending on the branch taken.
#[derive(Clone, Debug)]
pub struct Merge {
    pub out: ValueId,
    pub then_value: ValueId,
    pub else_value: ValueId,
}

/// A loop-carried variable: `phi` is its value at the start of an iteration
/// (`init` on the first), `next` its value at the end, `out` after the loop.
#[derive(Clone, Debug)]
pub struct Carried {
    pub init: ValueId,
    pub phi: ValueId,
    pub next: ValueId,
    pub out: ValueId,
}

/// One statement of a region.
#[derive(Clone, Debug)]
pub enum Stmt {
    /// `value = op(args)`.
    Let {
        value: ValueId,
        op: Op,
        args: Vec<ValueId>,
    },
    /// A two-way branch on a run-time condition.
    If {
        cond: ValueId,
        then_region: Region,
        else_region: Region,
        merges: Vec<Merge>,
    },
    /// `for index in lo..hi` (or `..=`), bounds known at run time.
    For {
        index: ValueId,
        lo: ValueId,
        hi: ValueId,
        inclusive: bool,
        carried: Vec<Carried>,
        body: Region,
    },
    /// `loop { .. }` (and `while`, lowered to it): the body runs, then the
    /// loop ends if `exit` (a boolean the body defines) is true, so it runs
    /// at least once. `trips` is the number of iterations run, counted by
    /// the forward sweep for the reverse sweep. `Carried::out` is the value
    /// at the end of the last iteration.
    Loop {
        trips: ValueId,
        exit: ValueId,
        carried: Vec<Carried>,
        body: Region,
    },
}

/// A straight-line list of statements with nested control flow.
#[derive(Clone, Debug)]
pub struct Region {
    pub id: RegionId,
    pub stmts: Vec<Stmt>,
}

/// A function argument.
#[derive(Clone, Debug)]
pub struct Param {
    pub ident: syn::Ident,
    pub value: ValueId,
    /// Differentiated with respect to (a float argument without `#[constant]`).
    pub active: bool,
    /// A slice of the function's float type (`&[f64]`): its elements are
    /// read with [`Op::Index`] (active) or as constants.
    pub slice: bool,
}

/// A lowered `#[differentiable]` function.
#[derive(Clone, Debug)]
pub struct Function {
    pub name: syn::Ident,
    pub float_ty: FloatTy,
    pub params: Vec<Param>,
    pub body: Region,
    pub result: ValueId,
    pub values: Vec<ValueInfo>,
    /// Floats written in operand slots that have no derivative rule: each
    /// must be inactive (checked after activity analysis).
    pub data_operands: Vec<DataOperand>,
    /// The fused element-wise regions (`TensorOp::Fused(i)`).
    pub regions: Vec<crate::region::Region>,
}

/// A float in a tensor op's data slot (one without a derivative rule).
#[derive(Clone, Debug)]
pub struct DataOperand {
    pub value: ValueId,
    pub span: Span,
    /// The op or function as users write it (`sum_axis`, `Tensor::full`).
    pub op: String,
}

impl Function {
    /// The kind of a value.
    pub fn kind(&self, v: ValueId) -> Kind {
        self.values[v.0].kind
    }

    /// Where the user wrote the expression computing a value.
    pub fn span(&self, v: ValueId) -> Span {
        self.values[v.0].span
    }

    /// The parameter `v` is, if it is an active slice argument.
    pub fn active_slice(&self, v: ValueId) -> Option<&Param> {
        self.params
            .iter()
            .find(|p| p.value == v && p.slice && p.active)
    }
}

/// The ident under which `Op::Const` code refers to value `v` before codegen
/// gives values their final names.
pub fn value_placeholder(v: ValueId) -> syn::Ident {
    syn::Ident::new(&format!("__adjoint_value_{}", v.0), Span::call_site())
}

/// The values the placeholders in `tokens` stand for (opaque code's reads).
pub fn placeholders(tokens: &TokenStream) -> Vec<ValueId> {
    let mut out = Vec::new();
    for tt in tokens.clone() {
        match tt {
            proc_macro2::TokenTree::Ident(i) => out.extend(parse_placeholder(&i)),
            proc_macro2::TokenTree::Group(g) => out.extend(placeholders(&g.stream())),
            _ => {}
        }
    }
    out
}

/// The value a placeholder ident stands for, if it is one.
pub fn parse_placeholder(ident: &syn::Ident) -> Option<ValueId> {
    ident
        .to_string()
        .strip_prefix("__adjoint_value_")
        .and_then(|n| n.parse().ok())
        .map(ValueId)
}

/// Calls `f` on every statement of `region` and of all regions nested in it,
/// outer statements before inner ones.
pub fn walk_stmts<'a>(region: &'a Region, f: &mut impl FnMut(&'a Stmt)) {
    for stmt in &region.stmts {
        f(stmt);
        match stmt {
            Stmt::Let { .. } => {}
            Stmt::If {
                then_region,
                else_region,
                ..
            } => {
                walk_stmts(then_region, f);
                walk_stmts(else_region, f);
            }
            Stmt::For { body, .. } | Stmt::Loop { body, .. } => walk_stmts(body, f),
        }
    }
}
