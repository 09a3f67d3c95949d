//! matmul against a naive triple loop, on degenerate, large, batched and transposed shapes.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Element, Tensor};

/// The reference: `[b, m, k] x [b, k, n]` by definition, accumulated in f64.
fn naive(a: &[f64], b: &[f64], batch: usize, m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0.0; batch * m * n];
    for p in 0..batch {
        for i in 0..m {
            for j in 0..n {
                out[(p * m + i) * n + j] = (0..k)
                    .map(|q| a[(p * m + i) * k + q] * b[(p * k + q) * n + j])
                    .sum();
            }
        }
    }
    out
}

/// Asserts `got` equals `want` within `k` roundings of each term's magnitude.
fn assert_close<T: Element>(got: &[T], want: &[f64], k: usize, scale: f64) {
    assert_eq!(got.len(), want.len());
    let eps = if T::DTYPE == tensor::DType::F32 {
        f32::EPSILON as f64
    } else {
        f64::EPSILON
    };
    let tolerance = (k.max(1) as f64) * eps * scale * 4.0;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g.as_f64() - w).abs() <= tolerance,
            "element {i}: got {g}, want {w} (tolerance {tolerance})"
        );
    }
}

fn random<T: Element>(shape: &[usize], rng: &mut StdRng) -> Tensor<T> {
    Tensor::rand_uniform(shape, T::of_f64(-1.0), T::of_f64(1.0), rng)
}

fn as_f64<T: Element>(t: &Tensor<T>) -> Vec<f64> {
    t.to_vec().into_iter().map(Element::as_f64).collect()
}

fn check_2d<T: Element>(m: usize, k: usize, n: usize, rng: &mut StdRng) {
    let a = random::<T>(&[m, k], rng);
    let b = random::<T>(&[k, n], rng);
    let c = a.matmul(&b);
    assert_eq!(c.shape(), &[m, n]);
    assert_close(
        &c.to_vec(),
        &naive(&as_f64(&a), &as_f64(&b), 1, m, k, n),
        k,
        1.0,
    );
}

#[test]
fn matmul_matches_naive_on_degenerate_and_large_shapes() {
    let mut rng = StdRng::seed_from_u64(7);
    for &(m, k, n) in &[
        (0, 4, 3),
        (2, 0, 3),
        (3, 4, 0),
        (1, 1, 1),
        (5, 1, 7),
        (1, 9, 1),
        (1, 16, 8),
        (16, 4, 1),
        (67, 129, 33),
        (130, 70, 257),
    ] {
        check_2d::<f64>(m, k, n, &mut rng);
        check_2d::<f32>(m, k, n, &mut rng);
    }
}

#[test]
fn products_cut_into_parts_match_naive() {
    // Products of at least 2^20 multiply-adds (2^18 while the pool's threads are awake) are
    // computed as one part of their output per thread, by rows when m >= n or the depth is
    // under 32, by columns otherwise, cut at multiples of 16: odd sizes, both cuts, skinny
    // and shallow products, transposed operands and batches, on 1 to 4 threads.
    let mut rng = StdRng::seed_from_u64(13);
    for threads in 1..=4 {
        tensor::with_num_threads(threads, || {
            for &(m, k, n) in &[
                (171, 67, 97),
                (97, 131, 113),
                (256, 40, 255),
                (1030, 103, 10),
                (7, 300, 503),
                (700, 3, 700),
                (100, 5, 3001),
            ] {
                check_2d::<f64>(m, k, n, &mut rng);
                check_2d::<f32>(m, k, n, &mut rng);
            }
        });
    }
    let (m, k, n) = (150, 90, 110);
    let a = random::<f64>(&[k, m], &mut rng).t();
    let b = random::<f64>(&[n, k], &mut rng).t();
    let want = naive(&a.to_vec(), &b.to_vec(), 1, m, k, n);
    assert_close(&a.matmul(&b).to_vec(), &want, k, 1.0);
    let a = random::<f64>(&[3, m, k], &mut rng);
    let b = random::<f64>(&[3, k, n], &mut rng);
    let want = naive(&a.to_vec(), &b.to_vec(), 3, m, k, n);
    assert_close(&a.matmul(&b).to_vec(), &want, k, 1.0);
}

