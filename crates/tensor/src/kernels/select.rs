//! Kernels that move whole rows (concatenation, indexed selection and accumulation) or single
//! elements picked by an index tensor (gather and scatter-add).

use super::reduce::Axis;
use super::{Buf, buffer};
use crate::element::{Element, Scalar};
use crate::error::Result;

/// Joins row-major `parts` along the middle axis; `parts[k]` is `[outer, lens[k], inner]`.
pub(crate) fn concat<T: Scalar>(
    op: &'static str,
    parts: &[&[T]],
    lens: &[usize],
    outer: usize,
    inner: usize,
) -> Result<Buf<T>> {
    let total: usize = lens.iter().sum();
    let mut out = buffer(op, outer * total * inner)?;
    for o in 0..outer {
        for (part, &len) in parts.iter().zip(lens) {
            let block = len * inner;
            out.extend_from_slice(&part[o * block..(o + 1) * block]);
        }
    }
    Ok(out)
}

/// Rows `indices` of the middle axis of `src` (`[outer, len, inner]`, row-major), in order.
/// Every index is below `axis.len` (checked by the caller).
pub(crate) fn index_select<T: Scalar>(
    op: &'static str,
    src: &[T],
    axis: Axis,
    indices: &[usize],
) -> Result<Buf<T>> {
    let Axis { outer, len, inner } = axis;
    let mut out = buffer(op, outer * indices.len() * inner)?;
    for o in 0..outer {
        for &i in indices {
            let start = (o * len + i) * inner;
            out.extend_from_slice(&src[start..start + inner]);
        }
    }
    Ok(out)
}

/// A copy of `base` (`[outer, len, inner]`) with row `j` of `source`
/// (`[outer, indices.len(), inner]`) added to row `indices[j]`, repeated indices accumulating.
pub(crate) fn index_add<T: Element>(
    op: &'static str,
    base: &[T],
    axis: Axis,
    indices: &[usize],
    source: &[T],
) -> Result<Buf<T>> {
    let Axis { outer, len, inner } = axis;
    let mut out = buffer(op, base.len())?;
    out.extend_from_slice(base);
    for o in 0..outer {
        for (j, &i) in indices.iter().enumerate() {
            let dst = (o * len + i) * inner;
            let src = (o * indices.len() + j) * inner;
            for (d, &s) in out[dst..dst + inner]
                .iter_mut()
                .zip(&source[src..src + inner])
            {
                *d += s;
            }
        }
    }
    Ok(out)
}

/// For each element `p` of a row-major index tensor of shape `index_shape` (whose entries are
/// `positions`, each below `shape[dim]`), `visit(p, offset)` with the offset in a row-major
/// tensor of `shape` of the element at `p`'s coordinates with coordinate `dim` replaced by
/// `positions[p]`. `index_shape` has the rank of `shape` and is no larger outside `dim`.
fn for_each_target(
    shape: &[usize],
    dim: usize,
    positions: &[usize],
    index_shape: &[usize],
    mut visit: impl FnMut(usize, usize),
) {
    let ndim = shape.len();
    if ndim > 0 && dim == ndim - 1 && index_shape[..dim] == shape[..dim] {
        // Along the last dimension, with the leading ones whole (a pool's windows, a loss's
        // targets): row by row.
        let (len, picked) = (shape[dim], index_shape[dim]);
        for (row, chunk) in positions.chunks(picked.max(1)).enumerate() {
            for (k, &at) in chunk.iter().enumerate() {
                visit(row * picked + k, row * len + at);
            }
        }
        return;
    }
    let mut strides = vec![1; ndim];
    for d in (0..ndim.saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    // An odometer over the index's coordinates, carrying the offset of all but `dim`.
    let mut coord = vec![0; ndim];
    let mut base = 0;
    for (p, &at) in positions.iter().enumerate() {
        visit(p, base + at * strides[dim]);
        for d in (0..ndim).rev() {
            coord[d] += 1;
            if d != dim {
                base += strides[d];
            }
            if coord[d] < index_shape[d] {
                break;
            }
            if d != dim {
                base -= coord[d] * strides[d];
            }
            coord[d] = 0;
        }
    }
}

/// The elements of `src` (row-major, `shape`) that `positions` (an index of `index_shape`)
/// pick along `dim`, in the index's row-major order.
pub(crate) fn gather<T: Scalar>(
    op: &'static str,
    src: &[T],
    shape: &[usize],
    dim: usize,
    positions: &[usize],
    index_shape: &[usize],
) -> Result<Buf<T>> {
    let mut out = buffer(op, positions.len())?;
    for_each_target(shape, dim, positions, index_shape, |_, at| {
        out.push(src[at])
    });
    Ok(out)
}

/// The base of a [`scatter_add`]: its elements (row-major), or one value everywhere (a
/// broadcast scalar, as the zeros of a gather's gradient), which needs no copy.
pub(crate) enum Base<'a, T> {
    Values(&'a [T]),
    Fill(T),
}

/// A copy of `base` (row-major, `shape`) with element `p` of `source` (of `index_shape`) added
/// at the element `positions[p]` picks along `dim`, repeated positions accumulating.
pub(crate) fn scatter_add<T: Element>(
    op: &'static str,
    base: Base<'_, T>,
    shape: &[usize],
    dim: usize,
    positions: &[usize],
    index_shape: &[usize],
    source: &[T],
) -> Result<Buf<T>> {
    let len = shape.iter().product();
    let mut out = buffer(op, len)?;
    match base {
        Base::Values(values) => out.extend_from_slice(values),
        Base::Fill(value) => out.resize(len, value),
    }
    for_each_target(shape, dim, positions, index_shape, |p, at| {
        out[at] += source[p]
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_follows_the_index_in_every_dimension() {
        // src = [[0, 1, 2], [3, 4, 5]]
        let src: Vec<i64> = (0..6).collect();
        // dim 1, index [[2, 0], [1, 1]]: rows keep their place, columns are picked.
        let out = gather("t", &src, &[2, 3], 1, &[2, 0, 1, 1], &[2, 2]).unwrap();
        assert_eq!(out.as_slice(), &[2, 0, 4, 4]);
        // dim 0, index [[1, 0, 1]] (one row, smaller than src along dim 0).
        let out = gather("t", &src, &[2, 3], 0, &[1, 0, 1], &[1, 3]).unwrap();
        assert_eq!(out.as_slice(), &[3, 1, 5]);
        // An index narrower than src outside `dim`: [[0], [1]] along dim 0 of shape [2, 1].
        let out = gather("t", &src, &[2, 3], 0, &[1, 0], &[2, 1]).unwrap();
        assert_eq!(out.as_slice(), &[3, 0]);
    }

    #[test]
    fn scatter_add_accumulates_repeated_positions() {
        let base = [0.0f64; 6];
        let out = scatter_add(
            "t",
            Base::Values(&base),
            &[2, 3],
            1,
            &[2, 2, 0, 1],
            &[2, 2],
            &[1.0, 2.0, 3.0, 4.0],
        )
        .unwrap();
        assert_eq!(out.as_slice(), &[0.0, 0.0, 3.0, 3.0, 4.0, 0.0]);
    }
}
