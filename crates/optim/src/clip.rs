//! Gradient clipping, as PyTorch's `clip_grad_norm_` and `clip_grad_value_`.
//!
//! ```
//! use optim::clip_grad_norm;
//! use tensor::{Parameter, Tensor};
//! let w = Parameter::new(Tensor::<f64>::from_vec(vec![3.0, 4.0], &[2])?);
//! let mut grads = (w.tensor() * 1.0).sum().backward(); // gradient [1, 1], norm √2
//! let norm = clip_grad_norm(&mut grads, &[w.clone()], 1.0);
//! assert!((norm - 2f64.sqrt()).abs() < 1e-15);
//! let g = grads.get(&w).unwrap().to_vec();
//! assert!(((g[0] * g[0] + g[1] * g[1]).sqrt() - 1.0).abs() < 1e-6);
//! # Ok::<(), tensor::TensorError>(())
//! ```

use tensor::{Element, Gradients, Parameter};

use crate::optimizer::{OptimError, non_negative, or_panic};

/// Rescales the gradients of `params` so that their global L2 norm is at most `max_norm`,
/// and returns the norm before clipping:
///
/// ```text
/// total = sqrt(Σ_p ‖g_p‖²)
/// g_p ← g_p · max_norm / (total + 1e-6)      when that factor is below 1
/// ```
///
/// As in PyTorch, a non-finite total makes every gradient non-finite (check the returned
/// norm). Parameters without a gradient are ignored.
///
/// # Panics
/// As [`try_clip_grad_norm`] fails.
#[track_caller]
pub fn clip_grad_norm<T: Element>(
    grads: &mut Gradients<T>,
    params: &[Parameter<T>],
    max_norm: f64,
) -> f64 {
    or_panic(try_clip_grad_norm(grads, params, max_norm))
}

/// Fallible form of [`clip_grad_norm`].
///
/// # Errors
/// When `max_norm` is negative or not finite.
pub fn try_clip_grad_norm<T: Element>(
    grads: &mut Gradients<T>,
    params: &[Parameter<T>],
    max_norm: f64,
) -> Result<f64, OptimError> {
    let max_norm = non_negative("clip_grad_norm", "max_norm", max_norm)?;
    // The norm of the per-parameter norms, as PyTorch stacks them.
    let squares: f64 = params
        .iter()
        .filter_map(|p| grads.get(p))
        .map(|g| {
            let mut sum = 0.0;
            g.for_each_value(|_, v| sum += v.as_f64() * v.as_f64());
            sum
        })
        .sum();
    let total = squares.sqrt();
    let factor = max_norm / (total + 1e-6);
    // A NaN factor (from a NaN norm) scales too, as PyTorch does.
    if factor < 1.0 || factor.is_nan() {
        let factor = T::of_f64(factor);
        for p in params {
            if let Some(g) = grads.get(p) {
                let scaled = g * factor;
                grads.insert(p, scaled);
            }
        }
    }
    Ok(total)
}

/// Clamps every gradient element of `params` to `[-clip_value, clip_value]`.
///
/// # Panics
/// As [`try_clip_grad_value`] fails.
#[track_caller]
pub fn clip_grad_value<T: Element>(
    grads: &mut Gradients<T>,
    params: &[Parameter<T>],
    clip_value: f64,
) {
    or_panic(try_clip_grad_value(grads, params, clip_value));
}

/// Fallible form of [`clip_grad_value`].
///
/// # Errors
/// When `clip_value` is negative or not finite.
pub fn try_clip_grad_value<T: Element>(
    grads: &mut Gradients<T>,
    params: &[Parameter<T>],
    clip_value: f64,
) -> Result<(), OptimError> {
    let bound = T::of_f64(non_negative("clip_grad_value", "clip_value", clip_value)?);
    for p in params {
        if let Some(g) = grads.get(p) {
            let clamped = g.clamp(-bound, bound);
            grads.insert(p, clamped);
        }
    }
    Ok(())
}