/// `a · bᵀ` for `a` row-major (or, with `a_transposed`, a transposed view of a `[k, m]`
/// buffer) and `bᵀ` a transposed view of `b_rows` (`[n, k]`, narrowed when `pad > 0`),
/// against the naive product.
fn check_times_transposed<T: Element>(
    (m, k, n): (usize, usize, usize),
    pad: usize,
    a_transposed: bool,
    rng: &mut StdRng,
) {
    let a = if a_transposed {
        random::<T>(&[k, m], rng).t()
    } else {
        random::<T>(&[m, k], rng)
    };
    let b_rows = random::<T>(&[n, k + pad], rng).narrow(1, pad / 2, k);
    let b = b_rows.t();
    let want = naive(&as_f64(&a), &as_f64(&b), 1, m, k, n);
    assert_close(&a.matmul(&b).to_vec(), &want, k, 1.0);
}

#[test]
fn products_with_a_column_major_right_operand_match_naive() {
    // `a · bᵀ` leaves the kernel a left operand with rows along the depth when the product is
    // computed transposed (into the row-major destination directly). With every side at
    // least 32 that operand is copied column-major first, or, when it moves fewer elements,
    // the product is computed column-major into a scratch from a column-major copy of `a`
    // (none when `a` is already column-major) and transposed into the destination. Copies go
    // in 4 × 4 blocks for 4-byte elements (ragged edges element by element), element by
    // element for 8-byte ones. Sides that are not multiples of 4 or of the copy's tiles, rows
    // further apart than the depth, and products cut in halves by rows and by columns.
    let mut rng = StdRng::seed_from_u64(17);
    for &(dims, pad, a_transposed) in &[
        // bᵀ copied.
        ((33, 35, 38), 0, false),
        ((45, 70, 37), 3, false),
        ((64, 64, 64), 0, false),
        ((150, 97, 131), 2, false),
        ((90, 101, 203), 5, false),
        // Through a scratch, with `a` copied, then with `a` column-major as it is.
        ((33, 90, 130), 0, false),
        ((45, 203, 310), 3, false),
        ((37, 90, 121), 1, true),
        ((50, 150, 410), 0, true),
    ] {
        check_times_transposed::<f32>(dims, pad, a_transposed, &mut rng);
        check_times_transposed::<f64>(dims, pad, a_transposed, &mut rng);
    }
}

/// `aᵀᵀ · b`: `a` a transposed view of a `[k, m]` buffer, `b` row-major.
fn check_few_columns<T: Element>((m, k, n): (usize, usize, usize), rng: &mut StdRng) {
    let a = random::<T>(&[k, m], rng).t();
    let b = random::<T>(&[k, n], rng);
    let want = naive(&as_f64(&a), &as_f64(&b), 1, m, k, n);
    assert_close(&a.matmul(&b).to_vec(), &want, k, 1.0);
}

#[test]
fn products_with_few_columns_and_a_column_major_left_operand_match_naive() {
    // Fewer than 16 columns, at least 64 rows and a column-major `a`: computed column-major
    // through a scratch; on one thread or cut in halves by rows (the last two).
    let mut rng = StdRng::seed_from_u64(19);
    for &(m, k, n) in &[(64, 7, 15), (100, 33, 2), (1024, 256, 10), (1030, 101, 13)] {
        check_few_columns::<f32>((m, k, n), &mut rng);
        check_few_columns::<f64>((m, k, n), &mut rng);
    }
}

#[test]
fn empty_inner_dimension_gives_zeros() {
    let a = Tensor::<f32>::zeros(&[2, 0]);
    let b = Tensor::<f32>::zeros(&[0, 3]);
    assert_eq!(a.matmul(&b).to_vec(), vec![0.0; 6]);
}

