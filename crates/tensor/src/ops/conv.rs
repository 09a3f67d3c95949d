//! Convolutions over NCHW (and NCL) tensors, as in PyTorch.
//!
//! Three recorded operations make the family: the convolution, its adjoint in the input
//! (the transposed convolution) and its weight gradient. Each one's derivatives are the
//! other two, so gradients of any order stay inside the family and run on the same kernels.

use std::sync::Arc;

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::kernels::conv::{self, Geometry};
use crate::ops::Op;
use crate::tensor::Tensor;

/// A size given for both spatial dimensions (`2`, `[2, 1]` or `(2, 1)`: height, then width).
pub trait Pair {
    /// `[height, width]`.
    fn pair(self) -> [usize; 2];
}

impl Pair for usize {
    fn pair(self) -> [usize; 2] {
        [self, self]
    }
}

impl Pair for [usize; 2] {
    fn pair(self) -> [usize; 2] {
        self
    }
}

impl Pair for (usize, usize) {
    fn pair(self) -> [usize; 2] {
        [self.0, self.1]
    }
}

/// The settings of [`conv2d`](Tensor::conv2d), PyTorch's defaults by [`Default`]: stride 1,
/// no padding, dilation 1, one group.
///
/// ```
/// use tensor::Conv2dParams;
/// let p = Conv2dParams::default().stride(2).padding([1, 0]);
/// assert_eq!((p.stride, p.padding, p.dilation, p.groups), ([2, 2], [1, 0], [1, 1], 1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dParams {
    /// The step between windows, `[height, width]`.
    pub stride: [usize; 2],
    /// Zeros added on each side, `[height, width]`.
    pub padding: [usize; 2],
    /// The spacing between a window's taps, `[height, width]`.
    pub dilation: [usize; 2],
    /// The channel groups: group `i` of the output reads group `i` of the input only.
    pub groups: usize,
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams {
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
        }
    }
}

impl Conv2dParams {
    /// With this stride.
    #[must_use]
    pub fn stride(mut self, stride: impl Pair) -> Self {
        self.stride = stride.pair();
        self
    }

    /// With this padding.
    #[must_use]
    pub fn padding(mut self, padding: impl Pair) -> Self {
        self.padding = padding.pair();
        self
    }

    /// With this dilation.
    #[must_use]
    pub fn dilation(mut self, dilation: impl Pair) -> Self {
        self.dilation = dilation.pair();
        self
    }

    /// With this many groups.
    #[must_use]
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }
}

/// The settings of [`conv1d`](Tensor::conv1d), PyTorch's defaults by [`Default`].
///
/// ```
/// use tensor::Conv1dParams;
/// let p = Conv1dParams::default().padding(2).dilation(2);
/// assert_eq!((p.stride, p.padding, p.dilation, p.groups), (1, 2, 2, 1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv1dParams {
    /// The step between windows.
    pub stride: usize,
    /// Zeros added on each side.
    pub padding: usize,
    /// The spacing between a window's taps.
    pub dilation: usize,
    /// The channel groups.
    pub groups: usize,
}

impl Default for Conv1dParams {
    fn default() -> Self {
        Conv1dParams {
            stride: 1,
            padding: 0,
            dilation: 1,
            groups: 1,
        }
    }
}

impl Conv1dParams {
    /// With this stride.
    #[must_use]
    pub fn stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }

    /// With this padding.
    #[must_use]
    pub fn padding(mut self, padding: usize) -> Self {
        self.padding = padding;
        self
    }

    /// With this dilation.
    #[must_use]
    pub fn dilation(mut self, dilation: usize) -> Self {
        self.dilation = dilation;
        self
    }

    /// With this many groups.
    #[must_use]
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }
}

/// The settings of [`conv_transpose2d`](Tensor::conv_transpose2d), PyTorch's defaults by
/// [`Default`]: those of the convolution it is the adjoint of, and `output_padding`, the
/// rows and columns added at the bottom and right of the output (a stride above 1 maps
/// several input sizes to one output size; this picks which).
///
/// ```
/// use tensor::ConvTranspose2dParams;
/// let p = ConvTranspose2dParams::default().stride(2).output_padding(1);
/// assert_eq!((p.conv.stride, p.output_padding), ([2, 2], [1, 1]));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConvTranspose2dParams {
    /// Stride, padding, dilation and groups, as the convolution this is the adjoint of has.
    pub conv: Conv2dParams,
    /// Added to the bottom and the right of the output; less than the stride.
    pub output_padding: [usize; 2],
}

