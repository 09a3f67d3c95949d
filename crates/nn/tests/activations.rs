//! Every activation: its first and second derivatives against central finite differences in
//! f64 on random shapes (zero-size ones included), and its values against closed forms and
//! PyTorch's definitions.

use nn::Activation;
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::testing::OPTIONS;
use tensor::{Tensor, gradcheck, gradgradcheck};

fn all() -> Vec<Activation> {
    vec![
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::Identity,
        Activation::leaky_relu(),
        Activation::LeakyRelu {
            negative_slope: -0.3,
        },
        Activation::Gelu,
        Activation::GeluTanh,
        Activation::Silu,
        Activation::softplus(),
        Activation::Softplus {
            beta: 2.5,
            threshold: 20.0,
        },
    ]
}

/// Whether `activation` has a kink at 0 (where finite differences straddle two slopes).
fn kinked(activation: Activation) -> bool {
    matches!(activation, Activation::Relu | Activation::LeakyRelu { .. })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn activation_derivatives_match_finite_differences(
        which in 0usize..11,
        shape in prop::collection::vec(0usize..=3, 0..=3),
        seed in any::<u64>(),
    ) {
        let activation = all()[which];
        let x = Tensor::<f64>::rand_uniform(&shape, -3.0, 3.0, &mut StdRng::seed_from_u64(seed));
        prop_assume!(!kinked(activation) || x.to_vec().iter().all(|v| v.abs() > 1e-3));
        let w = Tensor::<f64>::rand_uniform(&shape, -1.0, 1.0, &mut StdRng::seed_from_u64(!seed));
        let f = |xs: &[Tensor<f64>]| activation.apply(&xs[0])?.try_mul(&w)?.try_sum();
        gradcheck(f, std::slice::from_ref(&x), &OPTIONS)
            .map_err(|e| TestCaseError::fail(format!("{activation:?}: {e}")))?;
        gradgradcheck(f, std::slice::from_ref(&x), &OPTIONS)
            .map_err(|e| TestCaseError::fail(format!("{activation:?}: {e}")))?;
    }
}

fn values(activation: Activation, x: &[f64]) -> Vec<f64> {
    let x = Tensor::<f64>::from_vec(x.to_vec(), &[x.len()]).expect("a vector");
    activation.apply(&x).expect("applies").to_vec()
}

fn close(got: &[f64], want: &[f64], tolerance: f64) {
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tolerance, "got {got:?}, want {want:?}");
    }
}

#[test]
fn values_follow_the_definitions() {
    let x = [-3.0, -0.5, 0.0, 0.7, 2.0];
    let phi = |v: f64| 0.5 * (1.0 + erf(v / std::f64::consts::SQRT_2));
    let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
    let gelu: Vec<f64> = x.iter().map(|&v| v * phi(v)).collect();
    close(&values(Activation::Gelu, &x), &gelu, 1e-15);
    let tanh_form: Vec<f64> = x
        .iter()
        .map(|&v| {
            0.5 * v
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v * v * v)).tanh())
        })
        .collect();
    close(&values(Activation::GeluTanh, &x), &tanh_form, 1e-15);
    // The tanh form stays within 1e-3 of the exact GELU.
    close(&tanh_form, &gelu, 1e-3);
    let silu: Vec<f64> = x.iter().map(|&v| v * sigmoid(v)).collect();
    close(&values(Activation::Silu, &x), &silu, 1e-15);
    // Leaky ReLU is exact on both sides.
    assert_eq!(
        values(Activation::leaky_relu(), &x),
        vec![-0.03, -0.005, 0.0, 0.7, 2.0]
    );
    let softplus: Vec<f64> = x.iter().map(|&v| (1.0 + v.exp()).ln()).collect();
    close(&values(Activation::softplus(), &x), &softplus, 1e-15);
}

#[test]
fn softplus_is_linear_past_the_threshold_and_never_overflows() {
    let x = [-800.0, 19.0, 25.0, 1000.0];
    let y = values(Activation::softplus(), &x);
    assert_eq!(y[0], 0.0);
    assert!((y[1] - (1.0 + 19f64.exp()).ln()).abs() < 1e-12);
    assert_eq!(&y[2..], &[25.0, 1000.0]);
    // The gradient past the threshold is 1, and 0 far below: no NaN from the branch not
    // taken.
    let t = Tensor::<f64>::from_vec(x.to_vec(), &[4])
        .expect("four")
        .require_grad();
    let grads = Activation::softplus()
        .apply(&t)
        .expect("applies")
        .sum()
        .backward();
    let g = grads.get(&t).expect("tracked").to_vec();
    assert_eq!(&g[2..], &[1.0, 1.0]);
    assert_eq!(g[0], 0.0);
    // β scales the sharpness: ln(1 + e^(β x)) / β.
    let beta = Activation::Softplus {
        beta: 2.0,
        threshold: 20.0,
    };
    close(
        &values(beta, &[0.5]),
        &[(1.0 + 1f64.exp()).ln() / 2.0],
        1e-15,
    );
}

#[test]
fn a_softplus_without_a_positive_beta_is_an_error() {
    let x = Tensor::<f64>::zeros(&[2]);
    for beta in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = Activation::Softplus {
            beta,
            threshold: 20.0,
        }
        .apply(&x)
        .unwrap_err();
        assert!(e.to_string().starts_with("softplus: beta must be"), "{e}");
    }
    let nan = Activation::Softplus {
        beta: 1.0,
        threshold: f64::NAN,
    };
    assert!(nan.apply(&x).is_err());
}

#[test]
fn gains_follow_pytorchs_calculate_gain() {
    assert_eq!(
        Activation::leaky_relu().gain(),
        (2.0f64 / (1.0 + 0.01 * 0.01)).sqrt()
    );
    assert_eq!(Activation::Gelu.gain(), std::f64::consts::SQRT_2);
    assert_eq!(Activation::Tanh.gain(), 5.0 / 3.0);
}

/// erf by its Taylor series, enough terms for |x| ≤ 3 to reach f64's precision: an
/// independent check of the library's erf.
fn erf(x: f64) -> f64 {
    let mut term = x;
    let mut total = x;
    for n in 1..200 {
        term *= -x * x / n as f64;
        total += term / (2 * n + 1) as f64;
    }
    total * std::f64::consts::FRAC_2_SQRT_PI
}
