//! Finite-difference checks of gradients: [`gradcheck`] for first derivatives and
//! [`gradgradcheck`] for second derivatives, both in `f64` with central differences.
//!
//! ```
//! use tensor::{Tensor, gradcheck, GradcheckOptions};
//! let x = Tensor::<f64>::from_vec(vec![0.3, -1.2, 2.0], &[3])?;
//! // f(x) = sum(sigmoid(x) * x)
//! gradcheck(|xs| (xs[0].sigmoid() * &xs[0]).try_sum(), &[x], &GradcheckOptions::default())
//!     .expect("sigmoid's gradient matches finite differences");
//! # Ok::<(), tensor::TensorError>(())
//! ```

use std::fmt;

use crate::backprop::BackwardOptions;
use crate::error::{Result, TensorError};
use crate::mode::enable_grad;
use crate::tensor::Tensor;

/// How thoroughly [`gradcheck`] compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GradcheckMode {
    /// Every element of the Jacobian: one backward pass per output element and two forward
    /// passes per input element.
    Full,
    /// One random direction `v` through the inputs and one random weighting `u` of the output
    /// (as JAX's `check_grads`): compares `uᵀ J v` from one backward pass with its central
    /// difference. Cheap for large inputs; a wrong element is still caught with probability
    /// one.
    Fast {
        /// Seed of the random directions.
        seed: u64,
    },
}

/// Step and tolerances of a check. An element passes when
/// `|analytic - numeric| <= atol + rtol * |numeric|`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradcheckOptions {
    /// The finite-difference step `h`: `(f(x + h) - f(x - h)) / 2h`.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// Full Jacobian or one random direction.
    pub mode: GradcheckMode,
}

impl Default for GradcheckOptions {
    /// PyTorch's defaults: `eps = 1e-6`, `atol = 1e-5`, `rtol = 1e-3`, full mode.
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
            mode: GradcheckMode::Full,
        }
    }
}

/// Why a check failed.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum GradcheckError {
    /// An analytic derivative differs from its finite difference.
    Mismatch {
        /// 1 for [`gradcheck`], 2 for [`gradgradcheck`].
        order: u8,
        /// Which input (index into the inputs slice); `None` in fast mode, where all inputs
        /// move together.
        input: Option<usize>,
        /// The input element perturbed; `None` in fast mode.
        element: Option<Vec<usize>>,
        /// The output element differentiated; `None` in fast mode.
        output: Option<Vec<usize>>,
        /// The derivative backward computed.
        analytic: f64,
        /// The central difference.
        numeric: f64,
    },
    /// The function itself failed.
    Function(TensorError),
}

impl fmt::Display for GradcheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GradcheckError::Mismatch {
                order,
                input,
                element,
                output,
                analytic,
                numeric,
            } => {
                let what = if *order == 1 {
                    "gradient"
                } else {
                    "second derivative"
                };
                match (input, element, output) {
                    (Some(input), Some(element), Some(output)) => write!(
                        f,
                        "{what} mismatch for input {input} at element {element:?} (output \
                         element {output:?}): analytic {analytic}, numeric {numeric}"
                    ),
                    _ => write!(
                        f,
                        "{what} mismatch along a random direction: analytic {analytic}, \
                         numeric {numeric}"
                    ),
                }
            }
            GradcheckError::Function(e) => write!(f, "the checked function failed: {e}"),
        }
    }
}

impl std::error::Error for GradcheckError {}

impl From<TensorError> for GradcheckError {
    fn from(e: TensorError) -> Self {
        GradcheckError::Function(e)
    }
}

/// Checks the gradients of `f` at `inputs` against central finite differences in `f64`.
///
/// `f` receives leaves that require grad, with the values of `inputs`; its output may have
/// any shape.
///
/// # Errors
/// The first mismatch, naming the input, the element, and both values; or the function's own
/// error.
pub fn gradcheck(
    f: impl Fn(&[Tensor<f64>]) -> Result<Tensor<f64>>,
    inputs: &[Tensor<f64>],
    options: &GradcheckOptions,
) -> std::result::Result<(), GradcheckError> {
    enable_grad(|| check(&f, inputs, options, 1))
}

