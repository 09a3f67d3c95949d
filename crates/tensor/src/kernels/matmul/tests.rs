//! The cut's rules: parts change no bit of a product, and are never too short.

use super::split::{Cut, cut_by_rows, part_count, parts};
use super::{Operand, Product, split};
use crate::element::Element;
use crate::threads::Effort;

/// Deterministic values in [-1, 1) with varied low bits.
fn values<T: Element>(len: usize, seed: u64) -> Vec<T> {
    let values = crate::testing::weights(&[len], seed).to_vec();
    values.into_iter().map(T::of_f64).collect()
}

/// The product through `gemm_cut`, cut as `gemm` cuts it for `threads` threads whatever
/// its size, and the number of parts; `a` and `b` row-major or column-major.
fn product<T: Element>(
    (m, k, n): (usize, usize, usize),
    (a_cols, b_cols): (bool, bool),
    bias: bool,
    threads: usize,
) -> (Vec<T>, usize) {
    let (a, b, bias_values) = (values::<T>(m * k, 1), values::<T>(k * n, 2), values(n, 3));
    let a_op = match a_cols {
        false => Operand::row_major(a.as_ptr(), k),
        true => Operand::column_major(a.as_ptr(), m),
    };
    let b_op = match b_cols {
        false => Operand::row_major(b.as_ptr(), n),
        true => Operand::column_major(b.as_ptr(), k),
    };
    let by_rows = cut_by_rows((m, k, n), a_op, b_op, bias);
    let parts = part_count((m, k, n), by_rows, threads);
    let mut out = Vec::with_capacity(m * n);
    // SAFETY: `out` has room for the m × n product, which gemm_cut writes in full; the
    // operands address exactly their m × k and k × n elements.
    unsafe {
        let product = Product {
            dst: out.as_mut_ptr(),
            dst_row_stride: n,
            dims: (m, k, n),
            a: a_op,
            b: b_op,
            bias: bias.then_some(&bias_values[..]),
        };
        split::gemm_cut(product, (parts, by_rows), Effort::Large);
        out.set_len(m * n);
    }
    (out, parts)
}

fn cuts_change_no_bit<T: Element>() {
    let shapes = [
        (64, 64, 64),
        (65, 63, 67),
        (128, 256, 10),
        (256, 128, 10),
        (128, 10, 256),
        (100, 700, 90),
        (200, 64, 3),
        (3, 64, 200),
        (64, 40, 1),
        // Depths over 512 with a side of at most 64: gemm's depth blocking must not
        // change between the whole and its parts.
        (64, 700, 300),
        (300, 600, 40),
        (200, 1030, 64),
        (33, 513, 500),
    ];
    for (m, k, n) in shapes {
        for layouts in [(false, false), (true, false), (false, true), (true, true)] {
            for bias in [false, true] {
                let (whole, _) = product::<T>((m, k, n), layouts, bias, 1);
                let mut tried = Vec::new();
                for threads in [2, 3, 5, 8] {
                    let (cut, parts) = product::<T>((m, k, n), layouts, bias, threads);
                    if parts == 1 || tried.contains(&parts) {
                        continue;
                    }
                    tried.push(parts);
                    let same = whole
                        .iter()
                        .zip(&cut)
                        .all(|(x, y)| x.as_f64().to_bits() == y.as_f64().to_bits());
                    assert!(
                        same,
                        "{m}x{k}x{n} in {parts} parts, column-major {layouts:?}, bias {bias}"
                    );
                }
            }
        }
    }
}

#[test]
fn cutting_a_product_into_parts_changes_no_bit_f32() {
    cuts_change_no_bit::<f32>();
}

#[test]
fn cutting_a_product_into_parts_changes_no_bit_f64() {
    cuts_change_no_bit::<f64>();
}

#[test]
fn parts_are_long_enough() {
    let shapes = [
        (64, 64, 64),
        (65, 63, 67),
        (3, 64, 200),
        (1000, 8, 33),
        (33, 500, 2000),
        (64, 1024, 4096),
    ];
    for (m, k, n) in shapes {
        for (threads, by_rows) in (1..=16).flat_map(|t| [(t, false), (t, true)]) {
            let (parts, _) = parts((m, k, n), by_rows, threads);
            let unused = Operand::<f32>::row_major(std::ptr::null(), 1);
            let cut = Cut {
                product: Product {
                    dst: std::ptr::null_mut(),
                    dst_row_stride: n,
                    dims: (m, k, n),
                    a: unused,
                    b: unused,
                    bias: None,
                },
                by_rows,
                parts,
            };
            let (side, other) = if by_rows { (m, n) } else { (n, m) };
            assert_eq!((cut.start(0), cut.start(parts)), (0, side));
            for i in 0..parts {
                let len = cut.start(i + 1) - cut.start(i);
                assert!(len >= 16.min(side), "{m}x{k}x{n}, {parts} parts: {len}");
                if parts > 1 && k > 512 && other <= 64 {
                    assert!(len > 64, "{m}x{k}x{n}, {parts} parts: {len}");
                }
            }
        }
    }
}
