//! The `#[differentiable]` compiler of adjoint.
//!
//! A thin proc-macro layer over a parse → IR → passes → codegen core:
//! `parse` lowers the function body to a structured SSA IR (`ir`),
//! rejecting unsupported syntax with spanned errors; `passes` analyse it;
//! `codegen` emits the reverse-mode, forward-mode, trace and graph
//! functions from the derivative rule tables in `rules` and `tensor_rules`. Use it through the
//! `adjoint` crate, which re-exports these macros.

use proc_macro::TokenStream;

mod codegen;
mod derive;
mod diagnostics;
mod env;
mod expand;
mod ir;
mod parse;
mod passes;
mod region;
mod rules;
mod signature;
mod sym;
mod tensor_rules;

#[cfg(test)]
mod tests;

/// Differentiates a scalar function at compile time.
///
/// Next to `fn NAME(x1: f64, ...) -> f64` it generates `NAME_grad` (value and
/// gradient, reverse mode, returning `NameGrad`), `NAME_jvp` (forward mode),
/// `NAME_trace` (evaluation and adjoint traces) and `NAME_graph` (the DAG as
/// Graphviz DOT). Arguments marked `#[constant]` are not differentiated.
/// See the `adjoint` crate for the supported syntax and examples.
#[proc_macro_attribute]
pub fn differentiable(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(attr.into(), item.into(), None).into()
}

/// Like `#[differentiable]`, but the function is one op whose adjoint is the
/// given hand-written function:
/// `backward(args..., value, value_adjoint) -> adjoint(s) of the active args`.
#[proc_macro_attribute]
pub fn custom_adjoint(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(TokenStream::new().into(), item.into(), Some(attr.into())).into()
}

/// Implements `adjoint::params::Parameters` for a model struct: a visitor
/// over its tensors (fields that are tensors, other `Parameters` structs, or
/// `Vec`s of them), used by optimisers, gradient zeroing, counting and
/// checkpoints. The gradient of a model is a value of the same type.
#[proc_macro_derive(Parameters)]
pub fn derive_parameters(item: TokenStream) -> TokenStream {
    derive::derive_parameters(item.into()).into()
}
