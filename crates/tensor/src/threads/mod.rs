//! The threads that large ops (matrix products, big elementwise maps and sums, optimizer
//! updates) run on.
//!
//! Nothing needs setting up. The thread that calls an op always runs a share of it itself;
//! the pool's workers, started at first use, take the other shares only while they are
//! running, so no work waits for a thread that is asleep or has no core. By default an op
//! uses as many threads as the process may run at once
//! ([`std::thread::available_parallelism`], which counts the cores the process is pinned
//! to), or `SUREFIRE_NUM_THREADS` when that is set; [`set_num_threads`] and
//! [`with_num_threads`] change it.
//!
//! Results never depend on the number of threads: work is split only where the split
//! changes no element's arithmetic. How an op is cut depends on its size and the thread
//! count alone, never on the clock. Which thread runs which piece does depend on timing (a
//! worker polls for more work for a millisecond after its last job, then sleeps, and a
//! sleeping worker is woken only for large ops), so the speed of small parallel ops does, but
//! no result can.
//!
//! ```
//! use tensor::Tensor;
//! let a = Tensor::<f32>::ones(&[256, 256]);
//! let two = a.matmul(&a).to_vec();
//! let one = tensor::with_num_threads(1, || a.matmul(&a).to_vec());
//! assert_eq!(one, two);
//! ```

mod pool;

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

pub(crate) use pool::Effort;

use crate::error::Result;

/// The count set by [`set_num_threads`]; 0 until then.
static CHOSEN: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The count of [`with_num_threads`] on this thread; on a worker, the count of the job it
    /// runs, so that ops nested in a piece split their work as the op that started the job
    /// was told to.
    static SCOPED: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Sets this thread's scoped count, returning the previous one.
pub(crate) fn scope(threads: Option<usize>) -> Option<usize> {
    SCOPED.with(|cell| cell.replace(threads))
}

/// The default: `SUREFIRE_NUM_THREADS` when it holds a positive number, else the threads the
/// process can run at once.
fn default_threads() -> usize {
    static DEFAULT: OnceLock<usize> = OnceLock::new();
    *DEFAULT.get_or_init(|| {
        let from_env = std::env::var("SUREFIRE_NUM_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0);
        from_env
            .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
            .unwrap_or(1)
    })
}

fn clamp(threads: usize) -> usize {
    threads.clamp(1, pool::MAX_WORKERS + 1)
}

/// The number of threads an op started on this thread now runs on, the caller among them.
///
/// ```
/// assert!(tensor::num_threads() >= 1);
/// assert_eq!(tensor::with_num_threads(3, tensor::num_threads), 3);
/// ```
pub fn num_threads() -> usize {
    if let Some(n) = SCOPED.with(Cell::get) {
        return n;
    }
    match CHOSEN.load(Ordering::Relaxed) {
        0 => default_threads(),
        n => n,
    }
}

/// Sets the number of threads ops run on, the calling thread among them, for every thread of
/// the process (PyTorch's `torch.set_num_threads`); `0` goes back to the default (one per
/// CPU the process may use, or `SUREFIRE_NUM_THREADS`). At most 256; more are taken as 256.
/// Can be called at any time; results do not depend on it.
///
/// ```
/// tensor::set_num_threads(1); // everything on the calling thread
/// assert_eq!(tensor::num_threads(), 1);
/// tensor::set_num_threads(0); // the default again
/// ```
pub fn set_num_threads(threads: usize) {
    let value = if threads == 0 { 0 } else { clamp(threads) };
    CHOSEN.store(value, Ordering::Relaxed);
}

/// Runs `f` with ops started on this thread using `threads` threads (at least 1, at most 256),
/// whatever [`set_num_threads`] says; nests, and restores the previous count even if `f`
/// panics. For a part of a program that should stay on one core, or to check that a result
/// does not depend on the thread count.
pub fn with_num_threads<R>(threads: usize, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<usize>);
    impl Drop for Restore {
        fn drop(&mut self) {
            SCOPED.with(|cell| cell.set(self.0));
        }
    }
    let _restore = Restore(scope(Some(clamp(threads))));
    f()
}

