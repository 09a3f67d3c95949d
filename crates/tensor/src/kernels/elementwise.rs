//! Elementwise maps over one, two or three operands of one shape.
//!
//! Each kernel fills an output of the result's size by plain slice loops, which the compiler
//! vectorises (pushing element by element, with its capacity check, it does not).
//! Contiguous operands are walked as whole slices, split over threads above a size
//! threshold; strided ones run by run of the innermost dimension, with the stride-0 runs that
//! broadcasting produces special-cased. Every element is computed alone, so the result does
//! not depend on the split.
#![allow(unsafe_code)]

use std::mem::MaybeUninit;

use super::{Buf, Strided, buffer, zeroed};
use crate::element::{Element, Scalar};
use crate::error::Result;
use crate::layout::for_each_run;
use crate::threads::{self, Effort};

/// Below this many elements a kernel runs on the calling thread: waking the workers would cost
/// more than it saves.
pub(crate) const PARALLEL_MIN: usize = 1 << 15;

/// The threshold for two-operand maps, which are arithmetic (a flop or two per element, no
/// transcendental function): handing them to the worker threads only pays from here (a
/// training step's sigmoid gradients below it run faster on one thread).
const PARALLEL_MIN_ARITHMETIC: usize = 1 << 18;

/// Threads are handed pieces of this many elements.
const PARALLEL_PIECE: usize = 1 << 13;

/// From this many elements a map is worth waking sleeping threads for; below, it is shared
/// only with threads that are awake.
const WAKE_MIN: usize = 1 << 18;

/// A fresh output of `len` elements, filled by `body(start, piece)` over consecutive pieces,
/// `start` being the piece's first index; on the thread pool from `min_parallel` elements.
///
/// The slots are handed over uninitialised: zeroing them first (so that they could be passed
/// as `&mut [T]`) would cost a pass of its own, a large part of a cheap map's time on outputs
/// fresh from memory. Each parallel piece is filled by one thread, so its lines stay in that
/// core's cache.
///
/// `body` is a trait object so that the thread pool's machinery is compiled once per element
/// type, not once per kernel closure (which multiplies the code of a program using the crate,
/// and its build time).
///
/// # Safety
/// `body` must write every slot of the piece it is given (or panic): the output's elements
/// are read as initialised afterwards.
pub(crate) unsafe fn filled<T: Scalar>(
    op: &'static str,
    len: usize,
    min_parallel: usize,
    body: &(dyn Fn(usize, &mut [MaybeUninit<T>]) + Sync),
) -> Result<Buf<T>> {
    let mut out: Buf<T> = buffer(op, len)?;
    // SAFETY: the buffer has capacity for `len` elements (inline or on the heap), which are
    // not aliased; MaybeUninit<T> has T's layout and asks nothing of the slots' contents.
    let slots =
        unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<MaybeUninit<T>>(), len) };
    if len < min_parallel {
        body(0, slots);
    } else {
        let effort = if len >= WAKE_MIN {
            Effort::Large
        } else {
            Effort::Medium
        };
        threads::for_each_chunk_with(effort, [slots], PARALLEL_PIECE, &|start, [piece]| {
            body(start, piece);
        });
    }
    // SAFETY: the pieces cover the first `len` slots and every body writes each slot of its
    // piece (the caller's contract). A panicking body never gets here, and the buffer is
    // dropped empty.
    unsafe { out.set_len(len) };
    Ok(out)
}

/// `f` applied to every element of `src`, in row-major order.
pub(crate) fn map<A: Scalar, T: Scalar>(
    op: &'static str,
    src: Strided<'_, A>,
    f: impl Fn(A) -> T + Sync,
) -> Result<Buf<T>> {
    if let Some(range) = src.layout.contiguous_range() {
        let src = &src.data[range];
        // SAFETY: `out` has the length of `src`, so every slot is written.
        return unsafe {
            filled(op, src.len(), PARALLEL_MIN, &|start, piece| {
                for (o, &x) in piece.iter_mut().zip(&src[start..]) {
                    o.write(f(x));
                }
            })
        };
    }
    // Run by run, without gathering the operand into a copy first, into the output's
    // uninitialised slots (zeroing them first would be a pass of its own).
    // SAFETY: the runs visit the output row-major, so every slot is written (asserted).
    unsafe {
        filled(op, src.layout.numel(), usize::MAX, &|_, slots| {
            let mut at = 0;
            for_each_run(src.shape(), [src.layout], |[offset], len, [step]| {
                for (i, o) in slots[at..at + len].iter_mut().enumerate() {
                    o.write(f(src.data[offset + i * step]));
                }
                at += len;
            });
            assert_eq!(at, slots.len(), "internal: the runs cover every element");
        })
    }
}

/// A kernel over a piece of its source and the matching uninitialised piece of its output.
pub(crate) type SliceKernel<'a, T> = dyn Fn(&[T], &mut [MaybeUninit<T>]) + Sync + 'a;

