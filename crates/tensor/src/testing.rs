//! A kit for property-testing code built on tensors, as this crate tests its own ops
//! (feature `testing`, which brings in `proptest`): strategies for shapes, broadcast pairs
//! and tensors; non-contiguous views of a tensor; finite-difference assertions that print
//! what failed; and a tolerance comparison of tensors.
//!
//! ```
//! use proptest::prelude::*;
//! use tensor::testing::{assert_close, check_derivatives, shape, tensor};
//! use tensor::Tensor;
//!
//! /// The function under test: softplus written by hand.
//! fn softplus(x: &Tensor<f64>) -> tensor::Result<Tensor<f64>> {
//!     x.try_exp()?.try_log1p()
//! }
//!
//! proptest!(|(x in shape(3).prop_flat_map(|s| tensor(s, -3.0, 3.0)), seed in any::<u64>())| {
//!     check_derivatives(&[x.clone()], seed, |xs| softplus(&xs[0]))?;
//!     let y = softplus(&x)?;
//!     let want = x.to_vec().iter().map(|v| (1.0 + v.exp()).ln()).collect::<Vec<_>>();
//!     assert_close(&y, &Tensor::from_vec(want, x.shape())?, 1e-12, 1e-15);
//! });
//! ```

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::error::Result;
use crate::gradcheck::{GradcheckMode, GradcheckOptions, gradcheck, gradgradcheck};
use crate::tensor::Tensor;

/// Step and tolerances for property tests in `f64`: far tighter than PyTorch's defaults
/// (atol 1e-5, rtol 1e-3). With a step of 1e-6 the truncation error is about 1e-12 and the
/// rounding error about 1e-10 times the function's magnitude.
pub const OPTIONS: GradcheckOptions = GradcheckOptions {
    eps: 1e-6,
    atol: 1e-6,
    rtol: 1e-5,
    mode: GradcheckMode::Full,
};

/// A shape of rank 0 to `max_rank` with dimensions 1 to 3.
pub fn shape(max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=3, 0..=max_rank)
}

/// A shape of rank 1 to `max_rank` with dimensions 1 to 3.
pub fn shape_at_least_1d(max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=3, 1..=max_rank)
}

/// A shape of rank 0 to `max_rank` with dimensions 0 to 3: zero-size ones included.
pub fn shape_with_empty(max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..=3, 0..=max_rank)
}

/// A tensor of `shape` with values uniform in `[lo, hi)`.
pub fn tensor(shape: Vec<usize>, lo: f64, hi: f64) -> impl Strategy<Value = Tensor<f64>> {
    let n: usize = shape.iter().product();
    prop::collection::vec(lo..hi, n)
        .prop_map(move |data| Tensor::from_vec(data, &shape).expect("length matches shape"))
}

/// A tensor whose values have magnitude in `[lo, hi)` and a random sign: no kink at 0 (of
/// `abs`, `relu`, a division) is within reach of the finite-difference step.
pub fn tensor_away_from_zero(
    shape: Vec<usize>,
    lo: f64,
    hi: f64,
) -> impl Strategy<Value = Tensor<f64>> {
    let n: usize = shape.iter().product();
    prop::collection::vec((lo..hi, any::<bool>()), n).prop_map(move |pairs| {
        let data = pairs
            .into_iter()
            .map(|(m, negative)| if negative { -m } else { m })
            .collect();
        Tensor::from_vec(data, &shape).expect("length matches shape")
    })
}

/// A shape and a smaller one that broadcasts to it: some dimensions set to 1 and some
/// leading dimensions dropped.
pub fn broadcastable(max_rank: usize) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    shape(max_rank).prop_flat_map(|full| {
        let rank = full.len();
        (
            Just(full),
            prop::collection::vec(any::<bool>(), rank),
            0..=rank,
        )
            .prop_map(|(full, ones, drop)| {
                let small = full
                    .iter()
                    .zip(&ones)
                    .map(|(&d, &one)| if one { 1 } else { d })
                    .skip(drop)
                    .collect();
                (full, small)
            })
    })
}

/// A pair of shapes that broadcast together, in either order.
pub fn broadcast_pair(max_rank: usize) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (broadcastable(max_rank), any::<bool>())
        .prop_map(|((full, small), swap)| if swap { (small, full) } else { (full, small) })
}

