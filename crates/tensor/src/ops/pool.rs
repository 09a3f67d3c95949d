//! Pooling over the planes of NCHW tensors, as in PyTorch, with gradients of any order: max
//! pooling selects each window's maximum, and its derivative adds the gradient back at the
//! same positions (two recorded ops, each the other's derivative); average pooling is a
//! depthwise convolution with a constant weight, adaptive average pooling two products with
//! constant averaging matrices.

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::kernels::conv::Geometry;
use crate::kernels::window;
use crate::ops::Op;
use crate::ops::conv::{Pair, convolve};
use crate::tensor::Tensor;

/// The settings of [`max_pool2d`](Tensor::max_pool2d) and [`avg_pool2d`](Tensor::avg_pool2d),
/// PyTorch's defaults by [`new`](Pool2dParams::new): a stride equal to the kernel, no
/// padding, dilation 1, floor rounding, padding counted in averages.
///
/// ```
/// use tensor::Pool2dParams;
/// let p = Pool2dParams::new(3).stride(2).padding(1);
/// assert_eq!((p.kernel, p.stride, p.padding, p.ceil_mode), ([3, 3], [2, 2], [1, 1], false));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dParams {
    /// The window, `[height, width]`.
    pub kernel: [usize; 2],
    /// The step between windows.
    pub stride: [usize; 2],
    /// Implicit padding on each side, at most half the window: `-∞` for max pooling, zeros
    /// for average pooling.
    pub padding: [usize; 2],
    /// The spacing between a window's taps (max pooling only).
    pub dilation: [usize; 2],
    /// Whether the output size rounds up, so that a last, partial window covers the end of
    /// the input (a window never starts in the padding on the right).
    pub ceil_mode: bool,
    /// Whether an average counts the padding it covers (`true`, PyTorch's default) or
    /// averages the input values only.
    pub count_include_pad: bool,
}

impl Pool2dParams {
    /// Windows of `kernel`, stride `kernel`, no padding.
    pub fn new(kernel: impl Pair) -> Self {
        let kernel = kernel.pair();
        Pool2dParams {
            kernel,
            stride: kernel,
            padding: [0, 0],
            dilation: [1, 1],
            ceil_mode: false,
            count_include_pad: true,
        }
    }

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

    /// With the output size rounded up.
    #[must_use]
    pub fn ceil_mode(mut self, ceil_mode: bool) -> Self {
        self.ceil_mode = ceil_mode;
        self
    }

    /// Whether averages count the padding.
    #[must_use]
    pub fn count_include_pad(mut self, count_include_pad: bool) -> Self {
        self.count_include_pad = count_include_pad;
        self
    }
}

/// PyTorch's pooled length: floor (or, in ceil mode, ceiling) of the window count, less a
/// last window that would start in the right padding.
fn pooled_len(
    size: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
    ceil: bool,
) -> Option<usize> {
    let span = dilation * (kernel - 1) + 1;
    let padded = size + 2 * padding;
    if padded < span {
        return None;
    }
    let room = padded - span;
    let mut out = if ceil {
        room.div_ceil(stride)
    } else {
        room / stride
    } + 1;
    if ceil && (out - 1) * stride >= size + padding {
        out -= 1;
    }
    Some(out)
}

/// The windows of `p` over `x` (`[n, c, h, w]`), checked, as the geometry of a depthwise
/// convolution (one channel per group).
fn windows<T: Element>(name: &'static str, x: &Tensor<T>, p: &Pool2dParams) -> Result<Geometry> {
    if x.ndim() != 4 {
        return Err(TensorError::invalid(
            name,
            format!(
                "the input must be [batch, channels, height, width], got shape {:?}",
                x.shape()
            ),
        ));
    }
    for (what, v) in [
        ("kernel", p.kernel),
        ("stride", p.stride),
        ("dilation", p.dilation),
    ] {
        if v.contains(&0) {
            return Err(TensorError::invalid(
                name,
                format!("{what} {v:?} must be positive"),
            ));
        }
    }
    if p.padding[0] > p.kernel[0] / 2 || p.padding[1] > p.kernel[1] / 2 {
        return Err(TensorError::invalid(
            name,
            format!(
                "padding {:?} must be at most half the kernel {:?}",
                p.padding, p.kernel
            ),
        ));
    }
    let [n, c, h, w] = [x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]];
    let len = |i: usize, size: usize| {
        pooled_len(
            size,
            p.kernel[i],
            p.stride[i],
            p.padding[i],
            p.dilation[i],
            p.ceil_mode,
        )
    };
    let (Some(oh), Some(ow)) = (len(0, h), len(1, w)) else {
        return Err(TensorError::invalid(
            name,
            format!(
                "the window {:?} (dilation {:?}) is larger than the input {:?} padded by {:?}",
                p.kernel,
                p.dilation,
                x.shape(),
                p.padding
            ),
        ));
    };
    Ok(Geometry {
        batch: n,
        in_channels: c,
        out_channels: c,
        groups: c.max(1),
        input: [h, w],
        output: [oh, ow],
        kernel: p.kernel,
        stride: p.stride,
        padding: p.padding,
        dilation: p.dilation,
    })
}

