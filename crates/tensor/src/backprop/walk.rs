//! The walk of a backward pass: the graph collected in topological order (released as it is
//! taken, unless kept), each node's rule run once its gradient is complete, and the
//! gradients of shared inputs summed.

use smallvec::{SmallVec, smallvec};

use super::BackwardOptions;
use super::rules::input_grads;
use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::gradients::{Gradients, SmallIdMap};
use crate::kernels::elementwise;
use crate::mode::with_grad_enabled;
use crate::ops::Op;
use crate::tensor::Tensor;

pub(super) fn run<T: Element>(
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
