//! Branch-free `f32` special functions, `e^x` and `erf(x)`: plain arithmetic with no call and
//! no branch, so that a loop over a slice compiles to vector code (the kernels run such
//! loops under [`pulp`]'s dispatch for the widest SIMD the CPU has). The C library's `expf`
//! and the `libm` crate's `erff` are calls that no compiler vectorises; in a transformer's
//! training step GELU's `erf` alone cost a third of the step.
//!
//! `f64` keeps the C library's and `libm`'s functions: they are the reference these are
//! tested against.

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

/// `erf(x)` in `f32`, within 2 ulp of the exact value (tested against `libm::erf` in `f64` on
/// a dense sweep); `±1` from `|x| ≥ 4`, NaN for NaN.
///
/// The approximations are fdlibm's for `erff` (Sun Microsystems, 1993, freely
/// distributable), as the `libm` crate has them: `x + x R(x²)` below 0.84375, `erx + P(s)/Q(s)`
/// with `s = |x| - 1` below 1.25, and `1 - erfc(|x|)` beyond, with
/// `erfc(x) = e^(-z² - 0.5625) e^((z - x)(z + x) + R(1/x²)/S(1/x²)) / x` (`z` is `x` with its
/// low 13 mantissa bits cleared, so that `z²` is exact). Instead of branching on the
/// interval, every approximation is evaluated and the right one selected, which vector code
/// does at the cost of a few more multiplications than one branch.
#[inline(always)]
pub(crate) fn erf_f32(x: f32) -> f32 {
    // fdlibm's coefficients, by their bits (as its source gives them beside the decimals).
    const ERX: f32 = f32::from_bits(0x3f58560b);
    const PP: [u32; 5] = [0x3e0375d4, 0xbea66beb, 0xbce9528f, 0xbbbd1489, 0xb7c756b1];
    const QQ: [u32; 5] = [0x3ecbbbce, 0x3d852a63, 0x3ba68116, 0x390aee49, 0xb684e21a];
    const PA: [u32; 7] = [
        0xbb1acdc6, 0x3ed46805, 0xbebe9208, 0x3ea2fe54, 0xbde31cc2, 0x3d1151b3, 0xbb0df9c0,
    ];
    const QA: [u32; 6] = [
        0x3dd9f331, 0x3f0a5785, 0x3d931ae7, 0x3e013307, 0x3c5f6e13, 0x3c445aa3,
    ];
    const RA: [u32; 8] = [
        0xbc21a093, 0xbf31a0b7, 0xc128f022, 0xc2798057, 0xc322658c, 0xc3389ae7, 0xc2a2932b,
        0xc11d077e,
    ];
    const SA: [u32; 8] = [
        0x419d35ce, 0x4309a863, 0x43d9486f, 0x442158c9, 0x43d6810b, 0x42d9451f, 0x40d23f7c,
        0xbd777f97,
    ];
    const RB: [u32; 7] = [
        0xbc21a092, 0xbf4c9dd4, 0xc18e104b, 0xc320a2ea, 0xc41f6441, 0xc480230b, 0xc3f1c275,
    ];
    const SB: [u32; 7] = [
        0x41f2b459, 0x43a2e571, 0x44c01759, 0x4547fdbb, 0x451f90ce, 0x43ed43a7, 0xc1b38712,
    ];
    /// `c[0] + t (c[1] + t (...))`.
    #[inline(always)]
    fn poly<const N: usize>(t: f32, c: [u32; N]) -> f32 {
        c.iter()
            .rev()
            .fold(0.0, |acc, &k| acc * t + f32::from_bits(k))
    }
    /// `1 + t (c[0] + t (c[1] + ...))`.
    #[inline(always)]
    fn one_plus<const N: usize>(t: f32, c: [u32; N]) -> f32 {
        1.0 + t * poly(t, c)
    }
    let a = x.abs();
    // Below 0.84375: x + x R(x²), odd, so the sign comes with x.
    let z = x * x;
    let small = x + x * (poly(z, PP) / one_plus(z, QQ));
    // From 0.84375 to 1.25.
    let s = a - 1.0;
    let middle = ERX + poly(s, PA) / one_plus(s, QA);
    // From 1.25 on, through erfc; |x| limited to [1.25, 6] so that nothing overflows where
    // the lane is not selected (erfc(6) is far below half an ulp of 1).
    let b = a.clamp(1.25, 6.0);
    let t = 1.0 / (b * b);
    let near = b < 1.0 / 0.35;
    let r = if near { poly(t, RA) } else { poly(t, RB) };
    let q = if near {
        one_plus(t, SA)
    } else {
        one_plus(t, SB)
    };
    let head = f32::from_bits(b.to_bits() & 0xffff_e000);
    let erfc = exp_f32(-head * head - 0.5625) * exp_f32((head - b) * (head + b) + r / q) / b;
    let large = 1.0 - erfc;
    let magnitude = if a < 1.25 { middle } else { large };
    let signed = if x < 0.0 { -magnitude } else { magnitude };
    if x.is_nan() {
        x
    } else if a < 0.843_75 {
        small
    } else {
        signed
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Distance in units in the last place between `approx` and the exact `value`.
    pub(crate) fn ulps(approx: f32, exact: f64) -> f64 {
        let rounded = exact as f32;
        // The next float away from zero: the ulp at negative values as at positive ones.
        let ulp = f64::from(f32::from_bits(rounded.to_bits() + 1) - rounded).abs();
        (f64::from(approx) - exact).abs() / ulp
    }

    #[test]
    fn exp_is_within_two_ulp_over_its_normal_range() {
        // Every 97th float between EXP_LO and EXP_HI: about 22 million points.
        let mut worst = (0.0, 0.0f32);
        let (lo, hi) = (EXP_LO.to_bits(), EXP_HI.to_bits());
        let negatives = (0x8000_0000..=lo).step_by(97).map(f32::from_bits);
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
    fn erf_is_within_two_ulp_everywhere() {
        // Every 401st float from 0 to 6 (about 2.7 million points), and their negatives.
        let mut worst = (0.0, 0.0f32);
        for bits in (0..=6.0f32.to_bits()).step_by(401) {
            for x in [f32::from_bits(bits), -f32::from_bits(bits)] {
                let e = ulps(erf_f32(x), libm::erf(f64::from(x)));
                if e > worst.0 {
                    worst = (e, x);
                }
            }
        }
        assert!(worst.0 <= 2.0, "{} ulp at x = {:e}", worst.0, worst.1);
    }

    #[test]
    fn erf_handles_the_edges() {
        assert_eq!(erf_f32(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(erf_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        for (x, want) in [(4.0, 1.0), (6.0, 1.0), (1e30, 1.0), (f32::INFINITY, 1.0)] {
            assert_eq!(erf_f32(x), want);
            assert_eq!(erf_f32(-x), -want);
        }
        assert!(erf_f32(f32::NAN).is_nan());
        // The interval boundaries, from both sides.
        for edge in [0.843_75f32, 1.25, 1.0 / 0.35] {
            for x in [
                f32::from_bits(edge.to_bits() - 1),
                edge,
                f32::from_bits(edge.to_bits() + 1),
            ] {
                assert!(ulps(erf_f32(x), libm::erf(f64::from(x))) <= 2.0, "{x}");
            }
        }
        // Tiny and subnormal arguments: erf(x) = 2x/√π, to within an ulp.
        for x in [1e-30f32, 1e-40, f32::MIN_POSITIVE, -1e-38] {
            let exact = f64::from(x) * std::f64::consts::FRAC_2_SQRT_PI;
            assert!(ulps(erf_f32(x), exact) <= 1.0, "{x}: {}", erf_f32(x));
        }
    }
}
