//! Inverted dropout with a counter-based mask: element `i` is kept iff
//! `u(seed, i) >= p`, where `u` maps the pair through the SplitMix64
//! finaliser to a uniform number in `[0, 1)`, and survivors are scaled by
//! `1 / (1 - p)`, so the expected output equals the input and evaluation
//! needs no rescaling (it simply does not call dropout).
//!
//! The mask is a pure function of `(seed, index)`: nothing is stored
//! between the passes, and the adjoint [`dropout_backward`] regenerates it,
//! `dx = g ⊙ mask`. The same seed gives the same mask; callers pass a fresh
//! seed per step (e.g. a step counter mixed with a run seed).

use crate::tensor::error::or_panic;
use crate::tensor::{Element, ShapeError, Tensor};

/// The SplitMix64 finaliser (Steele, Lea & Flood 2014): a bijection of
/// `u64` whose outputs pass BigCrush for consecutive inputs.
fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The uniform number in `[0, 1)` (53 random bits) element `index` draws
/// under `seed`: the seed is hashed first so that nearby seeds give
/// unrelated streams, then offset by the golden-ratio increment per index.
pub fn dropout_uniform(seed: u64, index: usize) -> f64 {
    let key = splitmix64(seed ^ 0x243F_6A88_85A3_08D3);
    let z = splitmix64(key.wrapping_add((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Whether dropout with probability `p` and `seed` keeps element `index`.
pub fn dropout_keeps(p: f64, seed: u64, index: usize) -> bool {
    dropout_uniform(seed, index) >= p
}

/// Checks a drop probability.
fn check_p(op: &'static str, p: f64) -> Result<(), ShapeError> {
    if (0.0..1.0).contains(&p) {
        Ok(())
    } else {
        Err(ShapeError::InvalidArgument {
            op,
            message: format!("drop probability {p} is not in [0, 1)"),
        })
    }
}

/// `x ⊙ mask` with the mask of (`p`, `seed`): element `i` zeroed unless
/// [`dropout_keeps`]`(p, seed, i)`, survivors scaled by `1 / (1 - p)`; the
/// identity for `p = 0`. Fails unless `0 <= p < 1`.
pub fn try_dropout<T: Element>(x: &Tensor<T>, p: f64, seed: u64) -> Result<Tensor<T>, ShapeError> {
    check_p("dropout", p)?;
    Ok(apply_mask(x, p, seed))
}

/// `v ⊙ mask(p, seed)` for a valid `p`.
fn apply_mask<T: Element>(v: &Tensor<T>, p: f64, seed: u64) -> Tensor<T> {
    if p == 0.0 {
        return v.clone();
    }
    let scale = T::cast_f64(1.0 / (1.0 - p));
    if let Some(y) = crate::tensor::device::dropout(v, p, seed, scale) {
        return y;
    }
    let data = v
        .data()
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            if dropout_keeps(p, seed, i) {
                x * scale
            } else {
                T::zero()
            }
        })
        .collect();
    Tensor::from_parts(data, v.shape().to_vec())
}

/// Adjoint of [`try_dropout`]: `g ⊙ mask` with the mask regenerated from
/// (`p`, `seed`), so it zeroes exactly the elements the forward pass zeroed.
///
/// # Panics
/// Unless `0 <= p < 1`.
#[track_caller]
pub fn dropout_backward<T: Element>(p: f64, seed: u64, grad: &Tensor<T>) -> Tensor<T> {
    or_panic(check_p("dropout_backward", p));
    apply_mask(grad, p, seed)
}

impl<T: Element> Tensor<T> {
    /// Inverted dropout with drop probability `p` and the counter-based mask
    /// of `seed` (see [`try_dropout`]); an error unless `0 <= p < 1`.
    pub fn try_dropout(&self, p: f64, seed: u64) -> Result<Self, ShapeError> {
        try_dropout(self, p, seed)
    }

    /// Inverted dropout with drop probability `p` and the counter-based mask
    /// of `seed`; panics unless `0 <= p < 1`.
    #[track_caller]
    pub fn dropout(&self, p: f64, seed: u64) -> Self {
        or_panic(try_dropout(self, p, seed))
    }
}
