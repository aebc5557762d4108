//! Lowering: the syn AST of a function body to the structured SSA IR.
//!
//! This is also the fence: every syntax kind is either lowered or rejected
//! here with a spanned error saying what is supported instead. Lowering
//! continues after an error so that all problems are reported together.

use crate::diagnostics::Errors;
use crate::env::Env;
use crate::ir::{
    value_placeholder, FloatTy, Function, Kind, Op, Param, Region, RegionId, Stmt, ValueId,
    ValueInfo,
};
use crate::signature::{ParamKind, Signature};
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use std::collections::HashMap;

mod control;
mod expr;
mod loops;
mod slices;
mod stmt;
mod syntax;
mod tensor;

const SUPPORTED_SUMMARY: &str =
    "supported are float arithmetic (+ - * /, unary -), literals and consts, \
     the math methods, `let`/`let mut` with `=` `+=` `-=` `*=` `/=`, `if`/`else`, \
     `for i in a..b`, `while` and `loop` loops with `break`/`continue`, `return`, \
     reading slices (`x[i]`, `x.len()`), and calls to other #[differentiable] functions";

/// Float methods whose derivative is zero almost everywhere: their result is
/// treated as a constant.
const PIECEWISE_CONSTANT: &[&str] = &["floor", "ceil", "round", "trunc", "signum"];

/// Float methods that inspect a value and return non-float data.
const INSPECTIONS: &[&str] = &[
    "is_nan",
    "is_finite",
    "is_infinite",
    "is_normal",
    "is_sign_positive",
    "is_sign_negative",
    "total_cmp",
    "partial_cmp",
];

type Lowered<T> = Result<T, ()>;

/// Lowers the body of a function with a checked signature.
pub fn lower(item: &syn::ItemFn, sig: &Signature, errors: &mut Errors) -> Option<Function> {
    let mut lowerer = Lowerer {
        values: Vec::new(),
        regions: Vec::new(),
        region_count: 0,
        const_tokens: HashMap::new(),
        errors,
        float_ty: sig.float_ty,
        early_return: None,
        tensor_mode: sig.tensor_mode(),
        returns_tensor: sig.returns_tensor,
        data_operands: Vec::new(),
        expect: None,
        guessed_tensor_calls: HashMap::new(),
        fields: HashMap::new(),
        fn_name: sig.name.to_string(),
        span: sig.name.span(),
        slices: Vec::new(),
        loop_flags: None,
    };
    let before = lowerer.errors.len();
    let mut env = Env::new();
    let mut params = Vec::new();
    lowerer.open_region();
    for p in &sig.params {
        let kind = match p.kind {
            ParamKind::Float => Kind::Float,
            ParamKind::Tensor => Kind::Tensor,
            ParamKind::Model => Kind::Model,
            ParamKind::Data => Kind::Other,
        };
        let value = lowerer.new_value(kind);
        env.declare(p.ident.to_string(), value, p.mutable);
        if p.slice {
            lowerer.slices.push((value, p.active));
        }
        params.push(Param {
            ident: p.ident.clone(),
            value,
            active: p.active,
            slice: p.slice,
        });
    }
    let result = lowerer.lower_body(&item.block, &mut env);
    let body = lowerer.close_region();
    let result = result.ok()?;
    if lowerer.errors.len() > before {
        return None;
    }
    Some(Function {
        name: sig.name.clone(),
        float_ty: sig.float_ty,
        params,
        body,
        result,
        values: lowerer.values,
        data_operands: lowerer.data_operands,
        regions: Vec::new(),
    })
}

struct RegionBuilder {
    id: RegionId,
    stmts: Vec<Stmt>,
    cse: HashMap<String, ValueId>,
}

/// Names of the variables that carry an early `return` through the body.
struct EarlyReturn {
    value: String,
    done: String,
}

