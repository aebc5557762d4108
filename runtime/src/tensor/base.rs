//! The [`Tensor`] type: storage, shape, constructors and accessors.

use super::error::or_panic;
use super::shape::{numel, row_major_strides};
use super::storage::{Device, DeviceError, Storage};
use super::{Element, ShapeError};

/// An n-dimensional array of `T`, row-major and contiguous, on a
/// [`Device`] (the host today).
///
/// The elements are shared (reference-counted), so `clone()` is O(1) and shape-only ops
/// (`reshape`, `squeeze`, `unsqueeze`) share storage. Mutation goes through
/// [`Tensor::data_mut`], which copies the buffer first only when it is shared
/// (copy-on-write), so in-place updates of a uniquely held tensor allocate
/// nothing.
#[derive(Clone, PartialEq)]
pub struct Tensor<T: Element = f32> {
    data: Storage<T>,
    shape: Vec<usize>,
}

impl<T: Element> Tensor<T> {
    /// A tensor of `shape` holding `data` in row-major order; fails when the
    /// length of `data` is not the product of `shape`.
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Result<Self, ShapeError> {
        let expected = numel(shape);
        if data.len() != expected {
            return Err(ShapeError::DataLength {
                op: "from_vec",
                len: data.len(),
                shape: shape.to_vec(),
                expected,
            });
        }
        Ok(Self::from_parts(data, shape.to_vec()))
    }

    /// An identity of the elements' buffer, shared by clones (which share
    /// it) until one is written.
    pub(crate) fn storage_key(&self) -> usize {
        self.data.key()
    }

    /// Builds a tensor from parts the caller has already checked to agree.
    pub(crate) fn from_parts(data: Vec<T>, shape: Vec<usize>) -> Self {
        debug_assert_eq!(
            data.len(),
            numel(&shape),
            "tensor buffer does not fit its shape"
        );
        Self {
            data: Storage::new(data),
            shape,
        }
    }

    /// A tensor sharing this one's storage under another shape with the
    /// same number of elements (checked by the caller).
    pub(crate) fn with_shape(&self, shape: Vec<usize>) -> Self {
        debug_assert_eq!(
            numel(&shape),
            self.len(),
            "reshaped tensor must keep its element count"
        );
        Self {
            data: self.data.clone(),
            shape,
        }
    }

    /// A 0-dimensional tensor holding `x` (shape `[]`).
    pub fn scalar(x: T) -> Self {
        Self::from_parts(vec![x], Vec::new())
    }

    /// A 0-dimensional tensor holding `x` on this tensor's device (a
    /// scalar operand of a fused region in generated code).
    pub fn scalar_like(&self, x: T) -> Self {
        super::device::scalar_like(self, x).unwrap_or_else(|| Self::scalar(x))
    }

