//! The rules that have two twins: a composite of tensor ops, which records a differentiable
//! graph when the pass records one (`backward_create_graph`), and a fused kernel computing
//! the same formula in one pass when nothing is recorded. The rule table names each once;
//! both twins are covered by the same property tests (a first derivative runs the fused
//! twin, a second derivative the composite one), and the tests below check that they agree.

use super::rules::{InputGrads, needed};
use crate::element::Element;
use crate::error::Result;
use crate::kernels::{self, Buf, elementwise};
use crate::layout::Layout;
use crate::tensor::Tensor;

/// Whether the rules are recording a graph (`backward_create_graph`): their results must then
/// be differentiable, so they are built from tensor ops. Otherwise a rule may compute the same
/// formula, in the same order of operations, in one fused pass.
fn recording() -> bool {
    crate::mode::is_grad_enabled()
}

/// The composite twin when recording, the fused one otherwise.
fn twin<R>(composite: impl FnOnce() -> Result<R>, fused: impl FnOnce() -> Result<R>) -> Result<R> {
    if recording() { composite() } else { fused() }
}

/// `f(g, x)` elementwise over two tensors of one shape, in one pass; untracked.
fn fused<T: Element>(
    name: &'static str,
    g: &Tensor<T>,
    x: &Tensor<T>,
    f: impl Fn(T, T) -> T + Send + Sync,
) -> Result<Tensor<T>> {
    let data = elementwise::zip_map(name, g.strided(), x.strided(), f)?;
    Ok(Tensor::constant(data, Layout::contiguous(g.shape())))
}

/// d gelu(x) = g * (Φ(x) + x φ(x)), `Φ(x) = (1 + erf(x/√2)) / 2`, `φ(x) = e^(-x²/2) / √(2π)`;
/// `cdf` is `Φ(x)` from the forward pass, which the fused twin reuses (the composite one
/// computes it again from `x`, as a function of `x` for the next derivative).
pub(super) fn gelu<T: Element>(g: &Tensor<T>, x: &Tensor<T>, cdf: &Tensor<T>) -> Result<Tensor<T>> {
    let c = T::of_f64;
    twin(
        || {
            let cdf = x
                .try_mul_scalar(c(std::f64::consts::FRAC_1_SQRT_2))?
                .try_erf()?
                .try_add_scalar(T::one())?
                .try_mul_scalar(c(0.5))?;
            let density = x
                .try_mul(x)?
                .try_mul_scalar(c(-0.5))?
                .try_exp()?
                .try_mul_scalar(c(1.0 / (2.0 * std::f64::consts::PI).sqrt()))?;
            g.try_mul(&cdf.try_add(&x.try_mul(&density)?)?)
        },
        || {
            let slope = |g, x, cdf| g * kernels::gelu::slope_from_cdf(x, cdf);
            let data =
                elementwise::zip3_map("gelu", g.strided(), x.strided(), cdf.strided(), slope)?;
            Ok(Tensor::constant(data, Layout::contiguous(g.shape())))
        },
    )
}

/// d gelu_tanh(x) = g * ((1 + t)/2 + x (1 - t²) s (1 + 3c x²) / 2), `t = tanh(s (x + c x³))`,
/// `s = √(2/π)`, `c = 0.044715`.
pub(super) fn gelu_tanh<T: Element>(g: &Tensor<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
    let c = T::of_f64;
    let (cubic, scale) = (kernels::gelu::TANH_CUBIC, kernels::gelu::sqrt_2_over_pi());
    twin(
        || {
            let square = x.try_mul(x)?;
            let t = x
                .try_add(&square.try_mul(x)?.try_mul_scalar(c(cubic))?)?
                .try_mul_scalar(c(scale))?
                .try_tanh()?;
            let inner_slope = square
                .try_mul_scalar(c(3.0 * cubic))?
                .try_add_scalar(T::one())?
                .try_mul_scalar(c(scale))?;
            let one_minus_t2 = t.try_mul(&t)?.try_neg()?.try_add_scalar(T::one())?;
            let slope = t
                .try_add_scalar(T::one())?
                .try_add(&x.try_mul(&one_minus_t2)?.try_mul(&inner_slope)?)?
                .try_mul_scalar(c(0.5))?;
            g.try_mul(&slope)
        },
        || fused("gelu_tanh", g, x, |g, x| g * kernels::gelu::tanh_slope(x)),
    )
}

