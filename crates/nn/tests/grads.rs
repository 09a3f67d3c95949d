//! Gradients of layers and losses match central finite differences in f64, with respect to
//! inputs and parameters, on random shapes.

use nn::{Activation, Dense, Module, Reduction};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::testing::OPTIONS;
use tensor::{Parameter, Tensor, gradcheck, no_grad};

type T = Tensor<f64>;

fn random(shape: &[usize], seed: u64) -> T {
    T::rand_uniform(shape, -1.0, 1.0, &mut StdRng::seed_from_u64(seed))
}

/// Checks d loss / d p for every element of every parameter against central differences,
/// perturbing the parameter in place through its handle.
fn check_parameters(params: &[Parameter<f64>], loss: impl Fn() -> T) -> Result<(), String> {
    let grads = loss().backward();
    for (k, p) in params.iter().enumerate() {
        let analytic = grads
            .get(p)
            .ok_or(format!("parameter {k} got no gradient"))?
            .to_vec();
        let original = p.tensor().to_vec();
        for j in 0..original.len() {
            let at = |delta: f64| {
                let mut moved = original.clone();
                moved[j] += delta;
                p.set(T::from_vec(moved, &p.shape()).expect("same shape"));
                no_grad(|| loss().item())
            };
            let numeric = (at(OPTIONS.eps) - at(-OPTIONS.eps)) / (2.0 * OPTIONS.eps);
            p.set(T::from_vec(original.clone(), &p.shape()).expect("same shape"));
            let tolerance = OPTIONS.atol + OPTIONS.rtol * numeric.abs();
            if (analytic[j] - numeric).abs() > tolerance {
                return Err(format!(
                    "parameter {k} element {j}: analytic {}, numeric {numeric}",
                    analytic[j]
                ));
            }
        }
    }
    Ok(())
}

fn activations() -> impl Strategy<Value = Activation> {
    prop_oneof![
        Just(Activation::Sigmoid),
        Just(Activation::Tanh),
        Just(Activation::Relu),
        Just(Activation::Identity),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn dense_grads_match_finite_difference(
        activation in activations(),
        batch in prop::collection::vec(1usize..=3, 0..=2),
        inputs in 1usize..=4,
        outputs in 1usize..=3,
        bias in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let layer = if bias {
            Dense::<f64>::new(inputs, outputs, activation, &mut rng)
        } else {
            Dense::<f64>::without_bias(inputs, outputs, activation, &mut rng)
        };
        if let Some(b) = layer.bias() {
            // A zero bias would put ReLU's kink right at x = 0 for a zero input row.
            b.set(random(&[outputs], seed ^ 1));
        }
        let x_shape: Vec<usize> = batch.iter().copied().chain([inputs]).collect();
        let x = random(&x_shape, seed ^ 2);
        let out_shape: Vec<usize> = batch.iter().copied().chain([outputs]).collect();
        let w = random(&out_shape, seed ^ 3);
        // No pre-activation within reach of ReLU's kink.
        let z = no_grad(|| Dense::from_parameters(layer.weight().clone(), layer.bias().cloned(), Activation::Identity).unwrap().forward(&x));
        prop_assume!(activation != Activation::Relu || z.to_vec().iter().all(|v| v.abs() > 1e-3));
        // With respect to the input.
        gradcheck(|xs| layer.try_forward(&xs[0])?.try_mul(&w)?.try_sum(), std::slice::from_ref(&x), &OPTIONS)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        // With respect to the weight and the bias.
        check_parameters(&layer.parameters(), || (layer.forward(&x) * &w).sum())
            .map_err(TestCaseError::fail)?;
    }

    #[test]
    fn loss_grads_match_finite_difference(
        shape in prop::collection::vec(1usize..=3, 0..=3),
        reduction in prop_oneof![Just(Reduction::Mean), Just(Reduction::Sum), Just(Reduction::None)],
        seed in any::<u64>(),
    ) {
        let pred = random(&shape, seed);
        let target = random(&shape, seed ^ 1);
        let project = |loss: T| {
            let w = random(loss.shape(), seed ^ 2);
            loss.try_mul(&w)?.try_sum()
        };
        // mse: both arguments are differentiable.
        gradcheck(|xs| project(nn::try_mse_loss(&xs[0], &xs[1], reduction)?), &[pred.clone(), target.clone()], &OPTIONS)
            .map_err(|e| TestCaseError::fail(format!("mse: {e}")))?;
        // bce: probabilities away from 0 and 1, targets in [0, 1].
        let probs = (&pred * 0.4) + 0.5;
        let soft_targets = (&target * 0.5) + 0.5;
        gradcheck(|xs| project(nn::try_bce_loss(&xs[0], &xs[1], reduction)?), &[probs, soft_targets.clone()], &OPTIONS)
            .map_err(|e| TestCaseError::fail(format!("bce: {e}")))?;
        // bce with logits, logits spread wide (including 0 exactly).
        let mut logits = (&pred * 8.0).to_vec();
        if let Some(first) = logits.first_mut() {
            *first = 0.0;
        }
        let logits = T::from_vec(logits, &shape).unwrap();
        gradcheck(|xs| project(nn::try_bce_with_logits_loss(&xs[0], &xs[1], reduction)?), &[logits, soft_targets], &OPTIONS)
            .map_err(|e| TestCaseError::fail(format!("bce_with_logits: {e}")))?;
    }

    #[test]
    fn cross_entropy_grad_matches_finite_difference(
        rows in 1usize..=4,
        classes in 1usize..=4,
        reduction in prop_oneof![Just(Reduction::Mean), Just(Reduction::Sum), Just(Reduction::None)],
        seed in any::<u64>(),
    ) {
        let logits = &random(&[rows, classes], seed) * 3.0;
        let picked: Vec<i64> = (0..rows).map(|i| ((seed as usize).wrapping_add(i * 7) % classes) as i64).collect();
        let picked = tensor::Tensor::from_slice(&picked);
        let w = random(&[rows], seed ^ 5);
        gradcheck(
            |xs| {
                let loss = nn::try_cross_entropy(&xs[0], &picked, reduction)?;
                if reduction == Reduction::None { loss.try_mul(&w)?.try_sum() } else { Ok(loss) }
            },
            &[logits],
            &OPTIONS,
        )
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}
