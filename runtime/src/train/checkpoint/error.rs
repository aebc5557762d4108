//! [`CheckpointError`]: why a checkpoint could not be written or loaded.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use crate::optim::StateError;

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
    /// The file does not start with `ADJCKPT2` (or the older `ADJCKPT1`).
    #[error("{}: not an adjoint checkpoint: starts with \"{found}\", expected \"ADJCKPT2\"", path.display())]
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
    /// The file is malformed in another way (its checksum does not match
    /// its contents, bad UTF-8, unknown element type, a name twice, bytes
    /// after the end).
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
    /// A value of a training checkpoint (optimiser, data order, position)
    /// is not in the file.
    #[error("{}: `{name}` is missing from the file", path.display())]
    MissingEntry {
        /// The file.
        path: PathBuf,
        /// The value's name.
        name: String,
    },
    /// A value of a training checkpoint has another type or shape than
    /// that value has.
    #[error("{}: `{name}` is {found} in the file, expected {expected}", path.display())]
    EntryType {
        /// The file.
        path: PathBuf,
        /// The value's name.
        name: String,
        /// Its element type and shape in the file.
        found: String,
        /// What it should be.
        expected: String,
    },
    /// A training run was to be resumed from a checkpoint that holds only
    /// a model (written by [`save`](super::save)).
    #[error("{}: not a training checkpoint (no `{missing}`): it holds a model but no optimiser state or position to resume from", path.display())]
    NotTraining {
        /// The file.
        path: PathBuf,
        /// The training value it lacks.
        missing: &'static str,
    },
    /// The optimiser state in the file does not fit the optimiser: another
    /// algorithm, other hyperparameters, or tensors of another model.
    #[error("{}: optimizer state does not fit: {source}", path.display())]
    Optimizer {
        /// The file.
        path: PathBuf,
        /// What does not fit.
        source: StateError,
    },
    /// The data order or position in the file does not fit the data of
    /// this run (another training set, batch size or step).
    #[error("{}: the data does not match the checkpoint: {detail}", path.display())]
    Data {
        /// The file.
        path: PathBuf,
        /// What differs.
        detail: String,
    },
}
