//! Layouts: how a tensor's logical indices map onto its storage.
//!
//! A layout is a shape, one stride per dimension (in elements) and an offset. Element
//! `[i0, i1, ..]` lives at `offset + i0 * strides[0] + i1 * strides[1] + ..`. Strides are never
//! negative. A stride of 0 repeats one element along a dimension: that is how a broadcast view
//! costs no copy. Transposes and permutations reorder strides; narrowing moves the offset.
//!
//! Invariant relied on by every kernel: for a tensor with at least one element, the largest
//! offset a layout addresses is inside its storage. Each constructor here keeps it: they only
//! shrink, reorder or repeat the elements of a layout that already held it.

use smallvec::SmallVec;

use crate::error::{Result, TensorError};
use crate::shape::{Dims, contiguous_strides};

mod runs;

pub(crate) use runs::for_each_run;

/// Shape, strides and offset of a view into a storage buffer.
///
/// The element count and whether the layout is contiguous are computed once, when it is
/// made: kernels and ops ask for them several times per op, which on a tiny graph costs
/// more than the arithmetic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    shape: Dims,
    strides: Dims,
    offset: usize,
    numel: usize,
    contiguous: bool,
}

impl Layout {
    /// The layout of `shape` with `strides` from `offset`.
    fn new(shape: Dims, strides: Dims, offset: usize) -> Self {
        let numel = shape.iter().product();
        let contiguous = is_contiguous(&shape, &strides);
        Layout {
            shape,
            strides,
            offset,
            numel,
            contiguous,
        }
    }

    /// The row-major contiguous layout of `shape` at offset 0.
    pub(crate) fn contiguous(shape: &[usize]) -> Self {
        const INLINE: usize = 4;
        if shape.len() > INLINE {
            return Layout {
                shape: Dims::from_slice(shape),
                strides: contiguous_strides(shape),
                offset: 0,
                numel: shape.iter().product(),
                contiguous: true,
            };
        }
        if let &[rows, cols] = shape {
            // A matrix, the most common result: no loop.
            return Layout {
                shape: Dims::from_buf_and_len([rows, cols, 0, 0], 2),
                strides: Dims::from_buf_and_len([cols, 1, 0, 0], 2),
                offset: 0,
                numel: rows.saturating_mul(cols),
                contiguous: true,
            };
        }
        // Every op's result is laid out here: the shape, the strides and the count in one
        // pass over inline arrays, without the general copies.
        let (mut dims, mut strides) = ([0; INLINE], [0; INLINE]);
        let mut numel = 1usize;
        for (i, &dim) in shape.iter().enumerate().rev() {
            dims[i] = dim;
            strides[i] = numel;
            // Saturating, as `contiguous_strides`: only an empty tensor can have a product
            // past usize (a later zero then brings it back to 0), and its strides never
            // address memory.
            numel = numel.saturating_mul(dim);
        }
        Layout {
            shape: Dims::from_buf_and_len(dims, shape.len()),
            strides: Dims::from_buf_and_len(strides, shape.len()),
            offset: 0,
            numel,
            contiguous: true,
        }
    }

    #[inline]
    pub(crate) fn shape(&self) -> &[usize] {
        &self.shape
    }

    #[inline]
    pub(crate) fn strides(&self) -> &[usize] {
        &self.strides
    }

    #[inline]
    pub(crate) fn offset(&self) -> usize {
        self.offset
    }

    /// The number of elements. Shapes are checked for overflow when a tensor is made, so the
    /// product fits.
    #[inline]
    pub(crate) fn numel(&self) -> usize {
        self.numel
    }

    /// The storage range holding the elements in order, when the layout is contiguous (the
    /// elements lie row-major and gap-free from `offset` on; strides of size-1 dimensions do
    /// not matter, and an empty tensor is contiguous).
    /// An empty tensor's offset may point past its storage (a narrowed empty view), so it
    /// gets the empty range at 0.
    #[inline]
    pub(crate) fn contiguous_range(&self) -> Option<std::ops::Range<usize>> {
        if self.numel == 0 {
            return Some(0..0);
        }
        self.contiguous
            .then(|| self.offset..self.offset + self.numel)
    }

