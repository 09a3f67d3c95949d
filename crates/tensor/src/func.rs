//! Functional transforms, under the names JAX and `torch.func` use: [`grad`],
//! [`value_and_grad`], [`vjp`], [`jvp`], [`jacobian`] (reverse mode) and [`jacobian_forward`],
//! [`hessian`] and [`hvp`], each over a closure of tensors and one or several inputs.
//!
//! ```
//! use tensor::{Tensor, func};
//! // The Rosenbrock function and its Hessian at (1, 1): [[802, -400], [-400, 200]].
//! let rosenbrock = |xs: &[Tensor<f64>]| {
//!     let (x, y) = (xs[0].narrow(0, 0, 1), xs[0].narrow(0, 1, 1));
//!     let a = (&x - 1.0).square();
//!     let b = (&y - &x.square()).square() * 100.0;
//!     (a + b).try_sum()
//! };
//! let at = Tensor::<f64>::from_vec(vec![1.0, 1.0], &[2])?;
//! let h = func::hessian(rosenbrock, &[at])?;
//! assert_eq!(h[0][0].to_vec(), vec![802.0, -400.0, -400.0, 200.0]);
//! # Ok::<(), tensor::TensorError>(())
//! ```
//!
//! Each transform evaluates `f` at its inputs. An input that is a leaf requiring grad (as the
//! transforms hand to `f`) is used as it is, and the results are recorded as functions of it,
//! so transforms nest: `grad` of a function that calls `grad` is a second derivative. Any other
//! input is taken as a value (detached), and the results are constants.
//!
//! Every transform runs reverse-mode passes. [`jvp`] computes `J v` as the transpose of a
//! vector-Jacobian product: the VJP `uᵀ J` is recorded as a function of a dummy cotangent `u`
//! (zeros), and the gradient of `uᵀ J v` with respect to `u` is `J v`. That costs one forward
//! pass, one recorded backward pass and one backward pass through that record: about three
//! times `f` rather than forward mode's one, for any number of inputs. [`jacobian`] runs one
//! backward pass per output element over one recorded forward pass; [`jacobian_forward`]
//! builds the same matrix column by column, one [`jvp`] per input element, which (`jvp` being
//! reverse mode here) makes it a cross-check rather than a faster route. [`hessian`] is the
//! reverse-mode Jacobian of the recorded gradient, [`hvp`] one backward pass through it.

use crate::backprop::BackwardOptions;
use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::gradients::Gradients;
use crate::mode::enable_grad;
use crate::tensor::Tensor;

/// The tensors `f` is differentiated with respect to: tracked leaves kept (so that the
/// results stay functions of them), anything else detached into a fresh leaf. Whether any
/// was kept is whether the backward passes must record.
fn leaves<T: Element>(inputs: &[Tensor<T>]) -> (Vec<Tensor<T>>, bool) {
    let kept = |x: &Tensor<T>| x.requires_grad() && x.is_leaf();
    let record = inputs.iter().any(kept);
    let leaves = inputs
        .iter()
        .map(|x| {
            if kept(x) {
                x.clone()
            } else {
                x.detach().require_grad()
            }
        })
        .collect();
    (leaves, record)
}

/// The gradient of each leaf in `grads`, zeros for a leaf `f` did not use.
fn each<T: Element>(grads: &Gradients<T>, leaves: &[Tensor<T>]) -> Vec<Tensor<T>> {
    leaves
        .iter()
        .map(|x| match grads.get(x) {
            Some(g) => g.clone(),
            None => Tensor::zeros(x.shape()),
        })
        .collect()
}

