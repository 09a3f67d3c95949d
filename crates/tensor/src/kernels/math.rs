//! Slice kernels of the sigmoid, the error function and GELU, vectorised for `f32`.
//!
//! `f32::exp` is a call into the C library, which no compiler vectorises: in a training step
//! of sigmoid layers it cost more than everything else but the matmuls. The polynomial
//! below has no branch and no call, so a loop over a slice compiles to vector code, and
//! [`pulp`]'s dispatch compiles that loop once more for AVX2 and AVX-512 and picks the widest
//! the CPU has at run time. `f64` keeps the C library's `exp`: its results are the reference
//! the f32 path is tested against, correct to the last bit the platform gives.

use std::mem::MaybeUninit;

use crate::element::Element;
use crate::kernels::{gelu, per_type};
use crate::special::exp_f32;

/// A function over slices, `out[i] = f(src[i])`, every slot of `out` written; the slices
/// have one length.
pub(crate) type SliceFn<T> = fn(&[T], &mut [MaybeUninit<T>]);

/// The `f32` and `f64` slice kernels of the element function `$f` (a path to an
/// `#[inline(always)]` function). The `f32` loop is a [`pulp::WithSimd`] whose body is
/// `#[inline(always)]` too, so that `$f` is inlined into the code pulp compiles for the widest
/// SIMD the CPU has (a closure handed to the dispatch is called, not inlined, once it is this
/// large, and then runs as baseline scalar code).
macro_rules! slice_kernels {
    ($(#[$doc:meta])* $name:ident, $f:path) => {
        $(#[$doc])*
        pub(crate) fn $name<T: Element>() -> SliceFn<T> {
            struct Loop<'a> {
                src: &'a [f32],
                out: &'a mut [MaybeUninit<f32>],
            }
            impl pulp::WithSimd for Loop<'_> {
                type Output = ();
                #[inline(always)]
                fn with_simd<S: pulp::Simd>(self, _: S) {
                    for (o, &x) in self.out.iter_mut().zip(self.src) {
                        o.write($f(x));
                    }
                }
            }
            fn f32s(src: &[f32], out: &mut [MaybeUninit<f32>]) {
                assert_eq!(src.len(), out.len(), "internal: slices of one length");
                pulp::Arch::new().dispatch(Loop { src, out });
            }
            fn f64s(src: &[f64], out: &mut [MaybeUninit<f64>]) {
                assert_eq!(src.len(), out.len(), "internal: slices of one length");
                for (o, &x) in out.iter_mut().zip(src) {
                    o.write($f(x));
                }
            }
            per_type(f32s as SliceFn<f32>, f64s as SliceFn<f64>)
        }
    };
}

slice_kernels!(
    /// The error function over slices.
    erf_fn,
    Element::erf
);
slice_kernels!(
    /// GELU, `x Φ(x)`, over slices.
    gelu_fn,
    gelu::exact
);
slice_kernels!(
    /// GELU's `Φ(x)` over slices.
    gelu_cdf_fn,
    gelu::cdf
);

/// The sigmoid kernel of element type `T`.
pub(crate) fn sigmoid_fn<T: Element>() -> SliceFn<T> {
    per_type(sigmoid_f32 as SliceFn<f32>, sigmoid_f64 as SliceFn<f64>)
}

/// [`SliceFn`] for `f64`, through the C library's `exp`: its results are the reference, to
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

/// [`SliceFn`] for `f32`, vectorised for the widest SIMD the CPU has; the slices have one
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
    use crate::special::tests::ulps;

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
