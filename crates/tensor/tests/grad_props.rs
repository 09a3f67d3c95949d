//! Every differentiable op: its gradient (and its second derivative) matches central finite
//! differences in f64, on random shapes of rank 0–3 including size-1 dimensions, broadcast
//! pairs and non-contiguous inputs, with the output projected on random weights. They run
//! on the `testing` kit users get, so the kit is proven on every op.

use proptest::prelude::*;
use tensor::Tensor;
use tensor::testing::{
    broadcast_pair, broadcastable, check_derivatives, shape, shape_at_least_1d, strided_view,
    tensor, tensor_away_from_zero, weights,
};

type T = Tensor<f64>;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(64)
}

/// Unary ops: `name: |s| strategy, |x| op;`, each on inputs the strategy draws for a shape
/// `s`, presented contiguous or strided.
macro_rules! unary_properties {
    ($($name:ident: |$s:ident| $strategy:expr, |$x:ident| $body:expr;)*) => {$(
        proptest! {
            #![proptest_config(config())]
            #[test]
            fn $name(
                x in shape(3).prop_flat_map(|$s| $strategy),
                strided in any::<bool>(),
                seed in any::<u64>(),
            ) {
                check_derivatives(&[x], seed, |xs| {
                    let $x = strided_view(&xs[0], strided)?;
                    $body
                })?;
            }
        }
    )*};
}

// Ops with a kink at 0 (abs, relu) take inputs at least 0.1 away from it.
unary_properties! {
    neg_grad_matches_finite_difference: |s| tensor(s, -3.0, 3.0), |x| x.try_neg();
    exp_grad_matches_finite_difference: |s| tensor(s, -3.0, 3.0), |x| x.try_exp();
    ln_grad_matches_finite_difference: |s| tensor(s, 0.3, 3.0), |x| x.try_ln();
    sqrt_grad_matches_finite_difference: |s| tensor(s, 0.3, 3.0), |x| x.try_sqrt();
    sigmoid_grad_matches_finite_difference: |s| tensor(s, -4.0, 4.0), |x| x.try_sigmoid();
    tanh_grad_matches_finite_difference: |s| tensor(s, -3.0, 3.0), |x| x.try_tanh();
    square_grad_matches_finite_difference: |s| tensor(s, -3.0, 3.0), |x| x.try_powf(2.0);
    powf_grad_matches_finite_difference: |s| tensor(s, 0.3, 2.0), |x| x.try_powf(-1.5);
    powf_cube_grad_matches_finite_difference: |s| tensor(s, -2.0, 2.0), |x| x.try_powf(3.0);
    add_scalar_grad_matches_finite_difference: |s| tensor(s, -3.0, 3.0), |x| Ok(&x + 1.5);
    sub_scalar_grad_matches_finite_difference: |s| tensor(s, -3.0, 3.0), |x| Ok(2.5 - &x);
    mul_scalar_grad_matches_finite_difference: |s| tensor(s, -3.0, 3.0), |x| Ok(&x * -0.75);
    div_scalar_grad_matches_finite_difference: |s| tensor(s, -3.0, 3.0), |x| Ok(&x / 3.0);
    scalar_div_grad_matches_finite_difference: |s| tensor(s, 0.5, 2.0), |x| Ok(1.5 / &x);
    sum_grad_matches_finite_difference: |s| tensor(s, -3.0, 3.0), |x| x.try_sum();
    mean_grad_matches_finite_difference: |s| tensor(s, -3.0, 3.0), |x| x.try_mean();
    flatten_grad_matches_finite_difference: |s| tensor(s, -3.0, 3.0), |x| x.try_flatten();
    t_grad_matches_finite_difference: |s| tensor(s, -3.0, 3.0), |x| Ok(x.t());
    erf_grad_matches_finite_difference: |s| tensor(s, -2.0, 2.0), |x| x.try_erf();
    log1p_grad_matches_finite_difference: |s| tensor(s, -0.7, 3.0), |x| x.try_log1p();
    gelu_grad_matches_finite_difference: |s| tensor(s, -3.0, 3.0), |x| x.try_gelu();
    gelu_tanh_grad_matches_finite_difference: |s| tensor(s, -3.0, 3.0), |x| x.try_gelu_tanh();
    abs_grad_matches_finite_difference: |s| tensor_away_from_zero(s, 0.1, 3.0), |x| x.try_abs();
    relu_grad_matches_finite_difference: |s| tensor_away_from_zero(s, 0.1, 3.0), |x| x.try_relu();
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn clamp_grad_matches_finite_difference(
        x in shape(3).prop_flat_map(|s| tensor(s, -2.0, 2.0)),
        seed in any::<u64>(),
    ) {
        // No element within reach of the step from a bound.
        prop_assume!(x.to_vec().iter().all(|v| (v + 0.5).abs() > 1e-3 && (v - 0.7).abs() > 1e-3));
        check_derivatives(&[x], seed, |xs| xs[0].try_clamp(-0.5, 0.7))?;
    }
}

