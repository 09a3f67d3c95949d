//! Convolution layers, as PyTorch's `Conv1d` and `Conv2d`, with PyTorch's default
//! initialisation: weight and bias uniform in `±1/√fan_in`, `fan_in` being the input values
//! one output reads (`in_channels / groups · kernel size`).
//!
//! ```
//! use nn::{Conv2d, Module};
//! use rand::SeedableRng;
//! use tensor::{Conv2dParams, Tensor};
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let conv = Conv2d::<f32>::new(3, 8, 3, Conv2dParams::default().padding(1), &mut rng);
//! let y = conv.forward(&Tensor::zeros(&[2, 3, 16, 16]));
//! assert_eq!(y.shape(), &[2, 8, 16, 16]);
//! ```

use tensor::{Conv1dParams, Conv2dParams, Element, Pair, Parameter, Result, Tensor, TensorError};

use crate::init::{Fans, Init};
use crate::module::Module;

/// A 2-D convolution layer: [`Tensor::conv2d`] with a weight `[out, in / groups, kh, kw]`
/// and, unless made [`without_bias`](Conv2d::without_bias), a bias `[out]`.
pub struct Conv2d<T: Element = f32> {
    weight: Parameter<T>,
    bias: Option<Parameter<T>>,
    params: Conv2dParams,
}

/// A 1-D convolution layer: [`Tensor::conv1d`] with a weight `[out, in / groups, k]` and,
/// unless made [`without_bias`](Conv1d::without_bias), a bias `[out]`.
pub struct Conv1d<T: Element = f32> {
    weight: Parameter<T>,
    bias: Option<Parameter<T>>,
    params: Conv1dParams,
}

/// The weight `[out, in / groups, ..kernel]` and bias `[out]` of a convolution layer, drawn
/// as PyTorch draws them.
fn draw<T: Element>(
    op: &'static str,
    (inputs, outputs, groups): (usize, usize, usize),
    kernel: &[usize],
    bias: bool,
    rng: &mut impl rand::Rng,
) -> Result<(Parameter<T>, Option<Parameter<T>>)> {
    if inputs == 0 || outputs == 0 || groups == 0 || kernel.contains(&0) {
        return Err(TensorError::InvalidArgument {
            op,
            message: format!(
                "needs channels, groups and a kernel size of at least 1, got {inputs} -> \
                 {outputs} channels, {groups} groups, kernel {kernel:?}"
            ),
        });
    }
    if inputs % groups != 0 || outputs % groups != 0 {
        return Err(TensorError::InvalidArgument {
            op,
            message: format!(
                "groups {groups} must divide the {inputs} input and {outputs} output channels"
            ),
        });
    }
    let per_group = inputs / groups;
    let fans = Fans {
        fan_in: per_group * kernel.iter().product::<usize>(),
        fan_out: outputs / groups * kernel.iter().product::<usize>(),
    };
    let shape: Vec<usize> = [outputs, per_group].iter().chain(kernel).copied().collect();
    let weight = Parameter::new(Init::PytorchLinear.sample(&shape, fans, rng)?);
    let bias = if bias {
        Some(Parameter::new(Init::PytorchLinear.sample(
            &[outputs],
            fans,
            rng,
        )?))
    } else {
        None
    };
    Ok((weight, bias))
}

fn named<T: Element>(
    weight: &Parameter<T>,
    bias: &Option<Parameter<T>>,
) -> Vec<(String, Parameter<T>)> {
    let mut named = vec![("weight".to_string(), weight.clone())];
    if let Some(bias) = bias {
        named.push(("bias".to_string(), bias.clone()));
    }
    named
}

/// Checks a given weight and bias: a weight of `rank` dimensions, a bias `[weight[0]]`.
fn check_given<T: Element>(
    op: &'static str,
    weight: &Parameter<T>,
    bias: Option<&Parameter<T>>,
    rank: usize,
) -> Result<()> {
    let w = weight.shape();
    let fits = w.len() == rank && bias.is_none_or(|b| b.shape() == [w[0]]);
    if fits {
        return Ok(());
    }
    let b = bias.map(Parameter::shape).unwrap_or_default();
    Err(TensorError::InvalidArgument {
        op,
        message: format!(
            "a weight of shape {w:?} and a bias of shape {b:?} do not make a layer (expected \
             a {rank}-D weight [out, in / groups, ..kernel] and a bias [out])"
        ),
    })
}

