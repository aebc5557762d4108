//! Where a tensor's elements live: the [`Device`] seam.
//!
//! A [`Tensor`](super::Tensor) holds its elements in a private `Storage`
//! next to its shape. Today every storage is a shared host buffer
//! (`Device::Cpu`); a CUDA storage is a second variant here, so generated
//! code (which only calls tensor ops) does not change when it arrives.
//! [`Device::cuda`] already probes for a GPU and fails with a typed error
//! naming what is missing.

use std::fmt;
use std::sync::Arc;
use thiserror::Error;

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
}

impl Device {
    /// CUDA device `n`, once the CUDA driver library is found; otherwise
    /// the reason (built without the `cuda` feature, or no `libcuda`).
    pub fn cuda(n: usize) -> Result<Device, DeviceError> {
        if cfg!(feature = "cuda") {
            if adjoint_kernels::cuda::driver_available() {
                Ok(Device::Cuda(n))
            } else {
                Err(DeviceError::NoCuda {
                    which: "the CUDA driver library libcuda.so could not be loaded".into(),
                    searched: "the dynamic loader's paths (LD_LIBRARY_PATH, ldconfig)".into(),
                })
            }
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
#[derive(Clone, PartialEq)]
pub(crate) enum Storage<T> {
    /// A host buffer shared between tensors (copy-on-write).
    Cpu(Arc<Vec<T>>),
}

impl<T: Clone> Storage<T> {
    pub(crate) fn new(data: Vec<T>) -> Self {
        Storage::Cpu(Arc::new(data))
    }

    pub(crate) fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
        }
    }

    /// An identity of the buffer, equal for tensors sharing it.
    pub(crate) fn key(&self) -> usize {
        match self {
            Storage::Cpu(data) => Arc::as_ptr(data) as usize,
        }
    }

    pub(crate) fn host(&self) -> &[T] {
        match self {
            Storage::Cpu(data) => data,
        }
    }

    pub(crate) fn host_mut(&mut self) -> &mut [T] {
        match self {
            Storage::Cpu(data) => Arc::make_mut(data).as_mut_slice(),
        }
    }

    pub(crate) fn into_host(self) -> Vec<T> {
        match self {
            Storage::Cpu(data) => {
                Arc::try_unwrap(data).unwrap_or_else(|shared| shared.as_ref().clone())
            }
        }
    }
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
