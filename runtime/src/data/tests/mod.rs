//! Tests of the data module: the real MNIST files and CIFAR-10 fixture in
//! the repository, small hand-made files, one broken file per error, the
//! normalization and the batch iterator.

mod batches;
mod cifar10;
mod idx;
mod mnist;
mod normalize;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;

use super::DataError;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    /// An empty directory unique to this process and `name`.
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("adjoint-data-test-{}-{name}", std::process::id()));
        // A leftover from a killed run of the same pid may exist; start empty.
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }

    /// The directory.
    fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `bytes` to the file `name` in the directory; returns its path.
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, bytes).expect("write temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The bytes of an IDX file: `magic`, big-endian `dims`, then `data`.
fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}

/// `bytes` gzip-compressed.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("finish gzip")
}

/// Asserts that `err`'s message starts with `path` and contains `detail`.
fn assert_names(err: &DataError, path: &Path, detail: &str) {
    let message = err.to_string();
    assert!(
        message.starts_with(&path.display().to_string()),
        "message {message:?} does not start with {}",
        path.display()
    );
    assert!(
        message.contains(detail),
        "message {message:?} does not contain {detail:?}"
    );
}
