//! A real dataset: the Wisconsin Diagnostic Breast Cancer data (569 tumours, 30 features from
//! images of fine-needle aspirates, benign or malignant; UCI, CC BY 4.0), shipped in this
//! crate as `examples/data/wdbc.csv` and compiled into the example, so it runs offline from any
//! folder. Features standardised with the training set's statistics, a seeded
//! 80/20 split, an MLP classifier trained with binary cross-entropy, and a one-layer logistic
//! regression as the baseline.
//!
//! ```sh
//! cargo run --release --example breast_cancer
//! ```

mod support;

use std::error::Error;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use surefire::nn::bce_loss;
use surefire::prelude::*;

struct Split {
    x_train: Tensor,
    y_train: Tensor,
    x_test: Tensor,
    y_test: Tensor,
}

/// The data: one row of 30 features and a label (1 malignant, 0 benign) per tumour.
const WDBC: &str = include_str!("data/wdbc.csv");

/// Every tumour's 30 features, and its label.
type Data = (Vec<[f64; 30]>, Vec<f64>);

fn load() -> Result<Data, Box<dyn Error>> {
    let (mut features, mut labels) = (Vec::new(), Vec::new());
    // Comment lines start with '#'; the first other line names the columns.
    for line in WDBC.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let values: Vec<f64> = line.split(',').map(str::parse).collect::<Result<_, _>>()?;
        let (&label, row) = values.split_last().ok_or("an empty line in wdbc.csv")?;
        features.push(
            row.try_into()
                .map_err(|_| format!("{} features in a row of wdbc.csv, not 30", row.len()))?,
        );
        labels.push(label);
    }
    Ok((features, labels))
}

/// Shuffles with `seed`, keeps 80% for training, and standardises every feature with the
/// training rows' mean and standard deviation (the test rows must not leak into them).
fn split(seed: u64) -> Result<Split, Box<dyn Error>> {
    let (features, labels) = load()?;
    let n = features.len();
    let width = 30;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let n_train = n * 4 / 5;
    let (train, test) = order.split_at(n_train);

    let features = &features;
    let column = |j: usize| train.iter().map(move |&i| features[i][j]);
    let mean: Vec<f64> = (0..width)
        .map(|j| column(j).sum::<f64>() / n_train as f64)
        .collect();
    let std: Vec<f64> = (0..width)
        .map(|j| (column(j).map(|v| (v - mean[j]).powi(2)).sum::<f64>() / n_train as f64).sqrt())
        .collect();
    let (mean, std) = (&mean, &std);
    let rows = |indices: &[usize]| -> Result<(Tensor, Tensor), TensorError> {
        let x = indices
            .iter()
            .flat_map(|&i| (0..width).map(move |j| ((features[i][j] - mean[j]) / std[j]) as f32))
            .collect();
        let y = indices.iter().map(|&i| labels[i] as f32).collect();
        Ok((
            Tensor::from_vec(x, &[indices.len(), width])?,
            Tensor::from_vec(y, &[indices.len(), 1])?,
        ))
    };
    let (x_train, y_train) = rows(train)?;
    let (x_test, y_test) = rows(test)?;
    Ok(Split {
        x_train,
        y_train,
        x_test,
        y_test,
    })
}

/// Full-batch Adam on the binary cross-entropy; returns the final training loss.
fn train(model: &impl Module, data: &Split, epochs: usize) -> f32 {
    let mut opt = Adam::new(model.parameters(), 0.01).weight_decay(1e-4);
    let mut last = f32::NAN;
    for _ in 0..epochs {
        let loss = bce_loss(&model.forward(&data.x_train), &data.y_train);
        let grads = loss.backward();
        opt.step(&grads);
        last = loss.item();
    }
    last
}

/// The fraction of rows whose predicted probability lands on the side of 0.5 of the label.
fn accuracy(model: &dyn Module, x: &Tensor, y: &Tensor) -> f64 {
    let p = no_grad(|| model.forward(x)).to_vec();
    let hits = p
        .iter()
        .zip(y.to_vec())
        .filter(|&(&p, y)| (p > 0.5) == (y > 0.5))
        .count();
    hits as f64 / p.len() as f64
}

fn main() -> std::process::ExitCode {
    support::run(run)
}

fn run() -> Result<(), Box<dyn Error>> {
    let (epochs, seed) = parse_args()?;
    let data = split(seed)?;
    let (n_train, n_test) = (data.x_train.shape()[0], data.x_test.shape()[0]);
    println!(
        "Wisconsin Diagnostic Breast Cancer: {n_train} training and {n_test} test tumours, 30 features"
    );

    let mut rng = StdRng::seed_from_u64(seed);
    let mlp = Mlp::with_output_activation(
        &[30, 16, 1],
        Activation::Relu,
        Activation::Sigmoid,
        &mut rng,
    );
    let logistic = Dense::new(30, 1, Activation::Sigmoid, &mut rng);
    let mlp_loss = train(&mlp, &data, epochs);
    let logistic_loss = train(&logistic, &data, epochs);

    println!("\nafter {epochs} epochs of Adam on the binary cross-entropy:");
    println!("  model                         train loss  train accuracy  test accuracy");
    for (name, model, loss) in [
        ("MLP 30-16-1 (ReLU, sigmoid)", &mlp as &dyn Module, mlp_loss),
        ("logistic regression 30-1", &logistic, logistic_loss),
    ] {
        let train_acc = accuracy(model, &data.x_train, &data.y_train);
        let test_acc = accuracy(model, &data.x_test, &data.y_test);
        println!("  {name:<29} {loss:>10.4}  {train_acc:>14.4}  {test_acc:>13.4}");
    }
    Ok(())
}

const USAGE: &str = "\
usage: breast_cancer [OPTIONS]

Trains an MLP and a logistic regression on the Wisconsin breast-cancer data and compares
their accuracy on held-out tumours.

options:
  --epochs N   full-batch Adam steps for each model (default 300)
  --seed N     seed of the split and the weights (default 7)
  -h, --help   this text";

/// `--epochs N` (default 300) and `--seed N` (default 7).
fn parse_args() -> Result<(usize, u64), Box<dyn Error>> {
    support::epochs_and_seed(USAGE, 300, 7)
}
