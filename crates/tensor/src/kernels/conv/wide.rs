//! Convolutions with stride 1, on whole rows of a zero-padded copy of each sample's input.
//!
//! With stride 1, output `(r, q)` reads through tap `(i, j)` the padded input at
//! `(r + i·dh, q + j·dw)`. Computed over "wide" rows, every column of the padded width `wp`
//! (the first `ow` are the outputs, the rest are dropped), the values tap `(c, i, j)` reads for
//! a run of wide positions are one contiguous run of the padded copy, from
//! `c·hp·wp + i·dh·wp + j·dw`. So a tile's column buffer takes one copy per channel and tap,
//! not one per output row, and the input gradient folds back by one addition per channel and
//! tap. The dropped columns cost `(wp − ow) / ow` more arithmetic in the products; their
//! gradients are zeros, so they add nothing to the weight's or the input's.
//!
//! With non-finite values in the input (or the weight, for the input gradient), a gradient
//! that would be infinite can come out NaN instead: a dropped column multiplies them by a
//! zero gradient. Finite data gives the exact sums.
//!
//! A 1×1 convolution without padding reads its input as its column matrix, without a copy.
#![allow(unsafe_code)]

use std::ops::Range;

use super::{
    Geometry, MIN_TILE, Shared, TILE_ELEMENTS, column_major, give_back, room, row_major, run_jobs,
    scratch,
};
use crate::element::Element;
use crate::error::Result;
use crate::kernels::matmul::{MatrixRef, product_here};

/// The padded copy of one sample's group of channels.
struct Padded {
    /// Padded height and width.
    hp: usize,
    wp: usize,
    /// Its elements: the planes, then a tail that the last wide row's taps run into.
    len: usize,
    /// Output rows per tile.
    rows: usize,
}

impl Padded {
    fn of(g: &Geometry) -> Self {
        let [h, w] = g.input;
        let (hp, wp) = (h + 2 * g.padding[0], w + 2 * g.padding[1]);
        let tail = (g.kernel[1] - 1) * g.dilation[1];
        let rows = (TILE_ELEMENTS / (g.depth() * wp).max(1))
            .max(MIN_TILE.div_ceil(wp))
            .clamp(1, g.output[0]);
        Padded {
            hp,
            wp,
            len: g.in_group() * hp * wp + tail,
            rows,
        }
    }

    fn plane(&self) -> usize {
        self.hp * self.wp
    }

    /// Where column row `row` (channel `c`, tap `(i, j)`) starts in the padded copy.
    fn offset(&self, g: &Geometry, row: usize) -> usize {
        let [kh, kw] = g.kernel;
        let (c, i, j) = (row / (kh * kw), row / kw % kh, row % kw);
        c * self.plane() + i * g.dilation[0] * self.wp + j * g.dilation[1]
    }

    /// Whether wide rows are output rows (no column is dropped).
    fn narrow(&self, g: &Geometry) -> bool {
        self.wp == g.output[1]
    }

    /// The tiles, as ranges of output rows.
    fn tiles(&self, g: &Geometry) -> impl Iterator<Item = Range<usize>> {
        let (rows, oh) = (self.rows, g.output[0]);
        (0..oh.div_ceil(rows)).map(move |t| t * rows..(t * rows + rows).min(oh))
    }
}

/// One sample's group of channels (`[C/g, h, w]`) into `xp`, zero-padded.
fn pad<T: Element>(g: &Geometry, p: &Padded, x: &[T], xp: &mut [T]) {
    let [h, w] = g.input;
    let [ph, pw] = g.padding;
    xp.fill(T::zero());
    for c in 0..g.in_group() {
        for ih in 0..h {
            let to = c * p.plane() + (ih + ph) * p.wp + pw;
            xp[to..to + w].copy_from_slice(&x[(c * h + ih) * w..][..w]);
        }
    }
}

/// The column matrix of the wide positions `from..from + len` of the padded copy `xp`:
/// copied into `cols` (`[K, len]`, which has the room), or, for a 1×1 kernel without
/// padding, read in place.
fn columns<T: Element>(
    g: &Geometry,
    p: &Padded,
    xp: &[T],
    (from, len): (usize, usize),
    cols: &mut Vec<T>,
) -> MatrixRef<T> {
    if g.pointwise() {
        return row_major(xp[from..].as_ptr(), p.plane());
    }
    cols.clear();
    for row in 0..g.depth() {
        let at = p.offset(g, row) + from;
        cols.extend_from_slice(&xp[at..at + len]);
    }
    row_major(cols.as_ptr(), len)
}

