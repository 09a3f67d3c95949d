//! Optimizers that update [`Parameter`](tensor::Parameter) handles from
//! [`Gradients`](tensor::Gradients): [`Sgd`] (momentum, dampening, Nesterov, weight decay),
//! [`Adam`] and [`AdamW`] (AMSGrad, maximize), gradient clipping, and learning-rate
//! schedules, all with PyTorch's exact update equations, written out in each type's docs.
//!
//! A step updates each parameter in place, with no allocation after the first step (which
//! creates the optimizer's state): `backward` releases the graph it walks, so nothing else
//! holds the parameters when the step comes, and the loss can still be read after it. A
//! graph kept with `backward_retain_graph`, or built and not yet backpropagated, still holds
//! them; the step then writes copies, and backpropagating that graph afterwards is refused
//! (see the `tensor` crate's rules on the graph's lifetime).
//!
//! ```
//! use optim::{Optimizer, Sgd};
//! use tensor::{Parameter, Tensor};
//!
//! // Minimise (w - 3)² by gradient descent.
//! let w = Parameter::new(Tensor::<f64>::scalar(0.0));
//! let mut opt = Sgd::new(vec![w.clone()], 0.1).momentum(0.5);
//! let mut last = f64::NAN;
//! for _ in 0..100 {
//!     let loss = (w.tensor() - 3.0).square();
//!     let grads = loss.backward();
//!     opt.step(&grads);
//!     last = loss.item();
//! }
//! assert!((w.tensor().item() - 3.0).abs() < 1e-6);
//! assert!(last < 1e-10);
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
