//! The safetensors file format, read and written.
//!
//! A file is an 8-byte little-endian header length `N`, then `N` bytes of UTF-8 JSON, then the
//! tensors' bytes. The header maps each tensor's name to its `dtype`, `shape` and
//! `data_offsets` (begin and end, relative to the byte after the header), and may hold a
//! `__metadata__` object of string pairs. Following the reference implementation
//! (huggingface/safetensors), a valid file's header starts with `{`, is at most 100 MB, and
//! its tensors tile the data exactly: sorted by offset, each begins where the previous one
//! ends, the last ends at the end of the file, and each spans exactly the bytes its dtype and
//! shape need. Writing follows the reference too: metadata first, tensors in name order (all
//! of one dtype here), the header padded with spaces to a multiple of 8 bytes.

use std::collections::BTreeMap;

use super::json::{self, Value};

/// The reference implementation's limit on the header length.
const MAX_HEADER_LEN: u64 = 100_000_000;

/// The key that holds the metadata instead of a tensor.
const METADATA_KEY: &str = "__metadata__";

/// One tensor of a parsed file: its bytes are checked against its dtype and shape.
#[derive(Debug)]
pub(crate) struct TensorEntry<'a> {
    /// The dtype's name as the file writes it, e.g. `"F32"`.
    pub(crate) dtype: String,
    pub(crate) shape: Vec<usize>,
    pub(crate) data: &'a [u8],
}

/// A parsed and fully validated safetensors file, borrowing its tensors' bytes.
#[derive(Debug)]
pub(crate) struct File<'a> {
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) tensors: BTreeMap<String, TensorEntry<'a>>,
}

/// Bits per element of every dtype the format defines, so that files holding dtypes a model
/// cannot use are still validated (and then reported as a dtype mismatch, not as damage).
fn dtype_bits(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" | "C64" => 64,
        _ => return None,
    })
}

