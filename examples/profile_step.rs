//! Runs one workload's training step in a loop, for a profiler:
//!
//! ```sh
//! cargo build --profile profiling --example profile_step
//! perf record -g ./target/profiling/examples/profile_step mlp 2000
//! ```
//!
//! The first argument picks the workload (`mlp`, the default, `neuron` or `wide`), the second the
//! number of steps (default 1000), the third how the step is written (`natural`, the default,
//! `modules` or `fastest`).

#[path = "../benches/common/mod.rs"]
mod common;
mod support;

use std::error::Error;

use common::{MlpStep, Way};

const USAGE: &str = "\
usage: profile_step [WORKLOAD [STEPS [WAY]]]

Runs one workload's training step STEPS times and prints the time per step, for a profiler.

arguments:
  WORKLOAD     mlp (784-256-256-10), neuron (4-1) or wide (1024-1024-1024-10); default mlp
  STEPS        how many steps (default 1000)
  WAY          natural, modules or fastest (default natural)
  -h, --help   this text";

fn main() -> std::process::ExitCode {
    support::run(|| {
        let (mut work, steps) = parse_args()?;
        let start = std::time::Instant::now();
        for _ in 0..steps {
            work.step();
        }
        eprintln!("{:?} per step", start.elapsed() / steps);
        Ok(())
    })
}

/// The workload, built the chosen way, and the number of steps.
fn parse_args() -> Result<(MlpStep, u32), Box<dyn Error>> {
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
    let workload: fn(Way) -> MlpStep = match text(0).unwrap_or("mlp") {
        "mlp" => common::mlp,
        "neuron" => common::neuron,
        "wide" => common::wide_mlp,
        other => return Err(format!("WORKLOAD {other:?}: expected mlp, neuron or wide").into()),
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
    Ok((workload(way), steps))
}
