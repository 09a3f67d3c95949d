//! The in-process backend: the ranks are threads of one process, meeting in shared memory.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::{CommError, Communicator, Values};

/// How long a rank waits in a collective for the others by default, unless the group is
/// made [`with_timeout`](InProcess::group_with_timeout).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// One rank of a group of threads in this process. Made by [`InProcess::group`] (a handle
/// per rank, to hand to threads) or [`run`] (which starts the threads).
///
/// A collective returns once every rank has joined it, with the same result on every rank:
/// sums are taken in rank order, so the bits do not depend on which thread arrives first.
/// When a rank's handle is dropped (its thread finished or panicked) while others wait for
/// it, or a rank does not join within the group's timeout, every waiting rank gets an
/// error, and so does every later collective of the group: it never hangs.
pub struct InProcess {
    rank: usize,
    group: Arc<Group>,
}

struct Group {
    size: usize,
    timeout: Duration,
    state: Mutex<State>,
    arrived: Condvar,
}

#[derive(Default)]
struct State {
    /// Completed collectives.
    generation: u64,
    /// This round's contributions, by rank.
    pending: Vec<Option<Call>>,
    /// The result of the last completed round.
    last: Option<Arc<Data>>,
    /// Ranks whose handle was dropped: whether they panicked.
    gone: Vec<Option<bool>>,
    /// Set once a collective failed for the group: every call returns it.
    broken: Option<CommError>,
}

/// What one rank passed to a collective.
struct Call {
    op: &'static str,
    kind: Kind,
    data: Data,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Sum,
    Broadcast { root: usize },
    Barrier,
}

#[derive(Clone)]
enum Data {
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(Vec<u8>),
    /// What a non-root rank passes to a broadcast: the shape of what it expects.
    Expect {
        what: &'static str,
        len: Option<usize>,
    },
    Nothing,
}

impl Data {
    fn describe(&self) -> String {
        match self {
            Data::F32(v) => format!("{} f32 values", v.len()),
            Data::F64(v) => format!("{} f64 values", v.len()),
            Data::Bytes(v) => format!("{} bytes", v.len()),
            Data::Expect {
                what,
                len: Some(len),
            } => format!("{len} {what} values"),
            Data::Expect { what, len: None } => what.to_string(),
            Data::Nothing => "nothing".into(),
        }
    }

    /// The element type and length, for comparing calls.
    fn shape(&self) -> (&'static str, Option<usize>) {
        match self {
            Data::F32(v) => ("f32", Some(v.len())),
            Data::F64(v) => ("f64", Some(v.len())),
            Data::Bytes(_) => ("bytes", None),
            Data::Expect { what, len } => (what, *len),
            Data::Nothing => ("nothing", Some(0)),
        }
    }
}

impl InProcess {
    /// A group of `size` ranks, one handle each (rank `i` at index `i`), with
    /// [`DEFAULT_TIMEOUT`].
    ///
    /// # Panics
    /// When `size` is 0.
    pub fn group(size: usize) -> Vec<InProcess> {
        Self::group_with_timeout(size, DEFAULT_TIMEOUT)
    }

