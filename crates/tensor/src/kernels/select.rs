//! Kernels that move whole rows: concatenation and indexed selection and accumulation.

use super::reduce::Axis;
use super::{Buf, buffer};
use crate::element::Element;
use crate::error::Result;

/// Joins row-major `parts` along the middle axis; `parts[k]` is `[outer, lens[k], inner]`.
pub(crate) fn concat<T: Element>(
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
pub(crate) fn index_select<T: Element>(
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
