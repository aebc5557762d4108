//! MNIST: the real files in the repository, and one broken file per error.

use std::path::Path;
use std::time::Instant;

use super::{assert_names, gzip, idx_bytes, TempDir};
use crate::data::mnist::{self, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use crate::data::{normalize_channels, DataError};

/// The repository's copy of the four original MNIST files.
const MNIST_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/mnist");

/// The pixel bytes of `n` hand-made 28 × 28 images: image `k`, pixel `p`
/// holds `(7k + p) mod 256`.
fn pixels(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|k| (0..784).map(move |p| ((7 * k + p) % 256) as u8))
        .collect()
}

/// Writes a valid raw MNIST set with 3 training and 2 test images.
fn write_valid(dir: &TempDir) {
    dir.write(TRAIN_IMAGES, &idx_bytes(2051, &[3, 28, 28], &pixels(3)));
    dir.write(TRAIN_LABELS, &idx_bytes(2049, &[3], &[5, 0, 9]));
    dir.write(TEST_IMAGES, &idx_bytes(2051, &[2, 28, 28], &pixels(2)));
    dir.write(TEST_LABELS, &idx_bytes(2049, &[2], &[7, 2]));
}

/// Loads `dir`, expecting an error.
fn load_err(dir: &TempDir) -> DataError {
    mnist::load(dir.path()).expect_err("broken MNIST files must be rejected")
}

