//! Windows over the planes of an NCHW tensor, for max pooling: where each window's maximum
//! lies.

use super::Buf;
use super::conv::{Geometry, Span};
use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::threads::{self, Effort};

/// From this many window taps the search is shared between threads.
const PARALLEL_MIN: usize = 1 << 15;

/// For each window of `g` (one channel per group, `g.batch · g.in_channels` planes of
/// `g.input`), the position in the row-major input (`(plane · height + row) · width +
/// column`) of its largest value: the
/// first one in row-major order among equal values, and the first NaN if there is one (a
/// NaN is larger than everything, so it propagates as in PyTorch).
///
/// # Errors
/// When a window covers no input value (a dilated window over a small, padded input).
pub(crate) fn max_positions<T: Element>(
    op: &'static str,
    g: &Geometry,
    x: &[T],
) -> Result<Vec<i64>> {
    let planes = g.batch * g.in_channels;
    let [h, w] = g.input;
    let [oh, ow] = g.output;
    let [kh, kw] = g.kernel;
    assert_eq!(x.len(), planes * h * w);
    // From the buffer cache, to which the index tensor returns it: a fresh allocation of
    // this size costs a page fault per page written.
    let mut out = super::buffer::<i64>(op, planes * oh * ow)?.into_vec();
    out.resize(planes * oh * ow, 0);
    let span = |d: usize, tap: usize| {
        Span::new(
            tap,
            (g.stride[d], g.padding[d], g.dilation[d]),
            g.input[d],
            g.output[d],
        )
    };
    let rows: Vec<Span> = (0..kh).map(|i| span(0, i)).collect();
    let columns: Vec<Span> = (0..kw).map(|j| span(1, j)).collect();
    // Each output row's (and column's) taps inside the input: a range of kernel indices.
    let range = |spans: &[Span], o: usize| {
        let inside = |s: &Span| (s.lo..s.hi).contains(&o);
        let lo = spans.iter().position(inside).unwrap_or(0);
        let hi = spans.iter().rposition(inside).map_or(0, |i| i + 1);
        (lo, hi)
    };
    let row_ranges: Vec<(usize, usize)> = (0..oh).map(|r| range(&rows, r)).collect();
    let column_ranges: Vec<(usize, usize)> = (0..ow).map(|q| range(&columns, q)).collect();
    if row_ranges
        .iter()
        .chain(&column_ranges)
        .any(|(lo, hi)| lo >= hi)
    {
        return Err(TensorError::invalid(
            op,
            format!(
                "a window of {:?} taps (dilation {:?}, padding {:?}) covers no value of the \
                 {h}×{w} input",
                g.kernel, g.dilation, g.padding
            ),
        ));
    }
    let search = |first: usize, piece: &mut [i64]| {
        for (k, out) in piece.chunks_mut(oh * ow).enumerate() {
            let values = &x[(first + k) * h * w..][..h * w];
            plane(
                values,
                g,
                &row_ranges,
                &column_ranges,
                out,
                (first + k) * h * w,
            );
        }
    };
    let taps = out.len() * kh * kw;
    if taps < PARALLEL_MIN || oh * ow == 0 {
        search(0, &mut out);
    } else {
        let per_piece = (PARALLEL_MIN / (kh * kw * oh * ow)).max(1) * oh * ow;
        threads::for_each_chunk_with(
            Effort::Medium,
            [&mut out[..]],
            per_piece,
            &|start, [piece]| {
                search(start / (oh * ow), piece);
            },
        );
    }
    Ok(out)
}

