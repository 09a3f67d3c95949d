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

mod error;
mod load;
mod read;
mod save;
mod tensors;

pub use error::{CheckpointError, Mismatch};
pub use load::{load, load_from_bytes, read_metadata};
pub use save::{save, save_with_metadata};
pub use tensors::{StoredTensor, load_tensors, save_tensors};

use safetensors::Dtype;
use tensor::{DType, Scalar};

/// The reference implementation's limit on the header length.
const MAX_HEADER_LEN: u64 = 100_000_000;

/// The header key that holds the metadata instead of a tensor.
const METADATA_KEY: &str = "__metadata__";

/// The dtype safetensors gives an element type.
fn dtype<T: Scalar>() -> Dtype {
    match T::DTYPE {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
        DType::I64 => Dtype::I64,
    }
}
