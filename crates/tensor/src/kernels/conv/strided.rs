//! Convolutions with a stride above 1, on im2col: each tile of output positions unfolds the
//! input values its windows read into a column buffer (`[K, positions]`), which gemm
//! multiplies by the weight; the input gradient folds `Wᵀ · gy` back the same way (col2im).
#![allow(unsafe_code)]

use std::ops::Range;

use super::{Geometry, Shared, Span, column_major, give_back, row_major, run_jobs, scratch};
use crate::element::Element;
use crate::error::Result;
use crate::kernels::matmul::product_here;

/// The convolution into `dst` (the output, uninitialised): jobs of (sample, group, tile),
/// each unfolding its tile and multiplying it by its group's weight, after filling its
/// block with the bias when there is one.
pub(super) fn forward<T: Element>(
    op: &'static str,
    g: &Geometry,
    (x, w, bias): (&[T], &[T], Option<&[T]>),
    dst: Shared<T>,
) -> Result<()> {
    let (og, cg, k, plane) = (g.out_group(), g.in_group(), g.depth(), g.out_plane());
    let tiles = g.tiles();
    run_jobs(g.batch * g.groups * tiles, g.work(), &|job| {
        let (sample, group, tile) = (
            job / (g.groups * tiles),
            job / tiles % g.groups,
            job % tiles,
        );
        let (start, count) = g.tile_range(tile);
        let x = &x[(sample * g.in_channels + group * cg) * g.in_plane()..][..cg * g.in_plane()];
        let first_channel = sample * g.out_channels + group * og;
        // SAFETY: the job's block (its group's channels of its sample, its tile's positions)
        // lies inside the output and no other job writes it.
        let out = unsafe { dst.at(first_channel * plane + start) };
        if let Some(bias) = bias {
            for o in 0..og {
                // SAFETY: row `o` of the block, `count` elements inside the output.
                unsafe {
                    std::slice::from_raw_parts_mut(out.add(o * plane), count)
                        .fill(bias[group * og + o]);
                }
            }
        }
        let weight = row_major(w[group * og * k..].as_ptr(), k);
        let accumulate = bias.is_some();
        let mut cols = scratch::<T>(op, k * count)?;
        unfold(g, x, start, count, &mut cols);
        // SAFETY: as above, `cols` being the `k × count` column tile.
        unsafe {
            product_here(
                out,
                plane,
                (og, k, count),
                weight,
                row_major(cols.as_ptr(), count),
                accumulate,
            );
        }
        give_back(cols);
        Ok(())
    })
}

/// The input gradient added onto `dst` (the input's shape, holding the bias or zeros):
/// jobs of (sample, group), each computing `Wᵀ · gy` tile by tile and folding it back onto
/// its block.
pub(super) fn input_grad<T: Element>(
    op: &'static str,
    g: &Geometry,
    (gy, w): (&[T], &[T]),
    dst: Shared<T>,
) -> Result<()> {
    let (og, cg, k, plane) = (g.out_group(), g.in_group(), g.depth(), g.out_plane());
    run_jobs(g.batch * g.groups, g.work(), &|job| {
        let (sample, group) = (job / g.groups, job % g.groups);
        let block = (sample * g.in_channels + group * cg) * g.in_plane();
        // SAFETY: the job's block (its group's input channels of its sample) lies inside the
        // output and no other job touches it.
        let x = unsafe { std::slice::from_raw_parts_mut(dst.at(block), cg * g.in_plane()) };
        let gy = &gy[(sample * g.out_channels + group * og) * plane..][..og * plane];
        // Wᵀ: the group's `og × k` block of the weight, read transposed.
        let weight_t = column_major(w[group * og * k..].as_ptr(), k);
        let mut cols = scratch::<T>(op, k * g.tile())?;
        for tile in 0..g.tiles() {
            let (start, count) = g.tile_range(tile);
            // SAFETY: `k × og · og × count` into the column tile; the operands are inside `w`
            // and `gy`.
            unsafe {
                product_here(
                    cols.as_mut_ptr(),
                    count,
                    (k, og, count),
                    weight_t,
                    row_major(gy[start..].as_ptr(), plane),
                    false,
                );
            }
            fold(g, &cols[..k * count], start, count, x);
        }
        give_back(cols);
        Ok(())
    })
}