#[test]
fn loads_the_real_mnist() {
    let start = Instant::now();
    let set = mnist::load(Path::new(MNIST_DIR)).expect("repository MNIST loads");
    eprintln!("MNIST load took {:.3} s", start.elapsed().as_secs_f64());

    assert_eq!(set.train.len(), 60000);
    assert_eq!(set.test.len(), 10000);
    assert_eq!(set.train.images.shape(), &[60000, 784]);
    assert_eq!(set.test.images.shape(), &[10000, 784]);
    assert_eq!(set.train.labels[..6], [5, 0, 4, 1, 9, 2]);
    assert_eq!(set.test.labels[..10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);

    let mut counts = [0usize; 10];
    for &label in &set.train.labels {
        counts[label] += 1;
    }
    assert_eq!(
        counts,
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );

    for split in [&set.train, &set.test] {
        let data = split.images.data();
        assert!(data.iter().all(|&x| (0.0..=1.0).contains(&x)));
        assert_eq!(data.iter().copied().fold(f32::MIN, f32::max), 1.0);
        assert_eq!(data.iter().copied().fold(f32::MAX, f32::min), 0.0);
    }

    // The first training image (a 5): 166 ink pixels summing to 27525 / 255,
    // and its middle row.
    let first = &set.train.images.data()[..784];
    assert_eq!(first.iter().filter(|&&x| x > 0.0).count(), 166);
    let sum: f64 = first.iter().map(|&x| f64::from(x)).sum();
    assert!((sum - 27525.0 / 255.0).abs() < 1e-3, "sum {sum}");
    assert_eq!(first[14 * 28 + 13], 81.0 / 255.0);
    assert_eq!(first[14 * 28 + 14], 240.0 / 255.0);
    assert_eq!(first[14 * 28 + 15], 253.0 / 255.0);

    // The well-known training-set mean and standard deviation of a pixel.
    let (mut train, mut test) = (set.train.images, set.test.images);
    let stats = normalize_channels(&mut train, &mut test, 1).expect("MNIST normalizes");
    assert!((stats.mean[0] - 0.130_660_5).abs() < 1e-6, "{stats:?}");
    assert!((stats.std[0] - 0.308_108).abs() < 1e-5, "{stats:?}");
    assert!((train.data()[0] + 0.130_660_5 / 0.308_108).abs() < 1e-4);
}

#[test]
fn loads_hand_made_raw_and_gzipped_files() {
    let dir = TempDir::new("mnist-valid");
    write_valid(&dir);
    // The gzipped form wins over the raw one when both exist.
    dir.write(
        &format!("{TRAIN_LABELS}.gz"),
        &gzip(&idx_bytes(2049, &[3], &[1, 2, 3])),
    );
    let set = mnist::load(dir.path()).expect("valid files load");
    assert_eq!(set.train.labels, vec![1, 2, 3]);
    assert_eq!(set.test.labels, vec![7, 2]);
    assert_eq!(set.train.images.shape(), &[3, 784]);
    assert_eq!(set.test.images.shape(), &[2, 784]);
    let data = set.train.images.data();
    assert_eq!(data[0], 0.0);
    assert_eq!(data[255], 1.0);
    assert_eq!(data[784 + 1], 8.0 / 255.0);
    assert_eq!(data[2 * 784 + 241], 1.0);
    assert_eq!(data[2 * 784 + 242], 0.0);
}

#[test]
fn missing_file_names_both_forms() {
    let dir = TempDir::new("mnist-missing");
    let err = load_err(&dir);
    assert!(matches!(err, DataError::Missing { .. }));
    assert_names(
        &err,
        &dir.path().join(TRAIN_IMAGES),
        &format!("{TRAIN_IMAGES}.gz"),
    );
}

#[test]
fn truncated_image_file() {
    let dir = TempDir::new("mnist-truncated");
    write_valid(&dir);
    let mut bytes = idx_bytes(2051, &[3, 28, 28], &pixels(3));
    bytes.truncate(1000);
    let path = dir.write(TRAIN_IMAGES, &bytes);
    let err = load_err(&dir);
    assert!(matches!(
        err,
        DataError::Truncated {
            expected: 2368,
            found: 1000,
            ..
        }
    ));
    assert_names(
        &err,
        &path,
        "truncated file: expected 2368 bytes, found 1000",
    );
}

#[test]
fn truncated_gzipped_image_file() {
    let dir = TempDir::new("mnist-truncated-gz");
    write_valid(&dir);
    let bytes = &idx_bytes(2051, &[3, 28, 28], &pixels(3))[..2000];
    let path = dir.write(&format!("{TEST_IMAGES}.gz"), &gzip(bytes));
    let err = load_err(&dir);
    assert!(matches!(
        err,
        DataError::Truncated {
            expected: 2368,
            found: 2000,
            ..
        }
    ));
    assert_names(&err, &path, "expected 2368 bytes, found 2000");
}

#[test]
fn wrong_magic() {
    let dir = TempDir::new("mnist-magic");
    write_valid(&dir);
    // A label file where the images should be.
    let path = dir.write(TRAIN_IMAGES, &idx_bytes(2049, &[3], &[0, 1, 2]));
    let err = load_err(&dir);
    assert!(matches!(
        err,
        DataError::BadMagic {
            expected: 2051,
            found: 2049,
            ..
        }
    ));
    assert_names(&err, &path, "bad magic number: expected 2051, found 2049");
}

#[test]
fn wrong_magic_in_labels() {
    let dir = TempDir::new("mnist-magic-labels");
    write_valid(&dir);
    let path = dir.write(TEST_LABELS, &idx_bytes(0x1f8b_0800, &[2], &[7, 2]));
    let err = load_err(&dir);
    assert_names(&err, &path, "expected 2049, found 529205248");
}

#[test]
fn wrong_dimensions() {
    let dir = TempDir::new("mnist-dims");
    write_valid(&dir);
    let path = dir.write(
        TRAIN_IMAGES,
        &idx_bytes(2051, &[3, 27, 29], &pixels(3)[..2349]),
    );
    let err = load_err(&dir);
    assert!(matches!(err, DataError::Dimensions { .. }));
    assert_names(
        &err,
        &path,
        "wrong dimensions: expected [n, 28, 28], found [3, 27, 29]",
    );
}

#[test]
fn count_mismatch_between_images_and_labels() {
    let dir = TempDir::new("mnist-count");
    write_valid(&dir);
    let labels = dir.write(TEST_LABELS, &idx_bytes(2049, &[3], &[7, 2, 1]));
    let err = load_err(&dir);
    assert!(matches!(
        err,
        DataError::CountMismatch {
            images: 2,
            labels: 3,
            ..
        }
    ));
    let images = dir.path().join(TEST_IMAGES);
    assert_names(
        &err,
        &images,
        &format!("2 images, but {} has 3 labels", labels.display()),
    );
}

#[test]
fn label_out_of_range() {
    let dir = TempDir::new("mnist-label");
    dir.write(TRAIN_IMAGES, &idx_bytes(2051, &[6, 28, 28], &pixels(6)));
    let path = dir.write(TRAIN_LABELS, &idx_bytes(2049, &[6], &[5, 0, 4, 1, 9, 12]));
    dir.write(TEST_IMAGES, &idx_bytes(2051, &[2, 28, 28], &pixels(2)));
    dir.write(TEST_LABELS, &idx_bytes(2049, &[2], &[7, 2]));
    let err = load_err(&dir);
    assert!(matches!(
        err,
        DataError::LabelOutOfRange {
            label: 12,
            index: 5,
            classes: 10,
            ..
        }
    ));
    assert_names(
        &err,
        &path,
        "label 12 at index 5 out of range (classes 0..=9)",
    );
}

#[test]
fn corrupted_gzip() {
    let dir = TempDir::new("mnist-gzip");
    write_valid(&dir);
    let mut bytes = gzip(&idx_bytes(2049, &[3], &[5, 0, 9]));
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    bytes[middle + 1] ^= 0x55;
    let path = dir.write(&format!("{TRAIN_LABELS}.gz"), &bytes);
    let err = load_err(&dir);
    assert!(matches!(err, DataError::Gzip { .. }), "got {err}");
    assert_names(&err, &path, "bad gzip stream");
}

#[test]
fn not_gzip_at_all() {
    let dir = TempDir::new("mnist-not-gzip");
    write_valid(&dir);
    let path = dir.write(
        &format!("{TEST_IMAGES}.gz"),
        &idx_bytes(2051, &[2, 28, 28], &pixels(2)),
    );
    let err = load_err(&dir);
    assert!(matches!(err, DataError::Gzip { .. }), "got {err}");
    assert_names(&err, &path, "bad gzip stream");
}
