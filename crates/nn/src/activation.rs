//! Elementwise activations, usable on their own or as parameter-free modules. Each is
//! written with tensor ops, so it has a first and a second derivative; the ones PyTorch has
//! follow its definitions and defaults.
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

use tensor::{Element, Parameter, Result, Tensor, TensorError};

use crate::module::Module;

/// An elementwise nonlinearity. Sigmoid is the default: it squashes a layer's output into
/// (0, 1), which reads as a probability.
///
/// ```
/// use nn::Activation;
/// use tensor::Tensor;
/// let x = Tensor::<f64>::from_vec(vec![-2.0, 0.0, 1.0], &[3])?;
/// let leaky = Activation::leaky_relu().apply(&x)?.to_vec();
/// assert_eq!(leaky, vec![-0.02, 0.0, 1.0]);
/// let gelu = Activation::Gelu.apply(&x)?.to_vec();
/// assert!((gelu[2] - 0.841_344_746_068_543).abs() < 1e-15); // x Φ(x) at 1
/// # Ok::<(), tensor::TensorError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
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
    /// `x` where `x > 0`, `negative_slope · x` elsewhere (PyTorch's `LeakyReLU`; its
    /// default slope, 0.01, is [`Activation::leaky_relu`]).
    LeakyRelu {
        /// The slope for negative inputs.
        negative_slope: f64,
    },
    /// `x Φ(x) = x (1 + erf(x / √2)) / 2`, with `Φ` the standard normal distribution
    /// function (PyTorch's `GELU()`).
    Gelu,
    /// GELU's tanh approximation, `x (1 + tanh(√(2/π) (x + 0.044715 x³))) / 2` (PyTorch's
    /// `GELU(approximate="tanh")`).
    GeluTanh,
    /// `x σ(x)`, also called swish (PyTorch's `SiLU`).
    Silu,
    /// `ln(1 + e^(β x)) / β`, and `x` where `β x > threshold`, for numerical stability
    /// (PyTorch's `Softplus`; its defaults, β = 1 and threshold 20, are
    /// [`Activation::softplus`]).
    Softplus {
        /// The sharpness `β`, above 0.
        beta: f64,
        /// Where `β x` is above this, the result is `x`.
        threshold: f64,
    },
}

impl Activation {
    /// Leaky ReLU with PyTorch's default negative slope, 0.01.
    pub const fn leaky_relu() -> Self {
        Activation::LeakyRelu {
            negative_slope: 0.01,
        }
    }

    /// Softplus with PyTorch's defaults, β = 1 and threshold 20.
    pub const fn softplus() -> Self {
        Activation::Softplus {
            beta: 1.0,
            threshold: 20.0,
        }
    }

    /// The activation applied to `x`.
    ///
    /// # Errors
    /// When the result cannot be allocated, or a softplus has a `beta` that is not above 0
    /// or a threshold that is NaN.
    pub fn apply<T: Element>(self, x: &Tensor<T>) -> Result<Tensor<T>> {
        let c = T::of_f64;
        match self {
            Activation::Sigmoid => x.try_sigmoid(),
            Activation::Tanh => x.try_tanh(),
            Activation::Relu => x.try_relu(),
            Activation::Identity => Ok(x.clone()),
            Activation::LeakyRelu { negative_slope } => {
                let positive = x.try_gt(&Tensor::scalar(T::zero()))?;
                positive.try_where_cond(x, &x.try_mul_scalar(c(negative_slope))?)
            }
            Activation::Gelu => x.try_gelu(),
            Activation::GeluTanh => x.try_gelu_tanh(),
            Activation::Silu => x.try_mul(&x.try_sigmoid()?),
            Activation::Softplus { beta, threshold } => softplus(x, beta, threshold),
        }
    }

    /// The recommended gain for initialising the weights feeding this activation (PyTorch's
    /// `calculate_gain`): 1 for sigmoid and identity, 5/3 for tanh, √2 for ReLU,
    /// `√(2 / (1 + slope²))` for leaky ReLU. PyTorch gives none for GELU, SiLU and softplus;
    /// they are shaped like ReLU, and take its √2.
    pub fn gain(self) -> f64 {
        match self {
            Activation::Sigmoid | Activation::Identity => 1.0,
            Activation::Tanh => 5.0 / 3.0,
            Activation::LeakyRelu { negative_slope } => {
                (2.0 / (1.0 + negative_slope * negative_slope)).sqrt()
            }
            Activation::Relu
            | Activation::Gelu
            | Activation::GeluTanh
            | Activation::Silu
            | Activation::Softplus { .. } => std::f64::consts::SQRT_2,
        }
    }

    /// The lowercase name: `"sigmoid"`, `"tanh"`, `"relu"`, `"identity"`, `"leaky_relu"`,
    /// `"gelu"`, `"gelu_tanh"`, `"silu"` or `"softplus"`.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::Identity => "identity",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Gelu => "gelu",
            Activation::GeluTanh => "gelu_tanh",
            Activation::Silu => "silu",
            Activation::Softplus { .. } => "softplus",
        }
    }
}

/// `ln(1 + e^(β x)) / β`, and `x` where `β x > threshold`. The exponent is capped at the
/// threshold first, so that the branch not taken never overflows (its gradient, multiplied
/// by 0, would otherwise be NaN).
fn softplus<T: Element>(x: &Tensor<T>, beta: f64, threshold: f64) -> Result<Tensor<T>> {
    if !(beta > 0.0 && beta.is_finite()) || threshold.is_nan() {
        return Err(TensorError::InvalidArgument {
            op: "softplus",
            message: format!(
                "beta must be finite and above 0 and threshold not NaN, got beta {beta} and \
                 threshold {threshold}"
            ),
        });
    }
    let scaled = x.try_mul_scalar(T::of_f64(beta))?;
    let capped = scaled.try_minimum(&Tensor::scalar(T::of_f64(threshold)))?;
    let smooth = capped
        .try_exp()?
        .try_log1p()?
        .try_div_scalar(T::of_f64(beta))?;
    let linear = scaled.try_gt(&Tensor::scalar(T::of_f64(threshold)))?;
    linear.try_where_cond(x, &smooth)
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