#[test]
fn transposed_views_are_multiplied_correctly() {
    let mut rng = StdRng::seed_from_u64(11);
    let (m, k, n) = (37, 53, 29);
    // aᵀ and bᵀ are views with swapped strides over [k, m] and [n, k] buffers.
    let at = random::<f64>(&[k, m], &mut rng);
    let bt = random::<f64>(&[n, k], &mut rng);
    let (a, b) = (at.t(), bt.t());
    let want = naive(&a.to_vec(), &b.to_vec(), 1, m, k, n);
    assert_close(&a.matmul(&b).to_vec(), &want, k, 1.0);
    assert_close(&a.matmul(&b.to_vec_tensor()).to_vec(), &want, k, 1.0);
    assert_close(&a.to_vec_tensor().matmul(&b).to_vec(), &want, k, 1.0);
    // A narrowed (non-unit row stride) operand.
    let wide = random::<f64>(&[m, k + 5], &mut rng);
    let a = wide.narrow(1, 2, k);
    let want = naive(&a.to_vec(), &b.to_vec(), 1, m, k, n);
    assert_close(&a.matmul(&b).to_vec(), &want, k, 1.0);
}

#[test]
fn batched_matmul_broadcasts_batch_dims() {
    let mut rng = StdRng::seed_from_u64(3);
    // [2, 1, 3, 4] x [5, 4, 2] -> [2, 5, 3, 2]
    let a = random::<f64>(&[2, 1, 3, 4], &mut rng);
    let b = random::<f64>(&[5, 4, 2], &mut rng);
    let c = a.matmul(&b);
    assert_eq!(c.shape(), &[2, 5, 3, 2]);
    let a_full = as_f64(&a.broadcast_to(&[2, 5, 3, 4]));
    let b_full = as_f64(&b.broadcast_to(&[2, 5, 4, 2]));
    assert_close(&c.to_vec(), &naive(&a_full, &b_full, 10, 3, 4, 2), 4, 1.0);
    // A matrix times a batch, and an empty batch.
    let w = random::<f64>(&[4, 2], &mut rng);
    let x = random::<f64>(&[6, 3, 4], &mut rng);
    let want = naive(
        &x.to_vec(),
        &as_f64(&w.broadcast_to(&[6, 4, 2])),
        6,
        3,
        4,
        2,
    );
    assert_close(&x.matmul(&w).to_vec(), &want, 4, 1.0);
    let empty = Tensor::<f64>::zeros(&[0, 3, 4]);
    assert_eq!(empty.matmul(&w).shape(), &[0, 3, 2]);
}

#[test]
fn linear_equals_matmul_plus_bias() {
    let mut rng = StdRng::seed_from_u64(9);
    // Tiny products, one thread, and halves cut by columns (the bias split with them) and by
    // rows.
    for &(rows, k, n) in &[
        (1, 1, 1),
        (7, 5, 3),
        (64, 300, 17),
        (3, 4, 1),
        (40, 300, 200),
        (300, 100, 50),
    ] {
        let x = random::<f64>(&[rows, k], &mut rng);
        let w = random::<f64>(&[k, n], &mut rng);
        let b = random::<f64>(&[n], &mut rng);
        let mut want = naive(&x.to_vec(), &w.to_vec(), 1, rows, k, n);
        for (i, v) in want.iter_mut().enumerate() {
            *v += b.to_vec()[i % n];
        }
        assert_close(&x.linear(&w, Some(&b)).to_vec(), &want, k + 1, 1.0);
        assert_close(
            &x.linear(&w.t().to_vec_tensor().t(), None).to_vec(),
            &naive(&x.to_vec(), &w.to_vec(), 1, rows, k, n),
            k,
            1.0,
        );
    }
    // Leading batch dimensions are rows.
    let x = random::<f32>(&[2, 3, 4], &mut rng);
    let w = random::<f32>(&[4, 5], &mut rng);
    assert_eq!(x.linear(&w, None).shape(), &[2, 3, 5]);
    let err = x.try_linear(&w, Some(&Tensor::zeros(&[4]))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "linear: cannot apply a weight of shape [4, 5] to an input of shape [2, 3, 4] (the bias has shape [4], not [5])"
    );
}

