//! Pooling and flattening layers, as PyTorch's `MaxPool2d`, `AvgPool2d` and `Flatten`:
//! modules without parameters, for [`Sequential`](crate::Sequential) models.
//!
//! ```
//! use nn::{Flatten, MaxPool2d, Module, Sequential};
//! use tensor::{Pool2dParams, Tensor};
//! let model = Sequential::<f32>::new()
//!     .push(MaxPool2d::new(Pool2dParams::new(2)))
//!     .push(Flatten::new());
//! assert_eq!(model.forward(&Tensor::zeros(&[5, 3, 8, 8])).shape(), &[5, 48]);
//! ```

use tensor::{Element, Parameter, Pool2dParams, Result, Tensor, TensorError};

use crate::module::Module;

/// [`Tensor::max_pool2d`] as a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxPool2d {
    params: Pool2dParams,
}

impl MaxPool2d {
    /// Max pooling with these settings.
    pub fn new(params: Pool2dParams) -> Self {
        MaxPool2d { params }
    }

    /// Its settings.
    pub fn params(&self) -> Pool2dParams {
        self.params
    }
}

impl<T: Element> Module<T> for MaxPool2d {
    fn try_forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        x.try_max_pool2d(self.params)
    }

    fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
        Vec::new()
    }
}

/// [`Tensor::avg_pool2d`] as a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvgPool2d {
    params: Pool2dParams,
}

impl AvgPool2d {
    /// Average pooling with these settings.
    pub fn new(params: Pool2dParams) -> Self {
        AvgPool2d { params }
    }

    /// Its settings.
    pub fn params(&self) -> Pool2dParams {
        self.params
    }
}

impl<T: Element> Module<T> for AvgPool2d {
    fn try_forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        x.try_avg_pool2d(self.params)
    }

    fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
        Vec::new()
    }
}

/// Flattens the dimensions from `start` to `end` (inclusive; PyTorch's defaults 1 and -1:
/// everything but the batch) into one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flatten {
    start: isize,
    end: isize,
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten { start: 1, end: -1 }
    }
}

impl Flatten {
    /// Flattens all but the first (batch) dimension.
    pub fn new() -> Self {
        Self::default()
    }

    /// Flattens dimensions `start..=end`; negative values count from the end.
    pub fn dims(start: isize, end: isize) -> Self {
        Flatten { start, end }
    }
}

impl<T: Element> Module<T> for Flatten {
    fn try_forward(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        let rank = x.ndim() as isize;
        let resolve = |d: isize| if d < 0 { d + rank } else { d };
        let (start, end) = (resolve(self.start), resolve(self.end));
        if !(0 <= start && start <= end && end < rank.max(1)) {
            return Err(TensorError::InvalidArgument {
                op: "Flatten",
                message: format!(
                    "dimensions {}..={} do not lie in order inside the {rank} of an input of \
                     shape {:?}",
                    self.start,
                    self.end,
                    x.shape()
                ),
            });
        }
        if rank == 0 {
            return x.try_reshape(&[1]);
        }
        let (start, end) = (start as usize, end as usize);
        let s = x.shape();
        let shape: Vec<usize> = s[..start]
            .iter()
            .copied()
            .chain([s[start..=end].iter().product()])
            .chain(s[end + 1..].iter().copied())
            .collect();
        x.try_reshape(&shape)
    }

    fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
        Vec::new()
    }
}
