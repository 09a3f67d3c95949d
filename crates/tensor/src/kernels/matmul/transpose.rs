//! A blocked copy of a row-major matrix into column-major order, in tiles that keep the lines
//! of both sides in L1.

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
    for r0 in (0..rows).step_by(TILE) {
        let tile_rows = r0..(r0 + TILE).min(rows);
        for c0 in (0..cols).step_by(TILE) {
            let tile_cols = c0..(c0 + TILE).min(cols);
            // SAFETY: the tile is inside both matrices (the caller's contract).
            unsafe { copy_tile(src, rs, ld, tile_rows.clone(), tile_cols, dst) };
        }
    }
}

/// Copies rows `rows` and columns `cols` of the row-major `src` (rows `rs` apart) to the
/// column-major `dst` (columns `ld` apart), element by element.
///
/// # Safety
/// Those elements of `src` must be readable and those slots of `dst` writable.
unsafe fn copy_elements<T: Copy>(
    src: *const T,
    rs: isize,
    ld: usize,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    dst: *mut T,
) {
    for i in rows {
        for p in cols.clone() {
            // SAFETY: the caller's contract.
            unsafe {
                dst.add(p * ld + i)
                    .write(*src.offset(i as isize * rs + p as isize))
            };
        }
    }
}

/// One tile of [`transpose`]: on x86-64, 4-byte elements go through 4 × 4 blocks transposed
/// in SSE registers ([`copy_tile_sse`]); other elements, other targets and the tile's ragged
/// edges are copied element by element.
///
/// # Safety
/// As [`copy_elements`].
unsafe fn copy_tile<T: Copy>(
    src: *const T,
    rs: isize,
    ld: usize,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    dst: *mut T,
) {
    #[cfg(target_arch = "x86_64")]
    if size_of::<T>() == 4 {
        // SAFETY: the caller's contract; a 4-byte `T` is moved as the bits of an f32.
        return unsafe { copy_tile_sse(src.cast(), rs, ld, rows, cols, dst.cast()) };
    }
    // SAFETY: the caller's contract.
    unsafe { copy_elements(src, rs, ld, rows, cols, dst) }
}

/// [`copy_tile`] for 4-byte elements, in 4 × 4 blocks transposed in SSE registers (part of
/// every x86-64 processor). The registers only move bits, so any 4-byte element is copied
/// exactly.
///
/// The blocks are visited so that the side with the longer stride (the source's rows or the
/// destination's columns) is finished one line at a time. Lines a power-of-two stride apart
/// share an L1 set, and visiting them across the tile evicts each before it is complete.
///
/// # Safety
/// As [`copy_elements`].
#[cfg(target_arch = "x86_64")]
unsafe fn copy_tile_sse(
    src: *const f32,
    rs: isize,
    ld: usize,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    dst: *mut f32,
) {
    use std::arch::x86_64::{_MM_TRANSPOSE4_PS, _mm_loadu_ps, _mm_storeu_ps};
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
    unsafe {
        copy_elements(
            src,
            rs,
            ld,
            block_rows.clone(),
            block_cols.end..cols.end,
            dst,
        )
    };
    unsafe { copy_elements(src, rs, ld, block_rows.end..rows.end, cols, dst) };
}
