//! Saving: the parameters encoded as safetensors and written atomically.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use safetensors::Dtype;
use safetensors::tensor::TensorInfo;
use serde_json::Value;
use tensor::{Element, Scalar, Tensor};

use super::{CheckpointError, MAX_HEADER_LEN, METADATA_KEY, dtype};
use crate::module::Module;

/// Saves every parameter of `model` to `path`, replacing the file atomically.
///
/// # Errors
/// When the model has two parameters with one name, or the file system refuses (missing or
/// read-only folder, full disk); the previous file at `path`, if any, is then unchanged.
pub fn save<T: Element, X: ?Sized, M: Module<T, X> + ?Sized>(
    model: &M,
    path: impl AsRef<Path>,
) -> Result<(), CheckpointError> {
    save_with_metadata(model, path, &[])
}

/// As [`save`], also storing `metadata` (string pairs: a configuration, feature statistics,
/// a version) in the file's header, where [`read_metadata`](super::read_metadata) finds them.
///
/// # Errors
/// As [`save`], and when `metadata` has one key twice.
pub fn save_with_metadata<T: Element, X: ?Sized, M: Module<T, X> + ?Sized>(
    model: &M,
    path: impl AsRef<Path>,
    metadata: &[(&str, &str)],
) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    let bytes = encode(model, metadata, path)?;
    write_atomically(path, &bytes, |file, bytes| file.write_all(bytes))
}

/// The whole file: the header, then the tensors' bytes in name order, as the reference lays
/// out tensors of one dtype.
fn encode<T: Element, X: ?Sized, M: Module<T, X> + ?Sized>(
    model: &M,
    metadata: &[(&str, &str)],
    path: &Path,
) -> Result<Vec<u8>, CheckpointError> {
    let params = crate::module::state_of(model);
    let entries = params
        .iter()
        .map(|(name, param)| (name.as_str(), Entry::of(&param.tensor())));
    encode_entries(entries.collect(), metadata, path)
}

/// One tensor as the file stores it: its dtype, its shape and its little-endian bytes.
pub(super) struct Entry {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl Entry {
    pub(super) fn of<S: Scalar>(value: &Tensor<S>) -> Self {
        let mut bytes = Vec::with_capacity(value.numel() * S::DTYPE.size_in_bytes());
        value.for_each_value(|_, v| v.extend_le_bytes(&mut bytes));
        Entry {
            dtype: dtype::<S>(),
            shape: value.shape().to_vec(),
            bytes,
        }
    }
}

/// The whole file for named `entries`: the header, then their bytes in name order.
///
/// # Errors
/// When two entries or two metadata pairs have one name, or the header is too long.
pub(super) fn encode_entries(
    mut entries: Vec<(&str, Entry)>,
    metadata: &[(&str, &str)],
    path: &Path,
) -> Result<Vec<u8>, CheckpointError> {
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    if let Some(pair) = entries.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(CheckpointError::DuplicateName {
            name: pair[0].0.to_string(),
        });
    }
    let mut map = BTreeMap::new();
    for &(key, value) in metadata {
        if map.insert(key, value).is_some() {
            return Err(CheckpointError::DuplicateMetadataKey { key: key.into() });
        }
    }
    let mut data = Vec::with_capacity(entries.iter().map(|(_, e)| e.bytes.len()).sum());
    let mut tensors = Vec::with_capacity(entries.len());
    for (name, entry) in entries {
        let begin = data.len();
        data.extend_from_slice(&entry.bytes);
        let info = TensorInfo {
            dtype: entry.dtype,
            shape: entry.shape,
            data_offsets: (begin, data.len()),
        };
        tensors.push((name.to_string(), info));
    }
    let header = write_header(&map, &tensors).map_err(|e| CheckpointError::format(path, e))?;
    let mut out = Vec::with_capacity(8 + header.len() + data.len());
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&data);
    Ok(out)
}