/// The gradient rows `rows` of one sample's group (`gy`, `[O/g, oh, ow]`) in the wide layout:
/// read in place when no column is dropped, else copied into `wide` (`[O/g, len]`) with zeros
/// in the dropped columns.
fn widened<T: Element>(
    g: &Geometry,
    p: &Padded,
    gy: &[T],
    rows: &Range<usize>,
    wide: &mut [T],
) -> MatrixRef<T> {
    let [_, ow] = g.output;
    let plane = g.out_plane();
    if p.narrow(g) {
        return row_major(gy[rows.start * ow..].as_ptr(), plane);
    }
    let len = rows.len() * p.wp;
    wide[..g.out_group() * len].fill(T::zero());
    for o in 0..g.out_group() {
        for (k, r) in rows.clone().enumerate() {
            wide[o * len + k * p.wp..][..ow].copy_from_slice(&gy[o * plane + r * ow..][..ow]);
        }
    }
    row_major(wide.as_ptr(), len)
}

/// The padded copy of one sample's group, in a buffer from the cache, or the input itself
/// when a 1×1 kernel without padding reads it in place.
fn padded_input<'a, T: Element>(
    op: &'static str,
    g: &Geometry,
    p: &Padded,
    x: &'a [T],
    buf: &'a mut Vec<T>,
) -> Result<&'a [T]> {
    if g.pointwise() {
        return Ok(x);
    }
    if buf.is_empty() {
        *buf = scratch(op, p.len)?;
    }
    pad(g, p, x, buf);
    Ok(buf)
}

/// `len` zeros from the cache, or nothing when `needed` is false.
fn zeros_if<T: Element>(op: &'static str, needed: bool, len: usize) -> Result<Vec<T>> {
    if needed {
        scratch(op, len)
    } else {
        Ok(Vec::new())
    }
}

/// Room for `len` elements from the cache, or nothing when `needed` is false.
fn room_if<T: Element>(op: &'static str, needed: bool, len: usize) -> Result<Vec<T>> {
    if needed {
        room(op, len)
    } else {
        Ok(Vec::new())
    }
}

fn give_back_all<T: Element>(buffers: [Vec<T>; 3]) {
    for b in buffers {
        if b.capacity() > 0 {
            give_back(b);
        }
    }
}

/// The convolution into `dst` (the output, uninitialised): jobs of (sample, group).
pub(super) fn forward<T: Element>(
    op: &'static str,
    g: &Geometry,
    (x, w, bias): (&[T], &[T], Option<&[T]>),
    dst: Shared<T>,
) -> Result<()> {
    let (og, cg, k, plane) = (g.out_group(), g.in_group(), g.depth(), g.out_plane());
    let p = Padded::of(g);
    let ow = g.output[1];
    run_jobs(g.batch * g.groups, g.work(), &|job| {
        let (sample, group) = (job / g.groups, job % g.groups);
        let x = &x[(sample * g.in_channels + group * cg) * g.in_plane()..][..cg * g.in_plane()];
        let first_channel = sample * g.out_channels + group * og;
        let mut xp_buf = Vec::new();
        let xp = padded_input(op, g, &p, x, &mut xp_buf)?;
        let most = p.rows * p.wp;
        let mut cols = room_if(op, !g.pointwise(), k * most)?;
        let mut wide = room_if(op, !p.narrow(g), og * most)?;
        let weight = row_major(w[group * og * k..].as_ptr(), k);
        for rows in p.tiles(g) {
            let len = rows.len() * p.wp;
            let b = columns(g, &p, xp, (rows.start * p.wp, len), &mut cols);
            // SAFETY: the job's block (its group's channels of its sample) lies inside the
            // output and no other job writes it.
            let out = unsafe { dst.at(first_channel * plane) };
            if p.narrow(g) {
                // Wide rows are output rows: the product goes to the output, onto the bias.
                let out = unsafe { out.add(rows.start * ow) };
                if let Some(bias) = bias {
                    for o in 0..og {
                        // SAFETY: `len` elements of row `o` of the block, inside the output.
                        unsafe {
                            std::slice::from_raw_parts_mut(out.add(o * plane), len)
                                .fill(bias[group * og + o]);
                        }
                    }
                }
                // SAFETY: `og × k · k × len` into the block's rows; the operands lie inside
                // `w` and the columns.
                unsafe { product_here(out, plane, (og, k, len), weight, b, bias.is_some()) };
                continue;
            }
            // SAFETY: `og × k · k × len` into the wide scratch's room, every element of which
            // the product writes.
            unsafe {
                product_here(wide.as_mut_ptr(), len, (og, k, len), weight, b, false);
                wide.set_len(og * len);
            }
            for o in 0..og {
                let shift = bias.map_or(T::zero(), |bias| bias[group * og + o]);
                for (n, r) in rows.clone().enumerate() {
                    let from = &wide[o * len + n * p.wp..][..ow];
                    // SAFETY: row `r` of channel `o` of the block, inside the output.
                    let to =
                        unsafe { std::slice::from_raw_parts_mut(out.add(o * plane + r * ow), ow) };
                    for (t, &f) in to.iter_mut().zip(from) {
                        *t = f + shift;
                    }
                }
            }
        }
        give_back_all([xp_buf, cols, wide]);
        Ok(())
    })
}

