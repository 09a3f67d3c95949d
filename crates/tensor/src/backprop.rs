//! Reverse mode: the topological sort, gradient accumulation, and the one exhaustive match of
//! gradient rules.
//!
//! Every rule is written with tensor ops. During a plain backward pass they run with grad
//! mode off and record nothing; with `create_graph` they run with grad mode on, so the
//! gradients are themselves differentiable (grad of grad, Hessian-vector products) through the
//! very same rules.

use smallvec::{SmallVec, smallvec};

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::gradients::{Gradients, SmallIdMap};
use crate::kernels::{self, Buf, elementwise};
use crate::layout::Layout;
use crate::mode::with_grad_enabled;
use crate::ops::{Extreme, Op};
use crate::shape::Dims;
use crate::tensor::Tensor;

impl<T: Element> Tensor<T> {
    /// The gradients of this one-element tensor with respect to every tracked leaf it
    /// depends on. Nothing is stored on the tensors: calling it twice gives equal stores.
    ///
    /// # Panics
    /// As [`try_backward`](Tensor::try_backward) fails.
    #[track_caller]
    pub fn backward(&self) -> Gradients<T> {
        self.try_backward().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`backward`](Tensor::backward).
    ///
    /// # Errors
    /// When this tensor does not have exactly one element (use
    /// [`backward_with`](Tensor::backward_with) and a seed of its shape), or no tracked leaf
    /// reaches it.
    pub fn try_backward(&self) -> Result<Gradients<T>> {
        self.backward_from_one("backward", false)
    }

    /// The gradients of `sum(seed * self)`: a vector-Jacobian product, for outputs of any
    /// shape.
    ///
    /// # Panics
    /// As [`try_backward_with`](Tensor::try_backward_with) fails.
    #[track_caller]
    pub fn backward_with(&self, seed: &Tensor<T>) -> Gradients<T> {
        self.try_backward_with(seed)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`backward_with`](Tensor::backward_with).
    ///
    /// # Errors
    /// When `seed` does not have this tensor's shape, or no tracked leaf reaches it.
    pub fn try_backward_with(&self, seed: &Tensor<T>) -> Result<Gradients<T>> {
        run(self, seed, false, "backward_with")
    }

    /// As [`backward`](Tensor::backward), but the gradients are recorded in the graph, so they
    /// can be differentiated again.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::scalar(2.0).require_grad();
    /// let y = x.powf(3.0);                         // y = x³
    /// let dy = y.backward_create_graph();
    /// let dydx = dy.get(&x).unwrap();              // 3x² = 12
    /// let d2y = dydx.backward();
    /// assert_eq!(d2y.get(&x).unwrap().item(), 12.0); // 6x = 12
    /// ```
    ///
    /// # Panics
    /// As [`try_backward`](Tensor::try_backward) fails.
    #[track_caller]
    pub fn backward_create_graph(&self) -> Gradients<T> {
        self.try_backward_create_graph()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`backward_create_graph`](Tensor::backward_create_graph).
    ///
    /// # Errors
    /// As [`try_backward`](Tensor::try_backward).
    pub fn try_backward_create_graph(&self) -> Result<Gradients<T>> {
        self.backward_from_one("backward_create_graph", true)
    }

    /// As [`backward_with`](Tensor::backward_with), with the gradients recorded in the graph
    /// (differentiable in the inputs and in `seed`).
    ///
    /// # Panics
    /// As [`try_backward_with`](Tensor::try_backward_with) fails.
    #[track_caller]
    pub fn backward_with_create_graph(&self, seed: &Tensor<T>) -> Gradients<T> {
        self.try_backward_with_create_graph(seed)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`backward_with_create_graph`](Tensor::backward_with_create_graph).
    ///
    /// # Errors
    /// As [`try_backward_with`](Tensor::try_backward_with).
    pub fn try_backward_with_create_graph(&self, seed: &Tensor<T>) -> Result<Gradients<T>> {
        run(self, seed, true, "backward_with_create_graph")
    }

    fn backward_from_one(&self, name: &'static str, create_graph: bool) -> Result<Gradients<T>> {
        if self.numel() != 1 {
            return Err(TensorError::NotOneElement {
                op: name,
                shape: self.shape().to_vec(),
            });
        }
        run(self, &Tensor::ones(self.shape()), create_graph, name)
    }
}

