//! Two-dimensional convolution (NCHW) on the matrix kernels: the three products of a
//! convolution layer, each over tiles of output positions so that the unfolded input (the
//! "column" buffer, im2col) stays in cache.
//!
//! For a sample and a group, with `K = C/groups · kh · kw` the depth of one output value:
//!
//! - [`forward`]: `y = W · cols(x)` (`[O/g, K] · [K, positions]`), the bias filling `y` first;
//! - [`input_grad`]: `cols = Wᵀ · gy`, folded back onto the input's grid (col2im); it is also
//!   the transposed convolution's forward pass;
//! - [`weight_grad`]: `dW = Σ gy · cols(x)ᵀ` over samples and tiles.
//!
//! A 1×1 convolution with stride 1 and no padding reads the input itself as its columns.
//!
//! How the work is cut depends on the shapes alone, and every output element is summed in
//! one order whatever thread computes it, so the bits never depend on the thread count:
//! the forward pass hands out (sample, group, tile) jobs, the input gradient (sample, group)
//! jobs (tiles of one sample fold onto overlapping inputs, so they run in order), and the
//! weight gradient sums fixed chunks of samples into partial products that are added in
//! chunk order.
#![allow(unsafe_code)]

use std::sync::Mutex;

use super::matmul::{MatrixRef, product_here};
use super::{Buf, buffer, zeroed};
use crate::element::Element;
use crate::error::Result;
use crate::threads::{self, Effort};

/// The shape of one convolution `x: [batch, in_channels, h, w]` ⊛
/// `weight: [out_channels, in_channels / groups, kh, kw]` → `[batch, out_channels, oh, ow]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) batch: usize,
    pub(crate) in_channels: usize,
    pub(crate) out_channels: usize,
    pub(crate) groups: usize,
    /// `[h, w]` of the input.
    pub(crate) input: [usize; 2],
    /// `[oh, ow]` of the output.
    pub(crate) output: [usize; 2],
    pub(crate) kernel: [usize; 2],
    pub(crate) stride: [usize; 2],
    pub(crate) padding: [usize; 2],
    pub(crate) dilation: [usize; 2],
}

/// Column buffers hold about this many elements: a tile of positions, times the depth, fits
/// in a core's L2 cache with the weights beside it.
const TILE_ELEMENTS: usize = 1 << 15;

/// The fewest positions in a tile (unless the output has fewer): narrower products waste the
/// kernels' register tiles.
const MIN_TILE: usize = 64;

/// From this many multiply-adds a convolution is shared with threads that are awake.
const SHARED_MIN: usize = 1 << 16;

/// From this many, sleeping threads are woken for it.
const WAKE_MIN: usize = 1 << 20;

/// At most this many partial weight gradients, each summing consecutive samples.
const MAX_CHUNKS: usize = 16;

impl Geometry {
    fn in_group(&self) -> usize {
        self.in_channels / self.groups
    }

    fn out_group(&self) -> usize {
        self.out_channels / self.groups
    }

    /// `K`, the products' depth: the input values one output value reads.
    fn depth(&self) -> usize {
        self.in_group() * self.kernel[0] * self.kernel[1]
    }

    fn in_plane(&self) -> usize {
        self.input[0] * self.input[1]
    }

    fn out_plane(&self) -> usize {
        self.output[0] * self.output[1]
    }

    /// The elements of the input, the weight and the output.
    pub(crate) fn input_len(&self) -> usize {
        self.batch * self.in_channels * self.in_plane()
    }

    pub(crate) fn weight_len(&self) -> usize {
        self.out_channels * self.depth()
    }

    pub(crate) fn output_len(&self) -> usize {
        self.batch * self.out_channels * self.out_plane()
    }

