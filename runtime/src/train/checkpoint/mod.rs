//! Saving a model's tensors to a file and loading them back into a model of
//! the same structure.
//!
//! # Format (`ADJCKPT1`)
//!
//! All integers are unsigned 64-bit little-endian unless stated otherwise:
//!
//! | field | bytes |
//! |---|---|
//! | magic `ADJCKPT1` | 8 |
//! | number of tensors `n` | 8 |
//! | then `n` times: name length `l` | 8 |
//! | name, UTF-8 | `l` |
//! | number of axes `d` | 8 |
//! | length of each axis | `8 d` |
//! | element type tag: 0 = `f32`, 1 = `f64` (one byte) | 1 |
//! | elements, row-major, little-endian | `size × product of the lengths` |
//!
//! Names are the model's [`Parameters`] paths (`"w1"`, `"layers.0.w"`).
//! [`save`] writes `PATH.tmp` and renames it over `PATH` once it is complete
//! and synced, so an interrupted save leaves the previous checkpoint intact.
//! [`load_into`] matches tensors by name, checks every length against the
//! file's size before reading, and changes the model only when every tensor
//! fits.

mod dtype;
mod error;
mod format;

pub use dtype::Stored;
pub use error::CheckpointError;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::params::Parameters;
use crate::tensor::Tensor;

/// Writes every tensor of `model` to `path` (see the [module](self) docs
/// for the format), through `PATH.tmp` and a rename.
pub fn save<P>(model: &P, path: impl AsRef<Path>) -> Result<(), CheckpointError>
where
    P: Parameters,
    P::Elem: Stored,
{
    let path = path.as_ref();
    let tmp = tmp_path(path);
    let io = |source| CheckpointError::Io {
        path: tmp.clone(),
        source,
    };
    let written = File::create(&tmp).and_then(|file| {
        let mut out = BufWriter::new(file);
        format::write(&mut out, &model.named_tensors())?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io(e));
    }
    fs::rename(&tmp, path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Replaces every tensor of `model` by the tensor of the same name in the
/// checkpoint at `path`.
///
/// Fails, leaving `model` unchanged, when the file cannot be read, is not a
/// well-formed checkpoint, lacks one of the model's tensors, holds a tensor
/// the model does not have, or stores a tensor with another shape or
/// element type than the model's.
pub fn load_into<P>(model: &mut P, path: impl AsRef<Path>) -> Result<(), CheckpointError>
where
    P: Parameters,
    P::Elem: Stored,
{
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let records = format::read(&bytes).map_err(|e| e.at(path))?;
    let mut by_name = HashMap::with_capacity(records.len());
    for record in records {
        let name = record.name.clone();
        if by_name.insert(name.clone(), record).is_some() {
            return Err(CheckpointError::Corrupt {
                path: path.to_path_buf(),
                detail: format!("tensor `{name}` appears twice"),
            });
        }
    }
    let loaded = match_model(model, &mut by_name, path)?;
    if let Some(name) = by_name.into_keys().min() {
        return Err(CheckpointError::Unexpected {
            path: path.to_path_buf(),
            name,
        });
    }
    let mut loaded = loaded.into_iter();
    model.visit_mut(&mut String::new(), &mut |_, t| {
        if let Some(new) = loaded.next() {
            *t = new;
        }
    });
    Ok(())
}

/// Decodes, in the model's visiting order, the tensor of each of the
/// model's names, removing it from `records`.
fn match_model<P>(
    model: &P,
    records: &mut HashMap<String, format::Record<'_>>,
    path: &Path,
) -> Result<Vec<Tensor<P::Elem>>, CheckpointError>
where
    P: Parameters,
    P::Elem: Stored,
{
    let mut out = Vec::new();
    let mut failure = None;
    model.visit(&mut String::new(), &mut |name, t| {
        if failure.is_none() {
            match decode_for(name, t.shape(), records, path) {
                Ok(tensor) => out.push(tensor),
                Err(e) => failure = Some(e),
            }
        }
    });
    failure.map_or(Ok(out), Err)
}

/// The tensor named `name`, checked against the model's `shape` and
/// element type.
fn decode_for<E: Stored>(
    name: &str,
    shape: &[usize],
    records: &mut HashMap<String, format::Record<'_>>,
    path: &Path,
) -> Result<Tensor<E>, CheckpointError> {
    let Some(record) = records.remove(name) else {
        return Err(CheckpointError::Missing {
            path: path.to_path_buf(),
            name: name.to_string(),
        });
    };
    if record.tag != E::TAG {
        return Err(CheckpointError::ElementType {
            path: path.to_path_buf(),
            name: name.to_string(),
            file: dtype::tag_name(record.tag),
            model: E::NAME,
        });
    }
    if record.shape != shape {
        return Err(CheckpointError::ShapeMismatch {
            path: path.to_path_buf(),
            name: name.to_string(),
            file: record.shape,
            model: shape.to_vec(),
        });
    }
    Tensor::from_vec(E::decode(record.data), shape).map_err(|e| CheckpointError::Corrupt {
        path: path.to_path_buf(),
        detail: format!("tensor `{name}`: {e}"),
    })
}

/// `PATH.tmp`: where [`save`] writes before renaming.
fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}
