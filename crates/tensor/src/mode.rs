//! Grad mode: whether operations record a graph. Per thread, on by default.

use std::cell::Cell;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
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
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GRAD_ENABLED.with(|cell| cell.set(self.0));
        }
    }
    let _restore = Restore(GRAD_ENABLED.with(|cell| cell.replace(enabled)));
    f()
}