    /// The shapes of the input, the weight and the output.
    pub(crate) fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.in_channels, self.input[0], self.input[1]]
    }

    pub(crate) fn weight_shape(&self) -> [usize; 4] {
        [
            self.out_channels,
            self.in_group(),
            self.kernel[0],
            self.kernel[1],
        ]
    }

    pub(crate) fn output_shape(&self) -> [usize; 4] {
        [
            self.batch,
            self.out_channels,
            self.output[0],
            self.output[1],
        ]
    }

    /// Whether the input is its own column matrix: a 1×1 kernel, stride 1, no padding.
    fn pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.padding == [0, 0]
    }

    /// Positions per tile.
    fn tile(&self) -> usize {
        (TILE_ELEMENTS / self.depth().max(1))
            .max(MIN_TILE)
            .min(self.out_plane())
            .max(1)
    }

    fn tiles(&self) -> usize {
        self.out_plane().div_ceil(self.tile())
    }

    /// Multiply-adds of one of the three products.
    fn work(&self) -> usize {
        self.output_len().saturating_mul(self.depth())
    }

    /// Tile `tile`'s first position and length.
    fn tile_range(&self, tile: usize) -> (usize, usize) {
        let start = tile * self.tile();
        (start, self.tile().min(self.out_plane() - start))
    }
}

/// A pointer that jobs on several threads write through, each to its own part.
#[derive(Clone, Copy)]
struct Shared<T>(*mut T);

// SAFETY: every job writes a part of the buffer no other job touches (see each use).
unsafe impl<T: Send> Sync for Shared<T> {}
unsafe impl<T: Send> Send for Shared<T> {}

impl<T> Shared<T> {
    /// # Safety
    /// The offset must be inside the buffer.
    unsafe fn at(self, offset: usize) -> *mut T {
        // SAFETY: the caller's contract.
        unsafe { self.0.add(offset) }
    }
}

