//! The element types a tensor can hold.

use std::fmt::{Debug, Display, LowerExp};
use std::iter::Sum;

use num_traits::{AsPrimitive, Float, FromPrimitive, NumAssign, One, Zero};

use crate::tensor::Node;
use rand::distr::uniform::SampleUniform;

/// A value a tensor can hold: the floats `f32` and `f64` ([`Element`]), and the integer
/// `i64` for indices, class labels and masks.
///
/// Every tensor has a shape, a layout and the movement ops (reshape, transpose, narrow,
/// concatenation, indexing, broadcasting) and comparisons; only tensors of an [`Element`]
/// take part in the graph and have arithmetic that is differentiated. The trait is sealed.
///
/// ```
/// use tensor::Tensor;
/// let labels = Tensor::<i64>::from_vec(vec![2, 0, 1, 2], &[2, 2])?;
/// assert_eq!(labels.t().to_vec(), vec![2, 1, 0, 2]);
/// # Ok::<(), tensor::TensorError>(())
/// ```
///
/// Arithmetic and the graph are for floats only, checked when compiling:
///
/// ```compile_fail
/// let ids = tensor::Tensor::<i64>::zeros(&[3]);
/// let _ = ids.exp(); // no `exp` on integer tensors
/// ```
///
/// ```compile_fail
/// let ids = tensor::Tensor::<i64>::zeros(&[3]).require_grad(); // integers take no gradient
/// ```
pub trait Scalar:
    Copy
    + PartialEq
    + PartialOrd
    + Zero
    + One
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + 'static
    + AsPrimitive<f32>
    + AsPrimitive<f64>
    + AsPrimitive<i64>
    + private::Sealed
{
    /// The type tag of this scalar type, as stored in checkpoints.
    const DTYPE: DType;

    /// `value` converted as Rust's `as` converts: floats to integers round toward zero and
    /// saturate (NaN becomes 0), integers to floats and `f64` to `f32` round to nearest.
    fn cast<S: Scalar>(value: S) -> Self;

    /// Appends the little-endian bytes of this value (bit-exact, NaN payloads included).
    fn extend_le_bytes(self, out: &mut Vec<u8>);

    /// The value whose little-endian bytes are `bytes`, or `None` unless exactly
    /// [`DType::size_in_bytes`] bytes are given.
    fn from_le_slice(bytes: &[u8]) -> Option<Self>;
}

/// The floating-point element of a differentiable tensor: `f32` (the default) or `f64`.
///
/// The trait is sealed: kernels rely on it being exactly these two types (the matmul kernel
/// dispatches on them, checkpoints record them as [`DType`]).
pub trait Element:
    Scalar
    + private::Sealed<Node = Node<Self>>
    + Float
    + FromPrimitive
    + NumAssign
    + SampleUniform
    + Sum
    + LowerExp
{
    /// Converts from `f64`, rounding to nearest for `f32` (an `as` cast, never fails).
    fn of_f64(value: f64) -> Self;

    /// Converts to `f64` exactly.
    fn as_f64(self) -> f64;

    /// The error function, `2/√π ∫₀ˣ e^(-t²) dt`: for `f64` the `libm` crate's (a port of
    /// musl's); for `f32` the same approximations evaluated without a branch, which
    /// vectorises, within 2 ulp.
    fn erf(self) -> Self;
}

/// The type tag of a [`Scalar`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit IEEE 754 float.
    F32,
    /// 64-bit IEEE 754 float.
    F64,
    /// 64-bit signed integer.
    I64,
}

impl DType {
    /// The size of one element in bytes.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 | DType::I64 => 8,
        }
    }

    /// The lowercase Rust name: `"f32"`, `"f64"` or `"i64"`.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::I64 => "i64",
        }
    }
}

impl Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `Scalar` for one type: its tag and its little-endian bytes.
macro_rules! scalar {
    ($($t:ty => $dtype:ident),*) => {$(
        impl Scalar for $t {
            const DTYPE: DType = DType::$dtype;

            fn cast<S: Scalar>(value: S) -> Self {
                value.as_()
            }

            fn extend_le_bytes(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }

            fn from_le_slice(bytes: &[u8]) -> Option<Self> {
                bytes.try_into().ok().map(<$t>::from_le_bytes)
            }
        }
    )*};
}

scalar!(f32 => F32, f64 => F64, i64 => I64);

impl Element for f32 {
    fn of_f64(value: f64) -> Self {
        value as f32
    }

    fn as_f64(self) -> f64 {
        f64::from(self)
    }

    #[inline(always)]
    fn erf(self) -> Self {
        crate::special::erf_f32(self)
    }
}

impl Element for f64 {
    fn of_f64(value: f64) -> Self {
        value
    }

    fn as_f64(self) -> f64 {
        self
    }

    fn erf(self) -> Self {
        libm::erf(self)
    }
}

mod private {
    use crate::ops::Movement;
    use crate::tensor::{Node, Tensor};

    /// Seals [`Scalar`](super::Scalar) and [`Element`](super::Element): the kernels rely on
    /// them being exactly `f32`, `f64` and `i64` (they pick per-type routines by type,
    /// checkpoints record them as a [`DType`](super::DType)). It also says what a tensor of
    /// the type keeps of the graph: a float tensor its recorded operation, an integer tensor
    /// nothing.
    pub trait Sealed: Sized {
        /// A tensor's place in the graph.
        type Node: Send + Sync;

        /// The place of a tensor no operation recorded.
        fn untracked() -> Self::Node;

        /// The name of the recorded operation, and whether the tensor is a leaf that
        /// requires grad.
        fn graph_label(node: &Self::Node) -> (Option<&'static str>, bool);

        /// The place of the result of `movement` on `inputs`: the operation recorded when grad
        /// mode is on and an input is tracked.
        fn moved(inputs: &[&Tensor<Self>], movement: Movement) -> Self::Node
        where
            Self: super::Scalar;
    }

    impl Sealed for i64 {
        type Node = ();

        fn untracked() {}

        fn graph_label((): &()) -> (Option<&'static str>, bool) {
            (None, false)
        }

        fn moved(_: &[&Tensor<i64>], _: Movement) {}
    }

    /// Floats record.
    macro_rules! tracked {
        ($($t:ty),*) => {$(
            impl Sealed for $t {
                type Node = Node<$t>;

                fn untracked() -> Node<$t> {
                    Node::new(None, false)
                }

                fn graph_label(node: &Node<$t>) -> (Option<&'static str>, bool) {
                    node.label()
                }

                fn moved(inputs: &[&Tensor<$t>], movement: Movement) -> Node<$t> {
                    Node::new(crate::ops::record_movement(inputs, movement), false)
                }
            }
        )*};
    }

    tracked!(f32, f64);
}
