//! Reading a file through the safetensors crate: the whole file validated, with errors that
//! name the tensor.
//!
//! A file is an 8-byte little-endian header length, that many bytes of JSON, then the tensors'
//! bytes. The crate's `Metadata` validates the header as the reference implementation does:
//! tensors tiling the data exactly from its start, each spanning the bytes its dtype and shape
//! need. Three things are done here instead of by `SafeTensors::deserialize`:
//! - the length prefix and the final size comparison, which the crate does by adding offsets
//!   from the file without an overflow check (a panic in builds with overflow checks, as tests
//!   and fuzzing use);
//! - decoding the JSON, with serde_json's own parser into a `Value` and then entry by entry,
//!   so that an error names its entry and no parser is compiled again for this crate;
//! - on a header the crate refuses, walking the tensors in its order to say which one is
//!   wrong and how: several of its errors name neither the tensor nor the numbers.

use safetensors::tensor::{Metadata, TensorInfo};
use serde_json::Value;

use super::{MAX_HEADER_LEN, METADATA_KEY};

/// A whole file, validated: its header and its tensors' bytes.
pub(super) struct File<'a> {
    pub(super) header: Metadata,
    data: &'a [u8],
}

impl<'a> File<'a> {
    /// The tensor `name`: its dtype and shape, and its bytes, which fit them exactly.
    pub(super) fn tensor(&self, name: &str) -> Option<(&TensorInfo, &'a [u8])> {
        let info = self.header.info(name)?;
        let (begin, end) = info.data_offsets;
        let data = self.data.get(begin..end);
        Some((
            info,
            data.expect("internal: validated offsets lie inside the data"),
        ))
    }
}

/// Parses and validates the whole file.
///
/// # Errors
/// A message saying what is wrong, naming the tensor and its dtype, shape and offsets where
/// one is concerned.
pub(super) fn parse(bytes: &[u8]) -> Result<File<'_>, String> {
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
    let split = usize::try_from(header_len)
        .ok()
        .and_then(|len| rest.split_at_checked(len));
    let Some((header, data)) = split else {
        return Err(format!(
            "the header length {header_len} runs past the end of the file ({} bytes after it)",
            rest.len()
        ));
    };
    let header =
        std::str::from_utf8(header).map_err(|e| format!("the header is not UTF-8 ({e})"))?;
    let (metadata, tensors) = decode(header)?;
    let metadata = metadata.map(|pairs| pairs.into_iter().collect());
    let header = Metadata::new(metadata, tensors.clone())
        .map_err(|e| walk(&tensors, data.len()).err().unwrap_or(e.to_string()))?;
    if header.data_len() != data.len() {
        return Err(data_size_problem(header.data_len(), data.len()));
    }
    Ok(File { header, data })
}

/// The metadata pairs, if the header has them, and the tensors in offset order.
type Decoded = (Option<Vec<(String, String)>>, Vec<(String, TensorInfo)>);

/// Decodes the header's JSON, naming the entry at fault.
fn decode(header: &str) -> Result<Decoded, String> {
    let value: Value = header
        .parse()
        .map_err(|e| format!("the header is not JSON: {e}"))?;
    let Value::Object(entries) = value else {
        return Err("the header is not a JSON object".into());
    };
    let mut metadata = None;
    let mut tensors = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        if name != METADATA_KEY {
            let info = serde_json::from_value::<TensorInfo>(value)
                .map_err(|e| format!("tensor {name:?}: {e}"))?;
            tensors.push((name, info));
            continue;
        }
        // The reference writes no metadata as null or leaves the key out.
        let pairs = match value {
            Value::Null => continue,
            Value::Object(pairs) => pairs,
            _ => return Err(format!("{METADATA_KEY} is not an object")),
        };
        let pairs = pairs.into_iter().map(|(key, value)| match value {
            Value::String(value) => Ok((key, value)),
            _ => Err(format!("{METADATA_KEY} entry {key:?} is not a string")),
        });
        metadata = Some(pairs.collect::<Result<_, _>>()?);
    }
    tensors.sort_by_key(|(_, info)| info.data_offsets);
    Ok((metadata, tensors))
}

