//! Lowering of slices in scalar functions: `x[i]` and `x.len()`.
//!
//! An element of an active slice argument (`x: &[f64]`) is an
//! [`Op::Index`], whose adjoint the reverse sweep scatters into the slice's
//! adjoint at the same index. An element of a `#[constant]` float slice is a
//! float constant; an element of other data (arrays, `Vec`s, slices of
//! integers) is an untyped constant, a float where float arithmetic uses it.
//! Slices are read-only: assigning to `x[i]` is an error (in `stmt.rs`).

use super::syntax::strip_parens;
use super::{Lowered, Lowerer};
use crate::env::Env;
use crate::ir::{value_placeholder, Kind, Op, ValueId};
use proc_macro2::Span;
use quote::quote;

impl Lowerer<'_> {
    /// `Some(active)` when `v` is a float slice argument.
    pub(super) fn float_slice(&self, v: ValueId) -> Option<bool> {
        self.slices
            .iter()
            .find(|(s, _)| *s == v)
            .map(|(_, active)| *active)
    }

    pub(super) fn lower_index(&mut self, i: &syn::ExprIndex, env: &mut Env) -> Lowered<ValueId> {
        let span = i.bracket_token.span.join();
        let base = self.lower_expr(&i.expr, env)?;
        let slice = self.float_slice(base);
        if self.kind(base) != Kind::Other && self.kind(base) != Kind::Untyped {
            self.errors.push_spanned(
                &i.expr,
                "only slices and other data can be indexed in a scalar #[differentiable] function",
            );
            return Err(());
        }
        let b = value_placeholder(base);
        if let syn::Expr::Range(r) = strip_parens(&i.index) {
            if slice == Some(true) {
                self.error(
                    span,
                    "sub-slices of an active slice are not supported: read its elements with `x[i]`",
                );
                return Err(());
            }
            // `&data[a..b]`, `&data[a..]`, `&data[..b]`: data.
            let mut bound = |this: &mut Self, e: &Option<Box<syn::Expr>>| -> Lowered<_> {
                match e {
                    Some(e) => {
                        let v = this.lower_expr(e, env)?;
                        if this.kind(v).is_differentiable() {
                            this.errors
                                .push_spanned(e, "a range bound must be an integer");
                            return Err(());
                        }
                        Ok(Some(value_placeholder(v)))
                    }
                    None => Ok(None),
                }
            };
            let (start, end) = (bound(self, &r.start)?, bound(self, &r.end)?);
            let limits = &r.limits;
            return Ok(self.opaque(quote!((&#b[#start #limits #end]))));
        }
        let index = self.lower_expr(&i.index, env)?;
        if self.kind(index).is_differentiable() {
            self.errors.push_spanned(
                &i.index,
                "an index must be an integer (`usize`), not a float or a tensor",
            );
            return Err(());
        }
        let k = value_placeholder(index);
        Ok(match slice {
            Some(true) => self.emit(Op::Index, vec![base, index], Kind::Float),
            Some(false) => self.constant(quote!(#b[#k]), Kind::Float),
            None => self.constant(quote!(#b[#k]), Kind::Untyped),
        })
    }

    /// `&x` for a slice argument `x` is `x` itself (so the slice stays
    /// recognisable, e.g. as a call argument).
    pub(super) fn slice_reference(&mut self, r: &syn::ExprReference, env: &Env) -> Option<ValueId> {
        if self.tensor_mode || r.mutability.is_some() {
            return None;
        }
        let syn::Expr::Path(p) = strip_parens(&r.expr) else {
            return None;
        };
        let ident = p.path.get_ident()?;
        let v = env.get(env.find(&ident.to_string())?).value;
        self.float_slice(v).map(|_| v)
    }

    /// Methods of an active slice other than `len` and `is_empty` would read
    /// its elements without differentiating them: an error.
    pub(super) fn check_slice_method(
        &mut self,
        receiver: ValueId,
        name: &str,
        span: Span,
    ) -> Lowered<()> {
        if self.float_slice(receiver) == Some(true) && !matches!(name, "len" | "is_empty") {
            self.error(
                span,
                format!(
                    "`{name}` is not supported on an active slice: read its elements with `x[i]` \
                     (and its length with `x.len()`) so that each read is differentiated"
                ),
            );
            return Err(());
        }
        Ok(())
    }

    /// An active slice stays the argument itself: choosing between slices
    /// (`if`) or reassigning one would hide which argument's adjoint an
    /// element's read belongs to.
    pub(super) fn check_slice_flow(&mut self, v: ValueId, span: Span) -> Lowered<()> {
        if self.float_slice(v) == Some(true) {
            self.error(
                span,
                "an active slice cannot be chosen by `if` or assigned to a variable: index the \
                 argument itself (`x[i]`), in each branch if need be",
            );
            return Err(());
        }
        Ok(())
    }
}
