//! Grad mode: whether operations record a graph. Per thread, on by default.

use std::cell::Cell;
use std::thread::LocalKey;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
    static ANOMALY: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with recording switched off on this thread: nothing computed inside builds a
/// graph, so inference and optimizer updates cost no graph memory. Nests, and restores the
/// previous mode even if `f` panics.
///
/// ```
/// use tensor::Tensor;
/// let x = Tensor::<f32>::scalar(2.0).require_grad();
/// let y = tensor::no_grad(|| &x * &x);
/// assert!(!y.requires_grad());
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    with_grad_enabled(false, f)
}

/// Runs `f` with recording switched on, even inside [`no_grad`].
pub fn enable_grad<R>(f: impl FnOnce() -> R) -> R {
    with_grad_enabled(true, f)
}

/// Whether operations on this thread record a graph right now.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

pub(crate) fn with_grad_enabled<R>(enabled: bool, f: impl FnOnce() -> R) -> R {
    with_flag(&GRAD_ENABLED, enabled, f)
}

/// Runs `f` with the thread-local `flag` set to `value`, restoring the previous value after,
/// even if `f` panics.
fn with_flag<R>(flag: &'static LocalKey<Cell<bool>>, value: bool, f: impl FnOnce() -> R) -> R {
    struct Restore(&'static LocalKey<Cell<bool>>, bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            self.0.with(|cell| cell.set(self.1));
        }
    }
    let _restore = Restore(flag, flag.with(|cell| cell.replace(value)));
    f()
}

/// Runs `f` with anomaly detection on this thread: the first operation whose result, or whose
/// gradient in a backward pass, holds a NaN or an infinity fails with
/// [`TensorError::NonFinite`](crate::TensorError::NonFinite), naming the operation, the pass
/// and the shape (the `try_` forms return it; the plain forms panic with it). Outside, results
/// are not scanned: NaN propagates as IEEE 754 says, at no cost. Nests, and restores the
/// previous mode even if `f` panics.
///
/// ```
/// use tensor::{Tensor, TensorError, detect_anomaly};
/// let zero = Tensor::<f64>::scalar(0.0);
/// assert_eq!(zero.ln().item(), f64::NEG_INFINITY); // outside: IEEE semantics
/// let err = detect_anomaly(|| zero.try_ln()).unwrap_err();
/// assert!(matches!(err, TensorError::NonFinite { op: "ln", pass: "forward", .. }));
/// ```
pub fn detect_anomaly<R>(f: impl FnOnce() -> R) -> R {
    with_anomaly(true, f)
}

/// Runs `f` with anomaly detection set to `enabled` on this thread. Backward uses it to
/// evaluate a gradient rule unchecked, then checks the rule's results as its own.
pub(crate) fn with_anomaly<R>(enabled: bool, f: impl FnOnce() -> R) -> R {
    with_flag(&ANOMALY, enabled, f)
}

/// Whether anomaly detection is on for this thread.
pub fn is_anomaly_enabled() -> bool {
    ANOMALY.with(Cell::get)
}

/// Inside [`detect_anomaly`], the error for the first non-finite value of `values`.
pub(crate) fn check_finite<T: crate::Element>(
    op: &'static str,
    pass: &'static str,
    shape: &[usize],
    values: impl IntoIterator<Item = T>,
) -> crate::Result<()> {
    if !is_anomaly_enabled() {
        return Ok(());
    }
    match values.into_iter().find(|v| !v.is_finite()) {
        Some(value) => Err(crate::TensorError::NonFinite {
            op,
            pass,
            shape: shape.to_vec(),
            value: value.as_f64(),
        }),
        None => Ok(()),
    }
}
