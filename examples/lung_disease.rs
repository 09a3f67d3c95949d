//! The founding example: a small network predicts the chance of lung disease from four
//! inputs — age, smoking, the pollution of the area of residence, and genetic (family)
//! health history — trained with sigmoid layers, mean squared error and SGD.
//!
//! No public dataset has these four columns, so the example draws a synthetic cohort from a
//! documented rule (see [`Person::true_chance`]), with noise: each person's disease is a coin
//! flip with the rule's probability. The rule's own predictions are the ceiling any model
//! can reach on such data, and the example prints them beside the network's.
//!
//! ```sh
//! cargo run --release --example lung_disease                      # train, report, save
//! cargo run --release --example lung_disease -- --predict 67,20,7,1 # ask the saved model
//! cargo run --release --example lung_disease -- --help
//! ```

mod support;

use std::error::Error;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use support::{Long, figure};
use surefire::nn::{self, mse_loss};
use surefire::prelude::*;
use surefire::tensor::graph;

const FEATURES: [&str; 4] = ["age", "smoking", "area", "history"];
const CHECKPOINT: &str = "lung_disease.safetensors";

/// One person of the synthetic cohort.
#[derive(Clone, Copy, Debug)]
struct Person {
    /// Years, 18 to 90.
    age: f64,
    /// Cigarettes a day: 0 for the 55% who never smoked, else 1 to 40.
    smoking: f64,
    /// Air pollution of the area of residence, 0 (clean countryside) to 10 (a heavily
    /// polluted city).
    area: f64,
    /// 1 if a parent or sibling had lung disease (20% of people), else 0.
    history: f64,
}

impl Person {
    /// The ground truth: a logistic rule,
    /// `P(disease) = sigmoid(-8 + 0.07 age + 0.1 smoking + 0.3 area + 1.8 history)`.
    fn true_chance(&self) -> f64 {
        let logit =
            -8.0 + 0.07 * self.age + 0.1 * self.smoking + 0.3 * self.area + 1.8 * self.history;
        1.0 / (1.0 + (-logit).exp())
    }

    fn random(rng: &mut StdRng) -> Self {
        let smoker = rng.random::<f64>() < 0.45;
        Person {
            age: rng.random_range(18.0..90.0),
            smoking: if smoker {
                rng.random_range(1.0f64..40.0).round()
            } else {
                0.0
            },
            area: rng.random_range(0.0..10.0),
            history: f64::from(u8::from(rng.random::<f64>() < 0.2)),
        }
    }

    fn features(&self) -> [f64; 4] {
        [self.age, self.smoking, self.area, self.history]
    }
}

/// Settings from the command line.
struct Options {
    /// Passes over the training set.
    epochs: usize,
    /// The SGD learning rate.
    lr: f64,
    /// The widths of the hidden layers, input side first.
    hidden: Vec<usize>,
    /// Rows per mini-batch.
    batch: usize,
    /// The cohort's size, 80% of it for training.
    people: usize,
    /// Seeds the cohort, the split, the weights and the batch order.
    seed: u64,
    /// Where the loss curve, the checkpoint and the graph go, and where `--predict` reads the
    /// checkpoint.
    out: PathBuf,
    /// Also write the network's graph as Graphviz text.
    graph: bool,
    /// Ask the saved model about this person instead of training.
    predict: Option<Person>,
}

const USAGE: &str = "\
usage: lung_disease [OPTIONS]

Trains a sigmoid network on a synthetic cohort and reports how close it gets to the rule
that generated the data; writes the loss curve and the trained model to the output folder.

options:
  --epochs N          passes over the training set (default 40)
  --lr F              SGD learning rate (default 0.5)
  --hidden A,B,..     hidden layer widths (default 8)
  --batch N           mini-batch size (default 32)
  --people N          cohort size, 80% for training (default 5000)
  --seed N            seed of the cohort, the split and the weights (default 42)
  --out DIR           output folder (default: the current folder)
  --graph             also write the network's graph as lung_disease_graph.dot
  --predict A,S,R,H   load the saved model and predict for one person: age in years,
                      cigarettes a day, area pollution 0-10, family history 0 or 1
  -h, --help          this text";