    /// A tensor of `shape` filled with zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, T::zero())
    }

    /// Zeros of this tensor's shape on its device: what generated code
    /// builds zeros from, never a bare shape.
    pub fn zeros_like(&self) -> Self {
        super::device::zeros_like(self).unwrap_or_else(|| Self::zeros(self.shape()))
    }

    /// A tensor with no elements, standing in for one not computed yet (a
    /// model gradient's unused fields before they are filled).
    pub fn empty_like(&self) -> Self {
        Self::zeros(&[0])
    }

    /// A tensor of `shape` filled with ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, T::one())
    }

    /// A tensor of `shape` with every element equal to `value`.
    pub fn full(shape: &[usize], value: T) -> Self {
        Self::from_parts(vec![value; numel(shape)], shape.to_vec())
    }

    /// The length of each axis.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The row-major strides, in elements: how far apart consecutive
    /// indices of each axis lie in [`Tensor::data`].
    pub fn strides(&self) -> Vec<usize> {
        row_major_strides(&self.shape)
    }

    /// The number of axes (0 for a scalar).
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the tensor has no elements (some axis has length 0).
    pub fn is_empty(&self) -> bool {
        self.data.len() == 0
    }

    /// The device the elements live on.
    pub fn device(&self) -> Device {
        self.data.device()
    }

    /// This tensor on `device`: itself (shared) when it is there already,
    /// else a copy; fails when the device cannot be used (no `cuda`
    /// feature, no driver or library, a driver error).
    pub fn to_device(&self, device: Device) -> Result<Self, DeviceError> {
        if device == self.device() {
            return Ok(self.clone());
        }
        match device {
            Device::Cpu => Ok(Self::from_parts(self.to_vec(), self.shape.clone())),
            #[cfg(feature = "cuda")]
            Device::Cuda(n) => Ok(Self {
                data: Storage::Cuda(super::cuda::upload(self, n)?),
                shape: self.shape.clone(),
            }),
            #[cfg(not(feature = "cuda"))]
            Device::Cuda(n) => Device::cuda(n).map(|_| self.clone()),
        }
    }

    /// A tensor of `shape` around a device buffer of as many elements.
    #[cfg(feature = "cuda")]
    pub(crate) fn from_buffer(buffer: super::cuda::Buffer<T>, shape: &[usize]) -> Self {
        debug_assert_eq!(
            buffer.len(),
            numel(shape),
            "device buffer does not fit its shape"
        );
        Self {
            data: Storage::Cuda(buffer),
            shape: shape.to_vec(),
        }
    }

    /// The device buffer, for a tensor on a CUDA device.
    #[cfg(feature = "cuda")]
    pub(crate) fn cuda(&self) -> Option<&super::cuda::Buffer<T>> {
        match &self.data {
            Storage::Cuda(buffer) => Some(buffer),
            Storage::Cpu(_) => None,
        }
    }

    /// The device buffer, mutably (an op writing in place).
    #[cfg(feature = "cuda")]
    pub(crate) fn cuda_mut(&mut self) -> Option<&mut super::cuda::Buffer<T>> {
        match &mut self.data {
            Storage::Cuda(buffer) => Some(buffer),
            Storage::Cpu(_) => None,
        }
    }

    /// The elements in row-major order, on the host.
    ///
    /// # Panics
    /// For a tensor on a CUDA device (copy it with
    /// [`to_vec`](Tensor::to_vec) or [`to_device`](Tensor::to_device)).
    #[track_caller]
    pub fn data(&self) -> &[T] {
        self.data.host()
    }

    /// The elements in row-major order, mutably; copies the buffer first if
    /// another tensor shares it (copy-on-write).
    ///
    /// # Panics
    /// For a tensor on a CUDA device.
    #[track_caller]
    pub fn data_mut(&mut self) -> &mut [T] {
        self.data.host_mut()
    }

    /// A copy of the elements in row-major order, on the host (from any
    /// device).
    pub fn to_vec(&self) -> Vec<T> {
        self.data.to_host()
    }

    /// The elements in row-major order, without a copy when this tensor
    /// holds the only reference to its storage.
    pub fn into_vec(self) -> Vec<T> {
        self.data.into_host()
    }

    /// The single element of a one-element tensor (any shape whose lengths
    /// are all 1), or an error naming the shape.
    pub fn try_item(&self) -> Result<T, ShapeError> {
        match self.to_vec()[..] {
            [x] => Ok(x),
            _ => Err(ShapeError::NotOneElement {
                op: "item",
                shape: self.shape.clone(),
            }),
        }
    }

    /// The single element of a one-element tensor.
    ///
    /// # Panics
    /// If the tensor does not hold exactly one element.
    #[track_caller]
    pub fn item(&self) -> T {
        or_panic(self.try_item())
    }

    /// Applies `f` to every element, keeping the shape.
    pub(crate) fn map(&self, f: impl Fn(T) -> T + Sync) -> Self {
        let mut out = vec![T::zero(); self.len()];
        adjoint_kernels::elementwise::map(self.data(), &mut out, f);
        Self::from_parts(out, self.shape.clone())
    }

    /// Applies `f` to every element in place (copy-on-write), split across
    /// cores when long and slow enough.
    pub(crate) fn map_inplace(&mut self, f: impl Fn(T) -> T + Sync) {
        adjoint_kernels::elementwise::map_inplace(self.data_mut(), f);
    }

    /// Combines two tensors of the same shape element by element; panics
    /// with a shape error naming `op` when the shapes differ.
    #[track_caller]
    pub(crate) fn zip_map(
        op: &'static str,
        a: &Self,
        b: &Self,
        f: impl Fn(T, T) -> T + Sync,
    ) -> Self {
        expect_same_shape(op, a.shape(), b.shape());
        let mut out = vec![T::zero(); a.len()];
        adjoint_kernels::elementwise::zip_map(a.data(), b.data(), &mut out, f);
        Self::from_parts(out, a.shape.clone())
    }
}

impl<T: Element> From<Vec<T>> for Tensor<T> {
    /// A 1-D tensor holding the vector's elements.
    fn from(data: Vec<T>) -> Self {
        let shape = vec![data.len()];
        Self::from_parts(data, shape)
    }
}

/// Panics with a [`ShapeError::Mismatch`] naming `op` unless the shapes are
/// equal: the check the adjoint functions make on their incoming gradient.
#[track_caller]
pub(crate) fn expect_same_shape(op: &'static str, a: &[usize], b: &[usize]) {
    if a != b {
        panic!(
            "{}",
            ShapeError::Mismatch {
                op,
                lhs: a.to_vec(),
                rhs: b.to_vec(),
            }
        );
    }
}
