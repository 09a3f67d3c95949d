//! Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.

use std::collections::HashMap;

use tensor::{Element, Gradients, ParamId, Parameter};

use crate::optimizer::{OptimError, Optimizer, invalid, non_negative, or_panic, unit_interval};
use crate::pieces;

/// Stochastic gradient descent, following PyTorch's `torch.optim.SGD` exactly. For each
/// parameter `p` with gradient `g`, at step `t`:
///
/// ```text
/// g ← -g                          if maximize
/// g ← g + weight_decay · p        if weight_decay ≠ 0
/// if momentum ≠ 0:
///     b ← g                                        at t = 1 (no dampening on the first step)
///     b ← momentum · b + (1 - dampening) · g       afterwards
///     g ← g + momentum · b        if nesterov
///     g ← b                       otherwise
/// p ← p - lr · g
/// ```
///
/// Hyperparameters are checked when set: `lr` and `weight_decay` finite and `>= 0`,
/// `momentum` in `[0, 1)`, `dampening` in `[0, 1]`, and Nesterov needs `momentum > 0` and
/// `dampening = 0` (so set momentum and dampening before Nesterov). The `try_` builders
/// return the error; the plain ones panic with the same message.
///
/// ```
/// use optim::{Optimizer, Sgd};
/// use tensor::{Parameter, Tensor};
/// let w = Parameter::new(Tensor::<f64>::from_vec(vec![1.0, -2.0], &[2])?);
/// let mut opt = Sgd::new(vec![w.clone()], 0.1).momentum(0.9).nesterov(true);
/// let loss = w.tensor().square().sum(); // gradient 2w = [2, -4]
/// opt.step(&loss.backward());
/// // b = g = [2, -4]; g + 0.9 b = [3.8, -7.6]; w - 0.1 (3.8, -7.6)
/// let w_now = w.tensor().to_vec();
/// assert!((w_now[0] - 0.62).abs() < 1e-15 && (w_now[1] + 1.24).abs() < 1e-15);
/// # Ok::<(), tensor::TensorError>(())
/// ```
pub struct Sgd<T: Element = f32> {
    params: Vec<Parameter<T>>,
    lr: f64,
    momentum: f64,
    dampening: f64,
    nesterov: bool,
    weight_decay: f64,
    maximize: bool,
    /// Momentum buffers; a parameter has one once it has taken a step with momentum.
    buffers: HashMap<ParamId, Vec<T>>,
}

const NAME: &str = "Sgd";

impl<T: Element> Sgd<T> {
    /// Plain gradient descent on `params` with learning rate `lr`.
    ///
    /// # Panics
    /// As [`try_new`](Sgd::try_new) fails.
    #[track_caller]
    pub fn new(params: Vec<Parameter<T>>, lr: f64) -> Self {
        or_panic(Self::try_new(params, lr))
    }

    /// Fallible form of [`new`](Sgd::new).
    ///
    /// # Errors
    /// When `lr` is negative or not finite.
    pub fn try_new(params: Vec<Parameter<T>>, lr: f64) -> Result<Self, OptimError> {
        Ok(Sgd {
            params,
            lr: non_negative(NAME, "lr", lr)?,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            maximize: false,
            buffers: HashMap::new(),
        })
    }

    fn check_nesterov(self) -> Result<Self, OptimError> {
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(invalid(
                NAME,
                "nesterov",
                format!(
                    "Nesterov momentum needs momentum > 0 and dampening = 0, got momentum {} \
                     and dampening {} (set them before nesterov)",
                    self.momentum, self.dampening
                ),
            ));
        }
        Ok(self)
    }

    /// Sets the momentum factor, in `[0, 1)`.
    ///
    /// # Panics
    /// As [`try_momentum`](Sgd::try_momentum) fails.
    #[track_caller]
    #[must_use]
    pub fn momentum(self, momentum: f64) -> Self {
        or_panic(self.try_momentum(momentum))
    }

    /// Fallible form of [`momentum`](Sgd::momentum).
    ///
    /// # Errors
    /// When `momentum` is outside `[0, 1)`, or Nesterov is on and it becomes 0.
    pub fn try_momentum(mut self, momentum: f64) -> Result<Self, OptimError> {
        self.momentum = unit_interval(NAME, "momentum", momentum)?;
        self.check_nesterov()
    }

    /// Sets the dampening of the momentum, in `[0, 1]`.
    ///
    /// # Panics
    /// As [`try_dampening`](Sgd::try_dampening) fails.
    #[track_caller]
    #[must_use]
    pub fn dampening(self, dampening: f64) -> Self {
        or_panic(self.try_dampening(dampening))
    }

    /// Fallible form of [`dampening`](Sgd::dampening).
    ///
    /// # Errors
    /// When `dampening` is outside `[0, 1]`, or Nesterov is on and it is not 0.
    pub fn try_dampening(mut self, dampening: f64) -> Result<Self, OptimError> {
        if !(0.0..=1.0).contains(&dampening) {
            return Err(invalid(
                NAME,
                "dampening",
                format!("{dampening} (expected 0 <= dampening <= 1)"),
            ));
        }
        self.dampening = dampening;
        self.check_nesterov()
    }

    /// Switches Nesterov momentum on or off.
    ///
    /// # Panics
    /// As [`try_nesterov`](Sgd::try_nesterov) fails.
    #[track_caller]
    #[must_use]
    pub fn nesterov(self, nesterov: bool) -> Self {
        or_panic(self.try_nesterov(nesterov))
    }

    /// Fallible form of [`nesterov`](Sgd::nesterov).
    ///
    /// # Errors
    /// When switching on without momentum, or with dampening.
    pub fn try_nesterov(mut self, nesterov: bool) -> Result<Self, OptimError> {
        self.nesterov = nesterov;
        self.check_nesterov()
    }

    /// Sets the L2 penalty added to the gradient, `>= 0`.
    ///
    /// # Panics
    /// As [`try_weight_decay`](Sgd::try_weight_decay) fails.
    #[track_caller]
    #[must_use]
    pub fn weight_decay(self, weight_decay: f64) -> Self {
        or_panic(self.try_weight_decay(weight_decay))
    }

    /// Fallible form of [`weight_decay`](Sgd::weight_decay).
    ///
    /// # Errors
    /// When `weight_decay` is negative or not finite.
    pub fn try_weight_decay(mut self, weight_decay: f64) -> Result<Self, OptimError> {
        self.weight_decay = non_negative(NAME, "weight_decay", weight_decay)?;
        Ok(self)
    }

    /// Ascends the objective instead of descending it.
    #[must_use]
    pub fn maximize(mut self, maximize: bool) -> Self {
        self.maximize = maximize;
        self
    }
}

