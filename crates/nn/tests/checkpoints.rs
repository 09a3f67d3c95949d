//! Checkpoints: bit-exact round trips, mismatch reports, damaged and hostile files, and saves
//! that fail without harming the previous file.

use std::path::PathBuf;

use nn::{Activation, CheckpointError, Mismatch, Mlp, Module};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Element, Tensor};

/// A fresh folder under the system temp directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("surefire-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn model<T: Element>(sizes: &[usize], seed: u64) -> Mlp<T> {
    Mlp::new(sizes, Activation::Sigmoid, &mut StdRng::seed_from_u64(seed))
}

fn bits<T: Element>(m: &Mlp<T>) -> Vec<Vec<u8>> {
    m.parameters()
        .iter()
        .map(|p| {
            let mut out = Vec::new();
            p.tensor()
                .to_vec()
                .into_iter()
                .for_each(|v| v.extend_le_bytes(&mut out));
            out
        })
        .collect()
}

fn round_trip<T: Element>() {
    let dir = Scratch::new(&format!("roundtrip-{}", T::DTYPE));
    let path = dir.path("model.safetensors");
    let original = model::<T>(&[4, 8, 1], 1);
    // Special values survive bit for bit: NaN, infinities, -0, a subnormal.
    let special = [
        T::nan(),
        T::infinity(),
        T::neg_infinity(),
        -T::zero(),
        T::min_positive_value() / T::of_f64(4.0),
    ];
    original.parameters()[3].set(Tensor::from_vec(vec![special[4]], &[1]).unwrap());
    original.parameters()[1].update(|b| b[..4].copy_from_slice(&special[..4]));
    nn::save(&original, &path).unwrap();
    let restored = model::<T>(&[4, 8, 1], 2);
    assert_ne!(bits(&restored), bits(&original));
    nn::load(&restored, &path).unwrap();
    assert_eq!(bits(&restored), bits(&original));
}

#[test]
fn save_then_load_is_bit_exact_for_f32_and_f64() {
    round_trip::<f32>();
    round_trip::<f64>();
}

#[test]
fn metadata_is_stored_beside_the_tensors() {
    let dir = Scratch::new("metadata");
    let path = dir.path("model.safetensors");
    let m = model::<f64>(&[2, 3, 1], 1);
    nn::save_with_metadata(&m, &path, &[("hidden", "3"), ("mean", "0.5,1.5")]).unwrap();
    let meta = nn::read_metadata(&path).unwrap();
    assert_eq!(meta.get("hidden").map(String::as_str), Some("3"));
    assert_eq!(meta.get("mean").map(String::as_str), Some("0.5,1.5"));
    nn::load(&model::<f64>(&[2, 3, 1], 2), &path).unwrap();
    nn::save(&m, &path).unwrap();
    assert!(nn::read_metadata(&path).unwrap().is_empty());
}

#[test]
fn loading_into_another_architecture_lists_every_mismatch() {
    let dir = Scratch::new("mismatch");
    let path = dir.path("model.safetensors");
    nn::save(&model::<f32>(&[4, 8, 1], 1), &path).unwrap();
    let other = model::<f32>(&[4, 6, 2, 1], 3);
    let before = bits(&other);
    let err = nn::load(&other, &path).unwrap_err();
    let CheckpointError::Mismatch { problems, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        problems,
        &[
            Mismatch::Shape {
                name: "0.weight".into(),
                model: vec![4, 6],
                file: vec![4, 8]
            },
            Mismatch::Shape {
                name: "0.bias".into(),
                model: vec![6],
                file: vec![8]
            },
            Mismatch::Shape {
                name: "1.weight".into(),
                model: vec![6, 2],
                file: vec![8, 1]
            },
            Mismatch::Shape {
                name: "1.bias".into(),
                model: vec![2],
                file: vec![1]
            },
            Mismatch::Missing {
                name: "2.weight".into()
            },
            Mismatch::Missing {
                name: "2.bias".into()
            },
        ]
    );
    let text = err.to_string();
    assert!(
        text.contains("(6 problems):\n  0.weight: shape [4, 6] in the model, [4, 8] in the file"),
        "{text}"
    );
    // Nothing was changed.
    assert_eq!(bits(&other), before);
    // Fewer layers: the extra tensors are reported as unexpected; f64 into f32 as a dtype.
    let small = model::<f32>(&[4, 8], 4);
    let err = nn::load(&small, &path).unwrap_err();
    assert!(
        err.to_string()
            .contains("1.weight: in the file, not in the model"),
        "{err}"
    );
    let wide = model::<f64>(&[4, 8, 1], 5);
    let err = nn::load(&wide, &path).unwrap_err();
    assert!(
        err.to_string()
            .contains("0.weight: dtype f64 in the model, F32 in the file"),
        "{err}"
    );
}