/// Broadcasting binary ops: `name: lhs, rhs, |a, b| op;`, with operands drawn by the `lhs`
/// and `rhs` strategies of a shape, the left one presented contiguous or strided.
macro_rules! binary_properties {
    ($($name:ident: $lhs:expr, $rhs:expr, |$a:ident, $b:ident| $body:expr;)*) => {$(
        proptest! {
            #![proptest_config(config())]
            #[test]
            fn $name(
                (a, b) in broadcast_pair(3).prop_flat_map(|(l, r)| ($lhs(l), $rhs(r))),
                strided in any::<bool>(),
                seed in any::<u64>(),
            ) {
                check_derivatives(&[a, b], seed, |xs| {
                    let $a = strided_view(&xs[0], strided)?;
                    let $b = xs[1].clone();
                    $body
                })?;
            }
        }
    )*};
}

fn any_values(s: Vec<usize>) -> impl Strategy<Value = T> {
    tensor(s, -2.0, 2.0)
}
fn positive(s: Vec<usize>) -> impl Strategy<Value = T> {
    tensor(s, 0.5, 2.0)
}
fn nonzero(s: Vec<usize>) -> impl Strategy<Value = T> {
    tensor_away_from_zero(s, 0.5, 2.0)
}

binary_properties! {
    add_grad_matches_finite_difference: any_values, any_values, |a, b| a.try_add(&b);
    sub_grad_matches_finite_difference: any_values, any_values, |a, b| a.try_sub(&b);
    mul_grad_matches_finite_difference: any_values, any_values, |a, b| a.try_mul(&b);
    div_grad_matches_finite_difference: any_values, nonzero, |a, b| a.try_div(&b);
    pow_grad_matches_finite_difference: positive, any_values, |a, b| a.try_pow(&b);
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn maximum_and_minimum_grads_match_finite_difference(
        (a, b) in broadcast_pair(3).prop_flat_map(|(l, r)| (any_values(l), any_values(r))),
        seed in any::<u64>(),
    ) {
        // No near-ties: the derivative jumps there.
        let gap = (a.broadcast_to(a.maximum(&b).shape()) - b.broadcast_to(a.maximum(&b).shape())).abs();
        prop_assume!(gap.to_vec().iter().all(|&d| d > 1e-3));
        check_derivatives(&[a.clone(), b.clone()], seed, |xs| xs[0].try_maximum(&xs[1]))?;
        check_derivatives(&[a, b], seed, |xs| xs[0].try_minimum(&xs[1]))?;
    }

    #[test]
    fn where_cond_grad_matches_finite_difference(
        (a, b) in broadcast_pair(3).prop_flat_map(|(l, r)| (any_values(l), any_values(r))),
        mask_seed in any::<u64>(),
        seed in any::<u64>(),
    ) {
        let shape = a.maximum(&b).shape().to_vec();
        let cond = weights(&shape, mask_seed).gt(&Tensor::scalar(0.0));
        check_derivatives(&[a, b], seed, |xs| cond.try_where_cond(&xs[0], &xs[1]))?;
    }

    /// Over the last dimension, with and without weight and bias, inputs of any rank from 1.
    #[test]
    fn layer_norm_grads_match_finite_difference(
        x in shape_at_least_1d(3).prop_flat_map(|s| tensor(s, -2.0, 2.0)),
        affine in any::<(bool, bool)>(),
        seed in any::<u64>(),
    ) {
        let len = x.shape()[x.ndim() - 1];
        let mut inputs = vec![x];
        if affine.0 {
            inputs.push(weights(&[len], seed ^ 3));
        }
        if affine.1 {
            inputs.push(weights(&[len], seed ^ 4));
        }
        check_derivatives(&inputs, seed, |xs| {
            let w = affine.0.then(|| &xs[1]);
            let b = affine.1.then(|| &xs[1 + usize::from(affine.0)]);
            xs[0].try_layer_norm(w, b, 1e-3)
        })?;
    }

    /// The mask broadcasts to the input (a smaller mask of the pair's other shape).
    #[test]
    fn masked_fill_grad_matches_finite_difference(
        (x, m) in broadcast_pair(3).prop_filter("mask broadcasts to x", |(l, r)| {
            r.len() <= l.len() && r.iter().rev().zip(l.iter().rev()).all(|(&a, &b)| a == b || a == 1)
        }).prop_flat_map(|(l, r)| (any_values(l), Just(r))),
        mask_seed in any::<u64>(),
        seed in any::<u64>(),
    ) {
        let mask = weights(&m, mask_seed).gt(&Tensor::scalar(0.0));
        check_derivatives(&[x], seed, |xs| xs[0].try_masked_fill(&mask, 0.5))?;
    }

    #[test]
    fn sum_dim_and_mean_dim_grads_match_finite_difference(
        (x, dim) in shape_at_least_1d(3).prop_flat_map(|s| {
            let rank = s.len();
            (tensor(s, -2.0, 2.0), 0..rank)
        }),
        keepdim in any::<bool>(),
        strided in any::<bool>(),
        seed in any::<u64>(),
    ) {
        check_derivatives(std::slice::from_ref(&x), seed, |xs| strided_view(&xs[0], strided)?.try_sum_dim(dim, keepdim))?;
        check_derivatives(&[x], seed, |xs| strided_view(&xs[0], strided)?.try_mean_dim(dim, keepdim))?;
    }

    #[test]
    fn max_dim_and_min_dim_grads_match_finite_difference(
        (x, dim) in shape_at_least_1d(3).prop_flat_map(|s| {
            let rank = s.len();
            (tensor(s, -2.0, 2.0), 0..rank)
        }),
        keepdim in any::<bool>(),
        seed in any::<u64>(),
    ) {
        // Exactly one element of each slice within 1e-3 of the extreme: the selection
        // cannot change under the step.
        let near_max = x.ge(&(x.max_dim(dim, true) - 1e-3)).to_dtype::<f64>().sum_dim(dim, false);
        let near_min = x.le(&(x.min_dim(dim, true) + 1e-3)).to_dtype::<f64>().sum_dim(dim, false);
        prop_assume!(near_max.to_vec().iter().chain(&near_min.to_vec()).all(|&c| c == 1.0));
        check_derivatives(std::slice::from_ref(&x), seed, |xs| xs[0].try_max_dim(dim, keepdim))?;
        check_derivatives(&[x], seed, |xs| xs[0].try_min_dim(dim, keepdim))?;
    }

    #[test]
    fn softmax_and_log_softmax_grads_match_finite_difference(
        (x, dim) in shape_at_least_1d(3).prop_flat_map(|s| {
            let rank = s.len();
            (tensor(s, -3.0, 3.0), 0..rank)
        }),
        strided in any::<bool>(),
        seed in any::<u64>(),
    ) {
        check_derivatives(std::slice::from_ref(&x), seed, |xs| strided_view(&xs[0], strided)?.try_log_softmax(dim))?;
        check_derivatives(std::slice::from_ref(&x), seed, |xs| strided_view(&xs[0], strided)?.try_softmax(dim))?;
        check_derivatives(&[x], seed, |xs| xs[0].try_logsumexp(dim, false))?;
    }

    #[test]
    fn matmul_grad_matches_finite_difference(
        (a, b) in (1usize..=3, 1usize..=3, 1usize..=3, shape(2), 0usize..4).prop_flat_map(
            |(m, k, n, batch, case)| {
                // case 0: batched with the left batch broadcast; 1: batched with the right
                // broadcast; 2: vector on the left; 3: vector on the right.
                let (l, r): (Vec<usize>, Vec<usize>) = match case {
                    0 => ([&batch[batch.len().min(1)..], &[m, k][..]].concat(), [&batch[..], &[k, n][..]].concat()),
                    1 => ([&batch[..], &[m, k][..]].concat(), vec![k, n]),
                    2 => (vec![k], [&batch[..], &[k, n][..]].concat()),
                    _ => ([&batch[..], &[m, k][..]].concat(), vec![k]),
                };
                (tensor(l, -2.0, 2.0), tensor(r, -2.0, 2.0))
            },
        ),
        transpose_rhs in any::<bool>(),
        seed in any::<u64>(),
    ) {
        check_derivatives(&[a, b], seed, |xs| {
            // A transposed right operand: pass bᵀ's values through a transposed view.
            let rhs = if transpose_rhs && xs[1].ndim() >= 2 {
                xs[1].t().try_mul(&Tensor::scalar(1.0))?.t()
            } else {
                xs[1].clone()
            };
            xs[0].try_matmul(&rhs)
        })?;
    }

    #[test]
    fn mse_grad_matches_finite_difference(
        (a, b) in shape(3).prop_flat_map(|s| (tensor(s.clone(), -2.0, 2.0), tensor(s, -2.0, 2.0))),
        strided in any::<bool>(),
        seed in any::<u64>(),
    ) {
        check_derivatives(&[a.clone(), b.clone()], seed, |xs| strided_view(&xs[0], strided)?.try_mse(&xs[1]))?;
        // The fused value equals the composite bit for bit.
        let composite = (&a - &b).square().mean().item();
        prop_assert_eq!(a.mse(&b).item().to_bits(), composite.to_bits());
    }

    #[test]
    fn linear_grad_matches_finite_difference(
        (x, w, b) in (shape(2), 1usize..=3, 1usize..=3).prop_flat_map(|(batch, inputs, outputs)| {
            let x_shape: Vec<usize> = batch.iter().copied().chain([inputs]).collect();
            (tensor(x_shape, -2.0, 2.0), tensor(vec![inputs, outputs], -2.0, 2.0), tensor(vec![outputs], -2.0, 2.0))
        }),
        with_bias in any::<bool>(),
        transpose_weight in any::<bool>(),
        strided in any::<bool>(),
        seed in any::<u64>(),
    ) {
        check_derivatives(&[x, w, b], seed, |xs| {
            // A transposed weight: the values of w read through a transposed view.
            let weight = if transpose_weight { xs[1].t().try_mul(&Tensor::scalar(1.0))?.t() } else { xs[1].clone() };
            let bias = with_bias.then(|| xs[2].clone());
            strided_view(&xs[0], strided)?.try_linear(&weight, bias.as_ref())
        })?;
    }

    #[test]
    fn textbook_layer_grad_matches_finite_difference(
        (x, w, b) in (1usize..=4, 1usize..=3, 1usize..=3).prop_flat_map(|(rows, inputs, outputs)| {
            (tensor(vec![rows, inputs], -2.0, 2.0), tensor(vec![inputs, outputs], -2.0, 2.0), tensor(vec![outputs], -2.0, 2.0))
        }),
        row_bias in any::<bool>(),
        bias_first in any::<bool>(),
        transpose_weight in any::<bool>(),
        seed in any::<u64>(),
    ) {
        // x.matmul(&w) + &b on an owned product: recorded as one linear (forward, and both
        // of its rules: the fused one for first order, the recorded one for second order).
        check_derivatives(&[x, w, b], seed, |xs| {
            let weight = if transpose_weight { xs[1].t().try_mul(&Tensor::scalar(1.0))?.t() } else { xs[1].clone() };
            let bias = if row_bias { xs[2].try_unsqueeze(0)? } else { xs[2].clone() };
            let product = xs[0].try_matmul(&weight)?;
            let sum = if bias_first { bias + product } else { product + &bias };
            if sum.requires_grad() {
                assert_eq!(sum.op_name(), Some("linear"));
            }
            Ok(sum)
        })?;
    }

    #[test]
    fn movement_grads_match_finite_difference(
        x in shape(3).prop_flat_map(|s| tensor(s, -2.0, 2.0)),
        perm_seed in any::<u64>(),
        seed in any::<u64>(),
    ) {
        let rank = x.ndim();
        // reshape: dimensions reversed; flatten then split
        let reversed: Vec<usize> = x.shape().iter().rev().copied().collect();
        check_derivatives(std::slice::from_ref(&x), seed, |xs| xs[0].try_reshape(&reversed))?;
        // permute by a seeded shuffle, and transpose of the first and last dims
        let mut perm: Vec<usize> = (0..rank).collect();
        let mut state = perm_seed | 1;
        for i in (1..rank).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            perm.swap(i, (state >> 33) as usize % (i + 1));
        }
        check_derivatives(std::slice::from_ref(&x), seed, |xs| xs[0].try_permute(&perm))?;
        if rank >= 1 {
            check_derivatives(std::slice::from_ref(&x), seed, |xs| xs[0].try_transpose(0usize, -1))?;
        }
        // unsqueeze at every position, then squeeze it back out through a strided view
        for d in 0..=rank {
            check_derivatives(std::slice::from_ref(&x), seed, |xs| strided_view(&xs[0], true)?.try_unsqueeze(d)?.try_squeeze(d))?;
        }
    }

    #[test]
    fn broadcast_to_grad_matches_finite_difference(
        (small, full) in broadcastable(3)
            .prop_flat_map(|(full, small)| (tensor(small, -2.0, 2.0), Just(full))),
        seed in any::<u64>(),
    ) {
        check_derivatives(&[small], seed, |xs| xs[0].try_broadcast_to(&full))?;
    }

    #[test]
    fn narrow_grad_matches_finite_difference(
        (x, dim, start, len) in shape_at_least_1d(3).prop_flat_map(|s| {
            let rank = s.len();
            (Just(s), 0..rank).prop_flat_map(|(s, dim)| {
                let size = s[dim];
                (Just(s), Just(dim), 0..=size).prop_flat_map(move |(s, dim, start)| {
                    (tensor(s, -2.0, 2.0), Just(dim), Just(start), 0..=size - start)
                })
            })
        }),
        seed in any::<u64>(),
    ) {
        check_derivatives(&[x], seed, |xs| xs[0].try_narrow(dim, start, len))?;
    }

    #[test]
    fn index_select_and_index_add_grads_match_finite_difference(
        (x, dim, indices) in shape_at_least_1d(3).prop_flat_map(|s| {
            let rank = s.len();
            (Just(s), 0..rank).prop_flat_map(|(s, dim)| {
                let size = s[dim];
                (tensor(s, -2.0, 2.0), Just(dim), prop::collection::vec(0..size as i64, 0..5))
            })
        }),
        source_seed in any::<u64>(),
        seed in any::<u64>(),
    ) {
        let indices = Tensor::from_slice(&indices);
        check_derivatives(std::slice::from_ref(&x), seed, |xs| xs[0].try_index_select(dim, &indices))?;
        let mut source_shape = x.shape().to_vec();
        source_shape[dim] = indices.numel();
        let source = weights(&source_shape, source_seed);
        check_derivatives(&[x, source], seed, |xs| xs[0].try_index_add(dim, &indices, &xs[1]))?;
    }

    /// Random index tensors in any order, with repeats, no larger than `x` outside `dim`
    /// (zero-size shapes included): gather's derivative is scatter-add and the other way
    /// round, so second order goes through both.
    #[test]
    fn gather_and_scatter_add_grads_match_finite_difference(
        (x, dim, index) in shape_at_least_1d(3).prop_flat_map(|s| {
            let rank = s.len();
            (Just(s), 0..rank).prop_flat_map(|(s, dim)| {
                let sizes: Vec<_> = s
                    .iter()
                    .enumerate()
                    .map(|(d, &n)| if d == dim { (0..4usize).boxed() } else { (0..=n).boxed() })
                    .collect();
                let size = s[dim];
                (tensor(s, -2.0, 2.0), Just(dim), sizes.prop_flat_map(move |shape| {
                    let count = shape.iter().product::<usize>();
                    let entries = if size == 0 {
                        Just(Vec::new()).boxed()
                    } else {
                        prop::collection::vec(0..size as i64, count).boxed()
                    };
                    (Just(shape), entries)
                }))
            })
        }),
        source_seed in any::<u64>(),
        seed in any::<u64>(),
    ) {
        let (shape, entries) = index;
        // A zero-size dimension to pick from leaves only empty index tensors.
        prop_assume!(entries.len() == shape.iter().product::<usize>());
        let index = Tensor::from_vec(entries, &shape).unwrap();
        check_derivatives(std::slice::from_ref(&x), seed, |xs| xs[0].try_gather(dim, &index))?;
        let source = weights(&shape, source_seed);
        check_derivatives(&[x, source], seed, |xs| xs[0].try_scatter_add(dim, &index, &xs[1]))?;
    }

    #[test]
    fn concat_and_stack_grads_match_finite_difference(
        (a, b, c, dim) in shape_at_least_1d(3).prop_flat_map(|s| {
            let rank = s.len();
            (Just(s), 0..rank, 1usize..=3).prop_flat_map(|(s, dim, other)| {
                let mut t = s.clone();
                t[dim] = other;
                (tensor(s.clone(), -2.0, 2.0), tensor(t, -2.0, 2.0), tensor(s, -2.0, 2.0), Just(dim))
            })
        }),
        seed in any::<u64>(),
    ) {
        check_derivatives(&[a.clone(), b, c.clone()], seed, |xs| Tensor::try_concat(xs, dim))?;
        check_derivatives(&[a, c], seed, |xs| Tensor::try_stack(xs, dim))?;
    }
}