/// Checks `tensors`, in offset order, against `data_len` bytes of data as the crate does.
///
/// # Errors
/// The first problem found, naming its tensor.
fn walk(tensors: &[(String, TensorInfo)], data_len: usize) -> Result<(), String> {
    let mut expected_begin = 0;
    for (name, info) in tensors {
        let (begin, end) = info.data_offsets;
        if begin != expected_begin {
            return Err(format!(
                "tensor {name:?} begins at byte {begin} of the data, expected {expected_begin}"
            ));
        }
        if end < begin {
            return Err(format!(
                "tensor {name:?}: data_offsets [{begin}, {end}] end before they begin"
            ));
        }
        // Elements first, then bits, as the crate multiplies: a zero makes any shape fit.
        let elements = info
            .shape
            .iter()
            .try_fold(1, |acc: usize, &d| acc.checked_mul(d));
        let bits = elements
            .and_then(|n| n.checked_mul(info.dtype.bitsize()))
            .ok_or_else(|| {
                format!(
                    "tensor {name:?}: shape {:?} has more elements than memory can hold",
                    info.shape
                )
            })?;
        let (dtype, shape, len) = (info.dtype, &info.shape, end - begin);
        if bits % 8 != 0 || bits / 8 != len {
            return Err(format!(
                "tensor {name:?}: {dtype} elements of shape {shape:?} need {bits} bits, \
                 its data has {len} bytes"
            ));
        }
        expected_begin = end;
    }
    if expected_begin != data_len {
        return Err(data_size_problem(expected_begin, data_len));
    }
    Ok(())
}

