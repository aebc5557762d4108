//! [`Split`]: the images and labels of one part (train or test) of a data set.

use crate::tensor::{ShapeError, Tensor};

use super::Batches;

/// The images and labels of one part of a data set, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// One image per row of axis 0 (`[n, 784]` for MNIST, `[n, 3, 32, 32]`
    /// for CIFAR-10), pixels in `[0, 1]` unless normalized since.
    pub images: Tensor<f32>,
    /// The class of each image.
    pub labels: Vec<usize>,
}

impl Split {
    /// The number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split holds no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The first `n` examples (all of them when there are fewer), e.g. for
    /// a quick run on part of a data set.
    pub fn first(&self, n: usize) -> Split {
        if n >= self.len() {
            return self.clone();
        }
        let rows: Vec<usize> = (0..n).collect();
        Split {
            images: self.images.select(0, &rows),
            labels: self.labels[..n].to_vec(),
        }
    }

    /// A shuffling iterator over mini-batches of `batch_size` examples of
    /// this split, seeded with `seed`, keeping the last partial batch.
    pub fn batches(&self, batch_size: usize, seed: u64) -> Result<Batches, ShapeError> {
        Batches::new(self.images.clone(), self.labels.clone(), batch_size, seed)
    }
}
