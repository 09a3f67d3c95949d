//! [`Embedding`]: a table of learned vectors looked up by integer ids (PyTorch's
//! `nn.Embedding`).
//!
//! ```
//! use nn::{Embedding, Module};
//! use rand::SeedableRng;
//! use tensor::Tensor;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let embed = Embedding::<f32>::new(65, 16, &mut rng); // 65 tokens, 16 numbers each
//! let ids = Tensor::<i64>::from_vec(vec![3, 1, 4, 1, 5, 9], &[2, 3])?; // [batch, sequence]
//! let vectors = embed.forward(&ids);
//! assert_eq!(vectors.shape(), &[2, 3, 16]);
//! // Equal ids give equal rows: id 1 is at [0, 1] and at [1, 0].
//! assert_eq!(vectors.narrow(0, 0, 1).narrow(1, 1, 1).to_vec(), vectors.narrow(0, 1, 1).narrow(1, 0, 1).to_vec());
//! # Ok::<(), tensor::TensorError>(())
//! ```

use tensor::{Element, Parameter, Result, Tensor, TensorError};

use crate::init::{Fans, Init};
use crate::module::Module;

/// A `[count, width]` weight whose row `i` is the vector of id `i`: the forward pass of ids
/// of any shape `[..]` is `[.., width]`, the rows at the ids. Its gradient adds each output
/// vector's gradient into the row it came from (an `index_select`, whose derivative is an
/// `index_add`), so ids that repeat accumulate.
#[derive(Debug)]
pub struct Embedding<T: Element = f32> {
    weight: Parameter<T>,
}

impl<T: Element> Embedding<T> {
    /// `count` vectors of `width`, drawn from `N(0, 1)` as PyTorch draws them.
    ///
    /// # Panics
    /// As [`try_new`](Embedding::try_new) fails.
    #[track_caller]
    pub fn new(count: usize, width: usize, rng: &mut impl rand::Rng) -> Self {
        Self::try_new(
            count,
            width,
            Init::Normal {
                mean: 0.0,
                std: 1.0,
            },
            rng,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// `count` vectors of `width` drawn from `init` (fans: `width` in, `count` out).
    ///
    /// # Errors
    /// When `count` or `width` is 0, or `init` refuses its parameters.
    pub fn try_new(
        count: usize,
        width: usize,
        init: Init,
        rng: &mut impl rand::Rng,
    ) -> Result<Self> {
        if count == 0 || width == 0 {
            return Err(TensorError::InvalidArgument {
                op: "Embedding",
                message: format!(
                    "needs at least one vector and one number each, got {count} × {width}"
                ),
            });
        }
        let fans = Fans {
            fan_in: width,
            fan_out: count,
        };
        let weight = init.sample(&[count, width], fans, rng)?;
        Ok(Embedding {
            weight: Parameter::new(weight),
        })
    }

    /// An embedding over a given `[count, width]` table (pretrained vectors, say).
    ///
    /// # Errors
    /// When `weight` is not 2-D.
    pub fn from_weight(weight: Tensor<T>) -> Result<Self> {
        if weight.ndim() != 2 {
            return Err(TensorError::InvalidArgument {
                op: "Embedding",
                message: format!(
                    "the weight must be [count, width], got {:?}",
                    weight.shape()
                ),
            });
        }
        Ok(Embedding {
            weight: Parameter::new(weight.detach()),
        })
    }

    /// The number of vectors: ids run over `0..count`.
    pub fn count(&self) -> usize {
        self.weight.shape()[0]
    }

    /// The length of each vector.
    pub fn width(&self) -> usize {
        self.weight.shape()[1]
    }

    /// The `[count, width]` table.
    pub fn weight(&self) -> &Parameter<T> {
        &self.weight
    }
}

impl<T: Element> Module<T, Tensor<i64>> for Embedding<T> {
    /// The rows of the table at `ids` (any shape), shaped `[.., width]`.
    ///
    /// # Errors
    /// When an id is negative or not below [`count`](Embedding::count) (the error names it),
    /// or memory runs out.
    fn try_forward(&self, ids: &Tensor<i64>) -> Result<Tensor<T>> {
        let mut shape = ids.shape().to_vec();
        shape.push(self.width());
        self.weight
            .tensor()
            .try_index_select(0, &ids.try_flatten()?)
            .map_err(|e| match e {
                TensorError::IndexOutOfRange {
                    index, size, dim, ..
                } => TensorError::IndexOutOfRange {
                    op: "Embedding",
                    dim,
                    index,
                    size,
                },
                other => other,
            })?
            .try_reshape(&shape)
    }

    fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
        vec![("weight".into(), self.weight.clone())]
    }
}
