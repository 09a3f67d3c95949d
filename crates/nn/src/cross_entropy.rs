//! Cross-entropy and negative log-likelihood against class indices, with PyTorch's
//! `ignore_index` and `label_smoothing`, and cross-entropy against class probabilities.
//!
//! ```
//! use nn::{CrossEntropyOptions, Reduction, try_cross_entropy_with};
//! use tensor::Tensor;
//! let logits = Tensor::<f64>::from_vec(vec![2.0, 0.0, 0.0, 1.0, 3.0, 0.0], &[2, 3])?;
//! let options = CrossEntropyOptions {
//!     ignore_index: Some(1), // the second row's class: left out of the mean
//!     ..CrossEntropyOptions::default()
//! };
//! let classes = Tensor::from_vec(vec![0, 1], &[2])?;
//! let loss = try_cross_entropy_with(&logits, &classes, options)?;
//! let p0 = 2f64.exp() / (2f64.exp() + 2.0);
//! assert!((loss.item() + p0.ln()).abs() < 1e-15);
//! # Ok::<(), tensor::TensorError>(())
//! ```

use tensor::{Element, Result, Tensor, TensorError};

use crate::loss::{Reduction, reduce};

/// How [`try_cross_entropy_with`] and [`try_nll_loss`] treat their targets: PyTorch's keyword
/// arguments of `cross_entropy`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CrossEntropyOptions {
    /// How the per-row losses combine (the mean by default).
    pub reduction: Reduction,
    /// A target value whose rows contribute nothing: their loss is 0 and the mean counts only
    /// the other rows (all rows ignored: the mean is NaN, as in PyTorch). It may lie outside
    /// `0..C`, as PyTorch's conventional `-100` does.
    pub ignore_index: Option<i64>,
    /// `ε` in `[0, 1]`: each row's target puts `1 - ε` on its class and spreads `ε` evenly
    /// over all `C` classes. Cross-entropy only.
    pub label_smoothing: f64,
}

impl Default for CrossEntropyOptions {
    fn default() -> Self {
        CrossEntropyOptions {
            reduction: Reduction::Mean,
            ignore_index: None,
            label_smoothing: 0.0,
        }
    }
}

/// Cross-entropy of logits `[N, C]` against class indices: `mean(-log_softmax(x)[i, c_i])`.
///
/// # Panics
/// As [`try_cross_entropy`] fails.
#[track_caller]
pub fn cross_entropy<T: Element>(logits: &Tensor<T>, classes: &Tensor<i64>) -> Tensor<T> {
    try_cross_entropy(logits, classes, Reduction::Mean).unwrap_or_else(|e| panic!("{e}"))
}

/// Cross-entropy `-log_softmax(x)[i, c_i]` of logits `[N, C]` against one class index per
/// row, reduced over the rows (`Reduction::None` gives `[N]`). Through `log_softmax`, it is
/// stable for any logit magnitude.
///
/// # Errors
/// When the logits are not 2-D, `classes` is not of shape `[N]`, or a class is negative or
/// not below `C` (and not `ignore_index`).
pub fn try_cross_entropy<T: Element>(
    logits: &Tensor<T>,
    classes: &Tensor<i64>,
    reduction: Reduction,
) -> Result<Tensor<T>> {
    let options = CrossEntropyOptions {
        reduction,
        ..CrossEntropyOptions::default()
    };
    try_cross_entropy_with(logits, classes, options)
}

/// Cross-entropy of logits `[N, C]` against class indices with every option: the loss of
/// row `i` is `-Σₖ wᵢₖ log_softmax(x)ᵢₖ` with `wᵢₖ = (1 - ε) [k = cᵢ] + ε / C`, 0 for an
/// ignored row.
///
/// # Errors
/// As [`try_cross_entropy`], and when `label_smoothing` is not in `[0, 1]`.
pub fn try_cross_entropy_with<T: Element>(
    logits: &Tensor<T>,
    classes: &Tensor<i64>,
    options: CrossEntropyOptions,
) -> Result<Tensor<T>> {
    let eps = options.label_smoothing;
    if !(0.0..=1.0).contains(&eps) {
        return Err(TensorError::InvalidArgument {
            op: "cross_entropy",
            message: format!("label_smoothing must be in [0, 1], got {eps}"),
        });
    }
    targeted(
        "cross_entropy",
        &logits.try_log_softmax(-1)?,
        classes,
        options,
    )
}