/// The per-element SGD update with the hyperparameters cast to the element type.
#[derive(Clone, Copy)]
struct Update<T> {
    lr: T,
    weight_decay: T,
    momentum: T,
    keep: T,
    nesterov: bool,
    maximize: bool,
}

impl<T: Element> Update<T> {
    /// The gradient with the sign for maximising and the weight decay applied.
    #[inline(always)]
    fn direction(self, w: T, g: T) -> T {
        let g = if self.maximize { -g } else { g };
        if self.weight_decay != T::zero() {
            g + self.weight_decay * w
        } else {
            g
        }
    }

    #[inline(always)]
    fn plain(self, w: &mut T, g: T) {
        *w -= self.lr * self.direction(*w, g);
    }

    #[inline(always)]
    fn with_momentum(self, w: &mut T, g: T, b: &mut T, first: bool) {
        let d = self.direction(*w, g);
        *b = if first {
            d
        } else {
            self.momentum * *b + self.keep * d
        };
        *w -= self.lr
            * if self.nesterov {
                d + self.momentum * *b
            } else {
                *b
            };
    }
}

impl<T: Element> Optimizer<T> for Sgd<T> {
    /// # Panics
    /// When a gradient's shape differs from its parameter's (only possible through
    /// [`Gradients::insert`]).
    fn step(&mut self, grads: &Gradients<T>) {
        let update = Update {
            lr: T::of_f64(self.lr),
            weight_decay: T::of_f64(self.weight_decay),
            momentum: T::of_f64(self.momentum),
            keep: T::of_f64(1.0 - self.dampening),
            nesterov: self.nesterov,
            maximize: self.maximize,
        };
        let use_momentum = self.momentum != 0.0;
        for param in &self.params {
            let Some(grad) = grads.get(param) else {
                continue;
            };
            check_shape(NAME, param, grad);
            let mut buffer = use_momentum.then(|| self.buffers.entry(param.id()).or_default());
            param.update(|w| {
                // Contiguous gradients (the usual case) take slice loops the compiler
                // vectorises; others are read through their layout.
                match (buffer.as_mut(), grad.as_slice()) {
                    (None, Some(g)) => pieces::zip2(w, g, &|w, g| {
                        w.iter_mut().zip(g).for_each(|(w, &g)| update.plain(w, g));
                    }),
                    (None, None) => grad.for_each_value(|i, g| update.plain(&mut w[i], g)),
                    (Some(b), g) => {
                        // The first step with momentum copies the gradient into the buffer.
                        let first = b.len() != w.len();
                        b.resize(w.len(), T::zero());
                        match g {
                            Some(g) => pieces::zip3(w, g, b, &|w, g, b| {
                                w.iter_mut()
                                    .zip(g)
                                    .zip(b)
                                    .for_each(|((w, &g), b)| update.with_momentum(w, g, b, first));
                            }),
                            None => grad.for_each_value(|i, g| {
                                update.with_momentum(&mut w[i], g, &mut b[i], first)
                            }),
                        }
                    }
                }
            });
        }
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = or_panic(non_negative(NAME, "lr", lr));
    }

    fn parameters(&self) -> &[Parameter<T>] {
        &self.params
    }
}

/// Panics when a gradient does not have its parameter's shape. Allocates nothing unless it
/// panics: it runs inside every step.
pub(crate) fn check_shape<T: Element>(owner: &str, param: &Parameter<T>, grad: &tensor::Tensor<T>) {
    if !param.has_shape(grad.shape()) {
        panic!(
            "{owner}: the gradient of parameter {} has shape {:?} but the parameter has shape {:?}",
            param.id().get(),
            grad.shape(),
            param.shape()
        );
    }
}