/// Sets the number of threads as [`set_num_threads`] does (`0`: the default).
///
/// The calling thread always runs its share of every parallel op, so no setup call is
/// needed for speed.
///
/// # Errors
/// Never; the `Result` is kept so that programs that check it still compile.
#[deprecated(note = "not needed for speed; use `set_num_threads` to choose the thread count")]
pub fn init_thread_pool(threads: usize) -> Result<()> {
    set_num_threads(threads);
    Ok(())
}

/// Runs `body(i)` for each `i` in `0..pieces` on the threads of this op (see the module
/// docs), and returns when every piece has run.
pub(crate) fn for_each_piece(pieces: usize, effort: Effort, body: &(dyn Fn(usize) + Sync)) {
    pool::run(pieces, num_threads(), effort, body);
}

/// `(a(), b())`, the two possibly on two threads.
pub(crate) fn join<A, B, RA, RB>(effort: Effort, a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    let (a, b) = (Task::new(a), Task::new(b));
    for_each_piece(2, effort, &|i| if i == 0 { a.run() } else { b.run() });
    (a.result(), b.result())
}

/// A closure run once by whichever thread claims it, and its result.
struct Task<F, R> {
    f: Mutex<Option<F>>,
    result: Mutex<Option<R>>,
}

impl<F: FnOnce() -> R, R> Task<F, R> {
    fn new(f: F) -> Self {
        Task {
            f: Mutex::new(Some(f)),
            result: Mutex::new(None),
        }
    }

    fn run(&self) {
        let f = self.f.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(f) = f {
            let r = f();
            *self.result.lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
        }
    }

    fn result(self) -> R {
        self.result
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .expect("internal: every task of a join runs")
    }
}

/// Calls `body(start, chunks)` for consecutive chunks of `chunk` elements (the last one may
/// be shorter) of `N` slices of one length, `start` being the chunk's first index, on the
/// threads ops run on. Each chunk is handed to exactly one call, so the body may write its
/// chunks freely; it may read any other data through its captures (another slice at
/// `start..start + len`, say).
///
/// The pool's workers that are asleep are woken for it: use it for work that takes at least
/// tens of microseconds, and call `body(0, slices)` directly for less.
///
/// ```
/// let mut w = vec![1.0f32; 100_000];
/// let mut m = vec![0.0f32; 100_000];
/// let g: Vec<f32> = (0..100_000).map(|i| i as f32).collect();
/// tensor::threads::for_each_chunk([&mut w[..], &mut m[..]], 4096, &|start, [w, m]| {
///     for (i, (w, m)) in w.iter_mut().zip(m.iter_mut()).enumerate() {
///         *m = 0.9 * *m + g[start + i];
///         *w -= 0.1 * *m;
///     }
/// });
/// assert_eq!(m[10], 10.0);
/// ```
///
/// # Panics
/// When the slices differ in length or `chunk` is 0; a panic in a call of `body` is
/// rethrown, after the calls in progress on other threads have returned.
pub fn for_each_chunk<T: Send, const N: usize>(
    slices: [&mut [T]; N],
    chunk: usize,
    body: &(dyn Fn(usize, [&mut [T]; N]) + Sync),
) {
    for_each_chunk_with(Effort::Large, slices, chunk, body);
}

/// [`for_each_chunk`] with the choice of waking sleeping workers.
pub(crate) fn for_each_chunk_with<T: Send, const N: usize>(
    effort: Effort,
    slices: [&mut [T]; N],
    chunk: usize,
    body: &(dyn Fn(usize, [&mut [T]; N]) + Sync),
) {
    assert!(
        chunk > 0,
        "for_each_chunk: the chunk length must be positive"
    );
    let len = slices.first().map_or(0, |s| s.len());
    assert!(
        slices.iter().all(|s| s.len() == len),
        "for_each_chunk: the slices must have one length, got {:?}",
        slices.iter().map(|s| s.len()).collect::<Vec<_>>()
    );
    let (pieces, threads) = (len.div_ceil(chunk), num_threads());
    if pieces <= 1 || threads == 1 {
        body(0, slices);
        return;
    }
    let bases = Bases(slices.map(|s| s.as_mut_ptr()));
    pool::run(pieces, threads, effort, &|i| {
        let start = i * chunk;
        let end = (start + chunk).min(len);
        body(start, bases.chunks(start, end));
    });
}

