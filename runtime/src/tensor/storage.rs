//! Where a tensor's elements live: the [`Device`] seam.
//!
//! A [`Tensor`](super::Tensor) holds its elements in a private `Storage`
//! next to its shape: a shared host buffer (`Device::Cpu`) or, with the
//! `cuda` feature, a buffer on a CUDA device (`super::cuda`). Generated code
//! only calls tensor ops, so it does not change with the device; ops with a
//! CUDA path run there (`super::device`), and an op without one stops with a
//! message naming the device instead of reading device memory as host
//! memory. [`Device::cuda`] probes for a GPU and fails with a typed error
//! naming what is missing.

use std::fmt;
use std::sync::Arc;
use thiserror::Error;

use super::Element;

/// A device tensors can live on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    /// Host memory, computed by the CPU kernels.
    Cpu,
    /// CUDA device `n`.
    Cuda(usize),
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// A device could not be used.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DeviceError {
    /// No CUDA device can be used: which piece is missing and where it was
    /// looked for.
    #[error("no CUDA device: {which} ({searched})")]
    NoCuda {
        /// What is missing (the `cuda` feature, the driver library, ...).
        which: String,
        /// Where it was searched, or what to do.
        searched: String,
    },
    /// A device name that is not `cpu`, `cuda` or `cuda:N`.
    #[error("unknown device `{0}`: write cpu, cuda or cuda:N")]
    Unknown(String),
    /// The operation is not available on this device yet.
    #[error("{op} on {device} is not implemented yet; use the CPU")]
    Unsupported {
        /// The operation.
        op: &'static str,
        /// The device asked for.
        device: Device,
    },
    /// The CUDA driver, cuBLAS or NVRTC failed.
    #[error("{device}: {message}")]
    Driver {
        /// The device.
        device: Device,
        /// What failed, with the library's message.
        message: String,
    },
}

impl Device {
    /// CUDA device `n`, once the CUDA driver library is found; otherwise
    /// the reason (built without the `cuda` feature, or no `libcuda`).
    pub fn cuda(n: usize) -> Result<Device, DeviceError> {
        if cfg!(feature = "cuda") {
            #[cfg(feature = "cuda")]
            super::cuda::Gpu::get(n)?;
            Ok(Device::Cuda(n))
        } else {
            Err(DeviceError::NoCuda {
                which: "adjoint was built without the `cuda` feature".into(),
                searched: "rebuild with `--features cuda` on a machine with an NVIDIA driver"
                    .into(),
            })
        }
    }

    /// Parses `cpu`, `cuda` (device 0) or `cuda:N`, probing CUDA devices as
    /// [`Device::cuda`] does.
    pub fn parse(name: &str) -> Result<Device, DeviceError> {
        match name {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Device::cuda(0),
            other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => Device::cuda(n),
                _ => Err(DeviceError::Unknown(other.to_string())),
            },
        }
    }
}

/// A tensor's elements on their device.
#[derive(Clone)]
pub(crate) enum Storage<T> {
    /// A host buffer shared between tensors (copy-on-write).
    Cpu(Arc<Vec<T>>),
    /// A buffer on a CUDA device, shared between tensors.
    #[cfg(feature = "cuda")]
    Cuda(super::cuda::Buffer<T>),
}

impl<T: Element> PartialEq for Storage<T> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Storage::Cpu(a), Storage::Cpu(b)) => a == b,
            #[cfg(feature = "cuda")]
            _ => self.device() == other.device() && self.to_host() == other.to_host(),
        }
    }
}

impl<T: Element> Storage<T> {
    pub(crate) fn new(data: Vec<T>) -> Self {
        Storage::Cpu(Arc::new(data))
    }

    pub(crate) fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            #[cfg(feature = "cuda")]
            Storage::Cuda(buffer) => buffer.device(),
        }
    }

    /// The number of elements.
    pub(crate) fn len(&self) -> usize {
        match self {
            Storage::Cpu(data) => data.len(),
            #[cfg(feature = "cuda")]
            Storage::Cuda(buffer) => buffer.len(),
        }
    }

    /// An identity of the buffer, equal for tensors sharing it.
    pub(crate) fn key(&self) -> usize {
        match self {
            Storage::Cpu(data) => Arc::as_ptr(data) as usize,
            #[cfg(feature = "cuda")]
            Storage::Cuda(buffer) => buffer.key(),
        }
    }

    /// The host elements; an op without a CUDA path stops here, naming the
    /// device, rather than read device memory.
    #[track_caller]
    pub(crate) fn host(&self) -> &[T] {
        match self {
            Storage::Cpu(data) => data,
            #[cfg(feature = "cuda")]
            Storage::Cuda(buffer) => off_host(buffer.device()),
        }
    }

    #[track_caller]
    pub(crate) fn host_mut(&mut self) -> &mut [T] {
        match self {
            Storage::Cpu(data) => Arc::make_mut(data).as_mut_slice(),
            #[cfg(feature = "cuda")]
            Storage::Cuda(buffer) => off_host(buffer.device()),
        }
    }

    /// A copy of the elements on the host, from any device.
    pub(crate) fn to_host(&self) -> Vec<T> {
        match self {
            Storage::Cpu(data) => data.to_vec(),
            #[cfg(feature = "cuda")]
            Storage::Cuda(buffer) => buffer.download(),
        }
    }

    pub(crate) fn into_host(self) -> Vec<T> {
        match self {
            Storage::Cpu(data) => {
                Arc::try_unwrap(data).unwrap_or_else(|shared| shared.as_ref().clone())
            }
            #[cfg(feature = "cuda")]
            Storage::Cuda(buffer) => buffer.download(),
        }
    }
}

/// The stop of an op that has no path on `device` yet.
#[cfg(feature = "cuda")]
#[track_caller]
fn off_host(device: Device) -> ! {
    panic!(
        "this op has no {device} path yet and would read device memory as host memory: \
         move its operands with `.to_device(Device::Cpu)` (the README's CUDA section lists the ops that run on CUDA)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse_and_cuda_explains_its_absence() {
        assert_eq!(Device::parse("cpu"), Ok(Device::Cpu));
        assert!(matches!(Device::parse("gpu"), Err(DeviceError::Unknown(_))));
        match Device::parse("cuda:1") {
            Ok(device) => assert_eq!(device, Device::Cuda(1)),
            Err(DeviceError::NoCuda { which, .. }) => {
                println!("no CUDA here: {which}");
                assert!(!which.is_empty());
            }
            Err(other) => panic!("unexpected {other}"),
        }
        assert_eq!(Device::Cuda(2).to_string(), "cuda:2");
    }
}
