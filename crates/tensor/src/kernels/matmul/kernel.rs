//! One block of a product by one call of gemm's kernel, on the calling thread.

use super::scratch::{block_through_scratch, column_major_copy, through_scratch, transposing_pays};
use super::{Operand, Product};
use crate::element::Element;
use crate::kernels::{per_type, pool};

/// The gemm project's matmul kernel for one element type: `dst = alpha * dst + beta * lhs ·
/// rhs` (note the order of `alpha` and `beta`), each matrix given by a pointer and its column
/// and row strides, then conjugation flags and the threading.
type GemmFn<T> = unsafe fn(
    usize,
    usize,
    usize,
    *mut T,
    isize,
    isize,
    bool,
    *const T,
    isize,
    isize,
    *const T,
    isize,
    isize,
    T,
    T,
    bool,
    bool,
    bool,
    gemm_common::Parallelism,
);

/// The best kernel for this CPU and element type (gemm chooses it once, at first use).
fn gemm_fn<T: Element>() -> GemmFn<T> {
    let choose: fn() -> GemmFn<T> = per_type(
        gemm_f32::gemm::f32::get_gemm_fn as fn() -> GemmFn<f32>,
        gemm_f64::gemm::f64::get_gemm_fn as fn() -> GemmFn<f64>,
    );
    choose()
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` when `accumulate`, for an `m × k` and a `k × n`
/// operand, the destination's columns and rows `dst_strides` apart; on this thread.
///
/// # Safety
/// `dst` must be valid for reading (when accumulating) and writing the `m × n` block its
/// strides address, and not overlap the operands, whose every element must be readable.
pub(super) unsafe fn kernel<T: Element>(
    dst: *mut T,
    (dst_cs, dst_rs): (isize, isize),
    (m, k, n): (usize, usize, usize),
    lhs: Operand<T>,
    rhs: Operand<T>,
    accumulate: bool,
) {
    // SAFETY: the caller's contract. Without accumulation, `read_dst` is false and alpha 0:
    // the kernel writes every element of `dst` (the first depth block stores its product
    // without reading), so an uninitialised destination is fine.
    unsafe {
        gemm_fn::<T>()(
            m,
            n,
            k,
            dst,
            dst_cs,
            dst_rs,
            accumulate,
            lhs.ptr,
            lhs.col_stride,
            lhs.row_stride,
            rhs.ptr,
            rhs.col_stride,
            rhs.row_stride,
            if accumulate { T::one() } else { T::zero() },
            T::one(),
            false,
            false,
            false,
            gemm_common::Parallelism::None,
        );
    }
}

/// `product` by one call of the kernel on the calling thread: the bias, when there is one,
/// fills the destination first and the kernel accumulates onto it.
///
/// # Safety
/// As [`gemm`](super::gemm), with the destination's rows `dst_row_stride >= n` apart.
// Inlined: a product that one call of the kernel computes passes through no frame of its
// own on the way, and its `Product` is not copied from frame to frame.
#[inline]
pub(super) unsafe fn block<T: Element>(product: Product<'_, T>) {
    let Product {
        dst,
        dst_row_stride,
        dims: (m, k, n),
        a,
        b,
        bias,
    } = product;
    let accumulate = bias.is_some();
    if let Some(bias) = bias {
        assert_eq!(
            bias.len(),
            n,
            "internal: one bias value per column of the block"
        );
        // Filled here, by the thread computing the block, the rows are in its cache when the
        // kernel reads them, and the add costs no pass of its own.
        for row in 0..m {
            // SAFETY: row `row` of the block is n writable elements from `row ·
            // dst_row_stride` (the caller's contract), and `bias` holds n elements.
            unsafe {
                std::ptr::copy_nonoverlapping(bias.as_ptr(), dst.add(row * dst_row_stride), n);
            }
        }
    }
    // SAFETY: the same contract.
    if through_scratch((m, k, n), a, b, accumulate) && unsafe { block_through_scratch(product) } {
        return;
    }
    // The kernels prefer a column-major destination, so a row-major C with more than one
    // column is computed as the column-major Cᵀ = Bᵀ Aᵀ, as gemm's front end does.
    let (m, n, dst_strides, lhs, rhs) = if n > 1 {
        (
            n,
            m,
            (dst_row_stride as isize, 1),
            b.transposed(),
            a.transposed(),
        )
    } else {
        (m, n, (1, dst_row_stride as isize), a, b)
    };
    // gemm packs a left operand whose rows run along the depth by gathering every packed
    // column with strided reads, which costs more than a blocked copy into column-major
    // order first.
    let copy = if lhs.is_row_major() && transposing_pays(m, k, n) {
        // SAFETY: the caller guarantees every element of `lhs` is readable. Without memory
        // for the copy, gemm packs the operand as it is.
        unsafe { column_major_copy(lhs, m, k) }
    } else {
        None
    };
    let lhs = match &copy {
        Some(copy) => Operand::column_major(copy.as_ptr(), m),
        None => lhs,
    };
    // SAFETY: the caller guarantees `dst` holds the block its strides address and the
    // operands' reads; with a bias, the block was filled above.
    unsafe { kernel(dst, dst_strides, (m, k, n), lhs, rhs, accumulate) };
    if let Some(copy) = copy {
        pool::give(copy);
    }
}
