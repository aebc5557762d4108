//! Encoding and decoding the `ADJCKPT1` byte layout (documented in the
//! [parent module](super)), independent of files and models.

use std::io::{self, Write};
use std::path::Path;

use super::dtype::{tag_size, Stored};
use super::CheckpointError;
use crate::tensor::Tensor;

/// The first eight bytes of every checkpoint.
pub(super) const MAGIC: &[u8; 8] = b"ADJCKPT1";

/// One tensor as found in a file: its elements still encoded.
#[derive(Debug)]
pub(super) struct Record<'a> {
    /// The tensor's name.
    pub name: String,
    /// The length of each axis.
    pub shape: Vec<usize>,
    /// The element type tag.
    pub tag: u8,
    /// The elements' little-endian bytes (a whole number of elements).
    pub data: &'a [u8],
}

/// What is wrong with a byte string, before the file's path is known.
#[derive(Debug)]
pub(super) enum FormatError {
    /// The magic number is wrong.
    BadMagic(String),
    /// A field runs past the end.
    Truncated {
        what: String,
        offset: usize,
        needed: u64,
        available: usize,
    },
    /// Another problem.
    Corrupt(String),
}

impl FormatError {
    /// The error as a [`CheckpointError`] naming `path`.
    pub(super) fn at(self, path: &Path) -> CheckpointError {
        let path = path.to_path_buf();
        match self {
            FormatError::BadMagic(found) => CheckpointError::BadMagic { path, found },
            FormatError::Truncated {
                what,
                offset,
                needed,
                available,
            } => CheckpointError::Truncated {
                path,
                what,
                offset,
                needed,
                available,
            },
            FormatError::Corrupt(detail) => CheckpointError::Corrupt { path, detail },
        }
    }
}

/// Writes `tensors` in the checkpoint layout.
pub(super) fn write<E: Stored>(
    out: &mut impl Write,
    tensors: &[(String, Tensor<E>)],
) -> io::Result<()> {
    out.write_all(MAGIC)?;
    out.write_all(&(tensors.len() as u64).to_le_bytes())?;
    let mut buf = Vec::new();
    for (name, t) in tensors {
        buf.clear();
        buf.extend((name.len() as u64).to_le_bytes());
        buf.extend(name.as_bytes());
        buf.extend((t.ndim() as u64).to_le_bytes());
        for &d in t.shape() {
            buf.extend((d as u64).to_le_bytes());
        }
        buf.push(E::TAG);
        E::encode(t.data(), &mut buf);
        out.write_all(&buf)?;
    }
    Ok(())
}

/// Parses a whole checkpoint; every length is checked against the bytes
/// left before anything is allocated for it.
pub(super) fn read(bytes: &[u8]) -> Result<Vec<Record<'_>>, FormatError> {
    let mut r = Reader { bytes, pos: 0 };
    let magic = r.take(8, "magic number");
    if magic.ok() != Some(MAGIC.as_slice()) {
        let head = &bytes[..bytes.len().min(8)];
        return Err(FormatError::BadMagic(head.escape_ascii().to_string()));
    }
    let count = r.u64("tensor count")?;
    let mut records = Vec::new();
    for i in 0..count {
        records.push(r.record(i)?);
    }
    if r.pos != bytes.len() {
        return Err(FormatError::Corrupt(format!(
            "{} unexpected bytes after the last of {count} tensors",
            bytes.len() - r.pos
        )));
    }
    Ok(records)
}

/// A cursor over the file's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// The next `n` bytes, or a truncation error naming `what`.
    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], FormatError> {
        let available = self.bytes.len() - self.pos;
        match usize::try_from(n) {
            Ok(len) if len <= available => {
                let out = &self.bytes[self.pos..self.pos + len];
                self.pos += len;
                Ok(out)
            }
            _ => Err(FormatError::Truncated {
                what: what.to_string(),
                offset: self.pos,
                needed: n,
                available,
            }),
        }
    }

    /// The next little-endian `u64`.
    fn u64(&mut self, what: &str) -> Result<u64, FormatError> {
        let b = self.take(8, what)?;
        Ok(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }

    /// The next `u64`, which must fit a `usize`.
    fn usize(&mut self, what: &str) -> Result<usize, FormatError> {
        let n = self.u64(what)?;
        usize::try_from(n).map_err(|_| FormatError::Corrupt(format!("{what} {n} is too large")))
    }

    /// The `i`-th tensor record.
    fn record(&mut self, i: u64) -> Result<Record<'a>, FormatError> {
        let name_len = self.u64(&format!("name length of tensor {i}"))?;
        let name_bytes = self.take(name_len, &format!("name of tensor {i}"))?;
        let name = String::from_utf8(name_bytes.to_vec())
            .map_err(|_| FormatError::Corrupt(format!("name of tensor {i} is not valid UTF-8")))?;
        let ndim = self.u64(&format!("rank of tensor `{name}`"))?;
        let dims_bytes = ndim.saturating_mul(8);
        if dims_bytes > (self.bytes.len() - self.pos) as u64 {
            return Err(FormatError::Truncated {
                what: format!("shape of tensor `{name}` ({ndim} axes)"),
                offset: self.pos,
                needed: dims_bytes,
                available: self.bytes.len() - self.pos,
            });
        }
        let mut shape = Vec::new();
        for _ in 0..ndim {
            shape.push(self.usize(&format!("axis length of tensor `{name}`"))?);
        }
        let tag = self.take(1, &format!("element type of tensor `{name}`"))?[0];
        let Some(size) = tag_size(tag) else {
            return Err(FormatError::Corrupt(format!(
                "tensor `{name}` has unknown element type tag {tag} (0 = f32, 1 = f64)"
            )));
        };
        let data_len = shape
            .iter()
            .try_fold(size as u64, |acc, &d| acc.checked_mul(d as u64))
            .unwrap_or(u64::MAX);
        let data = self.take(data_len, &format!("elements of tensor `{name}` {shape:?}"))?;
        Ok(Record {
            name,
            shape,
            tag,
            data,
        })
    }
}
