//! Adam and AdamW.

use std::collections::HashMap;

use tensor::{Element, Gradients, ParamId, Parameter};

use crate::optimizer::{OptimError, Optimizer, non_negative, or_panic, unit_interval};
use crate::pieces;
use crate::sgd::check_shape;

/// Per-parameter state: the step count and the moment estimates.
#[derive(Default)]
struct State<T> {
    step: u64,
    exp_avg: Vec<T>,
    exp_avg_sq: Vec<T>,
    /// The running maximum of `exp_avg_sq`, with AMSGrad only.
    max_exp_avg_sq: Vec<T>,
}

/// The update shared by Adam and AdamW; `decoupled` selects AdamW's weight decay.
struct Core<T: Element> {
    name: &'static str,
    params: Vec<Parameter<T>>,
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    maximize: bool,
    decoupled: bool,
    state: HashMap<ParamId, State<T>>,
}

impl<T: Element> Core<T> {
    fn new(
        name: &'static str,
        params: Vec<Parameter<T>>,
        lr: f64,
        weight_decay: f64,
        decoupled: bool,
    ) -> Result<Self, OptimError> {
        Ok(Core {
            name,
            params,
            lr: non_negative(name, "lr", lr)?,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay,
            amsgrad: false,
            maximize: false,
            decoupled,
            state: HashMap::new(),
        })
    }

    fn step(&mut self, grads: &Gradients<T>) {
        let (beta1, beta2) = self.betas;
        let cast = T::of_f64;
        let mut update = Update {
            beta1: cast(beta1),
            beta2: cast(beta2),
            one_minus_beta1: cast(1.0 - beta1),
            one_minus_beta2: cast(1.0 - beta2),
            eps: cast(self.eps),
            weight_decay: cast(self.weight_decay),
            decay_factor: cast(1.0 - self.lr * self.weight_decay),
            step_size: T::zero(),
            bias_correction2_sqrt: T::one(),
            maximize: self.maximize,
            decoupled: self.decoupled,
        };
        let amsgrad = self.amsgrad;
        for param in &self.params {
            let Some(grad) = grads.get(param) else {
                continue;
            };
            check_shape(self.name, param, grad);
            let state = self.state.entry(param.id()).or_default();
            state.step += 1;
            // Scalars in f64, as PyTorch computes them in Python floats.
            let t = state.step as f64;
            update.step_size = cast(self.lr / (1.0 - beta1.powf(t)));
            update.bias_correction2_sqrt = cast((1.0 - beta2.powf(t)).sqrt());
            param.update(|w| {
                let n = w.len();
                state.exp_avg.resize(n, T::zero());
                state.exp_avg_sq.resize(n, T::zero());
                let (m, v) = (&mut state.exp_avg[..], &mut state.exp_avg_sq[..]);
                if amsgrad {
                    state.max_exp_avg_sq.resize(n, T::zero());
                    let v_max = &mut state.max_exp_avg_sq[..];
                    let mut one = |i: usize, g: T| {
                        let v_i = update.moments(&mut w[i], g, &mut m[i], &mut v[i]);
                        v_max[i] = if v_i > v_max[i] { v_i } else { v_max[i] };
                        update.apply(&mut w[i], m[i], v_max[i]);
                    };
                    match grad.as_slice() {
                        Some(g) => g.iter().enumerate().for_each(|(i, &g)| one(i, g)),
                        None => grad.for_each_value(one),
                    }
                } else {
                    // Slice loops without indexing, which the compiler vectorises.
                    let one = |w: &mut T, g: T, m: &mut T, v: &mut T| {
                        let v = update.moments(w, g, m, v);
                        update.apply(w, *m, v);
                    };
                    match grad.as_slice() {
                        Some(g) => pieces::zip4(w, g, m, v, &|w, g, m, v| {
                            w.iter_mut()
                                .zip(g)
                                .zip(m.iter_mut().zip(v))
                                .for_each(|((w, &g), (m, v))| one(w, g, m, v));
                        }),
                        None => grad.for_each_value(|i, g| one(&mut w[i], g, &mut m[i], &mut v[i])),
                    }
                }
            });
        }
    }
}