#[test]
fn linear_reads_views_that_start_inside_their_storage() {
    // Narrowed views start at an offset into their storage, in the forward pass and in the
    // backward's transposed layouts; every result is checked against a contiguous copy.
    let mut rng = StdRng::seed_from_u64(21);
    for &(rows, k, n) in &[(2, 3, 2), (9, 40, 33), (70, 64, 90)] {
        let big_x = random::<f64>(&[rows + 3, k], &mut rng);
        let big_w = random::<f64>(&[k + 2, n], &mut rng);
        let x = big_x.narrow(0, 3, rows).require_grad();
        let w = big_w.narrow(0, 2, k).require_grad();
        let b = random::<f64>(&[n], &mut rng);
        let (x_copy, w_copy) = (x.to_vec_tensor(), w.to_vec_tensor());
        let want = naive(&x_copy.to_vec(), &w_copy.to_vec(), 1, rows, k, n);
        let bias = b.to_vec();
        let want_biased: Vec<f64> = want
            .iter()
            .enumerate()
            .map(|(i, v)| v + bias[i % n])
            .collect();
        let y = x.linear(&w, Some(&b));
        assert_close(&y.to_vec(), &want_biased, k + 1, 1.0);
        assert_close(&x.linear(&w, None).to_vec(), &want, k, 1.0);
        // d sum(y ⊙ u) / dx = u · wᵀ, / dw = xᵀ · u
        let u = random::<f64>(&[rows, n], &mut rng);
        let grads = (&y * &u).sum().backward();
        let dx = naive(
            &u.to_vec(),
            &w_copy.t().to_vec_tensor().to_vec(),
            1,
            rows,
            n,
            k,
        );
        let dw = naive(
            &x_copy.t().to_vec_tensor().to_vec(),
            &u.to_vec(),
            1,
            k,
            rows,
            n,
        );
        assert_close(&grads.get(&x).unwrap().to_vec(), &dx, n, 1.0);
        assert_close(&grads.get(&w).unwrap().to_vec(), &dw, rows, 1.0);
    }
}

#[test]
fn vector_operands_follow_numpy() {
    let m = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    let v = Tensor::<f64>::from_vec(vec![1.0, 0.0, -1.0], &[3]).unwrap();
    let u = Tensor::<f64>::from_vec(vec![2.0, -1.0], &[2]).unwrap();
    assert_eq!(m.matmul(&v).to_vec(), vec![-2.0, -2.0]); // [1-3, 4-6]
    assert_eq!(m.matmul(&v).shape(), &[2]);
    assert_eq!(u.matmul(&m).to_vec(), vec![-2.0, -1.0, 0.0]); // [2-4, 4-5, 6-6]
    assert_eq!(v.matmul(&v).shape(), &[] as &[usize]);
    assert_eq!(v.matmul(&v).item(), 2.0);
}

#[test]
fn matmul_is_bit_identical_across_calls() {
    let mut rng = StdRng::seed_from_u64(5);
    let a = random::<f32>(&[300, 200], &mut rng);
    let b = random::<f32>(&[200, 100], &mut rng);
    assert_eq!(a.matmul(&b).to_vec(), a.matmul(&b).to_vec());
}

/// A contiguous copy through `to_vec`, to compare view and copy inputs.
trait ToVecTensor {
    fn to_vec_tensor(&self) -> Self;
}

impl ToVecTensor for Tensor<f64> {
    fn to_vec_tensor(&self) -> Self {
        Tensor::from_vec(self.to_vec(), self.shape()).expect("same length")
    }
}
