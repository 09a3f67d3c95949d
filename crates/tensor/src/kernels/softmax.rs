//! The softmax and log-softmax kernels: stable for any magnitude, and defined on fully
//! masked slices.

use super::reduce::Axis;
use super::{Buf, buffer, by_rows, per_type};
use crate::element::Element;
use crate::error::Result;
use crate::special::exp_f32;

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
        column_max(slab, inner, &mut max);
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
        let max = row_max(row);
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
    if len == 0 || inner == 0 {
        return buffer(op, data.len());
    }
    if inner == 1 {
        let kernel: RowsFn<T> = per_type(
            softmax_rows_f32 as RowsFn<f32>,
            softmax_rows_f64 as RowsFn<f64>,
        );
        return by_rows(op, data.len(), len, &|start, out| {
            kernel(&data[start..start + out.len()], &[], len, out);
        });
    }
    let mut out = buffer(op, data.len())?;
    let mut max = vec![T::zero(); inner];
    let mut total = vec![T::zero(); inner];
    for slab in data.chunks_exact(len * inner) {
        column_max(slab, inner, &mut max);
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

/// The derivative of softmax along contiguous rows of `len`: `y (g - Σ g y)` per row, from
/// the result `y` and the incoming gradient `g` (both row-major, of one length).
pub(crate) fn softmax_backward_rows<T: Element>(
    op: &'static str,
    g: &[T],
    y: &[T],
    len: usize,
) -> Result<Buf<T>> {
    assert_eq!(
        g.len(),
        y.len(),
        "internal: softmax gradients of the result's length"
    );
    if len == 0 {
        return buffer(op, g.len());
    }
    let kernel: RowsFn<T> = per_type(
        softmax_backward_rows_f32 as RowsFn<f32>,
        softmax_backward_rows_f64 as RowsFn<f64>,
    );
    by_rows(op, g.len(), len, &|start, out| {
        let end = start + out.len();
        kernel(&g[start..end], &y[start..end], len, out);
    })
}

/// A kernel over whole rows of `len`: `(a, b, len, out)`, with `b` empty when it takes one
/// operand.
type RowsFn<T> = fn(&[T], &[T], usize, &mut [T]);

/// The largest element of each column of `slab` (rows of `inner`) into `max`, NaN where a
/// column has one.
fn column_max<T: Element>(slab: &[T], inner: usize, max: &mut [T]) {
    max.copy_from_slice(&slab[..inner]);
    for row in slab.chunks_exact(inner).skip(1) {
        for (m, &v) in max.iter_mut().zip(row) {
            *m = if v > *m || v.is_nan() { v } else { *m };
        }
    }
}

/// The largest element of `row`, or NaN if it has one.
#[inline(always)]
fn row_max<T: Element>(row: &[T]) -> T {
    row[1..]
        .iter()
        .fold(row[0], |m, &v| if v > m || v.is_nan() { v } else { m })
}

/// Softmax of each row of `x` into `out` with `exp`: a fully masked row (all `-inf`) stays
/// zero, as `out` starts.
#[inline(always)]
fn softmax_rows_with<T: Element>(x: &[T], len: usize, out: &mut [T], exp: impl Fn(T) -> T) {
    for (row, o) in x.chunks_exact(len).zip(out.chunks_exact_mut(len)) {
        let max = row_max(row);
        if max == T::neg_infinity() {
            continue;
        }
        let mut total = T::zero();
        for (o, &v) in o.iter_mut().zip(row) {
            *o = exp(v - max);
            total += *o;
        }
        for o in o.iter_mut() {
            *o /= total;
        }
    }
}

/// `y (g - Σ g y)` for each row.
#[inline(always)]
fn softmax_backward_rows_with<T: Element>(g: &[T], y: &[T], len: usize, out: &mut [T]) {
    let rows = g.chunks_exact(len).zip(y.chunks_exact(len));
    for ((g, y), o) in rows.zip(out.chunks_exact_mut(len)) {
        let dot = g.iter().zip(y).fold(T::zero(), |acc, (&g, &y)| acc + g * y);
        for ((o, &g), &y) in o.iter_mut().zip(g).zip(y) {
            *o = y * (g - dot);
        }
    }
}

/// Softmax rows in `f64`, through the C library's `exp`.
fn softmax_rows_f64(x: &[f64], _: &[f64], len: usize, out: &mut [f64]) {
    softmax_rows_with(x, len, out, f64::exp);
}

/// Softmax rows in `f32`, through the vectorised `exp`, compiled for the widest SIMD the CPU
/// has.
fn softmax_rows_f32(x: &[f32], _: &[f32], len: usize, out: &mut [f32]) {
    struct Rows<'a>(&'a [f32], usize, &'a mut [f32]);
    impl pulp::WithSimd for Rows<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _: S) {
            softmax_rows_with(self.0, self.1, self.2, exp_f32);
        }
    }
    pulp::Arch::new().dispatch(Rows(x, len, out));
}

fn softmax_backward_rows_f64(g: &[f64], y: &[f64], len: usize, out: &mut [f64]) {
    softmax_backward_rows_with(g, y, len, out);
}

fn softmax_backward_rows_f32(g: &[f32], y: &[f32], len: usize, out: &mut [f32]) {
    struct Rows<'a>(&'a [f32], &'a [f32], usize, &'a mut [f32]);
    impl pulp::WithSimd for Rows<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _: S) {
            softmax_backward_rows_with(self.0, self.1, self.2, self.3);
        }
    }
    pulp::Arch::new().dispatch(Rows(g, y, len, out));
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
