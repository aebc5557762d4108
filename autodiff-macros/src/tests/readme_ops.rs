//! The README's list of tensor ops is the op table's: every method and
//! function name appears in it, and it names nothing else.

use crate::tensor_rules::{FUNCTIONS, METHODS};

#[test]
fn readme_lists_exactly_the_tensor_ops_of_the_table() {
    let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
    let start = readme
        .find("<!-- tensor-ops -->")
        .expect("README marks the tensor-op list");
    let end = readme
        .find("<!-- /tensor-ops -->")
        .expect("README closes the tensor-op list");
    let section = &readme[start..end];
    let listed: Vec<&str> = section
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|chunk| {
            chunk.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c.is_whitespace()
            })
        })
        .flat_map(|chunk| chunk.split_whitespace())
        .collect();
    for (name, _) in METHODS.iter().chain(FUNCTIONS) {
        assert!(
            listed.contains(name),
            "README's tensor-op list misses `{name}`"
        );
    }
    for name in &listed {
        assert!(
            METHODS.iter().chain(FUNCTIONS).any(|(n, _)| n == name),
            "README lists `{name}`, which the op table does not have"
        );
    }
}
