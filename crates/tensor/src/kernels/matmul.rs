//! Matrix multiplication through the gemm project's kernels (`gemm-f32`, `gemm-f64`).
//!
//! They take a row and a column stride for each operand, so transposed and broadcast views
//! are passed as they are: no operand is ever copied into a contiguous buffer. They split the
//! work over threads by blocks of the output only (the depth loop stays sequential), so the
//! result is bit-identical whatever the number of threads.
#![allow(unsafe_code)]

use super::{Buf, Strided, buffer};
use crate::element::Element;
use crate::error::Result;
use crate::layout::for_each_run;

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

/// `dst = a · b` (or `dst + a · b` when accumulating) for tiny products: each element is the
/// dot product of a row and a column, summed in order of the inner index.
///
/// # Safety
/// As [`gemm`].
unsafe fn tiny<T: Element>(
    dst: *mut T,
    (m, k, n): (usize, usize, usize),
    a: Operand<T>,
    b: Operand<T>,
    accumulate: bool,
) {
    for i in 0..m {
        for j in 0..n {
            let mut total = T::zero();
            for p in 0..k {
                // SAFETY: the caller guarantees every element of both operands is readable.
                let (x, y) = unsafe {
                    (
                        *a.0.offset(i as isize * a.2 + p as isize * a.1),
                        *b.0.offset(p as isize * b.2 + j as isize * b.1),
                    )
                };
                total += x * y;
            }
            // SAFETY: the caller guarantees m · n writable elements from `dst`.
            unsafe {
                let out = dst.add(i * n + j);
                if accumulate {
                    *out += total;
                } else {
                    out.write(total);
                }
            }
        }
    }
}

/// Whether splitting an `m × k · k × n` product over threads pays. gemm's own threshold
/// splits skinny products too: on W4's `[256, 1024] · [1024, 10]` two threads took 2.7 times
/// as long as one, a depth of 10 was 3.8 times slower, and W2's 330-thousand multiply-add
/// `[128, 10] · [10, 256]` 1.8 times slower.
fn threads_pay_off(m: usize, k: usize, n: usize) -> bool {
    m.min(n).min(k) >= 32 && m.saturating_mul(k).saturating_mul(n) >= 1 << 20
}

/// `dst = a · b` for an `m × k` and a `k × n` operand, into `m · n` elements written row-major
/// from `dst`. With `accumulate`, the product is added to what `dst` holds; otherwise `dst` is
/// only written (it may be uninitialised).
///
/// A product big enough for threads is cut in two halves of its output (along its longer
/// side), computed side by side, each by gemm with half the pool: on 2 cores gemm's own split
/// keeps both busy only about 70% of the time (W4's products ran 1.35 to 1.5 times faster on
/// two threads than on one). The cut depends on the shape alone and gemm's results do not
/// depend on its thread count, so the bits are the same on any number of threads.
///
/// # Safety
/// `dst` must be valid for writing `m · n` elements (and initialised when accumulating) and
/// not be accessed elsewhere meanwhile; `a` and `b` must point to matrices whose every element
/// (`start + col * cs + row * rs`) is readable, with non-negative strides, not overlapping
/// `dst`; `k > 0`.
unsafe fn gemm<T: Element>(
    dst: *mut T,
    (m, k, n): (usize, usize, usize),
    a: Operand<T>,
    b: Operand<T>,
    accumulate: bool,
) {
    if m * k * n <= TINY {
        // SAFETY: the same contract.
        return unsafe { tiny(dst, (m, k, n), a, b, accumulate) };
    }
    if !threads_pay_off(m, k, n) {
        // SAFETY: the same contract, with the destination's rows n apart.
        return unsafe { block(dst, n, (m, k, n), a, b, accumulate, 1) };
    }
    let pool = (rayon::current_num_threads() / 2).max(1);
    // Halves of whole multiples of 16 rows or columns, the kernels' register tiles.
    let (first, second) = if m >= n {
        let top = (m / 2).next_multiple_of(16).min(m);
        (
            Half::new(dst, (top, k, n), a, b),
            // SAFETY (of the offsets): row `top` of the destination and of `a` are inside them.
            Half::new(
                unsafe { dst.add(top * n) },
                (m - top, k, n),
                unsafe { at_row(a, top) },
                b,
            ),
        )
    } else {
        let left = (n / 2).next_multiple_of(16).min(n);
        (
            Half::new(dst, (m, k, left), a, b),
            // SAFETY (of the offsets): column `left` of the destination and of `b` are inside.
            Half::new(unsafe { dst.add(left) }, (m, k, n - left), a, unsafe {
                at_column(b, left)
            }),
        )
    };
    // SAFETY: the halves write disjoint blocks of the caller's destination (rows n apart) and
    // read parts of the caller's operands, all covered by the caller's contract.
    rayon::join(
        || unsafe { first.run(n, accumulate, pool) },
        || unsafe { second.run(n, accumulate, pool) },
    );
}

