//! The functional transforms against closed forms and finite differences: gradients, nesting,
//! VJPs and JVPs, Jacobians by both routes, Hessians (the Rosenbrock function's closed form)
//! and Hessian-vector products.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Result, Tensor, func};

fn random(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::rand_uniform(shape, -1.0, 1.0, &mut StdRng::seed_from_u64(seed))
}

fn close(got: &Tensor<f64>, want: &[f64], tolerance: f64) {
    let got = got.to_vec();
    assert_eq!(got.len(), want.len(), "{got:?} against {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= tolerance * w.abs().max(1.0),
            "{got:?} against {want:?}"
        );
    }
}

/// Rosenbrock's function of x: [2], and its Hessian in closed form.
fn rosenbrock(xs: &[Tensor<f64>]) -> Result<Tensor<f64>> {
    let (x, y) = (xs[0].try_narrow(0, 0, 1)?, xs[0].try_narrow(0, 1, 1)?);
    let a = x.try_sub(&Tensor::scalar(1.0))?.try_square()?;
    let b = y
        .try_sub(&x.try_square()?)?
        .try_square()?
        .try_mul(&Tensor::scalar(100.0))?;
    a.try_add(&b)?.try_sum()
}

fn rosenbrock_hessian(x: f64, y: f64) -> [f64; 4] {
    [
        2.0 - 400.0 * y + 1200.0 * x * x,
        -400.0 * x,
        -400.0 * x,
        200.0,
    ]
}

#[test]
fn grad_and_value_and_grad_match_closed_forms() {
    let (x, y) = (random(&[3], 1), random(&[3], 2));
    let f = |xs: &[Tensor<f64>]| xs[0].try_square()?.try_mul(&xs[1])?.try_sum();
    let (value, grads) = func::value_and_grad(f, &[x.clone(), y.clone()]).unwrap();
    let (xv, yv) = (x.to_vec(), y.to_vec());
    let want: f64 = xv.iter().zip(&yv).map(|(a, b)| a * a * b).sum();
    assert!((value.item() - want).abs() < 1e-15);
    assert!(!value.requires_grad() && !grads[0].requires_grad());
    close(
        &grads[0],
        &xv.iter()
            .zip(&yv)
            .map(|(a, b)| 2.0 * a * b)
            .collect::<Vec<_>>(),
        1e-15,
    );
    close(
        &grads[1],
        &xv.iter().map(|a| a * a).collect::<Vec<_>>(),
        1e-15,
    );
    // An input f does not use gets zeros.
    let unused = func::grad(|xs: &[Tensor<f64>]| xs[0].try_sum(), &[x.clone(), y]).unwrap();
    assert_eq!(unused[1].to_vec(), vec![0.0; 3]);
    let e = func::grad(|xs: &[Tensor<f64>]| Ok(xs[0].clone()), &[x]).unwrap_err();
    assert!(e.to_string().contains("grad"), "{e}");
}

#[test]
fn grad_of_grad_is_the_second_derivative() {
    let x = random(&[4], 3);
    let cube = |xs: &[Tensor<f64>]| xs[0].try_powf(3.0)?.try_sum();
    // d/dx sum(d/dx sum(x³)) = d/dx sum(3x²) = 6x
    let second = func::grad(
        |xs: &[Tensor<f64>]| func::grad(cube, xs)?[0].try_sum(),
        std::slice::from_ref(&x),
    )
    .unwrap();
    close(
        &second[0],
        &x.to_vec().iter().map(|v| 6.0 * v).collect::<Vec<_>>(),
        1e-14,
    );
}

/// y = [x0 x1, x1², e^x0] of x: [2], and its Jacobian.
fn curve(xs: &[Tensor<f64>]) -> Result<Tensor<f64>> {
    let (a, b) = (xs[0].try_narrow(0, 0, 1)?, xs[0].try_narrow(0, 1, 1)?);
    Tensor::try_concat(&[a.try_mul(&b)?, b.try_square()?, a.try_exp()?], 0)
}

fn curve_jacobian(a: f64, b: f64) -> Vec<f64> {
    vec![b, a, 0.0, 2.0 * b, a.exp(), 0.0]
}

