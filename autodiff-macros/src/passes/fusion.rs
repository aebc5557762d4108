//! Element-wise fusion for tensor code: `relu(a + b)` where the sum has no
//! other use becomes one `AddRelu` op, so the forward sweep makes one pass
//! (bias add and activation) and the reverse sweep one pass (ReLU mask times
//! the incoming gradient, plus the bias gradient's reduction).

use crate::ir::{Function, Op, Stmt, ValueId};
use crate::tensor_rules::TensorOp;
use std::collections::HashMap;

/// Rewrites the fusable chains of the function body in place.
pub fn fuse(f: &mut Function) {
    let mut uses: HashMap<ValueId, usize> = HashMap::new();
    *uses.entry(f.result).or_default() += 1;
    for stmt in &f.body.stmts {
        if let Stmt::Let { args, .. } = stmt {
            for a in args {
                *uses.entry(*a).or_default() += 1;
            }
        }
    }
    let sums: HashMap<ValueId, Vec<ValueId>> = f
        .body
        .stmts
        .iter()
        .filter_map(|s| match s {
            Stmt::Let {
                value,
                op: Op::Tensor(TensorOp::Add),
                args,
            } if uses.get(value) == Some(&1) => Some((*value, args.clone())),
            _ => None,
        })
        .collect();
    let mut fused = Vec::new();
    for stmt in &mut f.body.stmts {
        if let Stmt::Let { op, args, .. } = stmt {
            if matches!(op, Op::Tensor(TensorOp::Relu)) {
                if let Some(operands) = sums.get(&args[0]) {
                    fused.push(args[0]);
                    *op = Op::Tensor(TensorOp::AddRelu);
                    *args = operands.clone();
                }
            }
        }
    }
    f.body
        .stmts
        .retain(|s| !matches!(s, Stmt::Let { value, .. } if fused.contains(value)));
}