struct Lowerer<'e> {
    values: Vec<ValueInfo>,
    regions: Vec<RegionBuilder>,
    region_count: usize,
    const_tokens: HashMap<ValueId, TokenStream>,
    errors: &'e mut Errors,
    float_ty: FloatTy,
    early_return: Option<EarlyReturn>,
    /// The function computes with tensors: control flow is not supported yet.
    tensor_mode: bool,
    /// The function returns a tensor.
    returns_tensor: bool,
    /// Floats passed in tensor ops' data slots (checked to be inactive).
    data_operands: Vec<crate::ir::DataOperand>,
    /// The kind the context expects of the expression being lowered (the
    /// function's result, a typed `let`, float arithmetic around it): decides
    /// a call's result kind, which the macro cannot see.
    expect: Option<Kind>,
    /// Tensor values computed from a call whose result was guessed to be a
    /// tensor, with the callee's name (for the error if it was a float).
    guessed_tensor_calls: HashMap<ValueId, (String, Span)>,
    /// Model-path values: their model and path (so paths from them compose).
    fields: HashMap<ValueId, (ValueId, crate::ir::FieldPath)>,
    /// The function's own name (a call of it is recursion).
    fn_name: String,
    /// The span of the expression being lowered (given to the values it defines).
    span: Span,
    /// The float slice arguments (`&[f64]`) and whether each is active.
    slices: Vec<(ValueId, bool)>,
    /// Set while the body of a loop that may `break`/`continue` is lowered
    /// (its flags are variables of the lowering environment, see `loops.rs`).
    loop_flags: Option<loops::LoopFlags>,
}

/// What a statement list does with its tail expression.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// The tail is the block's value.
    Value,
    /// The block's value is unused: the tail is lowered as a statement.
    Discard,
    /// The tail is the function's result, assigned to the early-return slot.
    AssignReturn,
}

