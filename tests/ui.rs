//! Compile-fail tests: each unsupported construct in a #[differentiable] function is a
//! spanned compile error that says what is supported instead.
#[test]
fn unsupported_syntax_is_a_spanned_compile_error() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
