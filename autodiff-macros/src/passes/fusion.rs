//! Element-wise fusion for tensor code: maximal trees of element-wise ops
//! (unary maps, `+ - * /` between tensors with broadcasting or with a
//! scalar, `powf`), whose intermediates have no other use, become one
//! `TensorOp::Fused(i)` op over the tree's operands (`Function::regions[i]`,
//! a scalar program printed from the rule table by `region`): one loop
//! forward, one loop backward recomputing what the adjoint reads instead of
//! keeping it. `relu(x·W + b)` is such a tree; so is
//! `tanh(n) * sigmoid(x·V + c)`.
//!
//! A transcendental op (`exp ln sqrt sin cos tanh sigmoid powf`) ends its
//! region: a consumer reads its saved value instead of the backward loop
//! recomputing it (measured: recomputing libm's `tanh` and `exp` in the
//! gated layer of `benches/gated.rs` made the step 1.7x slower than the
//! tape; with `adjoint_kernels::math`'s vectorised versions, absorbing them
//! was still 0–10% slower than saving, three interleaved runs each).
//! A lone element-wise op stays itself (its runtime kernel). An op whose
//! scalar operand varies (a learned scale) is not fused: a region's
//! operands that carry gradients are tensors.

use crate::ir::{walk_stmts, Function, Op, Stmt, ValueId};
use crate::region::{Ref, Region, Step};
use crate::tensor_rules::{scalar_step, TensorOp};
use std::collections::HashMap;

/// Rewrites every region of the function in place; `varied[v]` tells
/// whether value `v` depends on the active arguments.
pub fn fuse(f: &mut Function, varied: &[bool]) {
    let uses = use_counts(f);
    let result = f.result;
    let kinds: Vec<bool> = (0..varied.len())
        .map(|v| f.kind(ValueId(v)) == crate::ir::Kind::Tensor)
        .collect();
    let mut regions = Vec::new();
    let ctx = Context {
        uses: &uses,
        result,
        varied,
        is_tensor: &kinds,
    };
    fuse_region(&mut f.body, &ctx, &mut regions);
    f.regions = regions;
}

struct Context<'a> {
    uses: &'a HashMap<ValueId, usize>,
    result: ValueId,
    varied: &'a [bool],
    is_tensor: &'a [bool],
}

/// How many times each value is read anywhere (operands, merges, loop-carried
/// values, branch conditions, the result).
fn use_counts(f: &Function) -> HashMap<ValueId, usize> {
    let mut uses: HashMap<ValueId, usize> = HashMap::new();
    let mut count = |v: ValueId| *uses.entry(v).or_default() += 1;
    count(f.result);
    walk_stmts(&f.body, &mut |stmt| match stmt {
        Stmt::Let { args, .. } => args.iter().for_each(|a| count(*a)),
        Stmt::If { cond, merges, .. } => {
            count(*cond);
            for m in merges {
                count(m.then_value);
                count(m.else_value);
            }
        }
        Stmt::For {
            lo, hi, carried, ..
        } => {
            count(*lo);
            count(*hi);
            for c in carried {
                count(c.init);
                count(c.next);
            }
        }
        Stmt::Loop { exit, carried, .. } => {
            count(*exit);
            for c in carried {
                count(c.init);
                count(c.next);
            }
        }
    });
    // Placeholders in opaque code (shapes, indices) read values too.
    walk_stmts(&f.body, &mut |stmt| {
        if let Stmt::Let {
            op: Op::Const(tokens),
            ..
        } = stmt
        {
            for v in crate::ir::placeholders(tokens) {
                *uses.entry(v).or_default() += 1;
            }
        }
    });
    uses
}

fn fuse_region(region: &mut crate::ir::Region, ctx: &Context, regions: &mut Vec<Region>) {
    for stmt in &mut region.stmts {
        match stmt {
            Stmt::If {
                then_region,
                else_region,
                ..
            } => {
                fuse_region(then_region, ctx, regions);
                fuse_region(else_region, ctx, regions);
            }
            Stmt::For { body, .. } | Stmt::Loop { body, .. } => fuse_region(body, ctx, regions),
            Stmt::Let { .. } => {}
        }
    }
    let single = |v: &ValueId| ctx.uses.get(v) == Some(&1) && *v != ctx.result;
    // Each fusable value's tree so far: its operands and steps.
    let mut trees: HashMap<ValueId, Tree> = HashMap::new();
    let mut absorbed: Vec<ValueId> = Vec::new();
    for stmt in &region.stmts {
        let Stmt::Let {
            value,
            op: Op::Tensor(op),
            args,
        } = stmt
        else {
            continue;
        };
        let Some((scalar_op, operands)) = scalar_step(*op) else {
            continue;
        };
        let learned_scalar = args.iter().any(|a| !ctx.is_tensor[a.0] && ctx.varied[a.0]);
        if learned_scalar {
            continue;
        }
        let mut tree = Tree::default();
        let refs: Vec<Ref> = args
            .iter()
            .map(|a| match trees.get(a) {
                Some(sub) if single(a) && sub.ends_cheap() => {
                    absorbed.push(*a);
                    tree.graft(sub)
                }
                _ => Ref::Input(tree.input(*a)),
            })
            .collect();
        tree.steps.push(Step {
            op: scalar_op,
            args: operands.iter().map(|k| refs[*k]).collect(),
        });
        trees.insert(*value, tree);
    }
    for stmt in &mut region.stmts {
        if let Stmt::Let { value, op, args } = stmt {
            if absorbed.contains(value) {
                continue;
            }
            if let Some(tree) = trees.remove(value) {
                if tree.steps.len() > 1 {
                    *op = Op::Tensor(TensorOp::Fused(regions.len()));
                    *args = tree.inputs.clone();
                    regions.push(Region {
                        inputs: tree.inputs.len(),
                        steps: tree.steps,
                    });
                }
            }
        }
    }
    region
        .stmts
        .retain(|s| !matches!(s, Stmt::Let { value, .. } if absorbed.contains(value)));
}

/// A tree of element-wise ops being grown: its distinct operands and steps.
#[derive(Default)]
struct Tree {
    inputs: Vec<ValueId>,
    steps: Vec<Step>,
}

impl Tree {
    /// The index of operand `v`, added if new.
    fn input(&mut self, v: ValueId) -> usize {
        match self.inputs.iter().position(|i| *i == v) {
            Some(i) => i,
            None => {
                self.inputs.push(v);
                self.inputs.len() - 1
            }
        }
    }

    /// Whether the tree's value is cheap to recompute: a transcendental
    /// (`exp`, `tanh`, `sqrt`, …) ends a region instead, so its value is
    /// computed once and saved rather than recomputed by the backward loop.
    fn ends_cheap(&self) -> bool {
        self.steps.last().is_some_and(|s| {
            matches!(
                s.op,
                Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Neg | Op::Abs | Op::Relu
            )
        })
    }

    /// Appends a subtree's steps (operands renumbered) and returns its value.
    fn graft(&mut self, sub: &Tree) -> Ref {
        let offset = self.steps.len();
        for step in &sub.steps {
            let args = step
                .args
                .iter()
                .map(|a| match a {
                    Ref::Input(i) => Ref::Input(self.input(sub.inputs[*i])),
                    Ref::Step(j) => Ref::Step(offset + j),
                })
                .collect();
            self.steps.push(Step {
                op: step.op.clone(),
                args,
            });
        }
        Ref::Step(self.steps.len() - 1)
    }
}
