//! Syntax helpers of the lowering: statement-like expressions, compound
//! operators, the messages for rejected expressions, `return` detection.

use super::SUPPORTED_SUMMARY;
use crate::ir::Op;
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::visit::Visit;

/// Expressions that only make sense as statements (assignments, loops).
pub(super) fn is_statement_like(e: &syn::Expr) -> bool {
    match e {
        syn::Expr::Assign(_)
        | syn::Expr::ForLoop(_)
        | syn::Expr::While(_)
        | syn::Expr::Loop(_)
        | syn::Expr::Break(_)
        | syn::Expr::Continue(_) => true,
        syn::Expr::Binary(b) => compound_op(&b.op).is_some(),
        _ => false,
    }
}

pub(super) fn compound_op(op: &syn::BinOp) -> Option<(Op, TokenStream)> {
    match op {
        syn::BinOp::AddAssign(_) => Some((Op::Add, quote!(+))),
        syn::BinOp::SubAssign(_) => Some((Op::Sub, quote!(-))),
        syn::BinOp::MulAssign(_) => Some((Op::Mul, quote!(*))),
        syn::BinOp::DivAssign(_) => Some((Op::Div, quote!(/))),
        _ => None,
    }
}

pub(super) fn strip_parens(e: &syn::Expr) -> &syn::Expr {
    match e {
        syn::Expr::Paren(p) => strip_parens(&p.expr),
        syn::Expr::Group(g) => strip_parens(&g.expr),
        other => other,
    }
}

/// The span and message for an expression kind the compiler rejects.
pub(super) fn unsupported_expr(e: &syn::Expr) -> (Span, String) {
    let (span, what): (Span, String) = match e {
        syn::Expr::While(w) => (
            w.while_token.span(),
            "a `while` loop used as a value is not supported: write it as a statement".into(),
        ),
        syn::Expr::Loop(l) => (
            l.loop_token.span(),
            "a `loop` used as a value (`break value`) is not supported: assign the result to a \
             `let mut` variable declared before the loop, then `break;`"
                .into(),
        ),
        syn::Expr::Closure(c) => (
            c.or1_token.span(),
            "closures are not supported inside #[differentiable] functions: \
             write a separate #[differentiable] function and call it"
                .into(),
        ),
        syn::Expr::Unsafe(u) => (
            u.unsafe_token.span(),
            "`unsafe` blocks are not supported in #[differentiable] functions".into(),
        ),
        syn::Expr::Match(m) => (
            m.match_token.span(),
            "`match` is not supported: use `if`/`else`".into(),
        ),
        syn::Expr::Break(b) => (
            b.break_token.span(),
            "`break` is supported as a statement only (`if done { break; }`), not as a value"
                .into(),
        ),
        syn::Expr::Continue(c) => (
            c.continue_token.span(),
            "`continue` is supported as a statement only (`if skip { continue; }`), not as a value"
                .into(),
        ),
        syn::Expr::Macro(m) => (
            m.mac.path.span(),
            "macro calls are not supported inside #[differentiable] functions \
             (the compiler cannot see what they compute)"
                .into(),
        ),
        syn::Expr::Tuple(t) => (
            t.paren_token.span.join(),
            "tuples are not supported: a #[differentiable] function returns one float".into(),
        ),
        syn::Expr::Async(a) => (
            a.async_token.span(),
            "`async` blocks are not supported".into(),
        ),
        syn::Expr::Await(a) => (a.await_token.span(), "`.await` is not supported".into()),
        syn::Expr::Try(t) => (
            t.question_token.span(),
            "the `?` operator is not supported".into(),
        ),
        other => (other.span(), "this expression is not supported".into()),
    };
    (span, format!("{what} ({SUPPORTED_SUMMARY})"))
}

pub(super) struct ReturnFinder(bool);

impl<'ast> Visit<'ast> for ReturnFinder {
    fn visit_expr_return(&mut self, _: &'ast syn::ExprReturn) {
        self.0 = true;
    }
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

pub(super) fn contains_return(stmt: &syn::Stmt) -> bool {
    let mut finder = ReturnFinder(false);
    finder.visit_stmt(stmt);
    finder.0
}

pub(super) fn contains_return_expr(e: &syn::Expr) -> bool {
    let mut finder = ReturnFinder(false);
    finder.visit_expr(e);
    finder.0
}

pub(super) fn contains_return_block(b: &syn::Block) -> bool {
    let mut finder = ReturnFinder(false);
    finder.visit_block(b);
    finder.0
}

/// Finds `break` and `continue` that belong to the loop being lowered (not
/// to a loop nested in it).
struct LoopJumpFinder(bool);

impl<'ast> Visit<'ast> for LoopJumpFinder {
    fn visit_expr_break(&mut self, _: &'ast syn::ExprBreak) {
        self.0 = true;
    }
    fn visit_expr_continue(&mut self, _: &'ast syn::ExprContinue) {
        self.0 = true;
    }
    fn visit_expr_for_loop(&mut self, _: &'ast syn::ExprForLoop) {}
    fn visit_expr_while(&mut self, _: &'ast syn::ExprWhile) {}
    fn visit_expr_loop(&mut self, _: &'ast syn::ExprLoop) {}
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

/// Whether a statement may `break` or `continue` the enclosing loop.
pub(super) fn contains_loop_jump(stmt: &syn::Stmt) -> bool {
    let mut finder = LoopJumpFinder(false);
    finder.visit_stmt(stmt);
    finder.0
}

/// Whether a loop body may `break` or `continue` its loop.
pub(super) fn contains_loop_jump_block(b: &syn::Block) -> bool {
    let mut finder = LoopJumpFinder(false);
    finder.visit_block(b);
    finder.0
}