impl<T: Element> Tensor<T> {
    /// The maximum of each window of an input `[n, c, h, w]`: `[n, c, oh, ow]`. The padding
    /// counts as `-∞`. The gradient goes to the position of each window's maximum; among
    /// equal values, to the first in row-major order within the window, and a NaN counts as
    /// the largest value (the first NaN is taken), as in PyTorch. A value that is the
    /// maximum of several windows receives the sum of their gradients.
    ///
    /// ```
    /// use tensor::{Pool2dParams, Tensor};
    /// let x = Tensor::<f64>::from_vec((0..16).map(f64::from).collect(), &[1, 1, 4, 4])?;
    /// let y = x.max_pool2d(Pool2dParams::new(2));
    /// assert_eq!(y.to_vec(), vec![5.0, 7.0, 13.0, 15.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    ///
    /// # Panics
    /// As [`try_max_pool2d`](Tensor::try_max_pool2d) fails.
    #[track_caller]
    pub fn max_pool2d(&self, params: Pool2dParams) -> Tensor<T> {
        self.try_max_pool2d(params)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`max_pool2d`](Tensor::max_pool2d).
    ///
    /// # Errors
    /// When the input is not 4-D, a kernel size, stride or dilation is 0, the padding is
    /// more than half the kernel, the window is larger than the padded input or a dilated
    /// window covers no input value, or memory runs out.
    pub fn try_max_pool2d(&self, params: Pool2dParams) -> Result<Tensor<T>> {
        let name = "max_pool2d";
        let g = windows(name, self, &params)?;
        let x = self.strided().contiguous(name)?;
        let positions = window::max_positions(name, &g, &x)?;
        let positions = Tensor::<i64>::from_vec(positions, &[g.output_len()])?;
        let data = window::take(name, &x, &positions.strided().contiguous(name)?)?;
        drop(x);
        Tensor::from_op(
            data,
            &g.output_shape(),
            Op::MaxPool {
                arg: self.clone(),
                positions,
            },
        )
    }

    /// The mean of each window of an input `[n, c, h, w]`: `[n, c, oh, ow]`. The padding
    /// counts as zeros, and in the divisor unless `count_include_pad` is off; in ceil mode, a
    /// last window that runs past the padding is divided by the part of it inside the padded
    /// input (PyTorch's rule). Dilation is for max pooling only.
    ///
    /// ```
    /// use tensor::{Pool2dParams, Tensor};
    /// let x = Tensor::<f64>::from_vec((0..16).map(f64::from).collect(), &[1, 1, 4, 4])?;
    /// let y = x.avg_pool2d(Pool2dParams::new(2));
    /// assert_eq!(y.to_vec(), vec![2.5, 4.5, 10.5, 12.5]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    ///
    /// # Panics
    /// As [`try_avg_pool2d`](Tensor::try_avg_pool2d) fails.
    #[track_caller]
    pub fn avg_pool2d(&self, params: Pool2dParams) -> Tensor<T> {
        self.try_avg_pool2d(params)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`avg_pool2d`](Tensor::avg_pool2d).
    ///
    /// # Errors
    /// As [`try_max_pool2d`](Tensor::try_max_pool2d), and when a dilation other than 1 is
    /// given.
    pub fn try_avg_pool2d(&self, params: Pool2dParams) -> Result<Tensor<T>> {
        let name = "avg_pool2d";
        if params.dilation != [1, 1] {
            return Err(TensorError::invalid(
                name,
                format!("average pooling has no dilation, got {:?}", params.dilation),
            ));
        }
        let g = windows(name, self, &params)?;
        let [_, c, h, w] = g.input_shape();
        let [oh, ow] = g.output;
        let [kh, kw] = params.kernel;
        let ones = Tensor::<T>::ones(&[c, 1, kh, kw]);
        let sums = convolve(&g, self, &ones, None)?;
        // Each window's divisor: the window clipped to the padded input (and, without
        // count_include_pad, to the input itself).
        let count = |i: usize, o: usize, size: usize| {
            let start = (o * params.stride[i]) as isize - params.padding[i] as isize;
            let end = (start + params.kernel[i] as isize).min((size + params.padding[i]) as isize);
            if params.count_include_pad {
                (end - start) as usize
            } else {
                (end.min(size as isize) - start.max(0)).max(0) as usize
            }
        };
        let divisors: Vec<T> = (0..oh)
            .flat_map(|r| (0..ow).map(move |q| (r, q)))
            .map(|(r, q)| T::one() / T::of_f64((count(0, r, h) * count(1, q, w)) as f64))
            .collect();
        if divisors.iter().all(|&d| d == divisors[0]) {
            return sums.try_mul_scalar(divisors[0]);
        }
        sums.try_mul(&Tensor::from_vec(divisors, &[oh, ow])?)
    }