impl ConvTranspose2dParams {
    /// With this stride.
    #[must_use]
    pub fn stride(mut self, stride: impl Pair) -> Self {
        self.conv = self.conv.stride(stride);
        self
    }

    /// With this padding.
    #[must_use]
    pub fn padding(mut self, padding: impl Pair) -> Self {
        self.conv = self.conv.padding(padding);
        self
    }

    /// With this output padding.
    #[must_use]
    pub fn output_padding(mut self, output_padding: impl Pair) -> Self {
        self.output_padding = output_padding.pair();
        self
    }

    /// With this dilation.
    #[must_use]
    pub fn dilation(mut self, dilation: impl Pair) -> Self {
        self.conv = self.conv.dilation(dilation);
        self
    }

    /// With this many groups.
    #[must_use]
    pub fn groups(mut self, groups: usize) -> Self {
        self.conv = self.conv.groups(groups);
        self
    }
}

/// The output length of a window of `kernel` taps `dilation` apart, moved by `stride` over
/// `size` values padded by `padding` on both sides; `None` when the window is longer than the
/// padded input.
pub(crate) fn out_len(
    size: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> Option<usize> {
    let span = dilation * (kernel - 1) + 1;
    let padded = size + 2 * padding;
    (padded >= span).then(|| (padded - span) / stride + 1)
}

/// Checks the settings common to every convolution: positive stride, dilation and groups.
fn check_params(name: &'static str, p: &Conv2dParams) -> Result<()> {
    if p.stride.contains(&0) {
        return Err(TensorError::invalid(
            name,
            format!("stride {:?} must be positive", p.stride),
        ));
    }
    if p.dilation.contains(&0) {
        return Err(TensorError::invalid(
            name,
            format!("dilation {:?} must be positive", p.dilation),
        ));
    }
    if p.groups == 0 {
        return Err(TensorError::invalid(name, "groups must be positive"));
    }
    Ok(())
}

/// The geometry of a convolution of an input of shape `input` (`[n, c, h, w]`, or
/// `[n, c, l]` for a 1-D one) with a weight of shape `weight` (`[o, c / groups, kh, kw]`, or
/// `[o, c / groups, k]`), checked.
fn conv_geometry(
    name: &'static str,
    (input, weight): (&[usize], &[usize]),
    p: &Conv2dParams,
) -> Result<Geometry> {
    check_params(name, p)?;
    // A 1-D convolution is one over a single row: its messages show its own shapes and
    // the settings of the one spatial dimension it has.
    let spatial = input.len() - 2;
    let (x4, w4): (Vec<usize>, Vec<usize>) = if spatial == 1 {
        (
            [&input[..2], &[1], &input[2..]].concat(),
            [&weight[..2], &[1], &weight[2..]].concat(),
        )
    } else {
        (input.to_vec(), weight.to_vec())
    };
    let shown = |pair: [usize; 2]| format!("{:?}", &pair[2 - spatial..]);
    let [batch, in_channels, h, w] = four(&x4);
    let [out_channels, per_group, kh, kw] = four(&w4);
    let groups = p.groups;
    if in_channels % groups != 0 || out_channels % groups != 0 {
        return Err(TensorError::invalid(
            name,
            format!(
                "groups {groups} must divide the input's {in_channels} channels and the weight's \
                 {out_channels} output channels"
            ),
        ));
    }
    if per_group != in_channels / groups {
        return Err(TensorError::mismatch(
            name,
            input,
            weight,
            format!(
                "the weight {weight:?} takes {per_group} channels per group, but the input \
                 {input:?} has {} ({in_channels} in {groups} groups)",
                in_channels / groups
            ),
        ));
    }
    if kh == 0 || kw == 0 {
        return Err(TensorError::invalid(
            name,
            format!("the weight {weight:?} has an empty kernel"),
        ));
    }
    let oh = out_len(h, kh, p.stride[0], p.padding[0], p.dilation[0]);
    let ow = out_len(w, kw, p.stride[1], p.padding[1], p.dilation[1]);
    let (Some(oh), Some(ow)) = (oh, ow) else {
        return Err(TensorError::mismatch(
            name,
            input,
            weight,
            format!(
                "the kernel {} (dilation {}) is larger than the input {input:?} padded by {}",
                shown([kh, kw]),
                shown(p.dilation),
                shown(p.padding)
            ),
        ));
    };
    let g = Geometry {
        batch,
        in_channels,
        out_channels,
        groups,
        input: [h, w],
        output: [oh, ow],
        kernel: [kh, kw],
        stride: p.stride,
        padding: p.padding,
        dilation: p.dilation,
    };
    crate::shape::checked_numel(name, &g.output_shape())?;
    Ok(g)
}

fn four(shape: &[usize]) -> [usize; 4] {
    [shape[0], shape[1], shape[2], shape[3]]
}

/// Checks that `x` has `rank` dimensions, naming it `what`.
fn check_rank<T: Element>(
    name: &'static str,
    what: &str,
    x: &Tensor<T>,
    rank: usize,
    form: &str,
) -> Result<()> {
    if x.ndim() == rank {
        return Ok(());
    }
    Err(TensorError::invalid(
        name,
        format!("the {what} must be {form}, got shape {:?}", x.shape()),
    ))
}

/// Checks that `bias` is `[channels]`.
fn check_bias<T: Element>(
    name: &'static str,
    bias: Option<&Tensor<T>>,
    channels: usize,
) -> Result<()> {
    match bias {
        Some(b) if b.shape() != [channels] => Err(TensorError::invalid(
            name,
            format!(
                "the bias must be [{channels}] (one value per output channel), got {:?}",
                b.shape()
            ),
        )),
        _ => Ok(()),
    }
}

impl<T: Element> Tensor<T> {
    /// The 2-D convolution (cross-correlation, as in every deep-learning library) of an input
    /// `[n, c, h, w]` with a weight `[o, c / groups, kh, kw]`, plus a bias `[o]` when given:
    /// `[n, o, oh, ow]` with `oh = (h + 2·padding − dilation·(kh − 1) − 1) / stride + 1`.
    ///
    /// The kernels unfold tiles of the input (im2col) and multiply them by the weight with
    /// gemm; a 1×1 convolution with stride 1 and no padding multiplies the input directly.
    /// Derivatives: the input's is the transposed convolution of the gradient with the same
    /// weight, the weight's the product of the gradient with the unfolded input, the bias's
    /// the gradient summed over the batch and the positions; they are recorded as the same
    /// family of operations, so gradients of any order work.
    ///
    /// ```
    /// use tensor::{Conv2dParams, Tensor};
    /// let x = Tensor::<f64>::from_vec((0..9).map(f64::from).collect(), &[1, 1, 3, 3])?;
    /// let w = Tensor::<f64>::ones(&[1, 1, 2, 2]);
    /// let y = x.conv2d(&w, None, Conv2dParams::default());
    /// assert_eq!(y.shape(), &[1, 1, 2, 2]);
    /// assert_eq!(y.to_vec(), vec![8.0, 12.0, 20.0, 24.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    ///
    /// # Panics
    /// As [`try_conv2d`](Tensor::try_conv2d) fails.
    #[track_caller]
    pub fn conv2d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        params: Conv2dParams,
    ) -> Tensor<T> {
        self.try_conv2d(weight, bias, params)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`conv2d`](Tensor::conv2d).
    ///
    /// # Errors
    /// When the input or the weight is not 4-D, the channels do not match the weight and the
    /// groups, the kernel is larger than the padded input, the bias is not `[o]`, a stride,
    /// a dilation or the group count is 0, or memory runs out; the message names the shapes.
    pub fn try_conv2d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        params: Conv2dParams,
    ) -> Result<Tensor<T>> {
        let name = "conv2d";
        check_rank(name, "input", self, 4, "[batch, channels, height, width]")?;
        check_rank(
            name,
            "weight",
            weight,
            4,
            "[out_channels, in_channels / groups, kh, kw]",
        )?;
        let g = conv_geometry(name, (self.shape(), weight.shape()), &params)?;
        check_bias(name, bias, g.out_channels)?;
        convolve(&g, self, weight, bias)
    }

    /// The 1-D convolution of an input `[n, c, l]` with a weight `[o, c / groups, k]`, plus a
    /// bias `[o]` when given: `[n, o, ol]`, as [`conv2d`](Tensor::conv2d) over one row.
    ///
    /// ```
    /// use tensor::{Conv1dParams, Tensor};
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 4])?;
    /// let w = Tensor::<f64>::from_vec(vec![1.0, -1.0], &[1, 1, 2])?;
    /// let y = x.conv1d(&w, None, Conv1dParams::default().padding(1));
    /// assert_eq!(y.to_vec(), vec![-1.0, -1.0, -1.0, -1.0, 4.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    ///
    /// # Panics
    /// As [`try_conv1d`](Tensor::try_conv1d) fails.
    #[track_caller]
    pub fn conv1d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        params: Conv1dParams,
    ) -> Tensor<T> {
        self.try_conv1d(weight, bias, params)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`conv1d`](Tensor::conv1d).
    ///
    /// # Errors
    /// As [`try_conv2d`](Tensor::try_conv2d), for 3-D inputs and weights.
    pub fn try_conv1d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        params: Conv1dParams,
    ) -> Result<Tensor<T>> {
        let name = "conv1d";
        check_rank(name, "input", self, 3, "[batch, channels, length]")?;
        check_rank(
            name,
            "weight",
            weight,
            3,
            "[out_channels, in_channels / groups, k]",
        )?;
        let p = Conv2dParams {
            stride: [1, params.stride],
            padding: [0, params.padding],
            dilation: [1, params.dilation],
            groups: params.groups,
        };
        let g = conv_geometry(name, (self.shape(), weight.shape()), &p)?;
        check_bias(name, bias, g.out_channels)?;
        let (x, w) = (self.try_unsqueeze(2usize)?, weight.try_unsqueeze(2usize)?);
        convolve(&g, &x, &w, bias)?.try_squeeze(2usize)
    }

    /// The transposed convolution (sometimes called deconvolution) of an input
    /// `[n, c_in, h, w]` with a weight `[c_in, c_out / groups, kh, kw]`, plus a bias `[c_out]`
    /// when given: the adjoint of [`conv2d`](Tensor::conv2d) in its input, with
    /// `oh = (h − 1)·stride − 2·padding + dilation·(kh − 1) + output_padding + 1`. The
    /// convolution with the same weight and settings maps `oh × ow` back to `h × w`.
    ///
    /// ```
    /// use tensor::{ConvTranspose2dParams, Tensor};
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2])?;
    /// let w = Tensor::<f64>::ones(&[1, 1, 2, 2]);
    /// let y = x.conv_transpose2d(&w, None, ConvTranspose2dParams::default().stride(2));
    /// assert_eq!(y.shape(), &[1, 1, 4, 4]);
    /// assert_eq!(y.to_vec()[..4], [1.0, 1.0, 2.0, 2.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    ///
    /// # Panics
    /// As [`try_conv_transpose2d`](Tensor::try_conv_transpose2d) fails.
    #[track_caller]
    pub fn conv_transpose2d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        params: ConvTranspose2dParams,
    ) -> Tensor<T> {
        self.try_conv_transpose2d(weight, bias, params)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`conv_transpose2d`](Tensor::conv_transpose2d).
    ///
    /// # Errors
    /// When the input or the weight is not 4-D, the input's channels are not the weight's
    /// first dimension, the groups do not divide the channels, the output padding is not
    /// less than the stride, the output would be empty, the bias is not `[c_out]`, or memory
    /// runs out.
    pub fn try_conv_transpose2d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        params: ConvTranspose2dParams,
    ) -> Result<Tensor<T>> {
        let name = "conv_transpose2d";
        check_rank(name, "input", self, 4, "[batch, channels, height, width]")?;
        check_rank(
            name,
            "weight",
            weight,
            4,
            "[in_channels, out_channels / groups, kh, kw]",
        )?;
        let p = params.conv;
        check_params(name, &p)?;
        let [batch, in_channels, h, w] = four(self.shape());
        let [w_in, per_group, kh, kw] = four(weight.shape());
        if w_in != in_channels {
            return Err(TensorError::mismatch(
                name,
                self.shape(),
                weight.shape(),
                format!(
                    "the weight {:?} is for {w_in} input channels, but the input {:?} has {in_channels}",
                    weight.shape(),
                    self.shape()
                ),
            ));
        }
        if in_channels % p.groups != 0 {
            return Err(TensorError::invalid(
                name,
                format!(
                    "groups {} must divide the input's {in_channels} channels",
                    p.groups
                ),
            ));
        }
        if kh == 0 || kw == 0 {
            return Err(TensorError::invalid(
                name,
                format!("the weight {:?} has an empty kernel", weight.shape()),
            ));
        }
        let op = params.output_padding;
        if op[0] >= p.stride[0] || op[1] >= p.stride[1] {
            return Err(TensorError::invalid(
                name,
                format!(
                    "output padding {op:?} must be less than the stride {:?}",
                    p.stride
                ),
            ));
        }
        if h == 0 || w == 0 {
            return Err(TensorError::invalid(
                name,
                format!("the input {:?} has no positions", self.shape()),
            ));
        }
        let size = |i: usize, n: usize, k: usize| -> Option<usize> {
            ((n - 1) * p.stride[i] + p.dilation[i] * (k - 1) + op[i] + 1)
                .checked_sub(2 * p.padding[i])
                .filter(|&s| s > 0)
        };
        let (Some(oh), Some(ow)) = (size(0, h, kh), size(1, w, kw)) else {
            return Err(TensorError::invalid(
                name,
                format!(
                    "the padding {:?} leaves no output for the input {:?} and the kernel {:?}",
                    p.padding,
                    self.shape(),
                    [kh, kw]
                ),
            ));
        };
        let out_channels = per_group * p.groups;
        check_bias(name, bias, out_channels)?;
        // The convolution whose adjoint this is: from [n, c_out, oh, ow] to the input's shape.
        let g = Geometry {
            batch,
            in_channels: out_channels,
            out_channels: in_channels,
            groups: p.groups,
            input: [oh, ow],
            output: [h, w],
            kernel: [kh, kw],
            stride: p.stride,
            padding: p.padding,
            dilation: p.dilation,
        };
        debug_assert_eq!(
            [
                out_len(oh, kh, p.stride[0], p.padding[0], p.dilation[0]),
                out_len(ow, kw, p.stride[1], p.padding[1], p.dilation[1])
            ],
            [Some(h), Some(w)]
        );
        crate::shape::checked_numel(name, &g.input_shape())?;
        adjoint(&g, self, weight, bias)
    }
}

