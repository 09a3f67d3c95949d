//! The finite-difference checker itself: it passes correct gradients, and reports a wrong one
//! by input, element and both values, in full and fast mode, first and second order.

use tensor::{GradcheckError, GradcheckMode, GradcheckOptions, Tensor, gradcheck, gradgradcheck};

fn x() -> Tensor<f64> {
    Tensor::from_vec(vec![0.5, -1.5, 2.0, 1.0], &[2, 2]).expect("4 values")
}

#[test]
fn correct_gradients_pass_in_both_modes() {
    for mode in [GradcheckMode::Full, GradcheckMode::Fast { seed: 3 }] {
        let options = GradcheckOptions {
            mode,
            ..Default::default()
        };
        // A non-scalar output: the full mode checks every Jacobian entry.
        gradcheck(|xs| xs[0].try_matmul(&xs[1].tanh()), &[x(), x()], &options).unwrap();
        gradgradcheck(|xs| xs[0].try_matmul(&xs[1].tanh()), &[x(), x()], &options).unwrap();
    }
}

#[test]
fn a_wrong_gradient_is_reported_with_its_location() {
    // f(x) = x * detach(x): the graph sees d/dx = x, the true derivative is 2x.
    let f = |xs: &[Tensor<f64>]| xs[0].try_mul(&xs[0].detach());
    let err = gradcheck(f, &[x()], &GradcheckOptions::default()).unwrap_err();
    assert_eq!(
        err,
        GradcheckError::Mismatch {
            order: 1,
            input: Some(0),
            element: Some(vec![0, 0]),
            output: Some(vec![0, 0]),
            analytic: 0.5,
            numeric: err_numeric(&err),
        }
    );
    assert!((err_numeric(&err) - 1.0).abs() < 1e-6);
    assert!(err.to_string().starts_with(
        "gradient mismatch for input 0 at element [0, 0] (output element [0, 0]): analytic 0.5, numeric"
    ));
    let fast = GradcheckOptions {
        mode: GradcheckMode::Fast { seed: 1 },
        ..Default::default()
    };
    let err = gradcheck(f, &[x()], &fast).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("gradient mismatch along a random direction"),
        "{err}"
    );
}

#[test]
fn a_wrong_second_derivative_is_reported() {
    // f(x) = sum(detach(exp(x)) * (x - detach(x) + 1)): the values are exp(x) and the
    // recorded gradient is detach(exp(x)), numerically right; but that gradient is a
    // constant in the graph, so the recorded second derivative is 0 instead of exp(x).
    let f = |xs: &[Tensor<f64>]| {
        let x = &xs[0];
        let e = x.try_exp()?.detach();
        let one_with_slope = x.try_sub(&x.detach())? + 1.0;
        e.try_mul(&one_with_slope)?.try_sum()
    };
    gradcheck(f, &[x()], &GradcheckOptions::default()).expect("first order is right");
    let err = gradgradcheck(f, &[x()], &GradcheckOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            GradcheckError::Mismatch {
                order: 2,
                analytic: 0.0,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().starts_with("second derivative mismatch"),
        "{err}"
    );
}

#[test]
fn a_failing_function_is_reported() {
    let err = gradcheck(
        |xs| xs[0].try_matmul(&xs[0].sum()),
        &[x()],
        &Default::default(),
    )
    .unwrap_err();
    assert!(matches!(err, GradcheckError::Function(_)), "{err}");
}

fn err_numeric(err: &GradcheckError) -> f64 {
    match err {
        GradcheckError::Mismatch { numeric, .. } => *numeric,
        GradcheckError::Function(e) => panic!("unexpected {e}"),
        _ => panic!("unexpected {err}"),
    }
}
