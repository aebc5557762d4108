//! [`DataError`]: why a data file could not be loaded.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// A data file is missing, unreadable or malformed.
///
/// Every message starts with the file's path and says what is wrong with
/// it, e.g. `t10k-images-idx3-ubyte.gz: truncated file: expected 7840016
/// bytes, found 7840000`.
#[derive(Debug, Error)]
pub enum DataError {
    /// Neither the gzipped nor the raw form of a file exists.
    #[error("{}: file not found (also tried {})", raw.display(), gz.display())]
    Missing {
        /// The raw file's path.
        raw: PathBuf,
        /// The gzipped file's path.
        gz: PathBuf,
    },
    /// Reading the file failed.
    #[error("{}: I/O error: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file is gzipped but its stream is corrupt or cut short.
    #[error("{}: bad gzip stream: {source}", path.display())]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: io::Error,
    },
    /// The (decompressed) file is shorter than its header says.
    #[error("{}: truncated file: expected {expected} bytes, found {found}", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The length the header implies.
        expected: u64,
        /// The actual length.
        found: u64,
    },
    /// The (decompressed) file is longer than its header says.
    #[error("{}: trailing data: expected {expected} bytes, found {found}", path.display())]
    TrailingData {
        /// The file.
        path: PathBuf,
        /// The length the header implies.
        expected: u64,
        /// The actual length.
        found: u64,
    },
    /// An IDX file starts with the wrong magic number.
    #[error("{}: bad magic number: expected {expected}, found {found}", path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The magic number of the expected kind of file.
        expected: u32,
        /// The file's first four bytes, big-endian.
        found: u32,
    },
    /// The dimensions in a file's header are not the data set's.
    #[error("{}: wrong dimensions: expected {expected}, found {found:?}", path.display())]
    Dimensions {
        /// The file.
        path: PathBuf,
        /// The expected dimensions, e.g. `[n, 28, 28]`.
        expected: String,
        /// The dimensions in the header.
        found: Vec<u64>,
    },
    /// An image file and its label file hold different numbers of items.
    #[error(
        "{}: {images} images, but {} has {labels} labels",
        images_path.display(),
        labels_path.display()
    )]
    CountMismatch {
        /// The image file.
        images_path: PathBuf,
        /// The number of images.
        images: usize,
        /// The label file.
        labels_path: PathBuf,
        /// The number of labels.
        labels: usize,
    },
    /// A label is not a valid class.
    #[error(
        "{}: label {label} at index {index} out of range (classes 0..={})",
        path.display(),
        classes.saturating_sub(1)
    )]
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// The offending label.
        label: u8,
        /// Its position among the file's labels.
        index: usize,
        /// The number of classes (at least 1).
        classes: usize,
    },
    /// A record file's length is not a positive multiple of the record size.
    #[error(
        "{}: size {size} bytes is not a positive multiple of the record size {record} bytes",
        path.display()
    )]
    RecordSize {
        /// The file.
        path: PathBuf,
        /// The (decompressed) file length.
        size: u64,
        /// The length of one record.
        record: usize,
    },
}
