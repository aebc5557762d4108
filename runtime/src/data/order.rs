//! [`ShuffleState`]: everything that decides the order of a [`Batches`]'s
//! batches from some point on, so a training run can be stopped and resumed
//! with the same data order.
//!
//! [`Batches`]: super::Batches

use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;

/// Where a [`Batches`](super::Batches) stands in its sequence of epochs:
/// the order of the current epoch and the state of the generator the next
/// epoch's shuffle draws from.
///
/// The shuffle permutes the previous epoch's order in place, so the order
/// is part of the state, not only the generator. The generator is ChaCha12
/// (what `rand`'s `StdRng` is), described by its key, stream and position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShuffleState {
    /// The current epoch's order of the examples (the identity before the
    /// first epoch).
    pub order: Vec<usize>,
    /// The generator's 256-bit key.
    pub seed: [u8; 32],
    /// The generator's stream number.
    pub stream: u64,
    /// The generator's position, in 32-bit words of output.
    pub word_pos: u128,
}

impl ShuffleState {
    /// The state of `rng` with the current order `order`.
    pub(super) fn capture(order: &[usize], rng: &ChaCha12Rng) -> Self {
        Self {
            order: order.to_vec(),
            seed: rng.get_seed(),
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos(),
        }
    }

    /// A generator in exactly the captured state.
    pub(super) fn generator(&self) -> ChaCha12Rng {
        let mut rng = ChaCha12Rng::from_seed(self.seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(self.word_pos);
        rng
    }

    /// Checks that `order` is a permutation of `0..examples`; the error
    /// says what is wrong.
    pub fn check(&self, examples: usize) -> Result<(), String> {
        if self.order.len() != examples {
            return Err(format!(
                "the order holds {} examples but the data has {examples}",
                self.order.len()
            ));
        }
        let mut seen = vec![false; examples];
        for (position, &i) in self.order.iter().enumerate() {
            match seen.get_mut(i) {
                None => {
                    return Err(format!(
                        "example {i} at position {position} is out of range (0..{examples})"
                    ))
                }
                Some(true) => {
                    return Err(format!(
                        "example {i} appears twice (again at position {position})"
                    ))
                }
                Some(s) => *s = true,
            }
        }
        Ok(())
    }
}
