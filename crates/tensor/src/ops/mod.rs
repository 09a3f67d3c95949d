//! The recorded operations. The public op methods live beside this file, grouped by kind; the
//! gradient rules live in `backprop/rules.rs`, in one exhaustive match over [`Op`].

mod binary;
pub(crate) mod conv;
pub(crate) mod custom;
mod index;
mod join;
mod matmul;
mod movement;
mod mse;
pub(crate) mod norm;
pub(crate) mod operators;
pub(crate) mod pool;
mod reduce;
mod unary;

use std::sync::Arc;

use smallvec::{SmallVec, smallvec};

use crate::element::Element;
use crate::kernels::conv::Geometry;
use crate::kernels::reduce::Extreme;
use crate::mode::is_grad_enabled;
use crate::shape::Dims;
use crate::tensor::Tensor;

/// One recorded operation with its inputs (the tensors gradients flow to) and whatever the
/// backward pass needs besides the output. Binary operations see operands of one shape:
/// broadcasting is recorded before them as [`Op::BroadcastTo`], so that rule is the one place
/// that sums a gradient back to an input's shape.
#[derive(Clone)]
pub(crate) enum Op<T: Element> {
    // Unary, elementwise.
    Neg(Tensor<T>),
    Exp(Tensor<T>),
    Ln(Tensor<T>),
    Sqrt(Tensor<T>),
    Abs(Tensor<T>),
    Sigmoid(Tensor<T>),
    Tanh(Tensor<T>),
    Relu(Tensor<T>),
    Erf(Tensor<T>),
    Log1p(Tensor<T>),
    /// `cdf` holds `Φ(x)` from the forward pass (a constant), which the derivative reuses.
    Gelu {
        arg: Tensor<T>,
        cdf: Tensor<T>,
    },
    GeluTanh(Tensor<T>),
    Powf(Tensor<T>, T),
    Clamp {
        arg: Tensor<T>,
        min: T,
        max: T,
    },
    AddScalar(Tensor<T>, T),
    MulScalar(Tensor<T>, T),
    DivScalar(Tensor<T>, T),
    // Binary, elementwise, operands of one shape.
    Add(Tensor<T>, Tensor<T>),
    Sub(Tensor<T>, Tensor<T>),
    Mul(Tensor<T>, Tensor<T>),
    Div(Tensor<T>, Tensor<T>),
    Pow(Tensor<T>, Tensor<T>),
    Maximum(Tensor<T>, Tensor<T>),
    Minimum(Tensor<T>, Tensor<T>),
    /// `cond` is a constant mask (non-zero selects `on_true`), not an input: selection is not
    /// differentiable in the condition.
    Where {
        cond: Tensor<i64>,
        on_true: Tensor<T>,
        on_false: Tensor<T>,
    },
    // Reductions.
    Sum {
        arg: Tensor<T>,
        dims: Dims,
        keepdim: bool,
    },
    /// Max or min along `dim`; `indices` holds, for each output element, the position along
    /// `dim` that was selected.
    Extreme {
        arg: Tensor<T>,
        dim: usize,
        keepdim: bool,
        indices: Arc<[usize]>,
        kind: Extreme,
    },
    LogSoftmax {
        arg: Tensor<T>,
        dim: usize,
    },
    Softmax {
        arg: Tensor<T>,
        dim: usize,
    },
    /// `mean((pred - target)²)` over operands of one shape.
    Mse {
        pred: Tensor<T>,
        target: Tensor<T>,
    },
    // Linear algebra; batch dimensions already broadcast to one shape.
    Matmul(Tensor<T>, Tensor<T>),
    /// `input · weight + bias` over the last dimension of `input`, in one kernel call.
    Linear {
        input: Tensor<T>,
        weight: Tensor<T>,
        bias: Option<Tensor<T>>,
    },
    /// A 2-D convolution of `input` with `weight` (plus `bias`), of a fixed geometry.
    Conv2d {
        input: Tensor<T>,
        weight: Tensor<T>,
        bias: Option<Tensor<T>>,
        geometry: Arc<Geometry>,
    },
    /// The adjoint in its input of the convolution of `geometry`, applied to `input` (shaped
    /// as that convolution's output), plus `bias`: the transposed convolution.
    ConvTranspose2d {
        input: Tensor<T>,
        weight: Tensor<T>,
        bias: Option<Tensor<T>>,
        geometry: Arc<Geometry>,
    },
    /// The weight gradient of the convolution of `geometry`, from its `input` and the
    /// gradient `grad` of its output.
    Conv2dWeight {
        input: Tensor<T>,
        grad: Tensor<T>,
        geometry: Arc<Geometry>,
    },
    /// A max pool of `arg`: its row-major elements at `positions`, each window's maximum
    /// (checked when the pool found them).
    MaxPool {
        arg: Tensor<T>,
        positions: Tensor<i64>,
    },
    /// The gradient of a max pool: zeros of the pooled input's shape with `grad` added at
    /// `positions`.
    MaxPoolGrad {
        grad: Tensor<T>,
        positions: Tensor<i64>,
    },
    // Movement: views or copies that rearrange elements without arithmetic.
    Reshape(Tensor<T>),
    Permute {
        arg: Tensor<T>,
        perm: Dims,
    },
    BroadcastTo(Tensor<T>),
    Narrow {
        arg: Tensor<T>,
        dim: usize,
        start: usize,
    },
    IndexSelect {
        arg: Tensor<T>,
        dim: usize,
        indices: Arc<[usize]>,
    },
    IndexAdd {
        arg: Tensor<T>,
        dim: usize,
        indices: Arc<[usize]>,
        source: Tensor<T>,
    },
    /// `out[.., index[p], ..] = arg[.., index[p], ..]` along `dim` (PyTorch's `gather`).
    Gather {
        arg: Tensor<T>,
        dim: usize,
        index: Tensor<i64>,
    },
    /// `arg` with `source[p]` added at position `index[p]` along `dim`.
    ScatterAdd {
        arg: Tensor<T>,
        dim: usize,
        index: Tensor<i64>,
        source: Tensor<T>,
    },
    Concat {
        args: Vec<Tensor<T>>,
        dim: usize,
    },
    /// Layer norm over the last dimension of `args[0]`; `args` goes on with the weight and
    /// the bias that `affine` says it has. `stats` holds each row's mean and `1/√(Var + eps)`.
    LayerNorm {
        args: Vec<Tensor<T>>,
        affine: [bool; 2],
        eps: T,
        stats: norm::RowStats<T>,
    },
    /// A user's operation ([`CustomOp`](crate::CustomOp)).
    Custom {
        op: Arc<dyn custom::CustomOp<T>>,
        args: Vec<Tensor<T>>,
    },
}

