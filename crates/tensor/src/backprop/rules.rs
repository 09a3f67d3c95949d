//! The gradient rules: one exhaustive match over the operations, each arm the formula of
//! its rule written with tensor ops (or naming its twins in [`twins`](super::twins)).

use smallvec::{SmallVec, smallvec};

use super::twins;
use crate::element::Element;
use crate::error::Result;
use crate::kernels::Buf;
use crate::kernels::reduce::Extreme;
use crate::layout::Layout;
use crate::ops::Op;
use crate::ops::conv;
use crate::shape::Dims;
use crate::tensor::Tensor;

/// Zeros of `shape` as a stride-0 view of one element: no buffer is filled.
fn zeros<T: Element>(shape: &[usize]) -> Result<Tensor<T>> {
    Tensor::scalar(T::zero()).try_broadcast_to(shape)
}

/// The gradient `grad` of a result of `shape` summed back to `target`, the shape an input
/// had before it was broadcast: over the leading dimensions broadcasting added and over the
/// dimensions where the input had size 1.
fn sum_to_shape<T: Element>(grad: &Tensor<T>, target: &[usize]) -> Result<Tensor<T>> {
    let extra = grad.ndim() - target.len();
    let dims: Dims = (0..grad.ndim())
        .filter(|&d| d < extra || (target[d - extra] == 1 && grad.shape()[d] != 1))
        .collect();
    let summed = if dims.is_empty() {
        grad.clone()
    } else {
        grad.try_sum_dims(&dims, true)?
    };
    summed.try_reshape(target)
}

/// The shape `shape` had before `dims` were reduced without keepdim: those dims back as 1.
fn with_kept_dims(reduced: &[usize], dims: &[usize], rank: usize) -> Dims {
    let mut kept = reduced.iter();
    (0..rank)
        .map(|d| {
            if dims.contains(&d) {
                1
            } else {
                *kept.next().unwrap_or(&1)
            }
        })
        .collect()
}

pub(super) type InputGrads<T> = SmallVec<[Option<Tensor<T>>; 3]>;

/// `grads` followed, when the operation has a per-channel bias, by the bias's gradient: `g`
/// (NCHW) summed over the batch and the positions.
fn with_channel_bias<T: Element>(
    mut grads: InputGrads<T>,
    bias: Option<&Tensor<T>>,
    g: &Tensor<T>,
) -> Result<InputGrads<T>> {
    if let Some(bias) = bias {
        grads.push(needed(bias, || g.try_sum_dims(&[0, 2, 3], false))?);
    }
    Ok(grads)
}

/// For a tracked `input`, the gradient `rule` computes; `None` when no gradient is needed.
pub(super) fn needed<T: Element>(
    input: &Tensor<T>,
    rule: impl FnOnce() -> Result<Tensor<T>>,
) -> Result<Option<Tensor<T>>> {
    if input.is_tracked() {
        rule().map(Some)
    } else {
        Ok(None)
    }
}

