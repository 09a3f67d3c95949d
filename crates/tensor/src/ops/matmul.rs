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
    /// operands are read through their strides; the kernel copies only a layout it would read
    /// slowly (a `g · Wᵀ` with few rows goes through a column-major copy of `g`). Derivatives:
    /// `g · rhsᵀ` for the left operand and `lhsᵀ · g` for the right.
    ///
    /// The textbook layer `x.matmul(&w) + &b` costs what [`linear`](Tensor::linear) does:
    /// adding a row `[n]` (or `[1, n]`) to an owned product of two matrices that nothing else
    /// holds writes it into the product's buffer, with the bits `+` gives, and records the
    /// two as one `linear` operation (so `graph::to_dot` shows a `linear`).
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
        if let (&[m, k], &[k2, n]) = (l_shape, r_shape) {
            // Two matrices (the common case): nothing to reshape or broadcast, and the
            // operands are cloned into the graph only when it records.
            if k != k2 {
                return Err(fail(format!("inner dimensions {k} and {k2} differ")));
            }
            crate::shape::checked_numel(name, &[m, n])?;
            let data = matmul::matmul(name, self.strided(), rhs.strided())?;
            return Tensor::from_op_with(data, &[m, n], name, &[self, rhs], || {
                Op::Matmul(self.clone(), rhs.clone())
            });
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
        let (lhs, rhs_m, out_shape) = if lr == 2 && rr == 2 {
            // A vector made a matrix: nothing to broadcast.
            (lhs, rhs_m, Dims::from_slice(&[m, n]))
        } else {
            let batch = broadcast_shapes(name, &lhs.shape()[..lr - 2], &rhs_m.shape()[..rr - 2])
                .map_err(|_| fail("batch dimensions do not broadcast".into()))?;
            let with = |rows: usize, cols: usize| -> Dims {
                batch.iter().copied().chain([rows, cols]).collect()
            };
            let lhs = lhs.try_expand(name, &with(m, k))?;
            let rhs_m = rhs_m.try_expand(name, &with(k, n))?;
            (lhs, rhs_m, with(m, n))
        };
        crate::shape::checked_numel(name, &out_shape)?;
        let data = matmul::matmul(name, lhs.strided(), rhs_m.strided())?;
        let mut out = Tensor::from_op(data, &out_shape, Op::Matmul(lhs, rhs_m))?;
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

    /// `x · weight + bias` over the last dimension of `x`: `[.., in] · [in, out] + [out]`,
    /// the affine map of a dense layer. One kernel call: the bias initialises the output and
    /// the product is accumulated onto it. Derivatives: `g · weightᵀ` for `x`, `xᵀ · g` over
    /// all rows for the weight, and `g` summed over all rows for the bias.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 2.0], &[1, 2])?;
    /// let w = Tensor::<f32>::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[2, 2])?;
    /// let b = Tensor::<f32>::from_vec(vec![0.5, -0.5], &[2])?;
    /// assert_eq!(x.linear(&w, Some(&b)).to_vec(), vec![1.5, 1.5]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    ///
    /// # Panics
    /// As [`try_linear`](Tensor::try_linear) fails.
    #[track_caller]
    pub fn linear(&self, weight: &Tensor<T>, bias: Option<&Tensor<T>>) -> Tensor<T> {
        self.try_linear(weight, bias)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`linear`](Tensor::linear).
    ///
    /// # Errors
    /// When the weight is not 2-D, the input's last dimension is not the weight's first, the
    /// bias is not `[out]`, or memory runs out.
    pub fn try_linear(&self, weight: &Tensor<T>, bias: Option<&Tensor<T>>) -> Result<Tensor<T>> {
        let name = "linear";
        let (x_shape, w_shape) = (self.shape(), weight.shape());
        let fail = |why: String| {
            TensorError::mismatch(
                name,
                x_shape,
                w_shape,
                format!(
                    "cannot apply a weight of shape {w_shape:?} to an input of shape {x_shape:?} ({why})"
                ),
            )
        };
        let &[inputs, outputs] = w_shape else {
            return Err(fail("the weight must be [in, out]".into()));
        };
        if x_shape.last() != Some(&inputs) {
            return Err(fail(format!("the input's last dimension must be {inputs}")));
        }
        if let Some(b) = bias
            && b.shape() != [outputs]
        {
            return Err(fail(format!(
                "the bias has shape {:?}, not [{outputs}]",
                b.shape()
            )));
        }
        let rows = x_shape[..x_shape.len() - 1].iter().product::<usize>();
        let mut out_shape = Dims::from_slice(x_shape);
        *out_shape
            .last_mut()
            .expect("internal: the input has a last dimension") = outputs;
        crate::shape::checked_numel(name, &out_shape)?;
        // The rows of x as one [rows, in] matrix: a view when the strides allow, else a copy.
        let flat = self.try_reshape(&[rows, inputs])?;
        let bias_data = bias.map(|b| b.strided().contiguous(name)).transpose()?;
        let data = matmul::linear(name, flat.strided(), weight.strided(), bias_data.as_deref())?;
        let op = Op::Linear {
            input: self.clone(),
            weight: weight.clone(),
            bias: bias.cloned(),
        };
        Tensor::from_op(data, &out_shape, op)
    }
}

