//! The walk every strided kernel is built on: the elements of operands of one shape, one run
//! of the innermost dimension at a time.

use smallvec::SmallVec;

use super::Layout;
use crate::shape::Dims;

/// Visits the elements of `N` operands of the same `shape` in row-major order, one run of the
/// innermost dimension at a time: `f(offsets, len, steps)` gets each operand's storage offset
/// at the start of the run, the run's length and each operand's stride along it.
///
/// Dimensions of size 1 are dropped and neighbours that every operand lays out contiguously
/// are merged first, so a contiguous tensor is one run and a broadcast row is a run of
/// stride 0: the kernels' inner loops see the longest slices possible.
pub(crate) fn for_each_run<const N: usize>(
    shape: &[usize],
    layouts: [&Layout; N],
    mut f: impl FnMut([usize; N], usize, [usize; N]),
) {
    // The planning and the odometer live in `Runs`, which is generic over N only: this
    // function is instantiated once per kernel closure, so it is kept to the loop itself.
    let Some(mut runs) = Runs::new(shape, layouts) else {
        return;
    };
    loop {
        f(runs.offsets, runs.len, runs.steps);
        if !runs.advance() {
            return;
        }
    }
}

/// The runs of [`for_each_run`]: the current one, and how to step to the next.
struct Runs<const N: usize> {
    /// The collapsed dimensions outside the run, and each operand's strides along them.
    outer: Dims,
    strides: [Dims; N],
    /// The current position in `outer`.
    index: Dims,
    offsets: [usize; N],
    len: usize,
    steps: [usize; N],
}

impl<const N: usize> Runs<N> {
    /// The first run, or `None` when the shape has no elements.
    fn new(shape: &[usize], layouts: [&Layout; N]) -> Option<Self> {
        if shape.contains(&0) {
            return None;
        }
        let (mut outer, mut strides) = collapse(shape, layouts.map(|l| l.strides()));
        let offsets = layouts.map(|l| l.offset());
        // A scalar (every dimension dropped) is one run of one element.
        let (len, steps) = match outer.pop() {
            Some(len) => (len, std::array::from_fn(|k| strides[k].pop().unwrap_or(0))),
            None => (1, [0; N]),
        };
        let index = SmallVec::from_elem(0, outer.len());
        Some(Runs {
            outer,
            strides,
            index,
            offsets,
            len,
            steps,
        })
    }

    /// Moves to the next run (an odometer increment of the outer index, keeping the offsets
    /// in step); `false` after the last.
    fn advance(&mut self) -> bool {
        let mut d = self.outer.len();
        loop {
            if d == 0 {
                return false;
            }
            d -= 1;
            self.index[d] += 1;
            for k in 0..N {
                self.offsets[k] += self.strides[k][d];
            }
            if self.index[d] < self.outer[d] {
                return true;
            }
            for k in 0..N {
                self.offsets[k] -= self.strides[k][d] * self.outer[d];
            }
            self.index[d] = 0;
        }
    }
}

/// Drops size-1 dimensions and merges each dimension into its inner neighbour where every
/// operand's strides allow it.
fn collapse<const N: usize>(shape: &[usize], strides: [&[usize]; N]) -> (Dims, [Dims; N]) {
    let mut dims = Dims::new();
    let mut out: [Dims; N] = std::array::from_fn(|_| Dims::new());
    for (d, &size) in shape.iter().enumerate() {
        if size == 1 {
            continue;
        }
        let mergeable = dims.last().is_some_and(|_| {
            (0..N).all(|k| {
                let prev = *out[k]
                    .last()
                    .expect("internal: dims and strides grow together");
                prev == strides[k][d] * size
            })
        });
        if mergeable {
            *dims.last_mut().expect("internal: checked non-empty") *= size;
            for k in 0..N {
                *out[k].last_mut().expect("internal: checked non-empty") = strides[k][d];
            }
        } else {
            dims.push(size);
            for k in 0..N {
                out[k].push(strides[k][d]);
            }
        }
    }
    (dims, out)
}
