//! Learning-rate schedules, each the closed form PyTorch documents, as a pure function of the
//! epoch; [`LrScheduler`] applies one to an optimizer once per epoch.
//!
//! ```
//! use optim::{CosineAnnealingLr, LinearLr, LrScheduler, Optimizer, SequentialLr, Sgd};
//! use tensor::{Parameter, Tensor};
//! let w = Parameter::new(Tensor::<f32>::zeros(&[1]));
//! let mut opt = Sgd::new(vec![w], 0.1);
//! // 5 epochs of linear warm-up from 0.01 to 0.1, then cosine annealing over 20 epochs.
//! let warmup = LinearLr::new(0.1, 1.0, 5);
//! let cosine = CosineAnnealingLr::new(20, 0.0);
//! let schedule = SequentialLr::new(vec![Box::new(warmup), Box::new(cosine)], vec![5]);
//! let mut scheduler = LrScheduler::new(schedule, &mut opt);
//! assert!((opt.lr() - 0.01).abs() < 1e-12);
//! for _ in 0..5 {
//!     scheduler.step(&mut opt);
//! }
//! assert!((opt.lr() - 0.1).abs() < 1e-12); // the peak, where cosine starts
//! ```

use std::f64::consts::PI;

use tensor::Element;

use crate::optimizer::{OptimError, Optimizer, invalid, non_negative, or_panic};

/// A learning rate as a function of the epoch.
pub trait Schedule: Send + Sync {
    /// The learning rate at `epoch` (0 at the start) for a base rate `base_lr`.
    fn lr(&self, base_lr: f64, epoch: usize) -> f64;
}

impl<S: Schedule + ?Sized> Schedule for Box<S> {
    fn lr(&self, base_lr: f64, epoch: usize) -> f64 {
        (**self).lr(base_lr, epoch)
    }
}

fn positive_count(owner: &'static str, name: &'static str, n: usize) -> Result<usize, OptimError> {
    if n == 0 {
        Err(invalid(owner, name, "0 (expected at least 1)".into()))
    } else {
        Ok(n)
    }
}

/// `base_lr · gamma^⌊epoch / step_size⌋` (PyTorch's `StepLR`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepLr {
    step_size: usize,
    gamma: f64,
}

impl StepLr {
    /// Decays by `gamma` every `step_size` epochs.
    ///
    /// # Panics
    /// As [`try_new`](StepLr::try_new) fails.
    #[track_caller]
    pub fn new(step_size: usize, gamma: f64) -> Self {
        or_panic(Self::try_new(step_size, gamma))
    }

    /// Fallible form of [`new`](StepLr::new).
    ///
    /// # Errors
    /// When `step_size` is 0 or `gamma` is negative or not finite.
    pub fn try_new(step_size: usize, gamma: f64) -> Result<Self, OptimError> {
        Ok(StepLr {
            step_size: positive_count("StepLr", "step_size", step_size)?,
            gamma: non_negative("StepLr", "gamma", gamma)?,
        })
    }
}

impl Schedule for StepLr {
    fn lr(&self, base_lr: f64, epoch: usize) -> f64 {
        base_lr * self.gamma.powf((epoch / self.step_size) as f64)
    }
}

/// `base_lr · gamma^epoch` (PyTorch's `ExponentialLR`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExponentialLr {
    gamma: f64,
}

impl ExponentialLr {
    /// Decays by `gamma` every epoch.
    ///
    /// # Panics
    /// As [`try_new`](ExponentialLr::try_new) fails.
    #[track_caller]
    pub fn new(gamma: f64) -> Self {
        or_panic(Self::try_new(gamma))
    }

    /// Fallible form of [`new`](ExponentialLr::new).
    ///
    /// # Errors
    /// When `gamma` is negative or not finite.
    pub fn try_new(gamma: f64) -> Result<Self, OptimError> {
        Ok(ExponentialLr {
            gamma: non_negative("ExponentialLr", "gamma", gamma)?,
        })
    }
}

impl Schedule for ExponentialLr {
    fn lr(&self, base_lr: f64, epoch: usize) -> f64 {
        base_lr * self.gamma.powf(epoch as f64)
    }
}

/// `eta_min + (base_lr - eta_min) · (1 + cos(π · epoch / t_max)) / 2` (PyTorch's
/// `CosineAnnealingLR`, closed form): from `base_lr` at epoch 0 down to `eta_min` at `t_max`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CosineAnnealingLr {
    t_max: usize,
    eta_min: f64,
}

impl CosineAnnealingLr {
    /// Anneals over `t_max` epochs down to `eta_min`.
    ///
    /// # Panics
    /// As [`try_new`](CosineAnnealingLr::try_new) fails.
    #[track_caller]
    pub fn new(t_max: usize, eta_min: f64) -> Self {
        or_panic(Self::try_new(t_max, eta_min))
    }

    /// Fallible form of [`new`](CosineAnnealingLr::new).
    ///
    /// # Errors
    /// When `t_max` is 0 or `eta_min` is negative or not finite.
    pub fn try_new(t_max: usize, eta_min: f64) -> Result<Self, OptimError> {
        Ok(CosineAnnealingLr {
            t_max: positive_count("CosineAnnealingLr", "t_max", t_max)?,
            eta_min: non_negative("CosineAnnealingLr", "eta_min", eta_min)?,
        })
    }
}

impl Schedule for CosineAnnealingLr {
    fn lr(&self, base_lr: f64, epoch: usize) -> f64 {
        let phase = PI * epoch as f64 / self.t_max as f64;
        self.eta_min + (base_lr - self.eta_min) * (1.0 + phase.cos()) / 2.0
    }
}