#[test]
fn a_file_written_by_the_reference_implementation_loads() {
    // Written by Python's safetensors 0.8 (`safetensors.numpy.save_file`): a 3-4-2 MLP whose
    // values, taken in the order 0.weight, 0.bias, 1.weight, 1.bias and row-major within each,
    // are i/8 - 1 for i = 0, 1, 2, ...
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/reference_3_4_2_f32.safetensors"
    );
    let m = model::<f32>(&[3, 4, 2], 0);
    nn::load(&m, path).unwrap();
    let mut i = 0.0;
    for (name, p) in m.named_parameters() {
        for v in p.tensor().to_vec() {
            assert_eq!(v, i / 8.0 - 1.0, "{name}");
            i += 1.0;
        }
    }
    let meta = nn::read_metadata(path).unwrap();
    assert_eq!(meta["note"], "values are i/8 - 1");
    assert!(meta["writer"].starts_with("safetensors (Python)"));
}

#[test]
fn saved_files_match_the_reference_writer_byte_for_byte() {
    // The reference (safetensors 0.8, Rust and Python) writes this header for a 3-4-2 MLP with
    // metadata: compact JSON, metadata first, tensors by name, padded with spaces to a
    // multiple of 8. Escapes follow serde_json: short forms, \u00XX for other controls.
    let dir = Scratch::new("reference-bytes");
    let path = dir.path("model.safetensors");
    let m = model::<f32>(&[3, 4, 2], 0);
    nn::save_with_metadata(&m, &path, &[("hidden", "4"), ("q\"\n\u{1}é", "ü\t")]).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let header = concat!(
        r#"{"__metadata__":{"hidden":"4","q\"\n\u0001é":"ü\t"},"#,
        r#""0.bias":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"#,
        r#""0.weight":{"dtype":"F32","shape":[3,4],"data_offsets":[16,64]},"#,
        r#""1.bias":{"dtype":"F32","shape":[2],"data_offsets":[64,72]},"#,
        r#""1.weight":{"dtype":"F32","shape":[4,2],"data_offsets":[72,104]}}"#
    );
    let padded = header.len().next_multiple_of(8);
    assert_eq!(bytes[..8], (padded as u64).to_le_bytes());
    assert_eq!(&bytes[8..8 + header.len()], header.as_bytes());
    assert!(
        bytes[8 + header.len()..8 + padded]
            .iter()
            .all(|&b| b == b' ')
    );
    assert_eq!(bytes.len(), 8 + padded + 104);
}

#[test]
fn duplicate_metadata_keys_are_refused() {
    let dir = Scratch::new("metadata-keys");
    let m = model::<f32>(&[2, 1], 0);
    let err = nn::save_with_metadata(&m, dir.path("m.safetensors"), &[("k", "1"), ("k", "2")])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"checkpoint: the metadata has key "k" twice"#
    );
}