/// The gradient of each input of `op` (in the order of [`Op::inputs`]), given the gradient
/// `grad` of its result `node`.
pub(super) fn input_grads<T: Element>(
    op: &Op<T>,
    node: &Tensor<T>,
    grad: &Tensor<T>,
) -> Result<InputGrads<T>> {
    let g = grad;
    let one = T::one();
    let two = one + one;
    let half = one / two;
    let unary = |arg: &Tensor<T>, rule: &dyn Fn() -> Result<Tensor<T>>| -> Result<InputGrads<T>> {
        Ok(smallvec![needed(arg, rule)?])
    };
    let binary = |lhs: &Tensor<T>,
                  rhs: &Tensor<T>,
                  lhs_rule: &dyn Fn() -> Result<Tensor<T>>,
                  rhs_rule: &dyn Fn() -> Result<Tensor<T>>|
     -> Result<InputGrads<T>> {
        Ok(smallvec![needed(lhs, lhs_rule)?, needed(rhs, rhs_rule)?])
    };
    match op {
        // d(-x) = -g
        Op::Neg(x) => unary(x, &|| g.try_neg()),
        // d exp(x) = g * y
        Op::Exp(x) => unary(x, &|| g.try_mul(node)),
        // d ln(x) = g / x
        Op::Ln(x) => unary(x, &|| g.try_div(x)),
        // d sqrt(x) = g / (2 y)
        Op::Sqrt(x) => unary(x, &|| g.try_div(&node.try_mul_scalar(two)?)),
        // d |x| = g * sign(x)
        Op::Abs(x) => unary(x, &|| g.try_mul(&x.try_sign()?)),
        // d sigmoid(x) = g * y * (1 - y)
        Op::Sigmoid(x) => unary(x, &|| twins::sigmoid(g, node)),
        // d tanh(x) = g * (1 - y²)
        Op::Tanh(x) => unary(x, &|| twins::tanh(g, node)),
        // d relu(x) = g * (x > 0)
        Op::Relu(x) => unary(x, &|| twins::relu(g, x)),
        // d erf(x) = g * 2/√π * e^(-x²)
        Op::Erf(x) => unary(x, &|| {
            let slope = x.try_mul(x)?.try_neg()?.try_exp()?;
            g.try_mul(&slope.try_mul_scalar(T::of_f64(std::f64::consts::FRAC_2_SQRT_PI))?)
        }),
        // d gelu(x) = g * (Φ(x) + x φ(x))
        Op::Gelu { arg: x, cdf } => unary(x, &|| twins::gelu(g, x, cdf)),
        // d gelu_tanh(x) = g * ((1 + t)/2 + x (1 - t²) √(2/π) (1 + 3c x²) / 2)
        Op::GeluTanh(x) => unary(x, &|| twins::gelu_tanh(g, x)),
        // d log1p(x) = g / (1 + x)
        Op::Log1p(x) => unary(x, &|| g.try_div(&x.try_add_scalar(one)?)),
        // d x^p = g * p * x^(p - 1)
        Op::Powf(x, p) if *p == two => unary(x, &|| twins::square(g, x)),
        Op::Powf(x, p) => unary(x, &|| g.try_mul(&x.try_powf(*p - one)?.try_mul_scalar(*p)?)),
        // d clamp(x, lo, hi) = g * (lo <= x <= hi)
        Op::Clamp { arg: x, min, max } => unary(x, &|| {
            let inside = x
                .try_ge(&Tensor::scalar(*min))?
                .try_and(&x.try_le(&Tensor::scalar(*max))?)?;
            g.try_mul(&inside.to_dtype())
        }),
        // d (x + c) = g
        Op::AddScalar(x, _) => unary(x, &|| Ok(g.clone())),
        // d (x * c) = g * c
        Op::MulScalar(x, c) => unary(x, &|| g.try_mul_scalar(*c)),
        // d (x / c) = g / c
        Op::DivScalar(x, c) => unary(x, &|| g.try_div_scalar(*c)),
        // d (a + b) = g, g
        Op::Add(a, b) => binary(a, b, &|| Ok(g.clone()), &|| Ok(g.clone())),
        // d (a - b) = g, -g
        Op::Sub(a, b) => binary(a, b, &|| Ok(g.clone()), &|| g.try_neg()),
        // d (a * b) = g * b, g * a
        Op::Mul(a, b) => binary(a, b, &|| g.try_mul(b), &|| g.try_mul(a)),
        // d (a / b) = g / b, -g * a / b² = -(g * y) / b
        Op::Div(a, b) => binary(a, b, &|| g.try_div(b), &|| {
            g.try_mul(node)?.try_div(b)?.try_neg()
        }),
        // d a^b = g * b * a^(b - 1), g * y * ln(a) (0 where a = 0 and b >= 0)
        Op::Pow(a, b) => binary(
            a,
            b,
            &|| g.try_mul(&b.try_mul(&a.try_pow(&b.try_add_scalar(-one)?)?)?),
            &|| {
                let zero = Tensor::scalar(T::zero());
                let undefined = a.try_eq(&zero)?.try_and(&b.try_ge(&zero)?)?;
                let slope = node.try_mul(&a.try_ln()?)?;
                undefined.try_where_cond(&zeros(a.shape())?, &g.try_mul(&slope)?)
            },
        ),
        // d max(a, b) = g * w, g * (1 - w) with w = [a > b] + ½ [a = b]
        Op::Maximum(a, b) => {
            let w = tie_weight(a, b, Extreme::Max, half)?;
            binary(a, b, &|| g.try_mul(&w), &|| {
                g.try_mul(&w.try_neg()?.try_add_scalar(one)?)
            })
        }
        // d min(a, b) = g * w, g * (1 - w) with w = [a < b] + ½ [a = b]
        Op::Minimum(a, b) => {
            let w = tie_weight(a, b, Extreme::Min, half)?;
            binary(a, b, &|| g.try_mul(&w), &|| {
                g.try_mul(&w.try_neg()?.try_add_scalar(one)?)
            })
        }
        // d where(c, t, f) = where(c, g, 0), where(c, 0, g)
        Op::Where {
            cond,
            on_true,
            on_false,
        } => binary(
            on_true,
            on_false,
            &|| cond.try_where_cond(g, &zeros(g.shape())?),
            &|| cond.try_where_cond(&zeros(g.shape())?, g),
        ),
        // d sum(x, dims) = g broadcast back over dims
        Op::Sum { arg, dims, keepdim } => unary(arg, &|| {
            let kept = if *keepdim {
                g.clone()
            } else {
                g.try_reshape(&with_kept_dims(g.shape(), dims, arg.ndim()))?
            };
            kept.try_broadcast_to(arg.shape())
        }),
        // d max(x, dim) = g at the selected position, 0 elsewhere
        Op::Extreme {
            arg,
            dim,
            keepdim,
            indices,
            ..
        } => unary(arg, &|| {
            let mask = selection_mask(arg.shape(), *dim, indices);
            let kept = if *keepdim {
                g.clone()
            } else {
                g.try_unsqueeze(*dim)?
            };
            kept.try_mul(&mask)
        }),
        // d log_softmax(x) = g - softmax(x) * sum(g, dim)
        Op::LogSoftmax { arg, dim } => unary(arg, &|| {
            let total = g.try_sum_dims(&[*dim], true)?;
            g.try_sub(&node.try_exp()?.try_mul(&total)?)
        }),
        // d softmax(x) = y * (g - sum(g * y)) along dim, from the result y
        Op::Softmax { arg, dim } => unary(arg, &|| twins::softmax(g, node, *dim)),
        // d mean((p - t)²) = (g / n) * ((p - t) * 2), and its negative for t
        Op::Mse { pred, target } => {
            let slope = || twins::mse(g, pred, target);
            binary(pred, target, &slope, &|| slope()?.try_neg())
        }
        // d (a · b) = g · bᵀ, aᵀ · g
        Op::Matmul(a, b) => twins::matmul(a, b, g),
        // d linear(x, W, b) = g · Wᵀ, xᵀ · g over all rows, Σ_rows g
        Op::Linear {
            input,
            weight,
            bias,
        } => twins::linear(input, weight, bias.as_ref(), g),
        // d conv(x, W, b) = conv_transpose(g, W), weight_grad(x, g), Σ g over batch and positions
        Op::Conv2d {
            input,
            weight,
            bias,
            geometry,
        } => {
            let geometry = &**geometry;
            let grads = smallvec![
                needed(input, || conv::adjoint(geometry, g, weight, None))?,
                needed(weight, || conv::weight_grad(geometry, input, g))?,
            ];
            with_channel_bias(grads, bias.as_ref(), g)
        }
        // d conv_transpose(u, W, b) = conv(g, W), weight_grad(g, u), Σ g over batch and
        // positions: ⟨conv_transpose(u, W), g⟩ = ⟨u, conv(g, W)⟩
        Op::ConvTranspose2d {
            input,
            weight,
            bias,
            geometry,
        } => {
            let geometry = &**geometry;
            let grads = smallvec![
                needed(input, || conv::convolve(geometry, g, weight, None))?,
                needed(weight, || conv::weight_grad(geometry, g, input))?,
            ];
            with_channel_bias(grads, bias.as_ref(), g)
        }
        // d weight_grad(x, gy) = conv_transpose(gy, g), conv(x, g):
        // ⟨weight_grad(x, gy), g⟩ = ⟨conv(x, g), gy⟩ = ⟨x, conv_transpose(gy, g)⟩
        Op::Conv2dWeight {
            input,
            grad: gy,
            geometry,
        } => {
            let geometry = &**geometry;
            binary(input, gy, &|| conv::adjoint(geometry, gy, g, None), &|| {
                conv::convolve(geometry, input, g, None)
            })
        }
        // d max_pool(x) = g added at the windows' maxima; d of that = g at the maxima
        Op::MaxPool { arg, positions } => unary(arg, &|| {
            crate::ops::pool::max_pool_grad(arg.shape(), positions, g)
        }),
        Op::MaxPoolGrad { grad, positions } => unary(grad, &|| {
            crate::ops::pool::max_pool_take(g, positions, grad.shape())
        }),
        // d reshape(x) = g reshaped back
        Op::Reshape(arg) => unary(arg, &|| g.try_reshape(arg.shape())),
        // d permute(x, p) = permute(g, p⁻¹)
        Op::Permute { arg, perm } => unary(arg, &|| {
            let mut inverse: Dims = perm.clone();
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            g.try_permute(&inverse)
        }),
        // d broadcast_to(x) = g summed over the broadcast dimensions
        Op::BroadcastTo(arg) => unary(arg, &|| sum_to_shape(g, arg.shape())),
        // d narrow(x, dim, start) = [0, g, 0] along dim
        Op::Narrow { arg, dim, start } => unary(arg, &|| {
            let size = arg.shape()[*dim];
            let len = g.shape()[*dim];
            let pad = |n: usize| {
                let mut shape = Dims::from_slice(g.shape());
                shape[*dim] = n;
                zeros(&shape)
            };
            Tensor::try_concat(&[pad(*start)?, g.clone(), pad(size - start - len)?], *dim)
        }),
        // d index_select(x, dim, i) = zeros.index_add(dim, i, g)
        Op::IndexSelect { arg, dim, indices } => unary(arg, &|| {
            zeros(arg.shape())?.add_at_positions("index_select", *dim, indices.clone(), g)
        }),
        // d index_add(x, dim, i, s) = g, index_select(g, dim, i)
        Op::IndexAdd {
            arg,
            dim,
            indices,
            source,
        } => binary(arg, source, &|| Ok(g.clone()), &|| {
            g.select_positions("index_add", *dim, indices.clone())
        }),
        // d gather(x, dim, i) = zeros.scatter_add(dim, i, g)
        Op::Gather { arg, dim, index } => {
            unary(arg, &|| zeros(arg.shape())?.try_scatter_add(*dim, index, g))
        }
        // d scatter_add(x, dim, i, s) = g, gather(g, dim, i)
        Op::ScatterAdd {
            arg,
            dim,
            index,
            source,
        } => binary(arg, source, &|| Ok(g.clone()), &|| {
            g.try_gather(*dim, index)
        }),
        // d layer_norm(x, w, b): see twins::layer_norm
        Op::LayerNorm {
            args,
            affine,
            eps,
            stats,
        } => twins::layer_norm(g, args, *affine, *eps, stats),
        // A user's operation: its own rule, checked for one gradient of the right shape per
        // input.
        Op::Custom { op, args } => crate::ops::custom::input_grads(op.as_ref(), args, node, g),
        // d concat(x_k, dim) = the slice of g where x_k sits
        Op::Concat { args, dim } => {
            let mut start = 0;
            let mut out = InputGrads::new();
            for arg in args {
                let len = arg.shape()[*dim];
                out.push(needed(arg, || g.try_narrow(*dim, start, len))?);
                start += len;
            }
            Ok(out)
        }
    }
}

