//! Layer normalisation along contiguous rows: the forward pass with each row's statistics,
//! and the backward pass from them.

use super::{Buf, by_rows};
use crate::element::Element;
use crate::error::Result;

/// `Σ f(j, row[j])` over a row, in eight interleaved sums: one running sum would make every
/// addition wait for the one before.
#[inline(always)]
fn row_sum<T: Element>(row: &[T], f: impl Fn(usize, T) -> T) -> T {
    let mut lanes = [T::zero(); 8];
    let chunks = row.chunks_exact(8);
    let tail = chunks.remainder();
    for (c, chunk) in chunks.enumerate() {
        for (k, (lane, &v)) in lanes.iter_mut().zip(chunk).enumerate() {
            *lane += f(c * 8 + k, v);
        }
    }
    let start = row.len() - tail.len();
    for (k, (lane, &v)) in lanes.iter_mut().zip(tail).enumerate() {
        *lane += f(start + k, v);
    }
    lanes.iter().fold(T::zero(), |s, &l| s + l)
}

/// Each row's mean and `1 / √(var + eps)` (the biased variance), for rows of `len`.
pub(crate) fn row_stats<T: Element>(x: &[T], len: usize, eps: T) -> Vec<(T, T)> {
    let n = T::from_usize(len).unwrap_or_else(T::max_value);
    x.chunks_exact(len)
        .map(|row| {
            let mean = row_sum(row, |_, v| v) / n;
            let var = row_sum(row, |_, v| (v - mean) * (v - mean)) / n;
            (mean, T::one() / (var + eps).sqrt())
        })
        .collect()
}

/// `(x - mean) · rstd · weight + bias` for each row of `len`, from [`row_stats`]; `weight`
/// and `bias` have `len` elements when given.
pub(crate) fn forward<T: Element>(
    op: &'static str,
    x: &[T],
    len: usize,
    stats: &[(T, T)],
    weight: Option<&[T]>,
    bias: Option<&[T]>,
) -> Result<Buf<T>> {
    by_rows(op, x.len(), len, &|start, out| {
        let rows = x[start..start + out.len()].chunks_exact(len);
        for (r, (row, o)) in rows.zip(out.chunks_exact_mut(len)).enumerate() {
            let (mean, rstd) = stats[start / len + r];
            for (j, (o, &v)) in o.iter_mut().zip(row).enumerate() {
                let mut y = (v - mean) * rstd;
                if let Some(w) = weight {
                    y *= w[j];
                }
                if let Some(b) = bias {
                    y += b[j];
                }
                *o = y;
            }
        }
    })
}

/// The gradients of [`forward`] for the incoming gradient `g`: for `x`,
/// `rstd (gw - mean(gw) - x̂ mean(gw x̂))` per row with `gw = g · weight` and
/// `x̂ = (x - mean) rstd`; for the weight `Σ_rows g x̂` and for the bias `Σ_rows g`.
pub(crate) fn backward<T: Element>(
    op: &'static str,
    g: &[T],
    x: &[T],
    len: usize,
    stats: &[(T, T)],
    weight: Option<&[T]>,
) -> Result<(Buf<T>, Vec<T>, Vec<T>)> {
    let n = T::from_usize(len).unwrap_or_else(T::max_value);
    let dx = by_rows(op, x.len(), len, &|start, out| {
        let rows = x[start..start + out.len()]
            .chunks_exact(len)
            .zip(g[start..start + out.len()].chunks_exact(len));
        for (r, ((row, grow), o)) in rows.zip(out.chunks_exact_mut(len)).enumerate() {
            let (mean, rstd) = stats[start / len + r];
            let scaled = |j: usize| weight.map_or(grow[j], |w| grow[j] * w[j]);
            let a = row_sum(row, |j, _| scaled(j)) / n;
            let b = row_sum(row, |j, v| scaled(j) * ((v - mean) * rstd)) / n;
            for (j, (o, &v)) in o.iter_mut().zip(row).enumerate() {
                *o = rstd * (scaled(j) - a - (v - mean) * rstd * b);
            }
        }
    })?;
    let (mut dw, mut db) = (vec![T::zero(); len], vec![T::zero(); len]);
    for ((row, grow), &(mean, rstd)) in x.chunks_exact(len).zip(g.chunks_exact(len)).zip(stats) {
        for j in 0..len {
            dw[j] += grow[j] * ((row[j] - mean) * rstd);
            db[j] += grow[j];
        }
    }
    Ok((dx, dw, db))
}