/// The per-element Adam update with the hyperparameters cast to the element type.
#[derive(Clone, Copy)]
struct Update<T> {
    beta1: T,
    beta2: T,
    one_minus_beta1: T,
    one_minus_beta2: T,
    eps: T,
    weight_decay: T,
    /// `1 - lr · weight_decay`, AdamW's factor.
    decay_factor: T,
    /// `lr / (1 - β1^t)`.
    step_size: T,
    /// `sqrt(1 - β2^t)`.
    bias_correction2_sqrt: T,
    maximize: bool,
    decoupled: bool,
}

impl<T: Element> Update<T> {
    /// Applies the weight decay and updates the moments; returns the new second moment.
    #[inline(always)]
    fn moments(self, w: &mut T, g: T, m: &mut T, v: &mut T) -> T {
        let mut g = if self.maximize { -g } else { g };
        if self.decoupled {
            *w *= self.decay_factor;
        } else if self.weight_decay != T::zero() {
            g += self.weight_decay * *w;
        }
        *m = self.beta1 * *m + self.one_minus_beta1 * g;
        *v = self.beta2 * *v + self.one_minus_beta2 * g * g;
        *v
    }

    /// `w - step_size · m / (sqrt(v) / sqrt(1 - β2^t) + eps)`.
    #[inline(always)]
    fn apply(self, w: &mut T, m: T, v: T) {
        let denom = v.sqrt() / self.bias_correction2_sqrt + self.eps;
        *w -= self.step_size * (m / denom);
    }
}

/// Defines the shared builder methods and the `Optimizer` impl of an Adam variant.
macro_rules! adam_variant {
    ($ty:ident) => {
        impl<T: Element> $ty<T> {
            /// Sets the decay rates of the first and second moment estimates, each in `[0, 1)`.
            ///
            /// # Panics
            /// As `try_betas` fails.
            #[track_caller]
            #[must_use]
            pub fn betas(self, beta1: f64, beta2: f64) -> Self {
                or_panic(self.try_betas(beta1, beta2))
            }

            /// Fallible form of `betas`.
            ///
            /// # Errors
            /// When a beta is outside `[0, 1)`.
            pub fn try_betas(mut self, beta1: f64, beta2: f64) -> Result<Self, OptimError> {
                let name = self.core.name;
                self.core.betas = (
                    unit_interval(name, "beta1", beta1)?,
                    unit_interval(name, "beta2", beta2)?,
                );
                Ok(self)
            }

            /// Sets the term added to the denominator, `>= 0`.
            ///
            /// # Panics
            /// As `try_eps` fails.
            #[track_caller]
            #[must_use]
            pub fn eps(self, eps: f64) -> Self {
                or_panic(self.try_eps(eps))
            }

            /// Fallible form of `eps`.
            ///
            /// # Errors
            /// When `eps` is negative or not finite.
            pub fn try_eps(mut self, eps: f64) -> Result<Self, OptimError> {
                self.core.eps = non_negative(self.core.name, "eps", eps)?;
                Ok(self)
            }

            /// Sets the weight decay, `>= 0`.
            ///
            /// # Panics
            /// As `try_weight_decay` fails.
            #[track_caller]
            #[must_use]
            pub fn weight_decay(self, weight_decay: f64) -> Self {
                or_panic(self.try_weight_decay(weight_decay))
            }

            /// Fallible form of `weight_decay`.
            ///
            /// # Errors
            /// When `weight_decay` is negative or not finite.
            pub fn try_weight_decay(mut self, weight_decay: f64) -> Result<Self, OptimError> {
                self.core.weight_decay =
                    non_negative(self.core.name, "weight_decay", weight_decay)?;
                Ok(self)
            }

            /// Uses the maximum of past second moments (AMSGrad).
            #[must_use]
            pub fn amsgrad(mut self, amsgrad: bool) -> Self {
                self.core.amsgrad = amsgrad;
                self
            }

            /// Ascends the objective instead of descending it.
            #[must_use]
            pub fn maximize(mut self, maximize: bool) -> Self {
                self.core.maximize = maximize;
                self
            }
        }

        impl<T: Element> Optimizer<T> for $ty<T> {
            /// # Panics
            /// When a gradient's shape differs from its parameter's.
            fn step(&mut self, grads: &Gradients<T>) {
                self.core.step(grads);
            }

            fn lr(&self) -> f64 {
                self.core.lr
            }

            fn set_lr(&mut self, lr: f64) {
                self.core.lr = or_panic(non_negative(self.core.name, "lr", lr));
            }

            fn parameters(&self) -> &[Parameter<T>] {
                &self.core.params
            }
        }
    };
}

