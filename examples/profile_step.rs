//! Runs one workload's training step in a loop, for a profiler:
//!
//! ```sh
//! cargo build --profile profiling --example profile_step
//! perf record -g ./target/profiling/examples/profile_step mlp 2000
//! ```
//!
//! The first argument picks the workload (`mlp`, the default, `neuron`, `wide`,
//! `transformer` or `lenet`), the second the number of steps (default 1000), the third how an MLP step is
//! written (`natural`, the default, `modules` or `fastest`).

#[path = "../benches/common/mod.rs"]
mod common;
mod support;

use std::error::Error;

use common::lenet::LenetStep;
use common::transformer::TransformerStep;
use common::{MlpStep, Way};

const USAGE: &str = "\
usage: profile_step [WORKLOAD [STEPS [WAY]]]

Runs one workload's training step STEPS times and prints the time per step, for a profiler.

arguments:
  WORKLOAD     mlp (784-256-256-10), neuron (4-1), wide (1024-1024-1024-10), transformer
               (the char_lm example's step) or lenet (LeNet-5, batch 64); default mlp
  STEPS        how many steps (default 1000)
  WAY          natural, modules or fastest, for the MLPs (default natural)
  -h, --help   this text";

fn main() -> std::process::ExitCode {
    support::run(|| {
        let (mut step, steps) = parse_args()?;
        let start = std::time::Instant::now();
        for _ in 0..steps {
            step();
        }
        eprintln!("{:?} per step", start.elapsed() / steps);
        Ok(())
    })
}

/// One training step of a workload; returns the loss.
type Step = Box<dyn FnMut() -> f32>;

/// The workload's step, built the chosen way, and the number of steps.
fn parse_args() -> Result<(Step, u32), Box<dyn Error>> {
    let mut positional = Vec::new();
    let mut args = support::Args::new(USAGE);
    while let Some(arg) = args.next()? {
        match arg {
            support::Value(value) if positional.len() < 3 => positional.push(
                value
                    .into_string()
                    .map_err(|raw| format!("{raw:?} is not valid UTF-8"))?,
            ),
            _ => return Err(support::unexpected(arg)),
        }
    }
    let text = |i: usize| positional.get(i).map(String::as_str);
    // `Err`: the transformer or LeNet-5, which have one way each.
    let workload: Result<fn(Way) -> MlpStep, &str> = match text(0).unwrap_or("mlp") {
        "mlp" => Ok(common::mlp),
        "neuron" => Ok(common::neuron),
        "wide" => Ok(common::wide_mlp),
        name @ ("transformer" | "lenet") => Err(name),
        other => {
            return Err(format!(
                "WORKLOAD {other:?}: expected mlp, neuron, wide, transformer or lenet"
            )
            .into());
        }
    };
    let steps = match text(1) {
        None => 1000,
        Some(n) => match n.parse::<u32>() {
            Ok(steps) if steps > 0 => steps,
            _ => return Err(format!("STEPS {n:?}: expected a whole number above 0").into()),
        },
    };
    let way = match text(2) {
        None => Way::Natural,
        Some(name) => Way::ALL
            .into_iter()
            .find(|way| way.name() == name)
            .ok_or_else(|| format!("WAY {name:?}: expected natural, modules or fastest"))?,
    };
    Ok(match workload {
        Ok(make) => {
            let mut work = make(way);
            (Box::new(move || work.step()), steps)
        }
        Err("lenet") => {
            let mut work = LenetStep::new(5);
            (Box::new(move || work.step()), steps)
        }
        Err(_) => {
            let mut work = TransformerStep::new(5);
            (Box::new(move || work.step()), steps)
        }
    })
}
