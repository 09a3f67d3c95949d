//! Anomaly mode: inside `detect_anomaly` the first op producing a NaN or an infinity, in the
//! forward or the backward pass, is reported by name; outside, IEEE semantics hold.

use tensor::{Tensor, TensorError, detect_anomaly, is_anomaly_enabled};

type T = Tensor<f64>;

fn non_finite(err: TensorError) -> (&'static str, &'static str, Vec<usize>) {
    match err {
        TensorError::NonFinite {
            op, pass, shape, ..
        } => (op, pass, shape),
        other => panic!("expected NonFinite, got {other}"),
    }
}

#[test]
fn ln_of_zero_is_caught_at_ln() {
    let x = T::from_vec(vec![1.0, 0.0], &[2]).unwrap();
    assert_eq!(
        x.ln().to_vec()[1],
        f64::NEG_INFINITY,
        "outside anomaly mode: IEEE"
    );
    let err = detect_anomaly(|| x.exp().try_ln().and_then(|y| y.try_ln())).unwrap_err();
    assert_eq!(non_finite(err.clone()), ("ln", "forward", vec![2]));
    assert_eq!(
        err.to_string(),
        "ln: the forward pass produced -inf in a tensor of shape [2] (detect_anomaly)"
    );
}

#[test]
fn zero_over_zero_is_caught_at_div() {
    let zero = T::zeros(&[3]);
    let err = detect_anomaly(|| (&zero + 1.0).try_mul(&zero)?.try_div(&zero)).unwrap_err();
    assert_eq!(non_finite(err), ("div", "forward", vec![3]));
}

#[test]
fn sqrt_of_minus_one_is_caught_at_sqrt() {
    let x = T::from_vec(vec![4.0, -1.0], &[2]).unwrap();
    let err = detect_anomaly(|| x.try_abs()?.try_neg()?.try_sqrt()).unwrap_err();
    assert_eq!(non_finite(err), ("sqrt", "forward", vec![2]));
}

#[test]
fn a_non_finite_gradient_is_caught_in_the_backward_pass() {
    // sqrt(x) at 0 is 0, but its derivative 1 / (2 sqrt(x)) is infinite.
    let x = T::from_vec(vec![0.0, 4.0], &[2]).unwrap().require_grad();
    let y = x.sqrt().sum();
    let grads = y.backward_retain_graph();
    assert!(grads.get(&x).unwrap().to_vec()[0].is_infinite());
    let err = detect_anomaly(|| y.try_backward()).unwrap_err();
    assert_eq!(non_finite(err), ("sqrt", "backward", vec![2]));
}

#[test]
#[should_panic(expected = "exp: the forward pass produced inf")]
fn plain_ops_panic_with_the_anomaly() {
    detect_anomaly(|| T::scalar(1000.0).exp());
}

#[test]
fn an_exploding_learning_rate_is_caught_where_it_overflows() {
    // Gradient descent on f(w) = w⁴ with far too large a step: w grows geometrically until
    // w⁴ overflows. The loop reports the first op that overflows.
    let mut w = 1.5f64;
    let outcome = detect_anomaly(|| -> Result<usize, TensorError> {
        for step in 0..100 {
            let leaf = T::scalar(w).require_grad();
            let loss = leaf.try_powf(4.0)?;
            let grads = loss.try_backward()?;
            w -= 10.0 * grads.get(&leaf).expect("a leaf").item();
            let _ = step;
        }
        Ok(100)
    });
    let (op, pass, shape) = non_finite(outcome.unwrap_err());
    assert_eq!(
        (op, shape.as_slice()),
        ("powf", &[] as &[usize]),
        "pass {pass}"
    );
}

#[test]
fn anomaly_mode_is_per_thread_and_restored() {
    assert!(!is_anomaly_enabled());
    detect_anomaly(|| {
        assert!(is_anomaly_enabled());
        std::thread::scope(|s| {
            s.spawn(|| assert!(!is_anomaly_enabled())).join().unwrap();
        });
        // Another thread still computes with IEEE semantics.
        std::thread::scope(|s| {
            s.spawn(|| assert!(T::scalar(0.0).ln().item().is_infinite()))
                .join()
                .unwrap();
        });
    });
    assert!(!is_anomaly_enabled());
    let caught = std::panic::catch_unwind(|| detect_anomaly(|| panic!("inside")));
    assert!(caught.is_err());
    assert!(!is_anomaly_enabled(), "restored after a panic");
}
