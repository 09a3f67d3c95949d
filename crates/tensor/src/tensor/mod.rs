//! The tensor handle: identity, storage, layout and the operation that made it.

use std::cell::Cell;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use smallvec::SmallVec;

use crate::element::{Element, Scalar};
use crate::error::Result;
use crate::kernels::{Buf, Strided};
use crate::layout::Layout;
use crate::mode::is_grad_enabled;
use crate::ops::{Movement, Op};
use crate::storage::{Storage, sole};

pub(crate) mod slots;
mod values;

/// An n-dimensional array of `f32` (the default) or `f64` that records the operations applied
/// to it, so that [`backward`](Tensor::backward) can compute gradients.
///
/// A `Tensor` is an immutable handle: cloning it is cheap (a reference count) and every
/// operation returns a new tensor. Views (transpose, broadcast, narrow, most reshapes) share
/// the storage of their source.
///
/// ```
/// use tensor::Tensor;
/// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0], &[3])?.require_grad();
/// let y = (&x * &x).sum(); // y = x0² + x1² + x2²
/// let grads = y.backward();
/// assert_eq!(grads.get(&x).unwrap().to_vec(), vec![2.0, 4.0, 6.0]); // dy/dx = 2x
/// # Ok::<(), tensor::TensorError>(())
/// ```
pub struct Tensor<T: Scalar = f32> {
    /// Taken out only by the tensor's `Drop`, which hands the last handle's allocation back
    /// to [`slots`] for the next tensor.
    inner: ManuallyDrop<Arc<Inner<T>>>,
}

pub(crate) struct Inner<T: Scalar> {
    id: TensorId,
    storage: Storage<T>,
    layout: Layout,
    /// Where the tensor stands in the graph: nothing for integers, a [`Node`] for floats.
    node: T::Node,
}

/// A float tensor's place in the graph.
pub struct Node<T: Element> {
    /// The recorded operation while its graph lives: `None` for leaves, for results nothing
    /// tracked reaches, and for results whose graph a backward pass has released. A lock,
    /// because a backward pass takes the operation out of a tensor others may hold.
    op: Mutex<Option<Op<T>>>,
    /// The name of the recorded operation, if one was recorded; kept after the release.
    op_name: Option<&'static str>,
    /// A leaf whose gradient `backward` reports.
    requires_grad: bool,
    /// Set on an old value of a [`Parameter`](crate::Parameter) when an update or a
    /// `set` replaced it: a backward pass that reaches it is refused.
    retired: AtomicBool,
}

impl<T: Element> Node<T> {
    pub(crate) fn new(op: Option<Op<T>>, requires_grad: bool) -> Self {
        Node {
            op_name: op.as_ref().map(Op::name),
            op: Mutex::new(op),
            requires_grad,
            retired: AtomicBool::new(false),
        }
    }

    /// The recorded operation's name, and whether this is a leaf that requires grad.
    pub(crate) fn label(&self) -> (Option<&'static str>, bool) {
        (self.op_name, self.op_name.is_none() && self.requires_grad)
    }
}

/// The identity of a tensor, the key of its gradient in [`Gradients`](crate::Gradients).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(u64);

impl TensorId {
    /// A new id. Each thread takes ids in blocks from one process-wide counter, so that
    /// making a tensor costs no locked instruction (and no contended cache line when threads
    /// make tensors side by side).
    #[inline]
    pub(crate) fn fresh() -> Self {
        const BLOCK: u64 = 1 << 12;
        static NEXT: AtomicU64 = AtomicU64::new(1);
        thread_local! {
            /// The ids this thread may still hand out: `next..end`.
            static IDS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
        }
        // A `Cell` without a destructor: usable until the thread ends, teardown included.
        let id = IDS.with(|ids| {
            let (next, end) = ids.get();
            if next < end {
                ids.set((next + 1, end));
                next
            } else {
                let start = NEXT.fetch_add(BLOCK, Ordering::Relaxed);
                ids.set((start + 1, start + BLOCK));
                start
            }
        });
        TensorId(id)
    }

    /// The id as a number, unique within the process: the ids of tensors made on one thread
    /// increase, while those made on different threads follow no order.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl<T: Scalar> Clone for Tensor<T> {
    fn clone(&self) -> Self {
        Tensor {
            inner: ManuallyDrop::new(Arc::clone(&self.inner)),
        }
    }
}

impl<T: Scalar> Drop for Tensor<T> {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: taken out once, here, and `self.inner` is not used after.
        let inner = unsafe { ManuallyDrop::take(&mut self.inner) };
        slots::release(inner);
    }
}

