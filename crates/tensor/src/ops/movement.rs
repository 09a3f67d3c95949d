//! Movement: ops that rearrange elements without arithmetic, as views sharing the source's
//! storage where the strides allow (indexing and joining are in `index.rs`).

use crate::element::Scalar;
use crate::error::{Result, TensorError};
use crate::kernels::gather;
use crate::ops::Movement;
use crate::shape::{Dim, Dims, checked_numel};
use crate::tensor::Tensor;

impl<T: Scalar> Tensor<T> {
    /// The same elements in row-major order with another shape of equal element count. A
    /// view when the strides allow (always for a contiguous tensor), else a copy.
    /// Derivative: the gradient reshaped back.
    ///
    /// # Panics
    /// As [`try_reshape`](Tensor::try_reshape) fails.
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> Tensor<T> {
        self.try_reshape(shape).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`reshape`](Tensor::reshape).
    ///
    /// # Errors
    /// When the element counts differ (or overflow), or a needed copy cannot be allocated.
    pub fn try_reshape(&self, shape: &[usize]) -> Result<Tensor<T>> {
        self.try_reshape_named("reshape", shape)
    }

    fn try_reshape_named(&self, name: &'static str, shape: &[usize]) -> Result<Tensor<T>> {
        if checked_numel(name, shape)? != self.numel() {
            return Err(TensorError::mismatch(
                name,
                self.shape(),
                shape,
                format!(
                    "cannot reshape {:?} ({} elements) to {shape:?} ({} elements)",
                    self.shape(),
                    self.numel(),
                    shape.iter().product::<usize>()
                ),
            ));
        }
        if shape == self.shape() {
            return Ok(self.clone());
        }
        match self.layout().reshaped(shape) {
            Some(layout) => Ok(self.moved_view(layout, Movement::Reshape)),
            None => {
                let data = gather(name, self.strided())?;
                Ok(Tensor::moved_copy(data, shape, &[self], Movement::Reshape))
            }
        }
    }

    /// All elements in one dimension.
    ///
    /// # Panics
    /// When a needed copy cannot be allocated.
    #[track_caller]
    pub fn flatten(&self) -> Tensor<T> {
        self.try_flatten().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`flatten`](Tensor::flatten).
    ///
    /// # Errors
    /// When a needed copy cannot be allocated.
    pub fn try_flatten(&self) -> Result<Tensor<T>> {
        self.try_reshape_named("flatten", &[self.numel()])
    }

    /// Reorders the dimensions: dimension `i` of the result is dimension `perm[i]` of this
    /// tensor. A view. Derivative: the gradient permuted back.
    ///
    /// # Panics
    /// As [`try_permute`](Tensor::try_permute) fails.
    #[track_caller]
    pub fn permute(&self, perm: &[usize]) -> Tensor<T> {
        self.try_permute(perm).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`permute`](Tensor::permute).
    ///
    /// # Errors
    /// When `perm` is not a permutation of `0..ndim`.
    pub fn try_permute(&self, perm: &[usize]) -> Result<Tensor<T>> {
        let mut seen = vec![false; self.ndim()];
        let valid = perm.len() == self.ndim()
            && perm
                .iter()
                .all(|&d| d < seen.len() && !std::mem::replace(&mut seen[d], true));
        if !valid {
            return Err(TensorError::invalid(
                "permute",
                format!(
                    "{perm:?} is not a permutation of the {} dimensions of {:?}",
                    self.ndim(),
                    self.shape()
                ),
            ));
        }
        if perm.iter().enumerate().all(|(i, &d)| i == d) {
            return Ok(self.clone());
        }
        let layout = self.layout().permute(perm);
        Ok(self.moved_view(layout, Movement::Permute(perm.into())))
    }

    /// Swaps two dimensions. A view.
    ///
    /// # Panics
    /// As [`try_transpose`](Tensor::try_transpose) fails.
    #[track_caller]
    pub fn transpose(&self, dim0: impl Dim, dim1: impl Dim) -> Tensor<T> {
        self.try_transpose(dim0, dim1)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`transpose`](Tensor::transpose).
    ///
    /// # Errors
    /// When a dimension is out of range.
    pub fn try_transpose(&self, dim0: impl Dim, dim1: impl Dim) -> Result<Tensor<T>> {
        let a = dim0.resolve("transpose", self.ndim())?;
        let b = dim1.resolve("transpose", self.ndim())?;
        let mut perm: Dims = (0..self.ndim()).collect();
        perm.swap(a, b);
        self.try_permute(&perm)
    }

