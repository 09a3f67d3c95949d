//! Dense (fully connected) layers and multi-layer perceptrons.
//!
//! ```
//! use nn::{Activation, Dense, Mlp, Module};
//! use rand::SeedableRng;
//! use tensor::Tensor;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! // 4 inputs, 8 hidden units, one output probability.
//! let model = Mlp::<f32>::new(&[4, 8, 1], Activation::Sigmoid, &mut rng);
//! let p = model.forward(&Tensor::zeros(&[5, 4]));
//! assert_eq!(p.shape(), &[5, 1]);
//! assert!(p.to_vec().iter().all(|&v| v > 0.0 && v < 1.0));
//! let layer = Dense::<f32>::new(3, 2, Activation::Tanh, &mut rng);
//! assert_eq!(layer.weight().shape(), vec![3, 2]);
//! ```

use tensor::{Element, Parameter, Result, Tensor, TensorError};

use crate::activation::Activation;
use crate::init::{Fans, Init};
use crate::module::{Module, prefixed};

/// `activation(x · W + b)` with `W: [inputs, outputs]` and `b: [outputs]`, for inputs of shape
/// `[.., inputs]` (any number of leading batch dimensions).
pub struct Dense<T: Element = f32> {
    weight: Parameter<T>,
    bias: Option<Parameter<T>>,
    activation: Activation,
}

impl<T: Element> Dense<T> {
    /// A layer with the usual initialisation for its activation ([`Init::for_activation`])
    /// and a zero bias.
    ///
    /// # Panics
    /// As [`try_new`](Dense::try_new) fails.
    #[track_caller]
    pub fn new(
        inputs: usize,
        outputs: usize,
        activation: Activation,
        rng: &mut impl rand::Rng,
    ) -> Self {
        Self::try_new(inputs, outputs, activation, rng).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`new`](Dense::new).
    ///
    /// # Errors
    /// When `inputs` or `outputs` is 0.
    pub fn try_new(
        inputs: usize,
        outputs: usize,
        activation: Activation,
        rng: &mut impl rand::Rng,
    ) -> Result<Self> {
        let init = Init::for_activation(activation);
        Self::try_with_init(inputs, outputs, activation, init, Some(Init::Zeros), rng)
    }

    /// A layer without bias: `activation(x · W)`.
    ///
    /// # Panics
    /// When `inputs` or `outputs` is 0.
    #[track_caller]
    pub fn without_bias(
        inputs: usize,
        outputs: usize,
        activation: Activation,
        rng: &mut impl rand::Rng,
    ) -> Self {
        let init = Init::for_activation(activation);
        Self::try_with_init(inputs, outputs, activation, init, None, rng)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A layer with chosen initialisations for the weight and the bias (`None`: no bias).
    ///
    /// # Errors
    /// When `inputs` or `outputs` is 0, or an initialisation's parameters are invalid.
    pub fn try_with_init(
        inputs: usize,
        outputs: usize,
        activation: Activation,
        weight_init: Init,
        bias_init: Option<Init>,
        rng: &mut impl rand::Rng,
    ) -> Result<Self> {
        if inputs == 0 || outputs == 0 {
            return Err(TensorError::InvalidArgument {
                op: "Dense",
                message: format!(
                    "needs at least one input and one output, got {inputs} -> {outputs}"
                ),
            });
        }
        let fans = Fans {
            fan_in: inputs,
            fan_out: outputs,
        };
        let weight = Parameter::new(weight_init.sample(&[inputs, outputs], fans, rng)?);
        let bias = match bias_init {
            Some(init) => Some(Parameter::new(init.sample(&[outputs], fans, rng)?)),
            None => None,
        };
        Ok(Dense {
            weight,
            bias,
            activation,
        })
    }

    /// A layer over existing parameters: `weight: [inputs, outputs]`, `bias: [outputs]`.
    ///
    /// # Errors
    /// When the weight is not 2-D or the bias does not match its output width.
    pub fn from_parameters(
        weight: Parameter<T>,
        bias: Option<Parameter<T>>,
        activation: Activation,
    ) -> Result<Self> {
        let w = weight.shape();
        let fits = w.len() == 2 && bias.as_ref().is_none_or(|b| b.shape() == [w[1]]);
        if !fits {
            let b = bias.as_ref().map(Parameter::shape).unwrap_or_default();
            return Err(TensorError::ShapeMismatch {
                op: "Dense",
                reason: format!(
                    "a weight of shape {w:?} and a bias of shape {b:?} do not make a layer (expected [inputs, outputs] and [outputs])"
                ),
                lhs: w,
                rhs: b,
            });
        }
        Ok(Dense {
            weight,
            bias,
            activation,
        })
    }

    /// The weight, `[inputs, outputs]`.
    pub fn weight(&self) -> &Parameter<T> {
        &self.weight
    }

    /// The bias, `[outputs]`, if the layer has one.
    pub fn bias(&self) -> Option<&Parameter<T>> {
        self.bias.as_ref()
    }

    /// The activation applied after the affine map.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// The input width.
    pub fn inputs(&self) -> usize {
        self.weight.shape()[0]
    }

    /// The output width.
    pub fn outputs(&self) -> usize {
        self.weight.shape()[1]
    }
}

impl<T: Element> Module<T> for Dense<T> {
    fn try_forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        let weight = self.weight.tensor();
        let inputs = weight.shape()[0];
        if x.shape().last() != Some(&inputs) {
            return Err(TensorError::ShapeMismatch {
                op: "Dense",
                lhs: x.shape().to_vec(),
                rhs: weight.shape().to_vec(),
                reason: format!(
                    "expected inputs of shape [.., {inputs}], got {:?}",
                    x.shape()
                ),
            });
        }
        let bias = self.bias.as_ref().map(Parameter::tensor);
        self.activation
            .apply(&x.try_linear(&weight, bias.as_ref())?)
    }

    fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
        let mut named = vec![("weight".to_string(), self.weight.clone())];
        if let Some(bias) = &self.bias {
            named.push(("bias".to_string(), bias.clone()));
        }
        named
    }
}

/// A stack of [`Dense`] layers: `sizes = [4, 8, 1]` makes `4 -> 8 -> 1`. Parameters are named
/// `"0.weight"`, `"0.bias"`, `"1.weight"`, ...
pub struct Mlp<T: Element = f32> {
    layers: Vec<Dense<T>>,
}

impl<T: Element> Mlp<T> {
    /// Layers of widths `sizes` with `activation` after every layer, the output layer
    /// included (with sigmoid, the output is a probability).
    ///
    /// # Panics
    /// As [`try_new`](Mlp::try_new) fails.
    #[track_caller]
    pub fn new(sizes: &[usize], activation: Activation, rng: &mut impl rand::Rng) -> Self {
        Self::try_new(sizes, activation, rng).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`new`](Mlp::new).
    ///
    /// # Errors
    /// When fewer than two sizes are given or a size is 0.
    pub fn try_new(
        sizes: &[usize],
        activation: Activation,
        rng: &mut impl rand::Rng,
    ) -> Result<Self> {
        Self::try_with_output_activation(sizes, activation, activation, rng)
    }

    /// Layers of widths `sizes` with `hidden` after the hidden layers and `output` after the
    /// last (e.g. `Identity` for logits).
    ///
    /// # Panics
    /// As [`try_with_output_activation`](Mlp::try_with_output_activation) fails.
    #[track_caller]
    pub fn with_output_activation(
        sizes: &[usize],
        hidden: Activation,
        output: Activation,
        rng: &mut impl rand::Rng,
    ) -> Self {
        Self::try_with_output_activation(sizes, hidden, output, rng)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`with_output_activation`](Mlp::with_output_activation).
    ///
    /// # Errors
    /// When fewer than two sizes are given or a size is 0.
    pub fn try_with_output_activation(
        sizes: &[usize],
        hidden: Activation,
        output: Activation,
        rng: &mut impl rand::Rng,
    ) -> Result<Self> {
        if sizes.len() < 2 {
            return Err(TensorError::InvalidArgument {
                op: "Mlp",
                message: format!("needs at least an input and an output size, got {sizes:?}"),
            });
        }
        let last = sizes.len() - 2;
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, pair)| {
                let activation = if i == last { output } else { hidden };
                Dense::try_new(pair[0], pair[1], activation, rng)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Mlp { layers })
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Dense<T>] {
        &self.layers
    }
}

impl<T: Element> Module<T> for Mlp<T> {
    fn try_forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        self.layers
            .iter()
            .try_fold(x.clone(), |h, layer| layer.try_forward(&h))
    }

    fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
        prefixed(self.layers.iter().map(Module::named_parameters))
    }
}
