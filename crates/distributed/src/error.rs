//! What a collective operation can fail with.

use std::time::Duration;

/// The failure of a collective operation. Every rank of the group gets it, never a hang.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommError {
    /// The ranks called different operations, or the same one with buffers of different
    /// lengths or element types, at the same point of their programs.
    Mismatch {
        /// The operation this rank called.
        op: &'static str,
        /// The first difference, naming the ranks and what each passed.
        message: String,
    },
    /// A rank left the group (its handle was dropped, or its thread panicked) before joining
    /// the operation the others are waiting in.
    PeerGone {
        /// The operation the others were waiting in.
        op: &'static str,
        /// The rank that left.
        rank: usize,
        /// Whether it left by panicking.
        panicked: bool,
    },
    /// Not every rank joined within the group's timeout.
    Timeout {
        /// The operation that timed out.
        op: &'static str,
        /// How long this rank waited.
        waited: Duration,
        /// The ranks that had not joined.
        missing: Vec<usize>,
    },
    /// A root or rank outside the group.
    InvalidRank {
        /// The operation.
        op: &'static str,
        /// The rank given.
        rank: usize,
        /// The group's size.
        size: usize,
    },
}

impl std::fmt::Display for CommError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommError::Mismatch { op, message } => write!(f, "{op}: {message}"),
            CommError::PeerGone { op, rank, panicked } => {
                let how = if *panicked {
                    "panicked"
                } else {
                    "left the group"
                };
                write!(f, "{op}: rank {rank} {how} before joining it")
            }
            CommError::Timeout {
                op,
                waited,
                missing,
            } => write!(
                f,
                "{op}: ranks {missing:?} did not join within {:.1} s",
                waited.as_secs_f64()
            ),
            CommError::InvalidRank { op, rank, size } => {
                write!(f, "{op}: rank {rank} is outside the group of {size}")
            }
        }
    }
}

impl std::error::Error for CommError {}
