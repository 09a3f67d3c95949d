//! Constructors: from data, constant fills, ranges and seeded random draws.

use rand::RngExt;
use rand::distr::{Distribution, Uniform};

use crate::element::{Element, Scalar};
use crate::error::{Result, TensorError};
use crate::kernels::{self, Buf};
use crate::layout::Layout;
use crate::shape::checked_numel;
use crate::storage::Storage;
use crate::tensor::Tensor;

impl<T: Scalar> Tensor<T> {
    /// A tensor of `shape` holding `data` in row-major order.
    ///
    /// # Errors
    /// When `data.len()` is not the product of `shape`, or that product overflows.
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Result<Self> {
        let expected = checked_numel("from_vec", shape)?;
        if data.len() != expected {
            return Err(TensorError::DataLength {
                shape: shape.to_vec(),
                expected,
                actual: data.len(),
            });
        }
        Ok(Self::with_node(
            Storage::from_vec(data),
            Layout::contiguous(shape),
            T::untracked(),
        ))
    }

    /// A 1-D tensor holding a copy of `data`.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let batch = Tensor::<i64>::from_slice(&[4, 0, 2]);
    /// assert_eq!(batch.shape(), &[3]);
    /// ```
    pub fn from_slice(data: &[T]) -> Self {
        Self::with_node(
            Storage::from_vec(data.to_vec()),
            Layout::contiguous(&[data.len()]),
            T::untracked(),
        )
    }

    /// A rank-0 tensor holding `value`.
    pub fn scalar(value: T) -> Self {
        Self::constant(Buf::from_slice(&[value]), Layout::contiguous(&[]))
    }

    /// A tensor of `shape` with every element `value`.
    ///
    /// # Panics
    /// As [`try_full`](Tensor::try_full) fails.
    #[track_caller]
    pub fn full(shape: &[usize], value: T) -> Self {
        Self::try_full(shape, value).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A tensor of `shape` with every element `value`.
    ///
    /// # Errors
    /// When the element count overflows or cannot be allocated.
    pub fn try_full(shape: &[usize], value: T) -> Result<Self> {
        let len = checked_numel("full", shape)?;
        let mut data = kernels::buffer("full", len)?;
        data.resize(len, value);
        Ok(Self::constant(data, Layout::contiguous(shape)))
    }

    /// A tensor of zeros.
    ///
    /// # Panics
    /// As [`try_full`](Tensor::try_full) fails.
    #[track_caller]
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, T::zero())
    }

    /// A tensor of ones.
    ///
    /// # Panics
    /// As [`try_full`](Tensor::try_full) fails.
    #[track_caller]
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, T::one())
    }

    /// Zeros of this tensor's shape.
    pub fn zeros_like(&self) -> Self {
        self.full_like(T::zero())
    }

    /// Ones of this tensor's shape.
    pub fn ones_like(&self) -> Self {
        self.full_like(T::one())
    }

    /// `value` everywhere, in this tensor's shape.
    pub fn full_like(&self, value: T) -> Self {
        // This tensor's elements were allocated, so as many more fit in the address space;
        // only the allocator can refuse, which `full` reports.
        Self::full(self.shape(), value)
    }
}

impl Tensor<i64> {
    /// The integers `start, start + step, ..` below `end` (above it for a negative step).
    ///
    /// ```
    /// use tensor::Tensor;
    /// assert_eq!(Tensor::<i64>::arange(0, 7, 3).to_vec(), vec![0, 3, 6]);
    /// assert_eq!(Tensor::<i64>::arange(3, 0, -1).to_vec(), vec![3, 2, 1]);
    /// ```
    ///
    /// # Panics
    /// As [`try_arange`](Tensor::try_arange) fails.
    #[track_caller]
    pub fn arange(start: i64, end: i64, step: i64) -> Self {
        Self::try_arange(start, end, step).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`arange`](Tensor::arange).
    ///
    /// # Errors
    /// When `step` is zero or points away from `end`, or the result cannot be allocated.
    pub fn try_arange(start: i64, end: i64, step: i64) -> Result<Self> {
        let op = "arange";
        let span = i128::from(end) - i128::from(start);
        if step == 0 || span * i128::from(step) < 0 {
            return Err(TensorError::invalid(
                op,
                format!("step {step} does not lead from {start} to {end}"),
            ));
        }
        let step_size = i128::from(step).abs();
        let count = usize::try_from((span.abs() + step_size - 1) / step_size).map_err(|_| {
            TensorError::OutOfMemory {
                op,
                elements: usize::MAX,
            }
        })?;
        let mut data = kernels::buffer(op, count)?;
        // Every value lies between `start` and `end`, so none overflows.
        data.extend((0..count as i64).map(|i| start + i * step));
        Ok(Self::constant(data, Layout::contiguous(&[count])))
    }
}

