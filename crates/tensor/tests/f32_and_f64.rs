//! Both element types run the same graphs; f32 gradients agree with the f64 ones to about
//! 2e-3 (f32 carries about 7 significant digits, and a small network rounds a few hundred
//! times).

use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Element, Result, Tensor};

/// A two-layer network with every kind of op: matmul, broadcast bias, sigmoid, tanh,
/// log_softmax, max, mean, and an MSE term.
fn loss<T: Element>(
    x: &Tensor<T>,
    w1: &Tensor<T>,
    b1: &Tensor<T>,
    w2: &Tensor<T>,
) -> Result<Tensor<T>> {
    let h = x.try_matmul(w1)?.try_add(b1)?.try_sigmoid()?;
    let logits = h.try_matmul(w2)?.try_tanh()?;
    let nll = logits
        .try_log_softmax(-1)?
        .try_narrow(1, 0, 1)?
        .try_mean()?
        .try_neg()?;
    let peak = logits.try_max_dim(1, false)?.try_sum()?;
    let mse = h
        .try_sub(&h.try_mean_dim(0, true)?)?
        .try_powf(T::of_f64(2.0))?
        .try_mean()?;
    nll.try_add(&peak.try_mul_scalar_f(T::of_f64(0.1))?)?
        .try_add(&mse)
}

trait MulScalar<T: Element> {
    fn try_mul_scalar_f(&self, c: T) -> Result<Tensor<T>>;
}

impl<T: Element> MulScalar<T> for Tensor<T> {
    fn try_mul_scalar_f(&self, c: T) -> Result<Tensor<T>> {
        self.try_mul(&Tensor::scalar(c))
    }
}

fn gradients<T: Element>(values: &[Tensor<f64>]) -> Vec<Vec<f64>> {
    let leaves: Vec<Tensor<T>> = values
        .iter()
        .map(|v| v.to_dtype::<T>().require_grad())
        .collect();
    let grads = loss(&leaves[0], &leaves[1], &leaves[2], &leaves[3])
        .expect("shapes fit")
        .backward();
    leaves
        .iter()
        .map(|l| {
            grads
                .get(l)
                .expect("every leaf is used")
                .to_vec()
                .into_iter()
                .map(Element::as_f64)
                .collect()
        })
        .collect()
}

#[test]
fn f32_gradients_agree_with_f64() {
    let mut rng = StdRng::seed_from_u64(42);
    let values = vec![
        Tensor::<f64>::randn(&[8, 5], 0.0, 1.0, &mut rng),
        Tensor::<f64>::randn(&[5, 6], 0.0, 0.5, &mut rng),
        Tensor::<f64>::randn(&[6], 0.0, 0.5, &mut rng),
        Tensor::<f64>::randn(&[6, 3], 0.0, 0.5, &mut rng),
    ];
    let exact = gradients::<f64>(&values);
    let single = gradients::<f32>(&values);
    for (i, (e, s)) in exact.iter().zip(&single).enumerate() {
        let scale = e.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
        for (a, b) in e.iter().zip(s) {
            assert!((a - b).abs() <= 2e-3 * scale, "input {i}: f64 {a}, f32 {b}");
        }
    }
}

#[test]
fn f32_and_f64_forward_values_agree() {
    let x = Tensor::<f64>::linspace(-10.0, 10.0, 200);
    let s64 = x.sigmoid().to_vec();
    let s32 = x.to_dtype::<f32>().sigmoid().to_vec();
    for (a, b) in s64.iter().zip(&s32) {
        assert!((a - f64::from(*b)).abs() < 1e-7);
    }
}
