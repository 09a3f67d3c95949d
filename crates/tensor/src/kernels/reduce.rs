//! Reductions along one axis of a row-major buffer seen as `[outer, len, inner]`.
//!
//! Sums are pairwise (as NumPy's): the rounding error grows with the logarithm of the length
//! instead of linearly, and the blocking is fixed, so a result never depends on how the work
//! was split: large sums run the two halves of the same recursion on two threads, and large
//! column sums give each thread whole columns, so every thread count gives the same bits.

use super::elementwise::PARALLEL_MIN;
use super::{Buf, alloc, buffer};
use crate::element::Element;
use crate::error::Result;
use crate::threads::{self, Effort};

/// Which extreme a reduction selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Extreme {
    Max,
    Min,
}

/// Below this many terms a sum is accumulated in one pass (eight interleaved accumulators);
/// above, it is split in halves.
const PAIRWISE_BLOCK: usize = 128;

/// The same for sums of rows, which accumulate one row at a time: 16 rows per pass match
/// the 8 lanes of 16 terms of a contiguous block.
const PAIRWISE_ROWS: usize = 16;

/// Columns per thread in a parallel column sum.
const COLUMN_STRIP: usize = 256;

/// The shape of a reduction: `outer` independent slabs of `len` rows of `inner` elements.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Axis {
    pub(crate) outer: usize,
    pub(crate) len: usize,
    pub(crate) inner: usize,
}

impl Axis {
    /// The axis `dim` of `shape`.
    pub(crate) fn of(shape: &[usize], dim: usize) -> Self {
        Axis {
            outer: shape[..dim].iter().product(),
            len: shape[dim],
            inner: shape[dim + 1..].iter().product(),
        }
    }

    /// The axis spanning dimensions `dims` (consecutive) of `shape`.
    pub(crate) fn spanning(shape: &[usize], dims: std::ops::Range<usize>) -> Self {
        Axis {
            outer: shape[..dims.start].iter().product(),
            len: shape[dims.clone()].iter().product(),
            inner: shape[dims.end..].iter().product(),
        }
    }
}

/// Sums `data` (`[outer, len, inner]`, row-major) over the middle axis.
pub(crate) fn sum<T: Element>(op: &'static str, data: &[T], axis: Axis) -> Result<Buf<T>> {
    let Axis { outer, len, inner } = axis;
    let mut out = buffer(op, outer * inner)?;
    if len == 0 || outer * inner == 0 {
        // The empty sum is 0.
        out.resize(outer * inner, T::zero());
        return Ok(out);
    }
    if inner == 1 {
        out.extend(data.chunks_exact(len).map(pairwise_sum));
        return Ok(out);
    }
    out.resize(outer * inner, T::zero());
    // Recursion halves the rows until at most PAIRWISE_ROWS remain; each level holds one
    // partial row.
    let depth = len
        .div_ceil(PAIRWISE_ROWS)
        .next_power_of_two()
        .trailing_zeros() as usize
        + 1;
    let slabs = data
        .chunks_exact(len * inner)
        .zip(out.chunks_exact_mut(inner));
    if len * inner < PARALLEL_MIN || inner < 2 * COLUMN_STRIP {
        let mut scratch = buffer(op, depth * inner)?;
        scratch.resize(depth * inner, T::zero());
        for (slab, acc) in slabs {
            sum_rows(slab, inner, inner, acc, &mut scratch);
        }
        return Ok(out);
    }
    // Each column's sum is computed alone, so splitting the columns between threads changes
    // nothing in the result.
    for (slab, acc) in slabs {
        threads::for_each_chunk_with(Effort::Medium, [acc], COLUMN_STRIP, &|start, [acc]| {
            let mut scratch = vec![T::zero(); depth * acc.len()];
            sum_rows(&slab[start..], inner, acc.len(), acc, &mut scratch);
        });
    }
    Ok(out)
}

/// The pairwise sum of a non-empty slice, with eight interleaved accumulators in the blocks
/// (they also let the compiler use vector registers).
pub(crate) fn pairwise_sum<T: Element>(x: &[T]) -> T {
    if x.len() < 8 {
        return x.iter().fold(T::zero(), |acc, &v| acc + v);
    }
    if x.len() <= PAIRWISE_BLOCK {
        let mut lanes = [T::zero(); 8];
        let chunks = x.chunks_exact(8);
        let rest = chunks.remainder();
        for chunk in chunks {
            for (lane, &v) in lanes.iter_mut().zip(chunk) {
                *lane += v;
            }
        }
        let mut total = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))
            + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
        for &v in rest {
            total += v;
        }
        return total;
    }
    let half = (x.len() / 2) / 8 * 8;
    let (left, right) = x.split_at(half);
    if x.len() >= PARALLEL_MIN {
        // The same halves as below, on two threads: the same additions, the same result.
        let (left, right) = threads::join(
            Effort::Medium,
            || pairwise_sum(left),
            || pairwise_sum(right),
        );
        return left + right;
    }
    pairwise_sum(left) + pairwise_sum(right)
}