/// Adam (Kingma & Ba, 2015), following PyTorch's `torch.optim.Adam` exactly. For each
/// parameter `p` with gradient `g`, at its step `t` (counted per parameter):
///
/// ```text
/// g ← -g                                  if maximize
/// g ← g + weight_decay · p                if weight_decay ≠ 0 (L2 penalty)
/// m ← β1 · m + (1 - β1) · g
/// v ← β2 · v + (1 - β2) · g²
/// v_max ← max(v_max, v)                   with amsgrad; then v is v_max below
/// p ← p - (lr / (1 - β1^t)) · m / (sqrt(v) / sqrt(1 - β2^t) + eps)
/// ```
///
/// that is, `p - lr · m̂ / (sqrt(v̂) + eps)` with the bias-corrected moments
/// `m̂ = m / (1 - β1^t)` and `v̂ = v / (1 - β2^t)`: eps is added after the square root of the
/// corrected second moment. Defaults: `betas = (0.9, 0.999)`, `eps = 1e-8`, no weight decay.
///
/// ```
/// use optim::{Adam, Optimizer};
/// use tensor::{Parameter, Tensor};
/// let w = Parameter::new(Tensor::<f64>::from_vec(vec![3.0], &[1])?);
/// let mut opt = Adam::new(vec![w.clone()], 0.1);
/// opt.step(&w.tensor().square().sum().backward());
/// // The first step moves by lr · g / (|g| + eps): almost exactly lr.
/// assert!((w.tensor().item() - 2.9).abs() < 1e-9);
/// # Ok::<(), tensor::TensorError>(())
/// ```
pub struct Adam<T: Element = f32> {
    core: Core<T>,
}

impl<T: Element> Adam<T> {
    /// Adam on `params` with learning rate `lr` and PyTorch's defaults otherwise.
    ///
    /// # Panics
    /// As [`try_new`](Adam::try_new) fails.
    #[track_caller]
    pub fn new(params: Vec<Parameter<T>>, lr: f64) -> Self {
        or_panic(Self::try_new(params, lr))
    }

    /// Fallible form of [`new`](Adam::new).
    ///
    /// # Errors
    /// When `lr` is negative or not finite.
    pub fn try_new(params: Vec<Parameter<T>>, lr: f64) -> Result<Self, OptimError> {
        Ok(Adam {
            core: Core::new("Adam", params, lr, 0.0, false)?,
        })
    }
}

adam_variant!(Adam);

/// AdamW (Loshchilov & Hutter, 2019), following PyTorch's `torch.optim.AdamW` exactly: Adam
/// with the weight decay applied to the weight directly instead of through the gradient.
/// Each step first scales the parameter,
///
/// ```text
/// p ← p · (1 - lr · weight_decay)
/// ```
///
/// then applies [`Adam`]'s update without the L2 term. Defaults: `betas = (0.9, 0.999)`,
/// `eps = 1e-8`, `weight_decay = 0.01`.
pub struct AdamW<T: Element = f32> {
    core: Core<T>,
}

impl<T: Element> AdamW<T> {
    /// AdamW on `params` with learning rate `lr` and PyTorch's defaults otherwise.
    ///
    /// # Panics
    /// As [`try_new`](AdamW::try_new) fails.
    #[track_caller]
    pub fn new(params: Vec<Parameter<T>>, lr: f64) -> Self {
        or_panic(Self::try_new(params, lr))
    }

    /// Fallible form of [`new`](AdamW::new).
    ///
    /// # Errors
    /// When `lr` is negative or not finite.
    pub fn try_new(params: Vec<Parameter<T>>, lr: f64) -> Result<Self, OptimError> {
        Ok(AdamW {
            core: Core::new("AdamW", params, lr, 0.01, true)?,
        })
    }
}

adam_variant!(AdamW);
