//! Neural-network building blocks on top of the `tensor` crate: the [`Module`] trait,
//! [`Dense`] layers (sigmoid by default) and [`Mlp`]s, [`Sequential`], activations,
//! [`Embedding`], [`LayerNorm`], [`MultiHeadAttention`], convolution and pooling layers
//! ([`Conv1d`], [`Conv2d`], [`MaxPool2d`], [`AvgPool2d`], [`Flatten`]), [`BatchNorm1d`] and
//! [`BatchNorm2d`], [`Dropout`] with a train/eval mode ([`Module::train`],
//! [`Module::eval`]), initialisation schemes ([`init`]), losses (among
//! them cross-entropy against integer class labels), and safetensors checkpoints.
//!
//! ```
//! use nn::{Activation, Mlp, Module, mse_loss};
//! use rand::SeedableRng;
//! use tensor::{Tensor, no_grad};
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(7);
//! let model = Mlp::<f32>::new(&[2, 4, 1], Activation::Sigmoid, &mut rng);
//! let x = Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], &[4, 2])?;
//! let y = Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0], &[4, 1])?;
//!
//! // One step of gradient descent, by hand (the optim crate does this for you).
//! let loss = mse_loss(&model.forward(&x), &y);
//! let grads = loss.backward();
//! for p in model.parameters() {
//!     let g = grads.get(&p).expect("every parameter is used").to_vec();
//!     p.update(|w| w.iter_mut().zip(&g).for_each(|(w, g)| *w -= 0.5 * g));
//! }
//! let after = no_grad(|| mse_loss(&model.forward(&x), &y));
//! assert!(after.item() < loss.item());
//! # Ok::<(), tensor::TensorError>(())
//! ```

// Library code never unwraps: an error is returned, or an internal invariant is named in
// an `expect("internal: ...")`.
#![warn(clippy::unwrap_used)]

mod activation;
mod attention;
mod batch_norm;
mod checkpoint;
mod conv;
mod cross_entropy;
mod dense;
mod dropout;
mod embedding;
pub mod init;
mod loss;
mod module;
mod norm;
mod pool;

pub use activation::Activation;
pub use attention::{MultiHeadAttention, causal_mask, scaled_dot_product_attention};
pub use batch_norm::{BatchNorm1d, BatchNorm2d};
pub use checkpoint::{
    CheckpointError, Mismatch, StoredTensor, load, load_from_bytes, load_tensors, read_metadata,
    save, save_tensors, save_with_metadata,
};
pub use conv::{Conv1d, Conv2d};
pub use cross_entropy::{
    CrossEntropyOptions, cross_entropy, try_cross_entropy, try_cross_entropy_probs,
    try_cross_entropy_with, try_nll_loss,
};
pub use dense::{Dense, Mlp};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use loss::{
    Reduction, bce_loss, bce_with_logits_loss, mse_loss, try_bce_loss, try_bce_with_logits_loss,
    try_mse_loss,
};
pub use module::{Module, Sequential, prefixed_by_name};
pub use norm::{LayerNorm, layer_norm};
pub use pool::{AvgPool2d, Flatten, MaxPool2d};