impl Lowerer<'_> {
    // ----- values and regions -------------------------------------------------

    fn new_value(&mut self, kind: Kind) -> ValueId {
        self.values.push(ValueInfo {
            kind,
            span: self.span,
        });
        ValueId(self.values.len() - 1)
    }

    fn kind(&self, v: ValueId) -> Kind {
        self.values[v.0].kind
    }

    /// Sets the kind of a call's result from a `let` type annotation (the
    /// macro cannot see the callee's return type).
    fn retype_call(&mut self, v: ValueId, kind: Kind) {
        let is_call = self.regions.iter().any(|r| {
            r.stmts
                .iter()
                .any(|s| matches!(s, Stmt::Let { value, op: Op::Call(_), .. } if *value == v))
        });
        if is_call {
            self.values[v.0].kind = kind;
        }
    }

    /// The kind of the function's result.
    fn result_kind(&self) -> Kind {
        if self.returns_tensor {
            Kind::Tensor
        } else {
            Kind::Float
        }
    }

    fn open_region(&mut self) -> RegionId {
        let id = RegionId(self.region_count);
        self.region_count += 1;
        self.regions.push(RegionBuilder {
            id,
            stmts: Vec::new(),
            cse: HashMap::new(),
        });
        id
    }

    fn close_region(&mut self) -> Region {
        let builder = self
            .regions
            .pop()
            .expect("adjoint-macros internal error: region stack underflow");
        Region {
            id: builder.id,
            stmts: builder.stmts,
        }
    }

    fn push_stmt(&mut self, stmt: Stmt) {
        if let Some(r) = self.regions.last_mut() {
            r.stmts.push(stmt);
        }
    }

    /// Emits `op(args)`, reusing an identical earlier value in scope (CSE).
    fn emit(&mut self, op: Op, args: Vec<ValueId>, kind: Kind) -> ValueId {
        let key = match &op {
            Op::Call(_) => None,
            Op::Field(path) => Some(format!("field {kind:?} {path} {args:?}")),
            // An integer literal may be typed differently at each use
            // (`0..n` is `usize`, `powi(2)` takes `i32`): never shared.
            Op::Const(tokens) if !self.tensor_mode && is_int_literal(tokens) => None,
            Op::Const(tokens) => Some(format!("const {kind:?} {tokens}")),
            Op::Tensor(t) if !crate::tensor_rules::is_pure(*t) => None,
            other => Some(format!("{other:?} {args:?}")),
        };
        if let Some(key) = &key {
            if let Some(v) = self.regions.iter().rev().find_map(|r| r.cse.get(key)) {
                return *v;
            }
        }
        let value = self.new_value(kind);
        if kind == Kind::Tensor {
            if let Some(callee) = args.iter().find_map(|a| self.guessed_tensor_calls.get(a)) {
                self.guessed_tensor_calls.insert(value, callee.clone());
            }
        }
        if let Op::Const(tokens) = &op {
            self.const_tokens.insert(value, tokens.clone());
        }
        if let (Some(key), Some(r)) = (key, self.regions.last_mut()) {
            r.cse.insert(key, value);
        }
        self.push_stmt(Stmt::Let { value, op, args });
        value
    }

    fn constant(&mut self, tokens: TokenStream, kind: Kind) -> ValueId {
        self.emit(Op::Const(tokens), Vec::new(), kind)
    }

    /// `v` as a float operand: untyped constants become float constants,
    /// integers and booleans are an error.
    fn as_float(&mut self, v: ValueId, span: Span) -> Lowered<ValueId> {
        match self.kind(v) {
            Kind::Float => Ok(v),
            Kind::Untyped => {
                let tokens = self
                    .const_tokens
                    .get(&v)
                    .cloned()
                    .unwrap_or_else(|| value_placeholder(v).into_token_stream());
                Ok(self.constant(tokens, Kind::Float))
            }
            Kind::Other => {
                self.errors.push(
                    span,
                    format!(
                        "this integer or boolean value is used in float arithmetic: convert it with `as {}`",
                        self.float_ty.name()
                    ),
                );
                Err(())
            }
            Kind::Tensor | Kind::Model => {
                let (span, message) = match self.guessed_tensor_calls.get(&v) {
                    Some((callee, call_span)) => (*call_span, format!(
                        "a tensor is used where a float is expected: this value comes from this call of `{callee}`, which the macro took for a tensor because it takes tensors (it cannot see the callee's return type); if `{callee}` returns a float, say so: `let r: {} = {callee}(..);`",
                        self.float_ty.name()
                    )),
                    None => (span, "a tensor is used where a float is expected: reduce it first (e.g. `.sum()`, `.mean()`)".into()),
                };
                self.errors.push(span, message);
                Err(())
            }
        }
    }

    /// Runs `f` as a trial whose values and regions are thrown away (used to
    /// find which variables a loop body assigns). Its errors are kept when it
    /// fails, and dropped when it succeeds (the real pass reports them again).
    fn trial<T>(&mut self, f: impl FnOnce(&mut Self) -> Lowered<T>) -> Lowered<T> {
        let (values, regions, errors) = (self.values.len(), self.region_count, self.errors.len());
        let (depth, data_operands) = (self.regions.len(), self.data_operands.len());
        let out = f(self);
        self.values.truncate(values);
        self.data_operands.truncate(data_operands);
        self.fields.retain(|v, _| v.0 < values);
        self.guessed_tensor_calls.retain(|v, _| v.0 < values);
        self.region_count = regions;
        self.regions.truncate(depth);
        if out.is_ok() {
            self.errors.truncate(errors);
        }
        out
    }

    fn error(&mut self, span: Span, message: impl std::fmt::Display) {
        self.errors.push(span, message);
    }
}

/// Whether `tokens` is one integer literal without a type suffix.
fn is_int_literal(tokens: &TokenStream) -> bool {
    let mut iter = tokens.clone().into_iter();
    match (iter.next(), iter.next()) {
        (Some(proc_macro2::TokenTree::Literal(l)), None) => {
            matches!(syn::Lit::new(l), syn::Lit::Int(i) if i.suffix().is_empty())
        }
        _ => false,
    }
}
