//! Vectorisable `f32` transcendentals for the sigmoid kernel.
//!
//! `f32::exp` is a call into the C library, which no compiler vectorises: in a training step
//! of sigmoid layers it cost more than everything else but the matmuls. The polynomial
//! below has no branch and no call, so a loop over a slice compiles to vector code, and
//! [`pulp`]'s dispatch compiles that loop once more for AVX2 and AVX-512 and picks the widest
//! the CPU has at run time. `f64` keeps the C library's `exp`: its results are the reference
//! the f32 path is tested against, correct to the last bit the platform gives.

use std::mem::MaybeUninit;

use crate::element::Element;
use crate::kernels::per_type;

/// `ln(f32::MAX)` rounded up: from it on, `e^x` overflows to infinity.
const EXP_HI: f32 = 88.722_84;
/// `ln(f32::MIN_POSITIVE)`: below it `e^x` is subnormal, and flushed to 0.
const EXP_LO: f32 = -87.336_55;

/// `e^x` in `f32`, within 2 ulp of the exact value for normal results (tested against
/// `f64::exp` on a dense sweep). Infinity above [`EXP_HI`], 0 below [`EXP_LO`], NaN for NaN.
///
/// Cephes' `expf`: `x = n ln 2 + r` with `|r| <= ln 2 / 2`, `e^r` by a degree-6 polynomial,
/// then `2^n` put directly into the exponent bits.
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    // 1.5 * 2^23: adding and subtracting it rounds a float of magnitude below 2^22 to the
    // nearest integer, without the libm call `round` is on baseline x86-64.
    const ROUND: f32 = 12_582_912.0;
    // ln 2 split in two, so that n * LN2_HI is exact for |n| <= 128.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let clamped = x.clamp(EXP_LO, EXP_HI);
    let shifted = clamped * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = clamped - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5; // Cephes: 5.0000001201e-1, which rounds to 0.5 in f32
    let er = p * r * r + r + 1.0;
    // n as an integer, read from the bits of `shifted` (its low mantissa bits hold n offset
    // by ROUND's): `n as i32` is a saturating conversion that compilers do not vectorise.
    let n = (shifted.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    // n is in [-126, 128]; 2^128 is not a finite float, so n = 128 is applied as 2^127 * 2.
    let top = i32::from(n > 127);
    let scale = f32::from_bits((n.wrapping_sub(top).wrapping_add(127) as u32) << 23);
    let y = er * scale * (1 + top) as f32;
    if x.is_nan() {
        x
    } else if x > EXP_HI {
        f32::INFINITY
    } else if x < EXP_LO {
        0.0
    } else {
        y
    }
}

/// A sigmoid over slices: `out[i] = 1 / (1 + e^-src[i])`, every slot of `out` written.
pub(crate) type SigmoidFn<T> = fn(&[T], &mut [MaybeUninit<T>]);

/// The sigmoid kernel of element type `T`.
pub(crate) fn sigmoid_fn<T: Element>() -> SigmoidFn<T> {
    per_type(sigmoid_f32 as SigmoidFn<f32>, sigmoid_f64 as SigmoidFn<f64>)
}

/// [`SigmoidFn`] for `f64`, through the C library's `exp`: its results are the reference, to
/// the last bit.
fn sigmoid_f64(src: &[f64], out: &mut [MaybeUninit<f64>]) {
    assert_eq!(
        src.len(),
        out.len(),
        "internal: sigmoid slices of one length"
    );
    for (o, &x) in out.iter_mut().zip(src) {
        o.write(1.0 / (1.0 + (-x).exp()));
    }
}

/// [`SigmoidFn`] for `f32`, vectorised for the widest SIMD the CPU has; the slices have one
/// length.
pub(crate) fn sigmoid_f32(src: &[f32], out: &mut [MaybeUninit<f32>]) {
    assert_eq!(
        src.len(),
        out.len(),
        "internal: sigmoid slices of one length"
    );
    pulp::Arch::new().dispatch(|| {
        for (o, &x) in out.iter_mut().zip(src) {
            o.write(1.0 / (1.0 + exp_f32(-x)));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sigmoid_f32` of `xs`, as a vector.
    #[allow(unsafe_code)]
    fn sigmoid_of(xs: &[f32]) -> Vec<f32> {
        let mut out = vec![MaybeUninit::uninit(); xs.len()];
        sigmoid_f32(xs, &mut out);
        // SAFETY: sigmoid_f32 writes every slot.
        out.into_iter()
            .map(|o| unsafe { o.assume_init() })
            .collect()
    }

    /// Distance in units in the last place between `approx` and the exact `value`.
    fn ulps(approx: f32, exact: f64) -> f64 {
        let rounded = exact as f32;
        let ulp = f64::from(f32::from_bits(rounded.to_bits() + 1) - rounded);
        (f64::from(approx) - exact).abs() / ulp
    }

    #[test]
    fn exp_is_within_two_ulp_over_its_normal_range() {
        // Every 97th float between EXP_LO and EXP_HI: about 22 million points.
        let mut worst = (0.0, 0.0f32);
        let (lo, hi) = (EXP_LO.to_bits(), EXP_HI.to_bits());
        let negatives = (0..=lo).rev().step_by(97).map(f32::from_bits);
        let positives = (0..=hi).step_by(97).map(f32::from_bits);
        for x in negatives.chain(positives) {
            let e = ulps(exp_f32(x), f64::from(x).exp());
            if e > worst.0 {
                worst = (e, x);
            }
        }
        assert!(worst.0 <= 2.0, "{} ulp at x = {:e}", worst.0, worst.1);
    }

    #[test]
    fn exp_handles_the_edges() {
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(-0.0), 1.0);
        assert_eq!(exp_f32(89.0), f32::INFINITY);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(-88.0), 0.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
        // The largest finite results, where 2^n needs the split scale; the next float up
        // overflows, as its exact value does.
        let top = f32::from_bits(EXP_HI.to_bits() - 1);
        assert!(f64::from(top).exp() < f64::from(f32::MAX));
        assert!(ulps(exp_f32(top), f64::from(top).exp()) <= 2.0);
        assert!(f64::from(EXP_HI).exp() > f64::from(f32::MAX));
        assert_eq!(exp_f32(EXP_HI), f32::INFINITY);
        assert!(ulps(exp_f32(88.7), f64::from(88.7f32).exp()) <= 2.0);
        assert!(ulps(exp_f32(EXP_LO), f64::from(EXP_LO).exp()) <= 2.0);
    }

    #[test]
    fn sigmoid_matches_the_exact_value_and_saturates() {
        let xs: Vec<f32> = (-2000..=2000).map(|i| i as f32 / 16.0).collect();
        let out = sigmoid_of(&xs);
        for (&x, &s) in xs.iter().zip(&out) {
            let exact = 1.0 / (1.0 + (-f64::from(x)).exp());
            if exact >= f64::from(f32::MIN_POSITIVE) {
                assert!(ulps(s, exact) <= 3.0, "sigmoid({x}) = {s}, exact {exact}");
            }
        }
        let edge = sigmoid_of(&[0.0, 100.0, -100.0, f32::INFINITY, f32::NEG_INFINITY]);
        assert_eq!(edge, [0.5, 1.0, 0.0, 1.0, 0.0]);
        assert!(sigmoid_of(&[f32::NAN])[0].is_nan());
    }
}
