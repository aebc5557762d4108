//! [`Batches`]: shuffled mini-batches of (images, labels), reshuffled every
//! epoch by a seeded generator whose state can be saved and restored.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;

use super::ShuffleState;
use crate::tensor::{ShapeError, Tensor};

/// Mini-batches of a set of examples in a fresh random order each epoch.
///
/// Each call of [`Batches::epoch`] draws a new permutation of the examples
/// from the generator seeded in [`Batches::new`], so the whole sequence of
/// epochs is reproducible from the seed. The generator is ChaCha12, the
/// algorithm of `rand`'s `StdRng`, seeded the same way (so the orders are
/// `StdRng`'s); [`Batches::shuffle_state`] and
/// [`Batches::set_shuffle_state`] save and restore where the sequence
/// stands, and [`Batches::current_epoch`] continues an epoch part-way.
#[derive(Debug, Clone)]
pub struct Batches {
    images: Tensor<f32>,
    labels: Vec<usize>,
    batch_size: usize,
    drop_last: bool,
    rng: ChaCha12Rng,
    order: Vec<usize>,
}

impl Batches {
    /// Batches of `batch_size` examples of `images` (one per row of axis 0)
    /// and their `labels`, shuffled by a generator seeded with `seed`; the
    /// last partial batch is kept (see [`Batches::drop_last`]). Fails when
    /// `batch_size` is 0, `images` has no axes, or the label count differs
    /// from the number of images.
    pub fn new(
        images: Tensor<f32>,
        labels: Vec<usize>,
        batch_size: usize,
        seed: u64,
    ) -> Result<Self, ShapeError> {
        let rows = images.shape().first().copied().ok_or(ShapeError::Rank {
            op: OP,
            expected: "a tensor with at least 1 axis",
            shape: Vec::new(),
        })?;
        if labels.len() != rows {
            return Err(ShapeError::LabelCount {
                op: OP,
                labels: labels.len(),
                rows,
            });
        }
        if batch_size == 0 {
            return Err(ShapeError::InvalidArgument {
                op: OP,
                message: "batch size must be at least 1".to_string(),
            });
        }
        Ok(Self {
            images,
            labels,
            batch_size,
            drop_last: false,
            rng: ChaCha12Rng::seed_from_u64(seed),
            order: (0..rows).collect(),
        })
    }

    /// Whether to leave out the last batch of an epoch when it has fewer than
    /// the batch size of examples (`false` by default: keep it).
    pub fn drop_last(mut self, drop: bool) -> Self {
        self.drop_last = drop;
        self
    }

    /// The number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The number of batches each epoch yields.
    pub fn batches_per_epoch(&self) -> usize {
        if self.drop_last {
            self.len() / self.batch_size
        } else {
            self.len().div_ceil(self.batch_size)
        }
    }

    /// The number of examples per batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Shuffles the examples anew and returns an iterator over this epoch's
    /// batches: `(images, labels)` with images of shape `[b, ...]` (the
    /// per-example shape of the input) and `b` labels.
    pub fn epoch(&mut self) -> Epoch<'_> {
        self.shuffle();
        self.current_epoch(0)
    }

    /// Starts the next epoch: draws its order of the examples. Iterate it
    /// with [`current_epoch`](Batches::current_epoch).
    pub fn shuffle(&mut self) {
        self.order.shuffle(&mut self.rng);
    }

    /// The batches of the current epoch (the order of the last shuffle)
    /// from batch `first` on, without shuffling: `current_epoch(0)` after
    /// [`shuffle`](Batches::shuffle) is [`epoch`](Batches::epoch), and a
    /// run resumed after `k` batches of an epoch continues with
    /// `current_epoch(k)`. Past the last batch the iterator is empty.
    pub fn current_epoch(&self, first: usize) -> Epoch<'_> {
        let end = (self.batches_per_epoch() * self.batch_size).min(self.len());
        Epoch {
            batches: self,
            next: first.saturating_mul(self.batch_size).min(end),
            end,
        }
    }

    /// Where the sequence of epochs stands: the current order and the
    /// generator state the next shuffle draws from.
    pub fn shuffle_state(&self) -> ShuffleState {
        ShuffleState::capture(&self.order, &self.rng)
    }

    /// Restores a state from [`shuffle_state`](Batches::shuffle_state) of
    /// batches over the same examples. Fails, changing nothing, when its
    /// order is not a permutation of this data's examples.
    pub fn set_shuffle_state(&mut self, state: &ShuffleState) -> Result<(), ShapeError> {
        state
            .check(self.len())
            .map_err(|message| ShapeError::InvalidArgument {
                op: "Batches::set_shuffle_state",
                message,
            })?;
        self.order.clone_from(&state.order);
        self.rng = state.generator();
        Ok(())
    }
}

/// The op name in errors.
const OP: &str = "Batches::new";

/// The batches of one epoch of [`Batches`], in that epoch's order.
#[derive(Debug)]
pub struct Epoch<'a> {
    batches: &'a Batches,
    next: usize,
    end: usize,
}

impl Iterator for Epoch<'_> {
    type Item = (Tensor<f32>, Vec<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let stop = (self.next + self.batches.batch_size).min(self.end);
        let indices = &self.batches.order[self.next..stop];
        self.next = stop;
        let images = self.batches.images.select(0, indices);
        let labels = indices.iter().map(|&i| self.batches.labels[i]).collect();
        Some((images, labels))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.end - self.next).div_ceil(self.batches.batch_size);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Epoch<'_> {}