impl<T: Element> Conv2d<T> {
    /// A layer from `in_channels` to `out_channels` with a `kernel` window and `params`.
    ///
    /// # Panics
    /// As [`try_new`](Conv2d::try_new) fails.
    #[track_caller]
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: impl Pair,
        params: Conv2dParams,
        rng: &mut impl rand::Rng,
    ) -> Self {
        Self::try_new(in_channels, out_channels, kernel, params, rng)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`new`](Conv2d::new).
    ///
    /// # Errors
    /// When a channel count, the group count or a kernel size is 0, or the groups do not
    /// divide the channels.
    pub fn try_new(
        in_channels: usize,
        out_channels: usize,
        kernel: impl Pair,
        params: Conv2dParams,
        rng: &mut impl rand::Rng,
    ) -> Result<Self> {
        let dims = (in_channels, out_channels, params.groups);
        let (weight, bias) = draw("Conv2d", dims, &kernel.pair(), true, rng)?;
        Ok(Conv2d {
            weight,
            bias,
            params,
        })
    }

    /// The same layer without a bias.
    #[must_use]
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }

    /// A layer over a given weight `[out, in / groups, kh, kw]` and bias `[out]`.
    ///
    /// # Errors
    /// When the weight is not 4-D or the bias is not `[out]`.
    pub fn from_parameters(
        weight: Parameter<T>,
        bias: Option<Parameter<T>>,
        params: Conv2dParams,
    ) -> Result<Self> {
        check_given("Conv2d", &weight, bias.as_ref(), 4)?;
        Ok(Conv2d {
            weight,
            bias,
            params,
        })
    }

    /// The weight, `[out, in / groups, kh, kw]`.
    pub fn weight(&self) -> &Parameter<T> {
        &self.weight
    }

    /// The bias, `[out]`.
    pub fn bias(&self) -> Option<&Parameter<T>> {
        self.bias.as_ref()
    }

    /// Stride, padding, dilation and groups.
    pub fn params(&self) -> Conv2dParams {
        self.params
    }
}

impl<T: Element> Module<T> for Conv2d<T> {
    fn try_forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        let bias = self.bias.as_ref().map(Parameter::tensor);
        x.try_conv2d(&self.weight.tensor(), bias.as_ref(), self.params)
    }

    fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
        named(&self.weight, &self.bias)
    }
}

impl<T: Element> Conv1d<T> {
    /// A layer from `in_channels` to `out_channels` with a window of `kernel` and `params`.
    ///
    /// # Panics
    /// As [`try_new`](Conv1d::try_new) fails.
    #[track_caller]
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        params: Conv1dParams,
        rng: &mut impl rand::Rng,
    ) -> Self {
        Self::try_new(in_channels, out_channels, kernel, params, rng)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`new`](Conv1d::new).
    ///
    /// # Errors
    /// As [`Conv2d::try_new`].
    pub fn try_new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        params: Conv1dParams,
        rng: &mut impl rand::Rng,
    ) -> Result<Self> {
        let dims = (in_channels, out_channels, params.groups);
        let (weight, bias) = draw("Conv1d", dims, &[kernel], true, rng)?;
        Ok(Conv1d {
            weight,
            bias,
            params,
        })
    }

    /// The same layer without a bias.
    #[must_use]
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }

    /// A layer over a given weight `[out, in / groups, k]` and bias `[out]`.
    ///
    /// # Errors
    /// When the weight is not 3-D or the bias is not `[out]`.
    pub fn from_parameters(
        weight: Parameter<T>,
        bias: Option<Parameter<T>>,
        params: Conv1dParams,
    ) -> Result<Self> {
        check_given("Conv1d", &weight, bias.as_ref(), 3)?;
        Ok(Conv1d {
            weight,
            bias,
            params,
        })
    }

    /// The weight, `[out, in / groups, k]`.
    pub fn weight(&self) -> &Parameter<T> {
        &self.weight
    }

    /// The bias, `[out]`.
    pub fn bias(&self) -> Option<&Parameter<T>> {
        self.bias.as_ref()
    }

    /// Stride, padding, dilation and groups.
    pub fn params(&self) -> Conv1dParams {
        self.params
    }
}

impl<T: Element> Module<T> for Conv1d<T> {
    fn try_forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        let bias = self.bias.as_ref().map(Parameter::tensor);
        x.try_conv1d(&self.weight.tensor(), bias.as_ref(), self.params)
    }

    fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
        named(&self.weight, &self.bias)
    }
}