fn run<T: Element>(
    root: &Tensor<T>,
    seed: &Tensor<T>,
    create_graph: bool,
    name: &'static str,
) -> Result<Gradients<T>> {
    if seed.shape() != root.shape() {
        return Err(TensorError::mismatch(
            name,
            root.shape(),
            seed.shape(),
            format!(
                "the seed has shape {:?} but the output has shape {:?}",
                seed.shape(),
                root.shape()
            ),
        ));
    }
    if !root.is_tracked() {
        return Err(TensorError::NotTracked { op: name });
    }
    let order = topological_order(root);
    // Gradients of nodes not yet consumed. Each is removed when its node is processed, so an
    // intermediate gradient is freed as soon as its inputs' gradients exist.
    let mut pending: SmallIdMap<Tensor<T>> = SmallIdMap::default();
    pending.insert_new(root.id(), seed.clone());
    let mut result = Gradients::new();
    with_grad_enabled(create_graph, || {
        for node in order.iter().rev() {
            let Some(grad) = pending.remove(node.id()) else {
                continue;
            };
            let Some(op) = node.op() else {
                result.insert_id(node.id(), grad);
                continue;
            };
            // The rule's own ops are not checked as forward ops: a non-finite gradient is
            // reported as this op's, in the backward pass.
            let anomaly = crate::is_anomaly_enabled();
            let grads = if anomaly {
                crate::mode::with_anomaly(false, || input_grads(op, node, &grad))?
            } else {
                input_grads(op, node, &grad)?
            };
            for (input, input_grad) in op.inputs().into_iter().zip(grads) {
                if let Some(input_grad) = input_grad {
                    if anomaly {
                        let values = input_grad.to_vec();
                        crate::mode::check_finite(op.name(), "backward", input.shape(), values)?;
                    }
                    debug_assert_eq!(input_grad.shape(), input.shape(), "rule of {}", op.name());
                    accumulate(&mut pending, input, input_grad, create_graph)?;
                }
            }
        }
        Ok(result)
    })
}

/// The tracked nodes reachable from `root`, every node after all of its inputs. Iterative, so
/// deep graphs cannot overflow the stack; untracked inputs are not entered, which prunes
/// every branch that reaches no leaf requiring grad.
fn topological_order<T: Element>(root: &Tensor<T>) -> SmallVec<[&Tensor<T>; 16]> {
    // References, not clones: every node is owned through `root`, which outlives the pass, and
    // cloning meant two atomic reference-count updates per node.
    let mut order = SmallVec::new();
    let mut visited: SmallIdMap<()> = SmallIdMap::default();
    // (node, whether its inputs have been pushed)
    let mut stack: SmallVec<[(&Tensor<T>, bool); 16]> = smallvec![(root, false)];
    while let Some((node, expanded)) = stack.pop() {
        if expanded {
            order.push(node);
            continue;
        }
        if visited.contains(node.id()) {
            continue;
        }
        visited.insert_new(node.id(), ());
        stack.push((node, true));
        if let Some(op) = node.op() {
            let inputs = op.inputs().into_iter();
            let unvisited =
                inputs.filter(|input| input.is_tracked() && !visited.contains(input.id()));
            stack.extend(unvisited.map(|input| (input, false)));
        }
    }
    order
}

/// Adds `grad` to the pending gradient of `input`. The first gradient is stored as it is; a
/// sum is formed only on real fan-in, in place when the pending buffer is not shared and no
/// graph is being recorded.
fn accumulate<T: Element>(
    pending: &mut SmallIdMap<Tensor<T>>,
    input: &Tensor<T>,
    grad: Tensor<T>,
    create_graph: bool,
) -> Result<()> {
    match pending.get_mut(input.id()) {
        None => pending.insert_new(input.id(), grad),
        Some(existing) => {
            if !create_graph && let Some(data) = existing.unique_data_mut() {
                elementwise::add_assign(data, grad.strided());
            } else {
                *existing = existing.try_add(&grad)?;
            }
        }
    }
    Ok(())
}

