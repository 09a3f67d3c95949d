//! Handwritten digits with a small convolutional network: a CNN (convolution, batch norm,
//! ReLU, max pooling, a second convolution, a dense layer) and an MLP learn the same seeded
//! 80/20 split of the 1,797 8×8 digits of UCI's "Optical Recognition of Handwritten Digits"
//! (CC BY 4.0), with Adam on cross-entropy against the labels. It prints both test accuracies
//! and the CNN's confusion matrix, draws the loss curves and the test digits the CNN gets
//! wrong, and saves the CNN (its batch norm statistics included).
//!
//! ```sh
//! cargo run --release --example digits_cnn
//! cargo run --release --example digits_cnn -- --help
//! ```
//!
//! This file is the training flow; beside it are the command line (`cli`), the data and the
//! split (`data`), the two models (`model`) and the figures (`plot`).

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod data;
mod model;
mod plot;

use std::error::Error;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use surefire::nn::cross_entropy;
use surefire::prelude::*;

use cli::Options;
use data::Digits;
use plot::{Curve, Mistake};

/// The checkpoint's file name in the output folder.
const CHECKPOINT: &str = "digits_cnn.safetensors";

/// Epochs between two lines of the report (the last epoch always has one).
const REPORT_EVERY: usize = 10;

fn main() -> std::process::ExitCode {
    support::run(|| train(&cli::parse()?))
}

/// Trains both models, reports, draws and saves.
fn train(o: &Options) -> Result<(), Box<dyn Error>> {
    let digits = Digits::read(&o.data)?;
    let (train_rows, test_rows) = digits.split(0.8, o.seed);
    let train_set = digits.tensors(&train_rows)?;
    let test_set = digits.tensors(&test_rows)?;
    println!(
        "{} digits (8×8): {} for training, {} for testing (split seeded with {})",
        digits.labels.len(),
        train_rows.len(),
        test_rows.len(),
        o.seed
    );
    let mut rng = StdRng::seed_from_u64(o.seed);
    let cnn = model::cnn(&mut rng);
    let mlp = model::mlp(&mut rng);
    println!("CNN: {} ({} parameters)", model::CNN, cnn.num_parameters());
    println!("MLP: {} ({} parameters)", model::MLP, mlp.num_parameters());
    println!(
        "Both: Adam (lr {}), batch {}, {} epochs, cross-entropy\n",
        o.lr, o.batch, o.epochs
    );
    let curves = [
        fit("CNN", &cnn, o, &train_set, &test_set)?,
        fit("MLP", &mlp, o, &train_set, &test_set)?,
    ];

    let (x_test, y_test) = &test_set;
    let labels = y_test.to_vec();
    let cnn_guesses = predict(&cnn, x_test);
    let mlp_guesses = predict(&mlp, x_test);
    let accuracy = |guesses: &[i64]| {
        let right = guesses.iter().zip(&labels).filter(|(g, l)| g == l).count();
        100.0 * right as f64 / labels.len() as f64
    };
    print_confusion(&labels, &cnn_guesses);

    std::fs::create_dir_all(&o.out)?;
    let loss_svg = o.out.join("digits_cnn_loss.svg");
    plot::loss_curves(&loss_svg, &curves)?;
    let mistakes: Vec<Mistake> = test_rows
        .iter()
        .zip(labels.iter().zip(&cnn_guesses))
        .filter(|(_, (label, guess))| label != guess)
        .map(|(&row, (&label, &guess))| Mistake {
            pixels: digits.pixels[row],
            label,
            guess,
        })
        .collect();
    let mistakes_svg = o.out.join("digits_cnn_mistakes.svg");
    plot::mistakes_grid(&mistakes_svg, &mistakes)?;
    let checkpoint = o.out.join(CHECKPOINT);
    surefire::nn::save_with_metadata(&cnn, &checkpoint, &[("architecture", model::CNN)])?;
    println!(
        "\nWrote {}, {} and {}",
        loss_svg.display(),
        mistakes_svg.display(),
        checkpoint.display()
    );
    println!(
        "test accuracy: CNN {:.1}%, MLP {:.1}%",
        accuracy(&cnn_guesses),
        accuracy(&mlp_guesses)
    );
    Ok(())
}

/// Mini-batch Adam over batches shuffled each epoch (the same order for both models, from
/// the seed). Returns the mean training loss of each epoch (the batches' losses before their
/// steps, weighted by size) and the test loss after it.
fn fit(
    name: &'static str,
    model: &Sequential,
    o: &Options,
    (x_train, y_train): &(Tensor, Tensor<i64>),
    (x_test, y_test): &(Tensor, Tensor<i64>),
) -> Result<Curve, Box<dyn Error>> {
    let mut opt = Adam::new(model.parameters(), o.lr);
    let mut rng = StdRng::seed_from_u64(o.seed.wrapping_add(1));
    let n = x_train.shape()[0];
    let mut order: Vec<i64> = (0..n as i64).collect();
    let mut curve = Curve {
        name,
        train: Vec::new(),
        test: Vec::new(),
    };
    for epoch in 1..=o.epochs {
        model.train();
        order.shuffle(&mut rng);
        let mut total = 0.0;
        for batch in order.chunks(o.batch) {
            let rows = Tensor::from_slice(batch);
            let (x, y) = (
                x_train.index_select(0, &rows),
                y_train.index_select(0, &rows),
            );
            let loss = cross_entropy(&model.try_forward(&x)?, &y);
            let grads = loss.backward();
            opt.step(&grads);
            total += f64::from(loss.item()) * batch.len() as f64;
        }
        model.eval();
        let test = no_grad(|| model.try_forward(x_test).map(|z| cross_entropy(&z, y_test)))?;
        curve.train.push(total / n as f64);
        curve.test.push(f64::from(test.item()));
        if epoch % REPORT_EVERY == 0 || epoch == o.epochs {
            println!(
                "epoch {epoch:>3}  {name}  training loss {:.4}  test loss {:.4}",
                total / n as f64,
                test.item()
            );
        }
    }
    Ok(curve)
}

/// The class each test digit gets, in evaluation mode.
fn predict(model: &Sequential, x: &Tensor) -> Vec<i64> {
    model.eval();
    no_grad(|| model.forward(x).argmax(1, false).to_vec())
}

/// The CNN's confusion matrix: a row per true digit, a column per guess.
fn print_confusion(labels: &[i64], guesses: &[i64]) {
    let mut counts = [[0usize; 10]; 10];
    for (&l, &g) in labels.iter().zip(guesses) {
        counts[l as usize][g as usize] += 1;
    }
    println!("\nCNN confusion matrix on the test digits (rows: true digit, columns: guess)");
    println!(
        "     {}",
        (0..10).map(|d| format!("{d:>4}")).collect::<String>()
    );
    for (digit, row) in counts.iter().enumerate() {
        println!(
            "  {digit}  {}",
            row.iter().map(|c| format!("{c:>4}")).collect::<String>()
        );
    }
}