/// d softmax(x) = y * (g - sum(g * y)) along `dim`, from the result `y`; the fused twin runs
/// along contiguous last dimensions, the recorded formula everywhere else.
pub(super) fn softmax<T: Element>(g: &Tensor<T>, y: &Tensor<T>, dim: usize) -> Result<Tensor<T>> {
    if !recording()
        && dim + 1 == y.ndim()
        && let (Some(gs), Some(ys)) = (g.as_slice(), y.as_slice())
    {
        let len = y.shape()[dim];
        let data = kernels::softmax::softmax_backward_rows("softmax", gs, ys, len)?;
        return Ok(Tensor::constant(data, Layout::contiguous(y.shape())));
    }
    let total = g.try_mul(y)?.try_sum_dims(&[dim], true)?;
    g.try_sub(&total)?.try_mul(y)
}

/// d layer_norm(x, w, b) over the last dimension, `x̂ = (x - mean) / s`, `s = √(Var + eps)`,
/// `gw = g · w`: `dx = (gw - mean(gw) - x̂ mean(gw x̂)) / s`, `dw = Σ_rows g x̂`, `db = Σ_rows g`.
/// `args` is `x`, then the weight and the bias `affine` says there are.
pub(super) fn layer_norm<T: Element>(
    g: &Tensor<T>,
    args: &[Tensor<T>],
    affine: [bool; 2],
    eps: T,
    stats: &[(T, T)],
) -> Result<InputGrads<T>> {
    let x = &args[0];
    let weight = affine[0].then(|| &args[1]);
    let bias = affine[1].then(|| &args[1 + usize::from(affine[0])]);
    let len = x.shape()[x.ndim() - 1];
    let rows = x.numel().checked_div(len).unwrap_or(0);
    let mut out = InputGrads::new();
    if !recording()
        && len > 0
        && let (Some(gs), Some(xs)) = (g.as_slice(), x.as_slice())
    {
        let w = weight
            .map(|w| w.strided().contiguous("layer_norm"))
            .transpose()?;
        let (dx, dw, db) = kernels::norm::backward("layer_norm", gs, xs, len, stats, w.as_deref())?;
        out.push(
            x.is_tracked()
                .then(|| Tensor::constant(dx, Layout::contiguous(x.shape()))),
        );
        let vector = |v: Vec<T>| Tensor::constant(Buf::from_vec(v), Layout::contiguous(&[len]));
        if let Some(w) = weight {
            out.push(w.is_tracked().then(|| vector(dw)));
        }
        if let Some(b) = bias {
            out.push(b.is_tracked().then(|| vector(db)));
        }
        return Ok(out);
    }
    let flat = |t: &Tensor<T>| t.try_reshape(&[rows, len]);
    let (fx, fg) = (flat(x)?, flat(g)?);
    let centered = fx.try_sub(&fx.try_mean_dim(-1, true)?)?;
    let scale = centered
        .try_mul(&centered)?
        .try_mean_dim(-1, true)?
        .try_add_scalar(eps)?
        .try_sqrt()?;
    let normalized = centered.try_div(&scale)?;
    out.push(needed(x, || {
        let gw = match weight {
            Some(w) => fg.try_mul(w)?,
            None => fg.clone(),
        };
        let along = gw.try_mul(&normalized)?.try_mean_dim(-1, true)?;
        gw.try_sub(&gw.try_mean_dim(-1, true)?)?
            .try_sub(&normalized.try_mul(&along)?)?
            .try_div(&scale)?
            .try_reshape(x.shape())
    })?);
    if let Some(w) = weight {
        out.push(needed(w, || {
            fg.try_mul(&normalized)?.try_sum_dims(&[0], false)
        })?);
    }
    if let Some(b) = bias {
        out.push(needed(b, || fg.try_sum_dims(&[0], false))?);
    }
    Ok(out)
}