    /// The matrix transpose: the last two dimensions swapped (each matrix of a batch
    /// transposed). Tensors of rank 0 and 1 are returned as they are. A view.
    pub fn t(&self) -> Tensor<T> {
        if self.ndim() < 2 {
            return self.clone();
        }
        let mut perm: Dims = (0..self.ndim()).collect();
        perm.swap(self.ndim() - 2, self.ndim() - 1);
        let layout = self.layout().permute(&perm);
        self.moved_view(layout, Movement::Permute(perm))
    }

    /// This tensor repeated to `shape` by NumPy's broadcasting rule, as a view with stride 0
    /// along the repeated dimensions. Derivative: the gradient summed over them.
    ///
    /// # Panics
    /// As [`try_broadcast_to`](Tensor::try_broadcast_to) fails.
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Tensor<T> {
        self.try_broadcast_to(shape)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`broadcast_to`](Tensor::broadcast_to).
    ///
    /// # Errors
    /// When this shape does not broadcast to `shape`, or `shape` overflows.
    pub fn try_broadcast_to(&self, shape: &[usize]) -> Result<Tensor<T>> {
        self.try_expand("broadcast_to", shape)
    }

    /// `broadcast_to` on behalf of `name`, recording nothing when the shape already matches.
    pub(crate) fn try_expand(&self, name: &'static str, shape: &[usize]) -> Result<Tensor<T>> {
        if shape == self.shape() {
            return Ok(self.clone());
        }
        checked_numel(name, shape)?;
        let layout = self.layout().broadcast_to(name, shape)?;
        Ok(self.moved_view(layout, Movement::BroadcastTo))
    }

    /// Removes dimension `dim`, which must have size 1 (as NumPy; PyTorch silently keeps a
    /// larger one). A view.
    ///
    /// # Panics
    /// As [`try_squeeze`](Tensor::try_squeeze) fails.
    #[track_caller]
    pub fn squeeze(&self, dim: impl Dim) -> Tensor<T> {
        self.try_squeeze(dim).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`squeeze`](Tensor::squeeze).
    ///
    /// # Errors
    /// When `dim` is out of range or its size is not 1.
    pub fn try_squeeze(&self, dim: impl Dim) -> Result<Tensor<T>> {
        let dim = dim.resolve("squeeze", self.ndim())?;
        if self.shape()[dim] != 1 {
            return Err(TensorError::invalid(
                "squeeze",
                format!(
                    "dimension {dim} of shape {:?} has size {}, not 1",
                    self.shape(),
                    self.shape()[dim]
                ),
            ));
        }
        let mut shape = Dims::from_slice(self.shape());
        shape.remove(dim);
        self.try_reshape_named("squeeze", &shape)
    }

    /// Inserts a dimension of size 1 at `dim` (`0..=ndim`; negative counts from the end of
    /// the result). A view.
    ///
    /// # Panics
    /// As [`try_unsqueeze`](Tensor::try_unsqueeze) fails.
    #[track_caller]
    pub fn unsqueeze(&self, dim: impl Dim) -> Tensor<T> {
        self.try_unsqueeze(dim).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`unsqueeze`](Tensor::unsqueeze).
    ///
    /// # Errors
    /// When `dim` is outside `-(ndim + 1)..=ndim`.
    pub fn try_unsqueeze(&self, dim: impl Dim) -> Result<Tensor<T>> {
        let dim = dim.resolve("unsqueeze", self.ndim() + 1)?;
        let mut shape = Dims::from_slice(self.shape());
        shape.insert(dim, 1);
        self.try_reshape_named("unsqueeze", &shape)
    }

    /// The elements `start..start + len` along `dim`. A view. Derivative: the gradient
    /// placed back among zeros.
    ///
    /// # Panics
    /// As [`try_narrow`](Tensor::try_narrow) fails.
    #[track_caller]
    pub fn narrow(&self, dim: impl Dim, start: usize, len: usize) -> Tensor<T> {
        self.try_narrow(dim, start, len)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`narrow`](Tensor::narrow).
    ///
    /// # Errors
    /// When `dim` is out of range or `start + len` passes its size.
    pub fn try_narrow(&self, dim: impl Dim, start: usize, len: usize) -> Result<Tensor<T>> {
        let dim = dim.resolve("narrow", self.ndim())?;
        let size = self.shape()[dim];
        if start.checked_add(len).is_none_or(|end| end > size) {
            return Err(TensorError::invalid(
                "narrow",
                format!(
                    "range {start}..{start}+{len} is outside dimension {dim} of shape {:?}",
                    self.shape()
                ),
            ));
        }
        if len == size {
            return Ok(self.clone());
        }
        let layout = self.layout().narrow(dim, start, len);
        Ok(self.moved_view(layout, Movement::Narrow { dim, start }))
    }
}