/// Serialises `tensors` (name, dtype, shape, little-endian bytes; names distinct and sorted)
/// with `metadata` in the header.
pub(crate) fn serialize(
    tensors: &[(String, &str, Vec<usize>, Vec<u8>)],
    metadata: &BTreeMap<&str, &str>,
) -> Vec<u8> {
    let mut header = String::from("{");
    if !metadata.is_empty() {
        json::write_string(&mut header, METADATA_KEY);
        header.push_str(":{");
        for (i, (key, value)) in metadata.iter().enumerate() {
            if i > 0 {
                header.push(',');
            }
            json::write_string(&mut header, key);
            header.push(':');
            json::write_string(&mut header, value);
        }
        header.push('}');
    }
    let mut offset = 0;
    for (name, dtype, shape, bytes) in tensors {
        if header.len() > 1 {
            header.push(',');
        }
        json::write_string(&mut header, name);
        let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
        header.push_str(&format!(
            r#":{{"dtype":"{dtype}","shape":[{}],"data_offsets":[{offset},{}]}}"#,
            dims.join(","),
            offset + bytes.len()
        ));
        offset += bytes.len();
    }
    header.push('}');
    // Padding keeps the data 8-byte aligned in a memory-mapped file.
    let padded = header.len().next_multiple_of(8);
    let mut out = Vec::with_capacity(8 + padded + offset);
    out.extend_from_slice(&(padded as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.resize(8 + padded, b' ');
    for (.., bytes) in tensors {
        out.extend_from_slice(bytes);
    }
    out
}

/// Parses and validates a whole file.
///
/// # Errors
/// A message saying what is wrong, naming the tensor where one is concerned.
pub(crate) fn parse(bytes: &[u8]) -> Result<File<'_>, String> {
    let Some((len, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(format!(
            "the file has {} bytes, fewer than the 8 of the header length",
            bytes.len()
        ));
    };
    let header_len = u64::from_le_bytes(*len);
    if header_len > MAX_HEADER_LEN {
        return Err(format!(
            "the header length {header_len} exceeds the limit of {MAX_HEADER_LEN} bytes"
        ));
    }
    // At most 10^8, so it fits in usize on every platform Rust supports with std.
    let header_len = usize::try_from(header_len).map_err(|e| e.to_string())?;
    if header_len > rest.len() {
        return Err(format!(
            "the header length {header_len} runs past the end of the file ({} bytes after it)",
            rest.len()
        ));
    }
    let (header, data) = rest.split_at(header_len);
    let header =
        std::str::from_utf8(header).map_err(|e| format!("the header is not UTF-8 ({e})"))?;
    if !header.starts_with('{') {
        return Err("the header does not start with '{'".into());
    }
    let Value::Object(members) = json::parse(header).map_err(|e| format!("header: {e}"))? else {
        return Err("the header is not a JSON object".into());
    };
    let mut file = File {
        metadata: BTreeMap::new(),
        tensors: BTreeMap::new(),
    };
    let mut spans = Vec::with_capacity(members.len());
    let mut seen_metadata = false;
    for (name, value) in members {
        if name == METADATA_KEY {
            if std::mem::replace(&mut seen_metadata, true) {
                return Err(format!("the header has two {METADATA_KEY:?} entries"));
            }
            file.metadata = metadata(value)?;
            continue;
        }
        if file.tensors.contains_key(&name) {
            return Err(format!("the header names tensor {name:?} twice"));
        }
        let (dtype, shape, begin, end) = tensor_info(&name, value)?;
        spans.push((begin, end, name.clone()));
        file.tensors.insert(
            name,
            TensorEntry {
                dtype,
                shape,
                data: &[],
            },
        );
    }
    // The tensors must tile the data: no gap, no overlap, nothing after the last.
    spans.sort_unstable();
    let mut expected_begin = 0;
    for (begin, end, name) in spans {
        if begin != expected_begin {
            return Err(format!(
                "tensor {name:?} begins at byte {begin} of the data, expected {expected_begin}"
            ));
        }
        let bytes = data.get(begin..end).ok_or_else(|| {
            format!(
                "tensor {name:?} spans bytes {begin}..{end}, past the end of the {}-byte data",
                data.len()
            )
        })?;
        let entry = file
            .tensors
            .get_mut(&name)
            .expect("internal: every span belongs to an entry");
        check_size(&name, entry, bytes.len())?;
        entry.data = bytes;
        expected_begin = end;
    }
    if expected_begin != data.len() {
        return Err(format!(
            "the tensors cover {expected_begin} bytes of data, the file has {}",
            data.len()
        ));
    }
    Ok(file)
}

fn metadata(value: Value<'_>) -> Result<BTreeMap<String, String>, String> {
    let members = match value {
        Value::Object(members) => members,
        // The reference writes no metadata as null or leaves the key out.
        Value::Null => Vec::new(),
        other => return Err(format!("{METADATA_KEY} is {}, not an object", other.kind())),
    };
    let mut map = BTreeMap::new();
    for (key, value) in members {
        let Value::String(value) = value else {
            return Err(format!(
                "{METADATA_KEY} entry {key:?} is {}, not a string",
                value.kind()
            ));
        };
        if map.insert(key.clone(), value).is_some() {
            return Err(format!("{METADATA_KEY} has key {key:?} twice"));
        }
    }
    Ok(map)
}

/// The dtype, shape and data offsets of tensor `name`. Unknown fields are ignored, as the
/// reference does.
fn tensor_info(name: &str, value: Value<'_>) -> Result<(String, Vec<usize>, usize, usize), String> {
    let Value::Object(fields) = value else {
        return Err(format!(
            "tensor {name:?} is {}, not an object",
            value.kind()
        ));
    };
    let (mut dtype, mut shape, mut offsets) = (None, None, None);
    for (field, value) in fields {
        let slot = match field.as_str() {
            "dtype" => {
                let Value::String(s) = value else {
                    return Err(format!("tensor {name:?}: dtype is {}", value.kind()));
                };
                dtype.replace(s).map(drop)
            }
            "shape" => shape
                .replace(whole_numbers(name, "shape", value)?)
                .map(drop),
            "data_offsets" => offsets
                .replace(whole_numbers(name, "data_offsets", value)?)
                .map(drop),
            _ => None,
        };
        if slot.is_some() {
            return Err(format!("tensor {name:?} has two {field:?} fields"));
        }
    }
    let missing = |field| format!("tensor {name:?} has no {field:?} field");
    let dtype = dtype.ok_or_else(|| missing("dtype"))?;
    let shape = shape.ok_or_else(|| missing("shape"))?;
    let offsets = offsets.ok_or_else(|| missing("data_offsets"))?;
    let [begin, end] = offsets[..] else {
        return Err(format!(
            "tensor {name:?}: data_offsets has {} numbers, not 2",
            offsets.len()
        ));
    };
    if begin > end {
        return Err(format!(
            "tensor {name:?}: data_offsets [{begin}, {end}] end before they begin"
        ));
    }
    Ok((dtype, shape, begin, end))
}

/// An array of whole numbers that fit in `usize`.
fn whole_numbers(name: &str, field: &str, value: Value<'_>) -> Result<Vec<usize>, String> {
    let Value::Array(items) = value else {
        return Err(format!("tensor {name:?}: {field} is {}", value.kind()));
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Number(text) => text.parse::<usize>().map_err(|_| {
                format!("tensor {name:?}: {field} holds {text}, not a whole number of this size")
            }),
            other => Err(format!("tensor {name:?}: {field} holds {}", other.kind())),
        })
        .collect()
}

/// Checks that `len` bytes are exactly what `entry`'s dtype and shape need.
fn check_size(name: &str, entry: &TensorEntry<'_>, len: usize) -> Result<(), String> {
    let bits = dtype_bits(&entry.dtype)
        .ok_or_else(|| format!("tensor {name:?} has unknown dtype {:?}", entry.dtype))?;
    let needed = entry
        .shape
        .iter()
        .try_fold(bits, |acc, &d| acc.checked_mul(d as u64))
        .ok_or_else(|| {
            format!(
                "tensor {name:?}: shape {:?} has more elements than memory can hold",
                entry.shape
            )
        })?;
    if needed % 8 != 0 || needed / 8 != len as u64 {
        return Err(format!(
            "tensor {name:?}: {} elements of shape {:?} need {} bits, its data has {len} bytes",
            entry.dtype, entry.shape, needed
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn a_written_file_parses_back() {
        let tensors = vec![
            (
                "a".to_string(),
                "F32",
                vec![2],
                vec![1, 2, 3, 4, 5, 6, 7, 8],
            ),
            ("b\"q".to_string(), "F32", vec![], vec![9, 10, 11, 12]),
        ];
        let metadata = BTreeMap::from([("k", "v\n")]);
        let bytes = serialize(&tensors, &metadata);
        // Header padded to a multiple of 8.
        assert_eq!((bytes.len() - 12) % 8, 0);
        let parsed = parse(&bytes).unwrap();
        assert_eq!(parsed.metadata["k"], "v\n");
        assert_eq!(parsed.tensors["a"].data, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(parsed.tensors["b\"q"].shape, Vec::<usize>::new());
        assert_eq!(parsed.tensors["b\"q"].data, &[9, 10, 11, 12]);
    }

    #[test]
    fn accepts_what_other_writers_may_write() {
        // Offsets out of name order, null metadata, an extra field, whitespace.
        let header = r#"{ "__metadata__": null, "z": {"dtype": "F16", "shape": [1],
            "data_offsets": [0, 2], "extra": [true]}, "a": {"shape": [1, 1], "dtype": "BF16",
            "data_offsets": [2, 4]} }   "#;
        let bytes = file(header, &[1, 2, 3, 4]);
        let parsed = parse(&bytes).unwrap();
        assert_eq!(parsed.tensors["z"].data, &[1, 2]);
        assert_eq!(parsed.tensors["a"].data, &[3, 4]);
        assert!(parsed.metadata.is_empty());
    }

    #[test]
    fn rejects_bad_headers_with_a_reason() {
        let t = |offsets: &str| {
            format!(r#""t":{{"dtype":"F32","shape":[2],"data_offsets":{offsets}}}"#)
        };
        for (header, data, reason) in [
            ("[]", 0, "does not start with '{'"),
            (" {}", 0, "does not start with '{'"),
            ("{", 0, "expected"),
            (&format!("{{{}}}", t("[0,8]")), 4, "past the end"),
            (
                &format!("{{{}}}", t("[0,8]")),
                12,
                "cover 8 bytes of data, the file has 12",
            ),
            (&format!("{{{}}}", t("[4,12]")), 12, "begins at byte 4"),
            (&format!("{{{}}}", t("[8,0]")), 8, "end before they begin"),
            (
                &format!("{{{}}}", t("[0,4]")),
                4,
                "need 64 bits, its data has 4 bytes",
            ),
            (&format!("{{{}}}", t("[0]")), 0, "not 2"),
            (&format!("{{{}}}", t("[0,8.0]")), 8, "not a whole number"),
            (&format!("{{{}}}", t("[0,-8]")), 8, "not a whole number"),
            (&format!("{{{},{}}}", t("[0,8]"), t("[8,16]")), 16, "twice"),
            (
                r#"{"t":{"dtype":"F32","shape":[2]}}"#,
                0,
                "no \"data_offsets\"",
            ),
            (
                r#"{"t":{"dtype":"X9","shape":[],"data_offsets":[0,1]}}"#,
                1,
                "unknown dtype",
            ),
            (
                r#"{"t":{"dtype":7,"shape":[],"data_offsets":[0,1]}}"#,
                1,
                "dtype is a number",
            ),
            (r#"{"t":[]}"#, 0, "is an array, not an object"),
            (r#"{"__metadata__":{"k":1}}"#, 0, "not a string"),
            (r#"{"__metadata__":[]}"#, 0, "not an object"),
            (r#"{"__metadata__":{"k":"a","k":"b"}}"#, 0, "twice"),
            (
                r#"{"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#,
                4,
                "more elements than memory can hold",
            ),
            (
                r#"{"t":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}"#,
                1,
                "need 12 bits",
            ),
        ] {
            let err = match parse(&file(header, &vec![0; data])) {
                Ok(_) => panic!("{header} was accepted"),
                Err(err) => err,
            };
            assert!(err.contains(reason), "{header}: {err}");
        }
    }

    #[test]
    fn rejects_bad_lengths_before_reading_the_header() {
        assert!(parse(&[1, 2, 3]).unwrap_err().contains("fewer than the 8"));
        let huge = (MAX_HEADER_LEN + 1).to_le_bytes();
        assert!(parse(&huge).unwrap_err().contains("exceeds the limit"));
        let mut long = 64u64.to_le_bytes().to_vec();
        long.extend_from_slice(b"{}");
        assert!(parse(&long).unwrap_err().contains("runs past the end"));
        let mut not_utf8 = 2u64.to_le_bytes().to_vec();
        not_utf8.extend_from_slice(&[b'{', 0xff]);
        assert!(parse(&not_utf8).unwrap_err().contains("not UTF-8"));
    }
}
