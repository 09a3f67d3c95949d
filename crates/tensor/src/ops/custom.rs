//! Operations with a forward and a backward written by the user.

use std::sync::Arc;

use smallvec::SmallVec;

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::mode::no_grad;
use crate::ops::Op;
use crate::tensor::Tensor;

/// An operation with a forward and a backward of its own, applied with
/// [`Tensor::try_custom`]. It then takes part in the graph as any built-in op does: it shows
/// in [`graph::to_dot`](crate::graph::to_dot) and in anomaly reports under its
/// [`name`](CustomOp::name), and [`gradcheck`](crate::gradcheck) checks it.
///
/// The backward is written with tensor ops. In a plain backward pass they record nothing; in
/// [`backward_create_graph`](Tensor::backward_create_graph) they are recorded, so the
/// gradient can be differentiated again, and a second derivative is right exactly when the
/// backward is differentiable as written.
///
/// ```
/// use std::sync::Arc;
/// use tensor::{CustomOp, Result, Tensor};
///
/// /// `x³`, with its derivative `3x²` written by hand.
/// struct Cube;
///
/// impl CustomOp<f64> for Cube {
///     fn name(&self) -> &'static str {
///         "cube"
///     }
///     fn forward(&self, inputs: &[Tensor<f64>]) -> Result<Tensor<f64>> {
///         inputs[0].try_powf(3.0)
///     }
///     fn backward(&self, inputs: &[Tensor<f64>], _output: &Tensor<f64>, grad: &Tensor<f64>)
///         -> Result<Vec<Option<Tensor<f64>>>> {
///         Ok(vec![Some(grad.try_mul(&inputs[0].try_square()?.try_mul_scalar(3.0)?)?)])
///     }
/// }
///
/// let x = Tensor::<f64>::scalar(2.0).require_grad();
/// let y = Tensor::try_custom(Arc::new(Cube), &[x.clone()])?;
/// assert_eq!((y.item(), y.op_name()), (8.0, Some("cube")));
/// assert_eq!(y.backward().get(&x).unwrap().item(), 12.0);
/// # Ok::<(), tensor::TensorError>(())
/// ```
pub trait CustomOp<T: Element>: Send + Sync + 'static {
    /// The name the op goes by in graphs, errors and anomaly reports.
    fn name(&self) -> &'static str;

    /// The output for `inputs`. Runs with gradients off: it records nothing, whatever it does.
    ///
    /// # Errors
    /// Whatever the op refuses (say what and name the shapes).
    fn forward(&self, inputs: &[Tensor<T>]) -> Result<Tensor<T>>;

    /// The gradient of each input (`None` for an input that gets none), given the inputs,
    /// the output and the output's gradient `grad`, written with tensor ops.
    ///
    /// # Errors
    /// Whatever the rule refuses. A gradient of the wrong shape, or a list of the wrong
    /// length, is an error naming the op and the input.
    fn backward(
        &self,
        inputs: &[Tensor<T>],
        output: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>>;
}

impl<T: Element> Tensor<T> {
    /// `op` applied to `inputs`, recorded as one operation named [`CustomOp::name`] when
    /// gradients are on and an input is tracked.
    ///
    /// # Errors
    /// As the op's forward fails; in anomaly mode, when its output is not finite.
    pub fn try_custom(op: Arc<dyn CustomOp<T>>, inputs: &[Tensor<T>]) -> Result<Tensor<T>> {
        // Anomalies inside the forward are reported as this op's, after it.
        let output = no_grad(|| crate::mode::with_anomaly(false, || op.forward(inputs)))?;
        if crate::is_anomaly_enabled() {
            crate::mode::check_finite(op.name(), "forward", output.shape(), output.to_vec())?;
        }
        let record = crate::is_grad_enabled() && inputs.iter().any(Tensor::requires_grad);
        if !record {
            return Ok(output.detach());
        }
        let layout = output.layout().clone();
        Ok(output.view_of(
            layout,
            Op::Custom {
                op,
                args: inputs.to_vec(),
            },
        ))
    }
}

/// The gradients of `op`'s inputs from its own backward, checked: one per input, each of its
/// input's shape.
pub(crate) fn input_grads<T: Element>(
    op: &dyn CustomOp<T>,
    args: &[Tensor<T>],
    output: &Tensor<T>,
    grad: &Tensor<T>,
) -> Result<SmallVec<[Option<Tensor<T>>; 3]>> {
    let grads = op.backward(args, output, grad)?;
    if grads.len() != args.len() {
        return Err(TensorError::InvalidArgument {
            op: op.name(),
            message: format!(
                "the backward returned {} gradients for {} inputs",
                grads.len(),
                args.len()
            ),
        });
    }
    for (i, (g, x)) in grads.iter().zip(args).enumerate() {
        if let Some(g) = g
            && g.shape() != x.shape()
        {
            return Err(TensorError::InvalidArgument {
                op: op.name(),
                message: format!(
                    "the backward returned a gradient of shape {:?} for input {i}, of shape {:?}",
                    g.shape(),
                    x.shape()
                ),
            });
        }
    }
    // Inputs that are not tracked get none, as in the built-in rules.
    Ok(grads
        .into_iter()
        .zip(args)
        .map(|(g, x)| g.filter(|_| x.requires_grad()))
        .collect())
}

/// The identity op whose backward hands the gradient to a user's function.
struct Hook<F>(F);

impl<T: Element, F> CustomOp<T> for Hook<F>
where
    F: Fn(&Tensor<T>) -> Result<Option<Tensor<T>>> + Send + Sync + 'static,
{
    fn name(&self) -> &'static str {
        "hook"
    }

    fn forward(&self, inputs: &[Tensor<T>]) -> Result<Tensor<T>> {
        Ok(inputs[0].clone())
    }

    fn backward(
        &self,
        _inputs: &[Tensor<T>],
        _output: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        Ok(vec![Some((self.0)(grad)?.unwrap_or_else(|| grad.clone()))])
    }
}

impl<T: Element> Tensor<T> {
    /// This tensor's values, with a hook on the gradient that flows back through them: in a
    /// backward pass, `hook` gets the gradient of the returned tensor once it is complete
    /// (summed over every use of the returned tensor, before any of it reaches `self`), and
    /// returns `None` to pass it on unchanged or a replacement of the same shape. Uses of
    /// `self` itself bypass the hook. The hook runs in every backward pass through it, with
    /// gradients recorded under [`backward_create_graph`](Tensor::backward_create_graph).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2])?.require_grad();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// let h = x.try_hook(move |g| {
    ///     log.lock().unwrap().push(g.to_vec());
    ///     Ok(Some(g.try_mul_scalar(10.0)?)) // scale the gradient on its way to x
    /// })?;
    /// let y = (&h * &h).sum() + h.sum();
    /// let grads = y.backward();
    /// assert_eq!(seen.lock().unwrap()[0], vec![3.0, 5.0]); // 2h + 1, both uses summed
    /// assert_eq!(grads.get(&x).unwrap().to_vec(), vec![30.0, 50.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// When memory runs out. In the backward pass, the hook's own errors, and a replacement
    /// of the wrong shape (naming `hook`).
    pub fn try_hook(
        &self,
        hook: impl Fn(&Tensor<T>) -> Result<Option<Tensor<T>>> + Send + Sync + 'static,
    ) -> Result<Tensor<T>> {
        Tensor::try_custom(Arc::new(Hook(hook)), std::slice::from_ref(self))
    }
}
