//! Products too small for gemm: its dispatch, packing and blocking cost more than their
//! arithmetic.

use super::Product;
use crate::element::Element;

/// Up to this many multiply-adds a product is computed by [`tiny`]. A one-neuron layer over
/// a small batch (`[16, 4] · [4, 1]`, 64) is far below it.
pub(super) const TINY: usize = 512;

/// `dst = a · b` (or `bias + a · b`): each element is the dot product of a row and a column,
/// summed in order of the inner index. Four rows are summed side by side, so that the four
/// sums' additions overlap instead of each waiting for the previous one: the narrow products
/// of a small layer (`[16, 4] · [4, 1]`, its weight gradient `[4, 16] · [16, 1]`) are chains
/// of dependent additions otherwise.
///
/// # Safety
/// As [`gemm`](super::gemm).
pub(super) unsafe fn tiny<T: Element>(product: Product<'_, T>) {
    let (m, k, n) = product.dims;
    let (a, b, bias) = (product.a, product.b, product.bias);
    // SAFETY (of every read below): the caller guarantees every element of both operands is
    // readable, and rows i..i + ROWS are inside `a`.
    let at = |i: usize, p: usize| unsafe { a.at(i, p) };
    let bt = |p: usize, j: usize| unsafe { b.at(p, j) };
    let store = |i: usize, j: usize, total: T| {
        let value = match bias {
            Some(bias) => bias[j] + total,
            None => total,
        };
        // SAFETY: the caller guarantees m rows of n writable elements from `dst`.
        unsafe { product.dst.add(i * product.dst_row_stride + j).write(value) };
    };
    const ROWS: usize = 4;
    for j in 0..n {
        let mut i = 0;
        while i + ROWS <= m {
            let mut totals = [T::zero(); ROWS];
            for p in 0..k {
                let y = bt(p, j);
                for (r, total) in totals.iter_mut().enumerate() {
                    *total += at(i + r, p) * y;
                }
            }
            for (r, &total) in totals.iter().enumerate() {
                store(i + r, j, total);
            }
            i += ROWS;
        }
        for i in i..m {
            let mut total = T::zero();
            for p in 0..k {
                total += at(i, p) * bt(p, j);
            }
            store(i, j, total);
        }
    }
}
