//! Checkpoints in the [safetensors](https://github.com/huggingface/safetensors) format: one
//! tensor per parameter, named as in [`Module::named_parameters`], with its dtype recorded.
//!
//! Saving writes a temporary file beside the target, flushes it to disk and renames it over
//! the target, so a failed save (full disk, read-only folder, a crash midway) leaves the
//! previous checkpoint whole. Loading validates the whole file (header, offsets, sizes) and
//! compares every name, shape and dtype with the model before changing any parameter: a
//! mismatched or damaged file changes nothing and is reported in full.
//!
//! ```
//! use nn::{Activation, Mlp, Module};
//! use rand::SeedableRng;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let model = Mlp::<f32>::new(&[2, 3, 1], Activation::Sigmoid, &mut rng);
//! let path = std::env::temp_dir().join(format!("surefire-doc-{}.safetensors", std::process::id()));
//! nn::save(&model, &path)?;
//! let copy = Mlp::<f32>::new(&[2, 3, 1], Activation::Sigmoid, &mut rng);
//! nn::load(&copy, &path)?;
//! assert_eq!(copy.parameters()[0].tensor().to_vec(), model.parameters()[0].tensor().to_vec());
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), nn::CheckpointError>(())
//! ```

mod format;
mod json;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tensor::{DType, Element, Tensor};

use crate::module::Module;

/// Why a checkpoint could not be saved or loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The file system refused an operation.
    Io {
        /// What was being done: `"read"`, `"write"`, `"rename"`, ...
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file is not a valid safetensors file (truncated, corrupted, or something else).
    Format {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The file is valid but does not fit the model; every difference is listed.
    Mismatch {
        /// The file concerned.
        path: PathBuf,
        /// Each difference between the file and the model.
        problems: Vec<Mismatch>,
    },
    /// The model has two parameters with one name, so it cannot be saved by name.
    DuplicateName {
        /// The repeated name.
        name: String,
    },
    /// The metadata given to [`save_with_metadata`] has one key twice.
    DuplicateMetadataKey {
        /// The repeated key.
        key: String,
    },
}

/// One difference between a checkpoint and a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The model has a parameter the file lacks.
    Missing {
        /// The parameter's name.
        name: String,
    },
    /// The file has a tensor the model lacks.
    Unexpected {
        /// The tensor's name.
        name: String,
    },
    /// Both have the name, with different shapes.
    Shape {
        /// The parameter's name.
        name: String,
        /// The model's shape.
        model: Vec<usize>,
        /// The file's shape.
        file: Vec<usize>,
    },
    /// Both have the name, with different element types.
    DType {
        /// The parameter's name.
        name: String,
        /// The model's element type.
        model: DType,
        /// The file's element type, as safetensors names it.
        file: String,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Missing { name } => write!(f, "{name}: in the model, missing from the file"),
            Mismatch::Unexpected { name } => write!(f, "{name}: in the file, not in the model"),
            Mismatch::Shape { name, model, file } => {
                write!(
                    f,
                    "{name}: shape {model:?} in the model, {file:?} in the file"
                )
            }
            Mismatch::DType { name, model, file } => {
                write!(f, "{name}: dtype {model} in the model, {file} in the file")
            }
        }
    }
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::Io {
                action,
                path,
                source,
            } => {
                write!(
                    f,
                    "checkpoint: cannot {action} {}: {source}",
                    path.display()
                )
            }
            CheckpointError::Format { path, message } => write!(
                f,
                "checkpoint: {} is not a valid safetensors file: {message}",
                path.display()
            ),
            CheckpointError::Mismatch { path, problems } => {
                write!(
                    f,
                    "checkpoint: {} does not fit the model ({} problems):",
                    path.display(),
                    problems.len()
                )?;
                for problem in problems {
                    write!(f, "\n  {problem}")?;
                }
                Ok(())
            }
            CheckpointError::DuplicateName { name } => {
                write!(f, "checkpoint: the model has two parameters named {name:?}")
            }
            CheckpointError::DuplicateMetadataKey { key } => {
                write!(f, "checkpoint: the metadata has key {key:?} twice")
            }
        }
    }
}

impl std::error::Error for CheckpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckpointError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The dtype name safetensors gives an element type.
fn dtype_name<T: Element>() -> &'static str {
    match T::DTYPE {
        DType::F32 => "F32",
        DType::F64 => "F64",
    }
}

/// Saves every parameter of `model` to `path`, replacing the file atomically.
///
/// # Errors
/// When the model has two parameters with one name, or the file system refuses (missing or
/// read-only folder, full disk); the previous file at `path`, if any, is then unchanged.
pub fn save<T: Element, M: Module<T> + ?Sized>(
    model: &M,
    path: impl AsRef<Path>,
) -> Result<(), CheckpointError> {
    save_with_metadata(model, path, &[])
}

