//! The command line: the options, their defaults, and the checks on their values.

use std::error::Error;
use std::path::PathBuf;

use crate::cohort::Person;
use crate::support::{self, Long, at_least};

/// Settings from the command line.
pub struct Options {
    /// Passes over the training set.
    pub epochs: usize,
    /// The SGD learning rate.
    pub lr: f64,
    /// The widths of the hidden layers, input side first.
    pub hidden: Vec<usize>,
    /// Rows per mini-batch.
    pub batch: usize,
    /// The cohort's size, 80% of it for training.
    pub people: usize,
    /// Seeds the cohort, the split, the weights and the batch order.
    pub seed: u64,
    /// Where the loss curve, the checkpoint and the graph go, and where `--predict` reads the
    /// checkpoint.
    pub out: PathBuf,
    /// Also write the network's graph as Graphviz text.
    pub graph: bool,
    /// Ask the saved model about this person instead of training.
    pub predict: Option<Person>,
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

/// The options of this process's command line; `--help` prints the usage and exits.
pub fn parse() -> Result<Options, Box<dyn Error>> {
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
