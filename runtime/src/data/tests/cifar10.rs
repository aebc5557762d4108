//! CIFAR-10: the 200-record fixture in the repository, hand-made record
//! files, and one broken file per error.

use std::path::Path;

use super::{assert_names, gzip, TempDir};
use crate::data::cifar10::{self, RECORD_BYTES, TEST_FILE, TRAIN_FILES};
use crate::data::DataError;

/// The repository's fixture: the first 200 records of `data_batch_1.bin`.
const FIXTURE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/cifar10-fixture");

/// `n` hand-made records: record `k` has label `labels[k]` and every pixel
/// byte of channel `c` equal to `10k + c`.
fn records(labels: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(labels.len() * RECORD_BYTES);
    for (k, &label) in labels.iter().enumerate() {
        bytes.push(label);
        for c in 0..3 {
            bytes.resize(bytes.len() + 1024, (10 * k + c) as u8);
        }
    }
    bytes
}

#[test]
fn fixture_loads_200_records() {
    let split = cifar10::load_batches(Path::new(FIXTURE_DIR), &["data_batch_1.bin"])
        .expect("fixture loads");
    assert_eq!(split.len(), 200);
    assert_eq!(split.images.shape(), &[200, 3, 32, 32]);
    assert!(split.labels.iter().all(|&label| label < 10));
    assert_eq!(
        split.labels[..20],
        [6, 9, 9, 4, 1, 1, 2, 7, 8, 3, 4, 7, 7, 2, 9, 9, 9, 3, 2, 6]
    );
    let mut counts = [0usize; 10];
    for &label in &split.labels {
        counts[label] += 1;
    }
    assert_eq!(counts, [14, 28, 22, 21, 19, 19, 18, 21, 15, 23]);

    let data = split.images.data();
    assert!(data.iter().all(|&x| (0.0..=1.0).contains(&x)));
    // Image 0 (a frog): the first red, green and blue pixels.
    assert_eq!(
        data[..4],
        [61.0 / 255.0, 48.0 / 255.0, 56.0 / 255.0, 81.0 / 255.0]
    );
    assert_eq!(data[1024], 62.0 / 255.0);
    assert_eq!(data[2048], 67.0 / 255.0);
    let sum: f64 = data[..3072].iter().map(|&x| f64::from(x)).sum();
    assert!((sum - 318_142.0 / 255.0).abs() < 1e-3, "sum {sum}");
    assert_eq!(data[data.len() - 1], 109.0 / 255.0);
}

#[test]
fn load_reads_all_six_files_raw_or_gzipped() {
    let dir = TempDir::new("cifar-valid");
    for (i, name) in TRAIN_FILES.iter().enumerate() {
        let bytes = records(&[i as u8, 9 - i as u8]);
        if i % 2 == 0 {
            dir.write(&format!("{name}.gz"), &gzip(&bytes));
        } else {
            dir.write(name, &bytes);
        }
    }
    dir.write(TEST_FILE, &records(&[3, 1, 4]));
    let set = cifar10::load(dir.path()).expect("valid files load");
    assert_eq!(set.train.labels, vec![0, 9, 1, 8, 2, 7, 3, 6, 4, 5]);
    assert_eq!(set.train.images.shape(), &[10, 3, 32, 32]);
    assert_eq!(set.test.labels, vec![3, 1, 4]);
    assert_eq!(set.test.images.shape(), &[3, 3, 32, 32]);
    let test = set.test.images.data();
    // Test image 2, channel 1 (green), last pixel: byte 21.
    assert_eq!(test[2 * 3072 + 2047], 21.0 / 255.0);
    assert_eq!(test[2 * 3072 + 2048], 22.0 / 255.0);
}

#[test]
fn size_not_a_multiple_of_the_record() {
    let dir = TempDir::new("cifar-size");
    let mut bytes = records(&[1, 2]);
    bytes.pop();
    let path = dir.write("data_batch_1.bin", &bytes);
    let err = cifar10::load_batches(dir.path(), &["data_batch_1.bin"]).expect_err("6145 bytes");
    assert!(matches!(
        err,
        DataError::RecordSize {
            size: 6145,
            record: 3073,
            ..
        }
    ));
    assert_names(
        &err,
        &path,
        "size 6145 bytes is not a positive multiple of the record size 3073 bytes",
    );
}

#[test]
fn empty_file_is_rejected() {
    let dir = TempDir::new("cifar-empty");
    let path = dir.write("test_batch.bin.gz", &gzip(&[]));
    let err = cifar10::load_batches(dir.path(), &[TEST_FILE]).expect_err("no records");
    assert!(matches!(err, DataError::RecordSize { size: 0, .. }));
    assert_names(&err, &path, "size 0 bytes");
}

#[test]
fn label_11_is_out_of_range() {
    let dir = TempDir::new("cifar-label");
    dir.write("data_batch_1.bin", &records(&[0, 1]));
    let path = dir.write("data_batch_2.bin.gz", &gzip(&records(&[2, 3, 11, 4])));
    let err = cifar10::load_batches(dir.path(), &["data_batch_1.bin", "data_batch_2.bin"])
        .expect_err("label 11");
    assert!(matches!(
        err,
        DataError::LabelOutOfRange {
            label: 11,
            index: 2,
            classes: 10,
            ..
        }
    ));
    assert_names(
        &err,
        &path,
        "label 11 at index 2 out of range (classes 0..=9)",
    );
}

#[test]
fn corrupted_gzip() {
    let dir = TempDir::new("cifar-gzip");
    let mut bytes = gzip(&records(&[5, 6, 7]));
    bytes.truncate(bytes.len() - 20);
    let path = dir.write("test_batch.bin.gz", &bytes);
    let err = cifar10::load_batches(dir.path(), &[TEST_FILE]).expect_err("cut gzip stream");
    assert!(matches!(err, DataError::Gzip { .. }), "got {err}");
    assert_names(&err, &path, "bad gzip stream");
}

#[test]
fn missing_batch_is_reported() {
    let dir = TempDir::new("cifar-missing");
    let err = cifar10::load(dir.path()).expect_err("empty dir");
    assert!(matches!(err, DataError::Missing { .. }));
    assert_names(&err, &dir.path().join("data_batch_1.bin"), "file not found");
}
