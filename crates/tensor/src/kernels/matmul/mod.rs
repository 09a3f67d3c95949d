//! Matrix multiplication through the gemm project's kernels (`gemm-f32`, `gemm-f64`).
//!
//! The entry points, [`matmul`] and [`linear`], are here; below them a product goes
//!
//! - to a plain loop when it is tiny ([`tiny`]),
//! - else into parts of its output for threads ([`split`]), each part computed
//! - by one call of the kernel on one thread ([`kernel`]), after a copy that puts an
//!   operand or the product in the orientation the kernel reads fastest where that moves
//!   fewer elements than the kernel's own packing would ([`scratch`], [`transpose`]).
//!
//! The kernels take a row and a column stride for each operand ([`Operand`]), so transposed
//! and broadcast views are passed as they are; a plain `A · B` of row-major matrices is never
//! copied. Products are cut by blocks of the output only (the depth loop stays sequential),
//! so the result is bit-identical whatever the number of threads.
#![allow(unsafe_code)]

mod kernel;
mod operand;
mod scratch;
mod split;
mod tiny;
mod transpose;

#[cfg(test)]
mod tests;

use std::ops::Range;

use self::operand::{Operand, assert_inside};
use super::{Buf, Strided, buffer};
use crate::element::Element;
use crate::error::Result;
use crate::layout::for_each_run;
use crate::threads;

/// `lhs · rhs` for `lhs: [..batch, m, k]` and `rhs: [..batch, k, n]` with equal batch
/// dimensions, as a row-major `[..batch, m, n]` buffer.
pub(crate) fn matmul<T: Element>(
    op: &'static str,
    lhs: Strided<'_, T>,
    rhs: Strided<'_, T>,
) -> Result<Buf<T>> {
    if lhs.shape().len() == 2 {
        // Two matrices: `linear` without a bias, with no batch dimensions to walk.
        return linear(op, lhs, rhs, None);
    }
    let rank = lhs.shape().len();
    debug_assert!(rank >= 2 && rhs.shape().len() == rank);
    let (m, k, n) = (
        lhs.shape()[rank - 2],
        lhs.shape()[rank - 1],
        rhs.shape()[rank - 1],
    );
    // The batch dimensions' element count, without building their layouts for a 2-D product.
    let batches: usize = lhs.shape()[..rank - 2].iter().product();
    let len = batches * m * n;
    let mut out = buffer(op, len)?;
    if len == 0 || k == 0 {
        // An empty inner dimension gives the empty sum, 0, everywhere.
        out.resize(len, T::zero());
        return Ok(out);
    }
    assert_inside(&lhs);
    assert_inside(&rhs);
    let base = out.as_mut_ptr();
    let product = |block: usize, lhs_offset: usize, rhs_offset: usize| Product {
        // SAFETY: block `block` is the m · n slots from `block · m · n`, inside the buffer's
        // capacity of `len` (asserted by the callers below).
        dst: unsafe { base.add(block * m * n) },
        dst_row_stride: n,
        dims: (m, k, n),
        a: Operand::of(&lhs, lhs_offset),
        b: Operand::of(&rhs, rhs_offset),
        bias: None,
    };
    // The kernel overwrites every element of its destination, so the output is written into
    // the buffer's spare capacity: no zero-filling pass.
    let batch = lhs.layout.leading(rank - 2);
    let rhs_batch = rhs.layout.leading(rank - 2);
    let mut written = 0;
    for_each_run(
        batch.shape(),
        [&batch, &rhs_batch],
        |[lo, ro], runs, [ls, rs]| {
            for i in 0..runs {
                assert!(
                    written < batches,
                    "internal: one output block per batch entry"
                );
                // SAFETY: block `written` is written by no one else; the operands' layouts
                // lie inside their storage (asserted above), with non-negative strides.
                unsafe { gemm(product(written, lo + i * ls, ro + i * rs)) };
                written += 1;
            }
        },
    );
    assert_eq!(written, batches, "internal: every output block is computed");
    // SAFETY: the loop ran the kernel on every block of the first `len` elements, and the
    // kernel writes each element of its destination.
    unsafe { out.set_len(len) };
    Ok(out)
}

/// `x · w + bias` for `x: [rows, k]`, `w: [k, n]` and a bias of `n` elements added to every
/// row: the bias fills the output, each part by the thread that computes it, and the kernel
/// accumulates the product onto it, so the add costs no pass of its own.
pub(crate) fn linear<T: Element>(
    op: &'static str,
    x: Strided<'_, T>,
    w: Strided<'_, T>,
    bias: Option<&[T]>,
) -> Result<Buf<T>> {
    let (rows, k, n) = (x.shape()[0], x.shape()[1], w.shape()[1]);
    let len = rows * n;
    let mut out = buffer(op, len)?;
    if len == 0 || k == 0 {
        // The empty sum: the bias alone, or zeros.
        match bias {
            Some(b) => (0..rows).for_each(|_| out.extend_from_slice(b)),
            None => out.resize(len, T::zero()),
        }
        return Ok(out);
    }
    assert_inside(&x);
    assert_inside(&w);
    let product = Product {
        dst: out.as_mut_ptr(),
        dst_row_stride: n,
        dims: (rows, k, n),
        a: Operand::of(&x, x.layout.offset()),
        b: Operand::of(&w, w.layout.offset()),
        bias,
    };
    // SAFETY: the buffer has capacity for `len` elements and is not shared; the kernel writes
    // all of them (the bias first, when there is one). The operands lie inside their storage
    // (asserted above).
    unsafe {
        gemm(product);
        out.set_len(len);
    }
    Ok(out)
}

