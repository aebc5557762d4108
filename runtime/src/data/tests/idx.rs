//! The generic IDX parser on hand-made headers.

use std::path::Path;

use super::idx_bytes;
use crate::data::idx::{self, ubyte_magic};
use crate::data::DataError;

#[test]
fn magic_numbers_are_mnists() {
    assert_eq!(ubyte_magic(3), 2051);
    assert_eq!(ubyte_magic(1), 2049);
}

#[test]
fn parses_dims_and_data() {
    let bytes = idx_bytes(ubyte_magic(2), &[2, 3], &[1, 2, 3, 4, 5, 6]);
    let parsed = idx::parse(Path::new("m.idx"), &bytes, 2).expect("valid file");
    assert_eq!(parsed.dims, vec![2, 3]);
    assert_eq!(parsed.data, &[1, 2, 3, 4, 5, 6]);
}

#[test]
fn empty_file_is_truncated_header() {
    let err = idx::parse(Path::new("e.idx"), &[], 3).expect_err("no header");
    assert!(matches!(
        err,
        DataError::Truncated {
            expected: 16,
            found: 0,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "e.idx: truncated file: expected 16 bytes, found 0"
    );
}

#[test]
fn cut_header_is_truncated() {
    let bytes = &idx_bytes(ubyte_magic(3), &[1, 28, 28], &[])[..10];
    let err = idx::parse(Path::new("h.idx"), bytes, 3).expect_err("cut header");
    assert!(matches!(
        err,
        DataError::Truncated {
            expected: 16,
            found: 10,
            ..
        }
    ));
}

#[test]
fn trailing_bytes_are_rejected() {
    let bytes = idx_bytes(ubyte_magic(1), &[2], &[0, 1, 2]);
    let err = idx::parse(Path::new("t.idx"), &bytes, 1).expect_err("one byte too many");
    assert_eq!(
        err.to_string(),
        "t.idx: trailing data: expected 10 bytes, found 11"
    );
}

#[test]
fn huge_dimensions_are_rejected_not_allocated() {
    let bytes = idx_bytes(ubyte_magic(3), &[u32::MAX, u32::MAX, u32::MAX], &[]);
    let err = idx::parse(Path::new("big.idx"), &bytes, 3).expect_err("overflowing dims");
    match err {
        DataError::Dimensions { found, .. } => {
            assert_eq!(found, vec![u64::from(u32::MAX); 3]);
        }
        other => panic!("expected a dimensions error, got {other}"),
    }
}
