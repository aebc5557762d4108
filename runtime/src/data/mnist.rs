//! MNIST handwritten digits: 60000 training and 10000 test images of 28 × 28
//! grey pixels, each labelled with its digit 0..=9, in IDX files.

use std::path::Path;

use crate::tensor::Tensor;

use super::{file, idx, labels, pixels, DataError, Split};

/// Rows of an image.
pub const ROWS: usize = 28;
/// Columns of an image.
pub const COLS: usize = 28;
/// Pixels of an image (`ROWS * COLS`), the length of a row of
/// [`Split::images`].
pub const PIXELS: usize = ROWS * COLS;
/// The number of classes (digits 0..=9).
pub const CLASSES: usize = 10;
/// The training images' file name (without `.gz`).
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// The training labels' file name (without `.gz`).
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// The test images' file name (without `.gz`).
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// The test labels' file name (without `.gz`).
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// The MNIST training and test sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Mnist {
    /// The 60000 training examples; images `[n, 784]`.
    pub train: Split,
    /// The 10000 test examples; images `[n, 784]`.
    pub test: Split,
}

/// Loads the four MNIST files from `dir`, each gzipped (`NAME.gz`, tried
/// first) or raw, checking magic numbers, dimensions, lengths, counts and
/// labels; pixels are scaled to `[0, 1]`.
pub fn load(dir: &Path) -> Result<Mnist, DataError> {
    Ok(Mnist {
        train: load_split(dir, TRAIN_IMAGES, TRAIN_LABELS)?,
        test: load_split(dir, TEST_IMAGES, TEST_LABELS)?,
    })
}

/// Loads one image file and its label file from `dir` (names without
/// `.gz`), checking them as [`load`] does.
pub fn load_split(dir: &Path, images: &str, labels: &str) -> Result<Split, DataError> {
    let (images_path, image_bytes) = file::read(dir, images)?;
    let image_idx = idx::parse(&images_path, &image_bytes, 3)?;
    let count = match image_idx.dims[..] {
        [n, ROWS, COLS] => n,
        _ => {
            return Err(DataError::Dimensions {
                path: images_path,
                expected: format!("[n, {ROWS}, {COLS}]"),
                found: image_idx.dims.iter().map(|&d| d as u64).collect(),
            })
        }
    };
    let (labels_path, label_bytes) = file::read(dir, labels)?;
    let label_idx = idx::parse(&labels_path, &label_bytes, 1)?;
    if label_idx.data.len() != count {
        return Err(DataError::CountMismatch {
            images_path,
            images: count,
            labels_path,
            labels: label_idx.data.len(),
        });
    }
    let labels = labels::checked(&labels_path, label_idx.data.iter().copied(), CLASSES)?;
    let images = Tensor::from_parts(
        image_idx.data.iter().map(|&b| pixels::scale(b)).collect(),
        vec![count, PIXELS],
    );
    Ok(Split { images, labels })
}
