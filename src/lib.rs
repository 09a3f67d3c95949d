#![doc = include_str!("../README.md")]
//!
//! ## This crate
//!
//! A facade that re-exports the workspace's crates, so one dependency brings them all:
//! [`tensor`] (tensors, ops and the graph), [`nn`] (modules, layers, losses, checkpoints),
//! [`optim`] (optimizers, clipping, schedules) and [`distributed`] (collectives and
//! data-parallel training). The [`prelude`] holds the names a training script
//! needs.

pub use distributed;
pub use nn;
pub use optim;
pub use tensor;

/// The names a training script needs.
///
/// ```
/// use surefire::prelude::*;
/// let x = Tensor::<f64>::scalar(3.0).require_grad();
/// let y = &x * &x;
/// assert_eq!(y.backward().get(&x).unwrap().item(), 6.0);
/// ```
pub mod prelude {
    pub use nn::{Activation, Dense, Mlp, Module, Reduction, Sequential};
    pub use optim::{Adam, AdamW, Optimizer, Sgd};
    pub use tensor::Element;
    pub use tensor::{Gradients, Parameter, Tensor, TensorError, no_grad};
}
