//! Batch normalisation, as PyTorch's `BatchNorm1d` and `BatchNorm2d`.
//!
//! In training mode each channel is normalised by the mean and the biased variance of the
//! batch (over the batch and every position), and the running statistics move towards the
//! batch's: `running = (1 − momentum) · running + momentum · batch`, with the unbiased
//! variance, or a cumulative average when the momentum is `None`. In evaluation mode the
//! running statistics normalise instead. Then `γ · x̂ + β` with a learnt `γ` (ones) and `β`
//! (zeros) unless the layer is made without them. The running statistics and the count of
//! batches are the module's buffers ([`Module::named_buffers`]): saved in checkpoints, not
//! trained.
//!
//! ```
//! use nn::{BatchNorm2d, Module};
//! use tensor::Tensor;
//! let bn = BatchNorm2d::<f64>::new(1);
//! let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 1, 1, 2])?;
//! let y = bn.forward(&x).to_vec();
//! // Mean 2.5, biased variance 1.25.
//! assert!((y[0] + 1.5 / (1.25f64 + 1e-5).sqrt()).abs() < 1e-12);
//! // The running mean moved a tenth of the way from 0 to 2.5.
//! assert!((bn.running_mean().unwrap().tensor().to_vec()[0] - 0.25).abs() < 1e-15);
//! # Ok::<(), tensor::TensorError>(())
//! ```

use std::sync::atomic::{AtomicBool, Ordering};

use tensor::{Element, Parameter, Result, Tensor, TensorError, no_grad};

use crate::module::Module;

/// The running statistics of a batch norm layer.
struct Running<T: Element> {
    mean: Parameter<T>,
    var: Parameter<T>,
    /// The batches seen in training, as a float so that it is saved with the rest; exact up
    /// to 2²⁴ batches in `f32`.
    batches: Parameter<T>,
}

/// What `BatchNorm1d` and `BatchNorm2d` share.
struct Norm<T: Element> {
    name: &'static str,
    ranks: &'static [usize],
    features: usize,
    eps: f64,
    momentum: Option<f64>,
    weight: Option<Parameter<T>>,
    bias: Option<Parameter<T>>,
    running: Option<Running<T>>,
    training: AtomicBool,
}

impl<T: Element> Norm<T> {
    fn new(name: &'static str, ranks: &'static [usize], features: usize) -> Self {
        Norm {
            name,
            ranks,
            features,
            eps: 1e-5,
            momentum: Some(0.1),
            weight: Some(Parameter::new(Tensor::ones(&[features]))),
            bias: Some(Parameter::new(Tensor::zeros(&[features]))),
            running: Some(Running {
                mean: Parameter::new(Tensor::zeros(&[features])),
                var: Parameter::new(Tensor::ones(&[features])),
                batches: Parameter::new(Tensor::zeros(&[])),
            }),
            training: AtomicBool::new(true),
        }
    }

    fn invalid(&self, message: String) -> TensorError {
        TensorError::InvalidArgument {
            op: self.name,
            message,
        }
    }

    /// A per-channel vector `[c]` shaped to broadcast against the input: `[1, c, 1, ..]`.
    fn per_channel(&self, v: &Tensor<T>, rank: usize) -> Result<Tensor<T>> {
        let mut shape = vec![1; rank];
        shape[1] = self.features;
        v.try_reshape(&shape)
    }

    /// The sum over every dimension but the channels', kept as size 1.
    fn channel_sums(x: &Tensor<T>) -> Result<Tensor<T>> {
        let mut s = x.clone();
        for d in (2..x.ndim()).rev() {
            s = s.try_sum_dim(d, true)?;
        }
        s.try_sum_dim(0, true)
    }

