//! Saving: the parameters encoded as safetensors and written atomically.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use tensor::Element;

use super::{CheckpointError, dtype_name, format};
use crate::module::Module;

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
/// a version) in the file's header, where [`read_metadata`](super::read_metadata) finds them.
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
fn write_atomically(
    path: &Path,
    bytes: &[u8],
    write: impl FnOnce(&mut File, &[u8]) -> io::Result<()>,
) -> Result<(), CheckpointError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let file_name = path.file_name().ok_or_else(|| {
        let source = io::Error::new(io::ErrorKind::InvalidInput, "the path names no file");
        CheckpointError::io("write", path)(source)
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
        .map_err(CheckpointError::io("create a temporary file", &temp))?;
    let written = write(&mut file, bytes)
        .map_err(CheckpointError::io("write", &temp))
        .and_then(|()| file.sync_all().map_err(CheckpointError::io("flush", &temp)));
    drop(file);
    let renamed = written
        .and_then(|()| std::fs::rename(&temp, path).map_err(CheckpointError::io("rename", path)));
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
