//! Attention: [`scaled_dot_product_attention`], the [`causal_mask`] it can apply, and the
//! [`MultiHeadAttention`] module, after PyTorch's definitions.
//!
//! Masks are additive: 0 where a query may attend to a key and `-inf` where it may not. A
//! query that may attend to no key at all (a fully masked row) gets zeros and no gradient,
//! instead of the NaN of `0 / 0`.
//!
//! ```
//! use nn::{MultiHeadAttention, Module};
//! use rand::SeedableRng;
//! use tensor::Tensor;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let attention = MultiHeadAttention::<f32>::new(16, 4, &mut rng).causal(true);
//! let x = Tensor::rand_uniform(&[2, 5, 16], -1.0, 1.0, &mut rng); // [batch, sequence, width]
//! assert_eq!(attention.forward(&x).shape(), &[2, 5, 16]);
//! ```

use tensor::{Element, Parameter, Result, Tensor, TensorError};

use crate::activation::Activation;
use crate::dense::Dense;
use crate::init::Init;
use crate::module::{Module, prefixed_by_name};

/// `softmax(q kᵀ · scale + mask) v` over the last two dimensions: `q: [.., L, E]`,
/// `k: [.., S, E]`, `v: [.., S, Ev]` with broadcast batch dimensions, giving `[.., L, Ev]`.
/// `scale` defaults to `1 / √E`. `mask` is added to the scores (`[.., L, S]`, broadcast; 0 to
/// attend, `-inf` not to), and `causal` masks every key after its query (position `j > i`),
/// as PyTorch's `is_causal`; both may be given.
///
/// # Errors
/// When the shapes do not fit (the message names them), the mask does not broadcast to the
/// scores, `scale` is not finite, or memory runs out.
pub fn scaled_dot_product_attention<T: Element>(
    q: &Tensor<T>,
    k: &Tensor<T>,
    v: &Tensor<T>,
    mask: Option<&Tensor<T>>,
    causal: bool,
    scale: Option<f64>,
) -> Result<Tensor<T>> {
    let op = "scaled_dot_product_attention";
    let invalid = |message: String| TensorError::InvalidArgument { op, message };
    let (qs, ks, vs) = (q.shape(), k.shape(), v.shape());
    let fits = qs.len() >= 2
        && ks.len() >= 2
        && vs.len() >= 2
        && qs[qs.len() - 1] == ks[ks.len() - 1]
        && ks[ks.len() - 2] == vs[vs.len() - 2];
    if !fits {
        return Err(invalid(format!(
            "queries {qs:?}, keys {ks:?} and values {vs:?} do not fit: expected [.., L, E], \
             [.., S, E] and [.., S, Ev]"
        )));
    }
    let depth = qs[qs.len() - 1];
    let scale = scale.unwrap_or(1.0 / (depth.max(1) as f64).sqrt());
    if !scale.is_finite() {
        return Err(invalid(format!("the scale must be finite, got {scale}")));
    }
    let mut scores = q.try_matmul(&k.t())?.try_mul_scalar(T::of_f64(scale))?;
    if let Some(mask) = mask {
        let unfit = || {
            invalid(format!(
                "a mask of shape {:?} does not broadcast to the scores' shape {:?}",
                mask.shape(),
                scores.shape()
            ))
        };
        // A mask must broadcast to the scores, not the scores to a larger mask; other errors
        // (memory) pass as they are.
        let masked = match scores.try_add(mask) {
            Err(TensorError::ShapeMismatch { .. }) => return Err(unfit()),
            masked => masked?,
        };
        if masked.shape() != scores.shape() {
            return Err(unfit());
        }
        scores = masked;
    }
    if causal {
        let n = scores.ndim();
        scores = scores.try_add(&causal_mask(scores.shape()[n - 2], scores.shape()[n - 1]))?;
    }
    scores.try_softmax(-1)?.try_matmul(v)
}

/// The `[queries, keys]` additive mask that lets query `i` attend to keys `0..=i`: 0 on and
/// below the diagonal, `-inf` above it (aligned at the top left, as PyTorch's `is_causal`).
pub fn causal_mask<T: Element>(queries: usize, keys: usize) -> Tensor<T> {
    let data = (0..queries)
        .flat_map(|i| (0..keys).map(move |j| if j > i { T::neg_infinity() } else { T::zero() }))
        .collect();
    Tensor::from_vec(data, &[queries, keys]).expect("internal: queries · keys values")
}

