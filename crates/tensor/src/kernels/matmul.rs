//! Matrix multiplication through the gemm project's kernels (`gemm-f32`, `gemm-f64`).
//!
//! They take a row and a column stride for each operand, so transposed and broadcast views
//! are passed as they are, with two exceptions where the kernel would be slow:
//!
//! - a left operand (in the kernel's column-major orientation) whose rows run along the depth,
//!   which gemm packs with strided reads, is copied column-major first, or the product is
//!   computed column-major into a scratch and transposed into place, whichever moves fewer
//!   elements. That is the `G · Wᵀ` of a linear layer's backward;
//! - a product with fewer than 16 columns and a column-major left operand (a linear layer's
//!   weight gradient `Xᵀ · G` for a narrow layer) goes through the scratch too, so that the
//!   kernel's 16-lane registers run along its long side.
//!
//! A plain `A · B` of row-major matrices is never copied. The kernels split the work over
//! threads by blocks of the output only (the depth loop stays sequential), so the result is
//! bit-identical whatever the number of threads.
#![allow(unsafe_code)]

use super::{Buf, Strided, buffer};
use crate::element::Element;
use crate::error::Result;
use crate::layout::for_each_run;
use crate::threads::{self, Effort};

/// One matrix for the kernel: its first element, its column stride and its row stride.
type Operand<T> = (*const T, isize, isize);

/// The last two dimensions of a strided operand as a kernel operand starting at `offset`.
fn operand<T>(s: &Strided<'_, T>, offset: usize) -> Operand<T> {
    let st = s.layout.strides();
    let rank = st.len();
    // Strides address elements of an allocated slice, so they fit in isize.
    (
        s.data[offset..].as_ptr(),
        st[rank - 1] as isize,
        st[rank - 2] as isize,
    )
}

/// The layout invariant, checked before handing raw pointers to the kernel.
fn assert_inside<T>(s: &Strided<'_, T>) {
    let inside = s.layout.max_offset().is_none_or(|max| max < s.data.len());
    assert!(
        inside,
        "internal: matmul operand layout outside its storage"
    );
}

/// Below this many multiply-adds a product is computed by a plain loop: gemm's dispatch,
/// packing and blocking cost more than the arithmetic (the founding example's 16 × 4 · 4 × 1
/// layer is 64).
const TINY: usize = 512;

