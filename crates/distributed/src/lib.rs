//! Collective communication for data-parallel training with surefire: the [`Communicator`]
//! trait (rank, size, an in-place sum over the ranks, broadcast, barrier), an in-process
//! backend whose ranks are threads ([`in_process`]), for tests and for data parallelism
//! inside one machine, and the pieces of a data-parallel loop: [`broadcast_parameters`]
//! (rank 0's start, after checking that the ranks' models agree), [`average_gradients`] (one
//! flat all-reduce after backward) and a [`ShardedSampler`] (each rank's share of an epoch).
//!
//! Every collective is called by every rank of the group, in the same order; it returns the
//! same result on every rank, and sums run in rank order, so a run gives the same bits each
//! time. A rank that calls a different collective, or passes a buffer of another length or
//! element type, makes the collective fail on every rank with [`CommError::Mismatch`]
//! naming both calls; a rank that is gone or late fails it with [`CommError::PeerGone`] or
//! [`CommError::Timeout`]: a group never hangs.
//!
//! ```
//! use distributed::{Communicator, in_process};
//!
//! // Four ranks average their gradients: each holds its own, all end with the mean.
//! let means = in_process::run(4, |comm| {
//!     let mut grad = vec![comm.rank() as f32; 3];
//!     comm.all_reduce_sum(grad.as_mut_slice().into())?;
//!     let ranks = comm.size() as f32;
//!     grad.iter_mut().for_each(|g| *g /= ranks);
//!     Ok::<_, distributed::CommError>(grad)
//! });
//! for mean in means {
//!     assert_eq!(mean.unwrap()?, vec![1.5; 3]);
//! }
//! # Ok::<(), distributed::CommError>(())
//! ```

mod data_parallel;
mod error;
pub mod in_process;
#[cfg(feature = "mpi")]
mod mpi_backend;

pub use data_parallel::{ShardedSampler, average_gradients, broadcast_parameters};
pub use error::CommError;
pub use in_process::InProcess;
#[cfg(feature = "mpi")]
pub use mpi_backend::Mpi;

/// A buffer of numbers a collective reads and overwrites: `f32` or `f64`.
pub enum Values<'a> {
    /// `f32` values.
    F32(&'a mut [f32]),
    /// `f64` values.
    F64(&'a mut [f64]),
}

impl Values<'_> {
    /// The number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `"f32"` or `"f64"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Values::F32(_) => "f32",
            Values::F64(_) => "f64",
        }
    }
}

impl<'a> From<&'a mut [f32]> for Values<'a> {
    fn from(v: &'a mut [f32]) -> Self {
        Values::F32(v)
    }
}

impl<'a> From<&'a mut [f64]> for Values<'a> {
    fn from(v: &'a mut [f64]) -> Self {
        Values::F64(v)
    }
}

/// A float element type collectives carry: the `Element`s of the `tensor` crate.
pub trait Reducible: tensor::Element {
    /// `values` as a collective's buffer.
    fn values(values: &mut [Self]) -> Values<'_>;
}

impl Reducible for f32 {
    fn values(values: &mut [f32]) -> Values<'_> {
        Values::F32(values)
    }
}

impl Reducible for f64 {
    fn values(values: &mut [f64]) -> Values<'_> {
        Values::F64(values)
    }
}

/// One rank's view of a group of processes or threads that run the same program. Not
/// required to be `Send`: an MPI rank stays on the thread that started MPI (an
/// [`InProcess`] handle can move to another thread).
pub trait Communicator {
    /// This rank, from 0 to [`size`](Communicator::size) − 1.
    fn rank(&self) -> usize;

    /// The number of ranks.
    fn size(&self) -> usize;

    /// Replaces `values` on every rank by their elementwise sum over the ranks, summed in rank
    /// order.
    ///
    /// # Errors
    /// As the module docs say: a mismatched call, a rank gone or late.
    fn all_reduce_sum(&self, values: Values<'_>) -> Result<(), CommError>;

    /// Replaces `values` on every rank by rank `root`'s.
    ///
    /// # Errors
    /// As [`all_reduce_sum`](Communicator::all_reduce_sum), and for a root outside the group.
    fn broadcast(&self, values: Values<'_>, root: usize) -> Result<(), CommError>;

    /// Replaces `bytes` on every rank by rank `root`'s (of any length): for names, shapes and
    /// settings that the ranks must agree on.
    ///
    /// # Errors
    /// As [`broadcast`](Communicator::broadcast).
    fn broadcast_bytes(&self, bytes: &mut Vec<u8>, root: usize) -> Result<(), CommError>;

    /// Returns once every rank has called it.
    ///
    /// # Errors
    /// As [`all_reduce_sum`](Communicator::all_reduce_sum).
    fn barrier(&self) -> Result<(), CommError>;
}