    /// The same, a rank waiting at most `timeout` in a collective for the others.
    ///
    /// # Panics
    /// When `size` is 0.
    pub fn group_with_timeout(size: usize, timeout: Duration) -> Vec<InProcess> {
        assert!(
            size > 0,
            "InProcess::group: a group needs at least one rank"
        );
        let group = Arc::new(Group {
            size,
            timeout,
            state: Mutex::new(State {
                pending: (0..size).map(|_| None).collect(),
                gone: vec![None; size],
                ..State::default()
            }),
            arrived: Condvar::new(),
        });
        (0..size)
            .map(|rank| InProcess {
                rank,
                group: Arc::clone(&group),
            })
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.group
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Joins a collective with `call`; returns the round's result once every rank has.
    fn collective(&self, call: Call) -> Result<Arc<Data>, CommError> {
        let op = call.op;
        let size = self.group.size;
        let mut state = self.lock();
        if let Some(e) = &state.broken {
            return Err(e.clone());
        }
        if let Some(e) = gone_error(&state, op) {
            return Err(self.break_group(&mut state, e));
        }
        let generation = state.generation;
        state.pending[self.rank] = Some(call);
        if state.pending.iter().all(Option::is_some) {
            let calls: Vec<Call> = state.pending.iter_mut().filter_map(Option::take).collect();
            let outcome = combine(&calls);
            state.generation += 1;
            self.group.arrived.notify_all();
            return match outcome {
                Ok(data) => {
                    let data = Arc::new(data);
                    state.last = Some(Arc::clone(&data));
                    Ok(data)
                }
                Err(e) => Err(self.break_group(&mut state, e)),
            };
        }
        let start = Instant::now();
        loop {
            let waited = start.elapsed();
            let Some(left) = self.group.timeout.checked_sub(waited) else {
                let missing = (0..size).filter(|&r| state.pending[r].is_none()).collect();
                let e = CommError::Timeout {
                    op,
                    waited,
                    missing,
                };
                return Err(self.break_group(&mut state, e));
            };
            state = self
                .group
                .arrived
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            if state.generation != generation {
                // The round completed (a failed round also breaks the group).
                return match (&state.broken, &state.last) {
                    (Some(e), _) => Err(e.clone()),
                    (None, Some(data)) => Ok(Arc::clone(data)),
                    (None, None) => unreachable!("a completed round leaves its result"),
                };
            }
            if let Some(e) = &state.broken {
                return Err(e.clone());
            }
            if let Some(e) = gone_error(&state, op) {
                return Err(self.break_group(&mut state, e));
            }
        }
    }

    /// Marks the group broken by `e` and wakes the ranks waiting in it, which return `e`
    /// too; returns `e`.
    fn break_group(&self, state: &mut State, e: CommError) -> CommError {
        state.broken = Some(e.clone());
        self.group.arrived.notify_all();
        e
    }
}

/// The error for a rank that left and has not joined this round, if there is one.
fn gone_error(state: &State, op: &'static str) -> Option<CommError> {
    state
        .gone
        .iter()
        .enumerate()
        .find(|(rank, gone)| gone.is_some() && state.pending[*rank].is_none())
        .map(|(rank, gone)| CommError::PeerGone {
            op,
            rank,
            panicked: gone.unwrap_or(false),
        })
}

/// The result of a round whose calls (by rank) all arrived, or the first difference
/// between them.
fn combine(calls: &[Call]) -> Result<Data, CommError> {
    let first = &calls[0];
    for (rank, call) in calls.iter().enumerate().skip(1) {
        if call.op != first.op || call.kind != first.kind || call.data.shape() != first.data.shape()
        {
            let root = |k: Kind| match k {
                Kind::Broadcast { root } => format!(" from rank {root}"),
                _ => String::new(),
            };
            return Err(CommError::Mismatch {
                op: first.op,
                message: format!(
                    "rank 0 called {}{} with {}, rank {rank} called {}{} with {}",
                    first.op,
                    root(first.kind),
                    first.data.describe(),
                    call.op,
                    root(call.kind),
                    call.data.describe()
                ),
            });
        }
    }
    Ok(match first.kind {
        Kind::Barrier => Data::Nothing,
        Kind::Broadcast { root } => calls[root].data.clone(),
        // Summed in rank order: the same bits on every rank and in every run.
        Kind::Sum => match &first.data {
            Data::F32(v) => Data::F32(sum_in_order(v, calls, |d| match d {
                Data::F32(v) => v,
                _ => unreachable!("checked above"),
            })),
            Data::F64(v) => Data::F64(sum_in_order(v, calls, |d| match d {
                Data::F64(v) => v,
                _ => unreachable!("checked above"),
            })),
            _ => unreachable!("sums carry numbers"),
        },
    })
}

fn sum_in_order<T: Copy + std::ops::AddAssign>(
    first: &[T],
    calls: &[Call],
    values: impl Fn(&Data) -> &Vec<T>,
) -> Vec<T> {
    let mut total = first.to_vec();
    for call in &calls[1..] {
        for (t, &v) in total.iter_mut().zip(values(&call.data)) {
            *t += v;
        }
    }
    total
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let mut state = self.lock();
        state.gone[self.rank] = Some(std::thread::panicking());
        self.group.arrived.notify_all();
    }
}