#[test]
fn every_prefix_of_a_checkpoint_is_rejected_without_panic() {
    let dir = Scratch::new("prefix");
    let path = dir.path("model.safetensors");
    let m = model::<f32>(&[3, 4, 2], 1);
    nn::save(&m, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path("cut.safetensors");
    for len in 0..bytes.len() {
        std::fs::write(&cut, &bytes[..len]).unwrap();
        let err = nn::load(&m, &cut).unwrap_err();
        assert!(
            matches!(err, CheckpointError::Format { .. }),
            "prefix {len}: {err}"
        );
    }
    // Flipping any byte of the header is caught or loads a file that still fits exactly.
    let header_len = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for i in 0..header_len {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x5a;
        std::fs::write(&cut, &damaged).unwrap();
        let _ = nn::load(&m, &cut);
    }
}

#[test]
fn hostile_headers_are_rejected_without_huge_allocations() {
    let dir = Scratch::new("hostile");
    let path = dir.path("evil.safetensors");
    let m = model::<f32>(&[3, 4, 2], 1);
    // A header length of 2^63 and one far past the end of the file.
    for header_len in [u64::MAX / 2, 1 << 20] {
        let mut bytes = header_len.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            nn::load(&m, &path),
            Err(CheckpointError::Format { .. })
        ));
    }
    // A tensor claiming 2^62 elements.
    let header =
        br#"{"0.weight":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&[0; 4]);
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        nn::load(&m, &path),
        Err(CheckpointError::Format { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_are_rejected_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let dir = Scratch::new("random");
        let path = dir.path("noise.safetensors");
        std::fs::write(&path, &bytes).unwrap();
        let m = model::<f32>(&[2, 2], 1);
        prop_assert!(nn::load(&m, &path).is_err());
    }
}

#[test]
fn save_into_a_missing_folder_fails_and_creates_nothing() {
    let dir = Scratch::new("missing");
    let path = dir.path("no/such/folder/model.safetensors");
    let err = nn::save(&model::<f32>(&[2, 2], 1), &path).unwrap_err();
    assert!(matches!(err, CheckpointError::Io { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("checkpoint: cannot create a temporary file"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);
}

#[test]
fn save_into_a_read_only_folder_fails_and_keeps_the_previous_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Scratch::new("readonly");
    let path = dir.path("model.safetensors");
    let first = model::<f32>(&[2, 3, 1], 1);
    nn::save(&first, &path).unwrap();
    let previous = std::fs::read(&path).unwrap();
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o555)).unwrap();
    // A privileged user (root, as in many containers) writes through permission bits; then
    // only a folder no one may write shows the failure. /sys refuses new files to everyone.
    let probe = dir.path("probe");
    let privileged = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    let second = model::<f32>(&[2, 3, 1], 2);
    if privileged {
        let err = nn::save(&second, "/sys/surefire-model.safetensors").unwrap_err();
        assert!(matches!(err, CheckpointError::Io { .. }), "{err}");
    } else {
        let err = nn::save(&second, &path).unwrap_err();
        assert!(matches!(err, CheckpointError::Io { .. }), "{err}");
    }
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), previous);
    // The previous checkpoint still loads.
    let check = model::<f32>(&[2, 3, 1], 3);
    nn::load(&check, &path).unwrap();
    assert_eq!(bits(&check), bits(&first));
}

#[test]
fn the_fuzz_corpus_replays_without_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/checkpoint");
    let small = model::<f32>(&[3, 4, 2], 0);
    let wide = model::<f64>(&[3, 4, 2], 0);
    let (mut replayed, mut loaded) = (0, 0);
    for entry in std::fs::read_dir(&dir).expect("the checkpoint corpus is in the repository") {
        let bytes =
            std::fs::read(entry.expect("a readable entry").path()).expect("a readable file");
        loaded += usize::from(nn::load_from_bytes(&small, &bytes).is_ok());
        loaded += usize::from(nn::load_from_bytes(&wide, &bytes).is_ok());
        replayed += 1;
    }
    assert!(replayed > 0, "no corpus files in {}", dir.display());
    // The seeds include valid checkpoints for both element types.
    assert!(loaded >= 2, "only {loaded} corpus files loaded");
}
