//! Weight initialisation schemes.
//!
//! With `fan_in` inputs and `fan_out` outputs per unit and a `gain` suited to the activation
//! ([`Activation::gain`]):
//!
//! | scheme | distribution |
//! |---|---|
//! | Xavier/Glorot uniform | `U(-b, b)`, `b = gain * sqrt(6 / (fan_in + fan_out))` |
//! | Xavier/Glorot normal | `N(0, s²)`, `s = gain * sqrt(2 / (fan_in + fan_out))` |
//! | Kaiming/He uniform | `U(-b, b)`, `b = gain * sqrt(3 / fan_in)` |
//! | Kaiming/He normal | `N(0, s²)`, `s = gain / sqrt(fan_in)` |
//! | PyTorch's `Linear` default | `U(-b, b)`, `b = 1 / sqrt(fan_in)`, for weight and bias |
//! | uniform, normal, zeros | as named |
//!
//! ```
//! use nn::init::{Fans, Init};
//! use rand::SeedableRng;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(1);
//! let fans = Fans { fan_in: 4, fan_out: 8 };
//! let w = Init::XavierUniform { gain: 1.0 }.sample::<f32>(&[4, 8], fans, &mut rng)?;
//! let bound = (6.0f32 / 12.0).sqrt();
//! assert!(w.to_vec().iter().all(|v| v.abs() <= bound));
//! # Ok::<(), tensor::TensorError>(())
//! ```

use tensor::{Element, Result, Tensor, TensorError};

use crate::activation::Activation;

/// The number of inputs and outputs each unit of a layer connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fans {
    /// Inputs per unit (a dense layer's input width).
    pub fan_in: usize,
    /// Outputs per unit (a dense layer's output width).
    pub fan_out: usize,
}

/// How to draw a parameter's initial values. See the [module docs](self) for the formulas.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Glorot & Bengio (2010), uniform.
    XavierUniform {
        /// Scale for the following activation.
        gain: f64,
    },
    /// Glorot & Bengio (2010), normal.
    XavierNormal {
        /// Scale for the following activation.
        gain: f64,
    },
    /// He et al. (2015), uniform, fan-in mode.
    KaimingUniform {
        /// Scale for the following activation (√2 for ReLU).
        gain: f64,
    },
    /// He et al. (2015), normal, fan-in mode.
    KaimingNormal {
        /// Scale for the following activation (√2 for ReLU).
        gain: f64,
    },
    /// PyTorch's `nn.Linear` default: `U(±1/√fan_in)`, also for the bias.
    PytorchLinear,
    /// `U(low, high)`.
    Uniform {
        /// Lower bound (included).
        low: f64,
        /// Upper bound (excluded).
        high: f64,
    },
    /// `N(mean, std²)`.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation, at least 0.
        std: f64,
    },
    /// All zeros.
    Zeros,
}

impl Init {
    /// The usual scheme for weights feeding `activation`: Xavier uniform for sigmoid, tanh
    /// and identity, Kaiming uniform for ReLU and the activations shaped like it (leaky ReLU,
    /// GELU, SiLU, softplus), each with the activation's gain.
    pub fn for_activation(activation: Activation) -> Self {
        let gain = activation.gain();
        match activation {
            Activation::Sigmoid | Activation::Tanh | Activation::Identity => {
                Init::XavierUniform { gain }
            }
            Activation::Relu
            | Activation::LeakyRelu { .. }
            | Activation::Gelu
            | Activation::GeluTanh
            | Activation::Silu
            | Activation::Softplus { .. } => Init::KaimingUniform { gain },
        }
    }

    /// A tensor of `shape` drawn from this scheme for a layer with `fans`.
    ///
    /// # Errors
    /// When a fan the scheme divides by is 0, a gain or standard deviation is negative or not
    /// finite, or `low < high` fails.
    pub fn sample<T: Element>(
        &self,
        shape: &[usize],
        fans: Fans,
        rng: &mut impl rand::Rng,
    ) -> Result<Tensor<T>> {
        let name = self.name();
        let check_gain = |gain: f64| {
            if gain.is_finite() && gain > 0.0 {
                Ok(gain)
            } else {
                Err(TensorError::InvalidArgument {
                    op: name,
                    message: format!("the gain must be finite and positive, got {gain}"),
                })
            }
        };
        let fan = |n: usize, which: &str| {
            if n == 0 {
                Err(TensorError::InvalidArgument {
                    op: name,
                    message: format!("{which} is 0 (a layer without inputs or outputs)"),
                })
            } else {
                Ok(n as f64)
            }
        };
        let uniform = |bound: f64, rng: &mut _| {
            Tensor::try_rand_uniform(shape, T::of_f64(-bound), T::of_f64(bound), rng)
        };
        let normal = |mean: f64, std: f64, rng: &mut _| {
            Tensor::try_randn(shape, T::of_f64(mean), T::of_f64(std), rng)
        };
        let fan_sum = fans.fan_in + fans.fan_out;
        match *self {
            Init::XavierUniform { gain } => {
                let bound = check_gain(gain)? * (6.0 / fan(fan_sum, "fan_in + fan_out")?).sqrt();
                uniform(bound, rng)
            }
            Init::XavierNormal { gain } => {
                let std = check_gain(gain)? * (2.0 / fan(fan_sum, "fan_in + fan_out")?).sqrt();
                normal(0.0, std, rng)
            }
            Init::KaimingUniform { gain } => {
                let bound = check_gain(gain)? * (3.0 / fan(fans.fan_in, "fan_in")?).sqrt();
                uniform(bound, rng)
            }
            Init::KaimingNormal { gain } => {
                let std = check_gain(gain)? / fan(fans.fan_in, "fan_in")?.sqrt();
                normal(0.0, std, rng)
            }
            Init::PytorchLinear => uniform(1.0 / fan(fans.fan_in, "fan_in")?.sqrt(), rng),
            Init::Uniform { low, high } => {
                Tensor::try_rand_uniform(shape, T::of_f64(low), T::of_f64(high), rng)
            }
            Init::Normal { mean, std } => normal(mean, std, rng),
            Init::Zeros => Tensor::try_full(shape, T::zero()),
        }
    }

    /// The scheme's name, as in error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Init::XavierUniform { .. } => "xavier_uniform",
            Init::XavierNormal { .. } => "xavier_normal",
            Init::KaimingUniform { .. } => "kaiming_uniform",
            Init::KaimingNormal { .. } => "kaiming_normal",
            Init::PytorchLinear => "pytorch_linear",
            Init::Uniform { .. } => "uniform",
            Init::Normal { .. } => "normal",
            Init::Zeros => "zeros",
        }
    }
}
