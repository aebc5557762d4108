//! Where a tensor was and how it was shaped: what generated code keeps of a
//! tensor whose adjoint rule needs only that (`v_shape`), so the tensor
//! itself can be freed before the reverse sweep. It reads as the shape
//! (`&[usize]`); the device lets a rule that builds a gradient from a
//! scalar alone (`sum`'s, `mean`'s) build it where the operand lived.

use std::ops::Deref;

use super::{Device, Element, Tensor};

/// A tensor's shape and device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    shape: Vec<usize>,
    device: Device,
}

impl Placement {
    /// Where `t` is.
    pub fn of<T: Element>(t: &Tensor<T>) -> Placement {
        Placement {
            shape: t.shape().to_vec(),
            device: t.device(),
        }
    }
}

impl Deref for Placement {
    type Target = [usize];

    fn deref(&self) -> &[usize] {
        &self.shape
    }
}

/// A shape with the device a tensor of it lives on: a [`Placement`], or a
/// bare shape (the host).
pub trait Place {
    /// The shape.
    fn shape(&self) -> &[usize];
    /// The device.
    fn device(&self) -> Device;
}

impl Place for Placement {
    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn device(&self) -> Device {
        self.device
    }
}

impl Place for [usize] {
    fn shape(&self) -> &[usize] {
        self
    }

    fn device(&self) -> Device {
        Device::Cpu
    }
}

impl Place for Vec<usize> {
    fn shape(&self) -> &[usize] {
        self
    }

    fn device(&self) -> Device {
        Device::Cpu
    }
}

impl<const N: usize> Place for [usize; N] {
    fn shape(&self) -> &[usize] {
        self
    }

    fn device(&self) -> Device {
        Device::Cpu
    }
}
