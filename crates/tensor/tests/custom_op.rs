//! Users' own operations: a right backward passes the finite-difference checks to second
//! order, a wrong one is caught naming the element, a backward of the wrong shape or count is
//! an error naming the op and the input, and the op shows under its name in graphs and in
//! anomaly reports.

use std::sync::Arc;

use tensor::testing::{OPTIONS, assert_gradcheck, assert_gradgradcheck};
use tensor::{CustomOp, GradcheckError, Result, Tensor, detect_anomaly, gradcheck, graph, no_grad};

/// `a · b²` elementwise, with a backward chosen by `mistake`: right, a wrong factor, a
/// gradient of the wrong shape, or too few gradients.
#[derive(Clone, Copy)]
enum Mistake {
    None,
    Factor,
    Shape,
    Count,
}

struct ScaledSquare(Mistake);

impl CustomOp<f64> for ScaledSquare {
    fn name(&self) -> &'static str {
        "scaled_square"
    }

    fn forward(&self, inputs: &[Tensor<f64>]) -> Result<Tensor<f64>> {
        inputs[0].try_mul(&inputs[1].try_square()?)
    }

    fn backward(
        &self,
        inputs: &[Tensor<f64>],
        _output: &Tensor<f64>,
        grad: &Tensor<f64>,
    ) -> Result<Vec<Option<Tensor<f64>>>> {
        let (a, b) = (&inputs[0], &inputs[1]);
        let da = grad.try_mul(&b.try_square()?)?;
        let factor = if matches!(self.0, Mistake::Factor) {
            2.1
        } else {
            2.0
        };
        let db = grad.try_mul(a)?.try_mul(b)?.try_mul_scalar(factor)?;
        Ok(match self.0 {
            Mistake::None | Mistake::Factor => vec![Some(da), Some(db)],
            Mistake::Shape => vec![Some(da), Some(db.try_sum()?)],
            Mistake::Count => vec![Some(da)],
        })
    }
}

fn apply(mistake: Mistake) -> impl Fn(&[Tensor<f64>]) -> Result<Tensor<f64>> {
    move |xs| Tensor::try_custom(Arc::new(ScaledSquare(mistake)), xs)?.try_sum()
}

fn inputs() -> Vec<Tensor<f64>> {
    vec![
        Tensor::from_vec(vec![0.5, -1.0, 2.0], &[3]).unwrap(),
        Tensor::from_vec(vec![1.5, 0.7, -0.3], &[3]).unwrap(),
    ]
}

#[test]
fn a_right_backward_passes_to_second_order() {
    assert_gradcheck(apply(Mistake::None), &inputs());
    assert_gradgradcheck(apply(Mistake::None), &inputs());
}

#[test]
#[should_panic(expected = "gradient mismatch for input 1 at element [0]")]
fn the_kit_reports_a_wrong_backward_with_its_element() {
    assert_gradcheck(apply(Mistake::Factor), &inputs());
}

