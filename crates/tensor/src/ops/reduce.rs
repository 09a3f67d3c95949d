//! Reductions: sums, means, extremes, softmax.

use std::sync::Arc;

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::kernels::Buf;
use crate::kernels::reduce::{self, Axis, Extreme};
use crate::kernels::softmax;
use crate::layout::Layout;
use crate::ops::Op;
use crate::shape::{Dim, Dims};
use crate::tensor::Tensor;

/// The shape after reducing `dims` (sorted, distinct) of `shape`.
fn reduced_shape(shape: &[usize], dims: &[usize], keepdim: bool) -> Dims {
    let kept = shape.iter().enumerate();
    if keepdim {
        kept.map(|(d, &size)| if dims.contains(&d) { 1 } else { size })
            .collect()
    } else {
        kept.filter(|(d, _)| !dims.contains(d))
            .map(|(_, &size)| size)
            .collect()
    }
}

impl<T: Element> Tensor<T> {
    /// Sums over `dims` (sorted, distinct), recorded as one [`Op::Sum`].
    pub(crate) fn try_sum_dims(&self, dims: &[usize], keepdim: bool) -> Result<Tensor<T>> {
        let op = "sum";
        let source = self.strided().contiguous(op)?;
        let mut summed: Option<Buf<T>> = None;
        let mut shape: Vec<usize> = self.shape().to_vec();
        // Reduce each run of consecutive dims in one pass, the last run first so the indices
        // of the earlier runs stay valid.
        let mut end = dims.len();
        while end > 0 {
            let mut start = end - 1;
            while start > 0 && dims[start - 1] + 1 == dims[start] {
                start -= 1;
            }
            let span = dims[start]..dims[end - 1] + 1;
            let input: &[T] = summed.as_deref().unwrap_or(&source);
            let next = reduce::sum(op, input, Axis::spanning(&shape, span.clone()))?;
            summed = Some(next);
            shape.drain(span);
            end = start;
        }
        let data = summed.unwrap_or_else(|| Buf::from_slice(&source));
        let out_shape = reduced_shape(self.shape(), dims, keepdim);
        let op = Op::Sum {
            arg: self.clone(),
            dims: dims.into(),
            keepdim,
        };
        Tensor::from_op(data, &out_shape, op)
    }

    /// The sum of all elements, as a rank-0 tensor (0 for an empty tensor). Pairwise
    /// summation keeps the rounding error logarithmic in the length. Derivative: 1 for each
    /// element.
    ///
    /// # Panics
    /// When a non-contiguous input cannot be gathered for lack of memory.
    #[track_caller]
    pub fn sum(&self) -> Tensor<T> {
        self.try_sum().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`sum`](Tensor::sum).
    ///
    /// # Errors
    /// When memory runs out.
    pub fn try_sum(&self) -> Result<Tensor<T>> {
        let all: Dims = (0..self.ndim()).collect();
        self.try_sum_dims(&all, false)
    }

    /// The mean of all elements (NaN for an empty tensor, as 0 / 0).
    ///
    /// # Panics
    /// When memory runs out.
    #[track_caller]
    pub fn mean(&self) -> Tensor<T> {
        self.try_mean().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`mean`](Tensor::mean).
    ///
    /// # Errors
    /// When memory runs out.
    pub fn try_mean(&self) -> Result<Tensor<T>> {
        self.try_sum()?.try_div_scalar(count(self.numel()))
    }

    /// Sums along `dim`, keeping it as size 1 when `keepdim`.
    ///
    /// # Panics
    /// As [`try_sum_dim`](Tensor::try_sum_dim) fails.
    #[track_caller]
    pub fn sum_dim(&self, dim: impl Dim, keepdim: bool) -> Tensor<T> {
        self.try_sum_dim(dim, keepdim)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`sum_dim`](Tensor::sum_dim).
    ///
    /// # Errors
    /// When `dim` is out of range, or memory runs out.
    pub fn try_sum_dim(&self, dim: impl Dim, keepdim: bool) -> Result<Tensor<T>> {
        let dim = dim.resolve("sum_dim", self.ndim())?;
        self.try_sum_dims(&[dim], keepdim)
    }