/// The first elements of the slices of a [`for_each_chunk`], shared between its threads.
struct Bases<T, const N: usize>([*mut T; N]);

// SAFETY: the pointers are only turned into the chunks of distinct pieces (below), each
// handed to one thread; the elements are Send.
#[allow(unsafe_code)]
unsafe impl<T: Send, const N: usize> Sync for Bases<T, N> {}

impl<T, const N: usize> Bases<T, N> {
    /// Elements `start..end` of each slice.
    fn chunks<'a>(&self, start: usize, end: usize) -> [&'a mut [T]; N] {
        #[allow(unsafe_code)]
        // SAFETY: `start..end` lies inside every slice (all have the length the pieces cover),
        // and each piece index is run once by `for_each_piece`, so the ranges handed out are
        // disjoint and live only while the exclusive borrows of the slices are held by the
        // caller of `for_each_chunk`.
        self.0
            .map(|base| unsafe { std::slice::from_raw_parts_mut(base.add(start), end - start) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_piece_runs_once_on_any_thread_count() {
        for threads in [1, 2, 3, 8] {
            with_num_threads(threads, || {
                for pieces in [0, 1, 2, 7, 100] {
                    let counts: Vec<AtomicUsize> =
                        (0..pieces).map(|_| AtomicUsize::new(0)).collect();
                    for effort in [Effort::Medium, Effort::Large] {
                        for_each_piece(pieces, effort, &|i| {
                            counts[i].fetch_add(1, Ordering::Relaxed);
                        });
                    }
                    assert!(counts.iter().all(|c| c.load(Ordering::Relaxed) == 2));
                }
            });
        }
    }

    #[test]
    fn ops_inside_a_piece_inherit_the_thread_count() {
        let seen: Vec<AtomicUsize> = (0..4).map(|_| AtomicUsize::new(0)).collect();
        with_num_threads(3, || {
            for_each_piece(4, Effort::Large, &|i| {
                seen[i].store(num_threads(), Ordering::Relaxed);
            });
        });
        assert!(seen.iter().all(|s| s.load(Ordering::Relaxed) == 3));
    }

    #[test]
    fn a_panic_in_a_piece_reaches_the_caller() {
        let caught = std::panic::catch_unwind(|| {
            with_num_threads(2, || {
                for_each_piece(64, Effort::Large, &|i| {
                    if i == 40 {
                        panic!("piece {i}");
                    }
                    std::thread::sleep(std::time::Duration::from_micros(50));
                });
            })
        });
        let payload = caught.expect_err("the panic is rethrown");
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or_default();
        assert_eq!(message, "piece 40");
        // The pool still works afterwards.
        let total = AtomicUsize::new(0);
        with_num_threads(2, || {
            for_each_piece(10, Effort::Large, &|i| {
                total.fetch_add(i, Ordering::Relaxed);
            })
        });
        assert_eq!(total.load(Ordering::Relaxed), 45);
    }

    #[test]
    fn join_returns_both_results_and_chunks_cover_the_slices() {
        let (a, b) = with_num_threads(2, || join(Effort::Large, || 1 + 1, || "two"));
        assert_eq!((a, b), (2, "two"));
        let mut x = vec![0u32; 10_001];
        let mut y = vec![0u32; 10_001];
        with_num_threads(4, || {
            for_each_chunk([&mut x[..], &mut y[..]], 1000, &|start, [x, y]| {
                for (i, (x, y)) in x.iter_mut().zip(y.iter_mut()).enumerate() {
                    *x += (start + i) as u32;
                    *y += 1;
                }
            });
        });
        assert!(x.iter().enumerate().all(|(i, &v)| v == i as u32));
        assert!(y.iter().all(|&v| v == 1));
    }

    #[test]
    fn concurrent_callers_share_the_pool() {
        std::thread::scope(|s| {
            for t in 0..4 {
                s.spawn(move || {
                    with_num_threads(3, || {
                        for round in 0..200 {
                            let total = AtomicUsize::new(0);
                            for_each_piece(16, Effort::Medium, &|i| {
                                total.fetch_add(i + t + round, Ordering::Relaxed);
                            });
                            assert_eq!(total.load(Ordering::Relaxed), 120 + 16 * (t + round));
                        }
                    });
                });
            }
        });
        assert!(pool::started() >= 2);
    }
}
