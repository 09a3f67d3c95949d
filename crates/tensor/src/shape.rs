//! Shapes: element counts, NumPy broadcasting and dimension indices.

use smallvec::SmallVec;

use crate::error::{Result, TensorError};

/// A shape or a list of strides. Four dimensions live inline, so the shapes of the small
/// tensors that dominate tiny graphs cost no allocation.
pub(crate) type Dims = SmallVec<[usize; 4]>;

/// The number of elements of `shape`, or an error naming `op` when the product overflows.
#[inline]
pub(crate) fn checked_numel(op: &'static str, shape: &[usize]) -> Result<usize> {
    let mut numel = 1usize;
    for &dim in shape {
        match numel.checked_mul(dim) {
            Some(n) => numel = n,
            None => return Err(overflow(op, shape)),
        }
    }
    Ok(numel)
}

#[cold]
fn overflow(op: &'static str, shape: &[usize]) -> TensorError {
    TensorError::ShapeOverflow {
        op,
        shape: shape.to_vec(),
    }
}

/// Row-major strides of a contiguous tensor of `shape`, in elements.
pub(crate) fn contiguous_strides(shape: &[usize]) -> Dims {
    let mut strides: Dims = SmallVec::from_elem(1, shape.len());
    let mut stride = 1usize;
    for (out, &dim) in strides.iter_mut().zip(shape).rev() {
        *out = stride;
        // Saturating keeps this total; only an empty tensor can have a product past usize,
        // and its strides are never used to address memory.
        stride = stride.saturating_mul(dim);
    }
    strides
}

/// The shape two operands broadcast to, following NumPy's rule
/// (<https://numpy.org/doc/stable/user/basics.broadcasting.html>): align the shapes on their
/// trailing dimensions; each pair of dimensions must be equal or one of them 1; a missing
/// leading dimension counts as 1.
pub(crate) fn broadcast_shapes(op: &'static str, lhs: &[usize], rhs: &[usize]) -> Result<Dims> {
    let ndim = lhs.len().max(rhs.len());
    let mut out: Dims = SmallVec::from_elem(1, ndim);
    for (i, out_dim) in out.iter_mut().enumerate() {
        // Index from the end: position i of the output is position i - (ndim - len) of each
        // operand, absent (1) when that is negative.
        let l = (i + lhs.len()).checked_sub(ndim).map_or(1, |j| lhs[j]);
        let r = (i + rhs.len()).checked_sub(ndim).map_or(1, |j| rhs[j]);
        *out_dim = match (l, r) {
            (l, r) if l == r => l,
            (1, r) => r,
            (l, 1) => l,
            (l, r) => {
                return Err(TensorError::mismatch(
                    op,
                    lhs,
                    rhs,
                    format!(
                        "cannot broadcast {lhs:?} with {rhs:?} (dimension {i} of the \
                         broadcast shape: {l} vs {r})"
                    ),
                ));
            }
        };
    }
    Ok(out)
}

/// A dimension index: `usize` counts from the front, signed integers also from the back
/// (`-1` is the last dimension), as in PyTorch.
pub trait Dim: Copy + std::fmt::Debug {
    /// The index in `0..ndim` this names, or an error naming `op`.
    ///
    /// # Errors
    /// [`TensorError::DimOutOfRange`] when the index is outside `-ndim..ndim`.
    fn resolve(self, op: &'static str, ndim: usize) -> Result<usize>;
}

fn resolve_signed(dim: i64, op: &'static str, ndim: usize) -> Result<usize> {
    let rank = ndim as i64;
    let index = if dim < 0 { dim + rank } else { dim };
    if (0..rank).contains(&index) {
        Ok(index as usize)
    } else {
        Err(TensorError::DimOutOfRange { op, dim, ndim })
    }
}

impl Dim for usize {
    fn resolve(self, op: &'static str, ndim: usize) -> Result<usize> {
        if self < ndim {
            Ok(self)
        } else {
            Err(TensorError::DimOutOfRange {
                op,
                dim: i64::try_from(self).unwrap_or(i64::MAX),
                ndim,
            })
        }
    }
}

macro_rules! impl_signed_dim {
    ($($t:ty),*) => {$(
        impl Dim for $t {
            fn resolve(self, op: &'static str, ndim: usize) -> Result<usize> {
                resolve_signed(self as i64, op, ndim)
            }
        }
    )*};
}
impl_signed_dim!(i32, i64, isize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_follows_numpy() {
        assert_eq!(
            broadcast_shapes("t", &[2, 1, 3], &[4, 1])
                .unwrap()
                .as_slice(),
            &[2, 4, 3]
        );
        assert_eq!(broadcast_shapes("t", &[], &[5]).unwrap().as_slice(), &[5]);
        assert_eq!(
            broadcast_shapes("t", &[0, 1], &[1, 3]).unwrap().as_slice(),
            &[0, 3]
        );
        let err = broadcast_shapes("add", &[2, 3], &[4]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "add: cannot broadcast [2, 3] with [4] (dimension 1 of the broadcast shape: 3 vs 4)"
        );
    }

    #[test]
    fn numel_detects_overflow() {
        assert_eq!(checked_numel("t", &[2, 3, 4]).unwrap(), 24);
        assert_eq!(checked_numel("t", &[]).unwrap(), 1);
        assert_eq!(checked_numel("t", &[usize::MAX, 0]).unwrap(), 0);
        let err = checked_numel("zeros", &[usize::MAX, 2]).unwrap_err();
        assert!(err.to_string().contains("overflows usize"), "{err}");
    }

    #[test]
    fn dims_resolve_from_either_end() {
        assert_eq!((-1i32).resolve("t", 3).unwrap(), 2);
        assert_eq!(2usize.resolve("t", 3).unwrap(), 2);
        assert_eq!(
            3usize.resolve("sum_dim", 3).unwrap_err().to_string(),
            "sum_dim: dimension 3 is out of range for a tensor of rank 3 (expected -3..=2)"
        );
        assert!((-4i64).resolve("t", 3).is_err());
        assert!(0usize.resolve("t", 0).is_err());
    }

    #[test]
    fn strides_are_row_major() {
        assert_eq!(contiguous_strides(&[2, 3, 4]).as_slice(), &[12, 4, 1]);
        assert_eq!(contiguous_strides(&[]).as_slice(), &[] as &[usize]);
    }
}