/// Writes into `acc` (`width` elements) the pairwise sum of the rows of `rows`: row `j` is
/// `rows[j * stride..][..width]`, and there are `(rows.len() + stride - width) / stride` of
/// them (at least one). `scratch` holds `width` elements per remaining level of recursion.
fn sum_rows<T: Element>(rows: &[T], stride: usize, width: usize, acc: &mut [T], scratch: &mut [T]) {
    let len = (rows.len() + stride - width) / stride;
    if len <= PAIRWISE_ROWS {
        acc.copy_from_slice(&rows[..width]);
        for j in 1..len {
            for (a, &v) in acc.iter_mut().zip(&rows[j * stride..j * stride + width]) {
                *a += v;
            }
        }
        return;
    }
    let half = len / 2;
    let right = &rows[half * stride..];
    sum_rows(
        &rows[..(half - 1) * stride + width],
        stride,
        width,
        acc,
        scratch,
    );
    let (partial, deeper) = scratch.split_at_mut(width);
    sum_rows(right, stride, width, partial, deeper);
    for (a, &p) in acc.iter_mut().zip(partial.iter()) {
        *a += p;
    }
}

/// The largest (or smallest) element along the middle axis and its position; `len > 0`. A NaN
/// wins over every number, the first of equal candidates wins.
pub(crate) fn extreme<T: Element>(
    op: &'static str,
    data: &[T],
    axis: Axis,
    kind: Extreme,
) -> Result<(Buf<T>, Vec<usize>)> {
    let Axis { outer, len, inner } = axis;
    let better = |candidate: T, best: T| {
        !best.is_nan()
            && (candidate.is_nan()
                || match kind {
                    Extreme::Max => candidate > best,
                    Extreme::Min => candidate < best,
                })
    };
    let mut values = buffer(op, outer * inner)?;
    let mut indices = alloc(op, outer * inner)?.into_vec();
    if inner == 0 {
        return Ok((values, indices));
    }
    for slab in data.chunks_exact(len * inner).take(outer) {
        let start = values.len();
        values.extend_from_slice(&slab[..inner]);
        indices.resize(start + inner, 0);
        let (best, best_at) = (&mut values[start..], &mut indices[start..]);
        for (j, row) in slab.chunks_exact(inner).enumerate().skip(1) {
            for ((b, at), &v) in best.iter_mut().zip(best_at.iter_mut()).zip(row) {
                if better(v, *b) {
                    *b = v;
                    *at = j;
                }
            }
        }
    }
    Ok((values, indices))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_sum_is_exact_on_integers_and_beats_naive_error() {
        let x: Vec<f64> = (1..=1000).map(f64::from).collect();
        assert_eq!(pairwise_sum(&x), 500_500.0);
        // A million copies of 0.1f32: the naive f32 running sum drifts far off; the pairwise
        // sum stays within a few ulps of 100000.
        let tenths = vec![0.1f32; 1_000_000];
        let naive: f32 = tenths.iter().fold(0.0, |a, &b| a + b);
        let pairwise = pairwise_sum(&tenths);
        assert!((naive - 100_000.0).abs() > 100.0, "naive {naive}");
        assert!((pairwise - 100_000.0).abs() < 0.05, "pairwise {pairwise}");
    }

    #[test]
    fn column_sums_match_row_sums() {
        // 300 rows of [1, 2, 3]: column sums are 300, 600, 900 (pairwise over rows).
        let data: Vec<f64> = (0..300).flat_map(|_| [1.0, 2.0, 3.0]).collect();
        let axis = Axis {
            outer: 1,
            len: 300,
            inner: 3,
        };
        assert_eq!(
            sum("t", &data, axis).unwrap().as_slice(),
            [300.0, 600.0, 900.0]
        );
        let empty = Axis {
            outer: 2,
            len: 0,
            inner: 3,
        };
        assert_eq!(sum::<f64>("t", &[], empty).unwrap().as_slice(), [0.0; 6]);
        let rows = Axis {
            outer: 2,
            len: 0,
            inner: 1,
        };
        assert_eq!(sum::<f64>("t", &[], rows).unwrap().as_slice(), [0.0; 2]);
    }

    #[test]
    fn row_sums_are_exact_on_integers_for_every_recursion_depth() {
        for len in [1, 2, 15, 16, 17, 31, 32, 33, 100, 1000, 4097, 70_001] {
            let inner = 3;
            let data: Vec<f64> = (0..len * inner).map(|i| (i % 7) as f64).collect();
            let want: Vec<f64> = (0..inner)
                .map(|c| (0..len).map(|r| ((r * inner + c) % 7) as f64).sum())
                .collect();
            let axis = Axis {
                outer: 1,
                len,
                inner,
            };
            assert_eq!(sum("t", &data, axis).unwrap().as_slice(), want, "len {len}");
        }
    }

    #[test]
    fn extreme_prefers_nan_and_first_tie() {
        let axis = Axis {
            outer: 1,
            len: 4,
            inner: 1,
        };
        let (v, i) = extreme("t", &[1.0, 3.0, 3.0, 2.0], axis, Extreme::Max).unwrap();
        assert_eq!((v.as_slice(), i), (&[3.0][..], vec![1]));
        let (v, i) = extreme("t", &[1.0, f64::NAN, 5.0, f64::NAN], axis, Extreme::Max).unwrap();
        assert!(v[0].is_nan());
        assert_eq!(i, vec![1]);
    }
}