/// `seed · y`'s gradients with respect to `leaves` (zeros where `y` does not depend on one),
/// recording them when `record`; the graph is kept when `keep`.
fn pullback<T: Element>(
    y: &Tensor<T>,
    seed: &Tensor<T>,
    leaves: &[Tensor<T>],
    record: bool,
    keep: bool,
) -> Result<Vec<Tensor<T>>> {
    if !y.requires_grad() {
        return Ok(leaves.iter().map(|x| Tensor::zeros(x.shape())).collect());
    }
    let options = BackwardOptions::new()
        .create_graph(record)
        .retain_graph(keep);
    let grads = y.try_backward_with_options(Some(seed), options)?;
    Ok(each(&grads, leaves))
}

/// The gradient of the one-element output of `f` with respect to each input.
///
/// # Errors
/// When `f` fails or its output does not have exactly one element.
pub fn grad<T: Element>(
    f: impl Fn(&[Tensor<T>]) -> Result<Tensor<T>>,
    inputs: &[Tensor<T>],
) -> Result<Vec<Tensor<T>>> {
    Ok(value_and_grad(f, inputs)?.1)
}

/// The one-element output of `f` and its gradient with respect to each input.
///
/// # Errors
/// As [`grad`].
pub fn value_and_grad<T: Element>(
    f: impl Fn(&[Tensor<T>]) -> Result<Tensor<T>>,
    inputs: &[Tensor<T>],
) -> Result<(Tensor<T>, Vec<Tensor<T>>)> {
    let (leaves, record) = leaves(inputs);
    let y = enable_grad(|| f(&leaves))?;
    let grads = gradient("grad", &y, &leaves, record)?;
    Ok((value(&y, record), grads))
}

/// The output `y` of `f` and the vector-Jacobian product `cotangentᵀ J` for each input (the
/// gradient of `sum(cotangent · y)`); `cotangent` has `y`'s shape.
///
/// # Errors
/// When `f` fails or `cotangent` does not have the output's shape.
pub fn vjp<T: Element>(
    f: impl Fn(&[Tensor<T>]) -> Result<Tensor<T>>,
    inputs: &[Tensor<T>],
    cotangent: &Tensor<T>,
) -> Result<(Tensor<T>, Vec<Tensor<T>>)> {
    let (leaves, record) = leaves(inputs);
    let y = enable_grad(|| f(&leaves))?;
    check_shape("vjp", "cotangent", cotangent.shape(), y.shape())?;
    let grads = pullback(&y, cotangent, &leaves, record, record)?;
    Ok((value(&y, record), grads))
}

/// The output `y` of `f` and the Jacobian-vector product `J v = Σᵢ ∂y/∂xᵢ · vᵢ`, for one
/// tangent `vᵢ` of each input's shape (see the [module](self) for how it is computed).
///
/// # Errors
/// When `f` fails, or the tangents are not one per input, each of its input's shape.
pub fn jvp<T: Element>(
    f: impl Fn(&[Tensor<T>]) -> Result<Tensor<T>>,
    inputs: &[Tensor<T>],
    tangents: &[Tensor<T>],
) -> Result<(Tensor<T>, Tensor<T>)> {
    one_per_input("jvp", "tangent", tangents, inputs)?;
    let (leaves, record) = leaves(inputs);
    let y = enable_grad(|| f(&leaves))?;
    let u = Tensor::zeros(y.shape()).require_grad();
    // uᵀ J, recorded as a function of u (linear in it), then d/du of uᵀ J v.
    let dot = enable_grad(|| dot(&pullback(&y, &u, &leaves, true, true)?, tangents))?;
    let jv = pullback(
        &dot,
        &Tensor::ones(&[]),
        std::slice::from_ref(&u),
        record,
        record,
    )?;
    let jv = jv.into_iter().next().expect("internal: one cotangent");
    Ok((value(&y, record), jv))
}

