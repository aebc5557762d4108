//! Data sets for training: MNIST and CIFAR-10 loaders, per-channel
//! normalization and a shuffling mini-batch iterator.
//!
//! The loaders read the publishers' binary formats, gzipped (`NAME.gz`,
//! tried first) or raw (`NAME`), check every header, size and label, and
//! return images as `f32` tensors scaled to `[0, 1]`. Anything wrong with a
//! file is a [`DataError`] whose message names the file and the problem,
//! e.g. `data/mnist/train-labels-idx1-ubyte.gz: label 12 at index 5 out of
//! range (classes 0..=9)`.
//!
//! ```no_run
//! use std::path::Path;
//! use adjoint_runtime::data::{mnist, normalize_channels};
//!
//! let mut set = mnist::load(Path::new("data/mnist"))?;
//! let stats = normalize_channels(&mut set.train.images, &mut set.test.images, 1)?;
//! println!("mean {:?}, std {:?}", stats.mean, stats.std);
//! for (images, labels) in set.train.batches(128, 42)?.epoch() {
//!     assert_eq!(images.shape()[0], labels.len());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod batches;
pub mod cifar10;
mod error;
mod file;
pub mod idx;
mod labels;
pub mod mnist;
mod normalize;
mod order;
mod pixels;
mod split;

#[cfg(test)]
mod tests;

pub use batches::{Batches, Epoch};
pub use error::DataError;
pub use normalize::{normalize_channels, ChannelStats};
pub use order::ShuffleState;
pub use split::Split;
