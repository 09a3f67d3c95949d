//! Layer normalisation, as PyTorch's `LayerNorm` and `nn.functional.layer_norm` define it.
//!
//! ```
//! use nn::{LayerNorm, Module};
//! use tensor::Tensor;
//! let norm = LayerNorm::<f64>::new(&[4]);
//! let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 4])?;
//! let y = norm.forward(&x).to_vec();
//! // Mean 2.5, biased variance 1.25: (x - 2.5) / √(1.25 + 1e-5).
//! assert!((y[3] - 1.5 / (1.25f64 + 1e-5).sqrt()).abs() < 1e-15);
//! # Ok::<(), tensor::TensorError>(())
//! ```

use tensor::{Element, Parameter, Result, Tensor, TensorError};

use crate::module::Module;

/// `(x - E[x]) / √(Var[x] + eps) · weight + bias`, the mean and the biased variance taken
/// over the last dimensions of `x`, which must equal `normalized_shape`; `weight` and `bias`
/// (each optional) have that shape. One pass each way through [`Tensor::layer_norm`], with
/// second derivatives through tensor ops.
///
/// # Errors
/// When `normalized_shape` is empty or is not the end of `x`'s shape, `weight` or `bias`
/// does not have it, `eps` is negative or not finite, or memory runs out. The message names
/// the shapes or the value.
pub fn layer_norm<T: Element>(
    x: &Tensor<T>,
    normalized_shape: &[usize],
    weight: Option<&Tensor<T>>,
    bias: Option<&Tensor<T>>,
    eps: f64,
) -> Result<Tensor<T>> {
    let op = "layer_norm";
    let invalid = |message: String| TensorError::InvalidArgument { op, message };
    let rank = x.ndim();
    let d = normalized_shape.len();
    if d == 0 || d > rank || x.shape()[rank - d..] != *normalized_shape {
        return Err(invalid(format!(
            "an input of shape {:?} does not end with the normalized shape {normalized_shape:?}",
            x.shape()
        )));
    }
    for (name, p) in [("weight", weight), ("bias", bias)] {
        if let Some(p) = p
            && p.shape() != normalized_shape
        {
            return Err(invalid(format!(
                "the {name} has shape {:?}, not the normalized shape {normalized_shape:?}",
                p.shape()
            )));
        }
    }
    if !(eps >= 0.0 && eps.is_finite()) {
        return Err(invalid(format!(
            "eps must be finite and at least 0, got {eps}"
        )));
    }
    // The normalized dimensions as one, so that each statistic is one reduction.
    let mut rows: Vec<usize> = x.shape()[..rank - d].to_vec();
    let size: usize = normalized_shape.iter().product();
    rows.push(size);
    let flat = |p: &Tensor<T>| p.try_reshape(&[size]);
    let (weight, bias) = (weight.map(flat).transpose()?, bias.map(flat).transpose()?);
    x.try_reshape(&rows)?
        .try_layer_norm(weight.as_ref(), bias.as_ref(), eps)?
        .try_reshape(x.shape())
}

/// Layer normalisation over the last dimensions (PyTorch's `LayerNorm`): see [`layer_norm`].
/// By default `eps` is 1e-5 and the layer has a weight, initialised to ones, and a bias,
/// initialised to zeros, named `"weight"` and `"bias"`.
pub struct LayerNorm<T: Element = f32> {
    normalized_shape: Vec<usize>,
    eps: f64,
    weight: Option<Parameter<T>>,
    bias: Option<Parameter<T>>,
}

impl<T: Element> LayerNorm<T> {
    /// A layer normalising over dimensions of `normalized_shape`, with PyTorch's defaults.
    pub fn new(normalized_shape: &[usize]) -> Self {
        LayerNorm {
            normalized_shape: normalized_shape.to_vec(),
            eps: 1e-5,
            weight: Some(Parameter::new(Tensor::ones(normalized_shape))),
            bias: Some(Parameter::new(Tensor::zeros(normalized_shape))),
        }
    }

    /// The value added to the variance before its square root (checked at the forward pass).
    #[must_use]
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Without the weight and the bias (PyTorch's `elementwise_affine=False`).
    #[must_use]
    pub fn without_affine(mut self) -> Self {
        self.weight = None;
        self.bias = None;
        self
    }

    /// Without the bias, keeping the weight (PyTorch's `bias=False`).
    #[must_use]
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }

    /// The shape of the normalized dimensions.
    pub fn normalized_shape(&self) -> &[usize] {
        &self.normalized_shape
    }

    /// The weight, if the layer has one.
    pub fn weight(&self) -> Option<&Parameter<T>> {
        self.weight.as_ref()
    }

    /// The bias, if the layer has one.
    pub fn bias(&self) -> Option<&Parameter<T>> {
        self.bias.as_ref()
    }
}

impl<T: Element> Module<T> for LayerNorm<T> {
    fn try_forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        let weight = self.weight.as_ref().map(Parameter::tensor);
        let bias = self.bias.as_ref().map(Parameter::tensor);
        layer_norm(
            x,
            &self.normalized_shape,
            weight.as_ref(),
            bias.as_ref(),
            self.eps,
        )
    }

    fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
        let named = [("weight", &self.weight), ("bias", &self.bias)];
        named
            .into_iter()
            .filter_map(|(name, p)| p.clone().map(|p| (name.to_string(), p)))
            .collect()
    }
}
