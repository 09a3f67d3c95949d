//! The command line: the options, their defaults, and the checks on their values.

use std::error::Error;
use std::path::PathBuf;

use crate::support::{self, Long, at_least, positive};

/// Settings from the command line.
pub struct Options {
    /// The digits' CSV.
    pub data: PathBuf,
    /// Passes over the training digits.
    pub epochs: usize,
    /// Digits per step.
    pub batch: usize,
    /// Adam's learning rate, for both models.
    pub lr: f64,
    /// Seeds the split, the weights and the order of the batches.
    pub seed: u64,
    /// Where the figures and the checkpoint go.
    pub out: PathBuf,
}

const USAGE: &str = "\
usage: digits_cnn [OPTIONS]

Trains a small CNN and an MLP on the same seeded 80/20 split of 1,797 handwritten 8×8 digits
(UCI), reports both test accuracies and the CNN's confusion matrix, draws the loss curves and
the digits the CNN gets wrong, and saves the CNN.

options:
  --epochs N    passes over the training digits (default 40)
  --batch N     digits per step (default 32)
  --lr F        Adam's learning rate (default 0.003)
  --seed N      seed of the split, the weights and the batches (default 7)
  --data FILE   the digits (default: examples/data/digits.csv)
  --out DIR     output folder (default: the current folder)
  -h, --help    this text";

/// The options of this process's command line; `--help` prints the usage and exits.
pub fn parse() -> Result<Options, Box<dyn Error>> {
    let mut o = Options {
        data: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data/digits.csv"),
        epochs: 40,
        batch: 32,
        lr: 3e-3,
        seed: 7,
        out: PathBuf::from("."),
    };
    let mut args = support::Args::new(USAGE);
    while let Some(arg) = args.next()? {
        match arg {
            Long("epochs") => o.epochs = args.value_with(|t| at_least(t, 1))?,
            Long("batch") => o.batch = args.value_with(|t| at_least(t, 1))?,
            Long("lr") => o.lr = args.value_with(positive)?,
            Long("seed") => o.seed = args.value()?,
            Long("data") => o.data = args.text()?.into(),
            Long("out") => o.out = args.text()?.into(),
            _ => return Err(support::unexpected(arg)),
        }
    }
    Ok(o)
}
