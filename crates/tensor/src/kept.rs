//! Small per-thread stacks of spare allocations, for the pieces every tensor needs (its
//! handle's block, the box of a heap buffer): the last one dropped is the next one used, with
//! no allocator call either way.
//!
//! A stack holds at most [`MAX_KEPT`] items, room reserved for all of them at the first, so
//! keeping one never allocates after that. Items are dropped outside the stack's borrow, so
//! their drops may use the stack again. During a thread's teardown the stack may be gone:
//! nothing is handed out and nothing is kept.

use std::cell::RefCell;
use std::thread::LocalKey;

/// At most this many items are kept per stack.
pub(crate) const MAX_KEPT: usize = 64;

/// One thread's stack of spare items.
pub(crate) struct Kept<E>(RefCell<Vec<E>>);

impl<E> Kept<E> {
    /// An empty stack (for `const` thread-local initialisers: no lazy initialisation).
    pub(crate) const fn new() -> Self {
        Kept(RefCell::new(Vec::new()))
    }
}

/// The item kept last, if this thread has one.
#[inline]
pub(crate) fn take<E: 'static>(stack: &'static LocalKey<Kept<E>>) -> Option<E> {
    stack
        .try_with(|kept| kept.0.borrow_mut().pop())
        .ok()
        .flatten()
}

/// Keeps `item` for [`take`], or drops it when the stack is full.
#[inline]
pub(crate) fn keep<E: 'static>(stack: &'static LocalKey<Kept<E>>, item: E) {
    let mut item = Some(item);
    let _ = stack.try_with(|kept| {
        let mut kept = kept.0.borrow_mut();
        if kept.len() < MAX_KEPT {
            if kept.capacity() == 0 {
                kept.reserve_exact(MAX_KEPT);
            }
            kept.extend(item.take());
        }
    });
    drop(item);
}

/// Drops every item this thread keeps on `stack`.
pub(crate) fn clear<E: 'static>(stack: &'static LocalKey<Kept<E>>) {
    let items = stack.try_with(|kept| std::mem::take(&mut *kept.0.borrow_mut()));
    drop(items);
}
