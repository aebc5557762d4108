//! vugrad's `normalize`: each slice along an axis divided by its sum, so it
//! sums to 1 (`y = x / Σ x`), and the adjoint
//! `dx = (g - Σ g ⊙ y) / Σ x` (sums along the axis).

use super::axis::along_axis;
use super::reduce::sum_slice;
use crate::tensor::base::expect_same_shape;
use crate::tensor::error::or_panic;
use crate::tensor::shape::{check_axis, split_at_axis};
use crate::tensor::{Element, ShapeError, Tensor};

/// `x / Σ x` along `axis`; fails for a bad axis.
pub fn try_normalize<T: Element>(x: &Tensor<T>, axis: usize) -> Result<Tensor<T>, ShapeError> {
    check_axis("normalize", x.shape(), axis)?;
    if x.device() != crate::tensor::Device::Cpu {
        return Ok(composed(x, axis));
    }
    let dims = split_at_axis(x.shape(), axis);
    let data = along_axis(x.data(), x.data(), dims, |xs, _, out| {
        let inv = T::one() / sum_slice(xs);
        out.extend(xs.iter().map(|&v| v * inv));
    });
    Ok(Tensor::from_parts(data, x.shape().to_vec()))
}

/// Adjoint of [`try_normalize`] from its input `x`: with `s = Σ x`,
/// `dx = (g - Σ g ⊙ x / s) / s`.
#[track_caller]
pub fn normalize_backward<T: Element>(x: &Tensor<T>, axis: usize, grad: &Tensor<T>) -> Tensor<T> {
    or_panic(check_axis("normalize_backward", x.shape(), axis));
    expect_same_shape("normalize_backward", grad.shape(), x.shape());
    if x.device() != crate::tensor::Device::Cpu {
        return composed_backward(x, axis, grad);
    }
    let dims = split_at_axis(x.shape(), axis);
    let data = along_axis(x.data(), grad.data(), dims, |xs, gs, out| {
        let inv = T::one() / sum_slice(xs);
        let dot = xs
            .iter()
            .zip(gs)
            .fold(T::zero(), |acc, (&x, &g)| acc + g * x)
            * inv;
        out.extend(gs.iter().map(|&g| (g - dot) * inv));
    });
    Tensor::from_parts(data, x.shape().to_vec())
}

/// [`try_normalize`] composed of tensor ops (for a device): `x / Σ x`.
fn composed<T: Element>(x: &Tensor<T>, axis: usize) -> Tensor<T> {
    x / &x.sum_axis(axis, true)
}

/// [`normalize_backward`] composed of tensor ops: `(g - Σ g·x / s) / s`
/// along the axis, `s = Σ x`.
fn composed_backward<T: Element>(x: &Tensor<T>, axis: usize, grad: &Tensor<T>) -> Tensor<T> {
    let s = x.sum_axis(axis, true);
    let dot = &(grad * x).sum_axis(axis, true) / &s;
    &(grad - &dot) / &s
}

impl<T: Element> Tensor<T> {
    /// Each slice along `axis` divided by its sum, or an error for a bad axis.
    pub fn try_normalize(&self, axis: usize) -> Result<Self, ShapeError> {
        try_normalize(self, axis)
    }

    /// Each slice along `axis` divided by its sum; panics for a bad axis.
    #[track_caller]
    pub fn normalize(&self, axis: usize) -> Self {
        or_panic(try_normalize(self, axis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn the_device_composition_computes_what_the_kernels_compute() {
        let mut rng = StdRng::seed_from_u64(3);
        let x = Tensor::<f64>::uniform(&[3, 4, 2], 0.5, 2.0, &mut rng);
        let g = Tensor::<f64>::randn(&[3, 4, 2], &mut rng);
        for axis in 0..3 {
            let pairs = [
                (composed(&x, axis), or_panic(try_normalize(&x, axis))),
                (
                    composed_backward(&x, axis, &g),
                    normalize_backward(&x, axis, &g),
                ),
            ];
            for (a, b) in pairs {
                for (p, q) in a.data().iter().zip(b.data()) {
                    assert!((p - q).abs() <= 1e-12 * q.abs().max(1.0), "{p} vs {q}");
                }
            }
        }
    }
}