    /// The mean over `output` (`[oh, ow]`) adaptive windows of an input `[n, c, h, w]`:
    /// window `i` along a dimension of size `h` covers `⌊i·h/oh⌋ .. ⌈(i+1)·h/oh⌉`, as in
    /// PyTorch. Computed as `P_h · x · P_wᵀ` with constant averaging matrices.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec((0..16).map(f64::from).collect(), &[1, 1, 4, 4])?;
    /// assert_eq!(x.adaptive_avg_pool2d(1).to_vec(), vec![7.5]);
    /// assert_eq!(x.adaptive_avg_pool2d(2).to_vec(), vec![2.5, 4.5, 10.5, 12.5]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    ///
    /// # Panics
    /// As [`try_adaptive_avg_pool2d`](Tensor::try_adaptive_avg_pool2d) fails.
    #[track_caller]
    pub fn adaptive_avg_pool2d(&self, output: impl Pair) -> Tensor<T> {
        self.try_adaptive_avg_pool2d(output)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`adaptive_avg_pool2d`](Tensor::adaptive_avg_pool2d).
    ///
    /// # Errors
    /// When the input is not 4-D or has no rows or columns, an output size is 0, or memory
    /// runs out.
    pub fn try_adaptive_avg_pool2d(&self, output: impl Pair) -> Result<Tensor<T>> {
        let name = "adaptive_avg_pool2d";
        let [oh, ow] = output.pair();
        if self.ndim() != 4 || self.shape()[2] == 0 || self.shape()[3] == 0 || oh == 0 || ow == 0 {
            return Err(TensorError::invalid(
                name,
                format!(
                    "needs an input [batch, channels, height, width] with positions and a \
                     positive output size, got the input {:?} and the output {:?}",
                    self.shape(),
                    [oh, ow]
                ),
            ));
        }
        let (h, w) = (self.shape()[2], self.shape()[3]);
        let averaging = |out: usize, size: usize| -> Result<Tensor<T>> {
            let mut m = vec![T::zero(); out * size];
            for i in 0..out {
                let (start, end) = (i * size / out, ((i + 1) * size).div_ceil(out));
                let weight = T::one() / T::of_f64((end - start) as f64);
                m[i * size + start..i * size + end].fill(weight);
            }
            Tensor::from_vec(m, &[out, size])
        };
        averaging(oh, h)?
            .try_matmul(self)?
            .try_matmul(&averaging(ow, w)?.t())
    }
}

/// The gradient of a max pool of `arg` given the gradient `g` of its output: `g` added at
/// each window's maximum, `positions` (checked when the pool made them) indexing the
/// row-major `arg`; recorded, its own derivative being the pool's selection at the same
/// positions.
pub(crate) fn max_pool_grad<T: Element>(
    arg_shape: &[usize],
    positions: &Tensor<i64>,
    g: &Tensor<T>,
) -> Result<Tensor<T>> {
    let name = "max_pool2d_backward";
    let len = arg_shape.iter().product();
    let data = window::put_add(
        name,
        len,
        &positions.strided().contiguous(name)?,
        &g.strided().contiguous(name)?,
    )?;
    Tensor::from_op(
        data,
        arg_shape,
        Op::MaxPoolGrad {
            grad: g.clone(),
            positions: positions.clone(),
        },
    )
}

/// The max pool's selection: `x`'s elements at `positions`, shaped `shape`; recorded.
pub(crate) fn max_pool_take<T: Element>(
    x: &Tensor<T>,
    positions: &Tensor<i64>,
    shape: &[usize],
) -> Result<Tensor<T>> {
    let name = "max_pool2d";
    let data = window::take(
        name,
        &x.strided().contiguous(name)?,
        &positions.strided().contiguous(name)?,
    )?;
    Tensor::from_op(
        data,
        shape,
        Op::MaxPool {
            arg: x.clone(),
            positions: positions.clone(),
        },
    )
}
