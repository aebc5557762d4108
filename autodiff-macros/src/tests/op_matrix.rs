//! The op test matrix (`tests/op_matrix.rs`) covers the op table: a row for
//! every method and function name, for every arithmetic form, and for the
//! fused op; an active-scalar row for every op with a scalar operand, and
//! rows with class labels and with soft targets for a loss. Adding an op
//! without its row fails here.

use crate::tensor_rules::{functions, methods, name, slots, table, Slot, TensorOp};

/// The matrix's rows: each `row!(` invocation's tag (its first string
/// literal) and its text (the line that opens it and the indented lines
/// that continue it).
fn rows() -> Vec<(&'static str, &'static str)> {
    let matrix = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/op_matrix.rs"
    ));
    let opening = "\nrow!(\"";
    matrix
        .match_indices(opening)
        .map(|(start, _)| {
            let text = &matrix[start + opening.len()..];
            let mut end = text.find('\n').unwrap_or(text.len());
            while text[end..].starts_with("\n ") {
                end += 1 + text[end + 1..].find('\n').unwrap_or(text.len() - end - 1);
            }
            let text = &text[..end];
            let tag = &text[..text.find('"').expect("the tag's closing quote")];
            (tag, text)
        })
        .collect()
}

/// The row tags of an op no method or function name spells (arithmetic,
/// and the fused op); `None` for the ops of `methods()` and `functions()`,
/// whose rows are tagged with their names. No wildcard: a new op must be
/// placed here.
fn other_tags(op: TensorOp) -> Option<&'static [&'static str]> {
    use TensorOp as O;
    match op {
        O::Add => Some(&["tensor + tensor"]),
        O::Sub => Some(&["tensor - tensor"]),
        O::Mul => Some(&["tensor * tensor"]),
        O::Div => Some(&["tensor / tensor"]),
        O::AddScalar => Some(&["tensor + scalar", "scalar + tensor"]),
        O::SubScalar => Some(&["tensor - scalar"]),
        O::MulScalar => Some(&["tensor * scalar", "scalar * tensor"]),
        O::DivScalar => Some(&["tensor / scalar"]),
        O::RSubScalar => Some(&["scalar - tensor"]),
        O::RDivScalar => Some(&["scalar / tensor"]),
        O::Neg => Some(&["neg"]),
        O::Fused(_) => Some(&["fused region"]),
        O::MatMul
        | O::T
        | O::Transpose
        | O::Reshape
        | O::Expand
        | O::Select
        | O::Squeeze
        | O::Unsqueeze
        | O::Slice
        | O::Exp
        | O::Ln
        | O::Sqrt
        | O::Square
        | O::Abs
        | O::Sin
        | O::Cos
        | O::Tanh
        | O::Sigmoid
        | O::Relu
        | O::Powf
        | O::LeakyRelu
        | O::Sum
        | O::Mean
        | O::Max
        | O::SumAxis
        | O::MeanAxis
        | O::MaxAxis
        | O::Softmax
        | O::LogSoftmax
        | O::Normalize
        | O::CrossEntropy
        | O::Mse
        | O::L1
        | O::Conv2d
        | O::MaxPool2d
        | O::AvgPool2d
        | O::GlobalAvgPool
        | O::BatchNorm
        | O::Dropout
        | O::Flatten => None,
    }
}

/// The ops [`other_tags`] names.
const OTHER_OPS: [TensorOp; 12] = [
    TensorOp::Add,
    TensorOp::Sub,
    TensorOp::Mul,
    TensorOp::Div,
    TensorOp::AddScalar,
    TensorOp::SubScalar,
    TensorOp::MulScalar,
    TensorOp::DivScalar,
    TensorOp::RSubScalar,
    TensorOp::RDivScalar,
    TensorOp::Neg,
    TensorOp::Fused(0),
];

/// Every op with the tags of its rows.
fn ops_and_tags() -> Vec<(TensorOp, Vec<&'static str>)> {
    let table = methods()
        .into_iter()
        .chain(functions())
        .map(|(n, op)| (op, vec![n]));
    let others = OTHER_OPS
        .iter()
        .map(|op| (*op, other_tags(*op).expect("tagged").to_vec()));
    table.chain(others).collect()
}

#[test]
fn every_op_of_the_table_has_a_row() {
    let tagged = ops_and_tags();
    for def in table() {
        assert!(
            tagged.iter().any(|(op, _)| *op == def.op),
            "{:?} is in the op table but neither named by a method or function nor in OTHER_OPS",
            def.op
        );
    }
    let rows = rows();
    assert!(rows.len() >= 60, "only {} rows found", rows.len());
    let mut missing = Vec::new();
    for (op, tags) in tagged {
        let in_table = methods()
            .into_iter()
            .chain(functions())
            .any(|(_, o)| o == op);
        assert_eq!(
            other_tags(op).is_none(),
            in_table,
            "{op:?}: tagged by its name exactly when the table names it"
        );
        for tag in &tags {
            if !rows.iter().any(|(t, _)| t == tag) {
                missing.push(format!("no row!(\"{tag}\", ...) for {op:?}"));
            }
            if !in_table {
                assert!(
                    tag.contains(&name(op)),
                    "the tag `{tag}` names {op:?} as `{}`",
                    name(op)
                );
            }
        }
        let op_rows: Vec<&str> = rows
            .iter()
            .filter(|(t, _)| tags.contains(t))
            .map(|(_, text)| *text)
            .collect();
        // Active scalars are written `s = value` in a row's second group.
        if slots(op).contains(&Slot::Scalar) && !op_rows.iter().any(|text| text.contains(" = ")) {
            missing.push(format!("no row for {op:?} with its float operand active"));
        }
        if slots(op).contains(&Slot::Target)
            && !(op_rows.len() >= 2 && op_rows.iter().any(|text| text.contains(" labels ")))
        {
            missing.push(format!(
                "{op:?} takes class labels or soft targets: no row for each"
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "tests/op_matrix.rs misses rows:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_row_is_tagged_with_an_op() {
    let known: Vec<&str> = ops_and_tags()
        .into_iter()
        .flat_map(|(_, tags)| tags)
        .collect();
    for (tag, _) in rows() {
        assert!(
            known.contains(&tag),
            "tests/op_matrix.rs has a row tagged `{tag}`, which names no op of the table"
        );
    }
}
