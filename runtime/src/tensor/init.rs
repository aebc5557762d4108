//! Random constructors and the standard weight initialisers.
//!
//! Samples are drawn in `f64` and rounded to the element type, so an `f32`
//! and an `f64` tensor made from equally seeded generators agree to `f32`
//! precision.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal, Uniform};

use super::error::or_panic;
use super::shape::numel;
use super::{Element, ShapeError, Tensor};

impl<T: Element> Tensor<T> {
    /// A tensor of `shape` with independent standard normal elements
    /// (mean 0, variance 1).
    pub fn randn<R: Rng + ?Sized>(shape: &[usize], rng: &mut R) -> Self {
        Self::normal(shape, 0.0, 1.0, rng)
    }

    /// A tensor of `shape` with independent normal elements of the given
    /// mean and standard deviation.
    pub fn normal<R: Rng + ?Sized>(shape: &[usize], mean: f64, std: f64, rng: &mut R) -> Self {
        let data = (0..numel(shape))
            .map(|_| {
                let z: f64 = StandardNormal.sample(rng);
                T::cast_f64(mean + std * z)
            })
            .collect();
        Self::from_parts(data, shape.to_vec())
    }

    /// A tensor of `shape` with independent elements uniform on `[lo, hi)`,
    /// or an error when `lo >= hi` or a bound is not finite.
    pub fn try_uniform<R: Rng + ?Sized>(
        shape: &[usize],
        lo: T,
        hi: T,
        rng: &mut R,
    ) -> Result<Self, ShapeError> {
        let (lo64, hi64) = (to_f64(lo), to_f64(hi));
        let dist = Uniform::new(lo64, hi64).map_err(|_| ShapeError::InvalidArgument {
            op: "uniform",
            message: format!("empty or non-finite range [{lo}, {hi})"),
        })?;
        let data = (0..numel(shape))
            .map(|_| {
                let x = T::cast_f64(dist.sample(rng));
                // Rounding to f32 may land on `hi`; keep the interval half-open.
                if x >= hi {
                    lo
                } else {
                    x
                }
            })
            .collect();
        Ok(Self::from_parts(data, shape.to_vec()))
    }

    /// A tensor of `shape` with independent elements uniform on `[lo, hi)`.
    ///
    /// # Panics
    /// If `lo >= hi` or a bound is not finite.
    #[track_caller]
    pub fn uniform<R: Rng + ?Sized>(shape: &[usize], lo: T, hi: T, rng: &mut R) -> Self {
        or_panic(Self::try_uniform(shape, lo, hi, rng))
    }

    /// A `[fan_in, fan_out]` weight matrix (for `x.matmul(&w)`) initialised
    /// as in Glorot & Bengio (2010): uniform on `±sqrt(6 / (fan_in + fan_out))`,
    /// which keeps activation and gradient variances roughly constant across
    /// tanh/sigmoid layers.
    pub fn glorot_uniform<R: Rng + ?Sized>(fan_in: usize, fan_out: usize, rng: &mut R) -> Self {
        let shape = [fan_in, fan_out];
        let sum = fan_in + fan_out;
        if sum == 0 {
            return Self::zeros(&shape);
        }
        let limit = (6.0 / sum as f64).sqrt();
        let data = (0..numel(&shape))
            .map(|_| T::cast_f64(limit * (2.0 * rng.random::<f64>() - 1.0)))
            .collect();
        Self::from_parts(data, shape.to_vec())
    }

    /// A `[fan_in, fan_out]` weight matrix (for `x.matmul(&w)`) initialised
    /// as in He et al. (2015): normal with mean 0 and variance `2 / fan_in`,
    /// the scale that keeps ReLU activations from shrinking or exploding.
    pub fn he_normal<R: Rng + ?Sized>(fan_in: usize, fan_out: usize, rng: &mut R) -> Self {
        let std = (2.0 / fan_in.max(1) as f64).sqrt();
        Self::normal(&[fan_in, fan_out], 0.0, std, rng)
    }
}

/// Widens an element to `f64` (exact for `f32` and `f64`).
fn to_f64<T: Element>(x: T) -> f64 {
    x.to_f64().unwrap_or(f64::NAN)
}
