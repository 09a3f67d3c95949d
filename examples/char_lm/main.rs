//! A character-level language model: a small decoder-only transformer (token and position
//! embeddings, pre-norm blocks of causal self-attention and a GELU MLP) learns tiny
//! Shakespeare one character at a time, with AdamW, a warm-up then cosine learning rate, and
//! the gradients clipped to a global norm. The baseline is a count-based bigram model on the
//! same split: whatever the transformer learns beyond the previous character shows as the gap
//! between the two losses.
//!
//! ```sh
//! cargo run --release --example char_lm                          # train, report, sample
//! cargo run --release --example char_lm -- --generate "JULIET:"  # sample from the saved model
//! cargo run --release --example char_lm -- --help
//! ```
//!
//! This file is the training flow; beside it are the command line (`cli`), the text and the
//! bigram baseline (`data`), the transformer, its checkpoint and sampling (`model`), and the
//! loss curves (`plot`).

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod data;
mod model;
mod plot;

use std::error::Error;
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;
use surefire::optim::{
    CosineAnnealingLr, LinearLr, LrScheduler, Schedule, SequentialLr, clip_grad_norm,
};
use surefire::prelude::*;

use cli::Options;
use data::{Bigram, Corpus, Vocabulary};
use model::{CharTransformer, Config};
use plot::Curves;

/// The checkpoint's file name in the output folder.
const CHECKPOINT: &str = "char_lm.safetensors";

/// Windows per forward pass when measuring the validation loss.
const EVAL_BATCH: usize = 64;

fn main() -> std::process::ExitCode {
    support::run(|| {
        let options = cli::parse()?;
        match &options.generate {
            Some(prompt) => generate(&options, prompt),
            None => train(&options),
        }
    })
}

/// Trains the model, reports its losses beside the bigram baseline's, writes the curves and
/// the checkpoint, and samples from the trained model.
fn train(o: &Options) -> Result<(), Box<dyn Error>> {
    let text = std::fs::read_to_string(&o.data)
        .map_err(|e| format!("cannot read {}: {e}", o.data.display()))?;
    let corpus = Corpus::new(&text, o.context)?;
    let vocabulary = corpus.vocabulary.len();
    println!(
        "{}: {} characters ({vocabulary} distinct), {} for training, {} for validation",
        o.data
            .file_name()
            .map_or("text".into(), |n| n.to_string_lossy()),
        corpus.train.len() + corpus.validation.len(),
        corpus.train.len(),
        corpus.validation.len()
    );
    let baseline = Bigram::fit(&corpus.train, vocabulary).loss(&corpus.validation);
    println!("Bigram counts (add-one smoothing): {baseline:.4} nats per character on validation");

    // One generator, in a fixed order of use: the weights, the dropout seeds, the windows.
    let mut rng = StdRng::seed_from_u64(o.seed);
    let config = Config {
        vocabulary,
        context: o.context,
        width: o.width,
        heads: o.heads,
        mlp: o.mlp,
        blocks: o.blocks,
        dropout: o.dropout,
    };
    let model = CharTransformer::new(config, &mut rng);
    println!(
        "Transformer: {} pre-norm blocks, width {}, {} heads, MLP {}, context {}: {} parameters",
        o.blocks,
        o.width,
        o.heads,
        o.mlp,
        o.context,
        model.num_parameters()
    );
    println!(
        "AdamW (peak lr {}, weight decay {} on the projections), {} warm-up steps then cosine, \
         gradients clipped to norm {}, {} steps of {} windows\n",
        o.lr, o.weight_decay, o.warmup, o.clip, o.steps, o.batch
    );
    let curves = fit(&model, o, &corpus, &mut rng, baseline)?;
    let last = curves.points.last().map_or(f64::NAN, |p| p.2);

    std::fs::create_dir_all(&o.out)?;
    let svg = o.out.join("char_lm_loss.svg");
    plot::loss_curves(&svg, &curves)?;
    let checkpoint = o.out.join(CHECKPOINT);
    model::save(&model, &corpus.vocabulary.to_text(), &checkpoint)?;
    println!("\nWrote {} and {}", svg.display(), checkpoint.display());
    print_sample(&model, &corpus.vocabulary, o, &o.prompt)?;
    println!("validation loss: {last:.4} nats per character (bigram baseline: {baseline:.4})");
    Ok(())
}

