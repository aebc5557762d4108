//! Analyses over the IR that decide what code is generated.
//!
//! Common-subexpression elimination happens during lowering (values are
//! hash-consed per region), and dead adjoints are never emitted: the reverse
//! sweep skips every value whose adjoint received no contribution.

pub mod activity;
pub mod fusion;
