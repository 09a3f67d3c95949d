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

mod strided;
mod wide;

use std::sync::Mutex;

use super::matmul::MatrixRef;
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
pub(super) const TILE_ELEMENTS: usize = 1 << 15;

/// The fewest positions in a tile (unless the output has fewer): narrower products waste the
/// kernels' register tiles.
pub(super) const MIN_TILE: usize = 64;

/// From this many multiply-adds a convolution is shared with threads that are awake.
const SHARED_MIN: usize = 1 << 16;

/// From this many, sleeping threads are woken for it.
const WAKE_MIN: usize = 1 << 20;

/// At most this many partial weight gradients, each summing consecutive samples.
const MAX_CHUNKS: usize = 16;

impl Geometry {
    pub(super) fn in_group(&self) -> usize {
        self.in_channels / self.groups
    }

    pub(super) fn out_group(&self) -> usize {
        self.out_channels / self.groups
    }

    /// `K`, the products' depth: the input values one output value reads.
    pub(super) fn depth(&self) -> usize {
        self.in_group() * self.kernel[0] * self.kernel[1]
    }

    pub(super) fn in_plane(&self) -> usize {
        self.input[0] * self.input[1]
    }

    pub(super) fn out_plane(&self) -> usize {
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
    pub(super) fn pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.padding == [0, 0]
    }

    /// Positions per tile.
    pub(super) fn tile(&self) -> usize {
        (TILE_ELEMENTS / self.depth().max(1))
            .max(MIN_TILE)
            .min(self.out_plane())
            .max(1)
    }

    pub(super) fn tiles(&self) -> usize {
        self.out_plane().div_ceil(self.tile())
    }

    /// Multiply-adds of one of the three products.
    pub(super) fn work(&self) -> usize {
        self.output_len().saturating_mul(self.depth())
    }

    /// Tile `tile`'s first position and length.
    pub(super) fn tile_range(&self, tile: usize) -> (usize, usize) {
        let start = tile * self.tile();
        (start, self.tile().min(self.out_plane() - start))
    }
}

/// A pointer that jobs on several threads write through, each to its own part.
#[derive(Clone, Copy)]
pub(super) struct Shared<T>(*mut T);

// SAFETY: every job writes a part of the buffer no other job touches (see each use).
unsafe impl<T: Send> Sync for Shared<T> {}
unsafe impl<T: Send> Send for Shared<T> {}

impl<T> Shared<T> {
    /// # Safety
    /// The offset must be inside the buffer.
    pub(super) unsafe fn at(self, offset: usize) -> *mut T {
        // SAFETY: the caller's contract.
        unsafe { self.0.add(offset) }
    }
}

/// Runs `job(i)` for `i` in `0..jobs`, over threads when the work is worth it; the first
/// error a job reports is returned.
pub(super) fn run_jobs(
    jobs: usize,
    work: usize,
    job: &(dyn Fn(usize) -> Result<()> + Sync),
) -> Result<()> {
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

/// The output positions `lo..hi` along one dimension (of `out` positions) whose tap at
/// offset `tap · dilation − padding` from `position · stride` lies inside `0..size`, and the
/// input index of position 0's tap (which may be negative).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub(crate) lo: usize,
    pub(crate) hi: usize,
    pub(crate) first: isize,
}

impl Span {
    pub(crate) fn new(
        tap: usize,
        (stride, padding, dilation): (usize, usize, usize),
        size: usize,
        out: usize,
    ) -> Self {
        let first = (tap * dilation) as isize - padding as isize;
        let s = stride as isize;
        // first + q·s ≥ 0 and first + q·s < size.
        let lo = if first >= 0 {
            0
        } else {
            ((-first + s - 1) / s) as usize
        };
        let hi = if first >= size as isize {
            0
        } else {
            ((size as isize - first + s - 1) / s) as usize
        };
        let hi = hi.min(out);
        Span {
            lo: lo.min(hi),
            hi,
            first,
        }
    }

    /// The input index of position `q`'s tap (inside when `lo <= q < hi`).
    pub(crate) fn at(&self, q: usize, stride: usize) -> usize {
        (self.first + (q * stride) as isize) as usize
    }
}

/// A column buffer of `len` elements from this thread's buffer cache.
pub(super) fn scratch<T: Element>(op: &'static str, len: usize) -> Result<Vec<T>> {
    let mut cols = buffer::<T>(op, len)?.into_vec();
    cols.resize(len, T::zero());
    Ok(cols)
}

/// An empty buffer with room for `len` elements, from this thread's buffer cache.
pub(super) fn room<T: Element>(op: &'static str, len: usize) -> Result<Vec<T>> {
    // A buffer small enough to live inline comes out of `into_vec` without room.
    let mut room = buffer::<T>(op, len)?.into_vec();
    room.try_reserve_exact(len)
        .map_err(|_| crate::error::TensorError::OutOfMemory { op, elements: len })?;
    Ok(room)
}

pub(super) fn give_back<T: Element>(cols: Vec<T>) {
    super::pool::give(cols);
}

pub(super) fn row_major<T>(ptr: *const T, cols: usize) -> MatrixRef<T> {
    MatrixRef {
        ptr,
        row_stride: cols,
        col_stride: 1,
    }
}

pub(super) fn column_major<T>(ptr: *const T, rows: usize) -> MatrixRef<T> {
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
            fill_planes(&mut out, g.out_plane(), bias);
        }
        return Ok(out);
    }
    let mut out = buffer::<T>(op, len)?;
    let dst = Shared(out.as_mut_ptr());
    if g.stride == [1, 1] {
        wide::forward(op, g, (x, w, bias), dst)?;
    } else {
        strided::forward(op, g, (x, w, bias), dst)?;
    }
    // SAFETY: the jobs wrote every element of the output (a failed job returned above).
    unsafe { out.set_len(len) };
    Ok(out)
}

/// Fills each plane of `planes` elements with its channel's value of `bias` (planes cycle
/// through the channels, sample after sample).
fn fill_planes<T: Element>(out: &mut [T], planes: usize, bias: &[T]) {
    for (plane, value) in out.chunks_mut(planes.max(1)).zip(bias.iter().cycle()) {
        plane.fill(*value);
    }
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
        fill_planes(&mut out, g.in_plane(), bias);
    }
    if g.depth() == 0 || g.output_len() == 0 {
        return Ok(out);
    }
    let dst = Shared(out.as_mut_ptr());
    if g.stride == [1, 1] {
        wide::input_grad(op, g, (gy, w), dst)?;
    } else {
        strided::input_grad(op, g, (gy, w), dst)?;
    }
    Ok(out)
}

/// The gradient of the convolution's weight (`g.weight_shape()`) given its input `x` and the
/// gradient `gy` of its output: `Σ gy · cols(x)ᵀ` over samples and positions, summed in
/// fixed chunks of samples whose partial sums are added in chunk order.
pub(crate) fn weight_grad<T: Element>(
    op: &'static str,
    g: &Geometry,
    x: &[T],
    gy: &[T],
) -> Result<Buf<T>> {
    assert_eq!((x.len(), gy.len()), (g.input_len(), g.output_len()));
    let (og, k) = (g.out_group(), g.depth());
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
        let samples = g.batch * chunk / chunks..g.batch * (chunk + 1) / chunks;
        // SAFETY: the job's partial block, written by no other job.
        let out = unsafe { dst.at(job * og * k) };
        if g.stride == [1, 1] {
            wide::weight_chunk(op, g, (x, gy), (group, samples), out)
        } else {
            strided::weight_chunk(op, g, (x, gy), (group, samples), out)
        }
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
