//! Indexing by integer tensors: whole slices along a dimension (`index_select`, `index_add`)
//! and single elements (`gather`, `scatter_add`). These copy (a view cannot express them).
//!
//! Every index is checked against the size of the dimension it indexes; negative indices are
//! rejected with [`TensorError::IndexOutOfRange`] rather than counted from the end, so that an
//! off-by-one in a user's labels is an error, not a silent wrap to the last class.

use std::sync::Arc;

use crate::element::{Element, Scalar};
use crate::error::{Result, TensorError};
use crate::kernels::reduce::Axis;
use crate::kernels::select;
use crate::ops::{Movement, Op};
use crate::shape::{Dim, Dims};
use crate::tensor::Tensor;

impl<T: Scalar> Tensor<T> {
    /// The slices at `indices` (a 1-D integer tensor) along `dim`, in order, repeats allowed.
    /// Derivative: each gradient slice added back at its index.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let table = Tensor::<f32>::from_vec(vec![0.0, 1.0, 10.0, 11.0, 20.0, 21.0], &[3, 2])?;
    /// let rows = table.index_select(0, &Tensor::from_vec(vec![2, 0, 2], &[3])?);
    /// assert_eq!(rows.to_vec(), vec![20.0, 21.0, 0.0, 1.0, 20.0, 21.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    ///
    /// # Panics
    /// As [`try_index_select`](Tensor::try_index_select) fails.
    #[track_caller]
    pub fn index_select(&self, dim: impl Dim, indices: &Tensor<i64>) -> Tensor<T> {
        self.try_index_select(dim, indices)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`index_select`](Tensor::index_select).
    ///
    /// # Errors
    /// When `dim` is out of range, `indices` is not 1-D, an index is negative or not below
    /// the dimension's size, or memory runs out.
    pub fn try_index_select(&self, dim: impl Dim, indices: &Tensor<i64>) -> Result<Tensor<T>> {
        let name = "index_select";
        let dim = dim.resolve(name, self.ndim())?;
        let indices = slice_positions(name, indices, dim, self.shape())?;
        self.select_positions(name, dim, indices)
    }

    /// `index_select` at positions already checked against dimension `dim`.
    pub(crate) fn select_positions(
        &self,
        name: &'static str,
        dim: usize,
        indices: Arc<[usize]>,
    ) -> Result<Tensor<T>> {
        let data = self.strided().contiguous(name)?;
        let out = select::index_select(name, &data, Axis::of(self.shape(), dim), &indices)?;
        drop(data);
        let mut shape = Dims::from_slice(self.shape());
        shape[dim] = indices.len();
        let movement = Movement::IndexSelect { dim, indices };
        Ok(Tensor::moved_copy(out, &shape, &[self], movement))
    }

    /// The elements picked along `dim` by `index`, an integer tensor of this rank: for a
    /// 3-D tensor and `dim = 1`, `out[i][j][k] = self[i][index[i][j][k]][k]` (PyTorch's
    /// `gather`). `index` may be smaller than this tensor in the other dimensions; the result
    /// has its shape. Derivative: the gradient scattered back, added where indices repeat.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let scores = Tensor::<f32>::from_vec(vec![0.1, 0.7, 0.2, 0.5, 0.3, 0.2], &[2, 3])?;
    /// let labels = Tensor::from_vec(vec![1, 0], &[2, 1])?;
    /// assert_eq!(scores.gather(1, &labels).to_vec(), vec![0.7, 0.5]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    ///
    /// # Panics
    /// As [`try_gather`](Tensor::try_gather) fails.
    #[track_caller]
    pub fn gather(&self, dim: impl Dim, index: &Tensor<i64>) -> Tensor<T> {
        self.try_gather(dim, index)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`gather`](Tensor::gather).
    ///
    /// # Errors
    /// When `dim` is out of range, `index` has another rank or is larger than this tensor in
    /// a dimension other than `dim`, an index is negative or not below the size of `dim`, or
    /// memory runs out.
    pub fn try_gather(&self, dim: impl Dim, index: &Tensor<i64>) -> Result<Tensor<T>> {
        let name = "gather";
        let dim = dim.resolve(name, self.ndim())?;
        check_fits(name, "index", index.shape(), self.shape(), dim)?;
        let positions = element_positions(name, index, dim, self.shape()[dim])?;
        let data = self.strided().contiguous(name)?;
        let out = select::gather(name, &data, self.shape(), dim, &positions, index.shape())?;
        drop(data);
        let movement = Movement::Gather {
            dim,
            index: index.clone(),
        };
        Ok(Tensor::moved_copy(out, index.shape(), &[self], movement))
    }
}

impl<T: Element> Tensor<T> {
    /// A copy of this tensor with slice `j` of `source` added at slice `indices[j]` along
    /// `dim` (repeated indices accumulate). `indices` is 1-D; `source` has this shape except
    /// `indices.len()` along `dim`. Derivatives: 1 for this tensor; for `source`, the
    /// gradient's slices at `indices`.
    ///
    /// # Panics
    /// As [`try_index_add`](Tensor::try_index_add) fails.
    #[track_caller]
    pub fn index_add(&self, dim: impl Dim, indices: &Tensor<i64>, source: &Tensor<T>) -> Tensor<T> {
        self.try_index_add(dim, indices, source)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`index_add`](Tensor::index_add).
    ///
    /// # Errors
    /// When `dim` is out of range, `indices` is not 1-D, an index is negative or not below
    /// the dimension's size, `source` has the wrong shape, or memory runs out.
    pub fn try_index_add(
        &self,
        dim: impl Dim,
        indices: &Tensor<i64>,
        source: &Tensor<T>,
    ) -> Result<Tensor<T>> {
        let name = "index_add";
        let dim = dim.resolve(name, self.ndim())?;
        let indices = slice_positions(name, indices, dim, self.shape())?;
        self.add_at_positions(name, dim, indices, source)
    }

