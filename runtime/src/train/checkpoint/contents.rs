//! [`Contents`]: a parsed checkpoint's arrays by name, taken out one by one
//! with their type and shape checked, every error naming the file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::dtype::{self, Stored};
use super::format::{self, Record};
use super::CheckpointError;
use crate::params::Parameters;
use crate::tensor::Tensor;

/// The arrays of one checkpoint file, by name.
pub(super) struct Contents<'a> {
    path: &'a Path,
    records: HashMap<String, Record<'a>>,
}

impl<'a> Contents<'a> {
    /// Parses `bytes`, read from `path`; a name may appear only once.
    pub(super) fn parse(path: &'a Path, bytes: &'a [u8]) -> Result<Self, CheckpointError> {
        let list = format::read(bytes).map_err(|e| e.at(path))?;
        let mut records = HashMap::with_capacity(list.len());
        for record in list {
            let name = record.name.clone();
            if records.insert(name.clone(), record).is_some() {
                return Err(CheckpointError::Corrupt {
                    path: path.to_path_buf(),
                    detail: format!("tensor `{name}` appears twice"),
                });
            }
        }
        Ok(Self { path, records })
    }

    /// The file's path, for errors.
    pub(super) fn path(&self) -> PathBuf {
        self.path.to_path_buf()
    }

    /// Whether the file holds an array named `name`.
    pub(super) fn contains(&self, name: &str) -> bool {
        self.records.contains_key(name)
    }

    /// Decodes, in the model's visiting order, the tensor at `PREFIX.PATH`
    /// (just `PATH` for an empty prefix) for each tensor of `model`,
    /// checking its element type and shape.
    pub(super) fn model<P>(
        &mut self,
        model: &P,
        prefix: &str,
    ) -> Result<Vec<Tensor<P::Elem>>, CheckpointError>
    where
        P: Parameters,
        P::Elem: Stored,
    {
        let mut out = Vec::new();
        let mut failure = None;
        model.visit_state(&mut String::new(), &mut |path, t| {
            if failure.is_none() {
                let name = prefixed(prefix, path);
                match self.tensor(&name, t.shape()) {
                    Ok(tensor) => out.push(tensor),
                    Err(e) => failure = Some(e),
                }
            }
        });
        failure.map_or(Ok(out), Err)
    }

    /// The tensor `name` of a model, which must have `shape` and the
    /// element type `E`; a missing one is [`CheckpointError::Missing`].
    pub(super) fn tensor<E: Stored>(
        &mut self,
        name: &str,
        shape: &[usize],
    ) -> Result<Tensor<E>, CheckpointError> {
        let Some(record) = self.records.remove(name) else {
            return Err(CheckpointError::Missing {
                path: self.path(),
                name: name.to_string(),
            });
        };
        if record.tag != E::TAG {
            return Err(CheckpointError::ElementType {
                path: self.path(),
                name: name.to_string(),
                file: dtype::tag_name(record.tag),
                model: E::NAME,
            });
        }
        if record.shape != shape {
            return Err(CheckpointError::ShapeMismatch {
                path: self.path(),
                name: name.to_string(),
                file: record.shape,
                model: shape.to_vec(),
            });
        }
        self.decode(record)
    }

    /// A tensor of element type `E` of whatever shape the file gives.
    pub(super) fn any_tensor<E: Stored>(
        &mut self,
        name: &str,
    ) -> Result<Tensor<E>, CheckpointError> {
        let record = self.entry(name, E::TAG, None)?;
        self.decode(record)
    }

    /// One `f64` (shape `[]`).
    pub(super) fn f64(&mut self, name: &str) -> Result<f64, CheckpointError> {
        let record = self.entry(name, f64::TAG, Some(&[]))?;
        Ok(f64::decode(record.data)[0])
    }

    /// One `u64` (shape `[]`).
    pub(super) fn u64(&mut self, name: &str) -> Result<u64, CheckpointError> {
        Ok(self.u64s_shaped(name, Some(&[]))?[0])
    }

