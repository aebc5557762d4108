//! Conversions between [`Tensor`] and `ndarray` arrays (feature `ndarray`),
//! the array type of the wider Rust ecosystem.
//!
//! ```
//! use adjoint_runtime::tensor::Tensor;
//! use ndarray::array;
//!
//! let t = Tensor::from(array![[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]]);
//! assert_eq!(t.shape(), &[2, 3]);
//! let back = t.t().to_ndarray();
//! assert_eq!(back, array![[1.0_f32, 4.0], [2.0, 5.0], [3.0, 6.0]].into_dyn());
//! ```

use ndarray::{Array, ArrayD, Dimension, IxDyn};

use super::{Element, Tensor};

impl<T: Element, D: Dimension> From<Array<T, D>> for Tensor<T> {
    /// The array's elements in row-major order under its shape (a copy only
    /// when the array is not already row-major and contiguous).
    fn from(array: Array<T, D>) -> Self {
        let shape = array.shape().to_vec();
        let len = array.len();
        let data = if array.is_standard_layout() {
            match array.into_raw_vec_and_offset() {
                (data, Some(0) | None) if data.len() == len => data,
                (data, Some(offset)) => data[offset..offset + len].to_vec(),
                (data, None) => data,
            }
        } else {
            array.iter().copied().collect()
        };
        Tensor::from_parts(data, shape)
    }
}

impl<T: Element> Tensor<T> {
    /// The tensor as an owned `ndarray` array of dynamic dimension.
    pub fn to_ndarray(&self) -> ArrayD<T> {
        ArrayD::from_shape_vec(IxDyn(self.shape()), self.data().to_vec())
            .expect("a tensor's elements fill its shape")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, s, Array3};

    #[test]
    fn round_trips_through_ndarray() {
        let a = Array3::from_shape_fn((2, 3, 4), |(i, j, k)| (i * 12 + j * 4 + k) as f64);
        let t = Tensor::from(a.clone());
        assert_eq!(t.shape(), &[2, 3, 4]);
        assert_eq!(t.data()[5], 5.0);
        assert_eq!(t.to_ndarray(), a.into_dyn());
    }

    #[test]
    fn non_contiguous_arrays_are_copied_in_row_major_order() {
        let a = array![[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let transposed = Tensor::from(a.t().to_owned());
        assert_eq!(transposed.data(), &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        let column = Tensor::from(a.slice_move(s![.., 1..]));
        assert_eq!(column.shape(), &[2, 2]);
        assert_eq!(column.data(), &[2.0, 3.0, 5.0, 6.0]);
    }
}