    /// The largest storage offset addressed, or `None` for an empty tensor.
    pub(crate) fn max_offset(&self) -> Option<usize> {
        if self.numel == 0 {
            return None;
        }
        if self.contiguous {
            return Some(self.offset + self.numel - 1);
        }
        Some(
            self.shape
                .iter()
                .zip(&self.strides)
                .fold(self.offset, |acc, (&dim, &stride)| acc + (dim - 1) * stride),
        )
    }

    /// The first `ndim` dimensions only, at the same offset: the layout of the batch of
    /// matrices a batched matmul walks.
    pub(crate) fn leading(&self, ndim: usize) -> Self {
        Layout::new(
            Dims::from_slice(&self.shape[..ndim]),
            Dims::from_slice(&self.strides[..ndim]),
            self.offset,
        )
    }

    /// Reorders the dimensions: dimension `i` of the result is dimension `perm[i]` of `self`.
    /// `perm` must be a permutation of `0..ndim` (checked by the caller).
    pub(crate) fn permute(&self, perm: &[usize]) -> Self {
        Layout::new(
            perm.iter().map(|&d| self.shape[d]).collect(),
            perm.iter().map(|&d| self.strides[d]).collect(),
            self.offset,
        )
    }

    /// A view repeating this layout to `shape` by NumPy's rule, with stride 0 along the
    /// repeated dimensions.
    pub(crate) fn broadcast_to(&self, op: &'static str, shape: &[usize]) -> Result<Self> {
        let fail = || {
            TensorError::mismatch(
                op,
                &self.shape,
                shape,
                format!("cannot broadcast {:?} to {shape:?}", self.shape.as_slice()),
            )
        };
        let extra = shape.len().checked_sub(self.shape.len()).ok_or_else(fail)?;
        let mut strides: Dims = SmallVec::from_elem(0, shape.len());
        for (i, (&dim, &stride)) in self.shape.iter().zip(&self.strides).enumerate() {
            let target = shape[extra + i];
            strides[extra + i] = if dim == target {
                stride
            } else if dim == 1 {
                0
            } else {
                return Err(fail());
            };
        }
        Ok(Layout::new(Dims::from_slice(shape), strides, self.offset))
    }

    /// The elements `start..start + len` along `dim` (bounds checked by the caller).
    pub(crate) fn narrow(&self, dim: usize, start: usize, len: usize) -> Self {
        let mut shape = self.shape.clone();
        shape[dim] = len;
        let offset = if len == 0 {
            self.offset
        } else {
            self.offset + start * self.strides[dim]
        };
        Layout::new(shape, self.strides.clone(), offset)
    }

    /// The same elements seen with `shape` (same element count, checked by the caller), as a
    /// view when the strides allow it, else `None` (the caller copies first).
    ///
    /// The view exists when every run of old dimensions that the new shape splits or merges is
    /// itself laid out contiguously; this is PyTorch's `computeStride`.
    pub(crate) fn reshaped(&self, shape: &[usize]) -> Option<Self> {
        if self.contiguous {
            return Some(Layout {
                shape: Dims::from_slice(shape),
                strides: contiguous_strides(shape),
                offset: self.offset,
                numel: self.numel,
                contiguous: true,
            });
        }
        let strides = view_strides(&self.shape, &self.strides, shape)?;
        Some(Layout::new(Dims::from_slice(shape), strides, self.offset))
    }
}

/// Whether `shape` with `strides` lies row-major and gap-free. Strides of size-1 dimensions do
/// not matter, and an empty shape is contiguous.
fn is_contiguous(shape: &[usize], strides: &[usize]) -> bool {
    if shape.contains(&0) {
        return true;
    }
    let mut expected = 1usize;
    for (&dim, &stride) in shape.iter().zip(strides).rev() {
        if dim != 1 {
            if stride != expected {
                return false;
            }
            expected *= dim;
        }
    }
    true
}