#[test]
fn a_wrong_backward_is_caught_naming_the_element() {
    let e = gradcheck(apply(Mistake::Factor), &inputs(), &OPTIONS).unwrap_err();
    match &e {
        GradcheckError::Mismatch { input, element, .. } => {
            assert_eq!((*input, element.as_deref()), (Some(1), Some(&[0][..])));
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("element"), "{e}");
}

#[test]
fn a_backward_of_the_wrong_shape_or_count_is_an_error_naming_the_op_and_input() {
    let leaves: Vec<Tensor<f64>> = inputs().into_iter().map(Tensor::require_grad).collect();
    let run = |mistake| {
        apply(mistake)(&leaves)
            .unwrap()
            .try_backward()
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        run(Mistake::Shape),
        "scaled_square: the backward returned a gradient of shape [] for input 1, of shape [3]"
    );
    assert_eq!(
        run(Mistake::Count),
        "scaled_square: the backward returned 1 gradients for 2 inputs"
    );
}

#[test]
fn the_op_shows_under_its_name_and_records_only_with_tracked_inputs() {
    let leaves: Vec<Tensor<f64>> = inputs().into_iter().map(Tensor::require_grad).collect();
    let op = Arc::new(ScaledSquare(Mistake::None));
    let y = Tensor::try_custom(op.clone(), &leaves).unwrap();
    assert_eq!(y.op_name(), Some("scaled_square"));
    assert!(graph::to_dot(&y).contains("scaled_square"));
    assert_eq!(
        y.to_vec(),
        vec![0.5 * (1.5 * 1.5), -(0.7 * 0.7), 2.0 * (0.3 * 0.3)]
    );
    let untracked = Tensor::try_custom(op.clone(), &inputs()).unwrap();
    assert_eq!(
        (untracked.op_name(), untracked.requires_grad()),
        (None, false)
    );
    let off = no_grad(|| Tensor::try_custom(op.clone(), &leaves)).unwrap();
    assert!(!off.requires_grad());
    // Only the tracked input gets a gradient.
    let mixed = [leaves[0].clone(), inputs()[1].clone()];
    let grads = Tensor::try_custom(op, &mixed).unwrap().sum().backward();
    assert!(grads.get(&mixed[0]).is_some() && grads.get(&mixed[1]).is_none());
}

/// `√x`, finite at 0, whose backward `g / (2 √x)` is infinite there; and negative inputs
/// give NaN in the forward.
struct Sqrt;

impl CustomOp<f64> for Sqrt {
    fn name(&self) -> &'static str {
        "my_sqrt"
    }
    fn forward(&self, inputs: &[Tensor<f64>]) -> Result<Tensor<f64>> {
        inputs[0].try_sqrt()
    }
    fn backward(
        &self,
        _: &[Tensor<f64>],
        output: &Tensor<f64>,
        grad: &Tensor<f64>,
    ) -> Result<Vec<Option<Tensor<f64>>>> {
        Ok(vec![Some(grad.try_div(&output.try_mul_scalar(2.0)?)?)])
    }
}

#[test]
fn anomaly_mode_names_the_op_forward_and_backward() {
    let negative = Tensor::<f64>::full(&[2], -1.0).require_grad();
    let e = detect_anomaly(|| Tensor::try_custom(Arc::new(Sqrt), std::slice::from_ref(&negative)))
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("my_sqrt: the forward pass produced NaN"),
        "{e}"
    );
    let x = Tensor::<f64>::from_vec(vec![1.0, 0.0], &[2])
        .unwrap()
        .require_grad();
    let e = detect_anomaly(|| -> Result<_> {
        Tensor::try_custom(Arc::new(Sqrt), std::slice::from_ref(&x))?
            .try_sum()?
            .try_backward()
    })
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("my_sqrt: the backward pass produced inf"),
        "{e}"
    );
}

#[test]
fn hooks_see_the_summed_gradient_and_may_replace_it() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let x = Tensor::<f64>::from_vec(vec![1.0, -2.0], &[2])
        .unwrap()
        .require_grad();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    // Clips the gradient to [-1, 1] on its way to x.
    let h = x
        .try_hook(move |g| {
            counter.fetch_add(1, Ordering::Relaxed);
            Ok(Some(g.try_clamp(-1.0, 1.0)?))
        })
        .unwrap();
    let y = h.try_mul(&h).unwrap().sum(); // dy/dh = 2h = [2, -4]
    let g = y.backward().get(&x).unwrap().to_vec();
    assert_eq!(g, vec![1.0, -1.0]);
    assert_eq!(
        calls.load(Ordering::Relaxed),
        1,
        "once per pass, after accumulation"
    );
    // A replacement of the wrong shape is an error naming the hook.
    let bad = x.try_hook(|g| Ok(Some(g.try_sum()?))).unwrap();
    let e = bad.sum().try_backward().unwrap_err().to_string();
    assert_eq!(
        e,
        "hook: the backward returned a gradient of shape [] for input 0, of shape [2]"
    );
    // Passing the gradient on unchanged keeps second derivatives: d²(h³)/dx² = 6x.
    let through = x.try_hook(|_| Ok(None)).unwrap();
    let cube = |xs: &[Tensor<f64>]| xs[0].try_hook(|_| Ok(None))?.try_powf(3.0)?.try_sum();
    assert_gradgradcheck(cube, std::slice::from_ref(&x.detach()));
    let first = through.try_powf(3.0).unwrap().sum().backward_create_graph();
    let second = first
        .get(&x)
        .unwrap()
        .sum()
        .backward()
        .get(&x)
        .unwrap()
        .to_vec();
    assert_eq!(second, vec![6.0, -12.0]);
}