/// The header in the reference's layout: compact JSON, the metadata first (left out when
/// empty), then `tensors` in the given order, padded with spaces to a multiple of 8 bytes so
/// that the data is aligned in a memory-mapped file. The crate's own `serialize` takes the
/// metadata as a `HashMap`, whose order changes from run to run; a sorted map here makes the
/// same model and metadata give the same bytes every time.
///
/// # Errors
/// When the header would be longer than readers accept.
fn write_header(
    metadata: &BTreeMap<&str, &str>,
    tensors: &[(String, TensorInfo)],
) -> Result<Vec<u8>, String> {
    // serde_json's own writer escapes the strings, as the reference's does.
    let string = |s: &str| Value::String(s.into()).to_string();
    let mut entries = Vec::with_capacity(tensors.len() + 1);
    if !metadata.is_empty() {
        let pairs = metadata
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())));
        let pairs = Value::Object(pairs.collect());
        entries.push(format!("{}:{pairs}", string(METADATA_KEY)));
    }
    for (name, info) in tensors {
        let shape: Vec<String> = info.shape.iter().map(usize::to_string).collect();
        let (begin, end) = info.data_offsets;
        entries.push(format!(
            r#"{}:{{"dtype":"{}","shape":[{}],"data_offsets":[{begin},{end}]}}"#,
            string(name),
            info.dtype,
            shape.join(",")
        ));
    }
    let mut header = format!("{{{}}}", entries.join(",")).into_bytes();
    header.resize(header.len().next_multiple_of(8), b' ');
    if header.len() as u64 > MAX_HEADER_LEN {
        return Err(format!(
            "saving needs a header of {} bytes, more than the {MAX_HEADER_LEN} readers accept",
            header.len()
        ));
    }
    Ok(header)
}

/// Writes `bytes` to a fresh file beside `path` with `write`, flushes it to disk, and renames
/// it over `path`. On any failure the temporary file is removed and `path` is untouched.
pub(super) fn write_atomically(
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

    #[test]
    fn files_match_the_crates_own_writer_byte_for_byte() {
        use rand::SeedableRng;
        use safetensors::tensor::TensorView;
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let model = crate::Mlp::<f64>::new(&[3, 4, 2], crate::Activation::Sigmoid, &mut rng);
        // One metadata key: with more, the crate's order varies from run to run.
        for metadata in [&[][..], &[("hidden", "4\t\u{1}é")]] {
            let ours = encode(&model, metadata, Path::new("m.safetensors")).unwrap();
            let params = model.named_parameters();
            let data: Vec<_> = params.iter().map(|(_, p)| p.tensor().to_vec()).collect();
            let bytes: Vec<Vec<u8>> = data
                .iter()
                .map(|values| values.iter().flat_map(|v| v.to_le_bytes()).collect())
                .collect();
            let views = params.iter().zip(&bytes).map(|((name, p), bytes)| {
                let view = TensorView::new(dtype::<f64>(), p.shape(), bytes).unwrap();
                (name.clone(), view)
            });
            let pairs = metadata
                .iter()
                .map(|&(k, v)| (k.to_string(), v.to_string()));
            let metadata = (!metadata.is_empty()).then(|| pairs.collect());
            assert_eq!(ours, safetensors::serialize(views, metadata).unwrap());
        }
    }

    #[test]
    fn writes_compact_json_padded_to_eight_bytes() {
        let info = |shape: Vec<usize>, data_offsets| TensorInfo {
            dtype: safetensors::Dtype::F64,
            shape,
            data_offsets,
        };
        let tensors = [
            ("a".to_string(), info(vec![1], (0, 8))),
            ("b\"q".to_string(), info(vec![], (8, 16))),
        ];
        let header = write_header(&BTreeMap::from([("k", "v\n")]), &tensors).unwrap();
        let text = concat!(
            r#"{"__metadata__":{"k":"v\n"},"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"#,
            r#""b\"q":{"dtype":"F64","shape":[],"data_offsets":[8,16]}}"#
        );
        assert_eq!(header.len(), text.len().next_multiple_of(8));
        assert_eq!(std::str::from_utf8(&header).unwrap().trim_end(), text);
        let empty = write_header(&BTreeMap::new(), &[]).unwrap();
        assert_eq!(empty, b"{}      ");
    }
}