/// `[a > b] + ½ [a = b]` (or `<` for the minimum): how a gradient splits between the operands
/// of an elementwise extreme, half to each on a tie, as PyTorch does.
fn tie_weight<T: Element>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    kind: Extreme,
    half: T,
) -> Result<Tensor<T>> {
    let wins = match kind {
        Extreme::Max => a.try_gt(b)?,
        Extreme::Min => a.try_lt(b)?,
    };
    let ties = a.try_eq(b)?.to_dtype::<T>().try_mul_scalar(half)?;
    wins.to_dtype::<T>().try_add(&ties)
}

/// A constant of `shape` holding 1 where `indices` (one per slot of the reduced shape) point
/// along `dim`, 0 elsewhere.
fn selection_mask<T: Element>(shape: &[usize], dim: usize, indices: &[usize]) -> Tensor<T> {
    let outer: usize = shape[..dim].iter().product();
    let len = shape[dim];
    let inner: usize = shape[dim + 1..].iter().product();
    let mut data = vec![T::zero(); outer * len * inner];
    for o in 0..outer {
        for i in 0..inner {
            let at = indices[o * inner + i];
            data[(o * len + at) * inner + i] = T::one();
        }
    }
    Tensor::constant(Buf::from_vec(data), Layout::contiguous(shape))
}
