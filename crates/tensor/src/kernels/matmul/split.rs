//! How a product is cut into parts of its output for threads to compute side by side, and
//! why the cut never changes a bit of the result.

use super::kernel::block;
use super::scratch::through_scratch;
use super::{Operand, Product};
use crate::element::Element;
use crate::threads::{self, Effort};

/// From this many multiply-adds a product is shared between threads, waking sleeping ones.
const SHARED_MIN: usize = 1 << 20;

/// From this many, a product is shared with the threads that are awake (in a loop of
/// products, from the second on): waking a sleeping one would cost more than its part.
const SHARED_IF_AWAKE_MIN: usize = 1 << 18;

/// Into how many parts to cut an `m × k · k × n` product over `threads` threads (1: not
/// cut), along its rows or its columns (`by_rows`), and whether its parts are worth waking
/// threads for. Each part runs gemm on one thread: gemm's own split leaves cores idle
/// between its blocks, and is slower than one thread on products with few columns.
///
/// Each part is at least [`min_part`] long along the side that is cut.
pub(super) fn parts(dims: (usize, usize, usize), by_rows: bool, threads: usize) -> (usize, Effort) {
    let (m, k, n) = dims;
    let work = m.saturating_mul(k).saturating_mul(n);
    let effort = if work >= SHARED_MIN {
        Effort::Large
    } else {
        Effort::Medium
    };
    if !may_share(work) {
        return (1, effort);
    }
    (part_count(dims, by_rows, threads), effort)
}

/// Whether a product of `work` multiply-adds may be shared between threads at all: below
/// this, [`parts`] keeps it whole.
pub(super) fn may_share(work: usize) -> bool {
    work >= SHARED_IF_AWAKE_MIN
}

/// How many parts of at least [`min_part`] the side that is cut holds, up to `threads`.
pub(super) fn part_count((m, k, n): (usize, usize, usize), by_rows: bool, threads: usize) -> usize {
    let (side, other) = if by_rows { (m, n) } else { (n, m) };
    threads.min(side / min_part(k, other)).max(1)
}

/// The least length of a part along the side that is cut, `other` being the length of the
/// side that is not. At least 32, two of the kernels' 16-wide register tiles, so that a part
/// is at least 16 long after [`Cut::start`] rounds its ends; and longer where a shorter part
/// could change bits, because gemm sums differently in small blocks:
///
/// - blocks of at most 256 elements go through its dot-product kernels (for some layouts):
///   a part keeps more than 256 after rounding;
/// - it sums the depth in blocks it chooses from the depth alone, except that a block of at
///   most 64 × 64 takes blocks of 512, and a depth over 512 summed in other blocks rounds
///   differently: a part whose other side is at most 64 keeps more than 64 after rounding.
///
/// So every part lies on the same side of both lines as the whole product does.
fn min_part(k: usize, other: usize) -> usize {
    let area = 256 / other.max(1) + 17;
    let depth = if k > 512 && other <= 64 { 81 } else { 32 };
    area.max(depth)
}

/// Whether to cut a product by rows of its output rather than by columns: along the longer
/// side, except that shallow products are cut by rows, and so is a product computed through
/// a column-major scratch, so that each part copies only its own rows of `a`.
pub(super) fn cut_by_rows<T>(
    (m, k, n): (usize, usize, usize),
    a: Operand<T>,
    b: Operand<T>,
    bias: bool,
) -> bool {
    m >= n || shallow(k) || through_scratch((m, k, n), a, b, bias)
}

/// Whether a product of depth `k` is bound by writing its output rather than by arithmetic.
/// Such products are cut by rows, so that each part writes whole rows, contiguous in the
/// output.
fn shallow(k: usize) -> bool {
    k < 32
}

/// `product` in `parts` parts of its rows (`by_rows`) or of its columns over threads, or by
/// one call of the kernel when `parts` is 1. The bits of the result are the same either way:
/// the parts cut the output only, never the depth, the kernel sums each element over the
/// depth in the same order whatever block it computes it in, and [`min_part`] keeps every
/// part on the side of gemm's size thresholds that the whole product is on.
///
/// # Safety
/// As [`gemm`](super::gemm).
pub(super) unsafe fn gemm_cut<T: Element>(
    product: Product<'_, T>,
    (parts, by_rows): (usize, bool),
    effort: Effort,
) {
    if parts <= 1 {
        // SAFETY: the same contract.
        return unsafe { block(product) };
    }
    let cut = Cut {
        product,
        by_rows,
        parts,
    };
    // SAFETY: the parts write disjoint blocks of the caller's destination and read parts of
    // the caller's operands, all covered by the caller's contract.
    threads::for_each_piece(parts, effort, &|i| unsafe { cut.run(i) });
}

/// A product cut into `parts` blocks of whole rows or whole columns of its output.
pub(super) struct Cut<'a, T> {
    pub(super) product: Product<'a, T>,
    pub(super) by_rows: bool,
    pub(super) parts: usize,
}

// SAFETY: a cut is the right to write the blocks of one destination and to read its operands,
// which the caller of `gemm` keeps alive and unchanged until every part is done; each part
// writes its own block only. The elements are Send + Sync.
unsafe impl<T: Send + Sync> Sync for Cut<'_, T> {}

impl<T: Element> Cut<'_, T> {
    /// Where part `i` starts along the side that is cut: a multiple of 16, the kernels'
    /// register tiles (every part is non-empty: [`parts`] keeps them at least 32 long).
    pub(super) fn start(&self, i: usize) -> usize {
        let (m, _, n) = self.product.dims;
        let side = if self.by_rows { m } else { n };
        (side * i / self.parts).next_multiple_of(16).min(side)
    }

    /// Computes part `i`.
    ///
    /// # Safety
    /// As [`gemm`](super::gemm) for the whole product, and `i < parts`; no other call
    /// computes part `i` meanwhile.
    unsafe fn run(&self, i: usize) {
        let (from, to) = (self.start(i), self.start(i + 1));
        if from == to {
            return;
        }
        // SAFETY: rows or columns `from..to` of the destination and of `a` or `b` lie inside
        // them (the caller's contract), and no other part touches them.
        unsafe {
            block(if self.by_rows {
                self.product.rows(from..to)
            } else {
                self.product.columns(from..to)
            })
        }
    }
}
