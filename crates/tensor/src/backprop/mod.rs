//! Reverse mode: the entry points here, the walk of the graph in [`walk`], and the one
//! exhaustive match of gradient rules in [`rules`].
//!
//! Every rule is written with tensor ops. During a plain backward pass they run with grad
//! mode off and record nothing; with `create_graph` they run with grad mode on, so the
//! gradients are themselves differentiable (grad of grad, Hessian-vector products) through the
//! very same rules. A few rules also have a fused kernel that computes the same formula in
//! one pass when nothing is recorded; each sits beside its composite twin in [`twins`].

mod rules;
mod twins;
mod walk;

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::gradients::Gradients;
use crate::tensor::Tensor;
use walk::run;

/// How a backward pass treats the graph it walks (PyTorch's `retain_graph` and
/// `create_graph`).
///
/// ```
/// use tensor::{BackwardOptions, Tensor};
/// let x = Tensor::<f64>::scalar(3.0).require_grad();
/// let y = &x * &x;
/// let keep = BackwardOptions::new().retain_graph(true);
/// let first = y.try_backward_with_options(None, keep)?;
/// let second = y.try_backward_with_options(None, BackwardOptions::new())?; // releases it
/// assert_eq!(first.get(&x).unwrap().item(), second.get(&x).unwrap().item());
/// assert!(y.try_backward().is_err()); // the graph is gone now
/// # Ok::<(), tensor::TensorError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackwardOptions {
    retain_graph: bool,
    create_graph: bool,
}

impl BackwardOptions {
    /// The default pass: the graph is released as it is walked, and nothing is recorded.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the graph, so that it can be backpropagated again.
    #[must_use]
    pub fn retain_graph(mut self, retain: bool) -> Self {
        self.retain_graph = retain;
        self
    }

    /// Records the gradient computation, so that the gradients can be differentiated again.
    /// The graph is then kept whatever [`retain_graph`](Self::retain_graph) says: the
    /// gradients' own graph runs through it.
    #[must_use]
    pub fn create_graph(mut self, create: bool) -> Self {
        self.create_graph = create;
        self
    }

    fn retains(self) -> bool {
        self.retain_graph || self.create_graph
    }
}

impl<T: Element> Tensor<T> {
    /// The gradients of this one-element tensor with respect to every tracked leaf it
    /// depends on.
    ///
    /// The pass releases the graph as it walks it, as PyTorch's does: each recorded
    /// operation lets go of its inputs once its gradient rule has run, so the activations and
    /// the parameters' values the forward pass saved are freed (or, for parameters, no longer
    /// shared, so an optimizer step updates them in place). The tensors keep their values
    /// (`loss.item()` still works), but a second backward pass through any of them fails with
    /// [`TensorError::GraphReleased`]; use
    /// [`backward_retain_graph`](Tensor::backward_retain_graph) to backpropagate more than
    /// once. A pass that reaches an old value of a parameter, replaced by an update after the
    /// graph was built, fails with [`TensorError::StaleParameter`] before touching the graph.
    ///
    /// # Panics
    /// As [`try_backward`](Tensor::try_backward) fails.
    #[track_caller]
    pub fn backward(&self) -> Gradients<T> {
        self.try_backward().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`backward`](Tensor::backward).
    ///
    /// # Errors
    /// When this tensor does not have exactly one element (use
    /// [`backward_with`](Tensor::backward_with) and a seed of its shape), no tracked leaf
    /// reaches it, its graph was released by an earlier pass, or it uses a replaced value of
    /// a parameter.
    pub fn try_backward(&self) -> Result<Gradients<T>> {
        self.backward_from_one("backward", BackwardOptions::new())
    }

    /// As [`backward`](Tensor::backward), keeping the graph, so that it can be
    /// backpropagated again (PyTorch's `retain_graph=True`). The graph then keeps the values
    /// it saved, parameters' among them, alive until it is dropped.
    ///
    /// # Panics
    /// As [`try_backward`](Tensor::try_backward) fails.
    #[track_caller]
    pub fn backward_retain_graph(&self) -> Gradients<T> {
        self.try_backward_retain_graph()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`backward_retain_graph`](Tensor::backward_retain_graph).
    ///
    /// # Errors
    /// As [`try_backward`](Tensor::try_backward).
    pub fn try_backward_retain_graph(&self) -> Result<Gradients<T>> {
        let options = BackwardOptions::new().retain_graph(true);
        self.backward_from_one("backward_retain_graph", options)
    }

