//! Movement: ops that rearrange elements without arithmetic. Most are views sharing the
//! source's storage; concatenation and indexing copy.

use std::borrow::Borrow;
use std::sync::Arc;

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::kernels::reduce::Axis;
use crate::kernels::{gather, select};
use crate::ops::Op;
use crate::shape::{Dim, Dims, checked_numel};
use crate::tensor::Tensor;

impl<T: Element> Tensor<T> {
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
            Some(layout) => Ok(self.view_of(layout, Op::Reshape(self.clone()))),
            None => {
                let data = gather(name, self.strided())?;
                Ok(Tensor::from_op(data, shape, Op::Reshape(self.clone())))
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
        let op = Op::Permute {
            arg: self.clone(),
            perm: perm.into(),
        };
        Ok(self.view_of(self.layout().permute(perm), op))
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
        let op = Op::Permute {
            arg: self.clone(),
            perm: perm.clone(),
        };
        self.view_of(self.layout().permute(&perm), op)
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
        Ok(self.view_of(layout, Op::BroadcastTo(self.clone())))
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
        let mut shape: Dims = self.shape().into();
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
        let mut shape: Dims = self.shape().into();
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
        let op = Op::Narrow {
            arg: self.clone(),
            dim,
            start,
        };
        Ok(self.view_of(self.layout().narrow(dim, start, len), op))
    }

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
        let mut shape: Dims = self.shape().into();
        shape[dim] = indices.len();
        let op = Op::IndexSelect {
            arg: self.clone(),
            dim,
            indices: indices.into(),
        };
        Ok(Tensor::from_op(out, &shape, op))
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
        let mut expected: Dims = self.shape().into();
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
        Ok(Tensor::from_op(out, self.shape(), op))
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
        let mut shape: Dims = first.shape().into();
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
        Ok(Tensor::from_op(out, &shape, Op::Concat { args, dim }))
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