impl<T: Element> Tensor<T> {
    /// `self + row` for an owned matrix `self` (`[m, n]`) and a row `[n]` or `[1, n]`,
    /// written into `self`'s own buffer when nothing else holds it: the textbook layer
    /// `x.matmul(&w) + &b` then costs what [`linear`](Tensor::linear) does, with no second
    /// buffer and no second recorded operation. The values are those of [`add`](Tensor::add)
    /// to the last bit (each element is `product + row[j]`, as there). When recorded, the
    /// product of `x` and `w` becomes one `linear` operation with `row` as its bias, whose
    /// gradient rule is the matmul's and the broadcast add's in one.
    ///
    /// Gives `self` back when the route does not apply: another shape, a shared buffer, a
    /// recorded `self` that is not a product of two matrices, or anomaly detection on (which
    /// checks each result under its own operation's name).
    pub(crate) fn add_row_in_place(mut self, row: &Tensor<T>) -> std::result::Result<Self, Self> {
        let &[_, n] = self.shape() else {
            return Err(self);
        };
        let fits = matches!(*row.shape(), [len] | [1, len] if len == n);
        if !fits || crate::is_anomaly_enabled() {
            return Err(self);
        }
        let record = crate::is_grad_enabled() && (self.is_tracked() || row.is_tracked());
        // An unrecorded sum may overwrite only an untracked matrix: a tracked one is a leaf
        // or has a rule that may need its values.
        if !record && self.is_tracked() {
            return Err(self);
        }
        let Ok(values) = row.strided().contiguous("add") else {
            return Err(self);
        };
        let Some((data, mut slot)) = self.unique_parts_mut() else {
            return Err(self);
        };
        // Recorded, only a product of two matrices can take the row as a linear's bias.
        let operands = match slot.get() {
            Some(Op::Matmul(a, b)) if a.ndim() == 2 && b.ndim() == 2 => {
                Some((a.clone(), b.clone()))
            }
            _ => None,
        };
        if record && operands.is_none() {
            return Err(self);
        }
        add_rows(data, &values);
        if let (true, Some((input, weight))) = (record, operands) {
            let bias = match row.ndim() {
                1 => row.clone(),
                _ => row
                    .try_reshape(&[n])
                    .expect("internal: a [1, n] row reshapes to [n]"),
            };
            slot.replace(Op::Linear {
                input,
                weight,
                bias: Some(bias),
            });
        }
        Ok(self)
    }
}

/// `data[i · n + j] += row[j]` for the rows of `data`, `n` being the row's length; on several
/// threads from [`ROWS_PARALLEL_MIN`] elements (each element is computed alone, so the split
/// changes nothing).
fn add_rows<T: Element>(data: &mut [T], row: &[T]) {
    let n = row.len();
    let add = |rows: &mut [T]| {
        for chunk in rows.chunks_exact_mut(n) {
            for (d, &b) in chunk.iter_mut().zip(row) {
                *d += b;
            }
        }
    };
    if data.len() < ROWS_PARALLEL_MIN || n == 0 {
        return add(data);
    }
    let rows_per_piece = (ROWS_PIECE / n).max(1);
    crate::threads::for_each_chunk_with(
        crate::threads::Effort::Medium,
        [data],
        rows_per_piece * n,
        &|_, [rows]| add(rows),
    );
}

/// From this many elements [`add_rows`] runs on several threads.
const ROWS_PARALLEL_MIN: usize = 1 << 18;
/// About this many elements per piece of a parallel [`add_rows`].
const ROWS_PIECE: usize = 1 << 13;