    /// The gradients of `sum(seed * self)`: a vector-Jacobian product, for outputs of any
    /// shape. Releases the graph as [`backward`](Tensor::backward) does.
    ///
    /// # Panics
    /// As [`try_backward_with`](Tensor::try_backward_with) fails.
    #[track_caller]
    pub fn backward_with(&self, seed: &Tensor<T>) -> Gradients<T> {
        self.try_backward_with(seed)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`backward_with`](Tensor::backward_with).
    ///
    /// # Errors
    /// When `seed` does not have this tensor's shape, or as
    /// [`try_backward`](Tensor::try_backward).
    pub fn try_backward_with(&self, seed: &Tensor<T>) -> Result<Gradients<T>> {
        run(self, seed, BackwardOptions::new(), "backward_with")
    }

    /// As [`backward`](Tensor::backward), but the gradients are recorded in the graph, so they
    /// can be differentiated again. The graph is kept (the gradients' graph runs through it).
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::scalar(2.0).require_grad();
    /// let y = x.powf(3.0);                         // y = x³
    /// let dy = y.backward_create_graph();
    /// let dydx = dy.get(&x).unwrap();              // 3x² = 12
    /// let d2y = dydx.backward();
    /// assert_eq!(d2y.get(&x).unwrap().item(), 12.0); // 6x = 12
    /// ```
    ///
    /// # Panics
    /// As [`try_backward`](Tensor::try_backward) fails.
    #[track_caller]
    pub fn backward_create_graph(&self) -> Gradients<T> {
        self.try_backward_create_graph()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`backward_create_graph`](Tensor::backward_create_graph).
    ///
    /// # Errors
    /// As [`try_backward`](Tensor::try_backward).
    pub fn try_backward_create_graph(&self) -> Result<Gradients<T>> {
        let options = BackwardOptions::new().create_graph(true);
        self.backward_from_one("backward_create_graph", options)
    }

    /// As [`backward_with`](Tensor::backward_with), with the gradients recorded in the graph
    /// (differentiable in the inputs and in `seed`); the graph is kept.
    ///
    /// # Panics
    /// As [`try_backward_with`](Tensor::try_backward_with) fails.
    #[track_caller]
    pub fn backward_with_create_graph(&self, seed: &Tensor<T>) -> Gradients<T> {
        self.try_backward_with_create_graph(seed)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`backward_with_create_graph`](Tensor::backward_with_create_graph).
    ///
    /// # Errors
    /// As [`try_backward_with`](Tensor::try_backward_with).
    pub fn try_backward_with_create_graph(&self, seed: &Tensor<T>) -> Result<Gradients<T>> {
        let options = BackwardOptions::new().create_graph(true);
        run(self, seed, options, "backward_with_create_graph")
    }

    /// The backward pass with every choice explicit: the gradients of `sum(seed * self)`
    /// (`seed` defaults to a one for a one-element tensor), keeping or releasing the graph
    /// and recording the gradients or not, as `options` say.
    ///
    /// # Errors
    /// As [`try_backward_with`](Tensor::try_backward_with), and without a seed as
    /// [`try_backward`](Tensor::try_backward).
    pub fn try_backward_with_options(
        &self,
        seed: Option<&Tensor<T>>,
        options: BackwardOptions,
    ) -> Result<Gradients<T>> {
        match seed {
            Some(seed) => run(self, seed, options, "backward_with_options"),
            None => self.backward_from_one("backward_with_options", options),
        }
    }

    fn backward_from_one(
        &self,
        name: &'static str,
        options: BackwardOptions,
    ) -> Result<Gradients<T>> {
        if self.numel() != 1 {
            return Err(TensorError::NotOneElement {
                op: name,
                shape: self.shape().to_vec(),
            });
        }
        run(self, &Tensor::ones(self.shape()), options, name)
    }
}
