//! [`CheckpointError`]: why a checkpoint could not be written or loaded.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// A checkpoint could not be written, read, or loaded into a model.
///
/// Every message starts with the file's path, e.g. `model.ckpt: tensor
/// `w1` has shape [784, 512] in the file but [784, 256] in the model`.
#[derive(Debug, Error)]
pub enum CheckpointError {
    /// Reading, writing or renaming the file failed.
    #[error("{}: I/O error: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file does not start with `ADJCKPT1`.
    #[error("{}: not an adjoint checkpoint: starts with \"{found}\", expected \"ADJCKPT1\"", path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The file's first bytes, escaped.
        found: String,
    },
    /// The file ends in the middle of a field.
    #[error("{}: truncated: {what} needs {needed} bytes at offset {offset}, the file has {available} left", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The field being read.
        what: String,
        /// Where the field starts.
        offset: usize,
        /// The bytes the field needs.
        needed: u64,
        /// The bytes left in the file.
        available: usize,
    },
    /// The file is malformed in another way (bad UTF-8, unknown element
    /// type, a name twice, bytes after the last tensor).
    #[error("{}: {detail}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A tensor of the model is not in the file.
    #[error("{}: tensor `{name}` of the model is missing from the file", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// The tensor's name in the model.
        name: String,
    },
    /// The file holds a tensor the model does not have.
    #[error("{}: tensor `{name}` in the file is not in the model", path.display())]
    Unexpected {
        /// The file.
        path: PathBuf,
        /// The tensor's name in the file.
        name: String,
    },
    /// A tensor's shape in the file differs from the model's.
    #[error("{}: tensor `{name}` has shape {file:?} in the file but {model:?} in the model", path.display())]
    ShapeMismatch {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// Its shape in the file.
        file: Vec<usize>,
        /// Its shape in the model.
        model: Vec<usize>,
    },
    /// A tensor's element type in the file differs from the model's.
    #[error("{}: tensor `{name}` is stored as {file} but the model holds {model}", path.display())]
    ElementType {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The element type in the file.
        file: &'static str,
        /// The model's element type.
        model: &'static str,
    },
}
