//! A global allocator that counts, for tests and reports that check what a program allocates:
//! that a training step allocates nothing after the first, that memory stays flat over many
//! steps, or what a step holds at its peak.
//!
//! Install it in the test or program (a crate has one global allocator):
//!
//! ```
//! use tensor::alloc_count::{self, CountingAllocator};
//!
//! #[global_allocator]
//! static ALLOCATOR: CountingAllocator = CountingAllocator;
//!
//! fn main() {
//!     let x = tensor::Tensor::<f32>::zeros(&[64]);
//!     let n = alloc_count::allocations_during(|| {
//!         let values: Vec<f32> = x.to_vec(); // one buffer
//!         assert_eq!(values.len(), 64);
//!     });
//!     assert_eq!(n, 1);
//! }
//! ```
//!
//! Counts by thread ([`allocations_during`], [`thread_live`]) see only the calling thread's
//! calls, so tests running side by side do not count each other's; the process-wide counts
//! ([`live_bytes`], [`peak_bytes`]) see every thread's, the thread pool's included. Without
//! the allocator installed, every count stays 0.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting every call (see the [module](self)).
#[derive(Clone, Copy, Debug, Default)]
pub struct CountingAllocator;

/// What one thread has allocated and not freed: blocks and bytes, negative when it freed
/// more than it allocated (blocks allocated on another thread).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Live {
    /// Bytes allocated minus bytes freed.
    pub bytes: isize,
    /// Blocks allocated minus blocks freed.
    pub blocks: isize,
}

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static PEAK_BYTES: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Const-initialised and without destructors: using them never allocates, which an
    // allocator must not do.
    static THREAD_LIVE: Cell<Live> = const { Cell::new(Live { bytes: 0, blocks: 0 }) };
    static THREAD_ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Records an allocation (`blocks` 1), a reallocation (0) or a free (-1) that changes the
/// live bytes from `old` to `new`.
fn note(old: usize, new: usize, blocks: isize) {
    if new >= old {
        let live = LIVE_BYTES.fetch_add(new - old, Ordering::Relaxed) + (new - old);
        PEAK_BYTES.fetch_max(live, Ordering::Relaxed);
    } else {
        LIVE_BYTES.fetch_sub(old - new, Ordering::Relaxed);
    }
    // `try_with`: during a thread's teardown its cells may be gone.
    let _ = THREAD_LIVE.try_with(|live| {
        let Live {
            bytes,
            blocks: count,
        } = live.get();
        live.set(Live {
            bytes: bytes + new as isize - old as isize,
            blocks: count + blocks,
        });
    });
    if blocks >= 0 {
        let _ = THREAD_ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting only touches
// atomics and this thread's const-initialised cells, and never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(0, layout.size(), 1);
        // SAFETY: the caller's contract, which is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(0, layout.size(), 1);
        // SAFETY: the caller's contract, which is the system allocator's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(layout.size(), new_size, 0);
        // SAFETY: the caller's contract, which is the system allocator's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(layout.size(), 0, -1);
        // SAFETY: the caller's contract, which is the system allocator's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// How many allocations (reallocations included) `f` made on the calling thread.
pub fn allocations_during(f: impl FnOnce()) -> usize {
    let before = THREAD_ALLOCATIONS.with(Cell::get);
    f();
    THREAD_ALLOCATIONS.with(Cell::get) - before
}

/// What the calling thread has allocated and not freed since it started.
pub fn thread_live() -> Live {
    THREAD_LIVE.with(Cell::get)
}

/// The bytes allocated and not freed, over all threads.
pub fn live_bytes() -> usize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

/// The most bytes live at once, over all threads, since the last [`reset_peak`].
pub fn peak_bytes() -> usize {
    PEAK_BYTES.load(Ordering::Relaxed)
}

/// Starts a new peak from the bytes live now.
pub fn reset_peak() {
    PEAK_BYTES.store(LIVE_BYTES.load(Ordering::Relaxed), Ordering::Relaxed);
}