/// d sigmoid(x) = g * y * (1 - y), from the result `y`.
pub(super) fn sigmoid<T: Element>(g: &Tensor<T>, y: &Tensor<T>) -> Result<Tensor<T>> {
    let one = T::one();
    twin(
        || g.try_mul(&y.try_mul(&y.try_neg()?.try_add_scalar(one)?)?),
        || fused("sigmoid", g, y, |g, y| g * (y * (one - y))),
    )
}

/// d tanh(x) = g * (1 - y²), from the result `y`.
pub(super) fn tanh<T: Element>(g: &Tensor<T>, y: &Tensor<T>) -> Result<Tensor<T>> {
    let one = T::one();
    twin(
        || g.try_mul(&y.try_mul(y)?.try_neg()?.try_add_scalar(one)?),
        || fused("tanh", g, y, |g, y| g * (one - y * y)),
    )
}

/// d relu(x) = g * [x > 0].
pub(super) fn relu<T: Element>(g: &Tensor<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
    let (zero, one) = (T::zero(), T::one());
    twin(
        || g.try_mul(&x.try_gt(&Tensor::scalar(zero))?.to_dtype()),
        || {
            fused("relu", g, x, |g, x| {
                g * std::hint::select_unpredictable(x > zero, one, zero)
            })
        },
    )
}

/// d x² = g * (x * 2).
pub(super) fn square<T: Element>(g: &Tensor<T>, x: &Tensor<T>) -> Result<Tensor<T>> {
    let two = T::one() + T::one();
    twin(
        || g.try_mul(&x.try_mul_scalar(two)?),
        || fused("powf", g, x, |g, x| g * (x * two)),
    )
}

/// d mean((p - t)²) / dp = (g / n) * ((p - t) * 2), for a scalar `g` and `n` elements.
pub(super) fn mse<T: Element>(
    g: &Tensor<T>,
    pred: &Tensor<T>,
    target: &Tensor<T>,
) -> Result<Tensor<T>> {
    let two = T::one() + T::one();
    let n = T::from_usize(pred.numel()).unwrap_or_else(T::infinity);
    twin(
        || {
            let scale = g.try_div_scalar(n)?;
            pred.try_sub(target)?.try_mul_scalar(two)?.try_mul(&scale)
        },
        || {
            let scale = g.try_item()? / n;
            fused("mse", pred, target, move |p, t| scale * ((p - t) * two))
        },
    )
}

/// d (a · b) = g · bᵀ, aᵀ · g; for two matrices this is a linear without bias, and takes its
/// fused twin.
pub(super) fn matmul<T: Element>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    g: &Tensor<T>,
) -> Result<InputGrads<T>> {
    if !recording()
        && a.ndim() == 2
        && b.ndim() == 2
        && let Some(out) = linear_fused(a, b, None, g, a.shape()[0])?
    {
        return Ok(out);
    }
    Ok(smallvec::smallvec![
        needed(a, || g.try_matmul(&b.t()))?,
        needed(b, || a.t().try_matmul(g))?,
    ])
}

/// d linear(x, W, b) = g · Wᵀ, xᵀ · g over all rows, Σ_rows g.
pub(super) fn linear<T: Element>(
    input: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    g: &Tensor<T>,
) -> Result<InputGrads<T>> {
    let (inputs, outputs) = (weight.shape()[0], weight.shape()[1]);
    let rows: usize = input.shape()[..input.ndim() - 1].iter().product();
    if !recording()
        && let Some(out) = linear_fused(input, weight, bias, g, rows)?
    {
        return Ok(out);
    }
    let flat_g = || g.try_reshape(&[rows, outputs]);
    let mut out = InputGrads::new();
    out.push(needed(input, || g.try_matmul(&weight.t()))?);
    out.push(needed(weight, || {
        input
            .try_reshape(&[rows, inputs])?
            .t()
            .try_matmul(&flat_g()?)
    })?);
    if let Some(bias) = bias {
        out.push(needed(bias, || flat_g()?.try_sum_dims(&[0], false))?);
    }
    Ok(out)
}

