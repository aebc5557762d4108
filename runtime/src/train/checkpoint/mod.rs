//! Checkpoints: a model's tensors ([`save`], [`load_into`]), or the whole
//! state of a training run ([`save_training`], [`load_training`]), in one
//! crash-safe, checksummed file format.
//!
//! # Format (`ADJCKPT2`)
//!
//! A checkpoint is a list of named arrays. All integers are unsigned 64-bit
//! little-endian unless stated otherwise:
//!
//! | field | bytes |
//! |---|---|
//! | magic `ADJCKPT2` | 8 |
//! | number of arrays `n` | 8 |
//! | then `n` times: name length `l` | 8 |
//! | name, UTF-8 | `l` |
//! | number of axes `d` | 8 |
//! | length of each axis | `8 d` |
//! | element type tag: 0 = `f32`, 1 = `f64`, 2 = `u64`, 3 = `u8` | 1 |
//! | elements, row-major, little-endian | `size × product of the lengths` |
//! | CRC-32 (IEEE) of every byte before it, 32-bit little-endian | 4 |
//!
//! `ADJCKPT1` files (the same without the checksum, `f32`/`f64` only) are
//! still read.
//!
//! A model checkpoint ([`save`]) names its tensors by their [`Parameters`]
//! paths (`"w1"`, `"layers.0.w"`). A training checkpoint
//! ([`save_training`]) holds:
//!
//! | names | type | what |
//! |---|---|---|
//! | `model.PATH` | model's | the model's tensors |
//! | `optimizer.kind` | `u8` text | `sgd`, `adagrad`, `rmsprop`, `adam`, `adamw` |
//! | `optimizer.learning_rate` | `f64` | the learning rate of the next step |
//! | `optimizer.hyper.NAME` | `f64` | hyperparameters (`beta1`, `momentum`, ...) |
//! | `optimizer.count.NAME` | `u64` | counters (Adam's `steps`) |
//! | `optimizer.state.SLOT.PATH` | model's | moments, velocity, accumulators (`optimizer.state.m.w1`) |
//! | `data.batch_size`, `data.batches_per_epoch` | `u64` | the batching the position counts in |
//! | `data.order` | `u64 [n]` | the current epoch's order of the examples |
//! | `data.rng.seed`, `data.rng.stream`, `data.rng.word_pos` | `u8 [32]`, `u64`, `u64 [2]` (low word first) | the shuffling generator (ChaCha12) |
//! | `progress.epoch`, `progress.step` | `u64` | epochs completed; steps completed in the next |
//! | `progress.loss_sum` | `f64` | the sum of those steps' losses |
//!
//! Every save writes `PATH.tmp`, syncs it, and renames it over `PATH`, so a
//! save interrupted at any point (even by `SIGKILL`) leaves the previous
//! checkpoint intact. Loading checks every length against the file's size
//! before reading, the checksum, and every name, type and shape against the
//! model, optimiser and data it is loaded into, and changes them only when
//! all of it fits.

mod contents;
mod dtype;
mod error;
mod format;
mod training;

pub use dtype::Stored;
pub use error::CheckpointError;
pub use training::{load_training, save_training, Position};

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use contents::Contents;
use format::Entry;

use crate::params::Parameters;

/// Writes every tensor of `model`, buffers included, to `path` (see the [module](self) docs
/// for the format), through `PATH.tmp` and a rename.
pub fn save<P>(model: &P, path: impl AsRef<Path>) -> Result<(), CheckpointError>
where
    P: Parameters,
    P::Elem: Stored,
{
    let entries: Vec<Entry> = model
        .named_state()
        .iter()
        .map(|(name, t)| Entry::tensor(name.as_str(), t))
        .collect();
    write_file(path.as_ref(), &entries)
}

/// Replaces every tensor of `model` by the tensor of the same name in the
/// checkpoint at `path`; from a training checkpoint, by its `model.PATH`
/// tensors.
///
/// Fails, leaving `model` unchanged, when the file cannot be read, is not a
/// well-formed checkpoint, lacks one of the model's tensors, holds a tensor
/// the model does not have (in a model checkpoint), or stores a tensor with
/// another shape or element type than the model's.
pub fn load_into<P>(model: &mut P, path: impl AsRef<Path>) -> Result<(), CheckpointError>
where
    P: Parameters,
    P::Elem: Stored,
{
    let path = path.as_ref();
    let bytes = read_file(path)?;
    let mut contents = Contents::parse(path, &bytes)?;
    let loaded = if contents.contains(training::MARKER) {
        contents.model(model, training::MODEL)?
    } else {
        let loaded = contents.model(model, "")?;
        contents.finish()?;
        loaded
    };
    assign(model, loaded);
    Ok(())
}

/// One array of a checkpoint, as [`inspect`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryInfo {
    /// Its name (`model.w1`, `optimizer.state.m.w1`, `progress.step`).
    pub name: String,
    /// Its element type: `f32`, `f64`, `u64` or `u8`.
    pub dtype: &'static str,
    /// The length of each axis.
    pub shape: Vec<usize>,
}

/// The arrays of the checkpoint at `path`, in file order, once the whole
/// file has been checked (lengths and checksum).
pub fn inspect(path: impl AsRef<Path>) -> Result<Vec<EntryInfo>, CheckpointError> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    let records = format::read(&bytes).map_err(|e| e.at(path))?;
    Ok(records
        .into_iter()
        .map(|r| EntryInfo {
            name: r.name,
            dtype: dtype::tag_name(r.tag),
            shape: r.shape,
        })
        .collect())
}

/// Replaces the tensors of `model`, in visiting order, by `loaded` (one
/// per tensor, already checked).
fn assign<P: Parameters>(model: &mut P, loaded: Vec<crate::tensor::Tensor<P::Elem>>) {
    let mut loaded = loaded.into_iter();
    model.visit_state_mut(&mut String::new(), &mut |_, t| {
        if let Some(new) = loaded.next() {
            *t = new;
        }
    });
}

/// The bytes of the file at `path`.
fn read_file(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `entries` to `PATH.tmp`, syncs it, renames it over `path`, and
/// syncs the directory (where the platform allows) so the rename is durable.
fn write_file(path: &Path, entries: &[Entry]) -> Result<(), CheckpointError> {
    let tmp = tmp_path(path);
    let written = File::create(&tmp).and_then(|file| {
        let mut out = BufWriter::new(file);
        format::write(&mut out, entries)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    });
    if let Err(source) = written {
        let _ = fs::remove_file(&tmp);
        return Err(CheckpointError::Io { path: tmp, source });
    }
    fs::rename(&tmp, path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // The rename is atomic already; syncing the directory only makes it
    // survive a power cut, and opening a directory fails on some systems.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

/// `PATH.tmp`: where a save writes before renaming.
fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}
