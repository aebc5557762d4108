//! The README's lists of scalar and tensor ops are the op tables': every
//! name appears in them, and they name nothing else.

use crate::rules::{method_op, SUPPORTED_METHODS};
use crate::tensor_rules::{functions, methods};

/// The names in backticks between the README's `<!-- tag -->` markers.
fn listed(tag: &str) -> Vec<&'static str> {
    let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
    let start = readme
        .find(&format!("<!-- {tag} -->"))
        .unwrap_or_else(|| panic!("README marks the {tag} list"));
    let end = readme
        .find(&format!("<!-- /{tag} -->"))
        .unwrap_or_else(|| panic!("README closes the {tag} list"));
    let section = &readme[start..end];
    section
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|chunk| {
            chunk.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c.is_whitespace()
            })
        })
        .flat_map(|chunk| chunk.split_whitespace())
        .collect()
}

#[test]
fn readme_lists_exactly_the_scalar_ops_of_the_table() {
    let listed = listed("scalar-ops");
    for name in SUPPORTED_METHODS.split_whitespace() {
        assert!(
            method_op(name).is_some(),
            "`{name}` is listed as supported but has no rule"
        );
        assert!(
            listed.contains(&name),
            "README's scalar-op list misses `{name}`"
        );
    }
    for name in &listed {
        assert!(
            SUPPORTED_METHODS.split_whitespace().any(|n| n == *name),
            "README lists `{name}`, which the rule table does not have"
        );
    }
}

#[test]
fn readme_lists_exactly_the_tensor_ops_of_the_table() {
    let listed = listed("tensor-ops");
    let table: Vec<&str> = methods()
        .into_iter()
        .chain(functions())
        .map(|(n, _)| n)
        .collect();
    for name in &table {
        assert!(
            listed.contains(name),
            "README's tensor-op list misses `{name}`"
        );
    }
    for name in &listed {
        assert!(
            table.contains(name),
            "README lists `{name}`, which the op table does not have"
        );
    }
}
