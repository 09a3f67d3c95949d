//! Optimizers that update [`Parameter`](tensor::Parameter) handles from
//! [`Gradients`](tensor::Gradients): [`Sgd`] (momentum, dampening, Nesterov, weight decay),
//! [`Adam`] and [`AdamW`] (AMSGrad, maximize), gradient clipping, and learning-rate
//! schedules, all with PyTorch's exact update equations, written out in each type's docs.
//!
//! Updates happen in place when nothing else holds a parameter's buffer (no allocation per
//! step); when a graph from before the step is still alive, the parameter gets a fresh buffer
//! and that graph keeps the values it saw. So drop the loss before stepping (take the
//! gradients from a temporary, or `drop(loss)`) to get the fast, in-place update.
//!
//! ```
//! use optim::{Optimizer, Sgd};
//! use tensor::{Parameter, Tensor};
//!
//! // Minimise (w - 3)² by gradient descent.
//! let w = Parameter::new(Tensor::<f64>::scalar(0.0));
//! let mut opt = Sgd::new(vec![w.clone()], 0.1).momentum(0.5);
//! for _ in 0..100 {
//!     let loss = (w.tensor() - 3.0).square();
//!     opt.step(&loss.backward());
//! }
//! assert!((w.tensor().item() - 3.0).abs() < 1e-6);
//! ```

// Library code never unwraps: an error is returned, or an internal invariant is named in
// an `expect("internal: ...")`.
#![warn(clippy::unwrap_used)]

mod adam;
mod clip;
mod optimizer;
mod pieces;
mod schedule;
mod sgd;

pub use adam::{Adam, AdamW};
pub use clip::{clip_grad_norm, clip_grad_value, try_clip_grad_norm, try_clip_grad_value};
pub use optimizer::{OptimError, Optimizer};
pub use schedule::{
    ChainedLr, CosineAnnealingLr, ExponentialLr, LinearLr, LrScheduler, Schedule, SequentialLr,
    StepLr,
};
pub use sgd::Sgd;