/// Checks the second derivatives of `f` at `inputs`: the vector-Jacobian product
/// `uᵀ J(x)` computed with [`backward_with_create_graph`](Tensor::backward_with_create_graph)
/// for a fixed random `u` must itself pass [`gradcheck`] with respect to the inputs and `u`.
///
/// # Errors
/// As [`gradcheck`], with `order` 2 in a mismatch.
pub fn gradgradcheck(
    f: impl Fn(&[Tensor<f64>]) -> Result<Tensor<f64>>,
    inputs: &[Tensor<f64>],
    options: &GradcheckOptions,
) -> std::result::Result<(), GradcheckError> {
    enable_grad(|| {
        let leaves = leaves_of(inputs);
        let output_shape = f(&leaves)?.shape().to_vec();
        let mut rng = SplitMix64(0x5EED_6A4D);
        let numel: usize = output_shape.iter().product();
        let u = Tensor::from_vec(rng.vector(numel), &output_shape)?;
        let mut all = inputs.to_vec();
        all.push(u);
        let vjp = |xs: &[Tensor<f64>]| -> Result<Tensor<f64>> {
            let (xs, u) = xs.split_at(xs.len() - 1);
            let y = f(xs)?;
            let grads = if y.requires_grad() {
                Some(y.try_backward_with_create_graph(&u[0])?)
            } else {
                None
            };
            let flat = xs
                .iter()
                .map(|x| match grads.as_ref().and_then(|g| g.get(x)) {
                    Some(g) => g.try_flatten(),
                    None => Ok(Tensor::zeros(&[x.numel()])),
                })
                .collect::<Result<Vec<_>>>()?;
            if flat.is_empty() {
                return Ok(Tensor::zeros(&[0]));
            }
            Tensor::try_concat(&flat, 0usize)
        };
        check(&vjp, &all, options, 2)
    })
}

/// The functions the checkers differentiate.
trait Function: Fn(&[Tensor<f64>]) -> Result<Tensor<f64>> {}

impl<F: Fn(&[Tensor<f64>]) -> Result<Tensor<f64>>> Function for F {}

/// Fresh leaves requiring grad with the values of `inputs`.
fn leaves_of(inputs: &[Tensor<f64>]) -> Vec<Tensor<f64>> {
    inputs.iter().map(|x| x.detach().require_grad()).collect()
}

fn check<F: Function>(
    f: &F,
    inputs: &[Tensor<f64>],
    options: &GradcheckOptions,
    order: u8,
) -> std::result::Result<(), GradcheckError> {
    match options.mode {
        GradcheckMode::Full => check_full(f, inputs, options, order),
        GradcheckMode::Fast { seed } => check_fast(f, inputs, options, order, seed),
    }
}

fn close(analytic: f64, numeric: f64, options: &GradcheckOptions) -> bool {
    (analytic - numeric).abs() <= options.atol + options.rtol * numeric.abs()
}

/// `f` at `inputs` with element `element` of input `which` moved by `delta`.
fn perturbed<F: Function>(
    f: &F,
    inputs: &[Tensor<f64>],
    which: usize,
    element: usize,
    delta: f64,
) -> Result<Vec<f64>> {
    let mut moved = inputs.to_vec();
    let mut data = inputs[which].to_vec();
    data[element] += delta;
    moved[which] = Tensor::from_vec(data, inputs[which].shape())?;
    Ok(f(&leaves_of(&moved))?.to_vec())
}

/// The multi-index of row-major position `flat` in `shape`.
fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (slot, &dim) in index.iter_mut().zip(shape).rev() {
        *slot = flat % dim;
        flat /= dim;
    }
    index
}

