//! Layer normalisation over the last dimension, in one pass each way.

use std::sync::Arc;

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::kernels::norm;
use crate::ops::Op;
use crate::tensor::Tensor;

impl<T: Element> Tensor<T> {
    /// `(x - E[x]) / √(Var[x] + eps) · weight + bias` over the last dimension (the biased
    /// variance, as PyTorch's `layer_norm`), `weight` and `bias` (each optional) of that
    /// dimension's size. One pass forward and one backward, which keeps each row's mean and
    /// `1/√(Var + eps)`; the derivative goes through tensor ops when its own derivative is
    /// needed. `nn::layer_norm` normalises over several trailing dimensions with it.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 10.0, 20.0, 30.0], &[2, 3])?;
    /// let y = x.layer_norm(None, None, 0.0).to_vec();
    /// let s = (2.0f64 / 3.0).sqrt(); // each row's standard deviation, over its spacing
    /// assert!((y[0] + 1.0 / s).abs() < 1e-15 && y[1] == 0.0 && (y[3] - y[0]).abs() < 1e-15);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    ///
    /// # Panics
    /// As [`try_layer_norm`](Tensor::try_layer_norm) fails.
    #[track_caller]
    pub fn layer_norm(
        &self,
        weight: Option<&Tensor<T>>,
        bias: Option<&Tensor<T>>,
        eps: f64,
    ) -> Tensor<T> {
        self.try_layer_norm(weight, bias, eps)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`layer_norm`](Tensor::layer_norm).
    ///
    /// # Errors
    /// When this tensor has rank 0, `weight` or `bias` is not of the last dimension's size,
    /// `eps` is negative or not finite, or memory runs out.
    pub fn try_layer_norm(
        &self,
        weight: Option<&Tensor<T>>,
        bias: Option<&Tensor<T>>,
        eps: f64,
    ) -> Result<Tensor<T>> {
        let name = "layer_norm";
        let Some(&len) = self.shape().last() else {
            return Err(TensorError::invalid(
                name,
                "needs a tensor of rank 1 or more, got a scalar",
            ));
        };
        for (what, p) in [("weight", weight), ("bias", bias)] {
            if let Some(p) = p
                && p.shape() != [len]
            {
                return Err(TensorError::mismatch(
                    name,
                    self.shape(),
                    p.shape(),
                    format!(
                        "the {what} has shape {:?}, not [{len}], the last dimension of {:?}",
                        p.shape(),
                        self.shape()
                    ),
                ));
            }
        }
        if !(eps >= 0.0 && eps.is_finite()) {
            return Err(TensorError::invalid(
                name,
                format!("eps must be finite and at least 0, got {eps}"),
            ));
        }
        let eps = T::of_f64(eps);
        let x = self.strided().contiguous(name)?;
        let w = weight.map(|w| w.strided().contiguous(name)).transpose()?;
        let b = bias.map(|b| b.strided().contiguous(name)).transpose()?;
        let (stats, data) = if len == 0 {
            (Vec::new(), crate::kernels::buffer(name, 0)?)
        } else {
            let stats = norm::row_stats(&x, len, eps);
            let data = norm::forward(name, &x, len, &stats, w.as_deref(), b.as_deref())?;
            (stats, data)
        };
        drop((x, w, b));
        let mut args = vec![self.clone()];
        args.extend(weight.cloned());
        args.extend(bias.cloned());
        let op = Op::LayerNorm {
            args,
            affine: [weight.is_some(), bias.is_some()],
            eps,
            stats: stats.into(),
        };
        Tensor::from_op(data, self.shape(), op)
    }
}

/// The statistics a recorded layer norm keeps: each row's mean and `1/√(Var + eps)`.
pub(crate) type RowStats<T> = Arc<[(T, T)]>;