/// The fused twin of [`linear`]: `dX = G Wᵀ` and `dW = Xᵀ G` straight from the matmul kernel
/// on transposed layouts, with no view tensors or matmul ops in between (on a tiny graph
/// those would cost more than the arithmetic). `None` when the input or the gradient is laid
/// out so that flattening it to rows needs a copy: the composite twin then does that.
fn linear_fused<T: Element>(
    input: &Tensor<T>,
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    g: &Tensor<T>,
    rows: usize,
) -> Result<Option<InputGrads<T>>> {
    let (inputs, outputs) = (weight.shape()[0], weight.shape()[1]);
    let (Some(x), Some(flat_g)) = (
        input.layout().reshaped(&[rows, inputs]),
        g.layout().reshaped(&[rows, outputs]),
    ) else {
        return Ok(None);
    };
    let flat_g = g.strided().with_layout(&flat_g);
    let mut out = InputGrads::new();
    out.push(match input.is_tracked() {
        // dX = G Wᵀ, in the input's shape.
        true => {
            let w_t = weight.layout().permute(&[1, 0]);
            let w_t = weight.strided().with_layout(&w_t);
            let data = kernels::matmul::linear("linear", flat_g, w_t, None)?;
            Some(Tensor::constant(data, Layout::contiguous(input.shape())))
        }
        false => None,
    });
    out.push(match weight.is_tracked() {
        // dW = Xᵀ G
        true => {
            let x_t = x.permute(&[1, 0]);
            let x_t = input.strided().with_layout(&x_t);
            let data = kernels::matmul::linear("linear", x_t, flat_g, None)?;
            Some(Tensor::constant(
                data,
                Layout::contiguous(&[inputs, outputs]),
            ))
        }
        false => None,
    });
    if let Some(bias) = bias {
        // db = the column sums of G
        out.push(needed(bias, || {
            let g = flat_g.contiguous("linear")?;
            let axis = kernels::reduce::Axis {
                outer: 1,
                len: rows,
                inner: outputs,
            };
            let data = kernels::reduce::sum("linear", &g, axis)?;
            Ok(Tensor::constant(data, Layout::contiguous(bias.shape())))
        })?);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mode::with_grad_enabled;

    /// Seeded values in [-2, 2), as an untracked tensor of `shape`.
    fn values(shape: &[usize], seed: u64) -> Tensor<f64> {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        Tensor::rand_uniform(shape, -2.0, 2.0, &mut rng)
    }

    /// A twin's results with the composite (recording) and the fused (not recording) twin.
    fn both<R>(rule: impl Fn() -> Result<R>) -> (R, R) {
        let composite = with_grad_enabled(true, &rule).expect("the composite twin runs");
        let fused = with_grad_enabled(false, &rule).expect("the fused twin runs");
        (composite, fused)
    }

    /// A named rule under test.
    type Case<'a, R> = (&'a str, &'a dyn Fn() -> Result<R>);

    fn bits(t: &Tensor<f64>) -> Vec<u64> {
        t.to_vec().into_iter().map(f64::to_bits).collect()
    }

    #[test]
    fn elementwise_twins_agree_to_the_bit() {
        let (g, x) = (values(&[3, 5], 1), values(&[3, 5], 2));
        let y = x.sigmoid();
        let cdf: Vec<f64> = x.to_vec().into_iter().map(kernels::gelu::cdf).collect();
        let cdf = Tensor::from_vec(cdf, x.shape()).unwrap();
        let twins: [Case<'_, Tensor<f64>>; 7] = [
            ("sigmoid", &|| sigmoid(&g, &y)),
            ("gelu", &|| gelu(&g, &x, &cdf)),
            ("gelu_tanh", &|| gelu_tanh(&g, &x)),
            ("tanh", &|| tanh(&g, &x.tanh())),
            ("relu", &|| relu(&g, &x)),
            ("square", &|| square(&g, &x)),
            ("mse", &|| mse(&Tensor::scalar(0.75), &x, &y)),
        ];
        for (name, rule) in twins {
            let (composite, fused) = both(rule);
            assert_eq!(bits(&composite), bits(&fused), "{name}");
        }
    }

    #[test]
    fn softmax_twins_agree_along_the_last_dimension_and_others() {
        let (g, x) = (values(&[3, 4, 5], 11), values(&[3, 4, 5], 12));
        for dim in 0..3 {
            let y = x.softmax(dim);
            let (composite, fused) = both(|| softmax(&g, &y, dim));
            for (a, b) in composite.to_vec().iter().zip(fused.to_vec()) {
                assert!((a - b).abs() <= 1e-15, "dim {dim}: {a} {b}");
            }
        }
        // In f32, the rows' vectorised exp keeps softmax within a few ulp of f64's.
        let x32 = x.to_dtype::<f32>();
        let (exact, approx) = (x.softmax(-1).to_vec(), x32.softmax(-1).to_vec());
        for (e, a) in exact.iter().zip(approx) {
            assert!(
                (e - f64::from(a)).abs() <= 4.0 * f64::from(f32::EPSILON) * e,
                "{e} {a}"
            );
        }
    }

    #[test]
    fn layer_norm_twins_agree() {
        let x = values(&[6, 5], 21).require_grad();
        let (w, b) = (
            values(&[5], 22).require_grad(),
            values(&[5], 23).require_grad(),
        );
        let g = values(&[6, 5], 24);
        for affine in [[true, true], [true, false], [false, true], [false, false]] {
            let mut args = vec![x.clone()];
            args.extend(affine[0].then(|| w.clone()));
            args.extend(affine[1].then(|| b.clone()));
            let data = x.to_vec();
            let stats = kernels::norm::row_stats(&data, 5, 1e-5);
            let (composite, fused) = both(|| layer_norm(&g, &args, affine, 1e-5, &stats));
            assert_eq!(composite.len(), fused.len());
            for (c, f) in composite.iter().zip(&fused) {
                let (c, f) = (c.as_ref().unwrap().to_vec(), f.as_ref().unwrap().to_vec());
                for (c, f) in c.iter().zip(&f) {
                    assert!((c - f).abs() <= 1e-13, "{affine:?}: {c} {f}");
                }
            }
        }
    }

    #[test]
    fn matrix_twins_agree() {
        // Tracked, so that every input's gradient is computed.
        let (x, w, b) = (values(&[6, 4], 3), values(&[4, 3], 4), values(&[3], 5));
        let (x, w, b) = (x.require_grad(), w.require_grad(), b.require_grad());
        let x3 = values(&[2, 3, 4], 6).require_grad();
        let g3 = values(&[2, 3, 3], 7);
        let g = values(&[6, 3], 8);
        let cases: [Case<'_, InputGrads<f64>>; 3] = [
            ("matmul", &|| matmul(&x, &w, &g)),
            ("linear", &|| linear(&x, &w, Some(&b), &g)),
            ("linear over a batch", &|| linear(&x3, &w, Some(&b), &g3)),
        ];
        for (name, rule) in cases {
            let (composite, fused) = both(rule);
            assert_eq!(composite.len(), fused.len(), "{name}");
            for (c, f) in composite.iter().zip(&fused) {
                let (c, f) = (c.as_ref().expect(name), f.as_ref().expect(name));
                assert_eq!(c.shape(), f.shape(), "{name}");
                for (c, f) in c.to_vec().into_iter().zip(f.to_vec()) {
                    assert!((c - f).abs() <= 1e-12 * c.abs().max(1.0), "{name}: {c} {f}");
                }
            }
        }
    }
}
