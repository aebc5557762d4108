//! Element-wise fusion for tensor code:
//!
//! - `relu(a + b)` where the sum has no other use becomes one `AddRelu` op,
//!   so the forward sweep makes one pass (bias add and activation) and the
//!   reverse sweep one pass (ReLU mask times the incoming gradient, plus the
//!   bias gradient's reduction);
//! - a chain of element-wise unary ops (`x.exp().tanh().square()`) whose
//!   intermediates have no other use becomes one `Chain` op: one loop
//!   forward, and one loop backward that recomputes the intermediates from
//!   the chain's input instead of saving them (`tensor_rules::chain_map`).

use crate::ir::{walk_stmts, Function, Op, Region, Stmt, ValueId};
use crate::tensor_rules::{elementwise, TensorOp};
use std::collections::HashMap;

/// Rewrites the fusable patterns of every region in place.
pub fn fuse(f: &mut Function) {
    let uses = use_counts(f);
    let result = f.result;
    let mut chains = Vec::new();
    fuse_region(&mut f.body, &uses, result, &mut chains);
    f.chains = chains;
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

fn fuse_region(
    region: &mut Region,
    uses: &HashMap<ValueId, usize>,
    result: ValueId,
    chains: &mut Vec<Vec<TensorOp>>,
) {
    for stmt in &mut region.stmts {
        match stmt {
            Stmt::If {
                then_region,
                else_region,
                ..
            } => {
                fuse_region(then_region, uses, result, chains);
                fuse_region(else_region, uses, result, chains);
            }
            Stmt::For { body, .. } | Stmt::Loop { body, .. } => {
                fuse_region(body, uses, result, chains)
            }
            Stmt::Let { .. } => {}
        }
    }
    let single = |v: &ValueId| uses.get(v) == Some(&1) && *v != result;
    // relu(a + b)
    let sums: HashMap<ValueId, Vec<ValueId>> = region
        .stmts
        .iter()
        .filter_map(|s| match s {
            Stmt::Let {
                value,
                op: Op::Tensor(TensorOp::Add),
                args,
            } if single(value) => Some((*value, args.clone())),
            _ => None,
        })
        .collect();
    let mut removed = Vec::new();
    for stmt in &mut region.stmts {
        if let Stmt::Let { op, args, .. } = stmt {
            if matches!(op, Op::Tensor(TensorOp::Relu)) {
                if let Some(operands) = sums.get(&args[0]) {
                    removed.push(args[0]);
                    *op = Op::Tensor(TensorOp::AddRelu);
                    *args = operands.clone();
                }
            }
        }
    }
    // Chains of element-wise unary ops: each value's chain so far.
    let mut chain_of: HashMap<ValueId, (ValueId, Vec<TensorOp>)> = HashMap::new();
    for stmt in &region.stmts {
        if let Stmt::Let {
            value,
            op: Op::Tensor(op),
            args,
        } = stmt
        {
            if elementwise(*op).is_some() {
                let input = args[0];
                let chain = match chain_of.get(&input) {
                    Some((start, ops)) if single(&input) => {
                        removed.push(input);
                        let mut ops = ops.clone();
                        ops.push(*op);
                        (*start, ops)
                    }
                    _ => (input, vec![*op]),
                };
                chain_of.insert(*value, chain);
            }
        }
    }
    for stmt in &mut region.stmts {
        if let Stmt::Let { value, op, args } = stmt {
            if removed.contains(value) {
                continue;
            }
            if let Some((start, ops)) = chain_of.get(value) {
                if ops.len() > 1 {
                    *op = Op::Tensor(TensorOp::Chain(chains.len()));
                    *args = vec![*start];
                    chains.push(ops.clone());
                }
            }
        }
    }
    region
        .stmts
        .retain(|s| !matches!(s, Stmt::Let { value, .. } if removed.contains(value)));
}