/// `dst = a · b` (or `bias + a · b`) for tiny products: each element is the
/// dot product of a row and a column, summed in order of the inner index. Four rows are
/// summed side by side, so that the four sums' additions overlap instead of each waiting for
/// the previous one (the founding example's layer, `[16, 4] · [4, 1]`, and its weight
/// gradient, `[4, 16] · [16, 1]`, are chains of dependent additions otherwise).
///
/// # Safety
/// As [`gemm`].
unsafe fn tiny<T: Element>(
    dst: *mut T,
    (m, k, n): (usize, usize, usize),
    a: Operand<T>,
    b: Operand<T>,
    bias: Option<&[T]>,
) {
    // SAFETY (of every read below): the caller guarantees every element of both operands is
    // readable, and rows i..i + ROWS are inside `a`.
    let at = |i: usize, p: usize| unsafe { *a.0.offset(i as isize * a.2 + p as isize * a.1) };
    let bt = |p: usize, j: usize| unsafe { *b.0.offset(p as isize * b.2 + j as isize * b.1) };
    let store = |i: usize, j: usize, total: T| {
        let value = match bias {
            Some(bias) => bias[j] + total,
            None => total,
        };
        // SAFETY: the caller guarantees m · n writable elements from `dst`.
        unsafe { dst.add(i * n + j).write(value) };
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

/// From this many multiply-adds a product is shared between threads, waking sleeping ones.
const SHARED_MIN: usize = 1 << 20;

/// From this many, a product is shared with the threads that are awake (in a loop of
/// products, from the second on): waking a sleeping one would cost more than its part.
const SHARED_IF_AWAKE_MIN: usize = 1 << 18;

/// Into how many parts to cut an `m × k · k × n` product over `threads` threads (1: not
/// cut), cutting its rows or its columns (`by_rows`), and whether its parts are worth waking
/// threads for. Each part runs gemm on one thread: on 2 cores gemm's own split kept both busy
/// only about 70% of the time, and made products with few columns slower than one thread.
///
/// Each part is at least [`min_part`] long along the side that is cut.
fn parts(m: usize, k: usize, n: usize, by_rows: bool, threads: usize) -> (usize, Effort) {
    let work = m.saturating_mul(k).saturating_mul(n);
    let effort = if work >= SHARED_MIN {
        Effort::Large
    } else {
        Effort::Medium
    };
    if work < SHARED_IF_AWAKE_MIN {
        return (1, effort);
    }
    (part_count((m, k, n), by_rows, threads), effort)
}

/// How many parts of at least [`min_part`] the side that is cut holds, up to `threads`.
fn part_count((m, k, n): (usize, usize, usize), by_rows: bool, threads: usize) -> usize {
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
/// side, except that shallow products ([`shallow`]) are cut by rows, and so is a product
/// computed through a column-major scratch, so that each part copies only its own rows of
/// `a`.
fn cut_by_rows<T>(m: usize, k: usize, n: usize, a: Operand<T>, b: Operand<T>, bias: bool) -> bool {
    m >= n || shallow(k) || through_scratch(m, k, n, a, b, bias)
}

/// Whether a product of depth `k` is bound by writing its output rather than by arithmetic.
/// Such products are cut by rows, so that each part writes whole rows (a `[256, 10] ·
/// [10, 1024]` product was twice as fast in halves of rows as in halves of columns).
fn shallow(k: usize) -> bool {
    k < 32
}

/// `dst = a · b` for an `m × k` and a `k × n` operand, into `m · n` elements written row-major
/// from `dst`, which may be uninitialised. With a `bias` of `n` elements, `dst = bias + a · b`,
/// the bias added to every row.
///
/// A product big enough for threads ([`parts`]) is cut into parts of its output, computed
/// side by side, each by gemm on one thread. Whether it is cut and where change no bit of the
/// result (see [`gemm_cut`]), so the bits are the same on any number of threads.
///
/// # Safety
/// `dst` must be valid for writing `m · n` elements and not be accessed elsewhere meanwhile;
/// `a` and `b` must point to matrices whose every element (`start + col * cs + row * rs`) is
/// readable, with non-negative strides, not overlapping `dst`; `k > 0`.
unsafe fn gemm<T: Element>(
    dst: *mut T,
    (m, k, n): (usize, usize, usize),
    a: Operand<T>,
    b: Operand<T>,
    bias: Option<&[T]>,
) {
    debug_assert!(bias.is_none_or(|bias| bias.len() == n));
    let work = m.saturating_mul(k).saturating_mul(n);
    if work <= TINY {
        // SAFETY: the same contract.
        return unsafe { tiny(dst, (m, k, n), a, b, bias) };
    }
    let by_rows = cut_by_rows(m, k, n, a, b, bias.is_some());
    let (parts, effort) = parts(m, k, n, by_rows, threads::num_threads());
    // SAFETY: the same contract.
    unsafe { gemm_cut(dst, (m, k, n), a, b, bias, (parts, by_rows), effort) };
}

/// [`gemm`] for a product past [`TINY`], in `parts` parts of its rows (`by_rows`) or of its
/// columns over threads, or by one call of the kernel when `parts` is 1. The bits of the result are the same either way: the parts cut
/// the output only, never the depth, and the kernel sums each element over the depth in the
/// same order whatever block it computes it in.
///
/// # Safety
/// As [`gemm`].
unsafe fn gemm_cut<T: Element>(
    dst: *mut T,
    (m, k, n): (usize, usize, usize),
    a: Operand<T>,
    b: Operand<T>,
    bias: Option<&[T]>,
    (parts, by_rows): (usize, bool),
    effort: Effort,
) {
    if parts <= 1 {
        // SAFETY: the same contract, with the destination's rows n apart.
        return unsafe { block(dst, n, (m, k, n), a, b, bias) };
    }
    let cut = Cut {
        by_rows,
        dst,
        dims: (m, k, n),
        a,
        b,
        bias,
        parts,
    };
    // SAFETY: the parts write disjoint blocks of the caller's destination (rows n apart) and
    // read parts of the caller's operands, all covered by the caller's contract.
    threads::for_each_piece(parts, effort, &|i| unsafe { cut.run(i) });
}

/// A product cut into `parts` blocks of whole rows or whole columns of its output, for
/// threads to compute side by side.
struct Cut<'a, T> {
    dst: *mut T,
    dims: (usize, usize, usize),
    a: Operand<T>,
    b: Operand<T>,
    bias: Option<&'a [T]>,
    by_rows: bool,
    parts: usize,
}

// SAFETY: a cut is the right to write the blocks of one destination and to read its operands,
// which the caller of `gemm` keeps alive and unchanged until every part is done; each part
// writes its own block only. The elements are Send + Sync.
unsafe impl<T: Send + Sync> Sync for Cut<'_, T> {}

impl<T: Element> Cut<'_, T> {
    /// Where part `i` starts along the side that is cut: a multiple of 16, the kernels'
    /// register tiles (every part is non-empty: [`parts`] keeps them at least 32 long).
    fn start(&self, i: usize) -> usize {
        let (m, _, n) = self.dims;
        let side = if self.by_rows { m } else { n };
        (side * i / self.parts).next_multiple_of(16).min(side)
    }

    /// Computes part `i`.
    ///
    /// # Safety
    /// As [`gemm`] for the whole product, and `i < parts`; no other call computes part `i`
    /// meanwhile.
    unsafe fn run(&self, i: usize) {
        let (m, k, n) = self.dims;
        let (from, to) = (self.start(i), self.start(i + 1));
        if from == to {
            return;
        }
        // SAFETY (of the offsets and the block): row or column `from` of the destination and
        // of `a` or `b` lie inside them, and the block's rows or columns end before `to`.
        unsafe {
            if self.by_rows {
                let a = (
                    self.a.0.offset(from as isize * self.a.2),
                    self.a.1,
                    self.a.2,
                );
                block(
                    self.dst.add(from * n),
                    n,
                    (to - from, k, n),
                    a,
                    self.b,
                    self.bias,
                );
            } else {
                let b = (
                    self.b.0.offset(from as isize * self.b.1),
                    self.b.1,
                    self.b.2,
                );
                let bias = self.bias.map(|bias| &bias[from..to]);
                block(self.dst.add(from), n, (m, k, to - from), self.a, b, bias);
            }
        }
    }
}

/// `dst = a · b` (or `bias + a · b`) by one call of gemm on the calling thread, the
/// destination's rows `dst_row_stride` elements apart.
///
/// # Safety
/// As [`gemm`], with the destination's rows `dst_row_stride >= n` apart.
unsafe fn block<T: Element>(
    dst: *mut T,
    dst_row_stride: usize,
    (m, k, n): (usize, usize, usize),
    a: Operand<T>,
    b: Operand<T>,
    bias: Option<&[T]>,
) {
    let accumulate = bias.is_some();
    if let Some(bias) = bias {
        assert_eq!(
            bias.len(),
            n,
            "internal: one bias value per column of the block"
        );
        // The bias fills this block's rows and the kernel adds the product to it, so the add
        // costs no pass of its own; filled here, by the thread computing the block, the rows
        // are in its cache when the kernel reads them.
        for row in 0..m {
            // SAFETY: row `row` of the block is n writable elements from `row ·
            // dst_row_stride` (the caller's contract), and `bias` holds n elements.
            unsafe {
                std::ptr::copy_nonoverlapping(bias.as_ptr(), dst.add(row * dst_row_stride), n);
            }
        }
    }
    if through_scratch(m, k, n, a, b, accumulate) {
        // SAFETY: the same contract.
        let done = unsafe { block_through_scratch(dst, dst_row_stride, (m, k, n), a, b) };
        if done {
            return;
        }
    }
    // The kernels prefer a column-major destination, so a row-major C with more than one
    // column is computed as the column-major Cᵀ = Bᵀ Aᵀ, as gemm's front end does.
    let swap = |(p, cs, rs): Operand<T>| (p, rs, cs);
    let (m, n, dst_cs, dst_rs, a, b) = if n > 1 {
        (n, m, dst_row_stride as isize, 1, swap(b), swap(a))
    } else {
        (m, n, 1, dst_row_stride as isize, a, b)
    };
    // gemm packs a left operand whose rows run along the depth by gathering every packed
    // column with strided reads: W4's dX = G·Wᵀ took 3.85 ms instead of the 2.48 of its other
    // products, and 2.8 ms with a blocked transposition into a column-major scratch first (it
    // now goes through `block_through_scratch`, which moves fewer elements for its shape).
    let mut scratch = None;
    let a = if a.1 == 1 && a.2 != 1 && transposing_pays(m, k, n) {
        // SAFETY: the caller guarantees every element of `a` is readable.
        match unsafe { column_major_copy(a, m, k) } {
            Some(copy) => {
                let start = copy.as_ptr();
                scratch = Some(copy);
                (start, m as isize, 1)
            }
            // No memory for the copy: gemm packs the operand as it is.
            None => a,
        }
    } else {
        a
    };
    // SAFETY: the caller guarantees `dst` holds the m × n block (dst_cs, dst_rs) address and
    // the operands' reads. Without a bias, `read_dst` is false and alpha 0: the kernel writes
    // every element of `dst` (the first depth block stores its product without reading), so
    // an uninitialised destination is fine; with one, it was filled above and dst = dst + a · b.
    unsafe {
        T::gemm_fn()(
            m,
            n,
            k,
            dst,
            dst_cs,
            dst_rs,
            accumulate,
            a.0,
            a.1,
            a.2,
            b.0,
            b.1,
            b.2,
            if accumulate { T::one() } else { T::zero() },
            T::one(),
            false,
            false,
            false,
            gemm_common::Parallelism::None,
        );
    }
    if let Some(copy) = scratch {
        super::pool::give(copy);
    }
}

/// Whether `a · b` (`m × k · k × n`, into a row-major destination) is better computed as a
/// column-major product into a scratch, transposed into the destination afterwards.
///
/// [`block`] computes a row-major C as the column-major Cᵀ = Bᵀ Aᵀ. When `b` is column-major,
/// the left operand Bᵀ has its rows along the depth and is copied column-major first
/// (`n · k` elements). Computing C column-major instead takes `a` as the left operand, which
/// is copied only when it is row-major (`m · k`), and the result is transposed (`m · n`).
/// The second way is taken when it moves fewer elements (W4's dX = G·Wᵀ, `m` = 256 against
/// `n` = `k` = 1024, then took 2.64 to 2.70 ms instead of 3.04 to 3.12 ms), and for products
/// with few columns and a column-major `a`.
fn through_scratch<T>(
    m: usize,
    k: usize,
    n: usize,
    a: Operand<T>,
    b: Operand<T>,
    accumulate: bool,
) -> bool {
    let b_column_major = b.2 == 1 && b.1 != 1;
    let a_copied = match (a.1, a.2) {
        (_, 1) => 0,
        (1, _) => m * k,
        // Neither layout: left to the kernel's own packing.
        _ => return false,
    };
    // Fewer than 16 columns would fill a fraction of the kernel's 16-lane rows of Cᵀ = Bᵀ Aᵀ,
    // while a column-major `a` goes to the kernel as it is: W4's dW3 = hᵀ·G3 (`[1024, 256] ·
    // [256, 10]`) took 27 to 32 µs this way, 84 to 89 µs the other.
    let skinny = n < 16 && m >= 64 && a_copied == 0;
    !accumulate
        && n > 1
        && (skinny || b_column_major && transposing_pays(n, k, m) && a_copied + m * n < n * k)
}

/// `dst = a · b` as a column-major product into a scratch, transposed into `dst` (rows
/// `dst_row_stride` apart); `a` is copied column-major first unless it already is. Returns
/// `false`, having written nothing, when the memory for the scratch cannot be had.
///
/// # Safety
/// As [`block`]; `a` has a column or a row stride of 1.
unsafe fn block_through_scratch<T: Element>(
    dst: *mut T,
    dst_row_stride: usize,
    (m, k, n): (usize, usize, usize),
    a: Operand<T>,
    b: Operand<T>,
) -> bool {
    let copy = if a.2 == 1 {
        None
    } else {
        // SAFETY: every element of `a` is readable (the caller's contract), its columns 1 apart.
        match unsafe { column_major_copy(a, m, k) } {
            Some(copy) => Some(copy),
            None => return false,
        }
    };
    let lhs = match &copy {
        Some(copy) => (copy.as_ptr(), m as isize, 1),
        None => a,
    };
    let Some(mut product) = scratch::<T>(m * n) else {
        return false;
    };
    // SAFETY: the scratch has capacity for the m × n column-major product, which the kernel
    // writes in full (alpha 0, no read of the destination); the operands are readable.
    unsafe {
        T::gemm_fn()(
            m,
            n,
            k,
            product.as_mut_ptr(),
            m as isize,
            1,
            false,
            lhs.0,
            lhs.1,
            lhs.2,
            b.0,
            b.1,
            b.2,
            T::zero(),
            T::one(),
            false,
            false,
            false,
            gemm_common::Parallelism::None,
        );
        product.set_len(m * n);
    }
    // The column-major m × n product is the row-major n × m matrix Cᵀ; its column-major copy,
    // with columns dst_row_stride apart, is C in the destination's rows.
    // SAFETY: the product's m · n elements are initialised; the caller guarantees the
    // destination's m rows of n elements, dst_row_stride apart.
    unsafe { transpose(product.as_ptr(), m as isize, (n, m), dst, dst_row_stride) };
    if let Some(copy) = copy {
        super::pool::give(copy);
    }
    super::pool::give(product);
    true
}

/// Whether copying an `m × k` row-major left operand into column-major order before an
/// `m × k · k × n` product pays for itself. With every side at least 32 it did on every shape
/// measured, from 32³ (1.18 µs instead of 1.40) to W4's dX (2.8 ms instead of 3.86); below,
/// it was as often slower as faster.
fn transposing_pays(m: usize, k: usize, n: usize) -> bool {
    m >= 32 && k >= 32 && n >= 32
}

/// Side of the square tiles the copy goes through, read by rows and written by columns, so
/// that the lines of both stay in L1. For a 512 × 1024 f32 operand coming from L3, tiles of
/// 16 to 64 took 0.27 to 0.38 ms with SSE 4 × 4 transpositions, 0.41 to 0.87 ms element by
/// element, and reading columns instead of rows was slower still.
const TILE: usize = 32;

/// An empty buffer with capacity for `len` elements (from this thread's buffer cache when it
/// has one), or `None` when the memory cannot be had: the caller then does without.
fn scratch<T: Element>(len: usize) -> Option<Vec<T>> {
    buffer("matmul", len).ok().map(Buf::into_vec)
}

/// The `m × k` matrix `a` (rows contiguous: column stride 1) copied into column-major order,
/// or `None` when the memory for it cannot be had.
///
/// # Safety
/// Every element of `a` must be readable.
unsafe fn column_major_copy<T: Element>(a: Operand<T>, m: usize, k: usize) -> Option<Vec<T>> {
    let mut out = scratch::<T>(m * k)?;
    // SAFETY: `a`'s elements are readable (the caller's contract) and the buffer has room for
    // the k columns of m elements.
    unsafe {
        transpose(a.0, a.2, (m, k), out.as_mut_ptr(), m);
        out.set_len(m * k);
    }
    Some(out)
}

/// Writes the `rows × cols` row-major matrix `src` (rows `rs` apart, columns 1 apart) in
/// column-major order to `dst`, its columns `ld` apart: `dst[c·ld + r] = src[r·rs + c]`.
///
/// # Safety
/// Those elements of `src` must be readable and those slots of `dst` writable, and the two
/// must not overlap.
unsafe fn transpose<T: Copy>(
    src: *const T,
    rs: isize,
    (rows, cols): (usize, usize),
    dst: *mut T,
    ld: usize,
) {
    for r0 in (0..rows).step_by(TILE) {
        let tile_rows = r0..(r0 + TILE).min(rows);
        for c0 in (0..cols).step_by(TILE) {
            let tile_cols = c0..(c0 + TILE).min(cols);
            // SAFETY: the tile is inside both matrices (the caller's contract).
            unsafe { copy_tile(src, rs, ld, tile_rows.clone(), tile_cols, dst) };
        }
    }
}

/// Copies rows `rows` and columns `cols` of the row-major `src` (rows `rs` apart) to the
/// column-major `dst` (columns `ld` apart), element by element.
///
/// # Safety
/// Those elements of `src` must be readable and those slots of `dst` writable.
unsafe fn copy_elements<T: Copy>(
    src: *const T,
    rs: isize,
    ld: usize,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    dst: *mut T,
) {
    for i in rows {
        for p in cols.clone() {
            // SAFETY: the caller's contract.
            unsafe {
                dst.add(p * ld + i)
                    .write(*src.offset(i as isize * rs + p as isize))
            };
        }
    }
}

/// One tile of [`transpose`]: on x86-64, 4-byte elements go through 4 × 4 blocks transposed
/// in SSE registers ([`copy_tile_sse`]); other elements, other targets and the tile's ragged
/// edges are copied element by element.
///
/// # Safety
/// As [`copy_elements`].
unsafe fn copy_tile<T: Copy>(
    src: *const T,
    rs: isize,
    ld: usize,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    dst: *mut T,
) {
    #[cfg(target_arch = "x86_64")]
    if size_of::<T>() == 4 {
        // SAFETY: the caller's contract; a 4-byte `T` is moved as the bits of an f32.
        return unsafe { copy_tile_sse(src.cast(), rs, ld, rows, cols, dst.cast()) };
    }
    // SAFETY: the caller's contract.
    unsafe { copy_elements(src, rs, ld, rows, cols, dst) }
}

/// [`copy_tile`] for 4-byte elements, in 4 × 4 blocks transposed in SSE registers (part of
/// every x86-64 processor). The registers only move bits, so any 4-byte element is copied
/// exactly.
///
/// The blocks are visited so that the side with the longer stride (the source's rows or the
/// destination's columns) is finished one line at a time. Lines a power-of-two stride apart
/// share an L1 set, and visiting them across the tile evicts each before it is complete: the
/// back-transposition of W4's `dX` (1024 rows of 128, into rows of 1024) took 113 µs
/// visiting the source's rows first and 35 µs visiting the destination's columns first,
/// while the column-major copy of its `G` (rows of 1024 into columns of 128) took 21 µs and
/// 85 µs.
///
/// # Safety
/// As [`copy_elements`].
#[cfg(target_arch = "x86_64")]
unsafe fn copy_tile_sse(
    src: *const f32,
    rs: isize,
    ld: usize,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    dst: *mut f32,
) {
    use std::arch::x86_64::{_MM_TRANSPOSE4_PS, _mm_loadu_ps, _mm_storeu_ps};
    let block_rows = rows.start..rows.start + rows.len() / 4 * 4;
    let block_cols = cols.start..cols.start + cols.len() / 4 * 4;
    let block = |i: usize, p: usize| {
        // SAFETY: rows i..i + 4 and columns p..p + 4 are inside the tile, so the four
        // unaligned loads read elements of `src` and the four stores write slots of `dst`
        // (the caller's contract); the intrinsics are SSE, which every x86-64 CPU has.
        unsafe {
            let s = src.offset(i as isize * rs + p as isize);
            let mut r0 = _mm_loadu_ps(s);
            let mut r1 = _mm_loadu_ps(s.offset(rs));
            let mut r2 = _mm_loadu_ps(s.offset(2 * rs));
            let mut r3 = _mm_loadu_ps(s.offset(3 * rs));
            _MM_TRANSPOSE4_PS(&mut r0, &mut r1, &mut r2, &mut r3);
            let d = dst.add(p * ld + i);
            _mm_storeu_ps(d, r0);
            _mm_storeu_ps(d.add(ld), r1);
            _mm_storeu_ps(d.add(2 * ld), r2);
            _mm_storeu_ps(d.add(3 * ld), r3);
        }
    };
    if ld as isize > rs {
        for p in block_cols.clone().step_by(4) {
            for i in block_rows.clone().step_by(4) {
                block(i, p);
            }
        }
    } else {
        for i in block_rows.clone().step_by(4) {
            for p in block_cols.clone().step_by(4) {
                block(i, p);
            }
        }
    }
    // The ragged right edge of the block rows, then the ragged bottom rows.
    // SAFETY (of both): parts of the tile, the caller's contract.
    unsafe {
        copy_elements(
            src,
            rs,
            ld,
            block_rows.clone(),
            block_cols.end..cols.end,
            dst,
        )
    };
    unsafe { copy_elements(src, rs, ld, block_rows.end..rows.end, cols, dst) };
}

/// `lhs · rhs` for `lhs: [..batch, m, k]` and `rhs: [..batch, k, n]` with equal batch
/// dimensions, as a row-major `[..batch, m, n]` buffer.
pub(crate) fn matmul<T: Element>(
    op: &'static str,
    lhs: Strided<'_, T>,
    rhs: Strided<'_, T>,
) -> Result<Buf<T>> {
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
    if rank == 2 {
        // One block: no walk over batch dimensions.
        // SAFETY: the buffer has capacity for the m * n elements, which the kernel writes
        // all of; the operands lie inside their storage (asserted above), with non-negative
        // strides.
        unsafe {
            gemm(
                out.as_mut_ptr(),
                (m, k, n),
                operand(&lhs, lhs.layout.offset()),
                operand(&rhs, rhs.layout.offset()),
                None,
            );
            out.set_len(len);
        }
        return Ok(out);
    }
    // The kernel overwrites every element of its destination, so the output is written into
    // the buffer's spare capacity: no zero-filling pass.
    let batch = lhs.layout.leading(rank - 2);
    let rhs_batch = rhs.layout.leading(rank - 2);
    let base = out.as_mut_ptr();
    let mut written = 0;
    for_each_run(
        batch.shape(),
        [&batch, &rhs_batch],
        |[lo, ro], runs, [ls, rs]| {
            for i in 0..runs {
                assert!(
                    written * m * n < len,
                    "internal: one output block per batch entry"
                );
                // SAFETY: block `written` is the m * n slots from `written * m * n`, inside the
                // buffer's capacity of `len` and written by no one else; the operands' layouts
                // lie inside their storage (asserted above), with non-negative strides.
                unsafe {
                    let dst = base.add(written * m * n);
                    gemm(
                        dst,
                        (m, k, n),
                        operand(&lhs, lo + i * ls),
                        operand(&rhs, ro + i * rs),
                        None,
                    );
                }
                written += 1;
            }
        },
    );
    assert_eq!(
        written * m * n,
        len,
        "internal: every output block is computed"
    );
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
    // SAFETY: the buffer has capacity for `len` elements and is not shared; the kernel writes
    // all of them (the bias first, when there is one). The operands lie inside their storage
    // (asserted above).
    unsafe {
        gemm(
            out.as_mut_ptr(),
            (rows, k, n),
            operand(&x, x.layout.offset()),
            operand(&w, w.layout.offset()),
            bias,
        );
        out.set_len(len);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-1, 1) with varied low bits.
    fn values<T: Element>(len: usize, seed: u64) -> Vec<T> {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                T::of_f64((state >> 11) as f64 / (1u64 << 52) as f64 - 1.0)
            })
            .collect()
    }

    /// The product through `gemm_cut`, cut as `gemm` cuts it for `threads` threads whatever
    /// its size, and the number of parts; `a` and `b` row-major or column-major.
    fn product<T: Element>(
        (m, k, n): (usize, usize, usize),
        (a_cols, b_cols): (bool, bool),
        bias: bool,
        threads: usize,
    ) -> (Vec<T>, usize) {
        let (a, b, bias_values) = (values::<T>(m * k, 1), values::<T>(k * n, 2), values(n, 3));
        let a_op = match a_cols {
            false => (a.as_ptr(), 1, k as isize),
            true => (a.as_ptr(), m as isize, 1),
        };
        let b_op = match b_cols {
            false => (b.as_ptr(), 1, n as isize),
            true => (b.as_ptr(), k as isize, 1),
        };
        let by_rows = cut_by_rows(m, k, n, a_op, b_op, bias);
        let parts = part_count((m, k, n), by_rows, threads);
        let mut out = Vec::with_capacity(m * n);
        // SAFETY: `out` has room for the m × n product, which gemm_cut writes in full; the
        // operands address exactly their m × k and k × n elements.
        unsafe {
            gemm_cut(
                out.as_mut_ptr(),
                (m, k, n),
                a_op,
                b_op,
                bias.then_some(&bias_values[..]),
                (parts, by_rows),
                Effort::Large,
            );
            out.set_len(m * n);
        }
        (out, parts)
    }

    fn cuts_change_no_bit<T: Element>() {
        let shapes = [
            (64, 64, 64),
            (65, 63, 67),
            (128, 256, 10),
            (256, 128, 10),
            (128, 10, 256),
            (100, 700, 90),
            (200, 64, 3),
            (3, 64, 200),
            (64, 40, 1),
            // Depths over 512 with a side of at most 64: gemm's depth blocking must not
            // change between the whole and its parts.
            (64, 700, 300),
            (300, 600, 40),
            (200, 1030, 64),
            (33, 513, 500),
        ];
        for (m, k, n) in shapes {
            for layouts in [(false, false), (true, false), (false, true), (true, true)] {
                for bias in [false, true] {
                    let (whole, _) = product::<T>((m, k, n), layouts, bias, 1);
                    let mut tried = Vec::new();
                    for threads in [2, 3, 5, 8] {
                        let (cut, parts) = product::<T>((m, k, n), layouts, bias, threads);
                        if parts == 1 || tried.contains(&parts) {
                            continue;
                        }
                        tried.push(parts);
                        let same = whole
                            .iter()
                            .zip(&cut)
                            .all(|(x, y)| x.as_f64().to_bits() == y.as_f64().to_bits());
                        assert!(
                            same,
                            "{m}x{k}x{n} in {parts} parts, column-major {layouts:?}, bias {bias}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn cutting_a_product_into_parts_changes_no_bit_f32() {
        cuts_change_no_bit::<f32>();
    }

    #[test]
    fn cutting_a_product_into_parts_changes_no_bit_f64() {
        cuts_change_no_bit::<f64>();
    }

    #[test]
    fn parts_are_long_enough() {
        let shapes = [
            (64, 64, 64),
            (65, 63, 67),
            (3, 64, 200),
            (1000, 8, 33),
            (33, 500, 2000),
            (64, 1024, 4096),
        ];
        for (m, k, n) in shapes {
            for (threads, by_rows) in (1..=16).flat_map(|t| [(t, false), (t, true)]) {
                let (parts, _) = parts(m, k, n, by_rows, threads);
                let cut = Cut::<f32> {
                    dst: std::ptr::null_mut(),
                    dims: (m, k, n),
                    a: (std::ptr::null(), 1, 1),
                    b: (std::ptr::null(), 1, 1),
                    bias: None,
                    by_rows,
                    parts,
                };
                let (side, other) = if by_rows { (m, n) } else { (n, m) };
                assert_eq!((cut.start(0), cut.start(parts)), (0, side));
                for i in 0..parts {
                    let len = cut.start(i + 1) - cut.start(i);
                    assert!(len >= 16.min(side), "{m}x{k}x{n}, {parts} parts: {len}");
                    if parts > 1 && k > 512 && other <= 64 {
                        assert!(len > 64, "{m}x{k}x{n}, {parts} parts: {len}");
                    }
                }
            }
        }
    }
}