    /// Means along `dim` (NaN where `dim` is empty).
    ///
    /// # Panics
    /// As [`try_mean_dim`](Tensor::try_mean_dim) fails.
    #[track_caller]
    pub fn mean_dim(&self, dim: impl Dim, keepdim: bool) -> Tensor<T> {
        self.try_mean_dim(dim, keepdim)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`mean_dim`](Tensor::mean_dim).
    ///
    /// # Errors
    /// When `dim` is out of range, or memory runs out.
    pub fn try_mean_dim(&self, dim: impl Dim, keepdim: bool) -> Result<Tensor<T>> {
        let dim = dim.resolve("mean_dim", self.ndim())?;
        let len = self.shape()[dim];
        self.try_sum_dims(&[dim], keepdim)?
            .try_div_scalar(count(len))
    }

    fn try_extreme(
        &self,
        name: &'static str,
        dim: impl Dim,
        keepdim: bool,
        kind: Extreme,
    ) -> Result<(Tensor<T>, Vec<usize>, Dims)> {
        let dim = dim.resolve(name, self.ndim())?;
        if self.shape()[dim] == 0 {
            return Err(TensorError::invalid(
                name,
                format!(
                    "cannot reduce the empty dimension {dim} of shape {:?}",
                    self.shape()
                ),
            ));
        }
        let data = self.strided().contiguous(name)?;
        let axis = Axis::of(self.shape(), dim);
        let (values, indices) = reduce::extreme(name, &data, axis, kind)?;
        let shape = reduced_shape(self.shape(), &[dim], keepdim);
        let indices_for_grad: Arc<[usize]> = indices.as_slice().into();
        let op = Op::Extreme {
            arg: self.clone(),
            dim,
            keepdim,
            indices: indices_for_grad,
            kind,
        };
        Ok((Tensor::from_op(values, &shape, op)?, indices, shape))
    }

    /// The largest element along `dim` (NaN if the slice holds one). Derivative: 1 at the
    /// position selected (the first, on ties), 0 elsewhere.
    ///
    /// # Panics
    /// As [`try_max_dim`](Tensor::try_max_dim) fails.
    #[track_caller]
    pub fn max_dim(&self, dim: impl Dim, keepdim: bool) -> Tensor<T> {
        self.try_max_dim(dim, keepdim)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`max_dim`](Tensor::max_dim).
    ///
    /// # Errors
    /// When `dim` is out of range or empty, or memory runs out.
    pub fn try_max_dim(&self, dim: impl Dim, keepdim: bool) -> Result<Tensor<T>> {
        Ok(self.try_extreme("max_dim", dim, keepdim, Extreme::Max)?.0)
    }

    /// The smallest element along `dim`; as [`max_dim`](Tensor::max_dim).
    ///
    /// # Panics
    /// As [`try_min_dim`](Tensor::try_min_dim) fails.
    #[track_caller]
    pub fn min_dim(&self, dim: impl Dim, keepdim: bool) -> Tensor<T> {
        self.try_min_dim(dim, keepdim)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`min_dim`](Tensor::min_dim).
    ///
    /// # Errors
    /// When `dim` is out of range or empty, or memory runs out.
    pub fn try_min_dim(&self, dim: impl Dim, keepdim: bool) -> Result<Tensor<T>> {
        Ok(self.try_extreme("min_dim", dim, keepdim, Extreme::Min)?.0)
    }