    fn forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        let rank = x.ndim();
        if !self.ranks.contains(&rank) || x.shape()[1] != self.features {
            let form = if self.ranks == [4] {
                "[batch, channels, height, width]"
            } else {
                "[batch, channels] or [batch, channels, length]"
            };
            return Err(self.invalid(format!(
                "expected an input {form} with {} channels, got shape {:?}",
                self.features,
                x.shape()
            )));
        }
        let count = x.numel() / self.features;
        let batch_stats = self.training.load(Ordering::Relaxed) || self.running.is_none();
        let (mean, var) = if batch_stats {
            if count < 2 {
                return Err(self.invalid(format!(
                    "a batch statistic needs more than 1 value per channel, got an input of \
                     shape {:?}",
                    x.shape()
                )));
            }
            let n = T::of_f64(count as f64);
            let mean = Self::channel_sums(x)?.try_div_scalar(n)?;
            let centered = x.try_sub(&mean)?;
            let var = Self::channel_sums(&centered.try_square()?)?.try_div_scalar(n)?;
            if self.training.load(Ordering::Relaxed) {
                self.track(&mean, &var, count);
            }
            (mean, var)
        } else {
            let running = self.running.as_ref().expect("internal: checked above");
            (
                self.per_channel(&running.mean.tensor(), rank)?,
                self.per_channel(&running.var.tensor(), rank)?,
            )
        };
        let scale = var
            .try_add_scalar(T::of_f64(self.eps))?
            .try_powf(T::of_f64(-0.5))?;
        let mut y = x.try_sub(&mean)?.try_mul(&scale)?;
        if let Some(w) = &self.weight {
            y = y.try_mul(&self.per_channel(&w.tensor(), rank)?)?;
        }
        if let Some(b) = &self.bias {
            y = y.try_add(&self.per_channel(&b.tensor(), rank)?)?;
        }
        Ok(y)
    }

    /// Moves the running statistics towards the batch's `mean` and biased `var` over
    /// `count` values per channel.
    fn track(&self, mean: &Tensor<T>, var: &Tensor<T>, count: usize) {
        let Some(running) = &self.running else {
            return;
        };
        let (mean, var) = no_grad(|| (mean.to_vec(), var.to_vec()));
        let mut batches = 0.0;
        running.batches.update(|b| {
            b[0] += T::one();
            batches = b[0].as_f64();
        });
        let factor = T::of_f64(self.momentum.unwrap_or(1.0 / batches));
        let keep = T::one() - factor;
        let unbiased = T::of_f64(count as f64 / (count - 1) as f64);
        running.mean.update(|m| {
            m.iter_mut()
                .zip(&mean)
                .for_each(|(m, &b)| *m = keep * *m + factor * b);
        });
        running.var.update(|v| {
            v.iter_mut()
                .zip(&var)
                .for_each(|(v, &b)| *v = keep * *v + factor * b * unbiased);
        });
    }

    fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
        [("weight", &self.weight), ("bias", &self.bias)]
            .into_iter()
            .filter_map(|(name, p)| p.clone().map(|p| (name.to_string(), p)))
            .collect()
    }

    fn named_buffers(&self) -> Vec<(String, Parameter<T>)> {
        self.running
            .iter()
            .flat_map(|r| {
                [
                    ("running_mean".to_string(), r.mean.clone()),
                    ("running_var".to_string(), r.var.clone()),
                    ("num_batches_tracked".to_string(), r.batches.clone()),
                ]
            })
            .collect()
    }
}

macro_rules! batch_norm {
    ($(#[$doc:meta])* $name:ident, $ranks:expr) => {
        $(#[$doc])*
        pub struct $name<T: Element = f32>(Norm<T>);

        impl<T: Element> $name<T> {
            /// A layer over `features` channels: eps 1e-5, momentum 0.1, affine, tracking
            /// running statistics, in training mode.
            pub fn new(features: usize) -> Self {
                $name(Norm::new(stringify!($name), $ranks, features))
            }

            /// With this `eps`, added to the variance.
            #[must_use]
            pub fn eps(mut self, eps: f64) -> Self {
                self.0.eps = eps;
                self
            }

            /// With this momentum for the running statistics; `None` for a cumulative
            /// average over the batches.
            #[must_use]
            pub fn momentum(mut self, momentum: Option<f64>) -> Self {
                self.0.momentum = momentum;
                self
            }

            /// Without the learnt scale and shift.
            #[must_use]
            pub fn without_affine(mut self) -> Self {
                self.0.weight = None;
                self.0.bias = None;
                self
            }

            /// Without running statistics: batch statistics in evaluation mode too.
            #[must_use]
            pub fn without_running_stats(mut self) -> Self {
                self.0.running = None;
                self
            }

            /// The channel count.
            pub fn features(&self) -> usize {
                self.0.features
            }

            /// The learnt scale `γ`, `[features]`.
            pub fn weight(&self) -> Option<&Parameter<T>> {
                self.0.weight.as_ref()
            }

            /// The learnt shift `β`, `[features]`.
            pub fn bias(&self) -> Option<&Parameter<T>> {
                self.0.bias.as_ref()
            }

            /// The running mean, `[features]`.
            pub fn running_mean(&self) -> Option<&Parameter<T>> {
                self.0.running.as_ref().map(|r| &r.mean)
            }

            /// The running (unbiased) variance, `[features]`.
            pub fn running_var(&self) -> Option<&Parameter<T>> {
                self.0.running.as_ref().map(|r| &r.var)
            }

            /// Whether the layer is in training mode.
            pub fn is_training(&self) -> bool {
                self.0.training.load(Ordering::Relaxed)
            }
        }

        impl<T: Element> Module<T> for $name<T> {
            fn try_forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
                self.0.forward(x)
            }

            fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
                self.0.named_parameters()
            }

            fn named_buffers(&self) -> Vec<(String, Parameter<T>)> {
                self.0.named_buffers()
            }

            fn set_training(&self, training: bool) {
                self.0.training.store(training, Ordering::Relaxed);
            }
        }
    };
}

batch_norm!(
    /// Batch normalisation of `[batch, channels]` or `[batch, channels, length]` inputs,
    /// per channel.
    BatchNorm1d,
    &[2, 3]
);

batch_norm!(
    /// Batch normalisation of `[batch, channels, height, width]` inputs, per channel.
    BatchNorm2d,
    &[4]
);
