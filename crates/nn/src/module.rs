//! The `Module` trait and `Sequential`.
//!
//! ```
//! use nn::{Activation, Dense, Module, Sequential};
//! use rand::SeedableRng;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let model = Sequential::<f32>::new()
//!     .push(Dense::new(4, 8, Activation::Relu, &mut rng))
//!     .push(Dense::new(8, 1, Activation::Sigmoid, &mut rng));
//! let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["0.weight", "0.bias", "1.weight", "1.bias"]);
//! let y = model.forward(&tensor::Tensor::zeros(&[3, 4]));
//! assert_eq!(y.shape(), &[3, 1]);
//! ```

use tensor::{Element, Parameter, Result, Tensor};

/// A differentiable function with trainable parameters. Object-safe, so layers of different
/// types can be boxed together ([`Sequential`]).
///
/// The input is a float tensor of the parameters' type unless `X` says otherwise: an
/// [`Embedding`](crate::Embedding), or a language model made of one, is a
/// `Module<T, Tensor<i64>>` that takes token ids.
pub trait Module<T: Element = f32, X: ?Sized = Tensor<T>>: Send + Sync {
    /// The output for a batch `x`.
    ///
    /// # Errors
    /// When `x` has a shape the module does not accept (or, for ids, a value out of range),
    /// or memory runs out.
    fn try_forward(&self, x: &X) -> Result<Tensor<T>>;

    /// The output for a batch `x`.
    ///
    /// # Panics
    /// As [`try_forward`](Module::try_forward) fails.
    #[track_caller]
    fn forward(&self, x: &X) -> Tensor<T> {
        self.try_forward(x).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Every trainable parameter with its path: `"weight"`, or `"0.bias"` inside a container.
    /// The names key checkpoints, so they are stable for a given architecture.
    fn named_parameters(&self) -> Vec<(String, Parameter<T>)>;

    /// State that is saved with the parameters but not trained (a batch norm's running
    /// statistics), with its path as in [`named_parameters`](Module::named_parameters).
    /// Checkpoints hold both lists. None by default: a module that holds layers with
    /// buffers lists theirs, as [`Sequential`] does.
    fn named_buffers(&self) -> Vec<(String, Parameter<T>)> {
        Vec::new()
    }

    /// Every trainable parameter (shared handles: an optimizer holding them updates the
    /// module).
    fn parameters(&self) -> Vec<Parameter<T>> {
        self.named_parameters()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// The number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(Parameter::numel).sum()
    }

    /// Switches this module, and every module inside it, between training (`true`) and
    /// evaluation (`false`) behaviour, as PyTorch's `module.train(mode)` does: a
    /// [`Dropout`](crate::Dropout) drops only while training. Modules start in training mode.
    ///
    /// The default does nothing, for modules that behave the same either way. A module that
    /// holds other modules passes the call on to each of them, as [`Sequential`] does.
    fn set_training(&self, training: bool) {
        let _ = training;
    }

    /// Training mode: `set_training(true)` (PyTorch's `module.train()`).
    fn train(&self) {
        self.set_training(true);
    }

    /// Evaluation mode: `set_training(false)` (PyTorch's `module.eval()`).
    fn eval(&self) {
        self.set_training(false);
    }
}

/// References and boxes of modules are modules, passing every call on.
macro_rules! forwarding_modules {
    ($($module:ty),*) => {$(
        impl<T: Element, X: ?Sized, M: Module<T, X> + ?Sized> Module<T, X> for $module {
            fn try_forward(&self, x: &X) -> Result<Tensor<T>> {
                (**self).try_forward(x)
            }

            fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
                (**self).named_parameters()
            }

            fn named_buffers(&self) -> Vec<(String, Parameter<T>)> {
                (**self).named_buffers()
            }

            fn set_training(&self, training: bool) {
                (**self).set_training(training);
            }
        }
    )*};
}

forwarding_modules!(&M, Box<M>);

/// Modules applied one after the other. Parameters are named `"<index>.<name>"`.
pub struct Sequential<T: Element = f32> {
    layers: Vec<Box<dyn Module<T>>>,
}

impl<T: Element> Default for Sequential<T> {
    fn default() -> Self {
        Sequential { layers: Vec::new() }
    }
}

impl<T: Element> Sequential<T> {
    /// An empty sequence (the identity function).
    pub fn new() -> Self {
        Self::default()
    }

    /// This sequence with `layer` appended.
    #[must_use]
    pub fn push(mut self, layer: impl Module<T> + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Appends a boxed layer.
    pub fn add(&mut self, layer: Box<dyn Module<T>>) {
        self.layers.push(layer);
    }

    /// The number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Box<dyn Module<T>>] {
        &self.layers
    }
}

impl<T: Element> Module<T> for Sequential<T> {
    fn try_forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        self.layers
            .iter()
            .try_fold(x.clone(), |h, layer| layer.try_forward(&h))
    }

    fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
        prefixed(self.layers.iter().map(|layer| layer.named_parameters()))
    }

    fn named_buffers(&self) -> Vec<(String, Parameter<T>)> {
        prefixed(self.layers.iter().map(|layer| layer.named_buffers()))
    }

    fn set_training(&self, training: bool) {
        for layer in &self.layers {
            layer.set_training(training);
        }
    }
}

/// The parameters of numbered children, each name prefixed by its child's index.
pub(crate) fn prefixed<T: Element>(
    children: impl Iterator<Item = Vec<(String, Parameter<T>)>>,
) -> Vec<(String, Parameter<T>)> {
    prefixed_by_name(children.enumerate())
}

/// The parameters of named children, each name prefixed by its child's name: how a model
/// made of modules lists its parameters in
/// [`named_parameters`](Module::named_parameters).
///
/// ```
/// use nn::{Activation, Dense, Module, prefixed_by_name};
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let (encoder, head) = (
///     Dense::<f32>::new(4, 8, Activation::Relu, &mut rng),
///     Dense::<f32>::new(8, 2, Activation::Sigmoid, &mut rng),
/// );
/// let named = prefixed_by_name([
///     ("encoder", encoder.named_parameters()),
///     ("head", head.named_parameters()),
/// ]);
/// assert_eq!(named[2].0, "head.weight");
/// ```
pub fn prefixed_by_name<T: Element, N: std::fmt::Display>(
    children: impl IntoIterator<Item = (N, Vec<(String, Parameter<T>)>)>,
) -> Vec<(String, Parameter<T>)> {
    children
        .into_iter()
        .flat_map(|(prefix, named)| {
            let prefix = prefix.to_string();
            named
                .into_iter()
                .map(move |(name, p)| (format!("{prefix}.{name}"), p))
        })
        .collect()
}

/// Everything a checkpoint of `model` holds: its parameters, then its buffers.
pub(crate) fn state_of<T: Element, X: ?Sized, M: Module<T, X> + ?Sized>(
    model: &M,
) -> Vec<(String, Parameter<T>)> {
    let mut state = model.named_parameters();
    state.extend(model.named_buffers());
    state
}
