//! Loading: the whole file validated and compared with the model before any parameter
//! changes.

use std::collections::BTreeMap;
use std::path::Path;

use tensor::{Element, Tensor};

use super::{CheckpointError, Mismatch, dtype_name, format};
use crate::module::Module;

/// The metadata stored by [`save_with_metadata`](super::save_with_metadata) (empty when there
/// is none).
///
/// # Errors
/// When the file cannot be read or is not valid safetensors.
pub fn read_metadata(path: impl AsRef<Path>) -> Result<BTreeMap<String, String>, CheckpointError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    // Parses and validates the whole file, not only the header.
    let file = format::parse(&bytes).map_err(|e| CheckpointError::format(path, e))?;
    Ok(file.metadata)
}

/// Loads the parameters of `model` from `path`. Nothing changes unless the whole file is
/// valid and every parameter is present with the model's shape and dtype.
///
/// # Errors
/// When the file cannot be read, is not valid safetensors (truncated, corrupted), or does not
/// fit the model (every missing, unexpected, mis-shaped or mis-typed tensor is listed).
pub fn load<T: Element, M: Module<T> + ?Sized>(
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
pub fn load_from_bytes<T: Element, M: Module<T> + ?Sized>(
    model: &M,
    bytes: &[u8],
) -> Result<(), CheckpointError> {
    load_bytes(model, bytes, Path::new("<memory>"))
}

/// The whole file: the allocation is its real size; no size declared inside it is trusted.
fn read(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    std::fs::read(path).map_err(CheckpointError::io("read", path))
}

fn load_bytes<T: Element, M: Module<T> + ?Sized>(
    model: &M,
    bytes: &[u8],
    path: &Path,
) -> Result<(), CheckpointError> {
    let file = format::parse(bytes).map_err(|e| CheckpointError::format(path, e))?;
    let params = model.named_parameters();
    let mut problems = Vec::new();
    for (name, param) in &params {
        let Some(entry) = file.tensors.get(name) else {
            problems.push(Mismatch::Missing { name: name.clone() });
            continue;
        };
        let shape = param.shape();
        if entry.dtype != dtype_name::<T>() {
            problems.push(Mismatch::DType {
                name: name.clone(),
                model: T::DTYPE,
                file: entry.dtype.clone(),
            });
        } else if entry.shape != shape {
            problems.push(Mismatch::Shape {
                name: name.clone(),
                model: shape,
                file: entry.shape.clone(),
            });
        }
    }
    // In name order: the file's tensors are a sorted map.
    problems.extend(
        file.tensors
            .keys()
            .filter(|name| !params.iter().any(|(n, _)| n == *name))
            .map(|name| Mismatch::Unexpected { name: name.clone() }),
    );
    if !problems.is_empty() {
        return Err(CheckpointError::Mismatch {
            path: path.to_path_buf(),
            problems,
        });
    }
    // Decode everything first, so a failure cannot leave the model half loaded.
    let mut values = Vec::with_capacity(params.len());
    for (name, param) in &params {
        let entry = &file.tensors[name];
        values.push((param, decode::<T>(entry.data, &param.shape(), path)?));
    }
    for (param, value) in values {
        param
            .try_set(value)
            .map_err(|e| CheckpointError::format(path, e.to_string()))?;
    }
    Ok(())
}

fn decode<T: Element>(
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
