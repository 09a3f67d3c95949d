//! The allocations of dropped tensors, kept per thread for the next tensors made.
//!
//! Every operation makes a tensor, and most are dropped soon after (an intermediate result,
//! a matmul's output read once): reusing the allocation of the last one dropped spares the
//! allocator a call each way. An allocation is kept only when the dropped handle was the
//! last one on it, and its contents are dropped at once (releasing storage and graph as a
//! plain drop would); see [`kept`] for the per-thread stacks.
#![allow(unsafe_code)]

use std::mem::MaybeUninit;
use std::sync::Arc;

use super::{Inner, TensorId};
use crate::element::Scalar;
use crate::kept::{self, Kept};
use crate::kernels::{per_scalar, pool};
use crate::layout::Layout;
use crate::storage::{Storage, sole};

/// An allocation for one tensor, its contents dropped; dropping it frees the allocation.
type Slot<T> = Arc<MaybeUninit<Inner<T>>>;

// Initialised at compile time: an access checks no lazy initialisation.
thread_local! {
    static F32_SLOTS: Kept<Slot<f32>> = const { Kept::new() };
    static F64_SLOTS: Kept<Slot<f64>> = const { Kept::new() };
    static I64_SLOTS: Kept<Slot<i64>> = const { Kept::new() };
}

fn local<T: Scalar>() -> &'static std::thread::LocalKey<Kept<Slot<T>>> {
    per_scalar(&F32_SLOTS, &F64_SLOTS, &I64_SLOTS)
}

/// A tensor of these parts in a kept allocation, or in a new one when this thread has none.
/// The parts are written into the allocation one by one: a whole `Inner` would be assembled
/// first and then copied in.
#[inline]
pub(super) fn new<T: Scalar>(
    id: TensorId,
    storage: Storage<T>,
    layout: Layout,
    node: T::Node,
) -> Arc<Inner<T>> {
    let Some(slot) = kept::take(local::<T>()) else {
        return Arc::new(Inner {
            id,
            storage,
            layout,
            node,
        });
    };
    let place = Arc::into_raw(slot).cast_mut().cast::<Inner<T>>();
    // SAFETY: a kept slot is the only handle on its allocation (see `release`), so nothing
    // else reads or writes it; every field is written before the allocation is read as an
    // `Inner<T>`, and `MaybeUninit<Inner<T>>` has the size and alignment of `Inner<T>`, as
    // `Arc::from_raw` asks of the pointer's type.
    unsafe {
        (&raw mut (*place).id).write(id);
        (&raw mut (*place).storage).write(storage);
        (&raw mut (*place).layout).write(layout);
        (&raw mut (*place).node).write(node);
        Arc::from_raw(place)
    }
}

/// Drops the handle `inner`; when it was the last one, drops the tensor and keeps its
/// allocation for [`new`].
#[inline]
pub(super) fn release<T: Scalar>(mut inner: Arc<Inner<T>>) {
    // SAFETY: no `Weak` is made of a tensor.
    let Some(contents) = (unsafe { sole(&mut inner) }) else {
        return drop(inner);
    };
    // SAFETY: the contents are initialised and unshared; they are dropped once, here, and
    // never used after: the allocation goes on as a `Slot` (same size and alignment, see
    // `new`). It is owned by `slot` before the drop, so a panic in the drop leaks the
    // contents instead of dropping them twice.
    let slot: Slot<T> = unsafe {
        let contents: *mut Inner<T> = contents;
        let slot = Arc::from_raw(Arc::into_raw(inner).cast());
        contents.drop_in_place();
        slot
    };
    kept::keep(local::<T>(), slot);
}

/// Frees the buffers this thread keeps for reuse (see [`cached_buffer_bytes`]), and the small
/// allocations it keeps for the next tensors: per element type, up to 64 of the blocks behind
/// tensors (a few hundred bytes each: inline elements, layout, place in the graph) and up to
/// 64 empty boxes of heap buffers, not counted by [`cached_buffer_bytes`]. Each thread keeps
/// its own; this frees the calling thread's.
///
/// [`cached_buffer_bytes`]: crate::cached_buffer_bytes
pub fn release_cached_buffers() {
    pool::release();
    crate::storage::release_kept();
    kept::clear(&F32_SLOTS);
    kept::clear(&F64_SLOTS);
    kept::clear(&I64_SLOTS);
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use std::sync::Arc;

    fn address<T: crate::Scalar>(t: &Tensor<T>) -> *const super::Inner<T> {
        Arc::as_ptr(&t.inner)
    }

    #[test]
    fn the_allocation_of_a_dropped_tensor_holds_the_next_one_only_after_its_last_handle() {
        let first = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
        let at = address(&first);
        let handle = first.clone();
        drop(first);
        // Still held: the tensor is whole and its allocation is not handed out.
        let other = Tensor::<f64>::zeros(&[3]);
        assert_ne!(address(&other), at);
        assert_eq!(handle.to_vec(), vec![1.0, 2.0]);
        drop(handle);
        let next = Tensor::<f64>::full(&[2, 2], 7.0);
        assert_eq!(address(&next), at);
        assert_eq!((next.shape(), next.to_vec()), (&[2, 2][..], vec![7.0; 4]));
        assert_eq!(other.to_vec(), vec![0.0; 3]);
    }

    #[test]
    fn a_kept_allocation_drops_what_its_tensor_held_at_once() {
        // The graph of a dropped result is released when the result goes, not when its
        // allocation is reused: the leaf is the only handle on itself again.
        let x = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2])
            .unwrap()
            .require_grad();
        let y = &x * &x;
        assert_eq!(Arc::strong_count(&x.inner), 3);
        drop(y);
        assert_eq!(Arc::strong_count(&x.inner), 1);
    }

    #[test]
    fn tensors_dropped_on_other_threads_are_kept_there() {
        let t = Tensor::<f32>::zeros(&[4]);
        let at = address(&t) as usize;
        let reused = std::thread::spawn(move || {
            drop(t);
            address(&Tensor::<f32>::zeros(&[1])) as usize
        })
        .join()
        .unwrap();
        assert_eq!(reused, at);
    }
}
