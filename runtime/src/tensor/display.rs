//! Printing tensors the way numpy prints arrays.
//!
//! Nested brackets, one row per line, 4 decimals, columns right-aligned to a
//! common width; scientific notation when the magnitudes call for it; and
//! for tensors of more than [`SUMMARY_THRESHOLD`] elements only the first
//! and last [`EDGE_ITEMS`] entries of each long axis, with `...` between.

use std::fmt;

use super::{Element, Tensor};

/// Tensors with more elements than this are printed elided.
pub const SUMMARY_THRESHOLD: usize = 1000;

/// How many leading and trailing entries of each axis an elided print keeps.
pub const EDGE_ITEMS: usize = 3;

/// What one printed tensor needs to know while recursing over axes.
struct Layout<'a, T> {
    data: &'a [T],
    shape: &'a [usize],
    strides: Vec<usize>,
    summarize: bool,
    scientific: bool,
    width: usize,
}

impl<T: Element> Layout<'_, T> {
    /// The indices of an axis of length `n` that are printed; `None` stands
    /// for the `...` of an elided axis.
    fn shown(&self, n: usize) -> Vec<Option<usize>> {
        if self.summarize && n > 2 * EDGE_ITEMS {
            (0..EDGE_ITEMS)
                .map(Some)
                .chain(std::iter::once(None))
                .chain((n - EDGE_ITEMS..n).map(Some))
                .collect()
        } else {
            (0..n).map(Some).collect()
        }
    }

    /// Calls `f` on every printed element, in order.
    fn visit(&self, depth: usize, offset: usize, f: &mut impl FnMut(T)) {
        if depth == self.shape.len() {
            f(self.data[offset]);
            return;
        }
        for i in self.shown(self.shape[depth]).into_iter().flatten() {
            self.visit(depth + 1, offset + i * self.strides[depth], f);
        }
    }

    /// One element as text, without padding.
    fn format(&self, x: T) -> String {
        if self.scientific {
            format!("{:.4e}", x.to_f64().unwrap_or(f64::NAN))
        } else {
            format!("{x:.4}")
        }
    }

    /// Writes the sub-tensor at `offset` spanning axes `depth..`.
    fn write(&self, f: &mut fmt::Formatter<'_>, depth: usize, offset: usize) -> fmt::Result {
        if depth == self.shape.len() {
            return write!(f, "{:>w$}", self.format(self.data[offset]), w = self.width);
        }
        let innermost = depth + 1 == self.shape.len();
        f.write_str("[")?;
        for (k, item) in self.shown(self.shape[depth]).into_iter().enumerate() {
            if k > 0 {
                if innermost {
                    f.write_str(", ")?;
                } else {
                    f.write_str(",")?;
                    for _ in 0..self.shape.len() - depth - 1 {
                        f.write_str("\n")?;
                    }
                    for _ in 0..=depth {
                        f.write_str(" ")?;
                    }
                }
            }
            match item {
                Some(i) => self.write(f, depth + 1, offset + i * self.strides[depth])?,
                None => f.write_str("...")?,
            }
        }
        f.write_str("]")
    }
}

impl<T: Element> fmt::Display for Tensor<T> {
    /// Prints like numpy: `[[ 1.0000, -2.5000],\n [ 0.1250,  3.0000]]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut layout = Layout {
            data: self.data(),
            shape: self.shape(),
            strides: self.strides(),
            summarize: self.len() > SUMMARY_THRESHOLD,
            scientific: false,
            width: 0,
        };
        let (mut largest, mut smallest) = (T::zero(), T::infinity());
        layout.visit(0, 0, &mut |x| {
            let a = x.abs();
            if a.is_finite() {
                largest = num_traits::Float::max(largest, a);
                if a > T::zero() {
                    smallest = smallest.min(a);
                }
            }
        });
        layout.scientific = largest >= T::cast_f64(1e8) || smallest < T::cast_f64(1e-4);
        let mut width = 0;
        layout.visit(0, 0, &mut |x| width = width.max(layout.format(x).len()));
        layout.width = width;
        layout.write(f, 0, 0)
    }
}

impl<T: Element> fmt::Debug for Tensor<T> {
    /// The shape and the (elided) elements: `Tensor { shape: [2], data: [1.0000, 2.0000] }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tensor")
            .field("shape", &self.shape())
            .field("data", &format_args!("{self}"))
            .finish()
    }
}