/// The Jacobian of `f` with respect to each input, by reverse mode: for an output of shape
/// `[m..]` and an input of shape `[n..]`, a tensor of shape `[m.., n..]`.
///
/// # Errors
/// When `f` fails, or memory runs out.
pub fn jacobian<T: Element>(
    f: impl Fn(&[Tensor<T>]) -> Result<Tensor<T>>,
    inputs: &[Tensor<T>],
) -> Result<Vec<Tensor<T>>> {
    let (leaves, record) = leaves(inputs);
    let y = enable_grad(|| f(&leaves))?;
    let mut rows: Vec<Vec<Tensor<T>>> = vec![Vec::with_capacity(y.numel()); inputs.len()];
    for k in 0..y.numel() {
        let seed = one_hot(y.shape(), k)?;
        let grads = pullback(&y, &seed, &leaves, record, true)?;
        for (row, g) in rows.iter_mut().zip(grads) {
            row.push(g.try_flatten()?);
        }
    }
    stack_rows(rows, y.shape(), inputs)
}

/// The Jacobian of `f` with respect to each input, column by column: one [`jvp`] per input
/// element. The same values as [`jacobian`], by the other route.
///
/// # Errors
/// As [`jacobian`].
pub fn jacobian_forward<T: Element>(
    f: impl Fn(&[Tensor<T>]) -> Result<Tensor<T>>,
    inputs: &[Tensor<T>],
) -> Result<Vec<Tensor<T>>> {
    let mut out = Vec::with_capacity(inputs.len());
    for (i, x) in inputs.iter().enumerate() {
        let mut columns = Vec::with_capacity(x.numel());
        let mut out_shape = Vec::new();
        for k in 0..x.numel() {
            let tangents: Vec<Tensor<T>> = inputs
                .iter()
                .enumerate()
                .map(|(j, other)| {
                    if j == i {
                        one_hot(x.shape(), k)
                    } else {
                        Ok(Tensor::zeros(other.shape()))
                    }
                })
                .collect::<Result<_>>()?;
            let (y, column) = jvp(&f, inputs, &tangents)?;
            out_shape = y.shape().to_vec();
            columns.push(column.try_flatten()?);
        }
        let m: usize = out_shape.iter().product();
        // Columns side by side: [n, m], transposed to [m, n], then shaped [m.., n..].
        let stacked = if columns.is_empty() {
            Tensor::zeros(&[0, m])
        } else {
            Tensor::try_stack(&columns, 0)?
        };
        let shape: Vec<usize> = out_shape.iter().chain(x.shape()).copied().collect();
        out.push(stacked.t().try_reshape(&shape)?);
    }
    Ok(out)
}

/// The Hessian of the one-element output of `f`: for inputs `i` and `j` of shapes `[a..]` and
/// `[b..]`, the block `∂²f / ∂xᵢ ∂xⱼ` of shape `[a.., b..]`, as `blocks[i][j]`.
///
/// # Errors
/// When `f` fails or its output does not have exactly one element.
pub fn hessian<T: Element>(
    f: impl Fn(&[Tensor<T>]) -> Result<Tensor<T>>,
    inputs: &[Tensor<T>],
) -> Result<Vec<Vec<Tensor<T>>>> {
    let (leaves, record) = leaves(inputs);
    let grads = enable_grad(|| -> Result<Vec<Tensor<T>>> {
        gradient("hessian", &f(&leaves)?, &leaves, true)
    })?;
    let mut blocks = Vec::with_capacity(inputs.len());
    for g in &grads {
        let mut rows: Vec<Vec<Tensor<T>>> = vec![Vec::with_capacity(g.numel()); inputs.len()];
        for k in 0..g.numel() {
            let seed = one_hot(g.shape(), k)?;
            for (row, h) in rows
                .iter_mut()
                .zip(pullback(g, &seed, &leaves, record, true)?)
            {
                row.push(h.try_flatten()?);
            }
        }
        blocks.push(stack_rows(rows, g.shape(), inputs)?);
    }
    Ok(blocks)
}