/// `kernel(src_piece, out_piece)` over matching pieces of `src` and a fresh output of its
/// length: for kernels that work on whole slices (vectorised transcendentals).
///
/// # Safety
/// `kernel` must write every slot of `out_piece`, which has the length of `src_piece`.
pub(crate) unsafe fn map_slices<T: Scalar>(
    op: &'static str,
    src: &[T],
    kernel: &SliceKernel<'_, T>,
) -> Result<Buf<T>> {
    // SAFETY: the kernel writes every slot of its piece (the caller's contract).
    unsafe {
        filled(op, src.len(), PARALLEL_MIN, &|start, piece| {
            kernel(&src[start..start + piece.len()], piece);
        })
    }
}

/// `f` applied to matching elements of `lhs` and `rhs`, which have one shape.
pub(crate) fn zip_map<A: Scalar, T: Scalar>(
    op: &'static str,
    lhs: Strided<'_, A>,
    rhs: Strided<'_, A>,
    f: impl Fn(A, A) -> T + Sync,
) -> Result<Buf<T>> {
    debug_assert_eq!(lhs.shape(), rhs.shape());
    if let (Some(l), Some(r)) = (lhs.layout.contiguous_range(), rhs.layout.contiguous_range()) {
        let (l, r) = (&lhs.data[l], &rhs.data[r]);
        // One shape, both contiguous: the slices have the output's length, so the pairs
        // cover every slot of each piece.
        assert_eq!(l.len(), r.len(), "internal: zip_map operands of one length");
        // SAFETY: the pairs from `start` on are at least as many as the piece's slots, and
        // each slot is written.
        return unsafe {
            filled(op, l.len(), PARALLEL_MIN_ARITHMETIC, &|start, piece| {
                let pairs = l[start..].iter().zip(&r[start..]);
                for (o, (&a, &b)) in piece.iter_mut().zip(pairs) {
                    o.write(f(a, b));
                }
            })
        };
    }
    // SAFETY: the runs visit the output row-major, so every slot is written (asserted).
    unsafe {
        filled(op, lhs.layout.numel(), usize::MAX, &|_, slots| {
            let mut at = 0;
            for_each_run(
                lhs.shape(),
                [lhs.layout, rhs.layout],
                |[lo, ro], len, steps| {
                    let (l, r) = (lhs.data, rhs.data);
                    let out = &mut slots[at..at + len];
                    at += len;
                    match steps {
                        [1, 1] => {
                            let pairs = l[lo..lo + len].iter().zip(&r[ro..ro + len]);
                            for (o, (&a, &b)) in out.iter_mut().zip(pairs) {
                                o.write(f(a, b));
                            }
                        }
                        [1, 0] => {
                            let b = r[ro];
                            for (o, &a) in out.iter_mut().zip(&l[lo..lo + len]) {
                                o.write(f(a, b));
                            }
                        }
                        [0, 1] => {
                            let a = l[lo];
                            for (o, &b) in out.iter_mut().zip(&r[ro..ro + len]) {
                                o.write(f(a, b));
                            }
                        }
                        [ls, rs] => {
                            for (i, o) in out.iter_mut().enumerate() {
                                o.write(f(l[lo + i * ls], r[ro + i * rs]));
                            }
                        }
                    }
                },
            );
            assert_eq!(at, slots.len(), "internal: the runs cover every element");
        })
    }
}

/// `f` applied to matching elements of three operands of one shape.
pub(crate) fn zip3_map<C: Scalar, T: Scalar>(
    op: &'static str,
    a: Strided<'_, C>,
    b: Strided<'_, T>,
    c: Strided<'_, T>,
    f: impl Fn(C, T, T) -> T + Sync,
) -> Result<Buf<T>> {
    let ranges = (
        a.layout.contiguous_range(),
        b.layout.contiguous_range(),
        c.layout.contiguous_range(),
    );
    if let (Some(ra), Some(rb), Some(rc)) = ranges {
        let (a, b, c) = (&a.data[ra], &b.data[rb], &c.data[rc]);
        assert!(
            a.len() == b.len() && b.len() == c.len(),
            "internal: zip3_map operands of one length"
        );
        // SAFETY: the triples from `start` on are at least as many as the piece's slots, and
        // each slot is written.
        return unsafe {
            filled(op, a.len(), PARALLEL_MIN, &|start, piece| {
                let triples = a[start..].iter().zip(&b[start..]).zip(&c[start..]);
                for (o, ((&x, &y), &z)) in piece.iter_mut().zip(triples) {
                    o.write(f(x, y, z));
                }
            })
        };
    }
    let mut out = zeroed(op, a.layout.numel())?;
    let mut at = 0;
    for_each_run(
        a.shape(),
        [a.layout, b.layout, c.layout],
        |[ao, bo, co], len, [as_, bs, cs]| {
            for (i, o) in out[at..at + len].iter_mut().enumerate() {
                *o = f(
                    a.data[ao + i * as_],
                    b.data[bo + i * bs],
                    c.data[co + i * cs],
                );
            }
            at += len;
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
