//! [`Stored`]: the element types a checkpoint holds, with their tags and
//! little-endian encodings.

use crate::tensor::Element;

/// An element type that can be written to and read from a checkpoint.
pub trait Stored: Element {
    /// The type's tag in the file.
    const TAG: u8;
    /// The type's name in error messages.
    const NAME: &'static str;

    /// Appends the little-endian bytes of `values` to `out`.
    fn encode(values: &[Self], out: &mut Vec<u8>);

    /// The values whose little-endian bytes are `bytes`; a trailing partial
    /// element is ignored (the caller passes whole elements).
    fn decode(bytes: &[u8]) -> Vec<Self>;

    /// The number of bytes of one element.
    fn size() -> usize {
        std::mem::size_of::<Self>()
    }
}

impl Stored for f32 {
    const TAG: u8 = 0;
    const NAME: &'static str = "f32";

    fn encode(values: &[Self], out: &mut Vec<u8>) {
        out.reserve(values.len() * Self::size());
        for v in values {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn decode(bytes: &[u8]) -> Vec<Self> {
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }
}

impl Stored for f64 {
    const TAG: u8 = 1;
    const NAME: &'static str = "f64";

    fn encode(values: &[Self], out: &mut Vec<u8>) {
        out.reserve(values.len() * Self::size());
        for v in values {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn decode(bytes: &[u8]) -> Vec<Self> {
        bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect()
    }
}

/// The tag of unsigned 64-bit integers (counters, positions, orders).
pub(super) const U64: u8 = 2;

/// The tag of bytes (UTF-8 text, generator keys).
pub(super) const U8: u8 = 3;

/// The byte size of the element type tagged `tag`, if it is known.
pub(super) fn tag_size(tag: u8) -> Option<usize> {
    match tag {
        f32::TAG => Some(4),
        f64::TAG => Some(8),
        U64 => Some(8),
        U8 => Some(1),
        _ => None,
    }
}

/// The name of the element type tagged `tag`, for error messages.
pub(super) fn tag_name(tag: u8) -> &'static str {
    match tag {
        f32::TAG => f32::NAME,
        f64::TAG => f64::NAME,
        U64 => "u64",
        U8 => "u8",
        _ => "an unknown type",
    }
}