// Internal construction and access, for every scalar type.
impl<T: Scalar> Tensor<T> {
    /// A tensor over `storage` through `layout` with its place in the graph.
    #[inline(always)]
    pub(crate) fn with_node(storage: Storage<T>, layout: Layout, node: T::Node) -> Self {
        Tensor {
            inner: ManuallyDrop::new(slots::new(TensorId::fresh(), storage, layout, node)),
        }
    }

    /// An untracked tensor over `data` (laid out by `layout`).
    pub(crate) fn constant(data: Buf<T>, layout: Layout) -> Self {
        Self::with_node(Storage::new(data), layout, T::untracked())
    }

    /// A view of this tensor's storage through `layout`, made by `movement` (recorded for
    /// floats when grad mode is on and this tensor is tracked).
    pub(crate) fn moved_view(&self, layout: Layout, movement: Movement) -> Self {
        Self::with_node(
            self.inner.storage.share(),
            layout,
            T::moved(&[self], movement),
        )
    }

    /// A row-major result of `movement` on `inputs`.
    pub(crate) fn moved_copy(
        data: Buf<T>,
        shape: &[usize],
        inputs: &[&Tensor<T>],
        movement: Movement,
    ) -> Self {
        Self::with_node(
            Storage::new(data),
            Layout::contiguous(shape),
            T::moved(inputs, movement),
        )
    }

    /// What `Display` says of the graph: the recorded operation's name, and whether this
    /// is a leaf that requires grad.
    pub(crate) fn graph_label(&self) -> (Option<&'static str>, bool) {
        T::graph_label(&self.inner.node)
    }

    #[inline]
    pub(crate) fn layout(&self) -> &Layout {
        &self.inner.layout
    }

    /// The storage and layout, as the kernels read them.
    #[inline]
    pub(crate) fn strided(&self) -> Strided<'_, T> {
        Strided {
            data: self.inner.storage.as_slice(),
            layout: &self.inner.layout,
        }
    }
}

// Internal construction and access of the graph.
impl<T: Element> Tensor<T> {
    // Inlined into its callers: across a call, the new `Inner` was copied once more on its
    // way into the allocation, for every tensor made.
    #[inline(always)]
    pub(crate) fn build(
        id: TensorId,
        storage: Storage<T>,
        layout: Layout,
        op: Option<Op<T>>,
        requires_grad: bool,
    ) -> Self {
        Tensor {
            inner: ManuallyDrop::new(slots::new(
                id,
                storage,
                layout,
                Node::new(op, requires_grad),
            )),
        }
    }

    /// The result of `op`, row-major in `data`. The operation is kept only when grad mode is
    /// on and one of its inputs is tracked: inference builds no graph.
    ///
    /// # Errors
    /// Inside [`detect_anomaly`](crate::detect_anomaly), when `data` holds a NaN or an
    /// infinity.
    pub(crate) fn from_op(data: Buf<T>, shape: &[usize], op: Op<T>) -> Result<Self> {
        let name = op.name();
        Self::result(data, shape, name, record(op))
    }

    /// As [`from_op`](Tensor::from_op) for the operation `name` on `inputs`, building the
    /// operation only when it is recorded: an untracked result then costs no clone of its
    /// inputs.
    ///
    /// # Errors
    /// As [`from_op`](Tensor::from_op).
    pub(crate) fn from_op_with(
        data: Buf<T>,
        shape: &[usize],
        name: &'static str,
        inputs: &[&Tensor<T>],
        op: impl FnOnce() -> Op<T>,
    ) -> Result<Self> {
        let recorded = is_grad_enabled() && inputs.iter().any(|input| input.is_tracked());
        Self::result(data, shape, name, recorded.then(op))
    }

    /// A result of the operation `name`, row-major in `data`, with its recorded operation
    /// (`None` when it is not recorded).
    pub(crate) fn result(
        data: Buf<T>,
        shape: &[usize],
        name: &'static str,
        op: Option<Op<T>>,
    ) -> Result<Self> {
        crate::mode::check_finite(name, "forward", shape, data.iter().copied())?;
        Ok(Self::build(
            TensorId::fresh(),
            Storage::new(data),
            Layout::contiguous(shape),
            op,
            false,
        ))
    }

    /// A view of this tensor's storage through `layout`, made by `op`.
    pub(crate) fn view_of(&self, layout: Layout, op: Op<T>) -> Self {
        Self::build(
            TensorId::fresh(),
            self.inner.storage.share(),
            layout,
            record(op),
            false,
        )
    }

    /// A leaf over this tensor's storage that receives gradients under the given id: the
    /// stable identity of a [`Parameter`](crate::Parameter) across updates.
    pub(crate) fn leaf_with_id(&self, id: TensorId) -> Self {
        Self::build(
            id,
            self.inner.storage.share(),
            self.inner.layout.clone(),
            None,
            true,
        )
    }