    /// The largest element of the whole tensor, as a rank-0 tensor.
    ///
    /// # Panics
    /// When the tensor is empty, or memory runs out.
    #[track_caller]
    pub fn max(&self) -> Tensor<T> {
        self.try_flatten()
            .and_then(|flat| flat.try_max_dim(0usize, false))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The smallest element of the whole tensor, as a rank-0 tensor.
    ///
    /// # Panics
    /// When the tensor is empty, or memory runs out.
    #[track_caller]
    pub fn min(&self) -> Tensor<T> {
        self.try_flatten()
            .and_then(|flat| flat.try_min_dim(0usize, false))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_arg_extreme(
        &self,
        name: &'static str,
        dim: impl Dim,
        keepdim: bool,
        kind: Extreme,
    ) -> Result<Tensor<i64>> {
        let (_, indices, shape) = crate::no_grad(|| self.try_extreme(name, dim, keepdim, kind))?;
        // A position below a dimension's size fits: sizes are element counts of a buffer.
        let data = indices.into_iter().map(|i| i as i64).collect();
        Ok(Tensor::constant(data, Layout::contiguous(&shape)))
    }

    /// The position of the largest element along `dim` (the first, on ties; a NaN wins), as
    /// an integer tensor that indexes ops such as [`gather`](Tensor::gather) take. Not
    /// differentiable.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let scores = Tensor::<f32>::from_vec(vec![0.1, 0.7, 0.2, 0.5, 0.3, 0.2], &[2, 3])?;
    /// assert_eq!(scores.argmax(1, false).to_vec(), vec![1, 0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    ///
    /// # Panics
    /// As [`try_argmax`](Tensor::try_argmax) fails.
    #[track_caller]
    pub fn argmax(&self, dim: impl Dim, keepdim: bool) -> Tensor<i64> {
        self.try_argmax(dim, keepdim)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`argmax`](Tensor::argmax).
    ///
    /// # Errors
    /// When `dim` is out of range or empty, or memory runs out.
    pub fn try_argmax(&self, dim: impl Dim, keepdim: bool) -> Result<Tensor<i64>> {
        self.try_arg_extreme("argmax", dim, keepdim, Extreme::Max)
    }

    /// The position of the smallest element along `dim`; as [`argmax`](Tensor::argmax).
    ///
    /// # Panics
    /// As [`try_argmin`](Tensor::try_argmin) fails.
    #[track_caller]
    pub fn argmin(&self, dim: impl Dim, keepdim: bool) -> Tensor<i64> {
        self.try_argmin(dim, keepdim)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`argmin`](Tensor::argmin).
    ///
    /// # Errors
    /// When `dim` is out of range or empty, or memory runs out.
    pub fn try_argmin(&self, dim: impl Dim, keepdim: bool) -> Result<Tensor<i64>> {
        self.try_arg_extreme("argmin", dim, keepdim, Extreme::Min)
    }

    /// `log(softmax(x))` along `dim`, computed as `x - max - ln(sum(exp(x - max)))` so no
    /// exponential overflows. Derivative: `g - softmax(x) * sum(g)` along `dim`. A slice that
    /// is all `-inf` (fully masked) gives `-inf` throughout, so that its softmax is 0.
    ///
    /// # Panics
    /// As [`try_log_softmax`](Tensor::try_log_softmax) fails.
    #[track_caller]
    pub fn log_softmax(&self, dim: impl Dim) -> Tensor<T> {
        self.try_log_softmax(dim).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`log_softmax`](Tensor::log_softmax).
    ///
    /// # Errors
    /// When `dim` is out of range, or memory runs out.
    pub fn try_log_softmax(&self, dim: impl Dim) -> Result<Tensor<T>> {
        let name = "log_softmax";
        let dim = dim.resolve(name, self.ndim())?;
        let data = self.strided().contiguous(name)?;
        let out = softmax::log_softmax(name, &data, Axis::of(self.shape(), dim))?;
        let op = Op::LogSoftmax {
            arg: self.clone(),
            dim,
        };
        Tensor::from_op(out, self.shape(), op)
    }

    /// `exp(x) / sum(exp(x))` along `dim`, computed as `exp(x - max) / sum(exp(x - max))`
    /// so that nothing overflows. Derivative: `y (g - sum(g y))` along `dim`, from the result.
    ///
    /// Elements at `-inf` (masked out) get 0 and no gradient. A slice that is all `-inf` (a
    /// fully masked row) gives zeros and a zero gradient, not the NaN of `0 / 0`.
    ///
    /// # Panics
    /// As [`try_softmax`](Tensor::try_softmax) fails.
    #[track_caller]
    pub fn softmax(&self, dim: impl Dim) -> Tensor<T> {
        self.try_softmax(dim).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`softmax`](Tensor::softmax).
    ///
    /// # Errors
    /// When `dim` is out of range, or memory runs out.
    pub fn try_softmax(&self, dim: impl Dim) -> Result<Tensor<T>> {
        let name = "softmax";
        let dim = dim.resolve(name, self.ndim())?;
        let data = self.strided().contiguous(name)?;
        let out = softmax::softmax(name, &data, Axis::of(self.shape(), dim))?;
        let op = Op::Softmax {
            arg: self.clone(),
            dim,
        };
        Tensor::from_op(out, self.shape(), op)
    }

    /// `ln(sum(exp(x)))` along `dim`, computed as `m + ln(sum(exp(x - m)))` with `m` the
    /// (constant) maximum, so nothing overflows. Derivative: `softmax(x)`.
    ///
    /// # Panics
    /// As [`try_logsumexp`](Tensor::try_logsumexp) fails.
    #[track_caller]
    pub fn logsumexp(&self, dim: impl Dim, keepdim: bool) -> Tensor<T> {
        self.try_logsumexp(dim, keepdim)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`logsumexp`](Tensor::logsumexp).
    ///
    /// # Errors
    /// When `dim` is out of range or empty, or memory runs out.
    pub fn try_logsumexp(&self, dim: impl Dim, keepdim: bool) -> Result<Tensor<T>> {
        let dim = dim.resolve("logsumexp", self.ndim())?;
        // The shift cancels in the value and the gradient, so it need not be differentiated;
        // an infinite maximum is replaced by 0 so that inf - inf cannot appear.
        let max = crate::no_grad(|| self.try_max_dim(dim, true))?;
        let finite = max
            .to_vec()
            .into_iter()
            .map(|m| if m.is_finite() { m } else { T::zero() });
        let shift = Tensor::constant(finite.collect(), Layout::contiguous(max.shape()));
        let summed = self
            .try_sub(&shift)?
            .try_exp()?
            .try_sum_dims(&[dim], true)?;
        let out = summed.try_ln()?.try_add(&shift)?;
        if keepdim {
            Ok(out)
        } else {
            out.try_squeeze(dim)
        }
    }
}

/// A count as an element value.
pub(super) fn count<T: Element>(n: usize) -> T {
    T::from_usize(n).unwrap_or_else(T::infinity)
}

impl Tensor<i64> {
    /// The sum of all elements, as a rank-0 tensor: the count of a mask's ones, say.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let predicted = Tensor::<i64>::from_slice(&[2, 0, 1, 1]);
    /// let labels = Tensor::<i64>::from_slice(&[2, 1, 1, 0]);
    /// assert_eq!(predicted.eq(&labels).sum().item(), 2);
    /// ```
    ///
    /// # Panics
    /// As [`try_sum`](Tensor::try_sum) fails.
    #[track_caller]
    pub fn sum(&self) -> Tensor<i64> {
        self.try_sum().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`sum`](Tensor::sum).
    ///
    /// # Errors
    /// When the sum overflows `i64`.
    pub fn try_sum(&self) -> Result<Tensor<i64>> {
        let mut total = Some(0i64);
        self.for_each_value(|_, v| total = total.and_then(|t| t.checked_add(v)));
        let total = total.ok_or_else(|| {
            TensorError::invalid(
                "sum",
                format!("the sum of {:?} overflows i64", self.shape()),
            )
        })?;
        Ok(Tensor::scalar(total))
    }
}
