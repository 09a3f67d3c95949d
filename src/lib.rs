//! surefire: reverse-mode automatic differentiation in Rust.
//!
//! This facade re-exports the workspace's crates: [`tensor`] (tensors, ops and the graph).
//!
//! ```
//! use surefire::prelude::*;
//! let x = Tensor::<f64>::scalar(3.0).require_grad();
//! let y = &x * &x;
//! assert_eq!(y.backward().get(&x).unwrap().item(), 6.0);
//! ```

pub use tensor;

/// The names a training script needs.
pub mod prelude {
    pub use tensor::{Gradients, Parameter, Tensor, TensorError, no_grad};
}
