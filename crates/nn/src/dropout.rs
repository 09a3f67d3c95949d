//! Dropout, as PyTorch's `Dropout`: in training mode each element is zeroed with
//! probability `p` and the others scaled by `1 / (1 - p)`; in evaluation mode it is the
//! identity.
//!
//! ```
//! use nn::{Dropout, Module};
//! use rand::SeedableRng;
//! use tensor::Tensor;
//! let dropout = Dropout::new(0.5, rand::rngs::StdRng::seed_from_u64(0));
//! let x = Tensor::<f32>::ones(&[1000]);
//! let y = dropout.forward(&x).to_vec();
//! assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
//! dropout.eval();
//! assert_eq!(dropout.forward(&x).to_vec(), x.to_vec());
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use rand::{Rng, RngExt};
use tensor::{Element, Parameter, Result, Tensor, TensorError};

use crate::module::Module;

/// Zeroes each element with probability `p` while training, drawing from the generator it
/// was given, so that a seeded generator gives the same masks run after run.
pub struct Dropout<R> {
    p: f64,
    rng: Mutex<R>,
    training: AtomicBool,
}

impl<R: Rng + Send> Dropout<R> {
    /// A dropout layer with drop probability `p`, drawing its masks from `rng`.
    ///
    /// # Panics
    /// As [`try_new`](Dropout::try_new) fails.
    #[track_caller]
    pub fn new(p: f64, rng: R) -> Self {
        Self::try_new(p, rng).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`new`](Dropout::new).
    ///
    /// # Errors
    /// When `p` is not in `[0, 1]`.
    pub fn try_new(p: f64, rng: R) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            return Err(TensorError::InvalidArgument {
                op: "dropout",
                message: format!("the drop probability must be in [0, 1], got {p}"),
            });
        }
        Ok(Dropout {
            p,
            rng: Mutex::new(rng),
            training: AtomicBool::new(true),
        })
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// Whether the layer is in training mode (it drops) rather than evaluation mode.
    pub fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }

    /// Training (`true`) or evaluation mode, as [`Module::set_training`]; inherent, so that
    /// a layer on its own is switched without naming the element type.
    pub fn set_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    /// Training mode, as [`Module::train`].
    pub fn train(&self) {
        self.set_training(true);
    }

    /// Evaluation mode, as [`Module::eval`]: the identity.
    pub fn eval(&self) {
        self.set_training(false);
    }
}

impl<T: Element, R: Rng + Send> Module<T> for Dropout<R> {
    fn try_forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        if !self.is_training() || self.p == 0.0 {
            return Ok(x.clone());
        }
        // With p = 1 every element is dropped, and no scale (an infinity) is ever applied.
        let keep = if self.p < 1.0 {
            T::of_f64(1.0 / (1.0 - self.p))
        } else {
            T::zero()
        };
        let mask: Vec<T> = {
            let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
            (0..x.numel())
                .map(|_| {
                    if rng.random::<f64>() < self.p {
                        T::zero()
                    } else {
                        keep
                    }
                })
                .collect()
        };
        x.try_mul(&Tensor::from_vec(mask, x.shape())?)
    }

    fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
        Vec::new()
    }

    fn set_training(&self, training: bool) {
        Dropout::set_training(self, training);
    }
}
