//! The worker threads and the hand-over of work to them.
//!
//! A parallel op is a *job*: `pieces` calls of one body, `body(0)` to `body(pieces - 1)`.
//! The calling thread posts the job in the mailboxes of idle workers, then claims pieces
//! itself, one at a time from a shared counter, as do the workers that pick the job up. A
//! piece is only ever run by a thread that is running at that moment: a worker that is
//! asleep, or descheduled, claims nothing, and the caller runs whatever is left. When the
//! counter runs out the caller withdraws the offers no worker took and waits only for the
//! pieces in progress.
//!
//! A worker that finished a job stays awake for [`AWAKE`], polling its mailbox and
//! yielding its core to anything else runnable, then sleeps until a job or a nudge wakes it.
//! Waking costs the caller a system call and the worker tens of microseconds before it runs,
//! so medium-sized work is offered only to awake workers ([`Effort::Medium`]).
#![allow(unsafe_code)]

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// The most worker threads the pool will start (so the most threads an op runs on is one more).
pub(crate) const MAX_WORKERS: usize = 255;

/// How long a worker polls for more work after its last job before it sleeps. Long enough to
/// span the sequential stretches between the parallel ops of a training step, so that a step
/// wakes its workers once, not once per op.
const AWAKE: Duration = Duration::from_millis(1);

/// Polls of a mailbox with a pause between them before a waiting thread starts yielding.
const SPINS: u32 = 64;

/// Whether work is worth waking a sleeping worker for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effort {
    /// Shared only with workers already awake: a sleeping one would start after the caller
    /// has finished. When none is awake, one is nudged awake for the work that follows
    /// (a loop of such ops), at the cost of one wake-up for the whole loop.
    Medium,
    /// Long enough that waking sleeping workers pays off.
    Large,
}

/// A mailbox holds 0 (idle), the address of an offered job, or that address with this bit set
/// while the worker runs the job. Jobs are aligned to more than 1 byte, so the bit is free.
const TAKEN: usize = 1;

/// One worker: its mailbox and how to wake it. Each on its own cache lines, since its worker
/// polls the mailbox while callers write to others.
#[repr(align(128))]
struct Slot {
    mailbox: AtomicUsize,
    sleeping: AtomicBool,
    thread: OnceLock<Thread>,
}

impl Slot {
    const fn new() -> Self {
        Slot {
            mailbox: AtomicUsize::new(0),
            sleeping: AtomicBool::new(false),
            thread: OnceLock::new(),
        }
    }

    fn wake(&self) {
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }
}

static SLOTS: [Slot; MAX_WORKERS] = [const { Slot::new() }; MAX_WORKERS];
/// How many workers have been started; they fill the first slots.
static STARTED: AtomicUsize = AtomicUsize::new(0);
static STARTING: Mutex<()> = Mutex::new(());

/// One parallel op: `pieces` calls of `body`, claimed one by one from `next`.
struct Job<'a> {
    body: &'a (dyn Fn(usize) + Sync),
    pieces: usize,
    next: AtomicUsize,
    threads: usize,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl Job<'_> {
    /// Runs pieces until none is left to claim.
    fn work(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.pieces {
                return;
            }
            (self.body)(i);
        }
    }

    /// [`work`](Job::work) on a worker: a panic is kept for the caller to rethrow, and stops
    /// the claiming of further pieces.
    fn work_catching(&self) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| self.work())) {
            self.next.store(self.pieces, Ordering::Relaxed);
            let mut slot = self.panic.lock().unwrap_or_else(PoisonError::into_inner);
            slot.get_or_insert(payload);
        }
    }
}

/// Runs `body(i)` for every `i` in `0..pieces`, on the calling thread and on up to
/// `threads - 1` workers, and returns when all have run. A panic in any piece is rethrown
/// here, after every piece in progress has finished.
pub(crate) fn run(pieces: usize, threads: usize, effort: Effort, body: &(dyn Fn(usize) + Sync)) {
    let workers = threads.saturating_sub(1).min(MAX_WORKERS);
    if pieces <= 1 || workers == 0 {
        (0..pieces).for_each(body);
        return;
    }
    start_workers(workers);
    let job = Job {
        body,
        pieces,
        next: AtomicUsize::new(0),
        threads,
        panic: Mutex::new(None),
    };
    let address = std::ptr::from_ref(&job).expose_provenance();
    let slots = &SLOTS[..workers];
    let wanted = workers.min(pieces - 1);
    let mut offered = 0;
    let mut any_awake = false;
    for slot in slots {
        if offered == wanted {
            break;
        }
        if slot.mailbox.load(Ordering::Relaxed) != 0 {
            continue;
        }
        let asleep = slot.sleeping.load(Ordering::SeqCst);
        any_awake |= !asleep;
        if asleep && effort == Effort::Medium {
            continue;
        }
        let posted = slot
            .mailbox
            .compare_exchange(0, address, Ordering::SeqCst, Ordering::Relaxed);
        if posted.is_err() {
            continue;
        }
        offered += 1;
        // Checked after posting: a worker that read its mailbox empty just before is now
        // asleep or about to be, and a wake-up before its park makes the park return.
        if effort == Effort::Large && slot.sleeping.load(Ordering::SeqCst) {
            slot.wake();
        }
    }
    if !any_awake
        && effort == Effort::Medium
        && let Some(slot) = slots
            .iter()
            .find(|s| s.mailbox.load(Ordering::Relaxed) == 0)
    {
        slot.wake();
    }
    {
        // Withdraws the offers and waits for the pieces in progress even if a piece of this
        // thread's panics: the workers read `job`, on this stack frame.
        let _finish = Finish {
            slots,
            address,
            offered,
        };
        job.work();
    }
    let payload = job
        .panic
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(payload) = payload {
        resume_unwind(payload);
    }
}

