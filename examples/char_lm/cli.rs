//! The command line: the options, their defaults, and the checks on their values.

use std::error::Error;
use std::path::PathBuf;

use crate::support::{self, Long, at_least, positive, within};

/// Settings from the command line.
pub struct Options {
    /// The text to learn.
    pub data: PathBuf,
    /// Optimizer steps.
    pub steps: usize,
    /// Windows per step.
    pub batch: usize,
    /// Characters per window, and the longest context the model reads.
    pub context: usize,
    /// The model's width.
    pub width: usize,
    /// Attention heads.
    pub heads: usize,
    /// The MLPs' hidden width.
    pub mlp: usize,
    /// Transformer blocks.
    pub blocks: usize,
    /// Dropout while training.
    pub dropout: f64,
    /// The peak learning rate, reached after the warm-up and decayed along a cosine to a tenth
    /// of it by the last step.
    pub lr: f64,
    /// Steps of linear warm-up.
    pub warmup: usize,
    /// AdamW's decoupled weight decay on the projection matrices.
    pub weight_decay: f64,
    /// The largest global gradient norm; larger gradients are scaled down to it.
    pub clip: f64,
    /// Steps between two estimates of the training and validation losses.
    pub eval_every: usize,
    /// Seeds the weights, the windows, dropout and sampling.
    pub seed: u64,
    /// Where the loss curves and the checkpoint go, and where `--generate` reads it.
    pub out: PathBuf,
    /// The text the sample continues after training.
    pub prompt: String,
    /// Characters to sample.
    pub length: usize,
    /// Divides the logits before sampling: below 1, safer choices.
    pub temperature: f64,
    /// Sample from the saved model after this prompt instead of training.
    pub generate: Option<String>,
}

const USAGE: &str = "\
usage: char_lm [OPTIONS]

Trains a small character-level transformer on tiny Shakespeare, reports its loss in nats per
character beside a count-based bigram model's, writes the loss curves and the checkpoint to the
output folder, and samples text from it.

options:
  --steps N           optimizer steps (default 2000)
  --batch N           windows per step (default 16)
  --context N         characters per window (default 64)
  --width N           model width (default 128)
  --heads N           attention heads (default 4)
  --mlp N             hidden width of the MLPs (default 512)
  --blocks N          transformer blocks (default 2)
  --dropout P         dropout while training (default 0)
  --lr F              peak learning rate (default 0.003)
  --warmup N          steps of linear warm-up (default 100)
  --weight-decay F    AdamW weight decay on the projection matrices (default 0.1)
  --clip F            largest global gradient norm (default 1)
  --eval-every N      steps between loss estimates (default 250)
  --seed N            seed of the weights, windows, dropout and sampling (default 1337)
  --data FILE         the text (default: examples/data/tinyshakespeare.txt)
  --out DIR           output folder (default: the current folder)
  --prompt TEXT       what the sample after training continues (default \"ROMEO:\")
  --length N          characters to sample (default 400)
  --temperature F     sampling temperature (default 0.8)
  --generate PROMPT   load the saved model and sample after PROMPT, without training
  -h, --help          this text";

/// The options of this process's command line; `--help` prints the usage and exits.
pub fn parse() -> Result<Options, Box<dyn Error>> {
    let mut o = Options {
        data: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data/tinyshakespeare.txt"),
        steps: 2000,
        batch: 16,
        context: 64,
        width: 128,
        heads: 4,
        mlp: 512,
        blocks: 2,
        dropout: 0.0,
        lr: 3e-3,
        warmup: 100,
        weight_decay: 0.1,
        clip: 1.0,
        eval_every: 250,
        seed: 1337,
        out: PathBuf::from("."),
        prompt: "ROMEO:".into(),
        length: 400,
        temperature: 0.8,
        generate: None,
    };
    let mut args = support::Args::new(USAGE);
    while let Some(arg) = args.next()? {
        match arg {
            Long("steps") => o.steps = args.value_with(|t| at_least(t, 1))?,
            Long("batch") => o.batch = args.value_with(|t| at_least(t, 1))?,
            Long("context") => o.context = args.value_with(|t| at_least(t, 1))?,
            Long("width") => o.width = args.value_with(|t| at_least(t, 1))?,
            Long("heads") => o.heads = args.value_with(|t| at_least(t, 1))?,
            Long("mlp") => o.mlp = args.value_with(|t| at_least(t, 1))?,
            Long("blocks") => o.blocks = args.value()?,
            Long("dropout") => o.dropout = args.value_with(|t| within(t, 0.0, 1.0))?,
            Long("lr") => o.lr = args.value_with(positive)?,
            Long("warmup") => o.warmup = args.value()?,
            Long("weight-decay") => {
                o.weight_decay = args.value_with(|t| within(t, 0.0, f64::MAX))?
            }
            Long("clip") => o.clip = args.value_with(positive)?,
            Long("eval-every") => o.eval_every = args.value_with(|t| at_least(t, 1))?,
            Long("seed") => o.seed = args.value()?,
            Long("data") => o.data = args.text()?.into(),
            Long("out") => o.out = args.text()?.into(),
            Long("prompt") => o.prompt = args.text()?,
            Long("length") => o.length = args.value()?,
            Long("temperature") => o.temperature = args.value_with(positive)?,
            Long("generate") => o.generate = Some(args.text()?),
            _ => return Err(support::unexpected(arg)),
        }
    }
    if !o.width.is_multiple_of(o.heads) {
        return Err(format!("--heads {} must divide --width {}", o.heads, o.width).into());
    }
    Ok(o)
}
