//! Loss functions. Each comes in a plain form that averages over all elements (and panics on
//! bad input, at the caller's line) and a `try_` form taking a [`Reduction`].
//!
//! Prediction and target must have the same shape: silently broadcasting `[N, 1]` against
//! `[N]` into an `[N, N]` loss is a classic bug, so it is an error here.
//!
//! ```
//! use nn::{Reduction, mse_loss, try_mse_loss};
//! use tensor::Tensor;
//! let pred = Tensor::<f64>::from_vec(vec![0.5, 1.0], &[2])?;
//! let target = Tensor::from_vec(vec![0.0, 1.0], &[2])?;
//! assert_eq!(mse_loss(&pred, &target).item(), 0.125); // (0.25 + 0) / 2
//! assert_eq!(try_mse_loss(&pred, &target, Reduction::Sum)?.item(), 0.25);
//! # Ok::<(), tensor::TensorError>(())
//! ```

use tensor::{Element, Result, Tensor, TensorError};

/// How per-element losses combine into the result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// The mean over all elements (the default).
    #[default]
    Mean,
    /// The sum over all elements.
    Sum,
    /// No reduction: one loss per element (per sample for `cross_entropy`).
    None,
}

pub(crate) fn reduce<T: Element>(losses: Tensor<T>, reduction: Reduction) -> Result<Tensor<T>> {
    match reduction {
        Reduction::Mean => losses.try_mean(),
        Reduction::Sum => losses.try_sum(),
        Reduction::None => Ok(losses),
    }
}

fn same_shape<T: Element>(op: &'static str, pred: &Tensor<T>, target: &Tensor<T>) -> Result<()> {
    if pred.shape() == target.shape() {
        return Ok(());
    }
    Err(TensorError::ShapeMismatch {
        op,
        lhs: pred.shape().to_vec(),
        rhs: target.shape().to_vec(),
        reason: format!(
            "the prediction has shape {:?} but the target has shape {:?}",
            pred.shape(),
            target.shape()
        ),
    })
}

/// Mean squared error: `mean((pred - target)²)`.
///
/// # Panics
/// As [`try_mse_loss`] fails.
#[track_caller]
pub fn mse_loss<T: Element>(pred: &Tensor<T>, target: &Tensor<T>) -> Tensor<T> {
    try_mse_loss(pred, target, Reduction::Mean).unwrap_or_else(|e| panic!("{e}"))
}

/// Squared error `(pred - target)²`, reduced. Derivative: `2 (pred - target)` (over the
/// element count for the mean).
///
/// # Errors
/// When the shapes differ.
pub fn try_mse_loss<T: Element>(
    pred: &Tensor<T>,
    target: &Tensor<T>,
    reduction: Reduction,
) -> Result<Tensor<T>> {
    same_shape("mse_loss", pred, target)?;
    match reduction {
        // One fused op, the same value bit for bit.
        Reduction::Mean => pred.try_mse(target),
        Reduction::Sum | Reduction::None => reduce(pred.try_sub(target)?.try_square()?, reduction),
    }
}

/// Binary cross-entropy of probabilities: `mean(-(t ln p + (1 - t) ln(1 - p)))`.
///
/// # Panics
/// As [`try_bce_loss`] fails.
#[track_caller]
pub fn bce_loss<T: Element>(pred: &Tensor<T>, target: &Tensor<T>) -> Tensor<T> {
    try_bce_loss(pred, target, Reduction::Mean).unwrap_or_else(|e| panic!("{e}"))
}

/// Binary cross-entropy `-(t ln p + (1 - t) ln(1 - p))` of predicted probabilities `p`,
/// reduced. As in PyTorch, each logarithm is clamped below at -100, so a prediction of
/// exactly 0 or 1 gives a finite loss (at most 100) and a finite gradient (0 where the clamp
/// holds). Prefer [`try_bce_with_logits_loss`] on logits: it is exact for any logit.
///
/// # Errors
/// When the shapes differ or a prediction is outside `[0, 1]`.
pub fn try_bce_loss<T: Element>(
    pred: &Tensor<T>,
    target: &Tensor<T>,
    reduction: Reduction,
) -> Result<Tensor<T>> {
    let op = "bce_loss";
    same_shape(op, pred, target)?;
    if let Some(bad) = pred
        .to_vec()
        .into_iter()
        .find(|&p| p < T::zero() || p > T::one())
    {
        return Err(TensorError::InvalidArgument {
            op,
            message: format!("predictions must be probabilities in [0, 1], got {bad}"),
        });
    }
    let one_minus_pred = pred.try_neg()?.try_add(&Tensor::scalar(T::one()))?;
    let one_minus_target = target.try_neg()?.try_add(&Tensor::scalar(T::one()))?;
    let log_p = clamped_ln(pred)?;
    let log_q = clamped_ln(&one_minus_pred)?;
    let losses = target
        .try_mul(&log_p)?
        .try_add(&one_minus_target.try_mul(&log_q)?)?
        .try_neg()?;
    reduce(losses, reduction)
}

/// `max(ln(p), -100)` with a finite gradient everywhere: where the clamp holds, the logarithm
/// is taken of 1 instead of `p` (so `1/p` is never formed at 0) and its result discarded.
/// NaN stays NaN.
fn clamped_ln<T: Element>(p: &Tensor<T>) -> Result<Tensor<T>> {
    let floor = Tensor::scalar(T::of_f64((-100.0f64).exp()));
    let clamped = p.try_le(&floor)?;
    let safe = clamped.try_where_cond(&Tensor::scalar(T::one()), p)?;
    clamped.try_where_cond(&Tensor::scalar(T::of_f64(-100.0)), &safe.try_ln()?)
}

/// Binary cross-entropy on logits: `mean(softplus(x) - x t)`, which equals
/// `bce_loss(sigmoid(x), t)` without its rounding.
///
/// # Panics
/// As [`try_bce_with_logits_loss`] fails.
#[track_caller]
pub fn bce_with_logits_loss<T: Element>(logits: &Tensor<T>, target: &Tensor<T>) -> Tensor<T> {
    try_bce_with_logits_loss(logits, target, Reduction::Mean).unwrap_or_else(|e| panic!("{e}"))
}

/// Binary cross-entropy on logits `x`: `softplus(x) - x t`, reduced. `softplus(x) =
/// ln(1 + e^x)` is computed as `logsumexp([0, x])`, exact for any magnitude (at `x = ±1000`
/// the loss is `1000 (1 - t)` or `1000 t`) and with the exact derivative `sigmoid(x) - t`
/// everywhere, including `x = 0`.
///
/// # Errors
/// When the shapes differ.
pub fn try_bce_with_logits_loss<T: Element>(
    logits: &Tensor<T>,
    target: &Tensor<T>,
    reduction: Reduction,
) -> Result<Tensor<T>> {
    same_shape("bce_with_logits_loss", logits, target)?;
    let zeros = logits.zeros_like();
    let softplus = Tensor::try_stack(&[&zeros, logits], -1)?.try_logsumexp(-1, false)?;
    reduce(softplus.try_sub(&logits.try_mul(target)?)?, reduction)
}
