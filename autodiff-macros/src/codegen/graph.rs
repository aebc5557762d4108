//! The compile-time DAG as Graphviz DOT, returned by `NAME_graph()`.

use crate::codegen::names::Names;
use crate::ir::{Function, Kind, Op, Region, Stmt, ValueId};
use crate::rules::op_name;
use std::collections::HashMap;
use std::fmt::Write;

/// Renders `f`'s IR as a DOT digraph. Active values are solid, constants
/// dashed; `if` and `for` regions are clusters. `saved` annotates the values
/// the reverse sweep keeps (tensor functions: "saved" or "shape saved").
pub fn dot(f: &Function, names: &Names, varied: &[bool], saved: &HashMap<ValueId, &str>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", f.name);
    out.push_str("  rankdir=BT;\n  node [shape=box, fontname=\"monospace\"];\n");
    let active: Vec<_> = f.params.iter().filter(|p| p.active).collect();
    let n = active.len() as i64;
    for p in &f.params {
        let label = match active.iter().position(|a| a.value == p.value) {
            Some(k) => format!("v_{} = {}", k as i64 + 1 - n, p.ident),
            None => format!("{} (constant)", p.ident),
        };
        let _ = writeln!(
            out,
            "  {} [label=\"{}\", shape=ellipse{}];",
            names.value(p.value),
            escape(&label),
            style(f, varied, p.value)
        );
    }
    let mut clusters = 0usize;
    region(f, names, varied, saved, &f.body, &mut out, &mut clusters, 1);
    let _ = writeln!(
        out,
        "  result [label=\"result\", shape=plaintext];\n  {} -> result;",
        names.value(f.result)
    );
    out.push_str("}\n");
    out
}

fn style(f: &Function, varied: &[bool], v: ValueId) -> &'static str {
    if varied[v.0] && (f.kind(v) == Kind::Float || f.active_slice(v).is_some()) {
        ""
    } else {
        ", style=dashed"
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[allow(clippy::too_many_arguments)]
fn region(
    f: &Function,
    names: &Names,
    varied: &[bool],
    saved: &HashMap<ValueId, &str>,
    region_ir: &Region,
    out: &mut String,
    clusters: &mut usize,
    depth: usize,
) {
    let pad = "  ".repeat(depth);
    for stmt in &region_ir.stmts {
        match stmt {
            Stmt::Let { value, op, args } => {
                let mut label = match op {
                    Op::Const(tokens) => names.resolve(tokens).to_string(),
                    Op::Tensor(crate::tensor_rules::TensorOp::Fused(id)) => {
                        let operands: Vec<String> =
                            args.iter().map(|a| names.value(*a).to_string()).collect();
                        let region = f.regions[*id].describe_with(&operands);
                        format!("{} = fused {region}", names.value(*value))
                    }
                    op => format!("{} = {}", names.value(*value), op_name(op)),
                };
                if let Some(note) = saved.get(value) {
                    label.push_str(&format!(" ({note})"));
                }
                let _ = writeln!(
                    out,
                    "{pad}{} [label=\"{}\"{}];",
                    names.value(*value),
                    escape(&label),
                    style(f, varied, *value)
                );
                for a in args {
                    let _ = writeln!(out, "{pad}{} -> {};", names.value(*a), names.value(*value));
                }
            }
            Stmt::If {
                cond,
                then_region,
                else_region,
                merges,
            } => {
                for (label, r) in [("then", then_region), ("else", else_region)] {
                    *clusters += 1;
                    let _ = writeln!(
                        out,
                        "{pad}subgraph cluster_{} {{\n{pad}  label=\"{label} (if {})\";",
                        clusters,
                        names.value(*cond)
                    );
                    region(f, names, varied, saved, r, out, clusters, depth + 1);
                    let _ = writeln!(out, "{pad}}}");
                }
                for m in merges {
                    let _ = writeln!(
                        out,
                        "{pad}{} [label=\"{} = if {}\", shape=diamond{}];",
                        names.value(m.out),
                        names.value(m.out),
                        names.value(*cond),
                        style(f, varied, m.out)
                    );
                    for v in [m.then_value, m.else_value] {
                        let _ = writeln!(out, "{pad}{} -> {};", names.value(v), names.value(m.out));
                    }
                }
            }
            Stmt::For { carried, body, .. } | Stmt::Loop { carried, body, .. } => {
                *clusters += 1;
                let label = match stmt {
                    Stmt::For { index, lo, hi, .. } => format!(
                        "for {} in {}..{}",
                        names.value(*index),
                        names.value(*lo),
                        names.value(*hi)
                    ),
                    _ => "loop (trip count saved)".to_string(),
                };
                let _ = writeln!(
                    out,
                    "{pad}subgraph cluster_{} {{\n{pad}  label=\"{label}\";",
                    clusters
                );
                for c in carried {
                    let _ = writeln!(
                        out,
                        "{pad}  {} [label=\"{} (loop-carried)\", shape=ellipse{}];",
                        names.value(c.phi),
                        names.value(c.phi),
                        style(f, varied, c.phi)
                    );
                }
                region(f, names, varied, saved, body, out, clusters, depth + 1);
                let _ = writeln!(out, "{pad}}}");
                for c in carried {
                    let _ = writeln!(
                        out,
                        "{pad}{} -> {};",
                        names.value(c.init),
                        names.value(c.phi)
                    );
                    let _ = writeln!(
                        out,
                        "{pad}{} -> {} [style=dotted, label=\"next\"];",
                        names.value(c.next),
                        names.value(c.phi)
                    );
                    let _ = writeln!(
                        out,
                        "{pad}{} -> {};",
                        names.value(c.next),
                        names.value(c.out)
                    );
                }
            }
        }
    }
}
