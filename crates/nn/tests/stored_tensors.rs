//! Named tensors of every scalar type saved and loaded bit-exactly, integer ones included,
//! and the files' errors.

use nn::{CheckpointError, StoredTensor, load_tensors, save_tensors};
use tensor::{DType, Tensor};

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "surefire-stored-{name}-{}.safetensors",
        std::process::id()
    ))
}

#[test]
fn every_scalar_type_round_trips_bit_exactly() {
    let path = temp("round-trip");
    let ids = Tensor::<i64>::from_vec(vec![i64::MIN, -1, 0, 7, i64::MAX, 42], &[2, 3]).unwrap();
    // A transposed view is saved in its row-major order.
    let view = ids.t();
    let weights = Tensor::<f32>::from_vec(vec![f32::NAN, -0.0, 1.5e-42], &[3]).unwrap();
    let exact = Tensor::<f64>::scalar(std::f64::consts::PI);
    let empty = Tensor::<i64>::zeros(&[0, 4]);
    let tensors = [
        ("ids", StoredTensor::from(ids.clone())),
        ("ids_t", view.clone().into()),
        ("weights", weights.clone().into()),
        ("pi", exact.into()),
        ("empty", empty.into()),
    ];
    save_tensors(&path, &tensors, &[("vocab", "abc")]).unwrap();
    let loaded = load_tensors(&path).unwrap();
    assert_eq!(nn::read_metadata(&path).unwrap()["vocab"], "abc");
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        loaded.keys().collect::<Vec<_>>(),
        ["empty", "ids", "ids_t", "pi", "weights"]
    );
    assert_eq!(loaded["ids"].get::<i64>().unwrap().to_vec(), ids.to_vec());
    assert_eq!(loaded["ids_t"].shape(), &[3, 2]);
    assert_eq!(
        loaded["ids_t"].get::<i64>().unwrap().to_vec(),
        view.to_vec()
    );
    let bits = |t: &Tensor<f32>| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&loaded["weights"].get::<f32>().unwrap()),
        bits(&weights)
    );
    assert_eq!(
        loaded["pi"].get::<f64>().unwrap().item(),
        std::f64::consts::PI
    );
    assert_eq!(loaded["empty"].dtype(), DType::I64);
    assert_eq!(loaded["empty"].shape(), &[0, 4]);
    assert!(loaded["ids"].get::<f64>().is_none());
}

#[test]
fn duplicate_names_and_foreign_dtypes_are_errors() {
    let path = temp("errors");
    let one = StoredTensor::from(Tensor::<i64>::scalar(1));
    let err = save_tensors(&path, &[("a", one.clone()), ("a", one)], &[]).unwrap_err();
    assert!(matches!(err, CheckpointError::DuplicateName { ref name } if name == "a"));
    assert_eq!(
        err.to_string(),
        r#"checkpoint: two tensors to save are named "a""#
    );
    assert!(!path.exists());
    // A valid file holding an unsigned byte tensor, which surefire does not represent.
    let header = br#"{"mask":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#;
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header);
    file.extend_from_slice(&[1, 0]);
    std::fs::write(&path, &file).unwrap();
    let err = load_tensors(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert!(
        err.to_string()
            .contains(r#"tensor "mask" has dtype U8; surefire reads F32, F64 and I64"#),
        "{err}"
    );
}