fn check_full<F: Function>(
    f: &F,
    inputs: &[Tensor<f64>],
    options: &GradcheckOptions,
    order: u8,
) -> std::result::Result<(), GradcheckError> {
    let leaves = leaves_of(inputs);
    let y = f(&leaves)?;
    let out_shape = y.shape().to_vec();
    let n_out = y.numel();
    // jacobian[i][o * n_i + j] = d y[o] / d x_i[j], by one backward pass per output element.
    let mut jacobian: Vec<Vec<f64>> = inputs
        .iter()
        .map(|x| vec![0.0; n_out * x.numel()])
        .collect();
    if y.requires_grad() {
        for o in 0..n_out {
            let mut seed = vec![0.0; n_out];
            seed[o] = 1.0;
            // The graph is kept for the next output element's pass.
            let keep = BackwardOptions::new().retain_graph(o + 1 < n_out);
            let seed = Tensor::from_vec(seed, &out_shape)?;
            let grads = y.try_backward_with_options(Some(&seed), keep)?;
            for (i, x) in leaves.iter().enumerate() {
                if let Some(g) = grads.get(x) {
                    let n_i = x.numel();
                    jacobian[i][o * n_i..(o + 1) * n_i].copy_from_slice(&g.to_vec());
                }
            }
        }
    }
    let h = options.eps;
    for (i, x) in inputs.iter().enumerate() {
        let n_i = x.numel();
        for j in 0..n_i {
            let plus = perturbed(f, inputs, i, j, h)?;
            let minus = perturbed(f, inputs, i, j, -h)?;
            for o in 0..n_out {
                let numeric = (plus[o] - minus[o]) / (2.0 * h);
                let analytic = jacobian[i][o * n_i + j];
                if !close(analytic, numeric, options) {
                    return Err(GradcheckError::Mismatch {
                        order,
                        input: Some(i),
                        element: Some(unravel(j, x.shape())),
                        output: Some(unravel(o, &out_shape)),
                        analytic,
                        numeric,
                    });
                }
            }
        }
    }
    Ok(())
}

fn check_fast<F: Function>(
    f: &F,
    inputs: &[Tensor<f64>],
    options: &GradcheckOptions,
    order: u8,
    seed: u64,
) -> std::result::Result<(), GradcheckError> {
    let mut rng = SplitMix64(seed);
    let leaves = leaves_of(inputs);
    let y = f(&leaves)?;
    let u = rng.vector(y.numel());
    let directions: Vec<Vec<f64>> = inputs.iter().map(|x| rng.vector(x.numel())).collect();
    // Analytic: (Jᵀ u) · v, from one vector-Jacobian product.
    let mut analytic = 0.0;
    if y.requires_grad() {
        let grads = y.try_backward_with(&Tensor::from_vec(u.clone(), y.shape())?)?;
        for ((x, v), leaf) in inputs.iter().zip(&directions).zip(&leaves) {
            if let Some(g) = grads.get(leaf) {
                analytic += g.to_vec().iter().zip(v).map(|(a, b)| a * b).sum::<f64>();
            }
            debug_assert_eq!(x.numel(), v.len());
        }
    }
    // Numeric: (u · f(x + h v) - u · f(x - h v)) / 2h.
    let h = options.eps;
    let along = |sign: f64| -> Result<f64> {
        let moved = inputs
            .iter()
            .zip(&directions)
            .map(|(x, v)| {
                let data = x
                    .to_vec()
                    .iter()
                    .zip(v)
                    .map(|(a, d)| a + sign * h * d)
                    .collect();
                Tensor::from_vec(data, x.shape())
            })
            .collect::<Result<Vec<_>>>()?;
        let out = f(&leaves_of(&moved))?.to_vec();
        Ok(out.iter().zip(&u).map(|(a, b)| a * b).sum())
    };
    let numeric = (along(1.0)? - along(-1.0)?) / (2.0 * h);
    if close(analytic, numeric, options) {
        Ok(())
    } else {
        Err(GradcheckError::Mismatch {
            order,
            input: None,
            element: None,
            output: None,
            analytic,
            numeric,
        })
    }
}

/// A small deterministic generator for the random directions (SplitMix64), so the checker
/// needs no seeded generator from its caller.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    fn vector(&mut self, len: usize) -> Vec<f64> {
        (0..len).map(|_| self.uniform()).collect()
    }
}