/// Deterministic weights in [-1, 1) of `shape`, for projecting an output on before
/// differentiating it (a plain sum would hide a transposed gradient).
pub fn weights(shape: &[usize], seed: u64) -> Tensor<f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect();
    Tensor::from_vec(data, shape).expect("length matches shape")
}

/// `x`'s values through non-contiguous strides when `strided` (and `x` has two or more
/// dimensions), `x` itself otherwise; every step recorded, so gradients flow back to `x`.
///
/// # Errors
/// When memory runs out.
pub fn strided_view(x: &Tensor<f64>, strided: bool) -> Result<Tensor<f64>> {
    if !strided || x.ndim() < 2 {
        return Ok(x.clone());
    }
    let reversed: Vec<usize> = (0..x.ndim()).rev().collect();
    // Viewed reversed, copied (times 1) into a contiguous buffer, viewed reversed again.
    let copy = x.try_permute(&reversed)?.try_mul(&Tensor::scalar(1.0))?;
    copy.try_permute(&reversed)
}

/// Checks the first and second derivatives of `op` at `inputs` against central differences
/// with [`OPTIONS`], after projecting its output on [`weights`] drawn from `seed`.
///
/// # Errors
/// A failed proptest case naming the order, the input, the element and both values.
pub fn check_derivatives(
    inputs: &[Tensor<f64>],
    seed: u64,
    op: impl Fn(&[Tensor<f64>]) -> Result<Tensor<f64>>,
) -> std::result::Result<(), TestCaseError> {
    let out = op(inputs).map_err(|e| TestCaseError::fail(format!("forward failed: {e}")))?;
    let w = weights(out.shape(), seed);
    let projected = |xs: &[Tensor<f64>]| op(xs)?.try_mul(&w)?.try_sum();
    gradcheck(projected, inputs, &OPTIONS)
        .map_err(|e| TestCaseError::fail(format!("first order: {e}")))?;
    gradgradcheck(projected, inputs, &OPTIONS)
        .map_err(|e| TestCaseError::fail(format!("second order: {e}")))?;
    Ok(())
}

/// Asserts that `f`'s gradients at `inputs` match central differences with [`OPTIONS`].
///
/// # Panics
/// On a mismatch, with the inputs, the input and element, and the analytic and numeric
/// values.
#[track_caller]
pub fn assert_gradcheck(f: impl Fn(&[Tensor<f64>]) -> Result<Tensor<f64>>, inputs: &[Tensor<f64>]) {
    if let Err(e) = gradcheck(f, inputs, &OPTIONS) {
        panic!("{e}\n  at inputs {}", describe(inputs));
    }
}

/// As [`assert_gradcheck`], for second derivatives ([`gradgradcheck`]).
///
/// # Panics
/// As [`assert_gradcheck`].
#[track_caller]
pub fn assert_gradgradcheck(
    f: impl Fn(&[Tensor<f64>]) -> Result<Tensor<f64>>,
    inputs: &[Tensor<f64>],
) {
    if let Err(e) = gradgradcheck(f, inputs, &OPTIONS) {
        panic!("{e}\n  at inputs {}", describe(inputs));
    }
}

/// Asserts that `actual` and `expected` have one shape and every pair of elements is within
/// `atol + rtol · |expected|` (NaN only against NaN).
///
/// # Panics
/// On a shape difference, or at the first element out of tolerance, naming its index and
/// both values.
#[track_caller]
pub fn assert_close(actual: &Tensor<f64>, expected: &Tensor<f64>, rtol: f64, atol: f64) {
    assert_eq!(
        actual.shape(),
        expected.shape(),
        "assert_close: shapes differ"
    );
    for (i, (a, e)) in actual
        .to_vec()
        .into_iter()
        .zip(expected.to_vec())
        .enumerate()
    {
        let both_nan = a.is_nan() && e.is_nan();
        let close = a == e || (a - e).abs() <= atol + rtol * e.abs();
        assert!(
            both_nan || close,
            "assert_close: element {i} (of shape {:?}) is {a}, expected {e} (rtol {rtol}, atol \
             {atol})",
            actual.shape()
        );
    }
}

fn describe(inputs: &[Tensor<f64>]) -> String {
    let each: Vec<String> = inputs
        .iter()
        .map(|x| format!("{:?} {:?}", x.shape(), x.to_vec()))
        .collect();
    each.join(", ")
}
