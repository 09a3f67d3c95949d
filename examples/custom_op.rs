//! An op of one's own: softsign, `x / (1 + |x|)`, with its derivative `1 / (1 + |x|)²`
//! written by hand. It is checked by the testing kit against finite differences, first and
//! second order, then trained: a model `softsign(w x + b)` fitted to data made by
//! `softsign(2x - 1)` recovers `w = 2` and `b = -1`.
//!
//! ```sh
//! cargo run --release --example custom_op -- --epochs 1500
//! ```

mod support;

use std::error::Error;
use std::sync::Arc;

use rand::SeedableRng;
use rand::rngs::StdRng;
use surefire::prelude::*;
use surefire::tensor::testing::{assert_gradcheck, assert_gradgradcheck};
use surefire::tensor::{CustomOp, Result};

/// `x / (1 + |x|)`.
struct Softsign;

impl<T: Element> CustomOp<T> for Softsign {
    fn name(&self) -> &'static str {
        "softsign"
    }

    fn forward(&self, inputs: &[Tensor<T>]) -> Result<Tensor<T>> {
        let x = &inputs[0];
        x.try_div(&x.try_abs()?.try_add_scalar(T::one())?)
    }

    /// `g / (1 + |x|)²`, in tensor ops, so that it can be differentiated again.
    fn backward(
        &self,
        inputs: &[Tensor<T>],
        _output: &Tensor<T>,
        grad: &Tensor<T>,
    ) -> Result<Vec<Option<Tensor<T>>>> {
        let denominator = inputs[0]
            .try_abs()?
            .try_add_scalar(T::one())?
            .try_square()?;
        Ok(vec![Some(grad.try_div(&denominator)?)])
    }
}

fn softsign<T: Element>(x: &Tensor<T>) -> Result<Tensor<T>> {
    Tensor::try_custom(Arc::new(Softsign), std::slice::from_ref(x))
}

fn main() -> std::process::ExitCode {
    support::run(run)
}

fn run() -> std::result::Result<(), Box<dyn Error>> {
    let (epochs, seed) = parse_args()?;
    // The kit's checks, on points away from the kink of |x| at 0.
    let points = Tensor::<f64>::from_vec(vec![-2.0, -0.7, 0.3, 1.5], &[4])?;
    let op = |xs: &[Tensor<f64>]| softsign(&xs[0])?.try_square()?.try_sum();
    assert_gradcheck(op, std::slice::from_ref(&points));
    assert_gradgradcheck(op, std::slice::from_ref(&points));
    println!("softsign: first and second derivatives match finite differences");
    let slope: Vec<f64> = {
        let leaf = points.detach().require_grad();
        let grads = softsign(&leaf)?.sum().backward();
        grads.get(&leaf).expect("tracked").to_vec()
    };
    let closed: Vec<f64> = points
        .to_vec()
        .iter()
        .map(|x| 1.0 / (1.0 + x.abs()).powi(2))
        .collect();
    let worst = slope
        .iter()
        .zip(&closed)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    println!("derivative against 1 / (1 + |x|)²: largest difference {worst:.1e}");

    // Data from softsign(2x - 1); the model softsign(w x + b) starts at w = b = 0.
    let mut rng = StdRng::seed_from_u64(seed);
    let x = Tensor::<f64>::rand_uniform(&[256, 1], -3.0, 3.0, &mut rng);
    let y = softsign(&(&x * 2.0 - 1.0))?;
    let w = Parameter::new(Tensor::<f64>::zeros(&[1]));
    let b = Parameter::new(Tensor::<f64>::zeros(&[1]));
    let mut opt = Adam::new(vec![w.clone(), b.clone()], 0.05);
    for epoch in 0..=epochs {
        let prediction = softsign(&(&x * &w.tensor() + &b.tensor()))?;
        let loss = surefire::nn::mse_loss(&prediction, &y);
        if epoch % (epochs / 4).max(1) == 0 {
            println!("epoch {epoch:>4}  loss {:.3e}", loss.item());
        }
        if epoch < epochs {
            opt.step(&loss.backward());
        }
    }
    let (w, b) = (w.tensor().item(), b.tensor().item());
    println!("\nlearned w = {w:.5}, b = {b:.5} (the data's: w = 2, b = -1)");
    println!(
        "largest parameter error: {:.1e}",
        (w - 2.0).abs().max((b + 1.0).abs())
    );
    Ok(())
}

const USAGE: &str = "\
usage: custom_op [OPTIONS]

Checks a hand-written softsign op with the testing kit, then fits softsign(w x + b) to data
made with w = 2, b = -1.

options:
  --epochs N   full-batch Adam steps (default 1500)
  --seed N     seed of the data (default 3)
  -h, --help   this text";

/// `--epochs N` (default 1500) and `--seed N` (default 3).
fn parse_args() -> std::result::Result<(usize, u64), Box<dyn Error>> {
    support::epochs_and_seed(USAGE, 1500, 3)
}
