//! The `Optimizer` trait and hyperparameter validation.

use std::fmt;

use tensor::{Element, Gradients, Parameter};

/// Updates parameters from their gradients.
///
/// An optimizer holds clones of [`Parameter`] handles and keeps its state (momentum buffers,
/// moment estimates, step counts) per [`ParamId`](tensor::ParamId). A parameter with no
/// gradient in the store is skipped and its state left untouched, as PyTorch does for a
/// parameter whose `.grad` is `None`.
pub trait Optimizer<T: Element = f32> {
    /// One update of every parameter that has a gradient in `grads`.
    fn step(&mut self, grads: &Gradients<T>);

    /// The learning rate of the next step.
    fn lr(&self) -> f64;

    /// Changes the learning rate (a schedule calls this once per epoch).
    ///
    /// # Panics
    /// When `lr` is negative or not finite.
    fn set_lr(&mut self, lr: f64);

    /// The parameters this optimizer updates.
    fn parameters(&self) -> &[Parameter<T>];
}

/// A rejected hyperparameter.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum OptimError {
    /// A value outside its valid range, or an invalid combination.
    InvalidHyperparameter {
        /// The optimizer or schedule: `"Sgd"`, `"Adam"`, ...
        owner: &'static str,
        /// The hyperparameter: `"lr"`, `"momentum"`, ...
        name: &'static str,
        /// The value given, and what was expected.
        message: String,
    },
}

impl fmt::Display for OptimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptimError::InvalidHyperparameter {
                owner,
                name,
                message,
            } => {
                write!(f, "{owner}: invalid {name}: {message}")
            }
        }
    }
}

impl std::error::Error for OptimError {}

pub(crate) fn invalid(owner: &'static str, name: &'static str, message: String) -> OptimError {
    OptimError::InvalidHyperparameter {
        owner,
        name,
        message,
    }
}

/// `value` must be finite and at least 0.
pub(crate) fn non_negative(
    owner: &'static str,
    name: &'static str,
    value: f64,
) -> Result<f64, OptimError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(invalid(
            owner,
            name,
            format!("{value} (expected a finite value >= 0)"),
        ))
    }
}

/// `value` must lie in `[0, 1)`.
pub(crate) fn unit_interval(
    owner: &'static str,
    name: &'static str,
    value: f64,
) -> Result<f64, OptimError> {
    if (0.0..1.0).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(
            owner,
            name,
            format!("{value} (expected 0 <= {name} < 1)"),
        ))
    }
}

/// Panics with the error's message, at the caller's line.
#[track_caller]
pub(crate) fn or_panic<V>(result: Result<V, OptimError>) -> V {
    result.unwrap_or_else(|e| panic!("{e}"))
}
