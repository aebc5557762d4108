//! Lowering of tensor code: tensor ops and arithmetic, references, model
//! fields, and non-differentiable data (arrays, ranges).

use super::syntax::*;
use super::{Lowered, Lowerer};
use crate::env::Env;
use crate::ir::{value_placeholder, DataOperand, FieldPath, FieldStep, Kind, Op, ValueId};
use crate::tensor_rules::{self, Slot as Operand, TensorOp};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;

impl Lowerer<'_> {
    /// A tensor op: checks each operand against the op's slots.
    pub(super) fn tensor_op(
        &mut self,
        op: TensorOp,
        operands: Vec<ValueId>,
        spans: &[Span],
        span: Span,
    ) -> Lowered<ValueId> {
        let slots = tensor_rules::slots(op);
        if operands.len() != slots.len() {
            self.error(
                span,
                format!(
                    "`{}` takes {} argument(s) besides the receiver",
                    tensor_rules::name(op),
                    slots.len() - 1
                ),
            );
            return Err(());
        }
        let mut lowered = Vec::new();
        for (i, (v, slot)) in operands.into_iter().zip(slots).enumerate() {
            let span = spans.get(i).copied().unwrap_or(span);
            let ok = match slot {
                Operand::Tensor => self.kind(v) == Kind::Tensor,
                Operand::Scalar => matches!(self.kind(v), Kind::Float | Kind::Untyped),
                Operand::Data => !matches!(self.kind(v), Kind::Tensor | Kind::Model),
                Operand::Target => self.kind(v) != Kind::Model,
            };
            if !ok {
                let expected = match slot {
                    Operand::Tensor => "a tensor",
                    Operand::Scalar => "a float",
                    Operand::Data => "non-differentiable data (an axis, a shape, labels)",
                    Operand::Target => "class labels or a target tensor",
                };
                self.error(
                    span,
                    format!("`{}` expects {expected} here", tensor_rules::name(op)),
                );
                return Err(());
            }
            let differentiable = matches!(self.kind(v), Kind::Float | Kind::Tensor);
            if matches!(slot, Operand::Data | Operand::Target) && differentiable {
                self.data_operands.push(DataOperand {
                    value: v,
                    span,
                    op: tensor_rules::name(op),
                });
            }
            let v = if *slot == Operand::Scalar {
                self.as_float(v, span)?
            } else {
                v
            };
            lowered.push(v);
        }
        let kind = if tensor_rules::returns_tensor(op) {
            Kind::Tensor
        } else {
            Kind::Float
        };
        Ok(self.emit(Op::Tensor(op), lowered, kind))
    }

    /// `lhs op rhs` where one side is a tensor: broadcasting tensor
    /// arithmetic, or tensor-scalar arithmetic.
    pub(super) fn tensor_arith(
        &mut self,
        op: Op,
        lhs: ValueId,
        rhs: ValueId,
        span: Span,
    ) -> Lowered<ValueId> {
        let (lt, rt) = (
            self.kind(lhs) == Kind::Tensor,
            self.kind(rhs) == Kind::Tensor,
        );
        let tensor_op = match (op, lt, rt) {
            (Op::Add, true, true) => TensorOp::Add,
            (Op::Sub, true, true) => TensorOp::Sub,
            (Op::Mul, true, true) => TensorOp::Mul,
            (Op::Div, true, true) => TensorOp::Div,
            (Op::Add, true, false) => TensorOp::AddScalar,
            (Op::Sub, true, false) => TensorOp::SubScalar,
            (Op::Mul, true, false) => TensorOp::MulScalar,
            (Op::Div, true, false) => TensorOp::DivScalar,
            (Op::Add, false, true) => {
                return self.tensor_op(TensorOp::AddScalar, vec![rhs, lhs], &[], span)
            }
            (Op::Mul, false, true) => {
                return self.tensor_op(TensorOp::MulScalar, vec![rhs, lhs], &[], span)
            }
            (Op::Sub, false, true) => TensorOp::RSubScalar,
            (Op::Div, false, true) => TensorOp::RDivScalar,
            _ => unreachable!("tensor_arith is called for + - * / with a tensor operand"),
        };
        self.tensor_op(tensor_op, vec![lhs, rhs], &[], span)
    }

    /// Non-differentiable data built from parts (`[3, 4]`, `1..n`): opaque,
    /// and an error if a part is a float, tensor or model.
    pub(super) fn lower_data(
        &mut self,
        parts: &[&syn::Expr],
        env: &mut Env,
        build: impl FnOnce(Vec<syn::Ident>) -> TokenStream,
    ) -> Lowered<ValueId> {
        let mut vals = Vec::new();
        for p in parts {
            let v = self.lower_expr(p, env)?;
            if self.kind(v).is_differentiable() {
                self.error(p.span(), "arrays and ranges may hold only integers and other data, not floats or tensors");
                return Err(());
            }
            vals.push(value_placeholder(v));
        }
        Ok(self.opaque(build(vals)))
    }

    /// `Tensor::zeros(shape)`, `ones`, `full(shape, value)`, `scalar(x)`: a
    /// constant tensor (its arguments must not vary).
    pub(super) fn tensor_constructor(
        &mut self,
        name: &syn::Ident,
        args: &[&syn::Expr],
        env: &mut Env,
    ) -> Lowered<ValueId> {
        let arity = match name.to_string().as_str() {
            "zeros" | "ones" => 1,
            "full" => 2,
            "scalar" => 1,
            _ => {
                self.error(
                    name.span(),
                    format!(
                        "`Tensor::{name}` is not available inside a #[differentiable] function: \
                         build tensors with `Tensor::zeros`, `ones`, `full` or `scalar`, or pass it \
                         in as a `#[constant]` argument"
                    ),
                );
                return Err(());
            }
        };
        if args.len() != arity {
            self.error(
                name.span(),
                format!("`Tensor::{name}` takes {arity} argument(s)"),
            );
            return Err(());
        }
        let mut vals = Vec::new();
        for (i, a) in args.iter().enumerate() {
            let v = self.lower_expr(a, env)?;
            match self.kind(v) {
                Kind::Tensor | Kind::Model => {
                    self.errors.push_spanned(
                        a,
                        format!("`Tensor::{name}` takes a shape and a value here, not a tensor"),
                    );
                    return Err(());
                }
                Kind::Float => self.data_operands.push(DataOperand {
                    value: v,
                    span: a.span(),
                    op: format!("Tensor::{name}"),
                }),
                Kind::Other | Kind::Untyped => {}
            }
            let p = value_placeholder(v);
            // A shape arrives as a slice, an array reference or a `Vec`.
            vals.push(if i == 0 && name != "scalar" {
                quote!(&(#p)[..])
            } else {
                quote!(#p)
            });
        }
        let ty = syn::Ident::new(self.float_ty.name(), name.span());
        Ok(self.constant(
            quote!(::adjoint::Tensor::<#ty>::#name(#(#vals),*)),
            Kind::Tensor,
        ))
    }

    /// `&e`: tensors and models are borrowed by generated code anyway; other
    /// data keeps its reference.
    pub(super) fn lower_reference(
        &mut self,
        r: &syn::ExprReference,
        env: &mut Env,
    ) -> Lowered<ValueId> {
        if let Some(m) = &r.mutability {
            self.error(
                m.span(),
                "`&mut` is not supported: #[differentiable] functions do not mutate",
            );
            return Err(());
        }
        let v = self.lower_expr(&r.expr, env)?;
        match self.kind(v) {
            Kind::Tensor | Kind::Model => Ok(v),
            Kind::Float => {
                self.error(
                    r.and_token.span(),
                    "references to floats are not supported: pass floats by value",
                );
                Err(())
            }
            Kind::Other | Kind::Untyped => {
                let x = value_placeholder(v);
                Ok(self.opaque(quote!(&#x)))
            }
        }
    }

    /// `model.field.field`, `model.layers[0].w`, `model.layers[i]`: the
    /// tensor at that path of a model argument.
    pub(super) fn lower_model_path(
        &mut self,
        whole: &syn::Expr,
        env: &mut Env,
    ) -> Lowered<ValueId> {
        self.lower_model_path_as(whole, env, Kind::Tensor)
    }

    /// A model path as a value of `kind`: `Kind::Model` for a path passed to
    /// a layer function, which may lead to a sub-model or a tensor (both are
    /// `Parameters`).
    pub(super) fn lower_model_path_as(
        &mut self,
        whole: &syn::Expr,
        env: &mut Env,
        kind: Kind,
    ) -> Lowered<ValueId> {
        let (root, steps) = self.model_path(whole, env)?;
        Ok(self.emit_field(root, steps, kind))
    }

    /// `root.path` as a value (`root` a model argument, as `model_path`
    /// gives it).
    pub(super) fn emit_field(
        &mut self,
        root: ValueId,
        steps: Vec<FieldStep>,
        kind: Kind,
    ) -> ValueId {
        let path = FieldPath(steps);
        let value = self.emit(Op::Field(path.clone()), vec![root], kind);
        self.fields.insert(value, (root, path));
        value
    }

    /// The model argument and the steps of a model path expression (nothing
    /// emitted for the path itself; run-time indices are lowered).
    pub(super) fn model_path(
        &mut self,
        whole: &syn::Expr,
        env: &mut Env,
    ) -> Lowered<(ValueId, Vec<FieldStep>)> {
        let mut steps = Vec::new();
        let mut base: &syn::Expr = whole;
        loop {
            match strip_parens(base) {
                syn::Expr::Field(inner) => {
                    match &inner.member {
                        syn::Member::Named(ident) => steps.push(FieldStep::Name(ident.clone())),
                        syn::Member::Unnamed(index) => {
                            self.error(
                                index.span,
                                "tuple-struct fields are not supported in model paths; name the fields",
                            );
                            return Err(());
                        }
                    }
                    base = &inner.base;
                }
                syn::Expr::Index(index) => {
                    let constant = match strip_parens(&index.index) {
                        syn::Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Int(i),
                            ..
                        }) => i.base10_parse::<usize>().ok(),
                        _ => None,
                    };
                    let step = match constant {
                        Some(i) => FieldStep::Index(i),
                        None => {
                            let i = self.lower_expr(&index.index, env)?;
                            if !matches!(self.kind(i), Kind::Other | Kind::Untyped) {
                                self.errors.push_spanned(
                                    &index.index,
                                    "an index into a model's `Vec` must be an integer (`p.layers[i]`)",
                                );
                                return Err(());
                            }
                            FieldStep::Var(i)
                        }
                    };
                    steps.push(step);
                    base = &index.expr;
                }
                _ => break,
            }
        }
        steps.reverse();
        let root = self.lower_expr(base, env)?;
        if self.kind(root) != Kind::Model {
            let message = match whole {
                syn::Expr::Index(_) => "indexing is supported into a model argument's `Vec`s (`p.layers[0]`), not into tensors or floats",
                _ => "field access is supported on model arguments (`p.w1`, a struct deriving `Parameters`)",
            };
            self.errors.push_spanned(whole, message);
            return Err(());
        }
        // A path from a value that is itself a model path (`layer.w` with
        // `layer = p.layers[i]`) starts at its model.
        Ok(match self.fields.get(&root) {
            Some((base, prefix)) => {
                let mut all = prefix.0.clone();
                all.extend(steps);
                (*base, all)
            }
            None => (root, steps),
        })
    }

    /// `path.len()` of a model's `Vec`: integer data.
    pub(super) fn model_vec_len(&mut self, path: &syn::Expr, env: &mut Env) -> Lowered<ValueId> {
        let (root, steps) = self.model_path(path, env)?;
        let model = value_placeholder(root);
        let path = FieldPath(steps);
        Ok(self.opaque(quote!((#model #path).len())))
    }
}
