//! Joining: concatenation along a dimension and stacking along a new one. These copy.

use std::borrow::Borrow;

use crate::element::Scalar;
use crate::error::{Result, TensorError};
use crate::kernels::reduce::Axis;
use crate::kernels::select;
use crate::ops::Movement;
use crate::shape::{Dim, Dims, checked_numel};
use crate::tensor::Tensor;

impl<T: Scalar> Tensor<T> {
    /// Joins tensors along an existing dimension; all other dimensions must agree.
    /// Derivative: each input gets its slice of the gradient.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let a = Tensor::<f32>::ones(&[2, 1]);
    /// let b = Tensor::<f32>::zeros(&[2, 2]);
    /// assert_eq!(Tensor::concat(&[&a, &b], 1).shape(), &[2, 3]);
    /// ```
    ///
    /// # Panics
    /// As [`try_concat`](Tensor::try_concat) fails.
    #[track_caller]
    pub fn concat(tensors: &[impl Borrow<Tensor<T>>], dim: impl Dim) -> Tensor<T> {
        Self::try_concat(tensors, dim).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`concat`](Tensor::concat).
    ///
    /// # Errors
    /// When the list is empty, `dim` is out of range, the other dimensions differ, or memory
    /// runs out.
    pub fn try_concat(tensors: &[impl Borrow<Tensor<T>>], dim: impl Dim) -> Result<Tensor<T>> {
        let name = "concat";
        let first = tensors
            .first()
            .ok_or_else(|| TensorError::invalid(name, "needs at least one tensor"))?
            .borrow();
        let dim = dim.resolve(name, first.ndim())?;
        let mut shape = Dims::from_slice(first.shape());
        for t in &tensors[1..] {
            let t = t.borrow();
            let fits = t.ndim() == first.ndim()
                && (0..t.ndim()).all(|d| d == dim || t.shape()[d] == first.shape()[d]);
            if !fits {
                return Err(TensorError::mismatch(
                    name,
                    first.shape(),
                    t.shape(),
                    format!(
                        "cannot join {:?} and {:?} along dimension {dim} (the other \
                         dimensions must agree)",
                        first.shape(),
                        t.shape()
                    ),
                ));
            }
            shape[dim] = shape[dim].checked_add(t.shape()[dim]).ok_or_else(|| {
                TensorError::ShapeOverflow {
                    op: name,
                    shape: shape.to_vec(),
                }
            })?;
        }
        checked_numel(name, &shape)?;
        let args: Vec<&Tensor<T>> = tensors.iter().map(Borrow::borrow).collect();
        let parts = args
            .iter()
            .map(|t| t.strided().contiguous(name))
            .collect::<Result<Vec<_>>>()?;
        let slices: Vec<&[T]> = parts.iter().map(|p| p.as_ref()).collect();
        let lens: Vec<usize> = args.iter().map(|t| t.shape()[dim]).collect();
        let axis = Axis::of(&shape, dim);
        let out = select::concat(name, &slices, &lens, axis.outer, axis.inner)?;
        drop(parts);
        Ok(Tensor::moved_copy(
            out,
            &shape,
            &args,
            Movement::Concat { dim },
        ))
    }

    /// Joins tensors of one shape along a new dimension `dim` (`0..=ndim`).
    ///
    /// # Panics
    /// As [`try_stack`](Tensor::try_stack) fails.
    #[track_caller]
    pub fn stack(tensors: &[impl Borrow<Tensor<T>>], dim: impl Dim) -> Tensor<T> {
        Self::try_stack(tensors, dim).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`stack`](Tensor::stack).
    ///
    /// # Errors
    /// When the list is empty, the shapes differ, `dim` is out of range, or memory runs out.
    pub fn try_stack(tensors: &[impl Borrow<Tensor<T>>], dim: impl Dim) -> Result<Tensor<T>> {
        let name = "stack";
        let first = tensors
            .first()
            .ok_or_else(|| TensorError::invalid(name, "needs at least one tensor"))?
            .borrow();
        let dim = dim.resolve(name, first.ndim() + 1)?;
        let mut expanded = Vec::with_capacity(tensors.len());
        for t in tensors {
            let t = t.borrow();
            if t.shape() != first.shape() {
                return Err(TensorError::mismatch(
                    name,
                    first.shape(),
                    t.shape(),
                    format!(
                        "cannot stack {:?} with {:?} (shapes must be equal)",
                        first.shape(),
                        t.shape()
                    ),
                ));
            }
            expanded.push(t.try_unsqueeze(dim)?);
        }
        Self::try_concat(&expanded, dim)
    }
}
