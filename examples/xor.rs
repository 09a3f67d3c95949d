//! The classic: a 2-4-1 sigmoid network learns XOR with mean squared error and SGD.
//!
//! ```sh
//! cargo run --release --example xor -- --epochs 3000 --seed 42
//! ```

mod support;

use std::error::Error;

use rand::SeedableRng;
use rand::rngs::StdRng;
use surefire::nn::mse_loss;
use surefire::prelude::*;

fn main() -> std::process::ExitCode {
    support::run(run)
}

fn run() -> Result<(), Box<dyn Error>> {
    let (epochs, seed) = parse_args()?;
    let x = Tensor::<f32>::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], &[4, 2])?;
    let y = Tensor::<f32>::from_vec(vec![0.0, 1.0, 1.0, 0.0], &[4, 1])?;

    let mut rng = StdRng::seed_from_u64(seed);
    let model = Mlp::new(&[2, 4, 1], Activation::Sigmoid, &mut rng);
    let mut opt = Sgd::new(model.parameters(), 2.0).momentum(0.5);
    for epoch in 0..=epochs {
        let loss = mse_loss(&model.forward(&x), &y);
        if epoch % (epochs / 5).max(1) == 0 {
            println!("epoch {epoch:>5}  loss {:.6}", loss.item());
        }
        if epoch < epochs {
            let grads = loss.backward();
            opt.step(&grads);
        }
    }

    let p = no_grad(|| model.forward(&x)).to_vec();
    let inputs = x.to_vec();
    println!("\n a  b | a xor b | predicted");
    let mut correct = 0;
    for (i, (&target, &predicted)) in y.to_vec().iter().zip(&p).enumerate() {
        let right = (predicted > 0.5) == (target > 0.5);
        correct += usize::from(right);
        let mark = if right { "" } else { "  (wrong)" };
        println!(
            " {}  {} |    {}    |  {predicted:.4}{mark}",
            inputs[2 * i],
            inputs[2 * i + 1],
            target
        );
    }
    println!("\n{correct}/4 correct");
    Ok(())
}

const USAGE: &str = "\
usage: xor [OPTIONS]

Trains a 2-4-1 sigmoid network on the four cases of XOR and prints its answers.

options:
  --epochs N   full-batch SGD steps (default 3000)
  --seed N     seed of the weights (default 42)
  -h, --help   this text";

/// `--epochs N` (default 3000) and `--seed N` (default 42).
fn parse_args() -> Result<(usize, u64), Box<dyn Error>> {
    support::epochs_and_seed(USAGE, 3000, 42)
}