/// Negative log-likelihood of log-probabilities `[N, C]` (PyTorch's `nll_loss`):
/// `-log_probs[i, c_i]`, with `options.reduction` and `options.ignore_index`.
///
/// # Errors
/// As [`try_cross_entropy`], and when `label_smoothing` is not 0 (NLL has none).
pub fn try_nll_loss<T: Element>(
    log_probs: &Tensor<T>,
    classes: &Tensor<i64>,
    options: CrossEntropyOptions,
) -> Result<Tensor<T>> {
    if options.label_smoothing != 0.0 {
        return Err(TensorError::InvalidArgument {
            op: "nll_loss",
            message: format!(
                "label_smoothing is for cross_entropy, got {}",
                options.label_smoothing
            ),
        });
    }
    targeted("nll_loss", log_probs, classes, options)
}

/// Cross-entropy of logits `[N, C]` against class probabilities `[N, C]` (PyTorch's
/// `cross_entropy` with a probability target): `-Σₖ tᵢₖ log_softmax(x)ᵢₖ`, reduced over rows.
///
/// # Errors
/// When the shapes differ or are not 2-D.
pub fn try_cross_entropy_probs<T: Element>(
    logits: &Tensor<T>,
    targets: &Tensor<T>,
    reduction: Reduction,
) -> Result<Tensor<T>> {
    if logits.ndim() != 2 || logits.shape() != targets.shape() {
        return Err(TensorError::InvalidArgument {
            op: "cross_entropy",
            message: format!(
                "expected logits and probabilities of one shape [N, C], got {:?} and {:?}",
                logits.shape(),
                targets.shape()
            ),
        });
    }
    let rows = logits
        .try_log_softmax(-1)?
        .try_mul(targets)?
        .try_sum_dim(1, false)?
        .try_neg()?;
    reduce(rows, reduction)
}

/// `-Σₖ wᵢₖ log_probsᵢₖ` per row with the weights of [`try_cross_entropy_with`], reduced.
fn targeted<T: Element>(
    op: &'static str,
    log_probs: &Tensor<T>,
    classes: &Tensor<i64>,
    options: CrossEntropyOptions,
) -> Result<Tensor<T>> {
    let inputs = if op == "nll_loss" {
        "log-probabilities"
    } else {
        "logits"
    };
    let &[rows, width] = log_probs.shape() else {
        return Err(TensorError::InvalidArgument {
            op,
            message: format!(
                "expected {inputs} of shape [N, C], got {:?}",
                log_probs.shape()
            ),
        });
    };
    if classes.shape() != [rows] {
        return Err(TensorError::ShapeMismatch {
            op,
            lhs: log_probs.shape().to_vec(),
            rhs: classes.shape().to_vec(),
            reason: format!(
                "class indices of shape {:?} for {inputs} of shape {:?} (expected [{rows}])",
                classes.shape(),
                log_probs.shape()
            ),
        });
    }
    let classes = classes.to_vec();
    let ignored = |c: i64| options.ignore_index == Some(c);
    let bad = classes
        .iter()
        .find(|&&c| !ignored(c) && usize::try_from(c).map_or(true, |c| c >= width));
    if let Some(&index) = bad {
        return Err(TensorError::IndexOutOfRange {
            op,
            dim: 1,
            index,
            size: width,
        });
    }
    // The target's term is picked, not summed against zero weights: a log-probability of
    // -inf elsewhere in the row (a masked class) would make 0 · -inf a NaN.
    let eps = options.label_smoothing;
    let safe = classes.iter().map(|&c| if ignored(c) { 0 } else { c });
    let targets = Tensor::from_vec(safe.collect(), &[rows, 1])?;
    let picked = || -> Result<Tensor<T>> {
        let target = log_probs.try_gather(1, &targets)?.try_reshape(&[rows])?;
        target.try_mul_scalar(T::of_f64(eps - 1.0))
    };
    let spread = || -> Result<Tensor<T>> {
        let total = log_probs.try_sum_dim(1, false)?;
        total.try_mul_scalar(T::of_f64(-eps / width as f64))
    };
    // ε = 1 leaves no weight on the target, ε = 0 none on the spread.
    let mut losses = match (eps < 1.0, eps > 0.0) {
        (true, true) => picked()?.try_add(&spread()?)?,
        (true, false) => picked()?,
        (false, _) => spread()?,
    };
    let kept = classes.iter().filter(|&&c| !ignored(c)).count();
    if kept < rows {
        // 0 for an ignored row, even where its log-probabilities are -inf (0 · -inf is NaN).
        let mask = classes.iter().map(|&c| i64::from(!ignored(c)));
        let mask = Tensor::from_vec(mask.collect(), &[rows])?;
        losses = mask.try_where_cond(&losses, &Tensor::zeros(&[rows]))?;
    }
    match options.reduction {
        // The mean over the rows kept, not over all rows.
        Reduction::Mean => losses
            .try_sum()?
            .try_div_scalar(T::from_usize(kept).unwrap_or_else(T::infinity)),
        reduction => reduce(losses, reduction),
    }
}
