//! Elementwise maps over one, two or three operands of one shape.
//!
//! Each kernel has a contiguous fast path (plain slice iteration the compiler vectorizes) and a
//! strided path that walks runs of the innermost dimension, with a special case for the
//! stride-0 runs that broadcasting produces. Large contiguous maps are split over threads;
//! every element is computed alone, so the result does not depend on the split.

use rayon::prelude::*;

use super::{Buf, Strided, alloc};
use crate::element::Element;
use crate::error::Result;
use crate::layout::for_each_run;

/// Below this many elements a kernel runs on the calling thread: waking the workers would cost
/// more than it saves.
pub(crate) const PARALLEL_MIN: usize = 1 << 15;

/// The threshold for two-operand maps, which are arithmetic (a flop or two per element, no
/// transcendental function): handing them to the worker threads only pays from here.
/// Measured on W2's backward (32K-element sigmoid gradients): 5% faster sequential.
const PARALLEL_MIN_ARITHMETIC: usize = 1 << 18;

/// Threads are handed pieces of at least this many elements.
const PARALLEL_PIECE: usize = 1 << 13;

/// `f` applied to every element of `src`, in row-major order.
pub(crate) fn map<T: Copy + Sync, U: Send>(
    op: &'static str,
    src: Strided<'_, T>,
    f: impl Fn(T) -> U + Sync + Send,
) -> Result<Buf<U>> {
    let mut out = alloc(op, src.layout.numel())?;
    if let Some(range) = src.layout.contiguous_range() {
        let src = &src.data[range];
        if src.len() >= PARALLEL_MIN {
            let mapped = src.par_iter().with_min_len(PARALLEL_PIECE).map(|&x| f(x));
            let mut all = out.into_vec();
            mapped.collect_into_vec(&mut all);
            return Ok(Buf::from_vec(all));
        } else {
            out.extend(src.iter().map(|&x| f(x)));
        }
        return Ok(out);
    }
    for_each_run(
        src.shape(),
        [src.layout],
        |[offset], len, [step]| match step {
            1 => out.extend(src.data[offset..offset + len].iter().map(|&x| f(x))),
            _ => out.extend((0..len).map(|i| f(src.data[offset + i * step]))),
        },
    );
    Ok(out)
}

/// `f` applied to matching elements of `lhs` and `rhs`, which have one shape.
pub(crate) fn zip_map<T: Copy + Sync, U: Send>(
    op: &'static str,
    lhs: Strided<'_, T>,
    rhs: Strided<'_, T>,
    f: impl Fn(T, T) -> U + Sync + Send,
) -> Result<Buf<U>> {
    debug_assert_eq!(lhs.shape(), rhs.shape());
    let mut out = alloc(op, lhs.layout.numel())?;
    if let (Some(l), Some(r)) = (lhs.layout.contiguous_range(), rhs.layout.contiguous_range()) {
        let (l, r) = (&lhs.data[l], &rhs.data[r]);
        if l.len() >= PARALLEL_MIN_ARITHMETIC {
            let pairs = l.par_iter().zip(r.par_iter()).with_min_len(PARALLEL_PIECE);
            let mut all = out.into_vec();
            pairs.map(|(&a, &b)| f(a, b)).collect_into_vec(&mut all);
            return Ok(Buf::from_vec(all));
        } else {
            out.extend(l.iter().zip(r).map(|(&a, &b)| f(a, b)));
        }
        return Ok(out);
    }
    for_each_run(
        lhs.shape(),
        [lhs.layout, rhs.layout],
        |[lo, ro], len, steps| {
            let (l, r) = (lhs.data, rhs.data);
            match steps {
                [1, 1] => {
                    let pairs = l[lo..lo + len].iter().zip(&r[ro..ro + len]);
                    out.extend(pairs.map(|(&a, &b)| f(a, b)));
                }
                [1, 0] => out.extend(l[lo..lo + len].iter().map(|&a| f(a, r[ro]))),
                [0, 1] => out.extend(r[ro..ro + len].iter().map(|&b| f(l[lo], b))),
                [ls, rs] => out.extend((0..len).map(|i| f(l[lo + i * ls], r[ro + i * rs]))),
            }
        },
    );
    Ok(out)
}

/// `f` applied to matching elements of three operands of one shape.
pub(crate) fn zip3_map<T: Copy, U>(
    op: &'static str,
    a: Strided<'_, T>,
    b: Strided<'_, T>,
    c: Strided<'_, T>,
    f: impl Fn(T, T, T) -> U,
) -> Result<Buf<U>> {
    let mut out = alloc(op, a.layout.numel())?;
    for_each_run(
        a.shape(),
        [a.layout, b.layout, c.layout],
        |[ao, bo, co], len, [as_, bs, cs]| {
            out.extend((0..len).map(|i| {
                f(
                    a.data[ao + i * as_],
                    b.data[bo + i * bs],
                    c.data[co + i * cs],
                )
            }));
        },
    );
    Ok(out)
}

/// `dst[i] += src[i]` in row-major order; `src` has as many elements as `dst`.
pub(crate) fn add_assign<T: Element>(dst: &mut [T], src: Strided<'_, T>) {
    if let Some(range) = src.layout.contiguous_range() {
        for (d, &s) in dst.iter_mut().zip(&src.data[range]) {
            *d += s;
        }
        return;
    }
    let mut at = 0;
    for_each_run(src.shape(), [src.layout], |[offset], len, [step]| {
        let dst = &mut dst[at..at + len];
        match step {
            0 => dst.iter_mut().for_each(|d| *d += src.data[offset]),
            _ => {
                for (i, d) in dst.iter_mut().enumerate() {
                    *d += src.data[offset + i * step];
                }
            }
        }
        at += len;
    });
}