/// `base_lr · (start + (end - start) · min(epoch, total_iters) / total_iters)` (PyTorch's
/// `LinearLR`); with `start < end = 1` it is a linear warm-up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearLr {
    start_factor: f64,
    end_factor: f64,
    total_iters: usize,
}

impl LinearLr {
    /// Moves the factor from `start_factor` to `end_factor` over `total_iters` epochs.
    ///
    /// # Panics
    /// As [`try_new`](LinearLr::try_new) fails.
    #[track_caller]
    pub fn new(start_factor: f64, end_factor: f64, total_iters: usize) -> Self {
        or_panic(Self::try_new(start_factor, end_factor, total_iters))
    }

    /// Fallible form of [`new`](LinearLr::new).
    ///
    /// # Errors
    /// As PyTorch: `start_factor` must lie in `(0, 1]`, `end_factor` in `[0, 1]`, and
    /// `total_iters` be at least 1.
    pub fn try_new(
        start_factor: f64,
        end_factor: f64,
        total_iters: usize,
    ) -> Result<Self, OptimError> {
        if !(start_factor > 0.0 && start_factor <= 1.0) {
            return Err(invalid(
                "LinearLr",
                "start_factor",
                format!("{start_factor} (expected 0 < start_factor <= 1)"),
            ));
        }
        if !(0.0..=1.0).contains(&end_factor) {
            return Err(invalid(
                "LinearLr",
                "end_factor",
                format!("{end_factor} (expected 0 <= end_factor <= 1)"),
            ));
        }
        Ok(LinearLr {
            start_factor,
            end_factor,
            total_iters: positive_count("LinearLr", "total_iters", total_iters)?,
        })
    }
}

impl Schedule for LinearLr {
    fn lr(&self, base_lr: f64, epoch: usize) -> f64 {
        let progress = epoch.min(self.total_iters) as f64 / self.total_iters as f64;
        base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)
    }
}

/// One schedule after another (PyTorch's `SequentialLR`): schedule `i` runs from milestone
/// `i - 1` on, counting its epochs from 0 there.
pub struct SequentialLr {
    schedules: Vec<Box<dyn Schedule>>,
    milestones: Vec<usize>,
}

impl SequentialLr {
    /// `schedules[0]` until `milestones[0]`, then `schedules[1]`, and so on.
    ///
    /// # Panics
    /// As [`try_new`](SequentialLr::try_new) fails.
    #[track_caller]
    pub fn new(schedules: Vec<Box<dyn Schedule>>, milestones: Vec<usize>) -> Self {
        or_panic(Self::try_new(schedules, milestones))
    }

    /// Fallible form of [`new`](SequentialLr::new).
    ///
    /// # Errors
    /// When there is not exactly one milestone fewer than schedules, or the milestones do not
    /// increase.
    pub fn try_new(
        schedules: Vec<Box<dyn Schedule>>,
        milestones: Vec<usize>,
    ) -> Result<Self, OptimError> {
        if schedules.is_empty() || milestones.len() + 1 != schedules.len() {
            return Err(invalid(
                "SequentialLr",
                "milestones",
                format!(
                    "{} milestones for {} schedules (expected one fewer)",
                    milestones.len(),
                    schedules.len()
                ),
            ));
        }
        if milestones.windows(2).any(|w| w[0] >= w[1]) {
            return Err(invalid(
                "SequentialLr",
                "milestones",
                format!("{milestones:?} (expected increasing)"),
            ));
        }
        Ok(SequentialLr {
            schedules,
            milestones,
        })
    }
}

impl Schedule for SequentialLr {
    fn lr(&self, base_lr: f64, epoch: usize) -> f64 {
        let index = self.milestones.partition_point(|&m| m <= epoch);
        let start = index.checked_sub(1).map_or(0, |i| self.milestones[i]);
        self.schedules[index].lr(base_lr, epoch - start)
    }
}

/// Schedules applied together (PyTorch's `ChainedScheduler`): the product of each one's
/// factor `lr(1, epoch)`, times `base_lr`. Exact for the multiplicative schedules (step,
/// exponential, linear) and for cosine annealing to 0.
pub struct ChainedLr {
    schedules: Vec<Box<dyn Schedule>>,
}

impl ChainedLr {
    /// The product of `schedules`.
    pub fn new(schedules: Vec<Box<dyn Schedule>>) -> Self {
        ChainedLr { schedules }
    }
}

impl Schedule for ChainedLr {
    fn lr(&self, base_lr: f64, epoch: usize) -> f64 {
        base_lr
            * self
                .schedules
                .iter()
                .map(|s| s.lr(1.0, epoch))
                .product::<f64>()
    }
}

/// Drives a [`Schedule`] over an optimizer: made at epoch 0 (setting the epoch-0 rate), then
/// [`step`](LrScheduler::step) once per epoch.
pub struct LrScheduler<S: Schedule> {
    schedule: S,
    base_lr: f64,
    epoch: usize,
}

impl<S: Schedule> LrScheduler<S> {
    /// Takes the optimizer's current learning rate as the base rate and sets the epoch-0
    /// rate.
    pub fn new<T: Element>(schedule: S, optimizer: &mut impl Optimizer<T>) -> Self {
        let base_lr = optimizer.lr();
        optimizer.set_lr(schedule.lr(base_lr, 0));
        LrScheduler {
            schedule,
            base_lr,
            epoch: 0,
        }
    }

    /// Advances one epoch and sets the optimizer's learning rate for it.
    pub fn step<T: Element>(&mut self, optimizer: &mut impl Optimizer<T>) {
        self.epoch += 1;
        optimizer.set_lr(self.lr());
    }

    /// The current epoch.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// The learning rate of the current epoch.
    pub fn lr(&self) -> f64 {
        self.schedule.lr(self.base_lr, self.epoch)
    }
}