/// As [`save`], also storing `metadata` (string pairs: a configuration, feature statistics,
/// a version) in the file's header, where [`read_metadata`] finds them.
///
/// # Errors
/// As [`save`].
pub fn save_with_metadata<T: Element, M: Module<T> + ?Sized>(
    model: &M,
    path: impl AsRef<Path>,
    metadata: &[(&str, &str)],
) -> Result<(), CheckpointError> {
    let bytes = encode(model, metadata)?;
    write_atomically(path.as_ref(), &bytes, |file, bytes| file.write_all(bytes))
}

/// The metadata stored by [`save_with_metadata`] (empty when there is none).
///
/// # Errors
/// When the file cannot be read or is not valid safetensors.
pub fn read_metadata(path: impl AsRef<Path>) -> Result<BTreeMap<String, String>, CheckpointError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    // Parses and validates the whole file, not only the header.
    let file = format::parse(&bytes).map_err(|message| CheckpointError::Format {
        path: path.to_path_buf(),
        message,
    })?;
    Ok(file.metadata)
}

fn encode<T: Element, M: Module<T> + ?Sized>(
    model: &M,
    metadata: &[(&str, &str)],
) -> Result<Vec<u8>, CheckpointError> {
    let mut tensors = Vec::new();
    for (name, param) in model.named_parameters() {
        let value = param.tensor();
        let mut bytes = Vec::with_capacity(value.numel() * T::DTYPE.size_in_bytes());
        value.for_each_value(|_, v| v.extend_le_bytes(&mut bytes));
        tensors.push((name, dtype_name::<T>(), value.shape().to_vec(), bytes));
    }
    tensors.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if let Some(pair) = tensors.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(CheckpointError::DuplicateName {
            name: pair[0].0.clone(),
        });
    }
    let mut map = BTreeMap::new();
    for &(key, value) in metadata {
        if map.insert(key, value).is_some() {
            return Err(CheckpointError::DuplicateMetadataKey { key: key.into() });
        }
    }
    Ok(format::serialize(&tensors, &map))
}

/// Writes `bytes` to a fresh file beside `path` with `write`, flushes it to disk, and renames
/// it over `path`. On any failure the temporary file is removed and `path` is untouched.
pub(crate) fn write_atomically(
    path: &Path,
    bytes: &[u8],
    write: impl FnOnce(&mut File, &[u8]) -> io::Result<()>,
) -> Result<(), CheckpointError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io_error = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| CheckpointError::Io {
            action,
            path,
            source,
        }
    };
    let file_name = path.file_name().ok_or_else(|| CheckpointError::Io {
        action: "write",
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"),
    })?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let temp = path.with_file_name(temp_name);
    // create_new: never clobber a file that happens to have the temporary name.
    let mut file = File::options()
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(io_error("create a temporary file", &temp))?;
    let written = write(&mut file, bytes)
        .map_err(io_error("write", &temp))
        .and_then(|()| file.sync_all().map_err(io_error("flush", &temp)));
    drop(file);
    let renamed =
        written.and_then(|()| std::fs::rename(&temp, path).map_err(io_error("rename", path)));
    if renamed.is_err() {
        // Best effort: the error that matters is the one already in hand.
        let _ = std::fs::remove_file(&temp);
        return renamed;
    }
    // Make the rename itself durable where the platform allows syncing a directory.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(dir) = File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
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

/// The whole file: the allocation is its real size; no size declared inside it is trusted.
fn read(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    std::fs::read(path).map_err(|source| CheckpointError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })
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

fn load_bytes<T: Element, M: Module<T> + ?Sized>(
    model: &M,
    bytes: &[u8],
    path: &Path,
) -> Result<(), CheckpointError> {
    let file = format::parse(bytes).map_err(|message| CheckpointError::Format {
        path: path.to_path_buf(),
        message,
    })?;
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
        param.try_set(value).map_err(|e| CheckpointError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
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
        .ok_or_else(|| CheckpointError::Format {
            path: path.to_path_buf(),
            message: format!(
                "the data of a tensor of shape {shape:?} has {} bytes",
                bytes.len()
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_failing_midway_leaves_the_previous_file_whole() {
        let dir = std::env::temp_dir().join(format!("surefire-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("model.safetensors");
        std::fs::write(&target, b"previous checkpoint").unwrap();
        // A disk that fills up halfway through the write.
        let err = write_atomically(&target, b"new checkpoint bytes", |file, bytes| {
            file.write_all(&bytes[..5])?;
            Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device",
            ))
        })
        .unwrap_err();
        assert!(err.to_string().contains("no space left on device"), "{err}");
        assert_eq!(std::fs::read(&target).unwrap(), b"previous checkpoint");
        // No temporary file is left behind.
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
        write_atomically(&target, b"new", |f, b| f.write_all(b)).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