/// Whether the rules are recording a graph (`backward_create_graph`): their results must then
/// be differentiable, so they are built from tensor ops. Otherwise a rule may compute the same
/// formula, in the same order of operations, in one fused pass.
fn recording() -> bool {
    crate::mode::is_grad_enabled()
}

/// `f(g, x)` elementwise over two tensors of one shape, in one pass; untracked.
fn fused<T: Element>(
    name: &'static str,
    g: &Tensor<T>,
    x: &Tensor<T>,
    f: impl Fn(T, T) -> T + Send + Sync,
) -> Result<Tensor<T>> {
    let data = elementwise::zip_map(name, g.strided(), x.strided(), f)?;
    Ok(Tensor::constant(data, Layout::contiguous(g.shape())))
}

/// The linear rule when nothing is recorded: `dX = G Wᵀ` and `dW = Xᵀ G` straight from the
/// matmul kernel on transposed layouts, with no view tensors or matmul ops in between (on a
/// tiny graph those were a quarter of the backward pass). `None` when the input or the
/// gradient is laid out so that flattening it to rows needs a copy: the general rule then
/// does that.
fn linear_grads_fused<T: Element>(
    input: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    g: &Tensor<T>,
    rows: usize,
) -> Result<Option<InputGrads<T>>> {
    let (inputs, outputs) = (weight.shape()[0], weight.shape()[1]);
    let (Some(x), Some(flat_g)) = (
        input.layout().reshaped(&[rows, inputs]),
        g.layout().reshaped(&[rows, outputs]),
    ) else {
        return Ok(None);
    };
    let flat_g = g.strided().with_layout(&flat_g);
    let mut out = InputGrads::new();
    out.push(match input.is_tracked() {
        // dX = G Wᵀ, in the input's shape.
        true => {
            let w_t = weight.layout().permute(&[1, 0]);
            let w_t = weight.strided().with_layout(&w_t);
            let data = kernels::matmul::linear("linear", flat_g, w_t, None)?;
            Some(Tensor::constant(data, Layout::contiguous(input.shape())))
        }
        false => None,
    });
    out.push(match weight.is_tracked() {
        // dW = Xᵀ G
        true => {
            let x_t = x.permute(&[1, 0]);
            let x_t = input.strided().with_layout(&x_t);
            let data = kernels::matmul::linear("linear", x_t, flat_g, None)?;
            Some(Tensor::constant(
                data,
                Layout::contiguous(&[inputs, outputs]),
            ))
        }
        false => None,
    });
    if let Some(bias) = bias {
        // db = the column sums of G
        out.push(needed(bias, || {
            let g = flat_g.contiguous("linear")?;
            let axis = kernels::reduce::Axis {
                outer: 1,
                len: rows,
                inner: outputs,
            };
            let data = kernels::reduce::sum("linear", &g, axis)?;
            Ok(Tensor::constant(data, Layout::contiguous(bias.shape())))
        })?);
    }
    Ok(Some(out))
}

/// Zeros of `shape` as a stride-0 view of one element: no buffer is filled.
fn zeros<T: Element>(shape: &[usize]) -> Result<Tensor<T>> {
    Tensor::scalar(T::zero()).try_broadcast_to(shape)
}

/// The gradient `grad` of a result of `shape` summed back to `target`, the shape an input
/// had before it was broadcast: over the leading dimensions broadcasting added and over the
/// dimensions where the input had size 1.
fn sum_to_shape<T: Element>(grad: &Tensor<T>, target: &[usize]) -> Result<Tensor<T>> {
    let extra = grad.ndim() - target.len();
    let dims: Dims = (0..grad.ndim())
        .filter(|&d| d < extra || (target[d - extra] == 1 && grad.shape()[d] != 1))
        .collect();
    let summed = if dims.is_empty() {
        grad.clone()
    } else {
        grad.try_sum_dims(&dims, true)?
    };
    summed.try_reshape(target)
}

/// The shape `shape` had before `dims` were reduced without keepdim: those dims back as 1.
fn with_kept_dims(reduced: &[usize], dims: &[usize], rank: usize) -> Dims {
    let mut kept = reduced.iter();
    (0..rank)
        .map(|d| {
            if dims.contains(&d) {
                1
            } else {
                *kept.next().unwrap_or(&1)
            }
        })
        .collect()
}

