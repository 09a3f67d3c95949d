//! The buffer behind a tensor.

use std::sync::Arc;

use crate::element::Scalar;
use crate::kernels::{Buf, INLINE, pool};

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
    Shared(Arc<Pooled<T>>),
}

impl<T: Scalar> Storage<T> {
    /// Takes a kernel's buffer: inline if it stayed inline, else its heap allocation as is.
    pub(crate) fn new(buf: Buf<T>) -> Self {
        if buf.spilled() {
            Storage::Shared(Arc::new(Pooled(buf.into_vec())))
        } else {
            Storage::Inline(buf)
        }
    }

    pub(crate) fn from_vec(data: Vec<T>) -> Self {
        if data.len() <= INLINE {
            Storage::Inline(Buf::from_slice(&data))
        } else {
            Storage::Shared(Arc::new(Pooled(data)))
        }
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        match self {
            Storage::Inline(buf) => buf,
            Storage::Shared(data) => &data.0,
        }
    }

    /// The same elements for another tensor: the heap buffer shared, inline ones copied.
    pub(crate) fn share(&self) -> Self {
        match self {
            Storage::Inline(buf) => Storage::Inline(buf.clone()),
            Storage::Shared(data) => Storage::Shared(Arc::clone(data)),
        }
    }

    /// Mutable access when no other tensor shares the elements.
    pub(crate) fn unique_mut(&mut self) -> Option<&mut [T]> {
        match self {
            Storage::Inline(buf) => Some(buf),
            Storage::Shared(data) => Arc::get_mut(data).map(|data| data.0.as_mut_slice()),
        }
    }
}