/// One product for the kernels: `dst = a · b`, or `dst = bias + a · b` with the bias's `n`
/// elements added to every row, for an `m × k` operand `a` and a `k × n` operand `b`, into
/// `m` rows of `n` elements, `dst_row_stride` apart, from `dst` (which may be uninitialised).
struct Product<'a, T> {
    dst: *mut T,
    dst_row_stride: usize,
    dims: (usize, usize, usize),
    a: Operand<T>,
    b: Operand<T>,
    bias: Option<&'a [T]>,
}

// Not derived: a derive would ask `T: Copy`, which pointers do not need.
impl<T> Clone for Product<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Product<'_, T> {}

impl<T> Product<'_, T> {
    /// The block of rows `rows` of the output.
    ///
    /// # Safety
    /// The rows must lie inside the product.
    unsafe fn rows(self, rows: Range<usize>) -> Self {
        let (_, k, n) = self.dims;
        Product {
            // SAFETY: the caller's contract.
            dst: unsafe { self.dst.add(rows.start * self.dst_row_stride) },
            dims: (rows.len(), k, n),
            a: unsafe { self.a.rows_from(rows.start) },
            ..self
        }
    }

    /// The block of columns `columns` of the output.
    ///
    /// # Safety
    /// The columns must lie inside the product.
    unsafe fn columns(self, columns: Range<usize>) -> Self {
        let (m, k, _) = self.dims;
        Product {
            // SAFETY: the caller's contract.
            dst: unsafe { self.dst.add(columns.start) },
            dims: (m, k, columns.len()),
            b: unsafe { self.b.columns_from(columns.start) },
            bias: self.bias.map(|bias| &bias[columns]),
            ..self
        }
    }
}

/// Computes `product`: by the plain loop when it is tiny, else cut into one part per thread
/// when it is big enough for threads. Whether it is cut and where change no bit of the
/// result, so the bits are the same on any number of threads.
///
/// # Safety
/// The destination must be valid for writing the product's `m × n` elements and not be
/// accessed elsewhere meanwhile; `a` and `b` must address matrices whose every element is
/// readable, with non-negative strides, not overlapping the destination; `k > 0`; a bias has
/// `n` elements.
// Inlined: a product that one call of the kernel computes passes through no frame of its
// own on the way, and its `Product` is not copied from frame to frame.
#[inline]
unsafe fn gemm<T: Element>(product: Product<'_, T>) {
    let (m, k, n) = product.dims;
    debug_assert!(product.bias.is_none_or(|bias| bias.len() == n));
    let work = m.saturating_mul(k).saturating_mul(n);
    if work <= tiny::TINY {
        // SAFETY: the same contract.
        return unsafe { tiny::tiny(product) };
    }
    let threads = threads::num_threads();
    if !split::may_share(work) || threads == 1 {
        // One part: no cut to choose, the product goes to the kernel at once.
        // SAFETY: the same contract.
        return unsafe { kernel::block(product) };
    }
    let by_rows = split::cut_by_rows(product.dims, product.a, product.b, product.bias.is_some());
    let (parts, effort) = split::parts(product.dims, by_rows, threads);
    // SAFETY: the same contract.
    unsafe { split::gemm_cut(product, (parts, by_rows), effort) };
}

/// A matrix for [`product_here`]: its first element and the distances between its rows and
/// between its columns, in elements.
#[derive(Clone, Copy)]
pub(crate) struct MatrixRef<T> {
    pub(crate) ptr: *const T,
    pub(crate) row_stride: usize,
    pub(crate) col_stride: usize,
}

/// `dst = a · b`, or `dst += a · b` when `accumulate`, for an `m × k` matrix `a` and a `k × n`
/// matrix `b`, into `m` rows of `n` elements `dst_row_stride` apart; on the calling thread
/// (for kernels that give whole products to threads themselves, such as convolution's).
/// The bits depend on the dimensions and the layouts only.
///
/// # Safety
/// `dst` must be valid for writing (and, when accumulating, reading) the `m × n` block, and
/// not overlap the operands, whose every element must be readable; `k > 0`.
pub(crate) unsafe fn product_here<T: Element>(
    dst: *mut T,
    dst_row_stride: usize,
    dims: (usize, usize, usize),
    a: MatrixRef<T>,
    b: MatrixRef<T>,
    accumulate: bool,
) {
    let operand = |x: MatrixRef<T>| Operand {
        ptr: x.ptr,
        col_stride: x.col_stride as isize,
        row_stride: x.row_stride as isize,
    };
    let (a, b) = (operand(a), operand(b));
    let (m, k, n) = dims;
    if !accumulate {
        let product = Product {
            dst,
            dst_row_stride,
            dims,
            a,
            b,
            bias: None,
        };
        // SAFETY: the caller's contract.
        return unsafe {
            if m.saturating_mul(k).saturating_mul(n) <= tiny::TINY {
                tiny::tiny(product)
            } else {
                kernel::block(product)
            }
        };
    }
    // Computed as the column-major Cᵀ = Bᵀ Aᵀ, the orientation the kernels prefer.
    // SAFETY: the caller's contract.
    unsafe {
        kernel::kernel(
            dst,
            (dst_row_stride as isize, 1),
            (n, k, m),
            b.transposed(),
            a.transposed(),
            true,
        );
    }
}
