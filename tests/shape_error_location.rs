//! A run-time shape error inside generated tensor code names the user's
//! file and line (issue 8, item 11): generated code for each expression
//! carries the expression's span, and the runtime's ops are
//! `#[track_caller]`.

use adjoint::prelude::*;
use std::sync::{Arc, Mutex};

const MATMUL_LINE: u32 = line!() + 5;

#[differentiable]
fn mismatched(w: &Tensor<f64>, #[constant] x: &Tensor<f64>) -> f64 {
    let h = x.tanh();
    h.matmul(w).sum()
}

#[test]
fn shape_errors_in_generated_code_name_the_users_line() {
    let seen: Arc<Mutex<Option<(String, u32, String)>>> = Arc::default();
    let record = seen.clone();
    std::panic::set_hook(Box::new(move |info| {
        let location = info.location().map(|l| (l.file().to_string(), l.line()));
        let message = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        if let Some((file, line)) = location {
            *record.lock().expect("not poisoned") = Some((file, line, message));
        }
    }));
    let w = Tensor::<f64>::zeros(&[5, 2]);
    let x = Tensor::<f64>::zeros(&[4, 3]);
    let outcome = std::panic::catch_unwind(|| mismatched_grad(&w, &x));
    let _ = std::panic::take_hook();
    assert!(outcome.is_err(), "a [4, 3] x [5, 2] product must fail");
    let (file, line, message) = seen
        .lock()
        .expect("not poisoned")
        .clone()
        .expect("a panic was reported");
    assert!(
        file.ends_with("tests/shape_error_location.rs"),
        "reported in {file}"
    );
    assert_eq!(line, MATMUL_LINE, "reported at line {line}: {message}");
    assert!(
        message.contains("matmul") && message.contains("[4, 3]") && message.contains("[5, 2]"),
        "{message}"
    );
}
