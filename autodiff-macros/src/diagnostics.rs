//! Error collection: every problem becomes a spanned `compile_error!`, and
//! lowering continues so the user sees all of them at once.

use proc_macro2::{Span, TokenStream};
use std::fmt::Display;

/// The errors found so far in one function.
#[derive(Default)]
pub struct Errors {
    errors: Vec<syn::Error>,
}

impl Errors {
    /// Records an error at `span`.
    pub fn push(&mut self, span: Span, message: impl Display) {
        self.errors.push(syn::Error::new(span, message));
    }

    /// Records an error underlining all of `tokens` (not just the first).
    pub fn push_spanned(&mut self, tokens: impl quote::ToTokens, message: impl Display) {
        self.errors.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an already built error.
    pub fn push_error(&mut self, error: syn::Error) {
        self.errors.push(error);
    }

    /// How many errors have been recorded.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Whether no error has been recorded.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Drops the errors recorded after the first `len` (used when a trial
    /// lowering is thrown away).
    pub fn truncate(&mut self, len: usize) {
        self.errors.truncate(len);
    }

    /// The errors as `compile_error!` invocations.
    pub fn to_compile_errors(&self) -> TokenStream {
        self.errors
            .iter()
            .map(syn::Error::to_compile_error)
            .collect()
    }
}
