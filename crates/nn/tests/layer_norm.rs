//! Layer normalisation: first and second derivatives with respect to the input, the weight
//! and the bias against central finite differences in f64, values against the closed form,
//! and every bad argument an error naming it.

use nn::{LayerNorm, Module, layer_norm};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::testing::OPTIONS;
use tensor::{Tensor, gradcheck, gradgradcheck};

fn random(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::rand_uniform(shape, -2.0, 2.0, &mut StdRng::seed_from_u64(seed))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn layer_norm_derivatives_match_finite_differences(
        leading in prop::collection::vec(0usize..=3, 0..=2),
        normalized in prop::collection::vec(1usize..=3, 1..=2),
        affine in any::<bool>(),
        eps in prop_oneof![Just(1e-5), Just(0.5)],
        seed in any::<u64>(),
    ) {
        let shape: Vec<usize> = leading.iter().chain(&normalized).copied().collect();
        // A normalized group of one element has zero variance: its output is 0 whatever the
        // input, and the derivative through √eps is huge. Groups of two or more only.
        prop_assume!(normalized.iter().product::<usize>() >= 2);
        let mut inputs = vec![random(&shape, seed)];
        if affine {
            inputs.push(random(&normalized, seed ^ 1));
            inputs.push(random(&normalized, seed ^ 2));
        }
        let w = random(&shape, !seed);
        let f = |xs: &[Tensor<f64>]| {
            let (weight, bias) = (xs.get(1), xs.get(2));
            layer_norm(&xs[0], &normalized, weight, bias, eps)?.try_mul(&w)?.try_sum()
        };
        gradcheck(f, &inputs, &OPTIONS).map_err(|e| TestCaseError::fail(e.to_string()))?;
        gradgradcheck(f, &inputs, &OPTIONS).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}

#[test]
fn values_are_the_closed_form_and_the_module_has_pytorchs_defaults() {
    let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0, -1.0, 0.0, 0.0, 5.0], &[2, 4])
        .expect("eight values");
    let norm = LayerNorm::<f64>::new(&[4]);
    let names: Vec<String> = norm
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["weight", "bias"]);
    assert_eq!(
        norm.weight().expect("affine").tensor().to_vec(),
        vec![1.0; 4]
    );
    let y = norm.forward(&x).to_vec();
    for (row, values) in [[1.0, 2.0, 3.0, 4.0], [-1.0, 0.0, 0.0, 5.0]]
        .iter()
        .enumerate()
    {
        let mean = values.iter().sum::<f64>() / 4.0;
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 4.0;
        for (j, v) in values.iter().enumerate() {
            let want = (v - mean) / (var + 1e-5).sqrt();
            assert!((y[row * 4 + j] - want).abs() < 1e-14, "{row},{j}");
        }
    }
    // Over the last two dimensions, with weight and bias.
    let x3 = Tensor::<f64>::from_vec((0..12).map(f64::from).collect(), &[1, 3, 4]).unwrap();
    let flat = layer_norm(&x3.reshape(&[1, 12]), &[12], None, None, 1e-5).unwrap();
    let two = layer_norm(&x3, &[3, 4], None, None, 1e-5).unwrap();
    assert_eq!(two.to_vec(), flat.to_vec());
    let weight = Tensor::<f64>::full(&[3, 4], 2.0);
    let bias = Tensor::<f64>::full(&[3, 4], 0.5);
    let affine = layer_norm(&x3, &[3, 4], Some(&weight), Some(&bias), 1e-5).unwrap();
    let want: Vec<f64> = flat.to_vec().iter().map(|v| v * 2.0 + 0.5).collect();
    assert_eq!(affine.to_vec(), want);
    // Zero-size leading dimensions give an empty output.
    let empty = LayerNorm::<f64>::new(&[4]).forward(&Tensor::zeros(&[0, 4]));
    assert_eq!(empty.shape(), &[0, 4]);
    // Without the affine part there are no parameters.
    assert!(
        LayerNorm::<f64>::new(&[4])
            .without_affine()
            .named_parameters()
            .is_empty()
    );
    assert_eq!(
        LayerNorm::<f64>::new(&[4])
            .without_bias()
            .named_parameters()
            .len(),
        1
    );
}

#[test]
fn bad_arguments_are_errors_naming_them() {
    let x = Tensor::<f64>::zeros(&[2, 3]);
    let message = |r: tensor::Result<Tensor<f64>>| r.unwrap_err().to_string();
    assert_eq!(
        message(layer_norm(&x, &[4], None, None, 1e-5)),
        "layer_norm: an input of shape [2, 3] does not end with the normalized shape [4]"
    );
    assert!(message(layer_norm(&x, &[], None, None, 1e-5)).contains("normalized shape []"));
    assert!(message(layer_norm(&x, &[1, 2, 3], None, None, 1e-5)).contains("[1, 2, 3]"));
    let w = Tensor::<f64>::ones(&[2]);
    assert_eq!(
        message(layer_norm(&x, &[3], Some(&w), None, 1e-5)),
        "layer_norm: the weight has shape [2], not the normalized shape [3]"
    );
    assert!(message(layer_norm(&x, &[3], None, Some(&w), 1e-5)).contains("the bias has shape [2]"));
    for eps in [-1.0, f64::NAN, f64::INFINITY] {
        assert!(message(layer_norm(&x, &[3], None, None, eps)).contains("eps must be"));
    }
    let e = LayerNorm::<f64>::new(&[3])
        .eps(-1.0)
        .try_forward(&x)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("eps must be finite and at least 0, got -1"),
        "{e}"
    );
}
