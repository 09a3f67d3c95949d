//! Loading: the whole file validated and compared with the model before any parameter
//! changes.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use tensor::{Element, Scalar, Tensor};

use super::{CheckpointError, Mismatch, dtype, read};
use crate::module::Module;

/// The metadata stored by [`save_with_metadata`](super::save_with_metadata) (empty when there
/// is none).
///
/// # Errors
/// When the file cannot be read or is not valid safetensors.
pub fn read_metadata(path: impl AsRef<Path>) -> Result<BTreeMap<String, String>, CheckpointError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    // Validates the whole file, not only the header.
    let file = read::parse(&bytes).map_err(|e| CheckpointError::format(path, e))?;
    let pairs = file.header.metadata().iter().flatten();
    Ok(pairs.map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// Loads the parameters of `model` from `path`. Nothing changes unless the whole file is
/// valid and every parameter is present with the model's shape and dtype.
///
/// # Errors
/// When the file cannot be read, is not valid safetensors (truncated, corrupted), or does not
/// fit the model (every missing, unexpected, mis-shaped or mis-typed tensor is listed).
pub fn load<T: Element, X: ?Sized, M: Module<T, X> + ?Sized>(
    model: &M,
    path: impl AsRef<Path>,
) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    load_bytes(model, &read(path)?, path)
}

/// As [`load`], from a checkpoint already in memory (embedded in a binary, received over a
/// network). Errors name the file as `<memory>`.
///
/// # Errors
/// As [`load`], except for reading.
pub fn load_from_bytes<T: Element, X: ?Sized, M: Module<T, X> + ?Sized>(
    model: &M,
    bytes: &[u8],
) -> Result<(), CheckpointError> {
    load_bytes(model, bytes, Path::new("<memory>"))
}

/// The whole file: the allocation is its real size; no size declared inside it is trusted.
pub(super) fn read(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    std::fs::read(path).map_err(CheckpointError::io("read", path))
}

fn load_bytes<T: Element, X: ?Sized, M: Module<T, X> + ?Sized>(
    model: &M,
    bytes: &[u8],
    path: &Path,
) -> Result<(), CheckpointError> {
    let file = read::parse(bytes).map_err(|e| CheckpointError::format(path, e))?;
    let params = crate::module::state_of(model);
    let mut problems = Vec::new();
    let mut found = Vec::with_capacity(params.len());
    for (name, param) in &params {
        let Some((info, data)) = file.tensor(name) else {
            problems.push(Mismatch::Missing { name: name.clone() });
            continue;
        };
        let shape = param.shape();
        if info.dtype != dtype::<T>() {
            problems.push(Mismatch::DType {
                name: name.clone(),
                model: T::DTYPE,
                file: info.dtype.to_string(),
            });
        } else if info.shape != shape {
            problems.push(Mismatch::Shape {
                name: name.clone(),
                model: shape,
                file: info.shape.clone(),
            });
        } else {
            found.push((param, data, shape));
        }
    }
    // In name order, whatever order the file's index keeps.
    let model_names: HashSet<&str> = params.iter().map(|(name, _)| name.as_str()).collect();
    let mut unexpected = file.header.offset_keys();
    unexpected.retain(|name| !model_names.contains(name.as_str()));
    unexpected.sort_unstable();
    problems.extend(
        unexpected
            .into_iter()
            .map(|name| Mismatch::Unexpected { name }),
    );
    if !problems.is_empty() {
        return Err(CheckpointError::Mismatch {
            path: path.to_path_buf(),
            problems,
        });
    }
    // Decode everything first, so a failure cannot leave the model half loaded.
    let mut values = Vec::with_capacity(found.len());
    for (param, data, shape) in found {
        values.push((param, decode::<T>(data, &shape, path)?));
    }
    for (param, value) in values {
        param
            .try_set(value)
            .map_err(|e| CheckpointError::format(path, e.to_string()))?;
    }
    Ok(())
}

pub(super) fn decode<T: Scalar>(
    bytes: &[u8],
    shape: &[usize],
    path: &Path,
) -> Result<Tensor<T>, CheckpointError> {
    let size = T::DTYPE.size_in_bytes();
    let values = bytes
        .chunks_exact(size)
        .map(T::from_le_slice)
        .collect::<Option<Vec<T>>>();
    values
        .and_then(|data| Tensor::from_vec(data, shape).ok())
        .ok_or_else(|| {
            let message = format!(
                "the data of a tensor of shape {shape:?} has {} bytes",
                bytes.len()
            );
            CheckpointError::format(path, message)
        })
}
