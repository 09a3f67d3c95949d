//! The thread pool that large ops (matmul, big elementwise maps and sums) run on.
//!
//! By default it is rayon's global pool, created at first use with one worker per CPU. A
//! thread outside the pool that starts a parallel op hands it to the workers and sleeps until
//! they finish, so every parallel op costs two hand-offs between threads; on a 2-core machine
//! that was a fifth of a W2 training step (perf: the time went to `sched_yield` and wake-ups).
//! [`init_thread_pool`] instead makes the calling thread one of the pool's threads, as
//! PyTorch's intra-op pool does: it then runs its share of each op itself.

use crate::error::{Result, TensorError};

/// Makes the global thread pool `threads` threads, the calling thread among them: parallel ops
/// started from this thread run partly on it, with no hand-off to sleeping workers. Call it
/// once, early, from the thread that will run the model (usually `main`); worth doing on
/// machines with few cores, where it made a training step up to 20% faster (W2, 2 cores).
///
/// `threads = 0` means one per CPU (rayon's `RAYON_NUM_THREADS`, when set, takes precedence).
/// Results do not depend on the number of threads.
///
/// ```
/// // Typically the first line of `main`. It fails if the pool already exists, as it may in
/// // a test harness, so the result is only reported here.
/// if let Err(e) = tensor::init_thread_pool(0) {
///     eprintln!("{e}");
/// }
/// ```
///
/// # Errors
/// When the global pool was already built (by an earlier call, by another library, or by
/// any parallel op that ran before), or the threads cannot be started.
pub fn init_thread_pool(threads: usize) -> Result<()> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .use_current_thread()
        .build_global()
        .map_err(|e| {
            TensorError::invalid(
                "init_thread_pool",
                format!("cannot build the global thread pool: {e}"),
            )
        })
}
