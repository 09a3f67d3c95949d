//! The one error type of the tensor crate.

use std::fmt;

/// What went wrong in a tensor operation. Every message names the operation and the shapes or
/// values involved, e.g. `matmul: cannot multiply [2, 3] by [4, 5] (inner dimensions 3 and 4
/// differ)`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum TensorError {
    /// Two shapes cannot be combined by `op` (broadcasting, matmul, concat, ...).
    ShapeMismatch {
        /// The operation that failed.
        op: &'static str,
        /// The shape of the first operand.
        lhs: Vec<usize>,
        /// The shape of the second operand.
        rhs: Vec<usize>,
        /// Why the shapes do not fit, naming both.
        reason: String,
    },
    /// The data handed to a constructor does not have the number of elements its shape needs.
    DataLength {
        /// The requested shape.
        shape: Vec<usize>,
        /// The number of elements the shape holds.
        expected: usize,
        /// The number of elements given.
        actual: usize,
    },
    /// The product of a shape's dimensions does not fit in `usize`.
    ShapeOverflow {
        /// The operation that failed.
        op: &'static str,
        /// The shape whose element count overflows.
        shape: Vec<usize>,
    },
    /// A dimension index outside `-ndim..ndim`.
    DimOutOfRange {
        /// The operation that failed.
        op: &'static str,
        /// The dimension asked for (negative counts from the end).
        dim: i64,
        /// The rank of the tensor.
        ndim: usize,
    },
    /// An index tensor holds an entry outside `0..size` of the dimension it indexes
    /// (`index_select`, `gather`, `scatter_add`, `index_add`, embeddings, class targets).
    /// Negative indices are rejected, not counted from the end.
    IndexOutOfRange {
        /// The operation that failed.
        op: &'static str,
        /// The dimension indexed.
        dim: usize,
        /// The offending index.
        index: i64,
        /// The size of that dimension.
        size: usize,
    },
    /// The operation needs a one-element tensor (`item`, `backward`).
    NotOneElement {
        /// The operation that failed.
        op: &'static str,
        /// The shape of the tensor given.
        shape: Vec<usize>,
    },
    /// `backward` was called on a tensor that no tracked leaf reaches.
    NotTracked {
        /// The operation that failed.
        op: &'static str,
    },
    /// The result of `op` would need more memory than can be allocated.
    OutOfMemory {
        /// The operation that failed.
        op: &'static str,
        /// The number of elements asked for.
        elements: usize,
    },
    /// Inside [`detect_anomaly`](crate::detect_anomaly): an operation produced a NaN or an
    /// infinity.
    NonFinite {
        /// The operation whose result holds the value.
        op: &'static str,
        /// `"forward"` for the op's result, `"backward"` for a gradient its rule produced.
        pass: &'static str,
        /// The shape of the offending tensor.
        shape: Vec<usize>,
        /// The first non-finite value found.
        value: f64,
    },
    /// A backward pass reached a result whose graph an earlier backward pass released (see
    /// [`Tensor::backward`](crate::Tensor::backward)).
    GraphReleased {
        /// The backward call that failed.
        op: &'static str,
        /// The operation whose recorded inputs are gone.
        node: &'static str,
        /// The shape of that operation's result.
        shape: Vec<usize>,
    },
    /// A backward pass reached an old value of a parameter: an update (an optimizer step,
    /// [`Parameter::update`](crate::Parameter::update) or
    /// [`Parameter::set`](crate::Parameter::set)) replaced it after the graph was built.
    StaleParameter {
        /// The backward call that failed.
        op: &'static str,
        /// The parameter's shape.
        shape: Vec<usize>,
    },
    /// An argument outside the operation's domain (a bad index, step, range or count).
    InvalidArgument {
        /// The operation that failed.
        op: &'static str,
        /// What was wrong, naming the value.
        message: String,
    },
}