fn parse_args() -> Result<Options, Box<dyn Error>> {
    let mut o = Options {
        epochs: 40,
        lr: 0.5,
        hidden: vec![8],
        batch: 32,
        people: 5000,
        seed: 42,
        out: PathBuf::from("."),
        graph: false,
        predict: None,
    };
    let mut args = support::Args::new(USAGE);
    while let Some(arg) = args.next()? {
        match arg {
            Long("epochs") => o.epochs = args.value()?,
            Long("lr") => o.lr = args.value()?,
            Long("hidden") => o.hidden = args.value_with(parse_widths)?,
            Long("batch") => o.batch = args.value_with(|text| at_least(text, 1))?,
            Long("people") => o.people = args.value_with(|text| at_least(text, 10))?,
            Long("seed") => o.seed = args.value()?,
            Long("out") => o.out = args.text()?.into(),
            Long("graph") => o.graph = true,
            Long("predict") => o.predict = Some(args.value_with(parse_person)?),
            _ => return Err(support::unexpected(arg)),
        }
    }
    Ok(o)
}

/// A whole number no smaller than `least`.
fn at_least(text: &str, least: usize) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= least => Ok(n),
        _ => Err(format!("must be a whole number of at least {least}")),
    }
}

/// `A,B,..`: the hidden layers' widths, each at least 1.
fn parse_widths(text: &str) -> Result<Vec<usize>, String> {
    text.split(',')
        .map(|width| at_least(width, 1))
        .collect::<Result<_, _>>()
        .map_err(|_| "widths must be whole numbers of at least 1".into())
}

/// `AGE,SMOKING,AREA,HISTORY`, each checked against the range the cohort covers.
fn parse_person(text: &str) -> Result<Person, String> {
    let values: Vec<f64> = text
        .split(',')
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .map_err(|_| format!("{v:?} is not a number"))
        })
        .collect::<Result<_, _>>()?;
    let &[age, smoking, area, history] = values.as_slice() else {
        return Err("needs 4 values AGE,SMOKING,AREA,HISTORY".into());
    };
    let checks = [
        ((0.0..=120.0).contains(&age), "age must be 0 to 120 years"),
        (
            (0.0..=100.0).contains(&smoking),
            "smoking must be 0 to 100 cigarettes a day",
        ),
        (
            (0.0..=10.0).contains(&area),
            "area pollution must be 0 to 10",
        ),
        (history == 0.0 || history == 1.0, "history must be 0 or 1"),
    ];
    match checks.iter().find(|(ok, _)| !ok) {
        Some((_, why)) => Err((*why).into()),
        None => Ok(Person {
            age,
            smoking,
            area,
            history,
        }),
    }
}

/// Feature means and standard deviations of the training rows.
struct Scaler {
    mean: [f64; 4],
    std: [f64; 4],
}

impl Scaler {
    fn fit(people: &[Person]) -> Self {
        let n = people.len() as f64;
        let mut mean = [0.0; 4];
        let mut std = [0.0; 4];
        for j in 0..4 {
            mean[j] = people.iter().map(|p| p.features()[j]).sum::<f64>() / n;
            std[j] = (people
                .iter()
                .map(|p| (p.features()[j] - mean[j]).powi(2))
                .sum::<f64>()
                / n)
                .sqrt();
        }
        Scaler { mean, std }
    }

    /// The standardised feature matrix `[n, 4]`.
    fn transform(&self, people: &[Person]) -> Result<Tensor, TensorError> {
        let data = people
            .iter()
            .flat_map(|p| {
                (0..4).map(move |j| ((p.features()[j] - self.mean[j]) / self.std[j]) as f32)
            })
            .collect();
        Tensor::from_vec(data, &[people.len(), 4])
    }