/// Runs `job(i)` for `i` in `0..jobs`, over threads when the work is worth it; the first
/// error a job reports is returned.
fn run_jobs(jobs: usize, work: usize, job: &(dyn Fn(usize) -> Result<()> + Sync)) -> Result<()> {
    let failed = Mutex::new(None);
    let body = |i: usize| {
        if let Err(e) = job(i) {
            failed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get_or_insert(e);
        }
    };
    if jobs <= 1 || work < SHARED_MIN {
        (0..jobs).for_each(body);
    } else {
        let effort = if work >= WAKE_MIN {
            Effort::Large
        } else {
            Effort::Medium
        };
        threads::for_each_piece(jobs, effort, &body);
    }
    match failed
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The positions `q` in `0..len` whose input column `first + q · stride` lies in `0..width`.
fn inside(first: isize, stride: usize, len: usize, width: usize) -> (usize, usize) {
    let stride = stride as isize;
    let lo = if first >= 0 {
        0
    } else {
        (-first + stride - 1) / stride
    };
    let hi = if first >= width as isize {
        0
    } else {
        (width as isize - first + stride - 1) / stride
    };
    let hi = (hi as usize).min(len);
    ((lo as usize).min(hi), hi)
}

/// Walks the rows of the column matrix of one sample and group over the positions
/// `start..start + len`: calls `visit(row, at, line, first, q_range)` for each run of
/// positions in one output row, where `row` is the column row `(c, i, j)`, `at` the run's
/// offset in that row of the tile, `line` the input row it reads (or `None` in the padding)
/// and `first` the input column of the run's first position.
fn walk(
    g: &Geometry,
    start: usize,
    len: usize,
    mut visit: impl FnMut(usize, usize, usize, Option<usize>, isize),
) {
    let [kh, kw] = g.kernel;
    let [h, _] = g.input;
    let [_, ow] = g.output;
    let ([sh, sw], [ph, pw], [dh, dw]) = (g.stride, g.padding, g.dilation);
    for c in 0..g.in_group() {
        for i in 0..kh {
            for j in 0..kw {
                let row = (c * kh + i) * kw + j;
                let mut done = 0;
                while done < len {
                    let p = start + done;
                    let (oh, first_ow) = (p / ow, p % ow);
                    let run = (ow - first_ow).min(len - done);
                    let ih = (oh * sh + i * dh) as isize - ph as isize;
                    let line = (0..h as isize)
                        .contains(&ih)
                        .then(|| c * g.in_plane() + ih as usize * g.input[1]);
                    let first = (first_ow * sw + j * dw) as isize - pw as isize;
                    visit(row, done, run, line, first);
                    done += run;
                }
            }
        }
    }
}

/// The tile `start..start + len` of the column matrix of `x` (one sample and group,
/// `[C/g, h, w]`) into `cols` (`[K, len]`, row-major).
fn unfold<T: Element>(g: &Geometry, x: &[T], start: usize, len: usize, cols: &mut [T]) {
    let (width, sw) = (g.input[1], g.stride[1]);
    walk(g, start, len, |row, at, run, line, first| {
        let out = &mut cols[row * len + at..][..run];
        let Some(line) = line else {
            out.fill(T::zero());
            return;
        };
        let (lo, hi) = inside(first, sw, run, width);
        out[..lo].fill(T::zero());
        out[hi..].fill(T::zero());
        if lo < hi {
            let from = line + (first + (lo * sw) as isize) as usize;
            if sw == 1 {
                out[lo..hi].copy_from_slice(&x[from..from + hi - lo]);
            } else {
                for (slot, q) in out[lo..hi].iter_mut().zip(0..) {
                    *slot = x[from + q * sw];
                }
            }
        }
    });
}

/// The adjoint of [`unfold`]: adds the tile `cols` (`[K, len]`) onto `x` (one sample and
/// group, `[C/g, h, w]`), each value to the input it was read from.
fn fold<T: Element>(g: &Geometry, cols: &[T], start: usize, len: usize, x: &mut [T]) {
    let (width, sw) = (g.input[1], g.stride[1]);
    walk(g, start, len, |row, at, run, line, first| {
        let Some(line) = line else { return };
        let src = &cols[row * len + at..][..run];
        let (lo, hi) = inside(first, sw, run, width);
        if lo < hi {
            let from = line + (first + (lo * sw) as isize) as usize;
            for (q, &v) in src[lo..hi].iter().enumerate() {
                x[from + q * sw] += v;
            }
        }
    });
}

/// A column buffer of `len` elements from this thread's buffer cache.
fn scratch<T: Element>(op: &'static str, len: usize) -> Result<Vec<T>> {
    let mut cols = buffer::<T>(op, len)?.into_vec();
    cols.resize(len, T::zero());
    Ok(cols)
}

fn give_back<T: Element>(cols: Vec<T>) {
    super::pool::give(cols);
}

fn row_major<T>(ptr: *const T, cols: usize) -> MatrixRef<T> {
    MatrixRef {
        ptr,
        row_stride: cols,
        col_stride: 1,
    }
}

fn column_major<T>(ptr: *const T, rows: usize) -> MatrixRef<T> {
    MatrixRef {
        ptr,
        row_stride: 1,
        col_stride: rows,
    }
}

/// The convolution of `x` (`g.input_shape()`, row-major) with `w` (`g.weight_shape()`), plus
/// `bias` (one value per output channel) when given.
pub(crate) fn forward<T: Element>(
    op: &'static str,
    g: &Geometry,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
) -> Result<Buf<T>> {
    assert_eq!((x.len(), w.len()), (g.input_len(), g.weight_len()));
    let len = g.output_len();
    if g.depth() == 0 || len == 0 {
        let mut out = zeroed::<T>(op, len)?;
        if let Some(bias) = bias {
            for (plane, value) in out
                .chunks_mut(g.out_plane().max(1))
                .zip(bias.iter().cycle())
            {
                plane.fill(*value);
            }
        }
        return Ok(out);
    }
    let mut out = buffer::<T>(op, len)?;
    let dst = Shared(out.as_mut_ptr());
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
        if g.pointwise() {
            // SAFETY: `og × cg · cg × count` into the block; the operands are inside `w` and
            // `x` (the positions of a pointwise convolution are the input's).
            unsafe {
                product_here(
                    out,
                    plane,
                    (og, k, count),
                    weight,
                    row_major(x[start..].as_ptr(), g.in_plane()),
                    accumulate,
                );
            }
            return Ok(());
        }
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
    })?;
    // SAFETY: the jobs wrote every block of the output (a failed job returned above).
    unsafe { out.set_len(len) };
    Ok(out)
}