/// The end of a job on the calling thread (see [`run`]).
struct Finish<'a> {
    slots: &'a [Slot],
    address: usize,
    offered: usize,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        let mut settled = 0;
        for slot in self.slots {
            if settled == self.offered {
                return;
            }
            let withdrawn =
                slot.mailbox
                    .compare_exchange(self.address, 0, Ordering::AcqRel, Ordering::Acquire);
            match withdrawn {
                Ok(_) => settled += 1,
                // Taken: the worker clears the mailbox after its last piece.
                Err(mail) if mail == self.address | TAKEN => {
                    let mut spins = 0;
                    while slot.mailbox.load(Ordering::Acquire) == self.address | TAKEN {
                        pause(&mut spins);
                    }
                    settled += 1;
                }
                // Another job's, or idle.
                Err(_) => {}
            }
        }
    }
}

/// One round of waiting: a pause instruction for the first [`SPINS`] rounds, then giving the
/// core to any other runnable thread.
fn pause(spins: &mut u32) {
    if *spins < SPINS {
        *spins += 1;
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// Starts workers until there are `count`.
fn start_workers(count: usize) {
    if STARTED.load(Ordering::Acquire) >= count {
        return;
    }
    let _guard = STARTING.lock().unwrap_or_else(PoisonError::into_inner);
    let started = STARTED.load(Ordering::Acquire);
    for (index, slot) in SLOTS.iter().enumerate().take(count).skip(started) {
        let spawned = std::thread::Builder::new()
            .name(format!("surefire-worker-{index}"))
            .spawn(move || worker(index));
        match spawned {
            Ok(handle) => {
                // `set` fails only if the slot had a thread, and slots are filled once.
                let _ = slot.thread.set(handle.thread().clone());
                STARTED.store(index + 1, Ordering::Release);
            }
            // No more threads to be had: the pool works with the ones it has, and a caller
            // runs what no worker takes.
            Err(_) => return,
        }
    }
}

/// How many workers have been started.
#[cfg(test)]
pub(crate) fn started() -> usize {
    STARTED.load(Ordering::Acquire)
}

fn worker(index: usize) {
    let slot = &SLOTS[index];
    // Wait for the starting thread to record this thread's handle, so that a wake-up sent
    // from now on finds it.
    while slot.thread.get().is_none() {
        std::thread::yield_now();
    }
    let mut idle_since = Instant::now();
    let mut spins = 0;
    loop {
        let mail = slot.mailbox.load(Ordering::Acquire);
        if mail != 0 && mail & TAKEN == 0 {
            let taken = slot.mailbox.compare_exchange(
                mail,
                mail | TAKEN,
                Ordering::Acquire,
                Ordering::Relaxed,
            );
            if taken.is_ok() {
                // SAFETY: the caller that posted the job keeps it alive until this mailbox no
                // longer holds its address with TAKEN (`Finish` waits for that).
                let job = unsafe { &*std::ptr::with_exposed_provenance::<Job<'_>>(mail) };
                let own = super::scope(Some(job.threads));
                job.work_catching();
                super::scope(own);
                slot.mailbox.store(0, Ordering::Release);
                idle_since = Instant::now();
                spins = 0;
            }
            continue;
        }
        if spins < SPINS || idle_since.elapsed() < AWAKE {
            pause(&mut spins);
            continue;
        }
        slot.sleeping.store(true, Ordering::SeqCst);
        if slot.mailbox.load(Ordering::SeqCst) == 0 {
            std::thread::park();
        }
        slot.sleeping.store(false, Ordering::SeqCst);
        idle_since = Instant::now();
        spins = 0;
    }
}