impl Communicator for InProcess {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.group.size
    }

    fn all_reduce_sum(&self, values: Values<'_>) -> Result<(), CommError> {
        let op = "all_reduce_sum";
        let data = match &values {
            Values::F32(v) => Data::F32(v.to_vec()),
            Values::F64(v) => Data::F64(v.to_vec()),
        };
        let sum = self.collective(Call {
            op,
            kind: Kind::Sum,
            data,
        })?;
        copy_out(values, &sum);
        Ok(())
    }

    fn broadcast(&self, values: Values<'_>, root: usize) -> Result<(), CommError> {
        let op = "broadcast";
        self.check_rank(op, root)?;
        let data = match (&values, self.rank == root) {
            (Values::F32(v), true) => Data::F32(v.to_vec()),
            (Values::F64(v), true) => Data::F64(v.to_vec()),
            (v, false) => Data::Expect {
                what: v.type_name(),
                len: Some(v.len()),
            },
        };
        let sent = self.collective(Call {
            op,
            kind: Kind::Broadcast { root },
            data,
        })?;
        copy_out(values, &sent);
        Ok(())
    }

    fn broadcast_bytes(&self, bytes: &mut Vec<u8>, root: usize) -> Result<(), CommError> {
        let op = "broadcast_bytes";
        self.check_rank(op, root)?;
        let data = if self.rank == root {
            Data::Bytes(bytes.clone())
        } else {
            Data::Expect {
                what: "bytes",
                len: None,
            }
        };
        let sent = self.collective(Call {
            op,
            kind: Kind::Broadcast { root },
            data,
        })?;
        if let Data::Bytes(b) = &*sent {
            bytes.clone_from(b);
        }
        Ok(())
    }

    fn barrier(&self) -> Result<(), CommError> {
        self.collective(Call {
            op: "barrier",
            kind: Kind::Barrier,
            data: Data::Nothing,
        })
        .map(drop)
    }
}

impl InProcess {
    fn check_rank(&self, op: &'static str, rank: usize) -> Result<(), CommError> {
        if rank < self.group.size {
            Ok(())
        } else {
            Err(CommError::InvalidRank {
                op,
                rank,
                size: self.group.size,
            })
        }
    }
}

/// Copies a round's numbers into the caller's buffer (of the same type and length, as the
/// round checked).
fn copy_out(values: Values<'_>, data: &Data) {
    match (values, data) {
        (Values::F32(out), Data::F32(v)) => out.copy_from_slice(v),
        (Values::F64(out), Data::F64(v)) => out.copy_from_slice(v),
        _ => unreachable!("the round checked the types and lengths"),
    }
}

/// Runs `f` on `size` threads, each with its rank's handle, and returns each rank's result
/// in rank order (`Err` holding the panic of a rank that panicked; the other ranks' pending
/// collectives then fail instead of waiting for it).
///
/// ```
/// use distributed::{Communicator, in_process};
/// let sums = in_process::run(3, |comm| {
///     let mut v = [comm.rank() as f64, 1.0];
///     comm.all_reduce_sum((&mut v[..]).into()).unwrap();
///     v
/// });
/// for sum in sums {
///     assert_eq!(sum.unwrap(), [3.0, 3.0]);
/// }
/// ```
pub fn run<R: Send>(size: usize, f: impl Fn(InProcess) -> R + Sync) -> Vec<std::thread::Result<R>> {
    let handles = InProcess::group(size);
    std::thread::scope(|scope| {
        let threads: Vec<_> = handles
            .into_iter()
            .map(|comm| {
                let f = &f;
                scope.spawn(move || f(comm))
            })
            .collect();
        threads.into_iter().map(|t| t.join()).collect()
    })
}