    /// A leaf over `data` (row-major, `shape`) that receives gradients under `id`.
    pub(crate) fn leaf_from_vec(data: Vec<T>, shape: &[usize], id: TensorId) -> Self {
        Self::build(
            id,
            Storage::from_vec(data),
            Layout::contiguous(shape),
            None,
            true,
        )
    }

    /// The recorded operation, locked: `None` for a leaf, an untracked result or a released
    /// graph. Do not lock another tensor's operation while holding it.
    pub(crate) fn op(&self) -> MutexGuard<'_, Option<Op<T>>> {
        // Taking an operation out or putting it back cannot be interrupted half-way, so a
        // poisoned lock still holds a whole value.
        self.inner
            .node
            .op
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether an operation was recorded for this tensor (even if a backward pass has since
    /// released it).
    pub(crate) fn was_recorded(&self) -> bool {
        self.inner.node.op_name.is_some()
    }

    /// Marks this old value of a parameter as replaced (see [`Inner::retired`]).
    pub(crate) fn retire(&self) {
        self.inner.node.retired.store(true, Ordering::Release);
    }

    /// Whether this is an old value of a parameter that an update replaced.
    pub(crate) fn is_retired(&self) -> bool {
        self.inner.node.retired.load(Ordering::Acquire)
    }

    /// Whether gradients flow through this tensor: a leaf that requires grad, or a recorded
    /// result.
    #[inline]
    pub(crate) fn is_tracked(&self) -> bool {
        self.inner.node.requires_grad || self.inner.node.op_name.is_some()
    }

    /// Mutable access to the elements when this handle is the only one on the tensor and its
    /// storage and the layout covers the whole storage in order; used for in-place updates
    /// that must not be seen by anyone else.
    pub(crate) fn unique_data_mut(&mut self) -> Option<&mut [T]> {
        self.unique_parts_mut().map(|(data, _)| data)
    }

    /// The elements and the recorded operation of a tensor this handle alone owns (storage
    /// included, laid out over the whole storage in order), to rewrite both in place: the
    /// operation with its name, which must describe the new values. `None` when anything
    /// else shares it.
    pub(crate) fn unique_parts_mut(&mut self) -> Option<(&mut [T], OpSlot<'_, T>)> {
        let inner = Arc::get_mut(&mut self.inner)?;
        let covers_all = inner.layout.contiguous_range() == Some(0..inner.storage.as_slice().len());
        if !covers_all {
            return None;
        }
        let data = inner.storage.unique_mut()?;
        let op = OpSlot {
            op: inner
                .node
                .op
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
            name: &mut inner.node.op_name,
        };
        Some((data, op))
    }
}

/// The recorded operation of a tensor being rewritten in place, with its name.
pub(crate) struct OpSlot<'a, T: Element> {
    op: &'a mut Option<Op<T>>,
    name: &'a mut Option<&'static str>,
}

impl<T: Element> OpSlot<'_, T> {
    pub(crate) fn get(&self) -> Option<&Op<T>> {
        self.op.as_ref()
    }

    /// Replaces the operation; its name goes with it.
    pub(crate) fn replace(&mut self, op: Op<T>) -> Option<Op<T>> {
        *self.name = Some(op.name());
        self.op.replace(op)
    }
}

/// Keeps `op` if it should be part of the graph.
fn record<T: Element>(op: Op<T>) -> Option<Op<T>> {
    (is_grad_enabled() && op.inputs().iter().any(|input| input.is_tracked())).then_some(op)
}

/// Dropping the last handle on a long chain of results would drop each recorded input inside
/// the drop of its consumer, one stack frame per link: a 100,000-op chain overflows the stack.
/// Instead each recorded operation is detached here and its inputs are released from an
/// explicit stack.
impl<T: Element> Drop for Node<T> {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        let Some(op) = take_op(&mut self.op) else {
            return;
        };
        // Inline room for the usual graph: a drop allocates nothing until a graph branches
        // out wider than this.
        let mut pending: SmallVec<[Tensor<T>; 8]> = op.into_inputs().into_iter().collect();
        while let Some(mut tensor) = pending.pop() {
            // Only a sole owner may take the operation apart; shared inputs stay alive.
            // SAFETY: no `Weak` is made of a tensor.
            if let Some(inner) = unsafe { sole(&mut tensor.inner) }
                && let Some(op) = take_op(&mut inner.node.op)
            {
                pending.extend(op.into_inputs());
            }
        }
    }
}

/// The operation out of a tensor being dropped (no lock needed: it is the only owner).
fn take_op<T: Element>(op: &mut Mutex<Option<Op<T>>>) -> Option<Op<T>> {
    op.get_mut().unwrap_or_else(PoisonError::into_inner).take()
}
