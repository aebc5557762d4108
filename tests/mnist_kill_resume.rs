//! Issue 13: a real `mnist_mlp` process killed with SIGKILL during a run
//! and resumed with `--resume` ends with the same test accuracy, metrics and
//! final checkpoint (byte for byte) as the same run left uninterrupted.
//!
//! The runs are kept small (200 training and 200 test images, batches of
//! 20, two epochs: 20 steps, a checkpoint every 4), so the debug build of
//! the example finishes each in seconds.

#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The options every run shares.
const RUN: [&str; 14] = [
    "--epochs",
    "2",
    "--train-limit",
    "200",
    "--test-limit",
    "200",
    "--batch-size",
    "20",
    "--checkpoint-every",
    "4",
    "--seed",
    "3",
    "--schedule",
    "cosine",
];

/// Steps in the whole run: 2 epochs of 200 / 20 batches.
const STEPS: usize = 20;

/// The example's executable, built (or found up to date) by the cargo
/// running this test, in the same profile and target directory.
fn example() -> PathBuf {
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "--example", "mnist_mlp", "--message-format=json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit());
    if !cfg!(debug_assertions) {
        cargo.arg("--release");
    }
    let out = cargo.output().expect("run cargo");
    assert!(
        out.status.success(),
        "cargo build --example mnist_mlp failed"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["target"]["name"] == "mnist_mlp")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reports the example's executable")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("adjoint-kill-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Runs the example to completion with `extra` options and returns its
/// standard output.
fn complete(exe: &Path, out: &Path, extra: &[&str]) -> String {
    let output = Command::new(exe)
        .args(RUN)
        .arg("--out")
        .arg(out)
        .args(extra)
        .stderr(Stdio::inherit())
        .output()
        .expect("run mnist_mlp");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "mnist_mlp failed:\n{stdout}");
    stdout
}

/// The value printed after `prefix` on the line starting with it.
fn after<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{stdout}"))
}

/// metrics.csv without its timing column: epoch, loss, train and test
/// accuracy of every epoch.
fn metrics(out: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(out.join("metrics.csv")).expect("metrics.csv");
    text.lines()
        .map(|l| l.rsplit_once(',').map_or(l, |(head, _)| head).to_string())
        .collect()
}

#[test]
fn a_killed_run_resumes_to_the_uninterrupted_result() {
    let exe = example();
    let started = Instant::now();

    let reference_dir = scratch("reference");
    let reference = complete(&exe, &reference_dir, &[]);
    let accuracy = after(&reference, "test accuracy: ");

    // The same run, killed as soon as its first checkpoint is on disk.
    let dir = scratch("killed");
    let mut child = Command::new(&exe)
        .args(RUN)
        .arg("--out")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mnist_mlp");
    let checkpoint = dir.join("model.ckpt");
    while !checkpoint.exists() {
        assert!(
            child.try_wait().expect("poll").is_none(),
            "mnist_mlp exited before its first checkpoint"
        );
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no checkpoint"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(
        child.try_wait().expect("poll").is_none(),
        "still running when killed"
    );
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("reap");
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");

    let resumed = complete(&exe, &dir, &["--resume"]);
    let resumed_at = after(&resumed, "resumed from ");
    let done: usize = resumed_at
        .rsplit_once('(')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("steps done in {resumed_at:?}"));
    assert!(
        done > 0 && done < STEPS,
        "resumed mid-run, at step {done} of {STEPS}: {resumed_at}"
    );

    let resumed_accuracy = after(&resumed, "test accuracy: ");
    assert_eq!(resumed_accuracy, accuracy);
    assert_eq!(metrics(&dir), metrics(&reference_dir));
    assert!(
        std::fs::read(&checkpoint).expect("final checkpoint")
            == std::fs::read(reference_dir.join("model.ckpt")).expect("reference checkpoint"),
        "the final checkpoints (model, Adam state, data order) are identical"
    );
    eprintln!(
        "killed at step {done} of {STEPS}; test accuracy resumed {resumed_accuracy}, uninterrupted {accuracy} ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
}
