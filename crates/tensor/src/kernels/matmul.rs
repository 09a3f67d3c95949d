//! Matrix multiplication through the gemm project's kernels (`gemm-f32`, `gemm-f64`).
//!
//! They take a row and a column stride for each operand, so transposed and broadcast views
//! are passed as they are: no operand is ever copied into a contiguous buffer. They split the
//! work over threads by blocks of the output only (the depth loop stays sequential), so the
//! result is bit-identical whatever the number of threads.
#![allow(unsafe_code)]

use super::{Strided, alloc};
use crate::element::Element;
use crate::error::Result;
use crate::layout::for_each_run;

/// One matrix for the kernel: its first element and its column and row strides.
type Operand<T> = (*const T, isize, isize);

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
    let strides = |s: &Strided<'_, T>| {
        let st = s.layout.strides();
        // Strides address elements of an allocated slice, so they fit in isize.
        (st[rank - 1] as isize, st[rank - 2] as isize)
    };
    let ((lhs_cs, lhs_rs), (rhs_cs, rhs_rs)) = (strides(&lhs), strides(&rhs));
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
    let kernel = T::gemm_fn();
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
                let a: Operand<T> = (lhs.data[lo..].as_ptr(), lhs_cs, lhs_rs);
                let b: Operand<T> = (rhs.data[ro..].as_ptr(), rhs_cs, rhs_rs);
                // The kernels prefer a column-major destination, so a row-major C with more than
                // one column is computed as the column-major Cᵀ = Bᵀ Aᵀ, as gemm's front end does.
                let swap = |(p, cs, rs): Operand<T>| (p, rs, cs);
                let (m, n, dst_cs, dst_rs, a, b) = if n > 1 {
                    (n, m, n as isize, 1, swap(b), swap(a))
                } else {
                    (m, n, 1, n as isize, a, b)
                };
                // SAFETY: `dst` is an exclusively borrowed block of exactly m * n elements, and
                // (dst_cs, dst_rs) address it row-major (or, swapped, its transpose column-major).
                // Each operand is read at `start + col * cs + row * rs` for rows and columns inside
                // its shape; the layout invariant asserted above keeps those reads inside
                // `lhs.data` and `rhs.data`. No stride is negative. `dst` does not alias the
                // operands, which are shared borrows. `alpha = 0` with `read_dst = false` makes
                // dst = lhs · rhs.
                unsafe {
                    kernel(
                        m,
                        n,
                        k,
                        dst.as_mut_ptr(),
                        dst_cs,
                        dst_rs,
                        false,
                        a.0,
                        a.1,
                        a.2,
                        b.0,
                        b.1,
                        b.2,
                        T::zero(),
                        T::one(),
                        false,
                        false,
                        false,
                        gemm_common::Parallelism::Rayon(0),
                    );
                }
            }
        },
    );
    Ok(out)
}
