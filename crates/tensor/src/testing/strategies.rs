//! The property-testing half of the kit (feature `testing`): proptest strategies and
//! [`check_derivatives`].

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::{OPTIONS, weights};
use crate::error::Result;
use crate::gradcheck::{gradcheck, gradgradcheck};
use crate::tensor::Tensor;

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
