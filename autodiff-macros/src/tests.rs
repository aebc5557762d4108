//! Compiler-level tests: random expression DAGs lowered from tokens and run
//! through an IR interpreter that uses the same rule table as codegen
//! (checked against finite differences and forward mode), generated code
//! that must parse, loops and slices at the IR level (what they lower to and
//! what the reverse sweep saves), snapshots of expansions, and the coverage
//! of the op tables by the README and by `tests/op_matrix.rs`.

#[path = "tests/interp.rs"]
mod interp;
#[path = "tests/loops.rs"]
mod loops;
#[path = "tests/op_matrix.rs"]
mod op_matrix;
#[path = "tests/random_dags.rs"]
mod random_dags;
#[path = "tests/readme_ops.rs"]
mod readme_ops;
#[path = "tests/region.rs"]
mod region;
#[path = "tests/snapshot.rs"]
mod snapshot;