/// A movement op, as generic code over every [`Scalar`](crate::Scalar) type describes it:
/// what the graph of a float tensor records of it besides its inputs.
pub enum Movement {
    /// `reshape` and the ops made of it.
    Reshape,
    /// `permute` with this permutation.
    Permute(Dims),
    /// `broadcast_to`.
    BroadcastTo,
    /// `narrow` from `start` along `dim`.
    Narrow {
        /// The dimension narrowed.
        dim: usize,
        /// The first position kept.
        start: usize,
    },
    /// `index_select` along `dim`.
    IndexSelect {
        /// The dimension indexed.
        dim: usize,
        /// The positions selected, checked.
        indices: Arc<[usize]>,
    },
    /// `gather` along `dim`.
    Gather {
        /// The dimension indexed.
        dim: usize,
        /// The index tensor, checked.
        index: Tensor<i64>,
    },
    /// `concat` along `dim`.
    Concat {
        /// The dimension joined along.
        dim: usize,
    },
}

/// The operation recorded for `movement` on `inputs`: `None` unless grad mode is on and an
/// input is tracked (the inputs are cloned only then).
pub(crate) fn record_movement<T: Element>(
    inputs: &[&Tensor<T>],
    movement: Movement,
) -> Option<Op<T>> {
    if !(is_grad_enabled() && inputs.iter().any(|input| input.is_tracked())) {
        return None;
    }
    let arg = inputs[0].clone();
    Some(match movement {
        Movement::Reshape => Op::Reshape(arg),
        Movement::Permute(perm) => Op::Permute { arg, perm },
        Movement::BroadcastTo => Op::BroadcastTo(arg),
        Movement::Narrow { dim, start } => Op::Narrow { arg, dim, start },
        Movement::IndexSelect { dim, indices } => Op::IndexSelect { arg, dim, indices },
        Movement::Gather { dim, index } => Op::Gather { arg, dim, index },
        Movement::Concat { dim } => Op::Concat {
            args: inputs.iter().map(|&input| input.clone()).collect(),
            dim,
        },
    })
}

