//! Copies that put an operand, or the product itself, in the orientation the kernel reads
//! and writes fastest.

use super::kernel::kernel;
use super::transpose::transpose;
use super::{Operand, Product};
use crate::element::Element;
use crate::kernels::{Buf, buffer, pool};

/// Whether `a · b` (`m × k · k × n`, into a row-major destination) is better computed as a
/// column-major product into a scratch, transposed into the destination afterwards.
///
/// [`block`](super::kernel::block) computes a row-major C as the column-major Cᵀ = Bᵀ Aᵀ.
/// When `b` is column-major, the left operand Bᵀ has its rows along the depth and is copied
/// column-major first (`n · k` elements). Computing C column-major instead takes `a` as the
/// left operand, which is copied only when it is row-major (`m · k`), and the result is
/// transposed (`m · n`). The second way is taken when it moves fewer elements (a linear
/// layer's input gradient `G · Wᵀ` over a batch narrower than the layer), and for products
/// with few columns and a column-major `a`.
pub(super) fn through_scratch<T>(
    (m, k, n): (usize, usize, usize),
    a: Operand<T>,
    b: Operand<T>,
    accumulate: bool,
) -> bool {
    let a_copied = if a.columns_contiguous() {
        0
    } else if a.rows_contiguous() {
        m * k
    } else {
        // Neither layout: left to the kernel's own packing.
        return false;
    };
    // Fewer than 16 columns would fill a fraction of the kernel's 16-lane rows of
    // Cᵀ = Bᵀ Aᵀ, while a column-major `a` goes to the kernel as it is (a narrow layer's
    // weight gradient `Xᵀ · G`).
    let skinny = n < 16 && m >= 64 && a_copied == 0;
    let fewer_moved = b.is_column_major() && transposing_pays(n, k, m) && a_copied + m * n < n * k;
    !accumulate && n > 1 && (skinny || fewer_moved)
}

/// `product` (which has no bias) as a column-major product into a scratch, transposed into
/// the destination; `a` is copied column-major first unless it already is. Returns `false`,
/// having written nothing, when the memory for the scratch cannot be had.
///
/// # Safety
/// As [`block`](super::kernel::block); `a` has a column or a row stride of 1.
pub(super) unsafe fn block_through_scratch<T: Element>(product: Product<'_, T>) -> bool {
    let (m, k, n) = product.dims;
    let (dst, dst_row_stride, a, b) = (product.dst, product.dst_row_stride, product.a, product.b);
    let copy = if a.columns_contiguous() {
        None
    } else {
        // SAFETY: every element of `a` is readable (the caller's contract), its columns 1 apart.
        match unsafe { column_major_copy(a, m, k) } {
            Some(copy) => Some(copy),
            None => return false,
        }
    };
    let lhs = match &copy {
        Some(copy) => Operand::column_major(copy.as_ptr(), m),
        None => a,
    };
    let Some(mut scratch) = scratch::<T>(m * n) else {
        return false;
    };
    // SAFETY: the scratch has capacity for the m × n column-major product, which the kernel
    // writes in full (no accumulation); the operands are readable.
    unsafe {
        kernel(
            scratch.as_mut_ptr(),
            (m as isize, 1),
            (m, k, n),
            lhs,
            b,
            false,
        );
        scratch.set_len(m * n);
    }
    // The column-major m × n product is the row-major n × m matrix Cᵀ; its column-major copy,
    // with columns dst_row_stride apart, is C in the destination's rows.
    // SAFETY: the product's m · n elements are initialised; the caller guarantees the
    // destination's m rows of n elements, dst_row_stride apart.
    unsafe { transpose(scratch.as_ptr(), m as isize, (n, m), dst, dst_row_stride) };
    if let Some(copy) = copy {
        pool::give(copy);
    }
    pool::give(scratch);
    true
}

/// Whether copying an `m × k` row-major left operand into column-major order before an
/// `m × k · k × n` product pays for itself: with every side at least 32 it did on every shape
/// measured; below, it was as often slower as faster.
pub(super) fn transposing_pays(m: usize, k: usize, n: usize) -> bool {
    m >= 32 && k >= 32 && n >= 32
}

/// An empty buffer with capacity for `len` elements (from this thread's buffer cache when it
/// has one), or `None` when the memory cannot be had: the caller then does without.
fn scratch<T: Element>(len: usize) -> Option<Vec<T>> {
    buffer("matmul", len).ok().map(Buf::into_vec)
}

/// The `m × k` matrix `a` (rows contiguous) copied into column-major order, or `None` when
/// the memory for it cannot be had.
///
/// # Safety
/// Every element of `a` must be readable.
pub(super) unsafe fn column_major_copy<T: Element>(
    a: Operand<T>,
    m: usize,
    k: usize,
) -> Option<Vec<T>> {
    let mut out = scratch::<T>(m * k)?;
    // SAFETY: `a`'s elements are readable (the caller's contract) and the buffer has room for
    // the k columns of m elements.
    unsafe {
        transpose(a.ptr, a.row_stride, (m, k), out.as_mut_ptr(), m);
        out.set_len(m * k);
    }
    Some(out)
}
