//! The network, and its checkpoint: the weights, with the hidden widths and the scaler beside
//! them, so that `--predict` can rebuild both from the file alone.

use std::error::Error;
use std::path::Path;

use rand::SeedableRng;
use rand::rngs::StdRng;
use surefire::nn;
use surefire::prelude::*;

use crate::cohort::Scaler;

/// The checkpoint's file name in the output folder.
pub const CHECKPOINT: &str = "lung_disease.safetensors";

/// Four inputs, the `hidden` layers, one output, with a sigmoid after every layer.
pub fn new(hidden: &[usize], rng: &mut StdRng) -> Mlp {
    Mlp::new(&sizes(hidden), Activation::Sigmoid, rng)
}

/// The layer widths as the report writes them: `4-8-1`.
pub fn architecture(hidden: &[usize]) -> String {
    let sizes: Vec<String> = sizes(hidden).iter().map(usize::to_string).collect();
    sizes.join("-")
}

fn sizes(hidden: &[usize]) -> Vec<usize> {
    std::iter::once(4)
        .chain(hidden.iter().copied())
        .chain([1])
        .collect()
}

/// Writes the weights to `path`, with the hidden widths and the scaler as metadata.
pub fn save(
    model: &Mlp,
    hidden: &[usize],
    scaler: &Scaler,
    path: &Path,
) -> Result<(), Box<dyn Error>> {
    let [mean, std] = scaler.to_metadata();
    let hidden = hidden
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",");
    nn::save_with_metadata(
        model,
        path,
        &[("hidden", &hidden), ("mean", &mean), ("std", &std)],
    )?;
    Ok(())
}

/// The network and the scaler that [`save`] wrote to `path`.
pub fn load(path: &Path) -> Result<(Mlp, Scaler), Box<dyn Error>> {
    let meta = nn::read_metadata(path)
        .map_err(|e| format!("{e}\n(train first: cargo run --release --example lung_disease)"))?;
    let field = |key: &str| {
        meta.get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("{} has no {key:?} entry", path.display()))
    };
    let hidden: Vec<usize> = field("hidden")?
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let scaler = Scaler::from_metadata(field("mean")?, field("std")?)?;
    // The seed does not matter: loading overwrites every weight.
    let model = new(&hidden, &mut StdRng::seed_from_u64(0));
    nn::load(&model, path)?;
    Ok((model, scaler))
}
