//! A small per-thread cache of freed tensor buffers, handed back out for the next buffer of
//! the same size.
//!
//! A training step frees and allocates the same sizes every step. Through the C allocator,
//! large ones can come back as fresh pages: glibc may return freed buffers to the system at
//! the end of a step, and every step then faults fresh pages in again. Reusing the buffers
//! also saves the allocator's work on every op (a 64 × 64 matmul's output is 16 KiB). The cache is bounded in count and bytes per thread and element type; a buffer
//! freed on another thread goes to that thread's cache.

use std::cell::RefCell;

use crate::element::Scalar;
use crate::kernels::per_scalar;

/// Buffers smaller than this are left to the allocator: its small-size caches are fast.
pub(crate) const MIN_BYTES: usize = 16 << 10;
/// At most this many buffers are kept per thread and element type...
const MAX_BUFFERS: usize = 16;
/// ...holding at most this many bytes.
const MAX_BYTES: usize = 64 << 20;

/// The free buffers of one thread and element type, oldest first.
struct Pool<T> {
    buffers: Vec<Vec<T>>,
    bytes: usize,
}

impl<T> Pool<T> {
    const fn new() -> Self {
        Pool {
            buffers: Vec::new(),
            bytes: 0,
        }
    }
}

fn bytes_of<T>(capacity: usize) -> usize {
    capacity * size_of::<T>()
}

/// An empty buffer with capacity exactly `len`, if one was freed on this thread.
pub(crate) fn take<T: Scalar>(len: usize) -> Option<Vec<T>> {
    if bytes_of::<T>(len) < MIN_BYTES {
        return None;
    }
    // `try_with`: during a thread's teardown the cache may already be gone.
    local::<T>()
        .try_with(|pool| {
            let mut pool = pool.borrow_mut();
            let i = pool.buffers.iter().rposition(|b| b.capacity() == len)?;
            let buffer = pool.buffers.swap_remove(i);
            pool.bytes -= bytes_of::<T>(buffer.capacity());
            Some(buffer)
        })
        .ok()
        .flatten()
}

/// Keeps `buffer` for a later [`take`] (dropping the oldest kept ones to make room), or frees
/// it when it is too small or too large to keep.
pub(crate) fn give<T: Scalar>(mut buffer: Vec<T>) {
    let bytes = bytes_of::<T>(buffer.capacity());
    if !(MIN_BYTES..=MAX_BYTES).contains(&bytes) {
        return;
    }
    buffer.clear();
    let _ = local::<T>().try_with(|pool| {
        let evicted = {
            let mut pool = pool.borrow_mut();
            let mut evicted = Vec::new();
            while pool.buffers.len() >= MAX_BUFFERS || pool.bytes + bytes > MAX_BYTES {
                let oldest = pool.buffers.remove(0);
                pool.bytes -= bytes_of::<T>(oldest.capacity());
                evicted.push(oldest);
            }
            pool.bytes += bytes;
            pool.buffers.push(buffer);
            evicted
        };
        // Freed outside the borrow.
        drop(evicted);
    });
}

/// The bytes of freed tensor buffers this thread keeps for reuse (all element types together).
///
/// Tensor buffers of 16 KiB and more are not returned to the allocator when their last tensor
/// is dropped: each thread keeps up to 16 of them per element type, at most 64 MiB, and hands
/// one out again for the next buffer of exactly its size. A training step allocates the same
/// sizes every step, so after the first it reuses its own buffers instead of asking the
/// allocator (which may return fresh pages that fault in again).
///
/// ```
/// let t = tensor::Tensor::<f32>::zeros(&[64, 1024]); // 256 KiB
/// drop(t);
/// assert!(tensor::cached_buffer_bytes() >= 256 << 10);
/// tensor::release_cached_buffers();
/// assert_eq!(tensor::cached_buffer_bytes(), 0);
/// ```
pub fn cached_buffer_bytes() -> usize {
    fn bytes<T: Scalar>() -> usize {
        local::<T>()
            .try_with(|pool| pool.borrow().bytes)
            .unwrap_or(0)
    }
    bytes::<f32>() + bytes::<f64>() + bytes::<i64>()
}

/// Frees the buffers this thread keeps (`release_cached_buffers` is the public call, which
/// also frees the other allocations kept for tensors).
pub(crate) fn release() {
    fn release_of<T: Scalar>() {
        let buffers = local::<T>().try_with(|pool| {
            let mut pool = pool.borrow_mut();
            pool.bytes = 0;
            std::mem::take(&mut pool.buffers)
        });
        drop(buffers);
    }
    release_of::<f32>();
    release_of::<f64>();
    release_of::<i64>();
}

/// The cache's thread-local for one element type.
type PoolKey<T> = std::thread::LocalKey<RefCell<Pool<T>>>;

// Initialised at compile time: an access checks no lazy initialisation.
thread_local! {
    static F32_POOL: RefCell<Pool<f32>> = const { RefCell::new(Pool::new()) };
    static F64_POOL: RefCell<Pool<f64>> = const { RefCell::new(Pool::new()) };
    static I64_POOL: RefCell<Pool<i64>> = const { RefCell::new(Pool::new()) };
}

/// This thread's cache for element type `T`.
fn local<T: Scalar>() -> &'static PoolKey<T> {
    per_scalar(&F32_POOL, &F64_POOL, &I64_POOL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_buffer_comes_back_for_its_size_only() {
        let len = MIN_BYTES / 4 + 3;
        let buffer: Vec<f32> = Vec::with_capacity(len);
        let address = buffer.as_ptr();
        give(buffer);
        assert!(take::<f32>(len + 1).is_none());
        assert!(take::<f64>(len).is_none());
        let again = take::<f32>(len).expect("kept");
        assert_eq!(
            (again.as_ptr(), again.len(), again.capacity()),
            (address, 0, len)
        );
        assert!(take::<f32>(len).is_none());
    }

    #[test]
    fn small_and_huge_buffers_are_not_kept_and_the_count_is_bounded() {
        give(Vec::<f32>::with_capacity(16));
        assert!(take::<f32>(16).is_none());
        let len = MIN_BYTES / 8 + 1;
        for _ in 0..MAX_BUFFERS + 5 {
            give(Vec::<f64>::with_capacity(len));
        }
        let kept = std::iter::from_fn(|| take::<f64>(len)).count();
        assert_eq!(kept, MAX_BUFFERS);
        local::<f64>().with(|pool| assert_eq!(pool.borrow().bytes, 0));
    }
}