impl<T: Element> Tensor<T> {
    /// `steps` evenly spaced values from `start` to `end`, both included (one value: `start`).
    ///
    /// The first half counts up from `start` and the second half down from `end`, as PyTorch
    /// does, so both ends are exact and the points are symmetric.
    ///
    /// # Panics
    /// As [`try_linspace`](Tensor::try_linspace) fails.
    #[track_caller]
    pub fn linspace(start: T, end: T, steps: usize) -> Self {
        Self::try_linspace(start, end, steps).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `steps` evenly spaced values from `start` to `end`, both included.
    ///
    /// # Errors
    /// When the result cannot be allocated.
    pub fn try_linspace(start: T, end: T, steps: usize) -> Result<Self> {
        let mut data = kernels::buffer("linspace", steps)?;
        if steps == 1 {
            data.push(start);
        } else if steps > 1 {
            let step = (end - start) / T::from_usize(steps - 1).unwrap_or_else(T::max_value);
            let half = steps / 2;
            data.extend((0..steps).map(|i| {
                let at = |k: usize| T::from_usize(k).unwrap_or_else(T::max_value);
                if i < half {
                    start + step * at(i)
                } else {
                    end - step * at(steps - 1 - i)
                }
            }));
        }
        Ok(Self::constant(data, Layout::contiguous(&[steps])))
    }

    /// The values `start, start + step, ..` below `end` (above it for a negative step).
    ///
    /// # Panics
    /// As [`try_arange`](Tensor::try_arange) fails.
    #[track_caller]
    pub fn arange(start: T, end: T, step: T) -> Self {
        Self::try_arange(start, end, step).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The values `start, start + step, ..` below `end` (above it for a negative step). Each
    /// value is `start + i * step`, so errors do not accumulate.
    ///
    /// # Errors
    /// When an argument is not finite, `step` is zero or points away from `end`, or the
    /// result cannot be allocated.
    pub fn try_arange(start: T, end: T, step: T) -> Result<Self> {
        let op = "arange";
        if !(start.is_finite() && end.is_finite() && step.is_finite()) {
            return Err(TensorError::invalid(
                op,
                format!("start {start}, end {end} and step {step} must be finite"),
            ));
        }
        if step == T::zero() || (end - start) * step < T::zero() {
            return Err(TensorError::invalid(
                op,
                format!("step {step} does not lead from {start} to {end}"),
            ));
        }
        let count = ((end - start) / step).ceil().as_f64();
        if count > usize::MAX as f64 {
            return Err(TensorError::OutOfMemory {
                op,
                elements: usize::MAX,
            });
        }
        let count = count as usize;
        let mut data = kernels::buffer(op, count)?;
        data.extend(
            (0..count).map(|i| start + step * T::from_usize(i).unwrap_or_else(T::max_value)),
        );
        Ok(Self::constant(data, Layout::contiguous(&[count])))
    }

    /// Independent samples from the uniform distribution on `[low, high)`.
    ///
    /// # Panics
    /// As [`try_rand_uniform`](Tensor::try_rand_uniform) fails.
    #[track_caller]
    pub fn rand_uniform(shape: &[usize], low: T, high: T, rng: &mut impl rand::Rng) -> Self {
        Self::try_rand_uniform(shape, low, high, rng).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Independent samples from the uniform distribution on `[low, high)`, drawn in row-major
    /// order, so a seeded generator gives the same tensor on every run.
    ///
    /// # Errors
    /// When `low < high` does not hold for finite bounds, or the shape overflows.
    pub fn try_rand_uniform(
        shape: &[usize],
        low: T,
        high: T,
        rng: &mut impl rand::Rng,
    ) -> Result<Self> {
        let op = "rand_uniform";
        let len = checked_numel(op, shape)?;
        let uniform = Uniform::new(low, high).map_err(|_| {
            TensorError::invalid(
                op,
                format!("needs finite bounds with low < high, got [{low}, {high})"),
            )
        })?;
        let mut data = kernels::buffer(op, len)?;
        data.extend((0..len).map(|_| uniform.sample(rng)));
        Ok(Self::constant(data, Layout::contiguous(shape)))
    }

    /// Independent samples from the normal distribution with `mean` and standard deviation
    /// `std`.
    ///
    /// # Panics
    /// As [`try_randn`](Tensor::try_randn) fails.
    #[track_caller]
    pub fn randn(shape: &[usize], mean: T, std: T, rng: &mut impl rand::Rng) -> Self {
        Self::try_randn(shape, mean, std, rng).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Independent normal samples, by the Box–Muller transform in `f64` (each pair of uniform
    /// draws gives two samples), in row-major order.
    ///
    /// # Errors
    /// When `mean` is not finite, `std` is negative or not finite, or the shape overflows.
    pub fn try_randn(shape: &[usize], mean: T, std: T, rng: &mut impl rand::Rng) -> Result<Self> {
        let op = "randn";
        if !mean.is_finite() || !std.is_finite() || std < T::zero() {
            return Err(TensorError::invalid(
                op,
                format!("needs a finite mean and a finite std >= 0, got mean {mean}, std {std}"),
            ));
        }
        let len = checked_numel(op, shape)?;
        let mut data = kernels::buffer(op, len)?;
        let (mean, std) = (mean.as_f64(), std.as_f64());
        while data.len() < len {
            // 1 - u lies in (0, 1], so the logarithm is finite.
            let radius = (-2.0 * (1.0 - rng.random::<f64>()).ln()).sqrt();
            let angle = std::f64::consts::TAU * rng.random::<f64>();
            data.push(T::of_f64(mean + std * radius * angle.cos()));
            if data.len() < len {
                data.push(T::of_f64(mean + std * radius * angle.sin()));
            }
        }
        Ok(Self::constant(data, Layout::contiguous(shape)))
    }
}
