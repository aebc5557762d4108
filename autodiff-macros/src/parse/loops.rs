//! Lowering of loops that end at run time: `while cond { .. }`, `loop { ..
//! }` with `break`, and `for` loops whose body `break`s or `continue`s.
//!
//! All three become one [`Stmt::Loop`]: the body runs, then the loop ends if
//! the body set its break flag. `break` and `continue` are rewritten like an
//! early `return`: they set flags (`break` both, `continue` the skip flag)
//! and the rest of the body runs under `if !skip`. A `while` loop is a `loop`
//! whose body is `if cond { body } else { break }`; a `for` loop with jumps
//! counts its index as a loop-carried integer. The forward sweep counts the
//! iterations, and the reverse sweep runs the body's adjoint that many times.

use super::syntax::*;
use super::{Lowered, Lowerer, Tail};
use crate::env::Env;
use crate::ir::{value_placeholder, Carried, Kind, Stmt, ValueId};
use proc_macro2::Span;
use quote::quote;
use syn::spanned::Spanned;

/// Set while a loop body with `break`/`continue` support is lowered; its
/// flags live in the lowering environment under the names below.
#[derive(Clone, Copy, Debug)]
pub(super) struct LoopFlags;

/// Set by `break`: the loop ends after this iteration.
const BREAK: &str = "\u{0}break";
/// Set by `break` and `continue`: the rest of this iteration is skipped.
const SKIP: &str = "\u{0}skip";
/// The index of a `for` loop with jumps.
const COUNTER: &str = "\u{0}counter";