/// Multi-head attention (PyTorch's `MultiheadAttention` with `batch_first=True`): inputs are
/// `[batch, sequence, width]`; queries, keys and values are projected, split into `heads`
/// heads of `width / heads`, attended with [`scaled_dot_product_attention`], joined and
/// projected out.
///
/// As a [`Module`], `forward(x)` is self-attention, causal if [`causal`](Self::causal) was
/// set; [`try_attend`](Self::try_attend) takes separate queries, keys, values and a mask.
/// The parameters are `q_proj`, `k_proj`, `v_proj` and `out_proj`, each a `weight`
/// (`[width, width]`, applied as `x · weight`) and a `bias`, initialised as PyTorch does
/// (Xavier uniform in, its `Linear` default out, zero biases).
pub struct MultiHeadAttention<T: Element = f32> {
    heads: usize,
    q_proj: Dense<T>,
    k_proj: Dense<T>,
    v_proj: Dense<T>,
    out_proj: Dense<T>,
    causal: bool,
}

impl<T: Element> MultiHeadAttention<T> {
    /// Attention over `width`-wide inputs in `heads` heads.
    ///
    /// # Panics
    /// As [`try_new`](Self::try_new) fails.
    #[track_caller]
    pub fn new(width: usize, heads: usize, rng: &mut impl rand::Rng) -> Self {
        Self::try_new(width, heads, rng).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`new`](Self::new).
    ///
    /// # Errors
    /// When `width` or `heads` is 0, or `heads` does not divide `width`.
    pub fn try_new(width: usize, heads: usize, rng: &mut impl rand::Rng) -> Result<Self> {
        if width == 0 || heads == 0 || !width.is_multiple_of(heads) {
            return Err(TensorError::InvalidArgument {
                op: "MultiHeadAttention",
                message: format!("{heads} heads cannot split a width of {width} evenly"),
            });
        }
        let mut projection = |init| {
            Dense::try_with_init(
                width,
                width,
                Activation::Identity,
                init,
                Some(Init::Zeros),
                rng,
            )
        };
        let xavier = Init::XavierUniform { gain: 1.0 };
        Ok(MultiHeadAttention {
            heads,
            q_proj: projection(xavier)?,
            k_proj: projection(xavier)?,
            v_proj: projection(xavier)?,
            out_proj: projection(Init::PytorchLinear)?,
            causal: false,
        })
    }

    /// Whether `forward` masks every key after its query.
    #[must_use]
    pub fn causal(mut self, causal: bool) -> Self {
        self.causal = causal;
        self
    }

    /// The number of heads.
    pub fn heads(&self) -> usize {
        self.heads
    }

    /// Attention of `query: [batch, L, width]` over `key` and `value: [batch, S, width]`,
    /// with an additive `mask` broadcast to `[batch, heads, L, S]` (or `[L, S]`), and the
    /// causal mask if the module is causal.
    ///
    /// # Errors
    /// When the inputs are not `[batch, sequence, width]` with one batch and width, the mask
    /// does not broadcast, or memory runs out.
    pub fn try_attend(
        &self,
        query: &Tensor<T>,
        key: &Tensor<T>,
        value: &Tensor<T>,
        mask: Option<&Tensor<T>>,
    ) -> Result<Tensor<T>> {
        let width = self.q_proj.weight().shape()[0];
        let (qs, ks, vs) = (query.shape(), key.shape(), value.shape());
        let fits = [qs, ks, vs].iter().all(|s| s.len() == 3 && s[2] == width)
            && qs[0] == ks[0]
            && ks[..2] == vs[..2];
        if !fits {
            return Err(TensorError::InvalidArgument {
                op: "MultiHeadAttention",
                message: format!(
                    "query {qs:?}, key {ks:?} and value {vs:?} do not fit: expected [batch, L, \
                     {width}], [batch, S, {width}] and [batch, S, {width}]"
                ),
            });
        }
        // [batch, sequence, width] -> [batch, heads, sequence, width / heads]
        let split = |x: &Tensor<T>, projection: &Dense<T>| {
            let (batch, len) = (x.shape()[0], x.shape()[1]);
            projection
                .try_forward(x)?
                .try_reshape(&[batch, len, self.heads, width / self.heads])?
                .try_permute(&[0, 2, 1, 3])
        };
        let (q, k, v) = (
            split(query, &self.q_proj)?,
            split(key, &self.k_proj)?,
            split(value, &self.v_proj)?,
        );
        let attended = scaled_dot_product_attention(&q, &k, &v, mask, self.causal, None)?;
        let joined = attended
            .try_permute(&[0, 2, 1, 3])?
            .try_reshape(&[qs[0], qs[1], width])?;
        self.out_proj.try_forward(&joined)
    }
}

impl<T: Element> Module<T> for MultiHeadAttention<T> {
    fn try_forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        self.try_attend(x, x, x, None)
    }

    fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
        prefixed_by_name([
            ("q_proj", self.q_proj.named_parameters()),
            ("k_proj", self.k_proj.named_parameters()),
            ("v_proj", self.v_proj.named_parameters()),
            ("out_proj", self.out_proj.named_parameters()),
        ])
    }
}
