//! Matrix multiplication through the gemm project's kernels (`gemm-f32`, `gemm-f64`).
//!
//! They take a row and a column stride for each operand, so transposed and broadcast views
//! are passed as they are: no operand is ever copied into a contiguous buffer. They split the
//! work over threads by blocks of the output only (the depth loop stays sequential), so the
//! result is bit-identical whatever the number of threads.
#![allow(unsafe_code)]

use super::{Buf, Strided, alloc};
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

/// `dst = a · b` for an `m × k` and a `k × n` operand, into `m · n` elements written row-major
/// from `dst`. With `accumulate`, the product is added to what `dst` holds; otherwise `dst` is
/// only written (it may be uninitialised).
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
    // The kernels prefer a column-major destination, so a row-major C with more than one
    // column is computed as the column-major Cᵀ = Bᵀ Aᵀ, as gemm's front end does.
    let swap = |(p, cs, rs): Operand<T>| (p, rs, cs);
    let (m, n, dst_cs, dst_rs, a, b) = if n > 1 {
        (n, m, n as isize, 1, swap(b), swap(a))
    } else {
        (m, n, 1, n as isize, a, b)
    };
    // SAFETY: the caller guarantees `dst` holds m * n writable elements, which (dst_cs, dst_rs)
    // address row-major (or, swapped, as the transpose column-major), and the operands' reads. Without `accumulate`, `read_dst` is false and alpha 0: the kernel
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
            gemm_common::Parallelism::Rayon(0),
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
    let mut out = alloc(op, len)?;
    if len == 0 || k == 0 {
        // An empty inner dimension gives the empty sum, 0, everywhere.
        out.resize(len, T::zero());
        return Ok(out);
    }
    assert_inside(&lhs);
    assert_inside(&rhs);
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
    let mut out = alloc(op, len)?;
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