impl TensorError {
    /// The operation that failed.
    pub fn op(&self) -> &'static str {
        match self {
            TensorError::ShapeMismatch { op, .. }
            | TensorError::ShapeOverflow { op, .. }
            | TensorError::DimOutOfRange { op, .. }
            | TensorError::IndexOutOfRange { op, .. }
            | TensorError::NotOneElement { op, .. }
            | TensorError::NotTracked { op }
            | TensorError::GraphReleased { op, .. }
            | TensorError::StaleParameter { op, .. }
            | TensorError::InvalidArgument { op, .. }
            | TensorError::OutOfMemory { op, .. }
            | TensorError::NonFinite { op, .. } => op,
            TensorError::DataLength { .. } => "from_vec",
        }
    }

    pub(crate) fn invalid(op: &'static str, message: impl Into<String>) -> Self {
        TensorError::InvalidArgument {
            op,
            message: message.into(),
        }
    }

    pub(crate) fn mismatch(
        op: &'static str,
        lhs: &[usize],
        rhs: &[usize],
        reason: impl Into<String>,
    ) -> Self {
        TensorError::ShapeMismatch {
            op,
            lhs: lhs.to_vec(),
            rhs: rhs.to_vec(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for TensorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TensorError::ShapeMismatch { op, reason, .. } => write!(f, "{op}: {reason}"),
            TensorError::DataLength {
                shape,
                expected,
                actual,
            } => write!(
                f,
                "from_vec: shape {shape:?} needs {expected} elements but the data has {actual}"
            ),
            TensorError::ShapeOverflow { op, shape } => write!(
                f,
                "{op}: the number of elements of shape {shape:?} overflows usize"
            ),
            TensorError::IndexOutOfRange {
                op,
                dim,
                index,
                size,
            } => {
                write!(
                    f,
                    "{op}: index {index} is out of range for dimension {dim} of size {size}"
                )?;
                if *index < 0 {
                    write!(f, " (negative indices are not accepted)")?;
                }
                Ok(())
            }
            TensorError::DimOutOfRange { op, dim, ndim } => {
                if *ndim == 0 {
                    write!(
                        f,
                        "{op}: dimension {dim} is out of range for a rank-0 tensor"
                    )
                } else {
                    write!(
                        f,
                        "{op}: dimension {dim} is out of range for a tensor of rank {ndim} \
                         (expected {}..={})",
                        -(*ndim as i64),
                        *ndim as i64 - 1
                    )
                }
            }
            TensorError::NotOneElement { op, shape } => {
                // A shape that reached this point has a representable element count.
                let numel: usize = shape.iter().product();
                write!(
                    f,
                    "{op}: expected a tensor with exactly one element, got shape {shape:?} \
                     ({numel} elements)"
                )
            }
            TensorError::NotTracked { op } => write!(
                f,
                "{op}: the tensor is not part of a graph (no input requires grad, or it was \
                 computed under no_grad)"
            ),
            TensorError::GraphReleased { op, node, shape } => write!(
                f,
                "{op}: the graph behind this tensor was released by an earlier backward pass \
                 (at the {node} of shape {shape:?}); pass retain_graph to the first backward \
                 (backward_retain_graph) to backpropagate through a graph more than once, or \
                 run the forward pass again"
            ),
            TensorError::StaleParameter { op, shape } => write!(
                f,
                "{op}: the graph uses an old value of a parameter of shape {shape:?}, replaced \
                 by an update (an optimizer step or Parameter::set) after the graph was built; \
                 run the forward pass again with the parameter's current value, or detach() \
                 the old value to use it as a constant"
            ),
            TensorError::InvalidArgument { op, message } => write!(f, "{op}: {message}"),
            TensorError::NonFinite {
                op,
                pass,
                shape,
                value,
            } => write!(
                f,
                "{op}: the {pass} pass produced {value} in a tensor of shape {shape:?} \
                 (detect_anomaly)"
            ),
            TensorError::OutOfMemory { op, elements } => {
                write!(f, "{op}: cannot allocate a result of {elements} elements")
            }
        }
    }
}

impl std::error::Error for TensorError {}

/// Shorthand for results of tensor operations.
pub type Result<T, E = TensorError> = std::result::Result<T, E>;
