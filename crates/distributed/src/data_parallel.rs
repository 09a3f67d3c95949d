//! Data parallelism: every rank holds the whole model and a shard of each batch; the ranks
//! start from rank 0's parameters and average their gradients after each backward pass, so
//! every rank takes the same optimizer step.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use tensor::{Gradients, Parameter, Tensor};

use crate::{CommError, Communicator, Reducible};

/// One line per parameter, `name`, shape and element type: what the ranks must agree on.
fn describe<T: Reducible>(params: &[(String, Parameter<T>)]) -> Vec<String> {
    params
        .iter()
        .map(|(name, p)| format!("`{name}` {:?} {:?}", p.shape(), T::DTYPE))
        .collect()
}

/// Checks that every rank has the same parameters (names, shapes, element type, in order),
/// then gives every rank rank 0's values: the start of data-parallel training.
///
/// # Errors
/// [`CommError::Mismatch`] on every rank when two ranks differ, naming the first
/// difference (the parameter's position, and its name, shape and element type on both
/// ranks), before any value is sent; or a failure of the group.
pub fn broadcast_parameters<T: Reducible>(
    comm: &dyn Communicator,
    params: &[(String, Parameter<T>)],
) -> Result<(), CommError> {
    let op = "broadcast_parameters";
    let mine = describe(params);
    // Every rank's description, to every rank, so that all of them report the same first
    // difference.
    let mut all = Vec::with_capacity(comm.size());
    for root in 0..comm.size() {
        let mut bytes = if root == comm.rank() {
            mine.join("\n").into_bytes()
        } else {
            Vec::new()
        };
        comm.broadcast_bytes(&mut bytes, root)?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        all.push(if text.is_empty() {
            Vec::new()
        } else {
            text.lines().map(str::to_owned).collect::<Vec<_>>()
        });
    }
    for (rank, theirs) in all.iter().enumerate().skip(1) {
        let first = &all[0];
        if let Some(i) = (0..first.len().max(theirs.len())).find(|&i| first.get(i) != theirs.get(i))
        {
            let what = |d: &[String]| d.get(i).cloned().unwrap_or_else(|| "nothing".into());
            return Err(CommError::Mismatch {
                op,
                message: format!(
                    "the ranks' models differ: rank {rank} has {} parameters and rank 0 has {}; \
                     parameter {i}: rank {rank} has {}, rank 0 has {}",
                    theirs.len(),
                    first.len(),
                    what(theirs),
                    what(first)
                ),
            });
        }
    }
    let mut flat: Vec<T> = params
        .iter()
        .flat_map(|(_, p)| p.tensor().to_vec())
        .collect();
    comm.broadcast(T::values(&mut flat), 0)?;
    let mut at = 0;
    for (_, p) in params {
        let n = p.numel();
        p.update(|v| v.copy_from_slice(&flat[at..at + n]));
        at += n;
    }
    Ok(())
}

/// Replaces the gradients of `params` in `grads` by their mean over the ranks, in one
/// all-reduce of one flat buffer: afterwards every rank holds the same gradients, bit for
/// bit. A parameter without a gradient on a rank counts as zeros there; one without a
/// gradient on any rank stays without.
///
/// With every rank's loss the mean over an equal share of the batch, the mean of the ranks'
/// gradients is the gradient of the whole batch's mean loss.
///
/// # Errors
/// A failure of the group (ranks with different parameters show as a mismatch of lengths).
pub fn average_gradients<T: Reducible>(
    comm: &dyn Communicator,
    params: &[Parameter<T>],
    grads: &mut Gradients<T>,
) -> Result<(), CommError> {
    // Each parameter's values, then a 1 if this rank has its gradient.
    let len: usize = params.iter().map(|p| p.numel() + 1).sum();
    let mut flat = Vec::with_capacity(len);
    for p in params {
        match grads.get(p) {
            Some(g) => {
                flat.extend(g.to_vec());
                flat.push(T::one());
            }
            None => {
                flat.extend(std::iter::repeat_n(T::zero(), p.numel()));
                flat.push(T::zero());
            }
        }
    }
    comm.all_reduce_sum(T::values(&mut flat))?;
    let ranks = T::of_f64(comm.size() as f64);
    let mut at = 0;
    for p in params {
        let n = p.numel();
        if flat[at + n] > T::zero() {
            let mean: Vec<T> = flat[at..at + n].iter().map(|&g| g / ranks).collect();
            let grad = Tensor::from_vec(mean, &p.shape()).expect("a gradient per element");
            grads.insert(p, grad);
        }
        at += n + 1;
    }
    Ok(())
}

/// The indices of one rank's share of a dataset of `len` items, per epoch, as PyTorch's
/// `DistributedSampler` takes them: every rank shuffles all the indices with the same seeded
/// generator (seed and epoch), the list is padded by repeating its start to a multiple of
/// the number of ranks, and rank `r` takes items `r, r + size, r + 2·size, ...`. So the
/// shares are disjoint (but for the padding), equal in size, and cover the dataset.
#[derive(Clone, Debug)]
pub struct ShardedSampler {
    len: usize,
    rank: usize,
    size: usize,
    seed: u64,
    shuffle: bool,
}

impl ShardedSampler {
    /// Rank `rank`'s share among `size` of `len` items, shuffled from `seed`.
    ///
    /// # Panics
    /// When `size` is 0 or `rank` is not below it.
    pub fn new(len: usize, rank: usize, size: usize, seed: u64) -> Self {
        assert!(
            rank < size,
            "ShardedSampler: rank {rank} is outside a group of {size}"
        );
        ShardedSampler {
            len,
            rank,
            size,
            seed,
            shuffle: true,
        }
    }

    /// The same share, without shuffling.
    #[must_use]
    pub fn in_order(mut self) -> Self {
        self.shuffle = false;
        self
    }

    /// The number of indices each rank gets per epoch.
    pub fn share(&self) -> usize {
        self.len.div_ceil(self.size)
    }

    /// This rank's indices for `epoch`.
    pub fn indices(&self, epoch: u64) -> Vec<usize> {
        if self.len == 0 {
            return Vec::new();
        }
        let mut all: Vec<usize> = (0..self.len).collect();
        if self.shuffle {
            let seed = self.seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            all.shuffle(&mut StdRng::seed_from_u64(seed));
        }
        let total = self.share() * self.size;
        (0..total)
            .map(|i| all[i % self.len])
            .skip(self.rank)
            .step_by(self.size)
            .collect()
    }
}