    /// `index_add` at positions already checked against dimension `dim`.
    pub(crate) fn add_at_positions(
        &self,
        name: &'static str,
        dim: usize,
        indices: Arc<[usize]>,
        source: &Tensor<T>,
    ) -> Result<Tensor<T>> {
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
        let out = select::index_add(name, &base, axis, &indices, &src)?;
        drop((base, src));
        let op = Op::IndexAdd {
            arg: self.clone(),
            dim,
            indices,
            source: source.clone(),
        };
        Tensor::from_op(out, self.shape(), op)
    }

    /// A copy of this tensor with each element of `source` added at the position `index`
    /// gives it along `dim`: for a 3-D tensor and `dim = 1`,
    /// `out[i][index[i][j][k]][k] += source[i][j][k]` (PyTorch's `scatter_add`), repeated
    /// positions accumulating. `index` and `source` have one shape, of this rank, no larger
    /// than this tensor outside `dim`. The reverse of [`gather`](Tensor::gather), and its
    /// derivative. Derivatives: 1 for this tensor; for `source`, the gradient gathered at
    /// `index`.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let counts = Tensor::<f32>::zeros(&[3]);
    /// let words = Tensor::from_vec(vec![2, 0, 2, 2], &[4])?;
    /// let hist = counts.scatter_add(0, &words, &Tensor::ones(&[4]));
    /// assert_eq!(hist.to_vec(), vec![1.0, 0.0, 3.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    ///
    /// # Panics
    /// As [`try_scatter_add`](Tensor::try_scatter_add) fails.
    #[track_caller]
    pub fn scatter_add(&self, dim: impl Dim, index: &Tensor<i64>, source: &Tensor<T>) -> Tensor<T> {
        self.try_scatter_add(dim, index, source)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`scatter_add`](Tensor::scatter_add).
    ///
    /// # Errors
    /// When `dim` is out of range, `index` and `source` differ in shape, have another rank
    /// or are larger than this tensor outside `dim`, an index is negative or not below the
    /// size of `dim`, or memory runs out.
    pub fn try_scatter_add(
        &self,
        dim: impl Dim,
        index: &Tensor<i64>,
        source: &Tensor<T>,
    ) -> Result<Tensor<T>> {
        let name = "scatter_add";
        let dim = dim.resolve(name, self.ndim())?;
        if source.shape() != index.shape() {
            return Err(TensorError::mismatch(
                name,
                index.shape(),
                source.shape(),
                format!(
                    "index of shape {:?} and source of shape {:?} must have one shape",
                    index.shape(),
                    source.shape()
                ),
            ));
        }
        check_fits(name, "index", index.shape(), self.shape(), dim)?;
        let positions = element_positions(name, index, dim, self.shape()[dim])?;
        let values = if self.layout().strides().iter().all(|&s| s == 0) && self.numel() > 0 {
            // One value broadcast (the zeros of a gather's gradient): no copy to make.
            None
        } else {
            Some(self.strided().contiguous(name)?)
        };
        let base = match &values {
            Some(values) => select::Base::Values(values),
            None => select::Base::Fill(self.strided().data[self.layout().offset()]),
        };
        let src = source.strided().contiguous(name)?;
        let out = select::scatter_add(
            name,
            base,
            self.shape(),
            dim,
            &positions,
            index.shape(),
            &src,
        )?;
        drop((values, src));
        let op = Op::ScatterAdd {
            arg: self.clone(),
            dim,
            index: index.clone(),
            source: source.clone(),
        };
        Tensor::from_op(out, self.shape(), op)
    }
}

/// The entries of a 1-D `indices`, checked against dimension `dim` of `shape`.
fn slice_positions(
    name: &'static str,
    indices: &Tensor<i64>,
    dim: usize,
    shape: &[usize],
) -> Result<Arc<[usize]>> {
    if indices.ndim() != 1 {
        return Err(TensorError::invalid(
            name,
            format!(
                "indices must be 1-D, got shape {:?} (to index with more, flatten them and \
                 reshape the result)",
                indices.shape()
            ),
        ));
    }
    element_positions(name, indices, dim, shape[dim]).map(Arc::from)
}

/// The entries of `index` in row-major order as positions along a dimension `dim` of `size`;
/// an error naming the first one that is negative or not below `size`.
pub(crate) fn element_positions(
    name: &'static str,
    index: &Tensor<i64>,
    dim: usize,
    size: usize,
) -> Result<Vec<usize>> {
    let mut bad = None;
    let positions = index
        .strided()
        .contiguous(name)?
        .iter()
        .map(|&i| match usize::try_from(i) {
            Ok(at) if at < size => at,
            _ => {
                bad.get_or_insert(i);
                0
            }
        })
        .collect();
    match bad {
        Some(index) => Err(TensorError::IndexOutOfRange {
            op: name,
            dim,
            index,
            size,
        }),
        None => Ok(positions),
    }
}

/// Checks that `what` (of shape `small`) has the rank of `shape` and is no larger in any
/// dimension but `dim`, as `gather` and `scatter_add` need.
fn check_fits(
    name: &'static str,
    what: &str,
    small: &[usize],
    shape: &[usize],
    dim: usize,
) -> Result<()> {
    let fits =
        small.len() == shape.len() && (0..shape.len()).all(|d| d == dim || small[d] <= shape[d]);
    if fits {
        return Ok(());
    }
    Err(TensorError::mismatch(
        name,
        shape,
        small,
        format!(
            "{what} of shape {small:?} must have the rank of {shape:?} and be no larger \
             outside dimension {dim}"
        ),
    ))
}
