//! Matrix multiplication.

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::kernels::matmul;
use crate::ops::Op;
use crate::shape::{Dims, broadcast_shapes};
use crate::tensor::Tensor;

impl<T: Element> Tensor<T> {
    /// The matrix product, following NumPy's `matmul`: `[.., m, k] · [.., k, n] -> [.., m, n]`
    /// with the batch dimensions broadcast; a 1-D left operand is a row vector and a 1-D right
    /// operand a column vector, their added dimension removed from the result. Transposed
    /// operands are read through their strides, never copied. Derivatives: `g · rhsᵀ` for the
    /// left operand and `lhsᵀ · g` for the right.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let a = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
    /// let b = Tensor::<f32>::from_vec(vec![1.0, 0.0], &[2])?;
    /// assert_eq!(a.matmul(&b).to_vec(), vec![1.0, 3.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    ///
    /// # Panics
    /// As [`try_matmul`](Tensor::try_matmul) fails.
    #[track_caller]
    pub fn matmul(&self, rhs: &Tensor<T>) -> Tensor<T> {
        self.try_matmul(rhs).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`matmul`](Tensor::matmul).
    ///
    /// # Errors
    /// When an operand is rank 0, the inner dimensions differ, the batch dimensions do not
    /// broadcast, or memory runs out. The message names both shapes:
    /// `matmul: cannot multiply [2, 3] by [4, 5] (inner dimensions 3 and 4 differ)`.
    pub fn try_matmul(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        let name = "matmul";
        let (l_shape, r_shape) = (self.shape(), rhs.shape());
        let fail = |why: String| {
            TensorError::mismatch(
                name,
                l_shape,
                r_shape,
                format!("cannot multiply {l_shape:?} by {r_shape:?} ({why})"),
            )
        };
        if l_shape.is_empty() || r_shape.is_empty() {
            return Err(fail("both operands need at least one dimension".into()));
        }
        let lhs = if l_shape.len() == 1 {
            self.try_unsqueeze(0usize)?
        } else {
            self.clone()
        };
        let rhs_m = if r_shape.len() == 1 {
            rhs.try_unsqueeze(1usize)?
        } else {
            rhs.clone()
        };
        let (lr, rr) = (lhs.ndim(), rhs_m.ndim());
        let (m, k) = (lhs.shape()[lr - 2], lhs.shape()[lr - 1]);
        let (k2, n) = (rhs_m.shape()[rr - 2], rhs_m.shape()[rr - 1]);
        if k != k2 {
            return Err(fail(format!("inner dimensions {k} and {k2} differ")));
        }
        let batch = broadcast_shapes(name, &lhs.shape()[..lr - 2], &rhs_m.shape()[..rr - 2])
            .map_err(|_| fail("batch dimensions do not broadcast".into()))?;
        let with = |rows: usize, cols: usize| -> Dims {
            batch.iter().copied().chain([rows, cols]).collect()
        };
        let lhs = lhs.try_expand(name, &with(m, k))?;
        let rhs_m = rhs_m.try_expand(name, &with(k, n))?;
        let out_shape = with(m, n);
        crate::shape::checked_numel(name, &out_shape)?;
        let data = matmul::matmul(name, lhs.strided(), rhs_m.strided())?;
        let mut out = Tensor::from_op(data, &out_shape, Op::Matmul(lhs, rhs_m));
        // The row added to a vector left operand goes first: it sits just before the last
        // dimension until the column added to a vector right operand is gone.
        if l_shape.len() == 1 {
            out = out.try_squeeze(-2)?;
        }
        if r_shape.len() == 1 {
            out = out.try_squeeze(-1)?;
        }
        Ok(out)
    }
}
