//! A blocked copy of a row-major matrix into column-major order, in tiles that keep the lines
//! of both sides in L1.

use std::ops::Range;

/// Side of the square tiles the copy goes through, read by rows and written by columns, so
/// that the lines of both stay in L1 (the benchmarks' transposed products measure it).
const TILE: usize = 32;

/// Writes the `rows × cols` row-major matrix `src` (rows `rs` apart, columns 1 apart) in
/// column-major order to `dst`, its columns `ld` apart: `dst[c·ld + r] = src[r·rs + c]`.
///
/// # Safety
/// Those elements of `src` must be readable and those slots of `dst` writable, and the two
/// must not overlap.
pub(super) unsafe fn transpose<T: Copy>(
    src: *const T,
    rs: isize,
    (rows, cols): (usize, usize),
    dst: *mut T,
    ld: usize,
) {
    let copy = Transposition { src, rs, dst, ld };
    for r0 in (0..rows).step_by(TILE) {
        let tile_rows = r0..(r0 + TILE).min(rows);
        for c0 in (0..cols).step_by(TILE) {
            let tile_cols = c0..(c0 + TILE).min(cols);
            // SAFETY: the tile is inside both matrices (the caller's contract).
            unsafe { copy.tile(tile_rows.clone(), tile_cols) };
        }
    }
}

/// The two sides of a [`transpose`]: the row-major source (rows `rs` apart) and the
/// column-major destination (columns `ld` apart).
struct Transposition<T> {
    src: *const T,
    rs: isize,
    dst: *mut T,
    ld: usize,
}

impl<T: Copy> Transposition<T> {
    /// Copies rows `rows` and columns `cols` of the source, element by element.
    ///
    /// # Safety
    /// Those elements of the source must be readable and those slots of the destination
    /// writable.
    unsafe fn elements(&self, rows: Range<usize>, cols: Range<usize>) {
        for i in rows {
            for p in cols.clone() {
                // SAFETY: the caller's contract.
                unsafe {
                    self.dst
                        .add(p * self.ld + i)
                        .write(*self.src.offset(i as isize * self.rs + p as isize))
                };
            }
        }
    }

    /// One tile: on x86-64, 4-byte elements go through 4 × 4 blocks transposed in SSE
    /// registers ([`Transposition::tile_sse`]); other elements, other targets and the tile's ragged
    /// edges are copied element by element.
    ///
    /// # Safety
    /// As [`Transposition::elements`].
    unsafe fn tile(&self, rows: Range<usize>, cols: Range<usize>) {
        #[cfg(target_arch = "x86_64")]
        if size_of::<T>() == 4 {
            let bits = Transposition {
                src: self.src.cast::<f32>(),
                rs: self.rs,
                dst: self.dst.cast::<f32>(),
                ld: self.ld,
            };
            // SAFETY: the caller's contract; a 4-byte `T` is moved as the bits of an f32.
            return unsafe { bits.tile_sse(rows, cols) };
        }
        // SAFETY: the caller's contract.
        unsafe { self.elements(rows, cols) }
    }
}

#[cfg(target_arch = "x86_64")]
impl Transposition<f32> {
    /// [`Transposition::tile`] for 4-byte elements, in 4 × 4 blocks transposed in SSE registers (part
    /// of every x86-64 processor). The registers only move bits, so any 4-byte element is
    /// copied exactly.
    ///
    /// The blocks are visited so that the side with the longer stride (the source's rows or
    /// the destination's columns) is finished one line at a time. Lines a power-of-two stride
    /// apart share an L1 set, and visiting them across the tile evicts each before it is
    /// complete.
    ///
    /// # Safety
    /// As [`Transposition::elements`].
    unsafe fn tile_sse(&self, rows: Range<usize>, cols: Range<usize>) {
        use std::arch::x86_64::{_MM_TRANSPOSE4_PS, _mm_loadu_ps, _mm_storeu_ps};
        let Transposition { src, rs, dst, ld } = *self;
        let block_rows = rows.start..rows.start + rows.len() / 4 * 4;
        let block_cols = cols.start..cols.start + cols.len() / 4 * 4;
        let block = |i: usize, p: usize| {
            // SAFETY: rows i..i + 4 and columns p..p + 4 are inside the tile, so the four
            // unaligned loads read elements of `src` and the four stores write slots of `dst`
            // (the caller's contract); the intrinsics are SSE, which every x86-64 CPU has.
            unsafe {
                let s = src.offset(i as isize * rs + p as isize);
                let mut r0 = _mm_loadu_ps(s);
                let mut r1 = _mm_loadu_ps(s.offset(rs));
                let mut r2 = _mm_loadu_ps(s.offset(2 * rs));
                let mut r3 = _mm_loadu_ps(s.offset(3 * rs));
                _MM_TRANSPOSE4_PS(&mut r0, &mut r1, &mut r2, &mut r3);
                let d = dst.add(p * ld + i);
                _mm_storeu_ps(d, r0);
                _mm_storeu_ps(d.add(ld), r1);
                _mm_storeu_ps(d.add(2 * ld), r2);
                _mm_storeu_ps(d.add(3 * ld), r3);
            }
        };
        if ld as isize > rs {
            for p in block_cols.clone().step_by(4) {
                for i in block_rows.clone().step_by(4) {
                    block(i, p);
                }
            }
        } else {
            for i in block_rows.clone().step_by(4) {
                for p in block_cols.clone().step_by(4) {
                    block(i, p);
                }
            }
        }
        // The ragged right edge of the block rows, then the ragged bottom rows.
        // SAFETY (of both): parts of the tile, the caller's contract.
        unsafe { self.elements(block_rows.clone(), block_cols.end..cols.end) };
        unsafe { self.elements(block_rows.end..rows.end, cols) };
    }
}

// Not derived: a derive would ask `T: Copy` of the element, which pointers do not need.
impl<T> Clone for Transposition<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Transposition<T> {}
