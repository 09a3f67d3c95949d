//! The softmax and log-softmax kernels: stable for any magnitude, and defined on fully
//! masked slices.

use super::reduce::Axis;
use super::{Buf, buffer};
use crate::element::Element;
use crate::error::Result;

/// `log_softmax` along the middle axis: `x - max - ln(sum(exp(x - max)))`. Subtracting the
/// maximum keeps every `exp` at most 1, so nothing overflows.
pub(crate) fn log_softmax<T: Element>(op: &'static str, data: &[T], axis: Axis) -> Result<Buf<T>> {
    let Axis { len, inner, .. } = axis;
    let mut out = buffer(op, data.len())?;
    if len == 0 || inner == 0 {
        return Ok(out);
    }
    if inner == 1 {
        return log_softmax_rows(data, len, out);
    }
    let mut max = vec![T::zero(); inner];
    let mut total = vec![T::zero(); inner];
    for slab in data.chunks_exact(len * inner) {
        max.copy_from_slice(&slab[..inner]);
        for row in slab.chunks_exact(inner).skip(1) {
            for (m, &v) in max.iter_mut().zip(row) {
                *m = if v > *m || v.is_nan() { v } else { *m };
            }
        }
        total.fill(T::zero());
        for row in slab.chunks_exact(inner) {
            for ((t, &m), &v) in total.iter_mut().zip(&max).zip(row) {
                *t += (v - m).exp();
            }
        }
        for t in total.iter_mut() {
            *t = t.ln();
        }
        for row in slab.chunks_exact(inner) {
            let shifted = row.iter().zip(&max).zip(&total);
            // A slice that is all -inf (fully masked) has no mass to share: its log
            // probabilities are all -inf, where -inf - -inf would make them NaN.
            out.extend(shifted.map(|((&v, &m), &lse)| {
                if m == T::neg_infinity() {
                    m
                } else {
                    (v - m) - lse
                }
            }));
        }
    }
    Ok(out)
}

/// [`log_softmax`] along contiguous rows of `len` (the last dimension), into `out` (empty,
/// with capacity for `data`): the same operations in the same order as the general path, so
/// the same bits, without its per-column bookkeeping.
fn log_softmax_rows<T: Element>(data: &[T], len: usize, mut out: Buf<T>) -> Result<Buf<T>> {
    for row in data.chunks_exact(len) {
        let max = row[1..]
            .iter()
            .fold(row[0], |m, &v| if v > m || v.is_nan() { v } else { m });
        if max == T::neg_infinity() {
            // Fully masked, as in the general path.
            out.extend(row.iter().map(|_| max));
            continue;
        }
        let mut total = T::zero();
        for &v in row {
            total += (v - max).exp();
        }
        let lse = total.ln();
        out.extend_from_slice(row);
        let start = out.len() - len;
        for v in &mut out[start..] {
            *v = (*v - max) - lse;
        }
    }
    Ok(out)
}

/// `softmax` along the middle axis: `exp(x - max) / sum(exp(x - max))`, one `exp` per
/// element. A slice that is all `-inf` (fully masked) gives zeros, where `0 / 0` would give NaN.
pub(crate) fn softmax<T: Element>(op: &'static str, data: &[T], axis: Axis) -> Result<Buf<T>> {
    let Axis { len, inner, .. } = axis;
    let mut out = buffer(op, data.len())?;
    if len == 0 || inner == 0 {
        return Ok(out);
    }
    let mut max = vec![T::zero(); inner];
    let mut total = vec![T::zero(); inner];
    for slab in data.chunks_exact(len * inner) {
        max.copy_from_slice(&slab[..inner]);
        for row in slab.chunks_exact(inner).skip(1) {
            for (m, &v) in max.iter_mut().zip(row) {
                *m = if v > *m || v.is_nan() { v } else { *m };
            }
        }
        let start = out.len();
        total.fill(T::zero());
        for row in slab.chunks_exact(inner) {
            for ((t, &m), &v) in total.iter_mut().zip(&max).zip(row) {
                let e = if m == T::neg_infinity() {
                    T::zero()
                } else {
                    (v - m).exp()
                };
                *t += e;
                out.push(e);
            }
        }
        for row in out[start..].chunks_exact_mut(inner) {
            for (v, &t) in row.iter_mut().zip(&total) {
                if t != T::zero() {
                    *v /= t;
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_softmax_along_rows_has_the_bits_of_the_general_path() {
        let (rows, len) = (6, 9);
        let values = crate::testing::weights(&[rows * len], 7).to_vec();
        let mut data: Vec<f64> = values.iter().map(|v| 4.0 * v).collect();
        // A fully masked row and a partly masked one.
        data[..len].fill(f64::NEG_INFINITY);
        data[len + 2] = f64::NEG_INFINITY;
        let by_rows = log_softmax(
            "t",
            &data,
            Axis {
                outer: rows,
                len,
                inner: 1,
            },
        )
        .unwrap();
        // The same values laid out column by column go through the general path.
        let columns: Vec<f64> = (0..len)
            .flat_map(|j| (0..rows).map(move |i| (i, j)))
            .map(|(i, j)| data[i * len + j])
            .collect();
        let general = log_softmax(
            "t",
            &columns,
            Axis {
                outer: 1,
                len,
                inner: rows,
            },
        )
        .unwrap();
        for i in 0..rows {
            for j in 0..len {
                let (a, b) = (by_rows[i * len + j], general[j * rows + i]);
                assert_eq!(a.to_bits(), b.to_bits(), "row {i}, column {j}: {a} {b}");
            }
        }
        assert!(by_rows[..len].iter().all(|&v| v == f64::NEG_INFINITY));
        // Softmax of the same rows: the exponential of log-softmax to rounding, 0 where
        // masked, and zeros for the fully masked row.
        let axis = Axis {
            outer: rows,
            len,
            inner: 1,
        };
        let probs = softmax("t", &data, axis).unwrap();
        for (p, l) in probs.iter().zip(by_rows.iter()) {
            assert!((p - l.exp()).abs() <= 1e-15, "{p} {}", l.exp());
        }
        assert!(probs[..len].iter().all(|&p| p == 0.0));
        assert_eq!(probs[len + 2], 0.0);
    }
}
