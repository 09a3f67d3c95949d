//! Tensors of `f32` or `f64` (and `i64` for indices) with NumPy broadcasting, matmul and
//! reductions, and a dynamic reverse-mode graph: operations on tensors that require grad are
//! recorded, and [`backward`](Tensor::backward) walks the record to return every gradient.
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
//! Integer tensors (`Tensor<i64>`: token ids, class labels, masks) have the constructors, the
//! movement ops and the comparisons, and index the float ones; they never join the graph:
//!
//! ```
//! use tensor::Tensor;
//! let logits = Tensor::<f32>::from_vec(vec![0.1, 2.0, 0.3, 1.5, 0.2, 0.1], &[2, 3])?.require_grad();
//! let labels = Tensor::<i64>::from_vec(vec![1, 0], &[2, 1])?;
//! let picked = logits.gather(1, &labels); // the logit of each row's label
//! assert_eq!(picked.to_vec(), vec![2.0, 1.5]);
//! assert_eq!(logits.argmax(1, true).eq(&labels).sum().item(), 2); // both rows right
//! let grads = picked.sum().backward(); // 1 where a label picked, 0 elsewhere
//! assert_eq!(grads.get(&logits).unwrap().to_vec(), vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
//! # Ok::<(), tensor::TensorError>(())
//! ```
//!
//! Images are NCHW, as in PyTorch: [`conv2d`](Tensor::conv2d), [`conv1d`](Tensor::conv1d)
//! and [`conv_transpose2d`](Tensor::conv_transpose2d) (stride, padding, dilation, groups),
//! [`max_pool2d`](Tensor::max_pool2d), [`avg_pool2d`](Tensor::avg_pool2d) and
//! [`adaptive_avg_pool2d`](Tensor::adaptive_avg_pool2d), each differentiable to any order.
//!
//! Every operation that can fail has a `try_` form returning [`TensorError`]; the plain form
//! and the operators panic with the same message at the caller's line.
//!
//! For experiments beyond the built-in ops: [`CustomOp`] adds an op with a backward of one's
//! own, [`Tensor::try_hook`] inspects or replaces a gradient on its way, [`func`] holds the
//! functional transforms (`grad`, `jvp`, `hessian`, ...), and [`testing`] the kit this crate's
//! own tests run on (its proptest strategies with the feature `testing`).
//!
//! # The graph's lifetime
//!
//! A recorded result holds its inputs, the values its gradient rule needs, until its graph
//! is released. The rules, which follow PyTorch's:
//!
//! - **A backward pass releases the graph it walks**, as it walks it: each operation lets go
//!   of its inputs once its gradient rule has run, so activations are freed during the pass
//!   and parameters are no longer held by the graph. Every tensor keeps its own value
//!   (`loss.item()` works after the pass), and [`Tensor::has_graph`] tells whether its graph
//!   is still there. A second pass through a released result fails with
//!   [`TensorError::GraphReleased`], naming the operation, before it changes anything.
//! - **To backpropagate more than once**, keep the graph:
//!   [`backward_retain_graph`](Tensor::backward_retain_graph), or
//!   [`BackwardOptions::retain_graph`]. [`backward_create_graph`](Tensor::backward_create_graph)
//!   always keeps it, because the gradients' own graph runs through it.
//! - **A parameter is updated in place** ([`Parameter::update`], which the optimizers use)
//!   when nothing else holds its value, as after a backward pass. Otherwise (a kept graph, a
//!   graph not yet backpropagated, a held clone of [`Parameter::tensor`]) the update goes to a
//!   copy: whoever holds the old value keeps seeing the old values, and the old value is
//!   marked as replaced. A backward pass that reaches a replaced value fails with
//!   [`TensorError::StaleParameter`] before it changes anything: a gradient is never
//!   computed at values a parameter no longer has, nor from a mix of old and new values.
//! - **No tensor changes once another handle can see it**: in-place writes (a parameter's
//!   update, a bias added into a matrix product nothing else holds, a gradient accumulated
//!   into a buffer the pass owns) happen only on buffers no one else can read.
//!
//! So the loop a PyTorch user writes runs without copying a parameter:
//!
//! ```
//! use tensor::{Parameter, Tensor};
//! let w = Parameter::new(Tensor::<f32>::from_vec(vec![0.5, -0.5], &[2, 1])?);
//! let x = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
//! let mut total = 0.0;
//! for _ in 0..3 {
//!     let loss = x.matmul(&w.tensor()).square().mean();
//!     let grads = loss.backward(); // releases the graph, and with it the graph's hold on w
//!     let g = grads.get(&w).unwrap().to_vec();
//!     w.update(|w| w.iter_mut().zip(&g).for_each(|(w, g)| *w -= 0.01 * g)); // in place
//!     total += loss.item(); // the loss keeps its value
//!     assert!(loss.try_backward().is_err()); // its graph is gone
//! }
//! # assert!(total > 0.0);
//! # Ok::<(), tensor::TensorError>(())
//! ```
//!
//! # Threads
//!
//! Large operations run on the threads of [`threads`], the calling thread among them; no
//! setup is needed, and results do not depend on the number of threads.

// Library code never unwraps: an error is returned, or an internal invariant is named in
// an `expect("internal: ...")`.
#![warn(clippy::unwrap_used)]

pub mod alloc_count;
mod backprop;
mod constructors;
mod display;
mod element;
mod error;
pub mod func;
mod gradcheck;
mod gradients;
pub mod graph;
mod kept;
mod kernels;
mod layout;
mod mode;
mod ops;
mod parameter;
mod shape;
mod special;
mod storage;
mod tensor;
pub mod testing;
pub mod threads;

pub use backprop::BackwardOptions;
pub use element::{DType, Element, Scalar};
pub use error::{Result, TensorError};
pub use gradcheck::{GradcheckError, GradcheckMode, GradcheckOptions, gradcheck, gradgradcheck};
pub use gradients::{GradKey, Gradients};
pub use kernels::pool::cached_buffer_bytes;
pub use mode::{detect_anomaly, enable_grad, is_anomaly_enabled, is_grad_enabled, no_grad};
pub use ops::conv::{Conv1dParams, Conv2dParams, ConvTranspose2dParams, Pair};
pub use ops::custom::CustomOp;
pub use ops::pool::Pool2dParams;
pub use parameter::{ParamId, Parameter};
pub use shape::Dim;
pub use tensor::slots::release_cached_buffers;
pub use tensor::{Tensor, TensorId};
#[allow(deprecated)]
pub use threads::init_thread_pool;
pub use threads::{num_threads, set_num_threads, with_num_threads};
