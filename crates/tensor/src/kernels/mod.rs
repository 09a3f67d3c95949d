//! CPU kernels. They work on storage slices seen through a [`Layout`] and always write a
//! fresh row-major buffer; they know nothing of graphs.

pub(crate) mod conv;
pub(crate) mod elementwise;
pub(crate) mod gelu;
pub(crate) mod math;
pub(crate) mod matmul;
pub(crate) mod norm;
pub mod pool;
pub(crate) mod reduce;
pub(crate) mod select;
pub(crate) mod softmax;
pub(crate) mod window;

use std::any::Any;
use std::borrow::Cow;

use smallvec::SmallVec;

use crate::element::{Element, Scalar};
use crate::error::{Result, TensorError};
use crate::layout::Layout;
use crate::threads::{self, Effort};

/// A storage slice and the layout through which it is read.
#[derive(Clone, Copy)]
pub(crate) struct Strided<'a, T> {
    pub(crate) data: &'a [T],
    pub(crate) layout: &'a Layout,
}

impl<'a, T: Scalar> Strided<'a, T> {
    pub(crate) fn shape(&self) -> &'a [usize] {
        self.layout.shape()
    }

    /// The same storage read through another layout (a transpose, a broadcast, a reshape
    /// that needs no copy) of it.
    pub(crate) fn with_layout<'b>(&self, layout: &'b Layout) -> Strided<'b, T>
    where
        'a: 'b,
    {
        Strided {
            data: self.data,
            layout,
        }
    }

    /// The elements in row-major order: borrowed when the layout is contiguous, gathered
    /// otherwise.
    pub(crate) fn contiguous(&self, op: &'static str) -> Result<Cow<'a, [T]>> {
        match self.layout.contiguous_range() {
            Some(range) => Ok(Cow::Borrowed(&self.data[range])),
            None => gather(op, *self).map(|buf| Cow::Owned(buf.into_vec())),
        }
    }
}

/// The one of `for_f32` and `for_f64` whose type is `R`: how a kernel picks the routine or
/// the state of an element type without the element trait naming them. `R` is always one of
/// the two, since [`Element`](crate::Element) is sealed to `f32` and `f64`; the comparison of
/// types is made at compile time.
pub(crate) fn per_type<R: Copy + 'static>(for_f32: impl Any, for_f64: impl Any) -> R {
    pick(&[&for_f32, &for_f64])
}

/// As [`per_type`], over every [`Scalar`] type.
pub(crate) fn per_scalar<R: Copy + 'static>(
    for_f32: impl Any,
    for_f64: impl Any,
    for_i64: impl Any,
) -> R {
    pick(&[&for_f32, &for_f64, &for_i64])
}

/// The candidate of type `R`.
fn pick<R: Copy + 'static>(candidates: &[&dyn Any]) -> R {
    *candidates
        .iter()
        .find_map(|candidate| candidate.downcast_ref::<R>())
        .expect("internal: a scalar type is f32, f64 or i64")
}

/// Up to this many elements a buffer lives inline, in the tensor itself: the small tensors of
/// tiny graphs then cost no allocation for their data.
pub(crate) const INLINE: usize = 16;

/// A kernel's output buffer: inline up to [`INLINE`] elements, on the heap beyond.
pub(crate) type Buf<T> = SmallVec<[T; INLINE]>;

/// An empty buffer with room for `len` elements, or an error naming `op` when the allocation
/// fails (a huge broadcast must not abort the process).
pub(crate) fn alloc<T>(op: &'static str, len: usize) -> Result<Buf<T>> {
    let mut out = Buf::new();
    out.try_reserve_exact(len)
        .map_err(|_| TensorError::OutOfMemory { op, elements: len })?;
    Ok(out)
}

/// As [`alloc`], for tensor elements: a freed buffer of exactly this size is taken from this
/// thread's cache when there is one (see [`pool`]).
pub(crate) fn buffer<T: Scalar>(op: &'static str, len: usize) -> Result<Buf<T>> {
    if len > INLINE
        && let Some(buffer) = pool::take(len)
    {
        return Ok(Buf::from_vec(buffer));
    }
    alloc(op, len)
}

/// `len` zeros, or an error naming `op` when the allocation fails. Kernels fill their output
/// through slices of it.
pub(crate) fn zeroed<T: Scalar>(op: &'static str, len: usize) -> Result<Buf<T>> {
    if len <= INLINE {
        // No allocation to fail, and a plain store loop instead of `resize`'s general path.
        return Ok(Buf::from_elem(T::zero(), len));
    }
    // Zeroed by the pool's threads from the parallel threshold on, which also share the page
    // faults of a fresh buffer.
    // SAFETY: every slot of every piece is written.
    #[allow(unsafe_code)]
    unsafe {
        elementwise::filled(op, len, elementwise::PARALLEL_MIN, &|_, piece| {
            piece.iter_mut().for_each(|slot| {
                slot.write(T::zero());
            });
        })
    }
}

/// Rows of at most this many elements in all go to one thread at a time in [`by_rows`].
const ROWS_PIECE: usize = 1 << 13;

/// A fresh output of `total` elements filled by `body(start, rows)` over pieces of whole rows
/// of `len`, on the thread pool from [`elementwise::PARALLEL_MIN`] elements.
pub(crate) fn by_rows<T: Element>(
    op: &'static str,
    total: usize,
    len: usize,
    body: &(dyn Fn(usize, &mut [T]) + Sync),
) -> Result<Buf<T>> {
    let mut out = zeroed(op, total)?;
    if len == 0 {
        return Ok(out);
    }
    let piece = len * (ROWS_PIECE / len).max(1);
    if total < elementwise::PARALLEL_MIN {
        body(0, &mut out);
    } else {
        threads::for_each_chunk_with(Effort::Medium, [&mut out[..]], piece, &|start, [rows]| {
            body(start, rows);
        });
    }
    Ok(out)
}

/// A row-major copy of the elements of `src`.
pub(crate) fn gather<T: Scalar>(op: &'static str, src: Strided<'_, T>) -> Result<Buf<T>> {
    elementwise::map(op, src, |x| x)
}
