//! Strategies and checks shared by the integration tests.
#![allow(dead_code)]

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tensor::{GradcheckOptions, Result, Tensor, gradcheck, gradgradcheck};

/// Step and tolerances for the property tests: far tighter than PyTorch's defaults
/// (atol 1e-5, rtol 1e-3). With h = 1e-6 in f64 the truncation error is about 1e-12 and the
/// rounding error about 1e-10 times the function's magnitude.
pub const OPTIONS: GradcheckOptions = GradcheckOptions {
    eps: 1e-6,
    atol: 1e-6,
    rtol: 1e-5,
    mode: tensor::GradcheckMode::Full,
};

/// A shape of rank 0 to `max_rank` with dimensions 1 to 3.
pub fn shape(max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=3, 0..=max_rank)
}

/// A shape of rank 1 to `max_rank`.
pub fn shape_at_least_1d(max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=3, 1..=max_rank)
}

/// A tensor of `shape` with values uniform in `[lo, hi)`.
pub fn tensor(shape: Vec<usize>, lo: f64, hi: f64) -> impl Strategy<Value = Tensor<f64>> {
    let n: usize = shape.iter().product();
    prop::collection::vec(lo..hi, n)
        .prop_map(move |data| Tensor::from_vec(data, &shape).expect("length matches shape"))
}

/// A tensor whose values have magnitude in `[lo, hi)` and a random sign: no kink of `abs`,
/// `relu` or a division is within reach of the finite-difference step.
pub fn tensor_away_from_zero(
    shape: Vec<usize>,
    lo: f64,
    hi: f64,
) -> impl Strategy<Value = Tensor<f64>> {
    let n: usize = shape.iter().product();
    prop::collection::vec((lo..hi, any::<bool>()), n).prop_map(move |pairs| {
        let data = pairs
            .into_iter()
            .map(|(m, neg)| if neg { -m } else { m })
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

/// Deterministic weights in [-1, 1) for projecting an output of `shape`.
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

/// Checks first and second derivatives of `op` at `inputs` against central differences,
/// after projecting its output on random weights (a plain sum would hide a transposed
/// gradient).
pub fn check_op(
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

/// The input as the op sees it: as it is, or through a reversed-dimension view of a
/// transposed copy (same values, non-contiguous strides), to exercise the strided kernels.
pub fn present(x: &Tensor<f64>, strided: bool) -> Result<Tensor<f64>> {
    if !strided || x.ndim() < 2 {
        return Ok(x.clone());
    }
    let reversed: Vec<usize> = (0..x.ndim()).rev().collect();
    // x viewed reversed, copied (times 1) into a contiguous buffer, then viewed reversed
    // again: x's values through non-contiguous strides, every step recorded.
    let copy = x.try_permute(&reversed)?.try_mul(&Tensor::scalar(1.0))?;
    copy.try_permute(&reversed)
}
