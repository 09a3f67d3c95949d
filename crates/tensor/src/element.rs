//! The element types a tensor can hold.

use std::fmt::{Debug, Display, LowerExp};
use std::iter::Sum;

use num_traits::{Float, FromPrimitive, NumAssign};
use rand::distr::uniform::SampleUniform;

/// The floating-point element of a tensor: `f32` (the default) or `f64`.
///
/// The trait is sealed: kernels rely on it being exactly these two types (the matmul kernel
/// dispatches on them, checkpoints record them as [`DType`]).
pub trait Element:
    Float
    + FromPrimitive
    + NumAssign
    + SampleUniform
    + Sum
    + Default
    + Debug
    + Display
    + LowerExp
    + Send
    + Sync
    + 'static
    + private::Sealed
{
    /// The type tag of this element, as stored in checkpoints.
    const DTYPE: DType;

    /// Converts from `f64`, rounding to nearest for `f32` (an `as` cast, never fails).
    fn of_f64(value: f64) -> Self;

    /// Converts to `f64` exactly.
    fn as_f64(self) -> f64;

    /// Appends the little-endian bytes of this value (bit-exact, NaN payloads included).
    fn extend_le_bytes(self, out: &mut Vec<u8>);

    /// The value whose little-endian bytes are `bytes`, or `None` unless exactly
    /// [`DType::size_in_bytes`] bytes are given.
    fn from_le_slice(bytes: &[u8]) -> Option<Self>;
}

/// The type tag of an [`Element`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit IEEE 754 float.
    F32,
    /// 64-bit IEEE 754 float.
    F64,
}

impl DType {
    /// The size of one element in bytes.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 => 8,
        }
    }

    /// The lowercase Rust name: `"f32"` or `"f64"`.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }
}

impl Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Element for f32 {
    const DTYPE: DType = DType::F32;

    fn of_f64(value: f64) -> Self {
        value as f32
    }

    fn as_f64(self) -> f64 {
        f64::from(self)
    }

    fn extend_le_bytes(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }

    fn from_le_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(f32::from_le_bytes)
    }
}

impl Element for f64 {
    const DTYPE: DType = DType::F64;

    fn of_f64(value: f64) -> Self {
        value
    }

    fn as_f64(self) -> f64 {
        self
    }

    fn extend_le_bytes(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }

    fn from_le_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(f64::from_le_bytes)
    }
}

/// The gemm project's matmul kernel for one element type: `dst = alpha * dst + beta * lhs ·
/// rhs` (note the order of `alpha` and `beta`), each matrix given by a pointer and its column
/// and row strides, then conjugation flags and the threading.
pub(crate) type GemmFn<T> = unsafe fn(
    usize,
    usize,
    usize,
    *mut T,
    isize,
    isize,
    bool,
    *const T,
    isize,
    isize,
    *const T,
    isize,
    isize,
    T,
    T,
    bool,
    bool,
    bool,
    gemm_common::Parallelism,
);

pub(crate) mod private {
    use std::cell::RefCell;
    use std::mem::MaybeUninit;

    use super::GemmFn;
    use crate::kernels::pool::{Pool, PoolKey};

    /// Seals [`Element`](super::Element) and carries what only this crate may use.
    pub trait Sealed: Sized {
        /// The best matmul kernel for this CPU (chosen once, at first use).
        fn gemm_fn() -> GemmFn<Self>;

        /// This thread's cache of freed buffers of this element type.
        fn buffer_pool() -> &'static PoolKey<Self>;

        /// `out[i] = 1 / (1 + e^-src[i])`, writing every slot of `out`; the slices have one
        /// length.
        fn sigmoid_slice(src: &[Self], out: &mut [MaybeUninit<Self>]);
    }

    thread_local! {
        static F32_POOL: RefCell<Pool<f32>> = RefCell::default();
        static F64_POOL: RefCell<Pool<f64>> = RefCell::default();
    }

    impl Sealed for f32 {
        fn gemm_fn() -> GemmFn<Self> {
            gemm_f32::gemm::f32::get_gemm_fn()
        }

        fn buffer_pool() -> &'static PoolKey<Self> {
            &F32_POOL
        }

        fn sigmoid_slice(src: &[Self], out: &mut [MaybeUninit<Self>]) {
            crate::kernels::math::sigmoid_f32(src, out);
        }
    }

    impl Sealed for f64 {
        fn gemm_fn() -> GemmFn<Self> {
            gemm_f64::gemm::f64::get_gemm_fn()
        }

        fn buffer_pool() -> &'static PoolKey<Self> {
            &F64_POOL
        }

        fn sigmoid_slice(src: &[Self], out: &mut [MaybeUninit<Self>]) {
            assert_eq!(
                src.len(),
                out.len(),
                "internal: sigmoid slices of one length"
            );
            // The C library's exp: f64 results are the reference, to the last bit.
            for (o, &x) in out.iter_mut().zip(src) {
                o.write(1.0 / (1.0 + (-x).exp()));
            }
        }
    }
}
