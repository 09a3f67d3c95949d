//! Loss values against their closed forms, including the extremes where a naive formula
//! overflows or takes the logarithm of 0.

use nn::{Reduction, bce_loss, bce_with_logits_loss, cross_entropy, mse_loss};
use tensor::Tensor;

type T = Tensor<f64>;

fn t(values: &[f64]) -> T {
    T::from_vec(values.to_vec(), &[values.len()]).unwrap()
}

#[test]
fn mse_matches_its_definition() {
    // ((1 - 0)² + (2 - 4)² + (3 - 3)²) / 3 = 5 / 3
    assert_eq!(
        mse_loss(&t(&[1.0, 2.0, 3.0]), &t(&[0.0, 4.0, 3.0])).item(),
        5.0 / 3.0
    );
    let none = nn::try_mse_loss(&t(&[1.0, 2.0]), &t(&[0.0, 4.0]), Reduction::None).unwrap();
    assert_eq!(none.to_vec(), vec![1.0, 4.0]);
    let err = nn::try_mse_loss(&T::zeros(&[4, 1]), &T::zeros(&[4]), Reduction::Mean).unwrap_err();
    assert_eq!(
        err.to_string(),
        "mse_loss: the prediction has shape [4, 1] but the target has shape [4]"
    );
}

#[test]
fn bce_at_zero_and_one_is_finite_and_clamped_at_100() {
    // -(t ln p + (1 - t) ln(1 - p)) with each log clamped at -100:
    // p = 0, t = 1 -> 100; p = 1, t = 0 -> 100; p = 0, t = 0 -> 0; p = 1, t = 1 -> 0
    let p = t(&[0.0, 1.0, 0.0, 1.0]).require_grad();
    let target = t(&[1.0, 0.0, 0.0, 1.0]);
    let losses = nn::try_bce_loss(&p, &target, Reduction::None).unwrap();
    assert_eq!(losses.to_vec(), vec![100.0, 100.0, 0.0, 0.0]);
    let grads = losses.sum().backward();
    assert!(
        grads
            .get(&p)
            .unwrap()
            .to_vec()
            .iter()
            .all(|g| g.is_finite())
    );
    // Inside (0, 1) it is the plain formula: p = 0.25, t = 1 -> ln 4
    assert!((bce_loss(&t(&[0.25]), &t(&[1.0])).item() - 4f64.ln()).abs() < 1e-15);
    // f32 agrees on the clamp.
    let p32 = Tensor::<f32>::from_vec(vec![0.0, 1.0], &[2]).unwrap();
    let t32 = Tensor::<f32>::from_vec(vec![1.0, 0.0], &[2]).unwrap();
    let l32 = nn::try_bce_loss(&p32, &t32, Reduction::None)
        .unwrap()
        .to_vec();
    assert!(l32.iter().all(|&l| (l - 100.0).abs() < 1e-4), "{l32:?}");
    let err = nn::try_bce_loss(&t(&[1.5]), &t(&[1.0]), Reduction::Mean).unwrap_err();
    assert_eq!(
        err.to_string(),
        "bce_loss: predictions must be probabilities in [0, 1], got 1.5"
    );
}

#[test]
fn bce_with_logits_is_exact_at_huge_logits() {
    // softplus(x) - x t: x = 1000 -> 1000 (1 - t); x = -1000 -> 1000 t
    let x = t(&[1000.0, 1000.0, -1000.0, -1000.0]).require_grad();
    let target = t(&[1.0, 0.0, 1.0, 0.0]);
    let losses = nn::try_bce_with_logits_loss(&x, &target, Reduction::None).unwrap();
    assert_eq!(losses.to_vec(), vec![0.0, 1000.0, 1000.0, 0.0]);
    // d/dx = sigmoid(x) - t: exactly 0, 1, -1, 0
    let grads = losses.sum().backward();
    assert_eq!(grads.get(&x).unwrap().to_vec(), vec![0.0, 1.0, -1.0, 0.0]);
    // At x = 0 the loss is ln 2 and the gradient 1/2 - t.
    let zero = t(&[0.0]).require_grad();
    let loss = bce_with_logits_loss(&zero, &t(&[1.0]));
    assert!((loss.item() - 2f64.ln()).abs() < 1e-15);
    assert_eq!(loss.backward().get(&zero).unwrap().item(), -0.5);
    // It agrees with bce_loss on sigmoid outputs where both are exact.
    let x = t(&[-2.0, 0.3, 4.0]);
    let y = t(&[0.0, 1.0, 0.5]);
    let a = bce_with_logits_loss(&x, &y).item();
    let b = bce_loss(&x.sigmoid(), &y).item();
    assert!((a - b).abs() < 1e-12, "{a} vs {b}");
}

#[test]
fn cross_entropy_picks_the_target_log_probability() {
    // Row 0: logits [0, ln 3] -> softmax [1/4, 3/4]; class 1 -> -ln(3/4)
    // Row 1: logits [5, 5] -> [1/2, 1/2]; class 0 -> ln 2
    let logits = T::from_vec(vec![0.0, 3f64.ln(), 5.0, 5.0], &[2, 2]).unwrap();
    let per_row = nn::try_cross_entropy(
        &logits,
        &Tensor::<i64>::from_slice(&[1, 0]),
        Reduction::None,
    )
    .unwrap()
    .to_vec();
    assert!((per_row[0] - (4.0f64 / 3.0).ln()).abs() < 1e-15);
    assert!((per_row[1] - 2f64.ln()).abs() < 1e-15);
    assert!(
        (cross_entropy(&logits, &Tensor::<i64>::from_slice(&[1, 0])).item()
            - (per_row[0] + per_row[1]) / 2.0)
            .abs()
            < 1e-15
    );
    // Huge logits stay finite.
    let huge = T::from_vec(vec![1000.0, -1000.0], &[1, 2]).unwrap();
    assert_eq!(
        cross_entropy(&huge, &Tensor::<i64>::from_slice(&[1])).item(),
        2000.0
    );
    assert!(
        nn::try_cross_entropy(
            &logits,
            &Tensor::<i64>::from_slice(&[2, 0]),
            Reduction::Mean
        )
        .unwrap_err()
        .to_string()
        .contains("index 2 is out of range for dimension 1 of size 2")
    );
    assert!(
        nn::try_cross_entropy(&logits, &Tensor::<i64>::from_slice(&[0]), Reduction::Mean).is_err()
    );
    assert!(
        nn::try_cross_entropy(
            &t(&[1.0]),
            &Tensor::<i64>::from_slice(&[0]),
            Reduction::Mean
        )
        .is_err()
    );
}