/// Operand `a` from row `row` on.
///
/// # Safety
/// Row `row` must be inside the matrix `a` points to.
unsafe fn at_row<T>((p, cs, rs): Operand<T>, row: usize) -> Operand<T> {
    (unsafe { p.offset(row as isize * rs) }, cs, rs)
}

/// Operand `b` from column `column` on.
///
/// # Safety
/// Column `column` must be inside the matrix `b` points to.
unsafe fn at_column<T>((p, cs, rs): Operand<T>, column: usize) -> Operand<T> {
    (unsafe { p.offset(column as isize * cs) }, cs, rs)
}

/// One half of a product, handed to another thread.
struct Half<T> {
    dst: *mut T,
    dims: (usize, usize, usize),
    a: Operand<T>,
    b: Operand<T>,
}

// SAFETY: a half is the exclusive right to write one block of a destination and to read its
// operands, which the caller of `gemm` keeps alive and unchanged until both halves are done;
// the elements are Send + Sync.
unsafe impl<T: Send + Sync> Send for Half<T> {}
unsafe impl<T: Send + Sync> Sync for Half<T> {}

impl<T: Element> Half<T> {
    fn new(dst: *mut T, dims: (usize, usize, usize), a: Operand<T>, b: Operand<T>) -> Self {
        Half { dst, dims, a, b }
    }

    /// # Safety
    /// As [`block`], for this half.
    unsafe fn run(&self, dst_row_stride: usize, accumulate: bool, threads: usize) {
        unsafe {
            block(
                self.dst,
                dst_row_stride,
                self.dims,
                self.a,
                self.b,
                accumulate,
                threads,
            );
        }
    }
}

/// `dst = a · b` (or `dst + a · b`) by one call of gemm on `threads` threads, the destination's
/// rows `dst_row_stride` elements apart.
///
/// # Safety
/// As [`gemm`], with the destination's rows `dst_row_stride >= n` apart.
unsafe fn block<T: Element>(
    dst: *mut T,
    dst_row_stride: usize,
    (m, k, n): (usize, usize, usize),
    a: Operand<T>,
    b: Operand<T>,
    accumulate: bool,
    threads: usize,
) {
    // The kernels prefer a column-major destination, so a row-major C with more than one
    // column is computed as the column-major Cᵀ = Bᵀ Aᵀ, as gemm's front end does.
    let swap = |(p, cs, rs): Operand<T>| (p, rs, cs);
    let (m, n, dst_cs, dst_rs, a, b) = if n > 1 {
        (n, m, dst_row_stride as isize, 1, swap(b), swap(a))
    } else {
        (m, n, 1, dst_row_stride as isize, a, b)
    };
    let parallelism = match threads {
        0 | 1 => gemm_common::Parallelism::None,
        threads => gemm_common::Parallelism::Rayon(threads),
    };
    // SAFETY: the caller guarantees `dst` holds the m × n block (dst_cs, dst_rs) address and
    // the operands' reads. Without `accumulate`, `read_dst` is false and alpha 0: the kernel
    // writes every element of `dst` (the first depth block stores its product without
    // reading), so an uninitialised destination is fine; with it, dst = dst + a · b.
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
            parallelism,
        );
    }
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
    let batch = lhs.layout.leading(rank - 2);
    let rhs_batch = rhs.layout.leading(rank - 2);
    let len = batch.numel() * m * n;
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
                false,
            );
            out.set_len(len);
        }
        return Ok(out);
    }
    // The kernel overwrites every element of its destination, so the output is written into
    // the buffer's spare capacity: no zero-filling pass.
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
                        false,
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
/// row: the bias fills the output and the kernel accumulates the product onto it, so the add
/// costs no pass of its own.
pub(crate) fn linear<T: Element>(
    op: &'static str,
    x: Strided<'_, T>,
    w: Strided<'_, T>,
    bias: Option<&[T]>,
) -> Result<Buf<T>> {
    let (rows, k, n) = (x.shape()[0], x.shape()[1], w.shape()[1]);
    let len = rows * n;
    let mut out = buffer(op, len)?;
    match bias {
        // One output column (a single neuron): the bias is one value repeated.
        Some(&[b]) => out.resize(len, b),
        Some(b) => (0..rows).for_each(|_| out.extend_from_slice(b)),
        None if k == 0 => out.resize(len, T::zero()),
        None => {}
    }
    if len == 0 || k == 0 {
        return Ok(out);
    }
    assert_inside(&x);
    assert_inside(&w);
    // SAFETY: the buffer has capacity for `len` elements and is not shared; with a bias its
    // `len` elements are initialised and the kernel adds to them, without one it writes all
    // of them. The operands lie inside their storage (asserted above).
    unsafe {
        gemm(
            out.as_mut_ptr(),
            (rows, k, n),
            operand(&x, 0),
            operand(&w, 0),
            bias.is_some(),
        );
        out.set_len(len);
    }
    Ok(out)
}