    /// A vector of `u64`s: shape `[len]` if `len` is given, else any `[n]`.
    pub(super) fn u64s(
        &mut self,
        name: &str,
        len: Option<usize>,
    ) -> Result<Vec<u64>, CheckpointError> {
        match len {
            Some(n) => self.u64s_shaped(name, Some(&[n])),
            None => {
                let record = self.entry(name, dtype::U64, None)?;
                if record.shape.len() != 1 {
                    return Err(self.entry_type(&record, "u64 [n]"));
                }
                Ok(decode_u64s(record.data))
            }
        }
    }

    /// Bytes: shape `[len]` if `len` is given, else any `[n]`.
    pub(super) fn bytes(
        &mut self,
        name: &str,
        len: Option<usize>,
    ) -> Result<Vec<u8>, CheckpointError> {
        let record = match len {
            Some(n) => self.entry(name, dtype::U8, Some(&[n]))?,
            None => self.entry(name, dtype::U8, None)?,
        };
        if record.shape.len() != 1 {
            return Err(self.entry_type(&record, "u8 [n]"));
        }
        Ok(record.data.to_vec())
    }

    /// UTF-8 text stored as bytes.
    pub(super) fn text(&mut self, name: &str) -> Result<String, CheckpointError> {
        let bytes = self.bytes(name, None)?;
        String::from_utf8(bytes).map_err(|_| CheckpointError::Corrupt {
            path: self.path(),
            detail: format!("`{name}` is not valid UTF-8"),
        })
    }

    /// The names starting with `prefix`, sorted.
    pub(super) fn names_under(&self, prefix: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .records
            .keys()
            .filter(|n| n.starts_with(prefix))
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// Succeeds when every array has been taken; otherwise names the first
    /// left over (in sorted order) as [`CheckpointError::Unexpected`].
    pub(super) fn finish(self) -> Result<(), CheckpointError> {
        match self.records.into_keys().min() {
            Some(name) => Err(CheckpointError::Unexpected {
                path: self.path.to_path_buf(),
                name,
            }),
            None => Ok(()),
        }
    }

    /// The `u64`s of `name`, of `shape` if given.
    fn u64s_shaped(
        &mut self,
        name: &str,
        shape: Option<&[usize]>,
    ) -> Result<Vec<u64>, CheckpointError> {
        let record = self.entry(name, dtype::U64, shape)?;
        Ok(decode_u64s(record.data))
    }

    /// The record `name`, which must exist (else
    /// [`CheckpointError::MissingEntry`]) with element type `tag` and, if
    /// given, `shape`.
    fn entry(
        &mut self,
        name: &str,
        tag: u8,
        shape: Option<&[usize]>,
    ) -> Result<Record<'a>, CheckpointError> {
        let Some(record) = self.records.remove(name) else {
            return Err(CheckpointError::MissingEntry {
                path: self.path(),
                name: name.to_string(),
            });
        };
        if record.tag != tag || shape.is_some_and(|s| s != record.shape.as_slice()) {
            let expected = match shape {
                Some(s) => format!("{} {s:?}", dtype::tag_name(tag)),
                None => dtype::tag_name(tag).to_string(),
            };
            return Err(self.entry_type(&record, &expected));
        }
        Ok(record)
    }

    /// The error for `record` not being of the `expected` type and shape.
    fn entry_type(&self, record: &Record<'_>, expected: &str) -> CheckpointError {
        CheckpointError::EntryType {
            path: self.path(),
            name: record.name.clone(),
            found: format!("{} {:?}", dtype::tag_name(record.tag), record.shape),
            expected: expected.to_string(),
        }
    }

    /// The tensor of `record`, whose type has been checked.
    fn decode<E: Stored>(&self, record: Record<'_>) -> Result<Tensor<E>, CheckpointError> {
        Tensor::from_vec(E::decode(record.data), &record.shape).map_err(|e| {
            CheckpointError::Corrupt {
                path: self.path(),
                detail: format!("tensor `{}`: {e}", record.name),
            }
        })
    }
}

/// `PREFIX.PATH`, or `PATH` when the prefix is empty (and `PREFIX` when the
/// path is: a model that is one tensor).
pub(super) fn prefixed(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}.{path}"),
    }
}

/// Little-endian `u64`s.
fn decode_u64s(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect()
}
