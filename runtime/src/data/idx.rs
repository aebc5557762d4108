//! The IDX format of MNIST: a big-endian header, then unsigned bytes.
//!
//! An IDX file starts with a 4-byte magic number `0x00 0x00 TYPE NDIMS`
//! (TYPE `0x08` for unsigned bytes), then NDIMS big-endian `u32` lengths,
//! then the elements in row-major order. MNIST images are
//! `0x00000803` (2051: bytes, 3 dimensions `[n, 28, 28]`), labels
//! `0x00000801` (2049: bytes, 1 dimension `[n]`).

use std::path::Path;

use super::DataError;

/// The IDX type code of unsigned bytes.
pub const UBYTE: u8 = 0x08;

/// The magic number of an unsigned-byte IDX file with `ndims` dimensions.
pub const fn ubyte_magic(ndims: u8) -> u32 {
    ((UBYTE as u32) << 8) | ndims as u32
}

/// A parsed unsigned-byte IDX file: its dimensions and its elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idx<'a> {
    /// The length of each dimension, outermost first.
    pub dims: Vec<usize>,
    /// The elements in row-major order (the product of `dims` bytes).
    pub data: &'a [u8],
}

/// Parses `bytes`, the contents of the file `path`, as an unsigned-byte IDX
/// file with `ndims` dimensions; checks the magic number and that the length
/// is exactly the header plus the product of the dimensions.
pub fn parse<'a>(path: &Path, bytes: &'a [u8], ndims: u8) -> Result<Idx<'a>, DataError> {
    let header_len = 4 + 4 * usize::from(ndims);
    let words: Vec<u32> = bytes
        .chunks_exact(4)
        .take(1 + usize::from(ndims))
        .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
        .collect();
    if let Some(&found) = words.first() {
        let expected = ubyte_magic(ndims);
        if found != expected {
            return Err(DataError::BadMagic {
                path: path.to_path_buf(),
                expected,
                found,
            });
        }
    }
    if bytes.len() < header_len {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: header_len as u64,
            found: bytes.len() as u64,
        });
    }
    let dims: Vec<u64> = words[1..].iter().map(|&d| u64::from(d)).collect();
    let expected = data_len(&dims)
        .and_then(|n| n.checked_add(header_len as u64))
        .ok_or_else(|| DataError::Dimensions {
            path: path.to_path_buf(),
            expected: "dimensions whose product fits in memory".to_string(),
            found: dims.clone(),
        })?;
    check_len(path, bytes.len() as u64, expected)?;
    Ok(Idx {
        dims: words[1..].iter().map(|&d| d as usize).collect(),
        data: &bytes[header_len..],
    })
}

/// The product of the dimensions, or `None` when it overflows `usize`.
fn data_len(dims: &[u64]) -> Option<u64> {
    dims.iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d))
        .filter(|&n| usize::try_from(n).is_ok())
}

/// Fails unless a file of `found` bytes has exactly the `expected` length.
fn check_len(path: &Path, found: u64, expected: u64) -> Result<(), DataError> {
    let path = path.to_path_buf();
    if found < expected {
        Err(DataError::Truncated {
            path,
            expected,
            found,
        })
    } else if found > expected {
        Err(DataError::TrailingData {
            path,
            expected,
            found,
        })
    } else {
        Ok(())
    }
}
