//! The README shows the real expansion of Griewank's gradient: keep it equal
//! to the snapshot the compiler's own test writes (`docs/generated/griewank.rs`).

#[test]
fn readme_shows_the_current_expansion() {
    let snapshot = include_str!("../docs/generated/griewank.rs");
    let readme = include_str!("../README.md");
    let start = snapshot
        .find("fn griewank_grad")
        .expect("snapshot holds griewank_grad");
    let end = start + snapshot[start..].find("\n}\n").expect("griewank_grad ends") + 2;
    let grad = &snapshot[start..end];
    assert!(
        readme.contains(grad),
        "README.md's generated-code section is stale; paste:\n{grad}"
    );
}