/// The inputs of an operation, from a reference to it (as references) or from the operation
/// itself (moved out): one list for [`Op::inputs`] and [`Op::into_inputs`], binding by
/// reference or by value as the matched expression is one or the other.
macro_rules! inputs_of {
    ($op:expr) => {
        match $op {
            Op::Neg(arg)
            | Op::Exp(arg)
            | Op::Ln(arg)
            | Op::Sqrt(arg)
            | Op::Abs(arg)
            | Op::Sigmoid(arg)
            | Op::Tanh(arg)
            | Op::Relu(arg)
            | Op::Erf(arg)
            | Op::Log1p(arg)
            | Op::Gelu { arg, .. }
            | Op::GeluTanh(arg)
            | Op::Powf(arg, _)
            | Op::Clamp { arg, .. }
            | Op::AddScalar(arg, _)
            | Op::MulScalar(arg, _)
            | Op::DivScalar(arg, _)
            | Op::Sum { arg, .. }
            | Op::Extreme { arg, .. }
            | Op::LogSoftmax { arg, .. }
            | Op::Softmax { arg, .. }
            | Op::Reshape(arg)
            | Op::Permute { arg, .. }
            | Op::BroadcastTo(arg)
            | Op::Narrow { arg, .. }
            | Op::IndexSelect { arg, .. }
            | Op::Gather { arg, .. }
            | Op::MaxPool { arg, .. }
            | Op::MaxPoolGrad { grad: arg, .. } => smallvec![arg],
            Op::Add(lhs, rhs)
            | Op::Sub(lhs, rhs)
            | Op::Mul(lhs, rhs)
            | Op::Div(lhs, rhs)
            | Op::Pow(lhs, rhs)
            | Op::Maximum(lhs, rhs)
            | Op::Minimum(lhs, rhs)
            | Op::Matmul(lhs, rhs)
            | Op::Mse {
                pred: lhs,
                target: rhs,
            }
            | Op::Where {
                on_true: lhs,
                on_false: rhs,
                ..
            }
            | Op::IndexAdd {
                arg: lhs,
                source: rhs,
                ..
            }
            | Op::ScatterAdd {
                arg: lhs,
                source: rhs,
                ..
            }
            | Op::Conv2dWeight {
                input: lhs,
                grad: rhs,
                ..
            }
            | Op::Conv2d {
                input: lhs,
                weight: rhs,
                bias: None,
                ..
            }
            | Op::ConvTranspose2d {
                input: lhs,
                weight: rhs,
                bias: None,
                ..
            } => smallvec![lhs, rhs],
            Op::Conv2d {
                input,
                weight,
                bias: Some(bias),
                ..
            }
            | Op::ConvTranspose2d {
                input,
                weight,
                bias: Some(bias),
                ..
            } => smallvec![input, weight, bias],
            Op::Linear {
                input,
                weight,
                bias: Some(bias),
            } => smallvec![input, weight, bias],
            Op::Linear { input, weight, .. } => smallvec![input, weight],
            Op::Concat { args, .. } | Op::Custom { args, .. } | Op::LayerNorm { args, .. } => {
                args.into_iter().collect()
            }
        }
    };
}

impl<T: Element> Op<T> {
    /// The tensors this operation's gradient flows to. This is the only place an operation's
    /// inputs are listed ([`inputs_of`]): the topological sort, the graph printer and the
    /// iterative drop all go through it.
    pub(crate) fn inputs(&self) -> SmallVec<[&Tensor<T>; 3]> {
        inputs_of!(self)
    }

    /// The inputs of [`inputs`](Op::inputs), moved out of the operation (the rest of it is
    /// dropped): the iterative drop takes a graph apart without a reference-count round trip
    /// per input.
    pub(crate) fn into_inputs(self) -> SmallVec<[Tensor<T>; 3]> {
        inputs_of!(self)
    }

    /// The operation's name, as in its public method (`"add"`, `"log_softmax"`, ...).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Neg(_) => "neg",
            Op::Exp(_) => "exp",
            Op::Ln(_) => "ln",
            Op::Sqrt(_) => "sqrt",
            Op::Abs(_) => "abs",
            Op::Sigmoid(_) => "sigmoid",
            Op::Tanh(_) => "tanh",
            Op::Relu(_) => "relu",
            Op::Erf(_) => "erf",
            Op::Log1p(_) => "log1p",
            Op::Gelu { .. } => "gelu",
            Op::GeluTanh(_) => "gelu_tanh",
            Op::Powf(..) => "powf",
            Op::Clamp { .. } => "clamp",
            Op::AddScalar(..) => "add_scalar",
            Op::MulScalar(..) => "mul_scalar",
            Op::DivScalar(..) => "div_scalar",
            Op::Add(..) => "add",
            Op::Sub(..) => "sub",
            Op::Mul(..) => "mul",
            Op::Div(..) => "div",
            Op::Pow(..) => "pow",
            Op::Maximum(..) => "maximum",
            Op::Minimum(..) => "minimum",
            Op::Where { .. } => "where_cond",
            Op::Sum { .. } => "sum",
            Op::Extreme {
                kind: Extreme::Max, ..
            } => "max_dim",
            Op::Extreme {
                kind: Extreme::Min, ..
            } => "min_dim",
            Op::LogSoftmax { .. } => "log_softmax",
            Op::Softmax { .. } => "softmax",
            Op::Mse { .. } => "mse",
            Op::Matmul(..) => "matmul",
            Op::Linear { .. } => "linear",
            Op::Conv2d { .. } => "conv2d",
            Op::ConvTranspose2d { .. } => "conv_transpose2d",
            Op::Conv2dWeight { .. } => "conv2d_weight",
            Op::MaxPool { .. } => "max_pool2d",
            Op::MaxPoolGrad { .. } => "max_pool2d_backward",
            Op::Reshape(_) => "reshape",
            Op::Permute { .. } => "permute",
            Op::BroadcastTo(_) => "broadcast_to",
            Op::Narrow { .. } => "narrow",
            Op::IndexSelect { .. } => "index_select",
            Op::IndexAdd { .. } => "index_add",
            Op::Gather { .. } => "gather",
            Op::ScatterAdd { .. } => "scatter_add",
            Op::Concat { .. } => "concat",
            Op::LayerNorm { .. } => "layer_norm",
            Op::Custom { op, .. } => op.name(),
        }
    }
}