/// The weight gradient of group `group` over `samples` into `out` (`og × k`, overwritten):
/// the products of each tile's `gy` with its unfolded input, summed in order.
pub(super) fn weight_chunk<T: Element>(
    op: &'static str,
    g: &Geometry,
    (x, gy): (&[T], &[T]),
    (group, samples): (usize, Range<usize>),
    out: *mut T,
) -> Result<()> {
    let (og, cg, k, plane) = (g.out_group(), g.in_group(), g.depth(), g.out_plane());
    let mut cols = scratch::<T>(op, k * g.tile())?;
    let mut first = true;
    for sample in samples {
        let x = &x[(sample * g.in_channels + group * cg) * g.in_plane()..][..cg * g.in_plane()];
        let gy = &gy[(sample * g.out_channels + group * og) * plane..][..og * plane];
        for tile in 0..g.tiles() {
            let (start, count) = g.tile_range(tile);
            unfold(g, x, start, count, &mut cols[..k * count]);
            // SAFETY: `og × count · count × k` into the caller's block; the operands are
            // inside `gy` and the column tile (read transposed).
            unsafe {
                product_here(
                    out,
                    k,
                    (og, count, k),
                    row_major(gy[start..].as_ptr(), plane),
                    column_major(cols.as_ptr(), count),
                    !first,
                );
            }
            first = false;
        }
    }
    give_back(cols);
    Ok(())
}

/// The spans of every kernel row (`[0]`) and column (`[1]`) of `g`.
fn spans(g: &Geometry) -> [Vec<Span>; 2] {
    let along = |d: usize| {
        (0..g.kernel[d])
            .map(|tap| {
                Span::new(
                    tap,
                    (g.stride[d], g.padding[d], g.dilation[d]),
                    g.input[d],
                    g.output[d],
                )
            })
            .collect()
    };
    [along(0), along(1)]
}

/// Calls `visit(row, at, (q0, q1), line, span)` for the runs of the tile `start..start +
/// len` of the column matrix of one sample and group: for each channel `c`, kernel row `i`
/// and output row the tile crosses, and each kernel column `j`, the output columns `q0..q1`
/// of that output row, found at offset `at` of the tile's row `row = (c, i, j)`, with the
/// offset of the input row the tap reads (`None` in the padding) and the tap's column span.
/// Kernel columns are the inner loop: their runs read one input row.
#[inline(always)]
fn walk(
    g: &Geometry,
    start: usize,
    len: usize,
    mut visit: impl FnMut(usize, usize, (usize, usize), Option<usize>, &Span),
) {
    let [kh, kw] = g.kernel;
    let ow = g.output[1];
    let [rows, columns] = spans(g);
    let end = start + len;
    let (first, last) = (start / ow, (end - 1) / ow);
    for c in 0..g.in_group() {
        for (i, row_span) in rows.iter().enumerate() {
            let row = (c * kh + i) * kw;
            for r in first..=last {
                let q0 = if r == first { start - r * ow } else { 0 };
                let q1 = if r == last { end - r * ow } else { ow };
                let at = r * ow + q0 - start;
                let line = (row_span.lo..row_span.hi)
                    .contains(&r)
                    .then(|| c * g.in_plane() + row_span.at(r, g.stride[0]) * g.input[1]);
                for (j, column_span) in columns.iter().enumerate() {
                    visit(row + j, at, (q0, q1), line, column_span);
                }
            }
        }
    }
}

/// The tile `start..start + len` of the column matrix of `x` (one sample and group,
/// `[C/g, h, w]`) into `cols` (`[K, len]`, row-major).
fn unfold<T: Element>(g: &Geometry, x: &[T], start: usize, len: usize, cols: &mut [T]) {
    let sw = g.stride[1];
    walk(g, start, len, |row, at, (q0, q1), line, span| {
        let out = &mut cols[row * len + at..][..q1 - q0];
        let Some(line) = line else {
            out.fill(T::zero());
            return;
        };
        let (lo, hi) = (span.lo.clamp(q0, q1), span.hi.clamp(q0, q1));
        if lo > q0 {
            out[..lo - q0].fill(T::zero());
        }
        if hi < q1 {
            out[hi - q0..].fill(T::zero());
        }
        if lo < hi {
            let inside = &mut out[lo - q0..hi - q0];
            let from = line + span.at(lo, sw);
            if sw == 1 {
                inside.copy_from_slice(&x[from..from + (hi - lo)]);
            } else {
                for (slot, &v) in inside.iter_mut().zip(x[from..].iter().step_by(sw)) {
                    *slot = v;
                }
            }
        }
    });
}

/// The adjoint of [`unfold`]: adds the tile `cols` (`[K, len]`) onto `x` (one sample and
/// group, `[C/g, h, w]`), each value to the input it was read from.
fn fold<T: Element>(g: &Geometry, cols: &[T], start: usize, len: usize, x: &mut [T]) {
    let sw = g.stride[1];
    walk(g, start, len, |row, at, (q0, q1), line, span| {
        let Some(line) = line else { return };
        let (lo, hi) = (span.lo.clamp(q0, q1), span.hi.clamp(q0, q1));
        if lo < hi {
            let src = &cols[row * len + at + (lo - q0)..][..hi - lo];
            let from = line + span.at(lo, sw);
            if sw == 1 {
                for (slot, &v) in x[from..from + (hi - lo)].iter_mut().zip(src) {
                    *slot += v;
                }
            } else {
                for (slot, &v) in x[from..].iter_mut().step_by(sw).zip(src) {
                    *slot += v;
                }
            }
        }
    });
}
