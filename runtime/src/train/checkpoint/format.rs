//! Encoding and decoding the checkpoint byte layout (`ADJCKPT2`, and the
//! older `ADJCKPT1` for reading; documented in the [parent module](super)),
//! independent of files and models.

use std::io::{self, Write};
use std::path::Path;

use super::dtype::{self, tag_size, Stored};
use super::CheckpointError;
use crate::tensor::Tensor;

/// The first eight bytes of every checkpoint written now.
pub(super) const MAGIC: &[u8; 8] = b"ADJCKPT2";

/// The first eight bytes of a checkpoint of the first version: the same
/// records (only `f32` and `f64`) and no checksum.
pub(super) const MAGIC_V1: &[u8; 8] = b"ADJCKPT1";

/// One named array to write: its shape, its element type tag and its
/// elements' little-endian bytes.
#[derive(Debug)]
pub(super) struct Entry {
    name: String,
    shape: Vec<usize>,
    tag: u8,
    bytes: Vec<u8>,
}

impl Entry {
    /// A tensor of the model's element type.
    pub(super) fn tensor<E: Stored>(name: impl Into<String>, t: &Tensor<E>) -> Self {
        let mut bytes = Vec::with_capacity(t.len() * E::size());
        E::encode(&t.to_vec(), &mut bytes);
        Self {
            name: name.into(),
            shape: t.shape().to_vec(),
            tag: E::TAG,
            bytes,
        }
    }

    /// One `f64` (shape `[]`).
    pub(super) fn f64(name: impl Into<String>, x: f64) -> Self {
        Self::tensor(name, &Tensor::scalar(x))
    }

    /// A vector of `u64`s (shape `[n]`).
    pub(super) fn u64s(name: impl Into<String>, values: &[u64]) -> Self {
        Self {
            name: name.into(),
            shape: vec![values.len()],
            tag: dtype::U64,
            bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    /// One `u64` (shape `[]`).
    pub(super) fn u64(name: impl Into<String>, value: u64) -> Self {
        Self {
            shape: Vec::new(),
            ..Self::u64s(name, &[value])
        }
    }

    /// Bytes (shape `[n]`): UTF-8 text or a key.
    pub(super) fn bytes(name: impl Into<String>, bytes: &[u8]) -> Self {
        Self {
            name: name.into(),
            shape: vec![bytes.len()],
            tag: dtype::U8,
            bytes: bytes.to_vec(),
        }
    }
}

/// One array as found in a file: its elements still encoded.
#[derive(Debug)]
pub(super) struct Record<'a> {
    /// The array's name.
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

/// A writer that keeps the CRC-32 of everything written through it.
struct Checksummed<W> {
    inner: W,
    crc: crc32fast::Hasher,
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `entries` in the `ADJCKPT2` layout, then the CRC-32 of all of it.
pub(super) fn write(out: &mut impl Write, entries: &[Entry]) -> io::Result<()> {
    let mut out = Checksummed {
        inner: out,
        crc: crc32fast::Hasher::new(),
    };
    out.write_all(MAGIC)?;
    out.write_all(&(entries.len() as u64).to_le_bytes())?;
    let mut head = Vec::new();
    for entry in entries {
        head.clear();
        head.extend((entry.name.len() as u64).to_le_bytes());
        head.extend(entry.name.as_bytes());
        head.extend((entry.shape.len() as u64).to_le_bytes());
        for &d in &entry.shape {
            head.extend((d as u64).to_le_bytes());
        }
        head.push(entry.tag);
        out.write_all(&head)?;
        out.write_all(&entry.bytes)?;
    }
    let crc = out.crc.finalize();
    out.inner.write_all(&crc.to_le_bytes())
}

/// Parses a whole checkpoint; every length is checked against the bytes
/// left before anything is allocated for it.
///
/// An `ADJCKPT2` file ends in the CRC-32 of the bytes before it, checked
/// after the records parse (so a cut file is reported as truncated, and a
/// changed byte as a checksum mismatch).
pub(super) fn read(bytes: &[u8]) -> Result<Vec<Record<'_>>, FormatError> {
    let mut r = Reader { bytes, pos: 0 };
    let magic = r.take(8, "magic number");
    let checksummed = match magic.ok() {
        Some(m) if m == MAGIC.as_slice() => true,
        Some(m) if m == MAGIC_V1.as_slice() => false,
        _ => {
            let head = &bytes[..bytes.len().min(8)];
            return Err(FormatError::BadMagic(head.escape_ascii().to_string()));
        }
    };
    let count = r.u64("tensor count")?;
    let mut records = Vec::new();
    for i in 0..count {
        records.push(r.record(i)?);
    }
    if checksummed {
        let end = r.pos;
        let stored = r.take(4, "checksum")?;
        let stored = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
        let actual = crc32fast::hash(&bytes[..end]);
        if stored != actual {
            return Err(FormatError::Corrupt(format!(
                "checksum mismatch: the file records CRC-32 {stored:#010x} but its contents give {actual:#010x} (the file is corrupt)"
            )));
        }
    }
    if r.pos != bytes.len() {
        return Err(FormatError::Corrupt(format!(
            "{} unexpected bytes after the end of the checkpoint ({count} tensors)",
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
                "tensor `{name}` has unknown element type tag {tag} (0 = f32, 1 = f64, 2 = u64, 3 = u8)"
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
