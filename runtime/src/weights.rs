//! A model's weights as a `.safetensors` file, the format PyTorch, candle
//! and Hugging Face exchange weights in.
//!
//! [`Weights::save_safetensors`] writes every tensor of a [`Parameters`]
//! model, buffers included ([`Parameters::visit_state`]), under its field path (`w1`, `layers.0.w`), through `PATH.tmp` and a
//! rename so an interrupted save never leaves a half-written file;
//! [`Weights::load_safetensors`] reads a file into a model of the same
//! structure, checking each tensor's presence, element type and shape, and
//! changes the model only when every tensor fits.
//!
//! Use this format for weights that leave the project (PyTorch reads them
//! with `safetensors.torch.load_file`); training checkpoints, which also
//! hold optimiser state, use the `train::checkpoint` format.
//!
//! ```
//! use adjoint_runtime::params::Parameters;
//! use adjoint_runtime::tensor::Tensor;
//! use adjoint_runtime::weights::Weights;
//!
//! let model = vec![Tensor::<f32>::full(&[2, 3], 0.5), Tensor::ones(&[3])];
//! let path = std::env::temp_dir().join("adjoint-weights-doc.safetensors");
//! model.save_safetensors(&path)?;
//! let mut fresh = vec![Tensor::<f32>::zeros(&[2, 3]), Tensor::zeros(&[3])];
//! fresh.load_safetensors(&path)?;
//! assert_eq!(fresh[0].data(), model[0].data());
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), adjoint_runtime::weights::WeightsError>(())
//! ```

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use crate::params::Parameters;
use crate::tensor::{Element, Tensor};

/// An element type with a safetensors dtype.
pub trait SafetensorsElement: Element {
    /// The dtype tag in the file (`F32`, `F64`).
    const DTYPE: Dtype;

    /// The little-endian bytes of `values`.
    fn to_bytes(values: &[Self]) -> Vec<u8>;

    /// The values whose little-endian bytes are `bytes` (whole elements).
    fn from_bytes(bytes: &[u8]) -> Vec<Self>;
}

macro_rules! safetensors_element {
    ($t:ty, $dtype:ident, $size:literal) => {
        impl SafetensorsElement for $t {
            const DTYPE: Dtype = Dtype::$dtype;

            fn to_bytes(values: &[Self]) -> Vec<u8> {
                values.iter().flat_map(|v| v.to_le_bytes()).collect()
            }

            fn from_bytes(bytes: &[u8]) -> Vec<Self> {
                bytes
                    .chunks_exact($size)
                    .map(|c| {
                        let mut b = [0u8; $size];
                        b.copy_from_slice(c);
                        <$t>::from_le_bytes(b)
                    })
                    .collect()
            }
        }
    };
}

safetensors_element!(f32, F32, 4);
safetensors_element!(f64, F64, 8);

/// What went wrong reading or writing a `.safetensors` file; each names the
/// file.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a well-formed safetensors file (truncated, bad header).
    #[error("{}: not a valid safetensors file: {message}", path.display())]
    Format { path: PathBuf, message: String },
    /// The model has a tensor the file lacks.
    #[error("{}: the model's tensor `{name}` is not in the file", path.display())]
    Missing { path: PathBuf, name: String },
    /// The file has a tensor the model lacks.
    #[error("{}: the file's tensor `{name}` has no place in the model", path.display())]
    Unexpected { path: PathBuf, name: String },
    /// A tensor's shape differs between the file and the model.
    #[error("{}: tensor `{name}` has shape {file:?} in the file but {model:?} in the model", path.display())]
    Shape {
        path: PathBuf,
        name: String,
        file: Vec<usize>,
        model: Vec<usize>,
    },
    /// A tensor's element type differs between the file and the model.
    #[error("{}: tensor `{name}` is {file} in the file but {model:?} in the model", path.display())]
    Dtype {
        path: PathBuf,
        name: String,
        file: String,
        model: Dtype,
    },
}

/// Saving and loading a model's tensors as a `.safetensors` file; every
/// [`Parameters`] model of `f32` or `f64` tensors has it.
pub trait Weights: Parameters {
    /// Writes every tensor under its field path to `path` (through
    /// `PATH.tmp` and a rename).
    fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<(), WeightsError>
    where
        Self::Elem: SafetensorsElement,
    {
        let path = path.as_ref();
        let named = self.named_state();
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = named
            .iter()
            .map(|(name, t)| {
                (
                    name.clone(),
                    t.shape().to_vec(),
                    Self::Elem::to_bytes(&t.to_vec()),
                )
            })
            .collect();
        let format = |message: String| WeightsError::Format {
            path: path.to_path_buf(),
            message,
        };
        let views = bytes
            .iter()
            .map(|(name, shape, data)| {
                TensorView::new(Self::Elem::DTYPE, shape.clone(), data)
                    .map(|view| (name.as_str(), view))
                    .map_err(|e| format(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let file = safetensors::serialize(views, None).map_err(|e| format(e.to_string()))?;
        write_atomically(path, &file)
    }

    /// Replaces every tensor of the model by the file's tensor of the same
    /// name; on any error the model is left unchanged.
    fn load_safetensors(&mut self, path: impl AsRef<Path>) -> Result<(), WeightsError>
    where
        Self::Elem: SafetensorsElement,
    {
        let path = path.as_ref();
        let bytes = fs::read(path).map_err(|source| WeightsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let file = SafeTensors::deserialize(&bytes).map_err(|e| WeightsError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let mut loaded: HashMap<String, Tensor<Self::Elem>> = HashMap::new();
        for (name, tensor) in self.named_state() {
            let view = file.tensor(&name).map_err(|_| WeightsError::Missing {
                path: path.to_path_buf(),
                name: name.clone(),
            })?;
            if view.dtype() != Self::Elem::DTYPE {
                return Err(WeightsError::Dtype {
                    path: path.to_path_buf(),
                    name,
                    file: format!("{:?}", view.dtype()),
                    model: Self::Elem::DTYPE,
                });
            }
            if view.shape() != tensor.shape() {
                return Err(WeightsError::Shape {
                    path: path.to_path_buf(),
                    name,
                    file: view.shape().to_vec(),
                    model: tensor.shape().to_vec(),
                });
            }
            let values = Self::Elem::from_bytes(view.data());
            let t = Tensor::from_vec(values, view.shape()).map_err(|e| WeightsError::Format {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
            loaded.insert(name, t);
        }
        if let Some(extra) = file.names().into_iter().find(|n| !loaded.contains_key(*n)) {
            return Err(WeightsError::Unexpected {
                path: path.to_path_buf(),
                name: extra.to_string(),
            });
        }
        self.visit_state_mut(&mut String::new(), &mut |name, t| {
            if let Some(new) = loaded.remove(name) {
                *t = new;
            }
        });
        Ok(())
    }
}

impl<P: Parameters> Weights for P {}

/// Writes `bytes` to `PATH.tmp`, syncs it, and renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WeightsError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| WeightsError::Io { path: p, source }
    };
    let written = fs::File::create(&tmp).and_then(|mut file| {
        std::io::Write::write_all(&mut file, bytes)?;
        file.sync_all()
    });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io(&tmp)(e));
    }
    fs::rename(&tmp, path).map_err(io(path))
}
