//! The store `backward` returns: the gradient of every tracked leaf it reached.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::element::Element;
use crate::parameter::Parameter;
use crate::tensor::{Tensor, TensorId};

/// A hasher for [`TensorId`]s, which are already unique integers: one multiply spreads them
/// over the table, far cheaper than SipHash on the hot path of small graphs.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type IdMap<V> = HashMap<TensorId, V, BuildHasherDefault<IdHasher>>;

/// A map keyed by tensor ids for the bookkeeping of one backward pass: a linear scan over an
/// inline array while small (tiny graphs then allocate nothing for it), a hash table beyond.
pub(crate) struct SmallIdMap<V> {
    small: smallvec::SmallVec<[(TensorId, V); 8]>,
    large: IdMap<V>,
}

impl<V> Default for SmallIdMap<V> {
    fn default() -> Self {
        SmallIdMap {
            small: smallvec::SmallVec::new(),
            large: IdMap::default(),
        }
    }
}

impl<V> SmallIdMap<V> {
    pub(crate) fn get_mut(&mut self, id: TensorId) -> Option<&mut V> {
        match self.small.iter_mut().find(|(k, _)| *k == id) {
            Some((_, v)) => Some(v),
            None => self.large.get_mut(&id),
        }
    }

    pub(crate) fn contains(&self, id: TensorId) -> bool {
        self.small.iter().any(|(k, _)| *k == id) || self.large.contains_key(&id)
    }

    /// Inserts a key that is not present.
    pub(crate) fn insert_new(&mut self, id: TensorId, value: V) {
        if self.small.len() < self.small.inline_size() {
            self.small.push((id, value));
        } else {
            self.large.insert(id, value);
        }
    }

    pub(crate) fn remove(&mut self, id: TensorId) -> Option<V> {
        match self.small.iter().position(|(k, _)| *k == id) {
            Some(at) => Some(self.small.swap_remove(at).1),
            None => self.large.remove(&id),
        }
    }
}

/// Something whose gradient can be looked up: a [`Tensor`] or a [`Parameter`].
pub trait GradKey<T: Element> {
    /// The id the gradient is stored under.
    fn grad_id(&self) -> TensorId;
}

impl<T: Element> GradKey<T> for Tensor<T> {
    fn grad_id(&self) -> TensorId {
        self.id()
    }
}

/// A reference to a key is a key, so that `grads.get(x)` works where `x` is itself a
/// reference (`for x in &inputs`).
impl<T: Element, K: GradKey<T> + ?Sized> GradKey<T> for &K {
    fn grad_id(&self) -> TensorId {
        (**self).grad_id()
    }
}

impl<T: Element> GradKey<T> for Parameter<T> {
    fn grad_id(&self) -> TensorId {
        self.tensor_id()
    }
}

/// The gradients one backward pass computed, keyed by the leaf they belong to. Calling
/// `backward` again gives a fresh, equal store: nothing accumulates between passes.
///
/// ```
/// use tensor::Tensor;
/// let x = Tensor::<f64>::scalar(3.0).require_grad();
/// let y = &x * &x;
/// let grads = y.backward();
/// assert_eq!(grads.get(&x).unwrap().item(), 6.0); // d(x²)/dx = 2x
/// assert_eq!(grads.len(), 1);
/// ```
pub struct Gradients<T: Element = f32> {
    map: IdMap<Tensor<T>>,
}

impl<T: Element> Default for Gradients<T> {
    fn default() -> Self {
        Gradients {
            map: IdMap::default(),
        }
    }
}

impl<T: Element> Clone for Gradients<T> {
    fn clone(&self) -> Self {
        Gradients {
            map: self.map.clone(),
        }
    }
}

impl<T: Element> std::fmt::Debug for Gradients<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut entries: Vec<_> = self.map.iter().collect();
        entries.sort_by_key(|(id, _)| **id);
        f.debug_map().entries(entries).finish()
    }
}

impl<T: Element> Gradients<T> {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The gradient of a leaf tensor or a parameter, if the pass reached it. The gradient has
    /// the leaf's shape; it may be a view (a broadcast gradient is not expanded in memory).
    pub fn get(&self, key: &impl GradKey<T>) -> Option<&Tensor<T>> {
        self.map.get(&key.grad_id())
    }

    /// The gradient stored under `id`.
    pub fn get_by_id(&self, id: TensorId) -> Option<&Tensor<T>> {
        self.map.get(&id)
    }

    /// Stores `grad` as the gradient of `key`, returning the one it replaces. Used to rescale
    /// or clip gradients before an optimizer step.
    pub fn insert(&mut self, key: &impl GradKey<T>, grad: Tensor<T>) -> Option<Tensor<T>> {
        self.map.insert(key.grad_id(), grad)
    }

    /// Removes and returns the gradient of `key`.
    pub fn remove(&mut self, key: &impl GradKey<T>) -> Option<Tensor<T>> {
        self.map.remove(&key.grad_id())
    }

    /// The number of gradients held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no gradient is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every `(leaf id, gradient)` pair, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (TensorId, &Tensor<T>)> {
        self.map.iter().map(|(&id, grad)| (id, grad))
    }

    pub(crate) fn insert_id(&mut self, id: TensorId, grad: Tensor<T>) {
        self.map.insert(id, grad);
    }
}
