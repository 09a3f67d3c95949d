//! Tensors of `f32` or `f64` with NumPy broadcasting, matmul and reductions, and a dynamic
//! reverse-mode graph: operations on tensors that require grad are recorded, and
//! [`backward`](Tensor::backward) walks the record to return every gradient.
//!
//! ```
//! use tensor::{Tensor, no_grad};
//!
//! // y = sigmoid(w · x + b) for one sample
//! let x = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[1, 2])?;
//! let w = Tensor::from_vec(vec![0.5, -0.25], &[2, 1])?.require_grad();
//! let b = Tensor::from_vec(vec![0.1], &[1])?.require_grad();
//! let y = (x.matmul(&w) + &b).sigmoid().sum();
//!
//! let grads = y.backward();
//! let s = y.item();
//! // dy/db = s (1 - s), dy/dw = x * s (1 - s)
//! assert!((grads.get(&b).unwrap().item() - s * (1.0 - s)).abs() < 1e-15);
//! assert_eq!(grads.get(&w).unwrap().shape(), &[2, 1]);
//!
//! // Under no_grad nothing is recorded.
//! let inference = no_grad(|| x.matmul(&w));
//! assert!(!inference.requires_grad());
//! # Ok::<(), tensor::TensorError>(())
//! ```
//!
//! Every operation that can fail has a `try_` form returning [`TensorError`]; the plain form
//! and the operators panic with the same message at the caller's line.

// Library code never unwraps: an error is returned, or an internal invariant is named in
// an `expect("internal: ...")`.
#![warn(clippy::unwrap_used)]

mod backprop;
mod constructors;
mod display;
mod element;
mod error;
mod gradcheck;
mod gradients;
pub mod graph;
mod kernels;
mod layout;
mod mode;
mod ops;
mod parameter;
mod shape;
mod storage;
mod tensor;
pub mod threads;

pub use element::{DType, Element};
pub use error::{Result, TensorError};
pub use gradcheck::{GradcheckError, GradcheckMode, GradcheckOptions, gradcheck, gradgradcheck};
pub use gradients::{GradKey, Gradients};
pub use kernels::pool::{cached_buffer_bytes, release_cached_buffers};
pub use mode::{detect_anomaly, enable_grad, is_anomaly_enabled, is_grad_enabled, no_grad};
pub use parameter::{ParamId, Parameter};
pub use shape::Dim;
pub use tensor::{Tensor, TensorId};
#[allow(deprecated)]
pub use threads::init_thread_pool;
pub use threads::{num_threads, set_num_threads, with_num_threads};
