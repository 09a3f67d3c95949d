//! The buffer behind a tensor.

use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};

use crate::element::Scalar;
use crate::kernels::{Buf, INLINE, per_scalar, pool};

/// A heap buffer that goes back to this thread's buffer cache when the last tensor using it
/// is dropped (see `kernels::pool`).
pub(crate) struct Pooled<T: Scalar>(Vec<T>);

impl<T: Scalar> Drop for Pooled<T> {
    fn drop(&mut self) {
        pool::give(std::mem::take(&mut self.0));
    }
}

/// A tensor's elements: a few inline, in the tensor itself (no allocation; a view copies
/// them), more on the heap, shared by the views of the tensor.
pub(crate) enum Storage<T: Scalar> {
    Inline(Buf<T>),
    Shared(Heap<T>),
}

impl<T: Scalar> Storage<T> {
    /// Takes a kernel's buffer: inline if it stayed inline, else its heap allocation as is.
    #[inline]
    pub(crate) fn new(buf: Buf<T>) -> Self {
        if buf.spilled() {
            Storage::Shared(Heap::new(buf.into_vec()))
        } else {
            Storage::Inline(buf)
        }
    }

    pub(crate) fn from_vec(data: Vec<T>) -> Self {
        if data.len() <= INLINE {
            Storage::Inline(Buf::from_slice(&data))
        } else {
            Storage::Shared(Heap::new(data))
        }
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        match self {
            Storage::Inline(buf) => buf,
            Storage::Shared(data) => &data.0.0,
        }
    }

    /// The same elements for another tensor: the heap buffer shared, inline ones copied.
    pub(crate) fn share(&self) -> Self {
        match self {
            Storage::Inline(buf) => Storage::Inline(buf.clone()),
            Storage::Shared(heap) => Storage::Shared(heap.share()),
        }
    }

    /// Mutable access when no other tensor shares the elements.
    pub(crate) fn unique_mut(&mut self) -> Option<&mut [T]> {
        match self {
            Storage::Inline(buf) => Some(buf),
            Storage::Shared(data) => Arc::get_mut(&mut data.0).map(|data| data.0.as_mut_slice()),
        }
    }
}

/// A heap buffer shared by tensors. When the last of them drops it, the buffer goes to the
/// buffer cache and the reference-counted box that held it is kept for the next buffer: a
/// result then costs one allocation (its tensor) instead of two.
pub(crate) struct Heap<T: Scalar>(ManuallyDrop<Arc<Pooled<T>>>);

impl<T: Scalar> Heap<T> {
    fn new(data: Vec<T>) -> Self {
        Heap(ManuallyDrop::new(shells::wrap(data)))
    }

    /// Another handle on the same buffer.
    fn share(&self) -> Self {
        Heap(ManuallyDrop::new(Arc::clone(&self.0)))
    }
}

impl<T: Scalar> Drop for Heap<T> {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: the box is taken out once, here, and `self` is not used after.
        let mut shared = unsafe { ManuallyDrop::take(&mut self.0) };
        // SAFETY: no `Weak` is made of a buffer's box.
        if let Some(Pooled(data)) = unsafe { sole(&mut shared) } {
            pool::give(std::mem::take(data));
            shells::keep(shared);
        }
    }
}

/// The contents of `shared` when it is the only handle on them, as `Arc::get_mut` gives them
/// but with plain loads where it locks.
///
/// # Safety
/// No `Weak` of the allocation may exist, now or later (the workspace's lint configuration
/// forbids `Arc::downgrade`): only then does one strong count mean that no other handle
/// exists or can appear, since only a handle clones.
#[allow(unsafe_code)]
#[inline]
pub(crate) unsafe fn sole<T>(shared: &mut Arc<T>) -> Option<&mut T> {
    if Arc::strong_count(shared) != 1 || Arc::weak_count(shared) != 0 {
        return None;
    }
    // What other threads did through handles they have since dropped happens before what
    // the caller does now (as in `Arc`'s own drop, whose decrement this fence pairs with).
    fence(Ordering::Acquire);
    // SAFETY: no other handle exists (checked above, with the caller's promise of no `Weak`)
    // and none can be made while `shared` is borrowed mutably, so this is the only reference
    // to the contents for its lifetime.
    Some(unsafe { &mut *Arc::as_ptr(shared).cast_mut() })
}

pub(crate) use shells::release_kept;

/// A per-thread stack of empty boxes for heap buffers, each owned by the stack alone.
mod shells {
    use super::*;
    use crate::kept::{self, Kept};

    // Initialised at compile time: an access checks no lazy initialisation.
    thread_local! {
        static F32_SHELLS: Kept<Arc<Pooled<f32>>> = const { Kept::new() };
        static F64_SHELLS: Kept<Arc<Pooled<f64>>> = const { Kept::new() };
        static I64_SHELLS: Kept<Arc<Pooled<i64>>> = const { Kept::new() };
    }

    fn local<T: Scalar>() -> &'static std::thread::LocalKey<Kept<Arc<Pooled<T>>>> {
        per_scalar(&F32_SHELLS, &F64_SHELLS, &I64_SHELLS)
    }

    /// `data` in a kept box, or in a new one when this thread has none.
    #[inline]
    #[allow(unsafe_code)]
    pub(super) fn wrap<T: Scalar>(data: Vec<T>) -> Arc<Pooled<T>> {
        match kept::take(local::<T>()) {
            Some(mut shell) => {
                // SAFETY: no `Weak` is made of a buffer's box.
                let slot = unsafe { sole(&mut shell) }.expect("internal: a kept box is unshared");
                // The kept box's buffer is empty and unallocated: nothing to free.
                slot.0 = data;
                shell
            }
            None => Arc::new(Pooled(data)),
        }
    }

    /// Keeps an empty, unshared box for [`wrap`].
    pub(super) fn keep<T: Scalar>(shell: Arc<Pooled<T>>) {
        debug_assert!(shell.0.capacity() == 0);
        kept::keep(local::<T>(), shell);
    }

    /// Frees the empty boxes this thread keeps.
    pub(crate) fn release_kept() {
        kept::clear(&F32_SHELLS);
        kept::clear(&F64_SHELLS);
        kept::clear(&I64_SHELLS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heap_address<T: Scalar>(storage: &Storage<T>) -> *const Pooled<T> {
        match storage {
            Storage::Shared(heap) => Arc::as_ptr(&heap.0),
            Storage::Inline(_) => panic!("expected a heap buffer"),
        }
    }

    #[test]
    fn the_box_of_a_buffer_is_kept_only_after_its_last_tensor_and_then_reused() {
        let first = Storage::<f64>::from_vec(vec![1.0; 40]);
        let address = heap_address(&first);
        let view = first.share();
        drop(first);
        // Still shared by the view: neither the box nor its elements went anywhere.
        assert_eq!(heap_address(&view), address);
        assert_eq!(view.as_slice(), &[1.0; 40]);
        drop(view);
        let next = Storage::<f64>::from_vec(vec![2.0; 40]);
        assert_eq!(heap_address(&next), address);
        assert_eq!(next.as_slice(), &[2.0; 40]);
        // A box in use is not handed out twice.
        let other = Storage::<f64>::from_vec(vec![3.0; 40]);
        assert_ne!(heap_address(&other), address);
        assert_eq!(next.as_slice(), &[2.0; 40]);
    }
}
