//! Named tensors of any scalar type in one safetensors file: what a model's parameters do not
//! cover (a data set's token ids, an optimizer's step counts, a vocabulary's counts).

use std::any::Any;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use safetensors::Dtype;
use tensor::{DType, Scalar, Tensor};

use super::CheckpointError;
use super::load::{decode, read};
use super::read::parse;
use super::save::{Entry, encode_entries, write_atomically};

/// A tensor of one of the scalar types a checkpoint stores.
///
/// ```
/// use nn::{StoredTensor, load_tensors, save_tensors};
/// use tensor::Tensor;
/// let path = std::env::temp_dir().join(format!("surefire-ids-{}.safetensors", std::process::id()));
/// let ids = Tensor::<i64>::from_vec(vec![3, 1, 4, 1], &[2, 2])?;
/// let scale = Tensor::<f32>::scalar(0.5);
/// save_tensors(&path, &[("ids", ids.clone().into()), ("scale", scale.into())], &[])?;
/// let loaded = load_tensors(&path)?;
/// assert_eq!(loaded["ids"].get::<i64>().unwrap().to_vec(), ids.to_vec());
/// assert!(loaded["scale"].get::<i64>().is_none()); // an f32 tensor
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub enum StoredTensor {
    /// A tensor of `f32`.
    F32(Tensor<f32>),
    /// A tensor of `f64`.
    F64(Tensor<f64>),
    /// A tensor of `i64`.
    I64(Tensor<i64>),
}

impl StoredTensor {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            StoredTensor::F32(_) => DType::F32,
            StoredTensor::F64(_) => DType::F64,
            StoredTensor::I64(_) => DType::I64,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            StoredTensor::F32(t) => t.shape(),
            StoredTensor::F64(t) => t.shape(),
            StoredTensor::I64(t) => t.shape(),
        }
    }

    /// The tensor, if it holds elements of type `S` (no conversion).
    pub fn get<S: Scalar>(&self) -> Option<Tensor<S>> {
        let any: &dyn Any = match self {
            StoredTensor::F32(t) => t,
            StoredTensor::F64(t) => t,
            StoredTensor::I64(t) => t,
        };
        any.downcast_ref::<Tensor<S>>().cloned()
    }

    fn entry(&self) -> Entry {
        match self {
            StoredTensor::F32(t) => Entry::of(t),
            StoredTensor::F64(t) => Entry::of(t),
            StoredTensor::I64(t) => Entry::of(t),
        }
    }
}

macro_rules! stored_from {
    ($($t:ty => $variant:ident),*) => {$(
        impl From<Tensor<$t>> for StoredTensor {
            fn from(tensor: Tensor<$t>) -> Self {
                StoredTensor::$variant(tensor)
            }
        }
    )*};
}

stored_from!(f32 => F32, f64 => F64, i64 => I64);

/// Saves named tensors of any scalar types, and `metadata`, to `path` as safetensors,
/// replacing the file atomically as [`save`](super::save) does.
///
/// # Errors
/// When two tensors or two metadata pairs have one name, or the file system refuses; the
/// previous file at `path`, if any, is then unchanged.
pub fn save_tensors(
    path: impl AsRef<Path>,
    tensors: &[(&str, StoredTensor)],
    metadata: &[(&str, &str)],
) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    let entries = tensors.iter().map(|(name, t)| (*name, t.entry())).collect();
    let bytes = encode_entries(entries, metadata, path)?;
    write_atomically(path, &bytes, |file, bytes| file.write_all(bytes))
}

/// Every tensor of a safetensors file (written by [`save_tensors`], [`save`](super::save) or
/// another program), by name. The whole file is validated first.
///
/// # Errors
/// When the file cannot be read, is not valid safetensors, or holds a dtype other than
/// `F32`, `F64` and `I64` (the message names the tensor and the dtype).
pub fn load_tensors(
    path: impl AsRef<Path>,
) -> Result<BTreeMap<String, StoredTensor>, CheckpointError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    let file = parse(&bytes).map_err(|e| CheckpointError::format(path, e))?;
    let mut out = BTreeMap::new();
    for name in file.header.offset_keys() {
        let (info, data) = file
            .tensor(&name)
            .expect("internal: the header lists its own tensors");
        let shape = &info.shape;
        let tensor = match info.dtype {
            Dtype::F32 => StoredTensor::F32(decode(data, shape, path)?),
            Dtype::F64 => StoredTensor::F64(decode(data, shape, path)?),
            Dtype::I64 => StoredTensor::I64(decode(data, shape, path)?),
            other => {
                let message =
                    format!("tensor {name:?} has dtype {other}; surefire reads F32, F64 and I64");
                return Err(CheckpointError::format(path, message));
            }
        };
        out.insert(name, tensor);
    }
    Ok(out)
}
