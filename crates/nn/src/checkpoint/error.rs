//! Why a checkpoint could not be saved or loaded.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use tensor::DType;

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
    /// The file is not a valid safetensors file (truncated, corrupted, or something else), or
    /// when saving, the model and metadata would make a header longer than readers accept.
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
    /// The model has two parameters with one name (or two tensors given to
    /// [`save_tensors`](super::save_tensors) have one), so it cannot be saved by name.
    DuplicateName {
        /// The repeated name.
        name: String,
    },
    /// The metadata given to [`save_with_metadata`](super::save_with_metadata) has one key twice.
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
                write!(f, "checkpoint: two tensors to save are named {name:?}")
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

impl CheckpointError {
    /// A [`CheckpointError::Format`] for `path`.
    pub(super) fn format(path: &Path, message: impl Into<String>) -> Self {
        CheckpointError::Format {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    /// A [`CheckpointError::Io`] for `path`, as a closure for `map_err`.
    pub(super) fn io(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| CheckpointError::Io {
            action,
            path,
            source,
        }
    }
}
