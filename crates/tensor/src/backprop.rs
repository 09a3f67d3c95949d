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

/// How a backward pass treats the graph it walks (PyTorch's `retain_graph` and
/// `create_graph`).
///
/// ```
/// use tensor::{BackwardOptions, Tensor};
/// let x = Tensor::<f64>::scalar(3.0).require_grad();
/// let y = &x * &x;
/// let keep = BackwardOptions::new().retain_graph(true);
/// let first = y.try_backward_with_options(None, keep)?;
/// let second = y.try_backward_with_options(None, BackwardOptions::new())?; // releases it
/// assert_eq!(first.get(&x).unwrap().item(), second.get(&x).unwrap().item());
/// assert!(y.try_backward().is_err()); // the graph is gone now
/// # Ok::<(), tensor::TensorError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackwardOptions {
    retain_graph: bool,
    create_graph: bool,
}

impl BackwardOptions {
    /// The default pass: the graph is released as it is walked, and nothing is recorded.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the graph, so that it can be backpropagated again.
    #[must_use]
    pub fn retain_graph(mut self, retain: bool) -> Self {
        self.retain_graph = retain;
        self
    }

    /// Records the gradient computation, so that the gradients can be differentiated again.
    /// The graph is then kept whatever [`retain_graph`](Self::retain_graph) says: the
    /// gradients' own graph runs through it.
    #[must_use]
    pub fn create_graph(mut self, create: bool) -> Self {
        self.create_graph = create;
        self
    }

    fn retains(self) -> bool {
        self.retain_graph || self.create_graph
    }
}

impl<T: Element> Tensor<T> {
    /// The gradients of this one-element tensor with respect to every tracked leaf it
    /// depends on.
    ///
    /// The pass releases the graph as it walks it, as PyTorch's does: each recorded
    /// operation lets go of its inputs once its gradient rule has run, so the activations and
    /// the parameters' values the forward pass saved are freed (or, for parameters, no longer
    /// shared, so an optimizer step updates them in place). The tensors keep their values
    /// (`loss.item()` still works), but a second backward pass through any of them fails with
    /// [`TensorError::GraphReleased`]; use
    /// [`backward_retain_graph`](Tensor::backward_retain_graph) to backpropagate more than
    /// once. A pass that reaches an old value of a parameter, replaced by an update after the
    /// graph was built, fails with [`TensorError::StaleParameter`] before touching the graph.
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
    /// [`backward_with`](Tensor::backward_with) and a seed of its shape), no tracked leaf
    /// reaches it, its graph was released by an earlier pass, or it uses a replaced value of
    /// a parameter.
    pub fn try_backward(&self) -> Result<Gradients<T>> {
        self.backward_from_one("backward", BackwardOptions::new())
    }

    /// As [`backward`](Tensor::backward), keeping the graph, so that it can be
    /// backpropagated again (PyTorch's `retain_graph=True`). The graph then keeps the values
    /// it saved, parameters' among them, alive until it is dropped.
    ///
    /// # Panics
    /// As [`try_backward`](Tensor::try_backward) fails.
    #[track_caller]
    pub fn backward_retain_graph(&self) -> Gradients<T> {
        self.try_backward_retain_graph()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`backward_retain_graph`](Tensor::backward_retain_graph).
    ///
    /// # Errors
    /// As [`try_backward`](Tensor::try_backward).
    pub fn try_backward_retain_graph(&self) -> Result<Gradients<T>> {
        let options = BackwardOptions::new().retain_graph(true);
        self.backward_from_one("backward_retain_graph", options)
    }

    /// The gradients of `sum(seed * self)`: a vector-Jacobian product, for outputs of any
    /// shape. Releases the graph as [`backward`](Tensor::backward) does.
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
    /// When `seed` does not have this tensor's shape, or as
    /// [`try_backward`](Tensor::try_backward).
    pub fn try_backward_with(&self, seed: &Tensor<T>) -> Result<Gradients<T>> {
        run(self, seed, BackwardOptions::new(), "backward_with")
    }