#[test]
fn vjp_jvp_and_both_jacobians_match_the_closed_form() {
    let x = random(&[2], 4);
    let (a, b) = (x.to_vec()[0], x.to_vec()[1]);
    let j = curve_jacobian(a, b);
    let reverse = func::jacobian(curve, std::slice::from_ref(&x)).unwrap();
    assert_eq!(reverse[0].shape(), &[3, 2]);
    close(&reverse[0], &j, 1e-15);
    let forward = func::jacobian_forward(curve, std::slice::from_ref(&x)).unwrap();
    assert_eq!(forward[0].shape(), &[3, 2]);
    close(&forward[0], &j, 1e-15);
    let u = Tensor::from_vec(vec![0.5, -1.0, 2.0], &[3]).unwrap();
    let (y, pulled) = func::vjp(curve, std::slice::from_ref(&x), &u).unwrap();
    close(&y, &[a * b, b * b, a.exp()], 1e-15);
    let uj: Vec<f64> = (0..2)
        .map(|c| (0..3).map(|r| u.to_vec()[r] * j[r * 2 + c]).sum())
        .collect();
    close(&pulled[0], &uj, 1e-15);
    let v = Tensor::from_vec(vec![0.3, -0.7], &[2]).unwrap();
    let (_, jv) = func::jvp(curve, std::slice::from_ref(&x), std::slice::from_ref(&v)).unwrap();
    let want: Vec<f64> = (0..3)
        .map(|r| j[r * 2] * 0.3 + j[r * 2 + 1] * -0.7)
        .collect();
    close(&jv, &want, 1e-15);
    // And against central differences.
    let h = 1e-6;
    let shifted = |s: f64| {
        let moved = Tensor::from_vec(vec![a + s * 0.3, b - s * 0.7], &[2]).unwrap();
        curve(&[moved]).unwrap().to_vec()
    };
    let (plus, minus) = (shifted(h), shifted(-h));
    let numeric: Vec<f64> = plus
        .iter()
        .zip(&minus)
        .map(|(p, m)| (p - m) / (2.0 * h))
        .collect();
    close(&jv, &numeric, 1e-8);
}

#[test]
fn hessians_and_hvps_match_the_rosenbrock_closed_form() {
    for seed in 0..5 {
        let x = random(&[2], 10 + seed);
        let (a, b) = (x.to_vec()[0], x.to_vec()[1]);
        let want = rosenbrock_hessian(a, b);
        let h = func::hessian(rosenbrock, std::slice::from_ref(&x)).unwrap();
        assert_eq!(h[0][0].shape(), &[2, 2]);
        close(&h[0][0], &want, 1e-13);
        let v = random(&[2], 20 + seed);
        let (v0, v1) = (v.to_vec()[0], v.to_vec()[1]);
        let hv = func::hvp(
            rosenbrock,
            std::slice::from_ref(&x),
            std::slice::from_ref(&v),
        )
        .unwrap();
        close(
            &hv[0],
            &[want[0] * v0 + want[1] * v1, want[2] * v0 + want[3] * v1],
            1e-13,
        );
    }
}

#[test]
fn hessian_blocks_over_two_inputs() {
    // f = sum(x · y) + sum(x²): H_xx = 2I, H_xy = H_yx = I, H_yy = 0.
    let (x, y) = (random(&[2], 30), random(&[2], 31));
    let f = |xs: &[Tensor<f64>]| {
        xs[0]
            .try_mul(&xs[1])?
            .try_sum()?
            .try_add(&xs[0].try_square()?.try_sum()?)
    };
    let h = func::hessian(f, &[x.clone(), y.clone()]).unwrap();
    assert_eq!(h[0][0].to_vec(), vec![2.0, 0.0, 0.0, 2.0]);
    assert_eq!(h[0][1].to_vec(), vec![1.0, 0.0, 0.0, 1.0]);
    assert_eq!(h[1][0].to_vec(), vec![1.0, 0.0, 0.0, 1.0]);
    assert_eq!(h[1][1].to_vec(), vec![0.0; 4]);
    let vs = [random(&[2], 32), random(&[2], 33)];
    let hv = func::hvp(f, &[x, y], &vs).unwrap();
    let (p, q) = (vs[0].to_vec(), vs[1].to_vec());
    close(&hv[0], &[2.0 * p[0] + q[0], 2.0 * p[1] + q[1]], 1e-15);
    close(&hv[1], &p, 1e-15);
}

#[test]
fn bad_tangents_and_non_scalar_outputs_are_errors() {
    let x = random(&[2], 40);
    let wrong = random(&[3], 41);
    let e = func::jvp(
        curve,
        std::slice::from_ref(&x),
        std::slice::from_ref(&wrong),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "jvp: the tangent has shape [3], not [2]");
    let e = func::jvp(curve, std::slice::from_ref(&x), &[]).unwrap_err();
    assert_eq!(e.to_string(), "jvp: 0 tangents for 1 inputs");
    assert!(func::hessian(curve, std::slice::from_ref(&x)).is_err());
    assert!(
        func::hvp(
            rosenbrock,
            std::slice::from_ref(&x),
            std::slice::from_ref(&wrong)
        )
        .is_err()
    );
    // The curve's output is [3]: a cotangent of the input's shape does not fit it.
    let e = func::vjp(curve, std::slice::from_ref(&x), &x).unwrap_err();
    assert_eq!(e.to_string(), "vjp: the cotangent has shape [2], not [3]");
}

#[test]
fn gradients_accept_a_reference_to_a_reference() {
    let inputs = [
        random(&[2], 50).require_grad(),
        random(&[2], 51).require_grad(),
    ];
    let loss = inputs[0].try_mul(&inputs[1]).unwrap().sum();
    let grads = loss.backward();
    for x in &inputs {
        assert!(grads.get(&x).is_some());
    }
}
