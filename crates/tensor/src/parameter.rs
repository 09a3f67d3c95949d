//! Trainable values: shared handles with a stable identity.

use std::sync::{Arc, PoisonError, RwLock};

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::tensor::{Tensor, TensorId};

/// The stable identity of a [`Parameter`], the key of optimizer state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(TensorId);

impl ParamId {
    /// The id as a number, unique within the process.
    pub fn get(self) -> u64 {
        self.0.get()
    }
}

/// A trainable value: a shared handle (clones are the same parameter) on a leaf tensor that
/// requires grad.
///
/// Every version of the value, before and after updates, is a leaf with the same
/// [`TensorId`], so a gradient is found under the parameter: `grads.get(&param)`.
///
/// An update ([`update`](Parameter::update), which optimizers use) writes in place when
/// nothing else holds the value: after a backward pass, which releases the graph, that is the
/// usual case. When something does (a graph kept with `backward_retain_graph` or not yet
/// backpropagated, a clone of [`tensor`](Parameter::tensor)), the update goes to a copy:
/// the holder keeps the old values, and the old value is marked as replaced, so that a
/// backward pass through it fails with
/// [`TensorError::StaleParameter`](crate::TensorError::StaleParameter) instead of
/// computing a gradient at values the parameter no longer has (or mixing old and new ones).
/// [`set`](Parameter::set) replaces the value the same way.
///
/// ```
/// use tensor::{Parameter, Tensor};
/// let w = Parameter::new(Tensor::<f32>::from_vec(vec![1.0, 2.0], &[2])?);
/// let loss = (w.tensor() * 3.0).sum();
/// let grads = loss.backward();
/// assert_eq!(grads.get(&w).unwrap().to_vec(), vec![3.0, 3.0]);
/// w.update(|data| data.iter_mut().for_each(|v| *v -= 1.0));
/// assert_eq!(w.tensor().to_vec(), vec![0.0, 1.0]);
/// # Ok::<(), tensor::TensorError>(())
/// ```
pub struct Parameter<T: Element = f32> {
    inner: Arc<Inner<T>>,
}

struct Inner<T: Element> {
    id: TensorId,
    tensor: RwLock<Tensor<T>>,
}

impl<T: Element> Clone for Parameter<T> {
    fn clone(&self) -> Self {
        Parameter {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T: Element> std::fmt::Debug for Parameter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parameter")
            .field("id", &self.id().get())
            .field("shape", &self.shape())
            .finish()
    }
}

impl<T: Element> Parameter<T> {
    /// A parameter holding `value` (its storage is shared, not copied), cut from any graph.
    pub fn new(value: Tensor<T>) -> Self {
        let id = TensorId::fresh();
        Parameter {
            inner: Arc::new(Inner {
                id,
                tensor: RwLock::new(value.leaf_with_id(id)),
            }),
        }
    }

    /// The identity shared by all clones of this handle.
    pub fn id(&self) -> ParamId {
        ParamId(self.inner.id)
    }

    /// The id of the leaf tensor, under which [`Gradients`](crate::Gradients) stores this
    /// parameter's gradient.
    pub fn tensor_id(&self) -> TensorId {
        self.inner.id
    }

    /// The current value, a leaf that requires grad.
    pub fn tensor(&self) -> Tensor<T> {
        self.read().clone()
    }

    /// The shape of the value (fixed for the parameter's life).
    pub fn shape(&self) -> Vec<usize> {
        self.read().shape().to_vec()
    }

    /// Whether the value has `shape` (no allocation, unlike comparing [`shape`](Self::shape)).
    pub fn has_shape(&self, shape: &[usize]) -> bool {
        self.read().shape() == shape
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.read().numel()
    }

    /// Replaces the value.
    ///
    /// # Panics
    /// As [`try_set`](Parameter::try_set) fails.
    #[track_caller]
    pub fn set(&self, value: Tensor<T>) {
        self.try_set(value).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Replaces the value, which must keep the shape.
    ///
    /// # Errors
    /// When `value` has another shape.
    pub fn try_set(&self, value: Tensor<T>) -> Result<()> {
        let mut guard = self.write();
        if value.shape() != guard.shape() {
            return Err(TensorError::mismatch(
                "Parameter::set",
                guard.shape(),
                value.shape(),
                format!(
                    "cannot replace a parameter of shape {:?} by a value of shape {:?}",
                    guard.shape(),
                    value.shape()
                ),
            ));
        }
        guard.retire();
        *guard = value.leaf_with_id(self.inner.id);
        Ok(())
    }

    /// Updates the elements (row-major) with `f`. In place when nothing else holds the value
    /// (no clone of [`tensor`](Parameter::tensor), no graph that still holds it): no
    /// allocation. Otherwise the update goes to a copy, so holders of the old value keep
    /// what they saw, and the old value is marked as replaced: a backward pass that reaches
    /// it fails with [`TensorError::StaleParameter`](crate::TensorError::StaleParameter).
    pub fn update(&self, f: impl FnOnce(&mut [T])) {
        let mut guard = self.write();
        if let Some(data) = guard.unique_data_mut() {
            f(data);
            return;
        }
        let mut data = guard.to_vec();
        f(&mut data);
        guard.retire();
        *guard = Tensor::leaf_from_vec(data, guard.shape(), self.inner.id);
    }

    /// Whether the next [`update`](Parameter::update) can write in place: nothing but this
    /// parameter holds its value.
    ///
    /// ```
    /// use tensor::{Parameter, Tensor};
    /// let w = Parameter::new(Tensor::<f32>::ones(&[3]));
    /// let loss = (w.tensor() * 2.0).sum();
    /// assert!(!w.is_unshared()); // the graph holds the value
    /// let _grads = loss.backward(); // ... until backward releases it
    /// assert!(w.is_unshared());
    /// ```
    pub fn is_unshared(&self) -> bool {
        self.write().unique_data_mut().is_some()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Tensor<T>> {
        // A panic inside `update` cannot leave a torn tensor handle behind (at worst some
        // elements updated), so the lock's poison flag adds nothing and is ignored.
        self.inner
            .tensor
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Tensor<T>> {
        self.inner
            .tensor
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