/// The training loop, with a progress bar on a terminal and a line per evaluation. Returns the
/// losses at each evaluation.
fn fit(
    model: &CharTransformer,
    o: &Options,
    corpus: &Corpus,
    rng: &mut StdRng,
    baseline: f64,
) -> Result<Curves, Box<dyn Error>> {
    let (decayed, kept) = model.decay_groups();
    let adamw = |params, weight_decay| {
        AdamW::new(params, o.lr)
            .betas(0.9, 0.99)
            .weight_decay(weight_decay)
    };
    let mut optimizers = [adamw(decayed, o.weight_decay), adamw(kept, 0.0)];
    let mut schedulers: Vec<_> = optimizers
        .iter_mut()
        .map(|opt| LrScheduler::new(schedule(o), opt))
        .collect();
    let params = model.parameters();

    let interactive = std::io::stderr().is_terminal();
    let bar = if interactive {
        ProgressBar::new(o.steps as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(ProgressStyle::with_template(
        "{bar:40.cyan/blue} step {pos}/{len} {elapsed_precise}<{eta_precise} {msg}",
    )?);
    let mut points = Vec::new();
    let (mut since, mut count) = (0.0, 0);
    for step in 1..=o.steps {
        let (inputs, targets) = data::random_batch(&corpus.train, o.batch, o.context, rng)?;
        model.train();
        let loss = model::loss(model, &inputs, &targets)?;
        let mut grads = loss.try_backward()?;
        clip_grad_norm(&mut grads, &params, o.clip);
        for (opt, scheduler) in optimizers.iter_mut().zip(&mut schedulers) {
            opt.step(&grads);
            scheduler.step(opt);
        }
        since += f64::from(loss.item());
        count += 1;
        bar.inc(1);
        if step % o.eval_every == 0 || step == o.steps {
            let (train, validation) = (since / count as f64, validation_loss(model, corpus, o)?);
            (since, count) = (0.0, 0);
            points.push((step, train, validation));
            let line = format!(
                "step {step:>5}: training {train:.4}, validation {validation:.4} nats per character"
            );
            bar.set_message(format!("validation {validation:.4}"));
            if interactive {
                bar.println(line);
            } else {
                println!("{line}");
            }
        }
    }
    bar.finish_and_clear();
    Ok(Curves {
        points,
        bigram: baseline,
    })
}

/// Linear warm-up from a hundredth of the rate, then a cosine down to a tenth of it.
fn schedule(o: &Options) -> Box<dyn Schedule> {
    let cosine = Box::new(CosineAnnealingLr::new(
        (o.steps - o.warmup.min(o.steps)).max(1),
        o.lr / 10.0,
    ));
    if o.warmup == 0 {
        return cosine;
    }
    let warmup = Box::new(LinearLr::new(0.01, 1.0, o.warmup));
    Box::new(SequentialLr::new(vec![warmup, cosine], vec![o.warmup]))
}

/// The model's mean loss over every character of the validation text, read in consecutive
/// windows (each character predicted once, from the characters before it in its window).
fn validation_loss(
    model: &CharTransformer,
    corpus: &Corpus,
    o: &Options,
) -> Result<f64, Box<dyn Error>> {
    model.eval();
    let ids = &corpus.validation;
    let starts: Vec<usize> = (0..(ids.len() - 1) / o.context)
        .map(|w| w * o.context)
        .collect();
    let mut total = 0.0;
    for chunk in starts.chunks(EVAL_BATCH) {
        let (inputs, targets) = data::windows(ids, chunk, o.context)?;
        let loss = no_grad(|| model::loss(model, &inputs, &targets))?;
        total += f64::from(loss.item()) * chunk.len() as f64;
    }
    Ok(total / starts.len() as f64)
}

/// Prints `length` characters sampled after `prompt`, seeded by `--seed`.
fn print_sample(
    model: &CharTransformer,
    vocabulary: &Vocabulary,
    o: &Options,
    prompt: &str,
) -> Result<(), Box<dyn Error>> {
    let ids = vocabulary.encode(prompt)?;
    if ids.is_empty() {
        return Err("the prompt is empty: give it at least one character".into());
    }
    let mut rng = StdRng::seed_from_u64(o.seed);
    let sampled = model::sample(model, &ids, o.length, o.temperature, &mut rng)?;
    let text: String = sampled.into_iter().map(|id| vocabulary.char(id)).collect();
    println!(
        "\nSample (seed {}, temperature {}):\n\n{prompt}{text}\n",
        o.seed, o.temperature
    );
    Ok(())
}

/// Loads the checkpoint from `out` and samples after `prompt`.
fn generate(o: &Options, prompt: &str) -> Result<(), Box<dyn Error>> {
    let (model, characters) = model::load(&o.out.join(CHECKPOINT))?;
    let vocabulary = Vocabulary::from_text(&characters)?;
    print_sample(&model, &vocabulary, o, prompt)
}
