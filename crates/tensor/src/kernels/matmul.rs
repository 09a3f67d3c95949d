//! Matrix multiplication through the `gemm` crate.
//!
//! `gemm` takes a row and a column stride for each operand, so transposed and broadcast views
//! are passed as they are: no operand is ever copied into a contiguous buffer. It splits the
//! work over threads by blocks of the output only (the depth loop stays sequential), so the
//! result is bit-identical whatever the number of threads.
#![allow(unsafe_code)]

use super::{Strided, alloc};
use crate::element::Element;
use crate::error::Result;
use crate::layout::for_each_run;

/// `lhs · rhs` for `lhs: [..batch, m, k]` and `rhs: [..batch, k, n]` with equal batch
/// dimensions, as a row-major `[..batch, m, n]` buffer.
pub(crate) fn matmul<T: Element>(
    op: &'static str,
    lhs: Strided<'_, T>,
    rhs: Strided<'_, T>,
) -> Result<Vec<T>> {
    let rank = lhs.shape().len();
    debug_assert!(rank >= 2 && rhs.shape().len() == rank);
    let (m, k, n) = (
        lhs.shape()[rank - 2],
        lhs.shape()[rank - 1],
        rhs.shape()[rank - 1],
    );
    let (lhs_rs, lhs_cs) = (
        lhs.layout.strides()[rank - 2],
        lhs.layout.strides()[rank - 1],
    );
    let (rhs_rs, rhs_cs) = (
        rhs.layout.strides()[rank - 2],
        rhs.layout.strides()[rank - 1],
    );
    let batch = lhs.layout.leading(rank - 2);
    let rhs_batch = rhs.layout.leading(rank - 2);
    let len = batch.numel() * m * n;
    let mut out = alloc(op, len)?;
    out.resize(len, T::zero());
    if len == 0 || k == 0 {
        // An empty inner dimension gives the empty sum, 0, everywhere.
        return Ok(out);
    }
    // The layout invariant, checked once here because the reads below are unchecked.
    let inside = |s: &Strided<'_, T>| s.layout.max_offset().is_none_or(|max| max < s.data.len());
    assert!(
        inside(&lhs) && inside(&rhs),
        "internal: matmul operand layout outside its storage"
    );
    let mut dst_blocks = out.chunks_exact_mut(m * n);
    for_each_run(
        batch.shape(),
        [&batch, &rhs_batch],
        |[lo, ro], runs, [ls, rs]| {
            for i in 0..runs {
                let dst = dst_blocks
                    .next()
                    .expect("internal: one output block per batch entry");
                let (lo, ro) = (lo + i * ls, ro + i * rs);
                // SAFETY: `dst` is an exclusively borrowed block of exactly m * n elements, written
                // row-major with row stride n and column stride 1. The operands are read at
                // `offset + row * row_stride + col * col_stride` for rows and columns inside their
                // shapes; the layout invariant (every addressed offset lies inside the storage)
                // keeps those reads inside `lhs.data` and `rhs.data` (asserted above). Strides fit in isize because
                // they address elements of an allocated slice. `dst` does not alias the operands,
                // which are shared borrows.
                unsafe {
                    gemm::gemm(
                        m,
                        n,
                        k,
                        dst.as_mut_ptr(),
                        1,
                        n as isize,
                        false,
                        lhs.data.as_ptr().add(lo),
                        lhs_cs as isize,
                        lhs_rs as isize,
                        rhs.data.as_ptr().add(ro),
                        rhs_cs as isize,
                        rhs_rs as isize,
                        T::zero(),
                        T::one(),
                        false,
                        false,
                        false,
                        gemm::Parallelism::Rayon(0),
                    );
                }
            }
        },
    );
    Ok(out)
}
