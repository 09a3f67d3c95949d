//! The mean squared error as one op: a training loss common enough to cost one pass.

use super::reduce::count;
use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::kernels::{Buf, reduce};
use crate::ops::Op;
use crate::tensor::Tensor;

impl<T: Element> Tensor<T> {
    /// The mean squared difference `mean((self - target)²)` of two tensors of one shape (NaN
    /// when empty), in one pass: the same value as the composite, bit for bit, recorded as one
    /// op. Derivatives: `2 (self - target) / n` and its negative.
    ///
    /// # Panics
    /// As [`try_mse`](Tensor::try_mse) fails.
    #[track_caller]
    pub fn mse(&self, target: &Tensor<T>) -> Tensor<T> {
        self.try_mse(target).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`mse`](Tensor::mse).
    ///
    /// # Errors
    /// When the shapes differ (no broadcasting: a `[N, 1]` against `[N]` mix-up is an error),
    /// or memory runs out.
    pub fn try_mse(&self, target: &Tensor<T>) -> Result<Tensor<T>> {
        let name = "mse";
        if self.shape() != target.shape() {
            return Err(TensorError::mismatch(
                name,
                self.shape(),
                target.shape(),
                format!(
                    "the prediction has shape {:?} but the target has shape {:?}",
                    self.shape(),
                    target.shape()
                ),
            ));
        }
        let squares = crate::kernels::elementwise::zip_map(
            name,
            self.strided(),
            target.strided(),
            |p, t| {
                let d = p - t;
                d * d
            },
        )?;
        let total = if squares.is_empty() {
            T::zero()
        } else {
            reduce::pairwise_sum(&squares)
        };
        let op = Op::Mse {
            pred: self.clone(),
            target: target.clone(),
        };
        let mean = Buf::from_slice(&[total / count(self.numel())]);
        Tensor::from_op(mean, &[], op)
    }
}