fn data_size_problem(covered: usize, data_len: usize) -> String {
    format!("the tensors cover {covered} bytes of data, the file has {data_len}")
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

    fn error(bytes: &[u8]) -> String {
        match parse(bytes) {
            Ok(_) => panic!("{:?} was accepted", String::from_utf8_lossy(bytes)),
            Err(err) => err,
        }
    }

    #[test]
    fn accepts_what_other_writers_may_write() {
        // Offsets out of name order, null metadata, an extra field, whitespace.
        let header = r#"{ "__metadata__": null, "z": {"dtype": "F16", "shape": [1],
            "data_offsets": [0, 2], "extra": [true]}, "a": {"shape": [1, 1], "dtype": "BF16",
            "data_offsets": [2, 4]} }   "#;
        let bytes = file(header, &[1, 2, 3, 4]);
        let parsed = parse(&bytes).unwrap();
        assert_eq!(parsed.tensor("z").unwrap().1, &[1, 2]);
        assert_eq!(parsed.tensor("a").unwrap().1, &[3, 4]);
        assert!(parsed.header.metadata().is_none());
    }

    #[test]
    fn rejects_bad_headers_naming_the_tensor_and_the_numbers() {
        let t = |offsets: &str| {
            format!(r#""t":{{"dtype":"F32","shape":[2],"data_offsets":{offsets}}}"#)
        };
        for (header, data, reason) in [
            ("[]", 0, "not a JSON object"),
            (
                "{",
                0,
                "the header is not JSON: EOF while parsing an object",
            ),
            (
                &format!("{{{}}}", t("[0,8]")),
                4,
                "cover 8 bytes of data, the file has 4",
            ),
            (
                &format!("{{{}}}", t("[0,8]")),
                12,
                "cover 8 bytes of data, the file has 12",
            ),
            (
                &format!("{{{}}}", t("[4,12]")),
                12,
                r#"tensor "t" begins at byte 4"#,
            ),
            (
                &format!("{{{}}}", t("[0,4]")),
                4,
                r#"tensor "t": F32 elements of shape [2] need 64 bits, its data has 4 bytes"#,
            ),
            (
                &format!("{{{}}}", t("[0]")),
                0,
                r#"tensor "t": invalid length 1"#,
            ),
            (
                &format!("{{{}}}", t("[0,8.0]")),
                8,
                r#"tensor "t": invalid type: floating point"#,
            ),
            (
                &format!("{{{}}}", t("[0,-8]")),
                8,
                r#"tensor "t": invalid value: integer `-8`"#,
            ),
            (
                r#"{"t":{"dtype":"F32","shape":[2]}}"#,
                0,
                r#"tensor "t": missing field `data_offsets`"#,
            ),
            (
                r#"{"t":{"dtype":"X9","shape":[],"data_offsets":[0,1]}}"#,
                1,
                r#"tensor "t": unknown variant `X9`"#,
            ),
            (
                r#"{"t":{"dtype":7,"shape":[],"data_offsets":[0,1]}}"#,
                1,
                r#"tensor "t": invalid type: integer `7`"#,
            ),
            (
                r#"{"t":[]}"#,
                0,
                r#"tensor "t": invalid length 0, expected struct TensorInfo"#,
            ),
            (
                r#"{"__metadata__":{"k":1}}"#,
                0,
                r#"__metadata__ entry "k" is not a string"#,
            ),
            (r#"{"__metadata__":[]}"#, 0, "__metadata__ is not an object"),
            (
                r#"{"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#,
                4,
                "shape [4611686018427387904, 4] has more elements than memory can hold",
            ),
            // Sorted by offset, "b" at [8, 0] comes first.
            (
                r#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[8,8]},
                    "b":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}}"#,
                8,
                r#"tensor "b" begins at byte 8 of the data, expected 0"#,
            ),
            // A zero dimension makes any other fit, however large; the fault is "b"'s.
            (
                r#"{"a":{"dtype":"F64","shape":[4611686018427387904,0],"data_offsets":[0,0]},
                    "b":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#,
                4,
                r#"tensor "b": F32 elements of shape [2] need 64"#,
            ),
            (
                r#"{"t":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}"#,
                1,
                "need 12 bits",
            ),
        ] {
            let err = error(&file(header, &vec![0; data]));
            assert!(err.contains(reason), "{header}: {err}");
        }
    }

    #[test]
    fn zero_sized_tensors_may_share_an_offset() {
        let header = r#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},
            "b":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}"#;
        assert!(parse(&file(header, &[])).is_ok());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        for depth in [200, 100_000] {
            let deep = format!(r#"{{"t":{}{}}}"#, "[".repeat(depth), "]".repeat(depth));
            let err = error(&file(&deep, &[]));
            assert!(err.contains("recursion limit exceeded"), "{err}");
        }
    }

    #[test]
    fn offsets_adding_up_past_the_address_space_are_an_error() {
        // Sixteen tensors tiling 2^64 - 1 bytes: each size is valid on its own.
        let big = 1u64 << 60;
        let tensors: Vec<String> = (0..16)
            .map(|k| {
                let (begin, end) = (k * big, if k == 15 { u64::MAX } else { (k + 1) * big });
                let shape = end - begin;
                format!(
                    r#""t{k:02}":{{"dtype":"U8","shape":[{shape}],"data_offsets":[{begin},{end}]}}"#
                )
            })
            .collect();
        let err = error(&file(&format!("{{{}}}", tensors.join(",")), &[0; 8]));
        assert!(
            err.contains(&format!("cover {} bytes of data, the file has 8", u64::MAX)),
            "{err}"
        );
    }

    #[test]
    fn rejects_bad_lengths_before_reading_the_header() {
        assert!(error(&[1, 2, 3]).contains("has 3 bytes, fewer than the 8"));
        let huge = (MAX_HEADER_LEN + 1).to_le_bytes();
        assert!(error(&huge).contains("header length 100000001 exceeds the limit"));
        let mut long = 64u64.to_le_bytes().to_vec();
        long.extend_from_slice(b"{}");
        assert!(error(&long).contains("header length 64 runs past the end of the file (2 bytes"));
        let mut not_utf8 = 2u64.to_le_bytes().to_vec();
        not_utf8.extend_from_slice(&[b'{', 0xff]);
        assert!(error(&not_utf8).contains("not UTF-8"));
    }
}
