//! The error function and `log1p` against reference values, in both element types.

use tensor::{Element, Tensor};

/// `erf` at a few points, correctly rounded to f64 (as Python's `math.erf` and tables give
/// them); the test also checks its odd symmetry and limits.
const ERF: [(f64, f64); 5] = [
    (0.0, 0.0),
    (0.1, 0.112_462_916_018_284_9),
    (0.5, 0.520_499_877_813_046_5),
    (1.0, 0.842_700_792_949_714_9),
    (2.5, 0.999_593_047_982_555),
];

fn erf_matches<T: Element>(tolerance: f64) {
    for (x, want) in ERF {
        for (x, want) in [(x, want), (-x, -want)] {
            let got = Tensor::<T>::scalar(T::of_f64(x)).erf().item().as_f64();
            assert!(
                (got - want).abs() <= tolerance,
                "erf({x}) = {got}, want {want}"
            );
        }
    }
    let limits = Tensor::<T>::from_vec(vec![T::infinity(), T::neg_infinity(), T::nan()], &[3])
        .expect("three values")
        .erf()
        .to_vec();
    assert_eq!((limits[0].as_f64(), limits[1].as_f64()), (1.0, -1.0));
    assert!(limits[2].is_nan());
}

#[test]
fn erf_matches_reference_values() {
    erf_matches::<f64>(1e-16);
    erf_matches::<f32>(1e-7);
}

#[test]
fn log1p_keeps_the_digits_of_small_arguments() {
    // ln(1 + 1e-10) = 1e-10 - 5e-21 + ..., which (1 + x).ln() rounds to about 1.00000008e-10.
    let x = Tensor::<f64>::from_vec(vec![1e-10, -0.5, 0.0, -1.0, -2.0], &[5]).expect("five");
    let y = x.log1p().to_vec();
    assert!((y[0] - (1e-10 - 5e-21)).abs() <= 1e-26, "{}", y[0]);
    assert_eq!(y[1], (0.5f64).ln());
    assert_eq!(y[2], 0.0);
    assert_eq!(y[3], f64::NEG_INFINITY);
    assert!(y[4].is_nan());
}