/// The gradient of the convolution's input given the gradient `gy` of its output
/// (`g.output_shape()`), with `w` the convolution's weight: `Wᵀ · gy` folded back onto the
/// input's grid, plus `bias` (one value per input channel) when given. This is also the
/// transposed convolution of `gy` with `w`.
pub(crate) fn input_grad<T: Element>(
    op: &'static str,
    g: &Geometry,
    gy: &[T],
    w: &[T],
    bias: Option<&[T]>,
) -> Result<Buf<T>> {
    assert_eq!((gy.len(), w.len()), (g.output_len(), g.weight_len()));
    let mut out = zeroed::<T>(op, g.input_len())?;
    if let Some(bias) = bias {
        for (plane, value) in out.chunks_mut(g.in_plane().max(1)).zip(bias.iter().cycle()) {
            plane.fill(*value);
        }
    }
    if g.depth() == 0 || g.output_len() == 0 {
        return Ok(out);
    }
    let dst = Shared(out.as_mut_ptr());
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
        if g.pointwise() {
            // SAFETY: `cg × og · og × plane` into the block, which holds the bias or zeros.
            unsafe {
                product_here(
                    x.as_mut_ptr(),
                    g.in_plane(),
                    (k, og, plane),
                    weight_t,
                    row_major(gy.as_ptr(), plane),
                    true,
                );
            }
            return Ok(());
        }
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
    })?;
    Ok(out)
}

/// The gradient of the convolution's weight (`g.weight_shape()`) given its input `x` and the
/// gradient `gy` of its output: `Σ gy · cols(x)ᵀ` over samples and tiles.
pub(crate) fn weight_grad<T: Element>(
    op: &'static str,
    g: &Geometry,
    x: &[T],
    gy: &[T],
) -> Result<Buf<T>> {
    assert_eq!((x.len(), gy.len()), (g.input_len(), g.output_len()));
    let (og, cg, k, plane) = (g.out_group(), g.in_group(), g.depth(), g.out_plane());
    let len = g.weight_len();
    if len == 0 || g.output_len() == 0 {
        return zeroed(op, len);
    }
    let chunks = g.batch.min(MAX_CHUNKS);
    // Partial gradients: one `og × k` block per (group, chunk), each written by one job.
    let mut partial = zeroed::<T>(op, g.groups * chunks * og * k)?;
    let dst = Shared(partial.as_mut_ptr());
    run_jobs(g.groups * chunks, g.work(), &|job| {
        let (group, chunk) = (job / chunks, job % chunks);
        // SAFETY: the job's partial block, written by no other job.
        let out = unsafe { dst.at(job * og * k) };
        let samples = g.batch * chunk / chunks..g.batch * (chunk + 1) / chunks;
        let mut cols = if g.pointwise() {
            Vec::new()
        } else {
            scratch::<T>(op, k * g.tile())?
        };
        let mut first = true;
        for sample in samples {
            let x = &x[(sample * g.in_channels + group * cg) * g.in_plane()..][..cg * g.in_plane()];
            let gy = &gy[(sample * g.out_channels + group * og) * plane..][..og * plane];
            for tile in 0..g.tiles() {
                let (start, count) = g.tile_range(tile);
                // cols(x)ᵀ: `count × k`, read transposed from the column tile (or, pointwise,
                // from the input, whose channels are its rows).
                let cols_t = if g.pointwise() {
                    column_major(x[start..].as_ptr(), g.in_plane())
                } else {
                    unfold(g, x, start, count, &mut cols[..k * count]);
                    column_major(cols.as_ptr(), count)
                };
                // SAFETY: `og × count · count × k` into the job's partial block; the operands
                // are inside `gy` and the column tile (or `x`).
                unsafe {
                    product_here(
                        out,
                        k,
                        (og, count, k),
                        row_major(gy[start..].as_ptr(), plane),
                        cols_t,
                        !first,
                    );
                }
                first = false;
            }
        }
        if !cols.is_empty() {
            give_back(cols);
        }
        Ok(())
    })?;
    if chunks == 1 {
        return Ok(partial);
    }
    // The partials added in chunk order: group by group, `chunks` blocks of `og × k` each.
    let mut out = zeroed::<T>(op, len)?;
    for (group, dw) in out.chunks_mut(og * k).enumerate() {
        for chunk in 0..chunks {
            let block = &partial[(group * chunks + chunk) * og * k..][..og * k];
            dw.iter_mut().zip(block).for_each(|(d, &p)| *d += p);
        }
    }
    Ok(out)
}
