//! The main example: a small network predicts the chance of lung disease from four
//! inputs — age, smoking, the pollution of the area of residence, and genetic (family)
//! health history — trained with sigmoid layers, mean squared error and SGD.
//!
//! No public dataset has these four columns, so the example draws a synthetic cohort from a
//! documented rule (see [`cohort::Person::true_chance`]), with noise: each person's disease is
//! a coin flip with the rule's probability. The rule's own predictions are the ceiling any
//! model can reach on such data, and the example prints them beside the network's.
//!
//! ```sh
//! cargo run --release --example lung_disease                      # train, report, save
//! cargo run --release --example lung_disease -- --predict 67,20,7,1 # ask the saved model
//! cargo run --release --example lung_disease -- --help
//! ```
//!
//! This file is the training flow; beside it are the command line (`cli`), the data
//! (`cohort`), the network and its checkpoint (`model`), the printed tables (`report`) and
//! the loss curves (`plot`).

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod cohort;
mod model;
mod plot;
mod report;

use std::error::Error;
use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use surefire::nn::mse_loss;
use surefire::prelude::*;
use surefire::tensor::graph;

use cli::Options;
use cohort::{Cohort, Person, Scaler, labels};
use plot::Curves;

fn main() -> std::process::ExitCode {
    support::run(|| {
        let options = cli::parse()?;
        match options.predict {
            Some(person) => predict(&options.out, &person),
            None => train(&options),
        }
    })
}

/// Draws the cohort, trains the network on it, prints the report, and writes the loss curve,
/// the checkpoint and, with `--graph`, the graph.
fn train(o: &Options) -> Result<(), Box<dyn Error>> {
    // One generator, in a fixed order of use: the cohort, the weights, the batch order.
    let mut rng = StdRng::seed_from_u64(o.seed);
    let cohort = Cohort::draw(o.people, &mut rng);
    let ((train_people, train_sick), (test_people, test_sick)) = (cohort.train(), cohort.test());
    let scaler = Scaler::fit(train_people);
    let train_set = (scaler.transform(train_people)?, labels(train_sick)?);
    let test_set = (scaler.transform(test_people)?, labels(test_sick)?);
    println!(
        "Synthetic cohort: {} people ({:.1}% with lung disease), {} for training, {} for testing",
        o.people,
        100.0 * cohort.prevalence(),
        train_people.len(),
        test_people.len()
    );

    let model = model::new(&o.hidden, &mut rng);
    println!(
        "Network {} with sigmoid after every layer, MSE loss, SGD (lr {}, batch {}), {} epochs\n",
        model::architecture(&o.hidden),
        o.lr,
        o.batch,
        o.epochs
    );
    let mut opt = Sgd::new(model.parameters(), o.lr);
    let (train_mse, test_mse) = fit(&model, &mut opt, o, &mut rng, &train_set, &test_set)?;
    let rule: Vec<f64> = test_people.iter().map(Person::true_chance).collect();
    let curves = Curves {
        train: train_mse,
        test: test_mse,
        rule: report::accuracy_and_mse(&rule, test_sick).1,
    };
    report::print(&model, &scaler, &test_set.0, test_people, test_sick)?;

    std::fs::create_dir_all(&o.out)?;
    let svg = o.out.join("lung_disease_loss.svg");
    plot::loss_curves(&svg, &curves)?;
    let checkpoint = o.out.join(model::CHECKPOINT);
    model::save(&model, &o.hidden, &scaler, &checkpoint)?;
    println!("\nWrote {} and {}", svg.display(), checkpoint.display());
    if o.graph {
        write_graph(&model, &test_set, &o.out.join("lung_disease_graph.dot"))?;
    }
    println!(
        "Ask the model about someone: cargo run --release --example lung_disease -- --predict 67,20,7,1"
    );
    Ok(())
}

/// Mini-batch SGD over shuffled batches, with a progress bar on a terminal and plain lines
/// elsewhere. Returns the train and the test MSE at the start and after each epoch (see
/// [`Curves`]).
fn fit(
    model: &Mlp,
    opt: &mut Sgd,
    o: &Options,
    rng: &mut StdRng,
    (x_train, y_train): &(Tensor, Tensor),
    (x_test, y_test): &(Tensor, Tensor),
) -> Result<(Vec<f64>, Vec<f64>), Box<dyn Error>> {
    let n = x_train.shape()[0];
    let evaluate =
        |x: &Tensor, y: &Tensor| no_grad(|| mse_loss(&model.forward(x), y).item() as f64);
    let mut train_mse = vec![evaluate(x_train, y_train)];
    let mut test_mse = vec![evaluate(x_test, y_test)];
    let interactive = std::io::stderr().is_terminal();
    let bar = if interactive {
        ProgressBar::new(o.epochs as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(ProgressStyle::with_template(
        "{bar:40.cyan/blue} epoch {pos}/{len}  {msg}",
    )?);
    let mut order: Vec<i64> = (0..n as i64).collect();
    for epoch in 1..=o.epochs {
        order.shuffle(rng);
        // The epoch's training loss: each batch's, taken before its step, weighted by size.
        let mut total = 0.0;
        for batch in order.chunks(o.batch) {
            let rows = Tensor::from_slice(batch);
            let (x, y) = (
                x_train.index_select(0, &rows),
                y_train.index_select(0, &rows),
            );
            let loss = mse_loss(&model.forward(&x), &y);
            let grads = loss.backward();
            opt.step(&grads);
            total += loss.item() as f64 * batch.len() as f64;
        }
        train_mse.push(total / n as f64);
        test_mse.push(evaluate(x_test, y_test));
        let line = format!(
            "train MSE {:.5}  test MSE {:.5}",
            train_mse[epoch], test_mse[epoch]
        );
        bar.set_position(epoch as u64);
        bar.set_message(line.clone());
        if !interactive && (epoch % (o.epochs / 10).max(1) == 0 || epoch == o.epochs) {
            println!("epoch {epoch:>4}/{}  {line}", o.epochs);
        }
    }
    bar.finish();
    Ok((train_mse, test_mse))
}

/// Writes the graph of the loss on four test rows as Graphviz text, the parameters by name.
fn write_graph(model: &Mlp, (x, y): &(Tensor, Tensor), path: &Path) -> Result<(), Box<dyn Error>> {
    let loss = mse_loss(&model.forward(&x.narrow(0, 0, 4)), &y.narrow(0, 0, 4));
    let names: Vec<_> = model
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.tensor_id()))
        .collect();
    std::fs::write(path, graph::to_dot_named(&loss, &names))?;
    println!(
        "Wrote {} (render with: dot -Tsvg {} -o graph.svg)",
        path.display(),
        path.display()
    );
    Ok(())
}

/// Loads the checkpoint from `out` and prints its chance for `person`.
fn predict(out: &Path, person: &Person) -> Result<(), Box<dyn Error>> {
    let (model, scaler) = model::load(&out.join(model::CHECKPOINT))?;
    let x = scaler.transform(std::slice::from_ref(person))?;
    report::prediction(person, no_grad(|| model.forward(&x)).item());
    Ok(())
}