/// The Hessian-vector product `H v` of the one-element output of `f`: for each input `i`,
/// `Σⱼ ∂²f / ∂xᵢ ∂xⱼ · vⱼ`, with one `vⱼ` of each input's shape.
///
/// # Errors
/// When `f` fails, its output does not have exactly one element, or the vectors are not one
/// per input, each of its input's shape.
pub fn hvp<T: Element>(
    f: impl Fn(&[Tensor<T>]) -> Result<Tensor<T>>,
    inputs: &[Tensor<T>],
    vectors: &[Tensor<T>],
) -> Result<Vec<Tensor<T>>> {
    one_per_input("hvp", "vector", vectors, inputs)?;
    let (leaves, record) = leaves(inputs);
    let gv = enable_grad(|| dot(&gradient("hvp", &f(&leaves)?, &leaves, true)?, vectors))?;
    pullback(&gv, &Tensor::ones(&[]), &leaves, record, record)
}

/// The gradient of the one-element `y` with respect to `leaves`, recorded when `record`; the
/// graph is kept as long as the gradient is recorded.
fn gradient<T: Element>(
    op: &'static str,
    y: &Tensor<T>,
    leaves: &[Tensor<T>],
    record: bool,
) -> Result<Vec<Tensor<T>>> {
    if y.numel() != 1 {
        return Err(TensorError::NotOneElement {
            op,
            shape: y.shape().to_vec(),
        });
    }
    pullback(y, &Tensor::ones(y.shape()), leaves, record, record)
}

/// `Σᵢ sum(gᵢ · vᵢ)`, recorded when grad mode is on.
fn dot<T: Element>(gs: &[Tensor<T>], vs: &[Tensor<T>]) -> Result<Tensor<T>> {
    let mut total = Tensor::scalar(T::zero());
    for (g, v) in gs.iter().zip(vs) {
        total = total.try_add(&g.try_mul(v)?.try_sum()?)?;
    }
    Ok(total)
}

/// That `vectors` are one per input, each of its input's shape.
fn one_per_input<T: Element>(
    op: &'static str,
    what: &str,
    vectors: &[Tensor<T>],
    inputs: &[Tensor<T>],
) -> Result<()> {
    if vectors.len() != inputs.len() {
        return Err(TensorError::InvalidArgument {
            op,
            message: format!("{} {what}s for {} inputs", vectors.len(), inputs.len()),
        });
    }
    for (v, x) in vectors.iter().zip(inputs) {
        check_shape(op, what, v.shape(), x.shape())?;
    }
    Ok(())
}

/// `y` as the caller gets it: itself when it is recorded for an outer transform, else cut
/// from the graph the transform built.
fn value<T: Element>(y: &Tensor<T>, record: bool) -> Tensor<T> {
    if record { y.clone() } else { y.detach() }
}

/// 1 at row-major position `k` of `shape`, 0 elsewhere.
fn one_hot<T: Element>(shape: &[usize], k: usize) -> Result<Tensor<T>> {
    let mut data = vec![T::zero(); shape.iter().product()];
    data[k] = T::one();
    Tensor::from_vec(data, shape)
}

/// Per input, the flattened rows (one per element of an output of `out_shape`) as a tensor
/// of shape `[out.., input..]`.
fn stack_rows<T: Element>(
    rows: Vec<Vec<Tensor<T>>>,
    out_shape: &[usize],
    inputs: &[Tensor<T>],
) -> Result<Vec<Tensor<T>>> {
    rows.into_iter()
        .zip(inputs)
        .map(|(row, x)| {
            let shape: Vec<usize> = out_shape.iter().chain(x.shape()).copied().collect();
            if row.is_empty() {
                return Ok(Tensor::zeros(&shape));
            }
            Tensor::try_stack(&row, 0)?.try_reshape(&shape)
        })
        .collect()
}

fn check_shape(op: &'static str, what: &str, got: &[usize], want: &[usize]) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(TensorError::InvalidArgument {
            op,
            message: format!("the {what} has shape {got:?}, not {want:?}"),
        })
    }
}