    fn to_metadata(&self) -> [String; 2] {
        let join = |v: &[f64; 4]| {
            v.iter()
                .map(|x| format!("{x:e}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        [join(&self.mean), join(&self.std)]
    }

    fn from_metadata(mean: &str, std: &str) -> Result<Self, Box<dyn Error>> {
        let parse = |text: &str| -> Result<[f64; 4], Box<dyn Error>> {
            let values: Vec<f64> = text.split(',').map(str::parse).collect::<Result<_, _>>()?;
            values
                .try_into()
                .map_err(|_| "the checkpoint's scaler needs 4 values".into())
        };
        Ok(Scaler {
            mean: parse(mean)?,
            std: parse(std)?,
        })
    }
}

fn labels(people: &[Person], sick: &[bool]) -> Result<Tensor, TensorError> {
    Tensor::from_vec(
        sick.iter().map(|&s| f32::from(u8::from(s))).collect(),
        &[people.len(), 1],
    )
}

fn model_for(hidden: &[usize], rng: &mut StdRng) -> Mlp {
    let sizes: Vec<usize> = std::iter::once(4)
        .chain(hidden.iter().copied())
        .chain([1])
        .collect();
    Mlp::new(&sizes, Activation::Sigmoid, rng)
}

fn main() -> std::process::ExitCode {
    support::run(run)
}

fn run() -> Result<(), Box<dyn Error>> {
    let options = parse_args()?;
    match options.predict {
        Some(person) => predict(&options.out, person),
        None => train(&options),
    }
}

fn train(o: &Options) -> Result<(), Box<dyn Error>> {
    let mut rng = StdRng::seed_from_u64(o.seed);
    // The cohort, each person's disease drawn from the rule, and a seeded 80/20 split.
    let mut people: Vec<Person> = (0..o.people).map(|_| Person::random(&mut rng)).collect();
    people.shuffle(&mut rng);
    let sick: Vec<bool> = people
        .iter()
        .map(|p| rng.random::<f64>() < p.true_chance())
        .collect();
    let n_train = o.people * 4 / 5;
    let (train_people, test_people) = people.split_at(n_train);
    let (train_sick, test_sick) = sick.split_at(n_train);
    let scaler = Scaler::fit(train_people);
    let (x_train, y_train) = (
        scaler.transform(train_people)?,
        labels(train_people, train_sick)?,
    );
    let (x_test, y_test) = (
        scaler.transform(test_people)?,
        labels(test_people, test_sick)?,
    );
    let prevalence = sick.iter().filter(|&&s| s).count() as f64 / sick.len() as f64;
    println!(
        "Synthetic cohort: {} people ({:.1}% with lung disease), {} for training, {} for testing",
        o.people,
        100.0 * prevalence,
        n_train,
        o.people - n_train
    );

    let model = model_for(&o.hidden, &mut rng);
    let architecture: Vec<String> = std::iter::once("4".into())
        .chain(o.hidden.iter().map(usize::to_string))
        .chain(["1".into()])
        .collect();
    println!(
        "Network {} with sigmoid after every layer, MSE loss, SGD (lr {}, batch {}), {} epochs\n",
        architecture.join("-"),
        o.lr,
        o.batch,
        o.epochs
    );
    let mut opt = Sgd::new(model.parameters(), o.lr);
    let mut curves = fit(
        &model,
        &mut opt,
        o,
        &mut rng,
        (&x_train, &y_train),
        (&x_test, &y_test),
    )?;
    let rule: Vec<f64> = test_people.iter().map(Person::true_chance).collect();
    curves.rule = accuracy_and_mse(&rule, test_sick).1;

    report(&model, &scaler, &x_test, test_people, test_sick)?;
    std::fs::create_dir_all(&o.out)?;
    let svg = o.out.join("lung_disease_loss.svg");
    plot(&svg, &curves)?;
    let checkpoint = o.out.join(CHECKPOINT);
    let [mean, std] = scaler.to_metadata();
    let hidden = o
        .hidden
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",");
    nn::save_with_metadata(
        &model,
        &checkpoint,
        &[("hidden", &hidden), ("mean", &mean), ("std", &std)],
    )?;
    println!("\nWrote {} and {}", svg.display(), checkpoint.display());
    if o.graph {
        let dot = o.out.join("lung_disease_graph.dot");
        let loss = mse_loss(
            &model.forward(&x_test.narrow(0, 0, 4)),
            &y_test.narrow(0, 0, 4),
        );
        let names: Vec<_> = model
            .named_parameters()
            .into_iter()
            .map(|(n, p)| (n, p.tensor_id()))
            .collect();
        std::fs::write(&dot, graph::to_dot_named(&loss, &names))?;
        println!(
            "Wrote {} (render with: dot -Tsvg {} -o graph.svg)",
            dot.display(),
            dot.display()
        );
    }
    println!(
        "Ask the model about someone: cargo run --release --example lung_disease -- --predict 67,20,7,1"
    );
    Ok(())
}

/// Train and test MSE after each epoch, and the rule's test MSE (the floor).
/// The mean squared error at the start and after each epoch: on the training set (after an
/// epoch, the mean of its batches' losses, each taken before its step), on the test set, and
/// the test MSE of the rule that made the data.
struct Curves {
    train: Vec<f64>,
    test: Vec<f64>,
    rule: f64,
}

/// Mini-batch SGD over shuffled batches, with a progress bar on a terminal and plain lines
/// elsewhere.
fn fit(
    model: &Mlp,
    opt: &mut Sgd,
    o: &Options,
    rng: &mut StdRng,
    (x_train, y_train): (&Tensor, &Tensor),
    (x_test, y_test): (&Tensor, &Tensor),
) -> Result<Curves, Box<dyn Error>> {
    let n = x_train.shape()[0];
    let evaluate =
        |x: &Tensor, y: &Tensor| no_grad(|| mse_loss(&model.forward(x), y).item() as f64);
    let mut curves = Curves {
        train: vec![evaluate(x_train, y_train)],
        test: vec![evaluate(x_test, y_test)],
        rule: f64::NAN,
    };
    let interactive = std::io::stderr().is_terminal();
    let bar = if interactive {
        ProgressBar::new(o.epochs as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(ProgressStyle::with_template(
        "{bar:40.cyan/blue} epoch {pos}/{len}  {msg}",
    )?);
    let mut order: Vec<usize> = (0..n).collect();
    for epoch in 1..=o.epochs {
        order.shuffle(rng);
        // The epoch's training loss: each batch's, taken before its step, weighted by size.
        let mut total = 0.0;
        for batch in order.chunks(o.batch) {
            let (x, y) = (
                x_train.index_select(0, batch),
                y_train.index_select(0, batch),
            );
            let loss = mse_loss(&model.forward(&x), &y);
            let grads = loss.backward();
            opt.step(&grads);
            total += loss.item() as f64 * batch.len() as f64;
        }
        curves.train.push(total / n as f64);
        curves.test.push(evaluate(x_test, y_test));
        let line = format!(
            "train MSE {:.5}  test MSE {:.5}",
            curves.train[epoch], curves.test[epoch]
        );
        bar.set_position(epoch as u64);
        bar.set_message(line.clone());
        if !interactive && (epoch % (o.epochs / 10).max(1) == 0 || epoch == o.epochs) {
            println!("epoch {epoch:>4}/{}  {line}", o.epochs);
        }
    }
    bar.finish();
    Ok(curves)
}

fn accuracy_and_mse(chances: &[f64], sick: &[bool]) -> (f64, f64) {
    let n = chances.len() as f64;
    let hits = chances
        .iter()
        .zip(sick)
        .filter(|&(&p, &s)| (p > 0.5) == s)
        .count();
    let mse = chances
        .iter()
        .zip(sick)
        .map(|(&p, &s)| (p - f64::from(u8::from(s))).powi(2))
        .sum::<f64>()
        / n;
    (hits as f64 / n, mse)
}

fn report(
    model: &Mlp,
    scaler: &Scaler,
    x_test: &Tensor,
    test: &[Person],
    sick: &[bool],
) -> Result<(), Box<dyn Error>> {
    let predicted: Vec<f64> = no_grad(|| model.forward(x_test))
        .to_vec()
        .into_iter()
        .map(f64::from)
        .collect();
    let rule: Vec<f64> = test.iter().map(Person::true_chance).collect();
    let (acc, mse) = accuracy_and_mse(&predicted, sick);
    let (rule_acc, rule_mse) = accuracy_and_mse(&rule, sick);
    println!("\nOn the {} test people:", test.len());
    println!("                           accuracy     MSE");
    println!("  network                  {:>7.2}%  {mse:.5}", 100.0 * acc);
    println!(
        "  ground-truth rule        {:>7.2}%  {rule_mse:.5}   (the ceiling: the rule that made the data)",
        100.0 * rule_acc
    );
    println!(
        "  gap to the ceiling       {:>7.2} points",
        100.0 * (rule_acc - acc)
    );

    let first = &model.layers()[0];
    let weights = first.weight().tensor().to_vec();
    let width = first.outputs();
    println!("\nFirst-layer weights (rows: standardised inputs, columns: hidden units):");
    for (j, name) in FEATURES.iter().enumerate() {
        let row: Vec<String> = (0..width)
            .map(|k| format!("{:>6.2}", weights[j * width + k]))
            .collect();
        println!("  {name:<8} {}", row.join(" "));
    }
    println!(
        "Each weight says how strongly one standard deviation of an input pushes a hidden unit; the\n\
         units' signs are arbitrary, so read the effect of each input on the prediction instead:"
    );
    // The average derivative of the predicted chance with respect to each raw input, by
    // backward through the network (dp/draw = dp/dstandardised / std).
    let x = x_test.detach().require_grad();
    let grads = model.forward(&x).sum().backward();
    let slopes = grads
        .get(&x)
        .ok_or("the inputs are a leaf of the graph")?
        .mean_dim(0, false)
        .to_vec();
    let units = [
        "per year of age",
        "per cigarette a day",
        "per point of area pollution",
        "for a family history",
    ];
    for (j, unit) in units.iter().enumerate() {
        let effect = f64::from(slopes[j]) / scaler.std[j];
        println!("  {:+.2} points of predicted chance {unit}", 100.0 * effect);
    }

    println!("\nPredicted chance of lung disease:");
    let named = [
        (
            "Ana, 25, never smoked, clean countryside, no family history",
            Person {
                age: 25.0,
                smoking: 0.0,
                area: 1.0,
                history: 0.0,
            },
        ),
        (
            "Ben, 45, 10 cigarettes a day, suburb, no family history",
            Person {
                age: 45.0,
                smoking: 10.0,
                area: 5.0,
                history: 0.0,
            },
        ),
        (
            "Chloe, 60, never smoked, polluted city, family history",
            Person {
                age: 60.0,
                smoking: 0.0,
                area: 9.0,
                history: 1.0,
            },
        ),
        (
            "David, 70, 30 cigarettes a day, polluted city, family history",
            Person {
                age: 70.0,
                smoking: 30.0,
                area: 8.0,
                history: 1.0,
            },
        ),
    ];
    let people: Vec<Person> = named.iter().map(|(_, p)| *p).collect();
    let chances =
        no_grad(|| model.forward(&scaler.transform(&people).expect("4 features each"))).to_vec();
    for ((name, person), chance) in named.iter().zip(chances) {
        println!(
            "  {name:<62} {:>5.1}%  (rule: {:>5.1}%)",
            100.0 * chance,
            100.0 * person.true_chance()
        );
    }
    Ok(())
}

fn predict(out: &Path, person: Person) -> Result<(), Box<dyn Error>> {
    let checkpoint = out.join(CHECKPOINT);
    let meta = nn::read_metadata(&checkpoint)
        .map_err(|e| format!("{e}\n(train first: cargo run --release --example lung_disease)"))?;
    let field = |key: &str| {
        meta.get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("{} has no {key:?} entry", checkpoint.display()))
    };
    let hidden: Vec<usize> = field("hidden")?
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let scaler = Scaler::from_metadata(field("mean")?, field("std")?)?;
    let model = model_for(&hidden, &mut StdRng::seed_from_u64(0));
    nn::load(&model, &checkpoint)?;
    let chance =
        no_grad(|| model.forward(&scaler.transform(&[person]).expect("4 features"))).item();
    println!(
        "age {}, {} cigarettes a day, area pollution {}, family history {}: predicted chance of lung disease {:.1}% (the rule that made the data says {:.1}%)",
        person.age,
        person.smoking,
        person.area,
        if person.history == 1.0 { "yes" } else { "no" },
        100.0 * chance,
        100.0 * person.true_chance()
    );
    Ok(())
}

fn plot(path: &Path, curves: &Curves) -> Result<(), Box<dyn Error>> {
    figure::use_embedded_font()?;
    let root = SVGBackend::new(path, (800, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let top = curves
        .train
        .iter()
        .chain(&curves.test)
        .cloned()
        .fold(0.0, f64::max)
        * 1.05;
    let epochs = curves.train.len() - 1;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Lung-disease network: mean squared error per epoch",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0..epochs.max(1), 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("MSE")
        .draw()?;
    let series = [
        (
            &curves.train,
            BLUE,
            "train (its batches, each before its step)",
        ),
        (&curves.test, RED, "test"),
    ];
    for (values, color, label) in series {
        chart
            .draw_series(LineSeries::new(
                values.iter().copied().enumerate(),
                color.stroke_width(2),
            ))?
            .label(label)
            .legend(figure::legend_line(color.stroke_width(2)));
    }
    let floor = [(0, curves.rule), (epochs.max(1), curves.rule)];
    chart
        .draw_series(DashedLineSeries::new(floor, 6, 4, BLACK.stroke_width(1)))?
        .label("test MSE of the rule that made the data")
        .legend(figure::legend_line(BLACK.stroke_width(1)));
    figure::draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    root.present()?;
    Ok(())
}
