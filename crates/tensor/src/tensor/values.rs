//! What a tensor tells of itself: its shape, its values, and where it stands in the graph.

use super::{Tensor, TensorId};
use crate::element::{DType, Element, Scalar};
use crate::error::{Result, TensorError};
use crate::layout::{Layout, for_each_run};

impl<T: Scalar> Tensor<T> {
    /// The size of each dimension.
    #[inline]
    pub fn shape(&self) -> &[usize] {
        self.inner.layout.shape()
    }

    /// The number of elements.
    #[inline]
    pub fn numel(&self) -> usize {
        self.inner.layout.numel()
    }

    /// The number of dimensions (0 for a scalar).
    #[inline]
    pub fn ndim(&self) -> usize {
        self.shape().len()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        T::DTYPE
    }

    /// This tensor's identity, the key of its gradient.
    #[inline]
    pub fn id(&self) -> TensorId {
        self.inner.id
    }

    /// The elements in row-major order.
    ///
    /// # Panics
    /// When the copy cannot be allocated: only possible for a broadcast view far larger than
    /// its storage (`try_` ops return [`TensorError::OutOfMemory`] for the same case).
    pub fn to_vec(&self) -> Vec<T> {
        match self.strided().contiguous("to_vec") {
            Ok(data) => data.into_owned(),
            // Gathering allocates as many elements as the tensor addresses, which can exceed
            // memory only for a broadcast view; report it like any allocation failure.
            Err(e) => panic!("{e}"),
        }
    }

    /// The elements in row-major order as a slice of the storage, when they lie there
    /// contiguously (results of ops always do; views may not). No copy.
    pub fn as_slice(&self) -> Option<&[T]> {
        let range = self.inner.layout.contiguous_range()?;
        Some(&self.inner.storage.as_slice()[range])
    }

    /// Calls `f(i, value)` for every element in row-major order, reading through the layout:
    /// no copy, no allocation (an optimizer step reads gradients this way).
    ///
    /// ```
    /// use tensor::Tensor;
    /// let t = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?.t();
    /// let mut seen = Vec::new();
    /// t.for_each_value(|i, v| seen.push((i, v)));
    /// assert_eq!(seen, vec![(0, 1.0), (1, 3.0), (2, 2.0), (3, 4.0)]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn for_each_value(&self, mut f: impl FnMut(usize, T)) {
        let data = self.inner.storage.as_slice();
        let layout = &self.inner.layout;
        let mut i = 0;
        for_each_run(layout.shape(), [layout], |[offset], len, [step]| {
            for k in 0..len {
                f(i + k, data[offset + k * step]);
            }
            i += len;
        });
    }

    /// The value of a one-element tensor.
    ///
    /// # Panics
    /// When the tensor does not have exactly one element.
    #[track_caller]
    pub fn item(&self) -> T {
        self.try_item().unwrap_or_else(|e| panic!("{e}"))
    }

    /// The value of a one-element tensor.
    ///
    /// # Errors
    /// When the tensor does not have exactly one element.
    pub fn try_item(&self) -> Result<T> {
        if self.numel() != 1 {
            return Err(TensorError::NotOneElement {
                op: "item",
                shape: self.shape().to_vec(),
            });
        }
        Ok(self.inner.storage.as_slice()[self.inner.layout.offset()])
    }

    /// A copy converted to another element type, as Rust's `as` converts: floats to integers
    /// round toward zero and saturate (NaN becomes 0), integers to floats round to nearest.
    /// Cut from the graph.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![-1.5, 2.7], &[2])?;
    /// assert_eq!(x.to_dtype::<i64>().to_vec(), vec![-1, 2]);
    /// assert_eq!(x.to_dtype::<i64>().to_dtype::<f64>().to_vec(), vec![-1.0, 2.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn to_dtype<U: Scalar>(&self) -> Tensor<U> {
        let data = crate::kernels::elementwise::map("to_dtype", self.strided(), U::cast)
            .unwrap_or_else(|e| panic!("{e}"));
        Tensor::constant(data, Layout::contiguous(self.shape()))
    }
}

impl<T: Element> Tensor<T> {
    /// Whether gradients flow through this tensor: a leaf made by
    /// [`require_grad`](Tensor::require_grad), or a result computed from one while grad mode
    /// was on.
    pub fn requires_grad(&self) -> bool {
        self.is_tracked()
    }

    /// Whether this tensor was not computed by a recorded operation.
    pub fn is_leaf(&self) -> bool {
        self.inner.node.op_name.is_none()
    }

    /// The name of the operation that made this tensor, if it was recorded (also after a
    /// backward pass released the graph).
    pub fn op_name(&self) -> Option<&'static str> {
        self.inner.node.op_name
    }

    /// Whether the graph behind this tensor can still be backpropagated: it is a leaf, or
    /// its recorded operation has not been released by a backward pass (see
    /// [`backward`](Tensor::backward)).
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::scalar(2.0).require_grad();
    /// let y = &x * &x;
    /// assert!(y.has_graph());
    /// let _ = y.backward();
    /// assert!(!y.has_graph()); // released: y's value stays, a second backward is refused
    /// assert_eq!(y.item(), 4.0);
    /// ```
    pub fn has_graph(&self) -> bool {
        !self.was_recorded() || self.op().is_some()
    }

    /// A leaf with the same values that receives gradients: `backward` reports its gradient.
    /// The result is a new tensor (a new [`TensorId`]) sharing this one's storage, cut from
    /// whatever graph made this one.
    pub fn require_grad(self) -> Self {
        Self::build(
            TensorId::fresh(),
            self.inner.storage.share(),
            self.inner.layout.clone(),
            None,
            true,
        )
    }

    /// The same values, cut from the graph: no gradient flows through the result.
    pub fn detach(&self) -> Self {
        Self::build(
            TensorId::fresh(),
            self.inner.storage.share(),
            self.inner.layout.clone(),
            None,
            false,
        )
    }
}
