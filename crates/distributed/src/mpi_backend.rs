//! The MPI backend: the ranks are the processes of an MPI job (`mpirun`, Slurm's `srun`).

use mpi::collective::{CommunicatorCollectives, Root, SystemOperation};
use mpi::environment::Universe;
use mpi::topology::{Communicator as _, SimpleCommunicator};

use crate::{CommError, Communicator, Values};

/// This process's rank of the MPI job's world. MPI's default error handler stays in place: an
/// MPI error, or a process of the job that dies, ends the whole job with MPI's message rather
/// than leaving the others waiting.
///
/// Sums are MPI's all-reduce: summed in the order of the algorithm the MPI library picks for
/// the number of ranks and the buffer's length, which is the same on every rank and in every
/// run with those, but may differ from rank order.
pub struct Mpi {
    world: SimpleCommunicator,
    // Finalizes MPI when dropped; declared last so that the world goes first.
    _universe: Universe,
}

impl Mpi {
    /// Initializes MPI for this process and joins its world.
    ///
    /// # Errors
    /// [`CommError::Mismatch`] when MPI was already initialized in this process (an MPI
    /// job has one `Mpi`).
    pub fn init() -> Result<Self, CommError> {
        let universe = mpi::initialize().ok_or(CommError::Mismatch {
            op: "Mpi::init",
            message: "MPI is already initialized in this process".into(),
        })?;
        Ok(Mpi {
            world: universe.world(),
            _universe: universe,
        })
    }

    fn root(&self, op: &'static str, root: usize) -> Result<mpi::topology::Process<'_>, CommError> {
        if root < self.size() {
            Ok(self.world.process_at_rank(root as i32))
        } else {
            Err(CommError::InvalidRank {
                op,
                rank: root,
                size: self.size(),
            })
        }
    }
}

impl Communicator for Mpi {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn all_reduce_sum(&self, values: Values<'_>) -> Result<(), CommError> {
        match values {
            Values::F32(v) => {
                let send = v.to_vec();
                self.world
                    .all_reduce_into(&send[..], v, SystemOperation::sum());
            }
            Values::F64(v) => {
                let send = v.to_vec();
                self.world
                    .all_reduce_into(&send[..], v, SystemOperation::sum());
            }
        }
        Ok(())
    }

    fn broadcast(&self, values: Values<'_>, root: usize) -> Result<(), CommError> {
        let root = self.root("broadcast", root)?;
        match values {
            Values::F32(v) => root.broadcast_into(v),
            Values::F64(v) => root.broadcast_into(v),
        }
        Ok(())
    }

    fn broadcast_bytes(&self, bytes: &mut Vec<u8>, root: usize) -> Result<(), CommError> {
        let root = self.root("broadcast_bytes", root)?;
        let mut len = bytes.len() as u64;
        root.broadcast_into(&mut len);
        bytes.resize(len as usize, 0);
        root.broadcast_into(&mut bytes[..]);
        Ok(())
    }

    fn barrier(&self) -> Result<(), CommError> {
        self.world.barrier();
        Ok(())
    }
}