/// Strides for viewing (`old_shape`, `old_strides`) as `new_shape`, if no copy is needed. The
/// old layout is not contiguous and has at least two elements (the caller handles the rest).
fn view_strides(old_shape: &[usize], old_strides: &[usize], new_shape: &[usize]) -> Option<Dims> {
    let mut new_strides: Dims = SmallVec::from_elem(0, new_shape.len());
    // Walk the old dimensions from the back in chunks that are contiguous among themselves;
    // each chunk must be covered exactly by a run of new dimensions.
    let mut view_d = new_shape.len();
    let mut chunk_base_stride = *old_strides.last()?;
    let mut tensor_numel = 1usize;
    let mut view_numel = 1usize;
    for tensor_d in (0..old_shape.len()).rev() {
        tensor_numel *= old_shape[tensor_d];
        let chunk_ends = tensor_d == 0
            || (old_shape[tensor_d - 1] != 1
                && old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride);
        if chunk_ends {
            while view_d > 0 && (view_numel < tensor_numel || new_shape[view_d - 1] == 1) {
                view_d -= 1;
                new_strides[view_d] = view_numel * chunk_base_stride;
                view_numel *= new_shape[view_d];
            }
            if view_numel != tensor_numel {
                return None;
            }
            if tensor_d > 0 {
                chunk_base_stride = old_strides[tensor_d - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    (view_d == 0).then_some(new_strides)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The storage offsets of the elements in row-major order. Also checks the element count
    /// and contiguity the layout cached against them.
    fn offsets(layout: &Layout) -> Vec<usize> {
        let mut out = Vec::new();
        for_each_run(layout.shape(), [layout], |[o], len, [s]| {
            out.extend((0..len).map(|i| o + i * s));
        });
        assert_eq!(layout.numel(), out.len());
        let in_order = out
            .iter()
            .enumerate()
            .all(|(i, &o)| o == layout.offset() + i);
        assert_eq!(layout.contiguous_range().is_some(), in_order, "{layout:?}");
        out
    }

    #[test]
    fn transpose_is_a_stride_swap() {
        let t = Layout::contiguous(&[2, 3]).permute(&[1, 0]);
        assert_eq!(t.strides(), &[1, 3]);
        assert_eq!(t.contiguous_range(), None);
        assert_eq!(offsets(&t), vec![0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn broadcast_repeats_with_stride_zero() {
        let b = Layout::contiguous(&[3]).broadcast_to("t", &[2, 3]).unwrap();
        assert_eq!(b.strides(), &[0, 1]);
        assert_eq!(offsets(&b), vec![0, 1, 2, 0, 1, 2]);
        assert!(Layout::contiguous(&[2]).broadcast_to("t", &[3]).is_err());
        assert!(Layout::contiguous(&[2, 3]).broadcast_to("t", &[3]).is_err());
    }

    #[test]
    fn narrow_moves_the_offset() {
        let n = Layout::contiguous(&[4, 3]).narrow(0, 1, 2);
        assert_eq!(n.offset(), 3);
        assert_eq!(n.contiguous_range(), Some(3..9));
        let c = Layout::contiguous(&[4, 3]).narrow(1, 1, 2);
        assert_eq!(c.contiguous_range(), None);
        assert_eq!(offsets(&c), vec![1, 2, 4, 5, 7, 8, 10, 11]);
        assert_eq!(c.max_offset(), Some(11));
    }

    #[test]
    fn reshape_views_when_strides_allow() {
        // A transposed [3, 2] can gain or lose size-1 dims as a view, but not be flattened.
        let t = Layout::contiguous(&[2, 3]).permute(&[1, 0]);
        let v = t.reshaped(&[3, 1, 2]).unwrap();
        assert_eq!(offsets(&v), offsets(&t));
        assert!(t.reshaped(&[6]).is_none());
        // Splitting a contiguous run of a strided layout is a view.
        let n = Layout::contiguous(&[4, 6]).narrow(1, 0, 4);
        let v = n.reshaped(&[4, 2, 2]).unwrap();
        assert_eq!(offsets(&v), offsets(&n));
    }

    #[test]
    fn collapse_merges_contiguous_runs() {
        let l = Layout::contiguous(&[2, 3, 4]);
        let mut runs = 0;
        for_each_run(l.shape(), [&l], |_, len, _| {
            runs += 1;
            assert_eq!(len, 24);
        });
        assert_eq!(runs, 1);
        let scalar = Layout::contiguous(&[]);
        assert_eq!(offsets(&scalar), vec![0]);
        assert!(offsets(&Layout::contiguous(&[2, 0])).is_empty());
    }
}