type InputGrads<T> = SmallVec<[Option<Tensor<T>>; 3]>;

/// For a tracked `input`, the gradient `rule` computes; `None` when no gradient is needed.
fn needed<T: Element>(
    input: &Tensor<T>,
    rule: impl FnOnce() -> Result<Tensor<T>>,
) -> Result<Option<Tensor<T>>> {
    if input.is_tracked() {
        rule().map(Some)
    } else {
        Ok(None)
    }
}

/// The gradient of each input of `op` (in the order of [`Op::inputs`]), given the gradient
/// `grad` of its result `node`.
fn input_grads<T: Element>(
    op: &Op<T>,
    node: &Tensor<T>,
    grad: &Tensor<T>,
) -> Result<InputGrads<T>> {
    let g = grad;
    let one = T::one();
    let two = one + one;
    let half = one / two;
    let unary = |arg: &Tensor<T>, rule: &dyn Fn() -> Result<Tensor<T>>| -> Result<InputGrads<T>> {
        Ok(smallvec![needed(arg, rule)?])
    };
    let binary = |lhs: &Tensor<T>,
                  rhs: &Tensor<T>,
                  lhs_rule: &dyn Fn() -> Result<Tensor<T>>,
                  rhs_rule: &dyn Fn() -> Result<Tensor<T>>|
     -> Result<InputGrads<T>> {
        Ok(smallvec![needed(lhs, lhs_rule)?, needed(rhs, rhs_rule)?])
    };
    match op {
        // d(-x) = -g
        Op::Neg(x) => unary(x, &|| g.try_neg()),
        // d exp(x) = g * y
        Op::Exp(x) => unary(x, &|| g.try_mul(node)),
        // d ln(x) = g / x
        Op::Ln(x) => unary(x, &|| g.try_div(x)),
        // d sqrt(x) = g / (2 y)
        Op::Sqrt(x) => unary(x, &|| g.try_div(&node.try_mul_scalar(two)?)),
        // d |x| = g * sign(x)
        Op::Abs(x) => unary(x, &|| g.try_mul(&x.try_sign()?)),
        // d sigmoid(x) = g * y * (1 - y)
        Op::Sigmoid(x) => unary(x, &|| match recording() {
            true => g.try_mul(&node.try_mul(&node.try_neg()?.try_add_scalar(one)?)?),
            false => fused("sigmoid", g, node, |g, y| g * (y * (one - y))),
        }),
        // d tanh(x) = g * (1 - y²)
        Op::Tanh(x) => unary(x, &|| match recording() {
            true => g.try_mul(&node.try_powf(two)?.try_neg()?.try_add_scalar(one)?),
            false => fused("tanh", g, node, |g, y| g * (one - y * y)),
        }),
        // d relu(x) = g * (x > 0)
        Op::Relu(x) => unary(x, &|| match recording() {
            true => g.try_mul(&x.try_gt(&Tensor::scalar(T::zero()))?),
            false => fused("relu", g, x, |g, x| {
                g * if x > T::zero() { one } else { T::zero() }
            }),
        }),
        // d x^p = g * p * x^(p - 1)
        Op::Powf(x, p) => unary(x, &|| match (*p == two, recording()) {
            (true, true) => g.try_mul(&x.try_mul_scalar(two)?),
            (true, false) => fused("powf", g, x, |g, x| g * (x * two)),
            (false, _) => g.try_mul(&x.try_powf(*p - one)?.try_mul_scalar(*p)?),
        }),
        // d clamp(x, lo, hi) = g * (lo <= x <= hi)
        Op::Clamp { arg: x, min, max } => unary(x, &|| {
            let inside = x
                .try_ge(&Tensor::scalar(*min))?
                .try_mul(&x.try_le(&Tensor::scalar(*max))?)?;
            g.try_mul(&inside)
        }),
        // d (x + c) = g
        Op::AddScalar(x, _) => unary(x, &|| Ok(g.clone())),
        // d (x * c) = g * c
        Op::MulScalar(x, c) => unary(x, &|| g.try_mul_scalar(*c)),
        // d (x / c) = g / c
        Op::DivScalar(x, c) => unary(x, &|| g.try_div_scalar(*c)),
        // d (a + b) = g, g
        Op::Add(a, b) => binary(a, b, &|| Ok(g.clone()), &|| Ok(g.clone())),
        // d (a - b) = g, -g
        Op::Sub(a, b) => binary(a, b, &|| Ok(g.clone()), &|| g.try_neg()),
        // d (a * b) = g * b, g * a
        Op::Mul(a, b) => binary(a, b, &|| g.try_mul(b), &|| g.try_mul(a)),
        // d (a / b) = g / b, -g * a / b² = -(g * y) / b
        Op::Div(a, b) => binary(a, b, &|| g.try_div(b), &|| {
            g.try_mul(node)?.try_div(b)?.try_neg()
        }),
        // d a^b = g * b * a^(b - 1), g * y * ln(a) (0 where a = 0 and b >= 0)
        Op::Pow(a, b) => binary(
            a,
            b,
            &|| g.try_mul(&b.try_mul(&a.try_pow(&b.try_add_scalar(-one)?)?)?),
            &|| {
                let zero = Tensor::scalar(T::zero());
                let undefined = a.try_eq(&zero)?.try_mul(&b.try_ge(&zero)?)?;
                let slope = node.try_mul(&a.try_ln()?)?;
                undefined.try_where_cond(&zeros(a.shape())?, &g.try_mul(&slope)?)
            },
        ),
        // d max(a, b) = g * w, g * (1 - w) with w = [a > b] + ½ [a = b]
        Op::Maximum(a, b) => {
            let w = tie_weight(a, b, Extreme::Max, half)?;
            binary(a, b, &|| g.try_mul(&w), &|| {
                g.try_mul(&w.try_neg()?.try_add_scalar(one)?)
            })
        }
        // d min(a, b) = g * w, g * (1 - w) with w = [a < b] + ½ [a = b]
        Op::Minimum(a, b) => {
            let w = tie_weight(a, b, Extreme::Min, half)?;
            binary(a, b, &|| g.try_mul(&w), &|| {
                g.try_mul(&w.try_neg()?.try_add_scalar(one)?)
            })
        }
        // d where(c, t, f) = where(c, g, 0), where(c, 0, g)
        Op::Where {
            cond,
            on_true,
            on_false,
        } => binary(
            on_true,
            on_false,
            &|| cond.try_where_cond(g, &zeros(g.shape())?),
            &|| cond.try_where_cond(&zeros(g.shape())?, g),
        ),
        // d sum(x, dims) = g broadcast back over dims
        Op::Sum { arg, dims, keepdim } => unary(arg, &|| {
            let kept = if *keepdim {
                g.clone()
            } else {
                g.try_reshape(&with_kept_dims(g.shape(), dims, arg.ndim()))?
            };
            kept.try_broadcast_to(arg.shape())
        }),
        // d max(x, dim) = g at the selected position, 0 elsewhere
        Op::Extreme {
            arg,
            dim,
            keepdim,
            indices,
            ..
        } => unary(arg, &|| {
            let mask = selection_mask(arg.shape(), *dim, indices);
            let kept = if *keepdim {
                g.clone()
            } else {
                g.try_unsqueeze(*dim)?
            };
            kept.try_mul(&mask)
        }),
        // d log_softmax(x) = g - softmax(x) * sum(g, dim)
        Op::LogSoftmax { arg, dim } => unary(arg, &|| {
            let total = g.try_sum_dims(&[*dim], true)?;
            g.try_sub(&node.try_exp()?.try_mul(&total)?)
        }),
        // d mean((p - t)²) = (g / n) * ((p - t) * 2), and its negative for t
        Op::Mse { pred, target } => {
            let n = T::from_usize(pred.numel()).unwrap_or_else(T::infinity);
            let slope = || match recording() {
                true => {
                    let scale = g.try_div_scalar(n)?;
                    pred.try_sub(target)?.try_mul_scalar(two)?.try_mul(&scale)
                }
                false => {
                    let scale = g.try_item()? / n;
                    fused("mse", pred, target, move |p, t| scale * ((p - t) * two))
                }
            };
            binary(pred, target, &slope, &|| slope()?.try_neg())
        }
        // d (a · b) = g · bᵀ, aᵀ · g
        Op::Matmul(a, b) => binary(a, b, &|| g.try_matmul(&b.t()), &|| a.t().try_matmul(g)),
        // d linear(x, W, b) = g · Wᵀ, xᵀ · g over all rows, Σ_rows g
        Op::Linear {
            input,
            weight,
            bias,
        } => {
            let (inputs, outputs) = (weight.shape()[0], weight.shape()[1]);
            let rows: usize = input.shape()[..input.ndim() - 1].iter().product();
            if !recording()
                && let Some(out) = linear_grads_fused(input, weight, bias.as_ref(), g, rows)?
            {
                return Ok(out);
            }
            let flat_g = || g.try_reshape(&[rows, outputs]);
            let mut out = InputGrads::new();
            out.push(needed(input, || g.try_matmul(&weight.t()))?);
            out.push(needed(weight, || {
                input
                    .try_reshape(&[rows, inputs])?
                    .t()
                    .try_matmul(&flat_g()?)
            })?);
            if let Some(bias) = bias {
                out.push(needed(bias, || flat_g()?.try_sum_dims(&[0], false))?);
            }
            Ok(out)
        }
        // d reshape(x) = g reshaped back
        Op::Reshape(arg) => unary(arg, &|| g.try_reshape(arg.shape())),
        // d permute(x, p) = permute(g, p⁻¹)
        Op::Permute { arg, perm } => unary(arg, &|| {
            let mut inverse: Dims = perm.clone();
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            g.try_permute(&inverse)
        }),
        // d broadcast_to(x) = g summed over the broadcast dimensions
        Op::BroadcastTo(arg) => unary(arg, &|| sum_to_shape(g, arg.shape())),
        // d narrow(x, dim, start) = [0, g, 0] along dim
        Op::Narrow { arg, dim, start } => unary(arg, &|| {
            let size = arg.shape()[*dim];
            let len = g.shape()[*dim];
            let pad = |n: usize| {
                let mut shape = Dims::from_slice(g.shape());
                shape[*dim] = n;
                zeros(&shape)
            };
            Tensor::try_concat(&[pad(*start)?, g.clone(), pad(size - start - len)?], *dim)
        }),
        // d index_select(x, dim, i) = zeros.index_add(dim, i, g)
        Op::IndexSelect { arg, dim, indices } => {
            unary(arg, &|| zeros(arg.shape())?.try_index_add(*dim, indices, g))
        }
        // d index_add(x, dim, i, s) = g, index_select(g, dim, i)
        Op::IndexAdd {
            arg,
            dim,
            indices,
            source,
        } => binary(arg, source, &|| Ok(g.clone()), &|| {
            g.try_index_select(*dim, indices)
        }),
        // d concat(x_k, dim) = the slice of g where x_k sits
        Op::Concat { args, dim } => {
            let mut start = 0;
            let mut out = InputGrads::new();
            for arg in args {
                let len = arg.shape()[*dim];
                out.push(needed(arg, || g.try_narrow(*dim, start, len))?);
                start += len;
            }
            Ok(out)
        }
    }
}

/// `[a > b] + ½ [a = b]` (or `<` for the minimum): how a gradient splits between the operands
/// of an elementwise extreme, half to each on a tie, as PyTorch does.
fn tie_weight<T: Element>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    kind: Extreme,
    half: T,
) -> Result<Tensor<T>> {
    let wins = match kind {
        Extreme::Max => a.try_gt(b)?,
        Extreme::Min => a.try_lt(b)?,
    };
    wins.try_add(&a.try_eq(b)?.try_mul_scalar(half)?)
}

/// A constant of `shape` holding 1 where `indices` (one per slot of the reduced shape) point
/// along `dim`, 0 elsewhere.
fn selection_mask<T: Element>(shape: &[usize], dim: usize, indices: &[usize]) -> Tensor<T> {
    let outer: usize = shape[..dim].iter().product();
    let len = shape[dim];
    let inner: usize = shape[dim + 1..].iter().product();
    let mut data = vec![T::zero(); outer * len * inner];
    for o in 0..outer {
        for i in 0..inner {
            let at = indices[o * inner + i];
            data[(o * len + at) * inner + i] = T::one();
        }
    }
    Tensor::constant(Buf::from_vec(data), Layout::contiguous(shape))
}
