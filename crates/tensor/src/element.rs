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

    /// The error function, `2/√π ∫₀ˣ e^(-t²) dt` (the `libm` crate's, a port of musl's).
    fn erf(self) -> Self;

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

    fn erf(self) -> Self {
        libm::erff(self)
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

    fn erf(self) -> Self {
        libm::erf(self)
    }

    fn extend_le_bytes(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }

    fn from_le_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(f64::from_le_bytes)
    }
}

mod private {
    /// Seals [`Element`](super::Element): the kernels rely on it being exactly `f32` and
    /// `f64` (they pick per-type routines by type, checkpoints record it as a
    /// [`DType`](super::DType)).
    pub trait Sealed {}

    impl Sealed for f32 {}
    impl Sealed for f64 {}
}