/// The convolution of geometry `g` of `x` with `w` (and `bias`), recorded.
pub(crate) fn convolve<T: Element>(
    g: &Geometry,
    x: &Tensor<T>,
    w: &Tensor<T>,
    bias: Option<&Tensor<T>>,
) -> Result<Tensor<T>> {
    let name = "conv2d";
    let bias_data = bias.map(|b| b.strided().contiguous(name)).transpose()?;
    let data = conv::forward(
        name,
        g,
        &x.strided().contiguous(name)?,
        &w.strided().contiguous(name)?,
        bias_data.as_deref(),
    )?;
    let (inputs, n) = with_bias([x, w], bias);
    Tensor::from_op_with(data, &g.output_shape(), name, &inputs[..n], || Op::Conv2d {
        input: x.clone(),
        weight: w.clone(),
        bias: bias.cloned(),
        geometry: Arc::new(*g),
    })
}

/// The adjoint of the convolution of geometry `g` in its input, applied to `y` (shaped as
/// that convolution's output), with `w` (and `bias`, one value per channel of the result),
/// recorded: the transposed convolution, and the convolution's input gradient.
pub(crate) fn adjoint<T: Element>(
    g: &Geometry,
    y: &Tensor<T>,
    w: &Tensor<T>,
    bias: Option<&Tensor<T>>,
) -> Result<Tensor<T>> {
    let name = "conv_transpose2d";
    let bias_data = bias.map(|b| b.strided().contiguous(name)).transpose()?;
    let data = conv::input_grad(
        name,
        g,
        &y.strided().contiguous(name)?,
        &w.strided().contiguous(name)?,
        bias_data.as_deref(),
    )?;
    let (inputs, n) = with_bias([y, w], bias);
    Tensor::from_op_with(data, &g.input_shape(), name, &inputs[..n], || {
        Op::ConvTranspose2d {
            input: y.clone(),
            weight: w.clone(),
            bias: bias.cloned(),
            geometry: Arc::new(*g),
        }
    })
}

/// The weight gradient of the convolution of geometry `g`, from its input `x` and the
/// gradient `gy` of its output, recorded.
pub(crate) fn weight_grad<T: Element>(
    g: &Geometry,
    x: &Tensor<T>,
    gy: &Tensor<T>,
) -> Result<Tensor<T>> {
    let name = "conv2d_weight";
    let data = conv::weight_grad(
        name,
        g,
        &x.strided().contiguous(name)?,
        &gy.strided().contiguous(name)?,
    )?;
    Tensor::from_op_with(data, &g.weight_shape(), name, &[x, gy], || {
        Op::Conv2dWeight {
            input: x.clone(),
            grad: gy.clone(),
            geometry: Arc::new(*g),
        }
    })
}

/// The inputs of an operation with an optional third one: all three and 3, or the first two
/// (the second repeated to fill the array) and 2.
fn with_bias<'a, T: Element>(
    [a, b]: [&'a Tensor<T>; 2],
    bias: Option<&'a Tensor<T>>,
) -> ([&'a Tensor<T>; 3], usize) {
    match bias {
        Some(c) => ([a, b, c], 3),
        None => ([a, b, b], 2),
    }
}
