//! GELU's two forms and their slopes, element by element: the forward kernels and the fused
//! backward of `gelu` and `gelu_tanh`.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

use crate::element::Element;

/// The cubic term's weight in GELU's tanh form.
pub(crate) const TANH_CUBIC: f64 = 0.044_715;

/// `√(2/π)`, the scale inside the tanh form.
pub(crate) fn sqrt_2_over_pi() -> f64 {
    (2.0 / PI).sqrt()
}

/// `x Φ(x)` with `Φ(x) = (1 + erf(x/√2)) / 2`, halved before the product so that no `x`
/// near the largest float overflows; the bits of `x` times [`cdf`].
#[inline(always)]
pub(crate) fn exact<T: Element>(x: T) -> T {
    x * cdf(x)
}

/// `Φ(x) = (1 + erf(x/√2)) · 0.5`.
#[inline(always)]
pub(crate) fn cdf<T: Element>(x: T) -> T {
    ((x * T::of_f64(FRAC_1_SQRT_2)).erf() + T::one()) * T::of_f64(0.5)
}

/// `d/dx x Φ(x) = Φ(x) + x φ(x)`, with `φ(x) = e^(-x²/2) / √(2π)`, from `cdf = Φ(x)`.
#[inline]
pub(crate) fn slope_from_cdf<T: Element>(x: T, cdf: T) -> T {
    let density = (-(x * x) * T::of_f64(0.5)).exp() * T::of_f64(1.0 / (2.0 * PI).sqrt());
    cdf + x * density
}

/// `x (1 + tanh(√(2/π) (x + 0.044715 x³))) · 0.5`.
#[inline]
pub(crate) fn tanh<T: Element>(x: T) -> T {
    let inner = x + x * x * x * T::of_f64(TANH_CUBIC);
    let t = (inner * T::of_f64(sqrt_2_over_pi())).tanh();
    x * (t + T::one()) * T::of_f64(0.5)
}

/// The tanh form's slope: `(1 + t)/2 + x (1 - t²) √(2/π) (1 + 3 · 0.044715 x²) / 2`.
#[inline]
pub(crate) fn tanh_slope<T: Element>(x: T) -> T {
    let (one, half) = (T::one(), T::of_f64(0.5));
    let scale = T::of_f64(sqrt_2_over_pi());
    let t = ((x + x * x * x * T::of_f64(TANH_CUBIC)) * scale).tanh();
    let inner_slope = (x * x * T::of_f64(3.0 * TANH_CUBIC) + one) * scale;
    ((t + one) + x * (one - t * t) * inner_slope) * half
}