/// The windows of one plane (`values`, `g.input`): for output `(r, q)`, the position of the
/// largest of its taps inside the input, the kernel rows `row_ranges[r]` by the kernel
/// columns `column_ranges[q]` (none is empty), plus `base` (the plane's first element in the
/// whole input). A NaN beats everything and is never beaten, and the first of equal values
/// stays.
fn plane<T: Element>(
    values: &[T],
    g: &Geometry,
    row_ranges: &[(usize, usize)],
    column_ranges: &[(usize, usize)],
    out: &mut [i64],
    base: usize,
) {
    let w = g.input[1];
    let ([sh, sw], [ph, pw], [dh, dw]) = (g.stride, g.padding, g.dilation);
    let ow = column_ranges.len();
    for (r, (&rows, out)) in row_ranges.iter().zip(out.chunks_mut(ow)).enumerate() {
        let top = (r * sh) as isize - ph as isize;
        for (q, (&columns, slot)) in column_ranges.iter().zip(out.iter_mut()).enumerate() {
            let corner = top * w as isize + (q * sw) as isize - pw as isize;
            let taps = Taps {
                corner,
                w,
                dilation: (dh, dw),
            };
            // The common windows, 2×2 and 3×3 inside the input, with their loops unrolled.
            *slot = (base
                + match (rows, columns) {
                    ((0, 2), (0, 2)) => taps.argmax::<2, 2, T>(values),
                    ((0, 3), (0, 3)) => taps.argmax::<3, 3, T>(values),
                    _ => taps.argmax_in(values, rows, columns),
                }) as i64;
        }
    }
}

/// One window: the index of its kernel's first tap (which may lie in the padding), the row
/// length and the dilation.
struct Taps {
    corner: isize,
    w: usize,
    dilation: (usize, usize),
}

impl Taps {
    fn at(&self, i: usize, j: usize) -> usize {
        (self.corner + (i * self.dilation.0 * self.w + j * self.dilation.1) as isize) as usize
    }

    /// The position of the largest of the taps `0..KH` by `0..KW`, all inside the input.
    #[inline(always)]
    fn argmax<const KH: usize, const KW: usize, T: Element>(&self, values: &[T]) -> usize {
        let mut best = Best::new(self.at(0, 0));
        for i in 0..KH {
            for j in 0..KW {
                best.see(values, self.at(i, j));
            }
        }
        best.position()
    }

    /// The same over the kernel rows `rows` by the kernel columns `columns`.
    fn argmax_in<T: Element>(
        &self,
        values: &[T],
        (i_lo, i_hi): (usize, usize),
        (j_lo, j_hi): (usize, usize),
    ) -> usize {
        let mut best = Best::new(self.at(i_lo, j_lo));
        for i in i_lo..i_hi {
            for j in j_lo..j_hi {
                best.see(values, self.at(i, j));
            }
        }
        best.position()
    }
}

/// A window's search so far: the largest value and where it is, and where the first NaN is.
/// A NaN beats everything and is never beaten; of equal values the first stays. Every update
/// is a select, with no branch to mispredict (which tap wins is a coin toss): the maximum a
/// `maxss`, the positions conditional moves.
struct Best<T> {
    value: T,
    at: usize,
    nan: usize,
}

impl<T: Element> Best<T> {
    /// Nothing seen; `first` (the first tap) is where a window of `-∞` has its maximum.
    #[inline(always)]
    fn new(first: usize) -> Self {
        Best {
            value: T::neg_infinity(),
            at: first,
            nan: usize::MAX,
        }
    }

    #[inline(always)]
    fn see(&mut self, values: &[T], position: usize) {
        let v = values[position];
        let larger = v > self.value;
        self.value = if larger { v } else { self.value };
        self.at = if larger { position } else { self.at };
        #[allow(clippy::eq_op)]
        let first_nan = (v != v) & (self.nan == usize::MAX);
        self.nan = if first_nan { position } else { self.nan };
    }

    #[inline(always)]
    fn position(&self) -> usize {
        if self.nan != usize::MAX {
            self.nan
        } else {
            self.at
        }
    }
}

/// `x`'s elements at `positions` (each below `x.len()`), in order.
pub(crate) fn take<T: Element>(op: &'static str, x: &[T], positions: &[i64]) -> Result<Buf<T>> {
    let mut out = super::buffer::<T>(op, positions.len())?;
    out.extend(positions.iter().map(|&p| x[p as usize]));
    Ok(out)
}

/// `len` zeros with `source[p]` added at `positions[p]` (each below `len`), in order.
pub(crate) fn put_add<T: Element>(
    op: &'static str,
    len: usize,
    positions: &[i64],
    source: &[T],
) -> Result<Buf<T>> {
    let mut out = super::zeroed::<T>(op, len)?;
    for (&p, &v) in positions.iter().zip(source) {
        out[p as usize] += v;
    }
    Ok(out)
}
