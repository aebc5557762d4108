//! Tests of the training utilities.

mod checkpoint;
mod metrics;
mod plot;
mod progress;
mod refused;
mod training;

use std::path::PathBuf;

/// A fresh, empty scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("adjoint-train-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch directory");
    dir
}
