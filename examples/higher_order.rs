//! Newton's method driven by Hessian-vector products from `backward_create_graph`, against
//! plain gradient descent, on the Rosenbrock function
//! `f(x, y) = (1 - x)² + 100 (y - x²)²` (minimum 0 at (1, 1), in a long curved valley).
//!
//! The Hessian is never formed: each Newton step solves `H d = -g` by conjugate gradients,
//! which only needs products `H v`, each one extra backward pass through the gradient's own
//! graph.
//!
//! ```sh
//! cargo run --release --example higher_order -- --gd-steps 20000
//! ```

mod support;

use std::error::Error;

use surefire::prelude::*;

type T = Tensor<f64>;

fn rosenbrock(p: &T) -> Result<T, TensorError> {
    let x = p.try_narrow(0, 0, 1)?;
    let y = p.try_narrow(0, 1, 1)?;
    let valley = y.try_sub(&x.try_square()?)?.try_square()? * 100.0;
    (1.0 - &x).try_square()?.try_add(&valley)?.try_sum()
}

/// f, its gradient, and a closure computing Hessian-vector products at `p`.
struct Local {
    value: f64,
    gradient: Vec<f64>,
    /// The gradient as a differentiable tensor of `point`.
    gradient_graph: T,
    point: T,
}

impl Local {
    fn at(p: &[f64]) -> Result<Self, TensorError> {
        let point = T::from_vec(p.to_vec(), &[p.len()])?.require_grad();
        let f = rosenbrock(&point)?;
        let grads = f.try_backward_create_graph()?;
        let gradient_graph = grads
            .get(&point)
            .cloned()
            .ok_or(TensorError::NotTracked { op: "gradient" })?;
        Ok(Local {
            value: f.item(),
            gradient: gradient_graph.to_vec(),
            gradient_graph,
            point,
        })
    }

    /// `H v = d/dp (g(p) · v)`: one more backward pass through the gradient's graph, which is
    /// kept for the next product.
    fn hessian_times(&self, v: &[f64]) -> Result<Vec<f64>, TensorError> {
        let v = T::from_vec(v.to_vec(), &[v.len()])?;
        let product = self.gradient_graph.try_mul(&v)?.try_sum()?;
        let grads = product.try_backward_retain_graph()?;
        Ok(grads
            .get(&self.point)
            .map_or_else(|| vec![0.0; v.numel()], Tensor::to_vec))
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// Solves `H d = -g` by conjugate gradients using only Hessian-vector products; falls back
/// to the steepest-descent direction if the curvature along a search direction is not
/// positive. Returns the direction and the number of products used.
fn newton_direction(local: &Local) -> Result<(Vec<f64>, usize), TensorError> {
    let n = local.gradient.len();
    let mut d = vec![0.0; n];
    let mut r: Vec<f64> = local.gradient.iter().map(|g| -g).collect();
    let mut s = r.clone();
    let mut products = 0;
    for _ in 0..n {
        let hs = local.hessian_times(&s)?;
        products += 1;
        let curvature = dot(&s, &hs);
        if curvature <= 0.0 {
            let fallback = if products == 1 { r.clone() } else { d };
            return Ok((fallback, products));
        }
        let alpha = dot(&r, &r) / curvature;
        let r_next: Vec<f64> = r.iter().zip(&hs).map(|(r, h)| r - alpha * h).collect();
        d.iter_mut().zip(&s).for_each(|(d, s)| *d += alpha * s);
        if norm(&r_next) < 1e-14 {
            break;
        }
        let beta = dot(&r_next, &r_next) / dot(&r, &r);
        s = r_next.iter().zip(&s).map(|(r, s)| r + beta * s).collect();
        r = r_next;
    }
    Ok((d, products))
}

fn main() -> std::process::ExitCode {
    support::run(run)
}

fn run() -> Result<(), Box<dyn Error>> {
    let gd_steps = parse_args()?;
    let start = [-1.2, 1.0];
    println!(
        "Rosenbrock f(x, y) = (1 - x)² + 100 (y - x²)², from {start:?}; minimum 0 at [1, 1]\n"
    );

    println!("Newton's method with Hessian-vector products (conjugate gradients, backtracking):");
    let mut p = start.to_vec();
    let mut total_products = 0;
    let mut iterations = 0;
    for iteration in 1..=100 {
        let local = Local::at(&p)?;
        if norm(&local.gradient) < 1e-10 {
            break;
        }
        let (direction, products) = newton_direction(&local)?;
        total_products += products;
        // Backtrack until the step decreases f enough (Armijo condition).
        let slope = dot(&local.gradient, &direction);
        let mut step = 1.0;
        let candidate = |step: f64| -> Vec<f64> {
            p.iter()
                .zip(&direction)
                .map(|(p, d)| p + step * d)
                .collect()
        };
        while rosenbrock(&T::from_vec(candidate(step), &[2])?)?.item()
            > local.value + 1e-4 * step * slope
            && step > 1e-10
        {
            step /= 2.0;
        }
        p = candidate(step);
        iterations = iteration;
        let f = rosenbrock(&T::from_vec(p.clone(), &[2])?)?.item();
        println!(
            "  iteration {iteration:>2}: step {step:<6} f = {f:.3e}  at [{:.6}, {:.6}]",
            p[0], p[1]
        );
    }
    let newton_error = norm(&[p[0] - 1.0, p[1] - 1.0]);
    println!(
        "  converged in {iterations} iterations ({total_products} Hessian-vector products), distance to [1, 1]: {newton_error:.1e}\n"
    );

    println!("Gradient descent, learning rate 1e-3:");
    let point = Parameter::new(T::from_vec(start.to_vec(), &[2])?);
    let mut opt = Sgd::new(vec![point.clone()], 1e-3);
    let mut report = 1;
    for step in 1..=gd_steps {
        let grads = rosenbrock(&point.tensor())?.try_backward()?;
        opt.step(&grads);
        if step == report || step == gd_steps {
            let q = point.tensor().to_vec();
            let f = rosenbrock(&point.tensor())?.item();
            println!(
                "  step {step:>6}: f = {f:.3e}  at [{:.6}, {:.6}]",
                q[0], q[1]
            );
            report *= 10;
        }
    }
    let q = point.tensor().to_vec();
    let gd_error = norm(&[q[0] - 1.0, q[1] - 1.0]);
    println!("  after {gd_steps} steps, distance to [1, 1]: {gd_error:.1e}");
    println!(
        "\nNewton: {iterations} iterations to {newton_error:.0e}; gradient descent: {gd_steps} steps to {gd_error:.0e}."
    );
    if newton_error > 1e-8 {
        return Err(format!("Newton's method did not converge: distance {newton_error}").into());
    }
    Ok(())
}

const USAGE: &str = "\
usage: higher_order [OPTIONS]

Minimises the Rosenbrock function by Newton's method with Hessian-vector products, then by
gradient descent, and compares the two.

options:
  --gd-steps N   gradient-descent steps (default 20000)
  -h, --help     this text";

/// `--gd-steps N` (default 20000).
fn parse_args() -> Result<usize, Box<dyn Error>> {
    let mut steps = 20_000;
    let mut args = support::Args::new(USAGE);
    while let Some(arg) = args.next()? {
        match arg {
            support::Long("gd-steps") => steps = args.value()?,
            _ => return Err(support::unexpected(arg)),
        }
    }
    Ok(steps)
}
