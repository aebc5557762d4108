//! The README shows the real expansions of Griewank's gradient and of the MLP
//! loss's: keep them equal to the snapshots the compiler's own tests write
//! (`docs/generated/`).

#[test]
fn readme_shows_the_current_expansions() {
    check(
        include_str!("../docs/generated/griewank.rs"),
        "fn griewank_grad",
    );
    check(
        include_str!("../docs/generated/mlp_loss.rs"),
        "fn loss_grad",
    );
}

/// The README holds the function starting at `signature` of `snapshot`.
fn check(snapshot: &str, signature: &str) {
    let readme = include_str!("../README.md");
    let start = snapshot
        .find(signature)
        .expect("snapshot holds the function");
    let end = start + snapshot[start..].find("\n}\n").expect("griewank_grad ends") + 2;
    let function = &snapshot[start..end];
    assert!(
        readme.contains(function),
        "README.md's generated-code section is stale; paste:\n{function}"
    );
}
