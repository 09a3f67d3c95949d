//! Elementwise activations, usable on their own or as parameter-free modules.
//!
//! ```
//! use nn::{Activation, Module};
//! use tensor::Tensor;
//! let x = Tensor::<f32>::from_vec(vec![-1.0, 0.0, 2.0], &[3])?;
//! assert_eq!(Activation::Relu.forward(&x).to_vec(), vec![0.0, 0.0, 2.0]);
//! assert_eq!(Activation::default(), Activation::Sigmoid);
//! # Ok::<(), tensor::TensorError>(())
//! ```

use std::fmt;

use tensor::{Element, Parameter, Result, Tensor};

use crate::module::Module;

/// An elementwise nonlinearity. Sigmoid is the default: it squashes a layer's output into
/// (0, 1), which reads as a probability.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `1 / (1 + e^-x)`, in (0, 1).
    #[default]
    Sigmoid,
    /// `tanh(x)`, in (-1, 1).
    Tanh,
    /// `max(x, 0)`.
    Relu,
    /// `x`: no nonlinearity.
    Identity,
}

impl Activation {
    /// The activation applied to `x`.
    ///
    /// # Errors
    /// When the result cannot be allocated.
    pub fn apply<T: Element>(self, x: &Tensor<T>) -> Result<Tensor<T>> {
        match self {
            Activation::Sigmoid => x.try_sigmoid(),
            Activation::Tanh => x.try_tanh(),
            Activation::Relu => x.try_relu(),
            Activation::Identity => Ok(x.clone()),
        }
    }

    /// The recommended gain for initialising the weights feeding this activation (PyTorch's
    /// `calculate_gain`): 1 for sigmoid and identity, 5/3 for tanh, √2 for ReLU.
    pub fn gain(self) -> f64 {
        match self {
            Activation::Sigmoid | Activation::Identity => 1.0,
            Activation::Tanh => 5.0 / 3.0,
            Activation::Relu => std::f64::consts::SQRT_2,
        }
    }

    /// The lowercase name: `"sigmoid"`, `"tanh"`, `"relu"` or `"identity"`.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::Identity => "identity",
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl<T: Element> Module<T> for Activation {
    fn try_forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        self.apply(x)
    }

    fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
        Vec::new()
    }
}
