//! A kit for testing code built on tensors, as this crate tests its own ops: finite-difference
//! assertions that print what failed, a tolerance comparison of tensors, non-contiguous views
//! and projection weights; and, with the feature `testing` (which brings in `proptest`),
//! strategies for shapes, broadcast pairs and tensors and `check_derivatives` for property
//! tests.
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

#[cfg(feature = "testing")]
mod strategies;

#[cfg(feature = "testing")]
pub use strategies::*;

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