    /// As [`backward`](Tensor::backward), but the gradients are recorded in the graph, so they
    /// can be differentiated again. The graph is kept (the gradients' graph runs through it).
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
        let options = BackwardOptions::new().create_graph(true);
        self.backward_from_one("backward_create_graph", options)
    }

    /// As [`backward_with`](Tensor::backward_with), with the gradients recorded in the graph
    /// (differentiable in the inputs and in `seed`); the graph is kept.
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
        let options = BackwardOptions::new().create_graph(true);
        run(self, seed, options, "backward_with_create_graph")
    }

    /// The backward pass with every choice explicit: the gradients of `sum(seed * self)`
    /// (`seed` defaults to a one for a one-element tensor), keeping or releasing the graph
    /// and recording the gradients or not, as `options` say.
    ///
    /// # Errors
    /// As [`try_backward_with`](Tensor::try_backward_with), and without a seed as
    /// [`try_backward`](Tensor::try_backward).
    pub fn try_backward_with_options(
        &self,
        seed: Option<&Tensor<T>>,
        options: BackwardOptions,
    ) -> Result<Gradients<T>> {
        match seed {
            Some(seed) => run(self, seed, options, "backward_with_options"),
            None => self.backward_from_one("backward_with_options", options),
        }
    }

    fn backward_from_one(
        &self,
        name: &'static str,
        options: BackwardOptions,
    ) -> Result<Gradients<T>> {
        if self.numel() != 1 {
            return Err(TensorError::NotOneElement {
                op: name,
                shape: self.shape().to_vec(),
            });
        }
        run(self, &Tensor::ones(self.shape()), options, name)
    }
}

fn run<T: Element>(
    root: &Tensor<T>,
    seed: &Tensor<T>,
    options: BackwardOptions,
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
    let retain = options.retains();
    // Filled in place: it holds the graph's nodes inline, and moving it would copy them.
    let mut walk = Walk {
        nodes: SmallVec::new(),
        order: SmallVec::new(),
    };
    collect(root, retain, name, &mut walk)?;
    let Walk { nodes, order } = &mut walk;
    // Gradients of nodes not yet consumed. Each is removed when its node is processed, so an
    // intermediate gradient is freed as soon as its inputs' gradients exist; so is the node
    // itself with its operation (when the graph is released), so the forward pass's saved
    // values are freed as the pass goes.
    let mut pending: SmallIdMap<Tensor<T>> = SmallIdMap::default();
    pending.insert_new(root.id(), seed.clone());
    let mut result = Gradients::new();
    with_grad_enabled(options.create_graph, || {
        for (done, &i) in order.iter().rev().enumerate() {
            let i = i as usize;
            let Some((node, op)) = &nodes[i] else {
                continue;
            };
            let Some(grad) = pending.remove(node.id()) else {
                continue;
            };
            match op {
                None => result.insert_id(node.id(), grad),
                Some(op) => {
                    if let Err(e) = propagate(op, node, &grad, &mut pending, options.create_graph) {
                        if !retain {
                            // Released as far as the pass got; the rest can be walked again.
                            let left = order.len() - done;
                            let rest = order[..left].iter().map(|&i| i as usize);
                            restore(rest.filter_map(|i| nodes[i].take()));
                        }
                        return Err(e);
                    }
                }
            }
            nodes[i] = None;
        }
        Ok(result)
    })
}

/// Runs the rule of `op` (the operation that made `node`) on `grad`, and adds each input's
/// gradient to its pending one.
fn propagate<T: Element>(
    op: &Op<T>,
    node: &Tensor<T>,
    grad: &Tensor<T>,
    pending: &mut SmallIdMap<Tensor<T>>,
    create_graph: bool,
) -> Result<()> {
    // The rule's own ops are not checked as forward ops: a non-finite gradient is reported
    // as this op's, in the backward pass.
    let anomaly = crate::is_anomaly_enabled();
    let grads = if anomaly {
        crate::mode::with_anomaly(false, || input_grads(op, node, grad))?
    } else {
        input_grads(op, node, grad)?
    };
    for (input, input_grad) in op.inputs().into_iter().zip(grads) {
        if let Some(input_grad) = input_grad {
            if anomaly {
                let values = input_grad.to_vec();
                crate::mode::check_finite(op.name(), "backward", input.shape(), values)?;
            }
            debug_assert_eq!(input_grad.shape(), input.shape(), "rule of {}", op.name());
            accumulate(pending, input, input_grad, create_graph)?;
        }
    }
    Ok(())
}

/// A node of the graph being walked, with its operation taken out of it (or a copy of the
/// operation, when the graph is kept); `None` for a leaf.
type Entry<T> = (Tensor<T>, Option<Op<T>>);

