//! A physics-informed network: a small MLP `u(x)` is fitted to the ODE `u'' + u = 0` on
//! `[0, π]` with `u(0) = 0` and `u'(0) = 1`, whose solution is `sin x`, through a loss on its
//! own first and second derivatives in its input. No value of the solution is ever shown to
//! it: it learns `sin` from the equation alone, which takes second derivatives through the
//! network and a third pass for the parameters' gradients.
//!
//! ```sh
//! cargo run --release --example physics_informed -- --steps 3000 --seed 1
//! ```

mod support;

use std::error::Error;
use std::f64::consts::PI;

use rand::SeedableRng;
use rand::rngs::StdRng;
use surefire::optim::{CosineAnnealingLr, LrScheduler};
use surefire::prelude::*;
use surefire::tensor::func;

fn main() -> std::process::ExitCode {
    support::run(run)
}

/// `u` and its first two derivatives at the points `x: [n, 1]`, recorded as functions of the
/// network's parameters. Each `u(xᵢ)` depends on `xᵢ` alone, so the gradient of `Σ u` in `x`
/// is `u'` at every point, and that of `Σ u'` is `u''`.
fn derivatives(
    model: &Sequential<f64>,
    x: &Tensor<f64>,
) -> surefire::tensor::Result<[Tensor<f64>; 3]> {
    let u = |xs: &[Tensor<f64>]| model.try_forward(&xs[0])?.try_sum();
    let du = |xs: &[Tensor<f64>]| func::grad(u, xs)?.remove(0).try_sum();
    let points = std::slice::from_ref(x);
    Ok([
        model.try_forward(x)?,
        func::grad(u, points)?.remove(0),
        func::grad(du, points)?.remove(0),
    ])
}

fn run() -> Result<(), Box<dyn Error>> {
    let (steps, seed) = parse_args()?;
    let mut rng = StdRng::seed_from_u64(seed);
    let model = Sequential::<f64>::new()
        .push(Dense::new(1, 24, Activation::Tanh, &mut rng))
        .push(Dense::new(24, 24, Activation::Tanh, &mut rng))
        .push(Dense::new(24, 1, Activation::Identity, &mut rng));
    let mut opt = Adam::new(model.parameters(), 0.01);
    // Annealed to 0 over the run: at a constant rate Adam keeps bouncing around the minimum.
    let mut schedule = LrScheduler::new(CosineAnnealingLr::new(steps, 0.0), &mut opt);
    // Collocation points across [0, π], as a leaf so that derivatives in x can be taken.
    let n = 48;
    let points: Vec<f64> = (0..n).map(|i| PI * i as f64 / (n - 1) as f64).collect();
    let x = Tensor::from_vec(points, &[n, 1])?.require_grad();
    let origin = Tensor::<f64>::zeros(&[1, 1]).require_grad();
    for step in 0..=steps {
        let [u, _, d2u] = derivatives(&model, &x)?;
        let [u0, du0, _] = derivatives(&model, &origin)?;
        // The equation's residual at every point, and the two initial conditions.
        let residual = d2u.try_add(&u)?.try_square()?.try_mean()?;
        let start = u0.try_square()?.try_sum()?;
        let slope = du0.try_sub(&Tensor::scalar(1.0))?.try_square()?.try_sum()?;
        let loss = residual.try_add(&start)?.try_add(&slope)?;
        if step % (steps / 5).max(1) == 0 {
            println!("step {step:>5}  loss {:.3e}", loss.item());
        }
        if step < steps {
            let grads = loss.backward();
            opt.step(&grads);
            schedule.step(&mut opt);
        }
    }

    // Against the closed form, on a grid finer than the collocation points.
    let grid: Vec<f64> = (0..=200).map(|i| PI * f64::from(i) / 200.0).collect();
    let predicted = no_grad(|| model.forward(&Tensor::from_vec(grid.clone(), &[201, 1]).unwrap()));
    let error = predicted
        .to_vec()
        .iter()
        .zip(&grid)
        .map(|(u, x)| (u - x.sin()).abs())
        .fold(0.0, f64::max);
    let u_half = predicted.to_vec()[100];
    println!("\nu(π/2) = {u_half:.5} (sin(π/2) = 1)");
    println!("max |u(x) - sin(x)| on [0, π]: {error:.2e}");
    Ok(())
}

const USAGE: &str = "\
usage: physics_informed [OPTIONS]

Fits a 1-24-24-1 tanh network to u'' + u = 0, u(0) = 0, u'(0) = 1 on [0, π] (solution: sin x)
through a loss on its own derivatives, then compares it with sin.

options:
  --steps N    Adam steps (default 3000)
  --seed N     seed of the weights (default 1)
  -h, --help   this text";

/// `--steps N` (default 3000) and `--seed N` (default 1).
fn parse_args() -> Result<(usize, u64), Box<dyn Error>> {
    support::count_and_seed(USAGE, "steps", 3000, 1)
}
