//! CIFAR-10 in its binary version: 32 × 32 colour images of 10 classes,
//! stored as records of one label byte and 3072 pixel bytes (1024 red, then
//! 1024 green, then 1024 blue, each plane row-major), 10000 records a file.

use std::path::Path;

use crate::tensor::Tensor;

use super::pixels::scale;
use super::{file, labels, DataError, Split};

/// Colour channels of an image (red, green, blue).
pub const CHANNELS: usize = 3;
/// Rows (and columns) of an image.
pub const SIDE: usize = 32;
/// Pixel bytes of an image (`CHANNELS * SIDE * SIDE`).
pub const IMAGE_BYTES: usize = CHANNELS * SIDE * SIDE;
/// Bytes of a record: the label, then the image.
pub const RECORD_BYTES: usize = 1 + IMAGE_BYTES;
/// The number of classes.
pub const CLASSES: usize = 10;
/// The class names, in label order.
pub const CLASS_NAMES: [&str; CLASSES] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];
/// The training files' names (without `.gz`).
pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// The test file's name (without `.gz`).
pub const TEST_FILE: &str = "test_batch.bin";

/// The CIFAR-10 training and test sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Cifar10 {
    /// The 50000 training examples; images `[n, 3, 32, 32]`.
    pub train: Split,
    /// The 10000 test examples; images `[n, 3, 32, 32]`.
    pub test: Split,
}

/// Loads the five training files and the test file from `dir`, each
/// gzipped (`NAME.gz`, tried first) or raw; pixels are scaled to `[0, 1]`.
pub fn load(dir: &Path) -> Result<Cifar10, DataError> {
    Ok(Cifar10 {
        train: load_batches(dir, &TRAIN_FILES)?,
        test: load_batches(dir, &[TEST_FILE])?,
    })
}

/// Loads the record files `names` (without `.gz`) from `dir` into one split,
/// in order; each file's length must be a positive multiple of
/// [`RECORD_BYTES`] and every label below [`CLASSES`].
pub fn load_batches(dir: &Path, names: &[&str]) -> Result<Split, DataError> {
    let mut pixels = Vec::new();
    let mut all_labels = Vec::new();
    for name in names {
        let (path, bytes) = file::read(dir, name)?;
        if bytes.is_empty() || bytes.len() % RECORD_BYTES != 0 {
            return Err(DataError::RecordSize {
                path,
                size: bytes.len() as u64,
                record: RECORD_BYTES,
            });
        }
        let records = bytes.chunks_exact(RECORD_BYTES);
        let label_bytes = records.clone().map(|record| record[0]);
        all_labels.extend(labels::checked(&path, label_bytes, CLASSES)?);
        pixels.reserve(bytes.len() / RECORD_BYTES * IMAGE_BYTES);
        for record in records {
            pixels.extend(record[1..].iter().map(|&b| scale(b)));
        }
    }
    let shape = vec![all_labels.len(), CHANNELS, SIDE, SIDE];
    Ok(Split {
        images: Tensor::from_parts(pixels, shape),
        labels: all_labels,
    })
}