/// The graph reachable from a backward pass's root: its nodes in the order they were found,
/// and their indices with every node after all of its inputs.
struct Walk<T: Element> {
    nodes: SmallVec<[Option<Entry<T>>; 16]>,
    order: SmallVec<[u32; 16]>,
}

/// The tracked nodes reachable from `root` (see [`Walk`]), each with its operation: taken out
/// of the node, which releases the graph, or cloned when `retain`. Iterative, so deep graphs
/// cannot overflow the stack; untracked inputs are not entered, which prunes every branch
/// that reaches no leaf requiring grad.
///
/// # Errors
/// When a node's graph was released by an earlier pass, or a leaf is a parameter's old
/// value; the operations taken so far are then put back, so the graph is as it was.
fn collect<T: Element>(
    root: &Tensor<T>,
    retain: bool,
    name: &'static str,
    walk: &mut Walk<T>,
) -> Result<()> {
    enum Visit<T: Element> {
        Enter(Tensor<T>),
        /// All inputs of the node at this index are in the order.
        Exit(u32),
    }
    let mut visited: SmallIdMap<()> = SmallIdMap::default();
    let mut stack: SmallVec<[Visit<T>; 16]> = smallvec![Visit::Enter(root.clone())];
    while let Some(visit) = stack.pop() {
        let node = match visit {
            Visit::Exit(i) => {
                walk.order.push(i);
                continue;
            }
            Visit::Enter(node) => node,
        };
        if visited.contains(node.id()) {
            continue;
        }
        visited.insert_new(node.id(), ());
        let op = if retain {
            node.op().clone()
        } else {
            node.op().take()
        };
        let mut refused = walkable(&node, op.as_ref(), name).err();
        // Popped after every input is in the order.
        let index = u32::try_from(walk.nodes.len()).expect("internal: under 2^32 graph nodes");
        stack.push(Visit::Exit(index));
        for input in op.iter().flat_map(Op::inputs) {
            // Every version of a parameter has the parameter's id, so an old version would
            // be skipped as visited once the current one is: each input is checked here.
            if input.is_retired() {
                refused.get_or_insert_with(|| stale(input, name));
                break;
            }
            if input.is_tracked() && !visited.contains(input.id()) {
                stack.push(Visit::Enter(input.clone()));
            }
        }
        walk.nodes.push(Some((node, op)));
        if let Some(e) = refused {
            if !retain {
                restore(walk.nodes.drain(..).flatten());
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Whether a backward pass may go through `node`, whose operation (if any) is `op`.
fn walkable<T: Element>(node: &Tensor<T>, op: Option<&Op<T>>, name: &'static str) -> Result<()> {
    if op.is_none() && node.was_recorded() {
        return Err(TensorError::GraphReleased {
            op: name,
            node: node.op_name().unwrap_or("operation"),
            shape: node.shape().to_vec(),
        });
    }
    if node.is_retired() {
        return Err(stale(node, name));
    }
    Ok(())
}

/// The error for a backward pass that reaches `node`, a parameter's replaced value.
fn stale<T: Element>(node: &Tensor<T>, name: &'static str) -> TensorError {
    TensorError::StaleParameter {
        op: name,
        shape: node.shape().to_vec(),
    }
}

/// Puts operations taken out of their nodes back.
fn restore<T: Element>(entries: impl IntoIterator<Item = Entry<T>>) {
    for (node, op) in entries {
        if let Some(op) = op {
            *node.op() = Some(op);
        }
    }
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

/// The linear rule when nothing is recorded, and the matmul rule for two matrices (a linear
/// without bias): `dX = G Wᵀ` and `dW = Xᵀ G` straight from the matmul kernel on transposed
/// layouts, with no view tensors or matmul ops in between (on a tiny graph those were a
/// quarter of the backward pass). `None` when the input or the gradient is laid out so that
/// flattening it to rows needs a copy: the general rule then does that.
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
        Op::Matmul(a, b) => {
            if !recording()
                && a.ndim() == 2
                && b.ndim() == 2
                && let Some(out) = linear_grads_fused(a, b, None, g, a.shape()[0])?
            {
                return Ok(out);
            }
            binary(a, b, &|| g.try_matmul(&b.t()), &|| a.t().try_matmul(g))
        }
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