/// The input gradient added onto `dst` (the input's shape, holding the bias or zeros): jobs
/// of (sample, group), each folding `Wᵀ · gy` back onto a padded gradient, whose inside it
/// adds to its block.
pub(super) fn input_grad<T: Element>(
    op: &'static str,
    g: &Geometry,
    (gy, w): (&[T], &[T]),
    dst: Shared<T>,
) -> Result<()> {
    let (og, cg, k, plane) = (g.out_group(), g.in_group(), g.depth(), g.out_plane());
    let p = Padded::of(g);
    let [h, iw] = g.input;
    let [ph, pw] = g.padding;
    run_jobs(g.batch * g.groups, g.work(), &|job| {
        let (sample, group) = (job / g.groups, job % g.groups);
        let block = (sample * g.in_channels + group * cg) * g.in_plane();
        // SAFETY: the job's block (its group's input channels of its sample) lies inside the
        // output and no other job touches it.
        let dx = unsafe { std::slice::from_raw_parts_mut(dst.at(block), cg * g.in_plane()) };
        let gy = &gy[(sample * g.out_channels + group * og) * plane..][..og * plane];
        // Wᵀ: the group's `og × k` block of the weight, read transposed.
        let weight_t = column_major(w[group * og * k..].as_ptr(), k);
        if g.pointwise() {
            // SAFETY: `cg × og · og × plane` onto the block.
            unsafe {
                product_here(
                    dx.as_mut_ptr(),
                    g.in_plane(),
                    (k, og, plane),
                    weight_t,
                    row_major(gy.as_ptr(), plane),
                    true,
                );
            }
            return Ok(());
        }
        let most = p.rows * p.wp;
        let mut grad = scratch::<T>(op, p.len)?;
        let mut cols = room::<T>(op, k * most)?;
        let mut wide = zeros_if(op, !p.narrow(g), og * most)?;
        for rows in p.tiles(g) {
            let len = rows.len() * p.wp;
            let b = widened(g, &p, gy, &rows, &mut wide);
            // SAFETY: `k × og · og × len` into the column scratch's room, every element of
            // which the product writes.
            unsafe {
                product_here(cols.as_mut_ptr(), len, (k, og, len), weight_t, b, false);
                cols.set_len(k * len);
            }
            for row in 0..k {
                let at = p.offset(g, row) + rows.start * p.wp;
                for (d, &c) in grad[at..at + len].iter_mut().zip(&cols[row * len..][..len]) {
                    *d += c;
                }
            }
        }
        for c in 0..cg {
            for ih in 0..h {
                let from = c * p.plane() + (ih + ph) * p.wp + pw;
                let to = (c * h + ih) * iw;
                for (d, &v) in dx[to..to + iw].iter_mut().zip(&grad[from..from + iw]) {
                    *d += v;
                }
            }
        }
        give_back_all([grad, cols, wide]);
        Ok(())
    })
}

/// The weight gradient of group `group` over `samples` into `out` (`og × k`, overwritten):
/// the products of each tile's widened `gy` with its columns, summed in order.
pub(super) fn weight_chunk<T: Element>(
    op: &'static str,
    g: &Geometry,
    (x, gy): (&[T], &[T]),
    (group, samples): (usize, Range<usize>),
    out: *mut T,
) -> Result<()> {
    let (og, cg, k, plane) = (g.out_group(), g.in_group(), g.depth(), g.out_plane());
    let p = Padded::of(g);
    let most = p.rows * p.wp;
    let mut xp_buf = Vec::new();
    let mut cols = room_if(op, !g.pointwise(), k * most)?;
    let mut wide = zeros_if(op, !p.narrow(g), og * most)?;
    let mut first = true;
    for sample in samples {
        let x = &x[(sample * g.in_channels + group * cg) * g.in_plane()..][..cg * g.in_plane()];
        let gy = &gy[(sample * g.out_channels + group * og) * plane..][..og * plane];
        let xp = padded_input(op, g, &p, x, &mut xp_buf)?;
        for rows in p.tiles(g) {
            let len = rows.len() * p.wp;
            let a = widened(g, &p, gy, &rows, &mut wide);
            let b = columns(g, &p, xp, (rows.start * p.wp, len), &mut cols);
            // colsᵀ: `len × k`, the column matrix read transposed.
            let b_t = MatrixRef {
                ptr: b.ptr,
                row_stride: b.col_stride,
                col_stride: b.row_stride,
            };
            // SAFETY: `og × len · len × k` into the caller's block; the operands lie inside
            // the scratches (or `gy` and `x`).
            unsafe { product_here(out, k, (og, len, k), a, b_t, !first) };
            first = false;
        }
    }
    give_back_all([xp_buf, cols, wide]);
    Ok(())
}
