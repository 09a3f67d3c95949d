//! Indexing and joining: gather and scatter-add along a dimension, concatenation, stacking.
//! These copy (a view cannot express them).

use std::borrow::Borrow;
use std::sync::Arc;

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::kernels::reduce::Axis;
use crate::kernels::select;
use crate::ops::Op;
use crate::shape::{Dim, Dims, checked_numel};
use crate::tensor::Tensor;

impl<T: Element> Tensor<T> {
    /// The slices at `indices` along `dim`, in order (repeats allowed). Derivative: each
    /// gradient slice added back at its index.
    ///
    /// # Panics
    /// As [`try_index_select`](Tensor::try_index_select) fails.
    #[track_caller]
    pub fn index_select(&self, dim: impl Dim, indices: &[usize]) -> Tensor<T> {
        self.try_index_select(dim, indices)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`index_select`](Tensor::index_select).
    ///
    /// # Errors
    /// When `dim` is out of range, an index is not below its size, or memory runs out.
    pub fn try_index_select(&self, dim: impl Dim, indices: &[usize]) -> Result<Tensor<T>> {
        let name = "index_select";
        let dim = dim.resolve(name, self.ndim())?;
        check_indices(name, self.shape(), dim, indices)?;
        let data = self.strided().contiguous(name)?;
        let out = select::index_select(name, &data, Axis::of(self.shape(), dim), indices)?;
        let mut shape = Dims::from_slice(self.shape());
        shape[dim] = indices.len();
        let op = Op::IndexSelect {
            arg: self.clone(),
            dim,
            indices: indices.into(),
        };
        Tensor::from_op(out, &shape, op)
    }

    /// A copy of this tensor with slice `j` of `source` added at slice `indices[j]` along
    /// `dim` (repeated indices accumulate). `source` has this shape except `indices.len()`
    /// along `dim`. Derivatives: 1 for this tensor; for `source`, the gradient's slices at
    /// `indices`.
    ///
    /// # Panics
    /// As [`try_index_add`](Tensor::try_index_add) fails.
    #[track_caller]
    pub fn index_add(&self, dim: impl Dim, indices: &[usize], source: &Tensor<T>) -> Tensor<T> {
        self.try_index_add(dim, indices, source)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`index_add`](Tensor::index_add).
    ///
    /// # Errors
    /// When `dim` is out of range, an index is not below its size, `source` has the wrong
    /// shape, or memory runs out.
    pub fn try_index_add(
        &self,
        dim: impl Dim,
        indices: &[usize],
        source: &Tensor<T>,
    ) -> Result<Tensor<T>> {
        let name = "index_add";
        let dim = dim.resolve(name, self.ndim())?;
        check_indices(name, self.shape(), dim, indices)?;
        let mut expected = Dims::from_slice(self.shape());
        expected[dim] = indices.len();
        if source.shape() != expected.as_slice() {
            return Err(TensorError::mismatch(
                name,
                self.shape(),
                source.shape(),
                format!(
                    "source of shape {:?} does not fit {} indices along dimension {dim} of \
                     {:?} (expected {expected:?})",
                    source.shape(),
                    indices.len(),
                    self.shape()
                ),
            ));
        }
        let base = self.strided().contiguous(name)?;
        let src = source.strided().contiguous(name)?;
        let axis = Axis::of(self.shape(), dim);
        let out = select::index_add(name, &base, axis, indices, &src)?;
        let op = Op::IndexAdd {
            arg: self.clone(),
            dim,
            indices: Arc::from(indices),
            source: source.clone(),
        };
        Tensor::from_op(out, self.shape(), op)
    }

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
        let args: Vec<Tensor<T>> = tensors.iter().map(|t| t.borrow().clone()).collect();
        let parts = args
            .iter()
            .map(|t| t.strided().contiguous(name))
            .collect::<Result<Vec<_>>>()?;
        let slices: Vec<&[T]> = parts.iter().map(|p| p.as_ref()).collect();
        let lens: Vec<usize> = args.iter().map(|t| t.shape()[dim]).collect();
        let axis = Axis::of(&shape, dim);
        let out = select::concat(name, &slices, &lens, axis.outer, axis.inner)?;
        drop(parts);
        Tensor::from_op(out, &shape, Op::Concat { args, dim })
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

fn check_indices(name: &'static str, shape: &[usize], dim: usize, indices: &[usize]) -> Result<()> {
    match indices.iter().find(|&&i| i >= shape[dim]) {
        Some(bad) => Err(TensorError::invalid(
            name,
            format!(
                "index {bad} is out of range for dimension {dim} of size {} (shape {shape:?})",
                shape[dim]
            ),
        )),
        None => Ok(()),
    }
}