impl Lowerer<'_> {
    pub(super) fn lower_while(&mut self, w: &syn::ExprWhile, env: &mut Env) -> Lowered<()> {
        if let Some(label) = &w.label {
            self.error(label.span(), "loop labels are not supported");
            return Err(());
        }
        if let syn::Expr::Let(l) = strip_parens(&w.cond) {
            self.error(
                l.let_token.span(),
                "`while let` is not supported: write `while` with a boolean condition, or `loop` \
                 with `if ... { break; }`",
            );
            return Err(());
        }
        let guard_return = self.early_return.is_some() && contains_return_block(&w.body);
        let (cond_expr, stmts, span) = (&*w.cond, &w.body.stmts, w.while_token.span());
        self.lower_loop_stmt(env, span, guard_return, |this, env| {
            let cond = this.lower_expr(cond_expr, env)?;
            if this.kind(cond).is_differentiable() {
                this.error(
                    cond_expr.span(),
                    "the condition of `while` must be a boolean",
                );
                return Err(());
            }
            this.lower_branches(
                cond,
                env,
                |this, env| this.lower_stmts(stmts, env, Tail::Discard).map(|_| None),
                |this, env| {
                    this.set_flags(env, &[BREAK, SKIP]);
                    Ok(None)
                },
                false,
                span,
            )
            .map(|_| ())
        })
    }

    pub(super) fn lower_loop(&mut self, l: &syn::ExprLoop, env: &mut Env) -> Lowered<()> {
        if let Some(label) = &l.label {
            self.error(label.span(), "loop labels are not supported");
            return Err(());
        }
        let guard_return = self.early_return.is_some() && contains_return_block(&l.body);
        let stmts = &l.body.stmts;
        self.lower_loop_stmt(env, l.loop_token.span(), guard_return, |this, env| {
            this.lower_stmts(stmts, env, Tail::Discard).map(|_| ())
        })
    }

    /// `for i in lo..hi { .. }` whose body may `break` or `continue`: a
    /// `loop` over a carried counter, `if i < hi { body } else { break }`.
    pub(super) fn lower_for_with_jumps(
        &mut self,
        index_name: Option<String>,
        (lo, hi, inclusive): (ValueId, ValueId, bool),
        body: &syn::Block,
        env: &mut Env,
    ) -> Lowered<()> {
        let guard_return = self.early_return.is_some() && contains_return_block(body);
        let span = body.brace_token.span.join();
        env.push_scope();
        env.declare(COUNTER.into(), lo, true);
        let out = self.lower_loop_stmt(env, span, guard_return, |this, env| {
            let slot = env
                .find(COUNTER)
                .expect("adjoint-macros internal error: loop counter missing");
            let index = env.get(slot).value;
            let (i, hi) = (value_placeholder(index), value_placeholder(hi));
            let cond = if inclusive {
                this.opaque(quote!((#i <= #hi)))
            } else {
                this.opaque(quote!((#i < #hi)))
            };
            this.lower_branches(
                cond,
                env,
                |this, env| {
                    if let Some(name) = &index_name {
                        env.declare(name.clone(), index, false);
                    }
                    this.lower_stmts(&body.stmts, env, Tail::Discard)
                        .map(|_| None)
                },
                |this, env| {
                    this.set_flags(env, &[BREAK, SKIP]);
                    Ok(None)
                },
                false,
                span,
            )?;
            let next = this.opaque(quote!((#i + 1)));
            env.set(slot, next);
            Ok(())
        });
        env.pop_scope();
        out
    }

    pub(super) fn lower_break(&mut self, b: &syn::ExprBreak, env: &mut Env) -> Lowered<()> {
        if let Some(label) = &b.label {
            self.error(
                label.span(),
                "labelled `break` is not supported: break out of the innermost loop and test a \
                 flag in the outer one",
            );
            return Err(());
        }
        if b.expr.is_some() {
            self.error(
                b.break_token.span(),
                "`break` with a value is not supported: assign the value to a `let mut` variable \
                 declared before the loop, then `break;`",
            );
            return Err(());
        }
        if self.loop_flags.is_none() {
            self.error(b.break_token.span(), "`break` outside of a loop");
            return Err(());
        }
        self.set_flags(env, &[BREAK, SKIP]);
        Ok(())
    }

    pub(super) fn lower_continue(&mut self, c: &syn::ExprContinue, env: &mut Env) -> Lowered<()> {
        if let Some(label) = &c.label {
            self.error(
                label.span(),
                "labelled `continue` is not supported: continue the innermost loop",
            );
            return Err(());
        }
        if self.loop_flags.is_none() {
            self.error(c.continue_token.span(), "`continue` outside of a loop");
            return Err(());
        }
        self.set_flags(env, &[SKIP]);
        Ok(())
    }

    /// Lowers `f` (the statements after `stmt`, which may `break` or
    /// `continue`) so that it runs only if `stmt` did not jump (or return).
    pub(super) fn guarded_after_jump(
        &mut self,
        stmt: &syn::Stmt,
        env: &mut Env,
        f: impl FnOnce(&mut Self, &mut Env) -> Lowered<()>,
    ) -> Lowered<()> {
        let flag = |env: &Env, name: &str| {
            env.find(name)
                .map(|s| value_placeholder(env.get(s).value))
                .expect("adjoint-macros internal error: loop flag missing")
        };
        let skip = flag(env, SKIP);
        let cond = match &self.early_return {
            Some(names) if contains_return(stmt) => {
                let done = flag(env, &names.done);
                quote!(!(#skip || #done))
            }
            _ => quote!(!#skip),
        };
        let cond = self.constant(cond, Kind::Other);
        self.lower_branches(
            cond,
            env,
            |this, env| f(this, env).map(|_| None),
            |_, _| Ok(None),
            false,
            Span::call_site(),
        )?;
        Ok(())
    }

    /// Sets the named loop flags to `true`.
    fn set_flags(&mut self, env: &mut Env, names: &[&str]) {
        let yes = self.constant(quote!(true), Kind::Other);
        for name in names {
            if let Some(slot) = env.find(name) {
                env.set(slot, yes);
            }
        }
    }

    /// Lowers a [`Stmt::Loop`] whose body `lower_body` lowers: the body is
    /// lowered once as a trial to find the variables it assigns (which
    /// become loop-carried), then for real. With `guard_return` the body runs
    /// under `if !returned` and a `return` also ends the loop.
    fn lower_loop_stmt(
        &mut self,
        env: &mut Env,
        span: Span,
        guard_return: bool,
        lower_body: impl Fn(&mut Self, &mut Env) -> Lowered<()>,
    ) -> Lowered<()> {
        let body = |this: &mut Self, env: &mut Env| -> Lowered<ValueId> {
            let no = this.constant(quote!(false), Kind::Other);
            env.declare(BREAK.into(), no, true);
            env.declare(SKIP.into(), no, true);
            let outer = this.loop_flags.replace(LoopFlags);
            let out = if guard_return {
                this.guarded(env, |this, env| lower_body(this, env))
            } else {
                lower_body(this, env)
            };
            this.loop_flags = outer;
            out?;
            let value = |name: &str| env.find(name).map(|s| env.get(s).value);
            let broken = value(BREAK).expect("adjoint-macros internal error: break flag missing");
            let done = match &this.early_return {
                Some(names) if guard_return => value(&names.done),
                _ => None,
            };
            Ok(match done {
                Some(done) => {
                    let (b, d) = (value_placeholder(broken), value_placeholder(done));
                    this.opaque(quote!((#b || #d)))
                }
                None => broken,
            })
        };
        // Trial pass: which outer variables does the body assign?
        let assigned = self.trial(|this| {
            let (_, after, out) = this.lower_nested(env, body);
            out.map(|_| env.changed_in(&after))
        })?;
        // Real pass: the assigned variables become loop-carried.
        let mut carried_slots = Vec::new();
        for (slot, init, next) in &assigned {
            let mut init = *init;
            if self.kind(init) == Kind::Untyped && self.kind(*next) == Kind::Float {
                init = self.as_float(init, span)?;
            }
            carried_slots.push((*slot, init));
        }
        let mut body_env = env.clone();
        let mut phis = Vec::new();
        for (slot, init) in &carried_slots {
            let kind = match self.kind(*init) {
                Kind::Untyped => Kind::Other,
                k => k,
            };
            let phi = self.new_value(kind);
            body_env.set(*slot, phi);
            phis.push(phi);
        }
        let (body, after, exit) = self.lower_nested(&body_env, body);
        let exit = exit?;
        let mut carried = Vec::new();
        for ((slot, init), phi) in carried_slots.into_iter().zip(phis) {
            let mut next = after.get(slot).value;
            if self.kind(next) != self.kind(phi) && self.kind(next) != Kind::Untyped {
                next = self.as_float(next, span)?;
            }
            let out = self.new_value(self.kind(phi));
            env.set(slot, out);
            carried.push(Carried {
                init,
                phi,
                next,
                out,
            });
        }
        let trips = self.new_value(Kind::Other);
        self.push_stmt(Stmt::Loop {
            trips,
            exit,
            carried,
            body,
        });
        Ok(())
    }
}
