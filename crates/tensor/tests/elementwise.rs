//! Elementwise kernels write every element of their output, at every size: their outputs are
//! not zeroed first, and a recycled buffer still holds the values of the tensor it came from.

use tensor::{Element, Tensor};

/// Sizes around the thresholds where the kernels go parallel (2^15 elements for maps, 2^18
/// for two-operand arithmetic), with ragged last pieces.
const SIZES: [usize; 6] = [
    7,
    100,
    (1 << 15) + 3,
    (1 << 18) - 1,
    1 << 18,
    (1 << 18) + 8_195,
];

/// Leaves a freed buffer of `len` NaNs in this thread's cache, for the next output of that
/// size to reuse.
fn poison<T: Element>(len: usize) {
    drop(Tensor::<T>::full(&[len], T::nan()));
}

fn check<T: Element>() {
    for len in SIZES {
        let x: Vec<T> = (0..len)
            .map(|i| T::of_f64((i % 97) as f64 / 10.0 - 4.0))
            .collect();
        let y: Vec<T> = (0..len)
            .map(|i| T::of_f64((i % 13) as f64 / 4.0 + 0.5))
            .collect();
        let (xt, yt) = (
            Tensor::from_vec(x.clone(), &[len]).unwrap(),
            Tensor::from_vec(y.clone(), &[len]).unwrap(),
        );

        poison::<T>(len);
        let sig = xt.sigmoid().to_vec();
        for (i, (&s, &x)) in sig.iter().zip(&x).enumerate() {
            let exact = 1.0 / (1.0 + (-x.as_f64()).exp());
            assert!(
                (s.as_f64() - exact).abs() <= 1e-6,
                "sigmoid[{i}] of {len}: {s}"
            );
        }

        poison::<T>(len);
        let product = xt.mul(&yt).to_vec();
        for (i, ((&p, &a), &b)) in product.iter().zip(&x).zip(&y).enumerate() {
            assert_eq!(p, a * b, "mul[{i}] of {len}");
        }

        poison::<T>(len);
        let neg = xt.neg().to_vec();
        for (i, (&n, &a)) in neg.iter().zip(&x).enumerate() {
            assert_eq!(n, -a, "neg[{i}] of {len}");
        }

        // Three operands: a selection by mask.
        poison::<T>(len);
        let picked = xt.gt(&yt).where_cond(&xt, &yt).to_vec();
        for (i, ((&p, &a), &b)) in picked.iter().zip(&x).zip(&y).enumerate() {
            assert_eq!(p, if a > b { a } else { b }, "where_cond[{i}] of {len}");
        }
    }
}

#[test]
fn every_element_of_a_map_is_written_f32() {
    check::<f32>();
}

#[test]
fn every_element_of_a_map_is_written_f64() {
    check::<f64>();
}

#[test]
fn gelu_has_the_same_bits_recorded_or_not_and_matches_its_definition() {
    let x =
        Tensor::<f64>::from_vec((-40..=40).map(|i| f64::from(i) / 8.0).collect(), &[81]).unwrap();
    let plain = x.gelu().to_vec();
    let recorded = x.clone().require_grad().gelu().to_vec();
    assert_eq!(plain, recorded);
    for (y, x) in plain.iter().zip(x.to_vec()) {
        let exact = x * 0.5 * (1.0 + libm_free_erf(x / std::f64::consts::SQRT_2));
        assert!((y - exact).abs() <= 1e-7, "gelu({x}) = {y}, not {exact}");
    }
    let f32s = x.to_dtype::<f32>();
    assert_eq!(
        f32s.gelu().to_vec(),
        f32s.clone().require_grad().gelu().to_vec()
    );
    assert_eq!(Tensor::<f32>::scalar(0.0).gelu_tanh().item(), 0.0);
}

/// `erf` from its series, good to 1e-9 for the |x| <= 3.6 used here: a reference that does
/// not share the library's implementation.
fn libm_free_erf(x: f64) -> f64 {
    let (mut term, mut sum, mut n) = (x, x, 0.0);
    while term.abs() > 1e-17 {
        n += 1.0;
        term *= -x * x / n;
        sum += term / (2.0 * n + 1.0);
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}
