//! Inverted dropout: in training each element is zeroed with probability
//! `p` and the survivors scaled by `1 / (1 - p)`, so the expected output
//! equals the input and evaluation needs no rescaling (identity).
//!
//! The forward pass returns the mask it drew (`0` or `1 / (1 - p)` per
//! element; `None` for the identity), and the adjoint is `dx = g ⊙ mask`.

use rand::Rng;

use crate::tensor::error::or_panic;
use crate::tensor::{Element, ShapeError, Tensor};

/// Dropout of `x` with drop probability `p` when `train`, else the
/// identity; returns the result and the scaled mask (`None` when nothing
/// was dropped: evaluation or `p = 0`). Fails unless `0 <= p < 1`.
pub fn try_dropout<T: Element, R: Rng + ?Sized>(
    x: &Tensor<T>,
    p: f64,
    rng: &mut R,
    train: bool,
) -> Result<(Tensor<T>, Option<Tensor<T>>), ShapeError> {
    if !(0.0..1.0).contains(&p) {
        return Err(ShapeError::InvalidArgument {
            op: "dropout",
            message: format!("drop probability {p} is not in [0, 1)"),
        });
    }
    if !train || p == 0.0 {
        return Ok((x.clone(), None));
    }
    let scale = T::cast_f64(1.0 / (1.0 - p));
    let mask: Vec<T> = (0..x.len())
        .map(|_| {
            if rng.random::<f64>() < p {
                T::zero()
            } else {
                scale
            }
        })
        .collect();
    let y = x.data().iter().zip(&mask).map(|(&v, &m)| v * m).collect();
    Ok((
        Tensor::from_parts(y, x.shape().to_vec()),
        Some(Tensor::from_parts(mask, x.shape().to_vec())),
    ))
}

/// Adjoint of [`try_dropout`]: `g ⊙ mask`, or `g` itself for the identity.
#[track_caller]
pub fn dropout_backward<T: Element>(mask: Option<&Tensor<T>>, grad: &Tensor<T>) -> Tensor<T> {
    match mask {
        Some(mask) => Tensor::zip_map("dropout_backward", grad, mask, |g, m| g * m),
        None => grad.clone(),
    }
}

impl<T: Element> Tensor<T> {
    /// Inverted dropout with drop probability `p` when `train` (identity
    /// otherwise), returning the result and its mask; an error unless `0 <= p < 1`.
    pub fn try_dropout<R: Rng + ?Sized>(
        &self,
        p: f64,
        rng: &mut R,
        train: bool,
    ) -> Result<(Self, Option<Self>), ShapeError> {
        try_dropout(self, p, rng, train)
    }

    /// Inverted dropout with drop probability `p` when `train` (identity
    /// otherwise), returning the result and its mask; panics unless `0 <= p < 1`.
    #[track_caller]
    pub fn dropout<R: Rng + ?Sized>(
        &self,
        p: f64,
        rng: &mut R,
        train: bool,
    ) -> (Self, Option<Self>) {
        or_panic(try_dropout(self, p, rng, train))
    }
}
