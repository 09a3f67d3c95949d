//! The thread pool that large ops (matmul, big elementwise maps and sums) run on.
//!
//! By default it is rayon's global pool, created at first use with one worker per CPU. A
//! thread outside the pool that starts a parallel op hands it to the workers and sleeps until
//! they finish, so every parallel op costs two hand-offs between threads; on a 2-core machine
//! that was a fifth of a W2 training step (perf: the time went to `sched_yield` and wake-ups).
//! [`init_thread_pool`] instead makes the calling thread one of the pool's threads, as
//! PyTorch's intra-op pool does: it then runs its share of each op itself.
//!
//! The kernels also note when the pool last had work ([`mark_busy`], [`recently_busy`]):
//! products too small to be worth waking a sleeping worker for are shared only while the
//! workers are still awake.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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

/// How long after the pool last had work its idle threads are taken to be still polling for
/// more. A rayon worker with nothing to do yields its core in a loop for a while before it
/// sleeps; handing work to a sleeping one costs a wake-up on the handing thread. Measured
/// with 64³ products in halves, each after a busy gap on the calling thread: 4.0 µs up to
/// gaps of 10 to 20 µs, 6.1 µs at 30 µs, 11 to 13 µs from 40 µs on (5.2 µs on one thread).
const WARM: Duration = Duration::from_micros(15);

/// When the pool last had work, in nanoseconds since [`epoch`]; [`NEVER`] before any.
static LAST_BUSY: AtomicU64 = AtomicU64::new(NEVER);
const NEVER: u64 = u64::MAX;

/// The time origin of [`LAST_BUSY`].
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn nanos_since_epoch() -> u64 {
    u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(NEVER - 1)
}

/// Records that the pool has just had work: a parallel region ended, or a product that its
/// threads could share ran (so that a loop of such products gets them going).
pub(crate) fn mark_busy() {
    LAST_BUSY.store(nanos_since_epoch(), Ordering::Relaxed);
}

/// Whether the pool had work within the last [`WARM`]: work handed to it now is picked up by
/// threads still polling, without waking a sleeping one. A timing hint only: what runs
/// where never changes a result.
pub(crate) fn recently_busy() -> bool {
    let last = LAST_BUSY.load(Ordering::Relaxed);
    last != NEVER && nanos_since_epoch().saturating_sub(last) < WARM.as_nanos() as u64
}
