//! The model: a small decoder-only transformer over characters (GPT's layout with pre-norm
//! blocks), its configuration as checkpoint metadata, and sampling from it.

use std::error::Error;
use std::path::Path;

use rand::RngExt;
use rand::rngs::StdRng;
use surefire::nn::{self, Dropout, Embedding, LayerNorm, MultiHeadAttention, prefixed_by_name};
use surefire::prelude::*;
use surefire::tensor::Result;

/// The sizes of the model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    /// Distinct characters.
    pub vocabulary: usize,
    /// The longest window the model reads (its position embeddings).
    pub context: usize,
    /// The width of every position's vector.
    pub width: usize,
    /// Attention heads per block.
    pub heads: usize,
    /// The hidden width of each block's MLP.
    pub mlp: usize,
    /// Transformer blocks.
    pub blocks: usize,
    /// Dropout after the embeddings, the attention and the MLP while training.
    pub dropout: f64,
}

impl Config {
    /// The configuration as checkpoint metadata.
    pub fn to_metadata(self) -> Vec<(&'static str, String)> {
        vec![
            ("vocabulary", self.vocabulary.to_string()),
            ("context", self.context.to_string()),
            ("width", self.width.to_string()),
            ("heads", self.heads.to_string()),
            ("mlp", self.mlp.to_string()),
            ("blocks", self.blocks.to_string()),
            ("dropout", self.dropout.to_string()),
        ]
    }

    /// The configuration [`to_metadata`](Config::to_metadata) stored, read back by `field`.
    pub fn from_metadata(
        field: impl Fn(&str) -> Result<String, Box<dyn Error>>,
    ) -> Result<Self, Box<dyn Error>> {
        let number = |key: &str| -> Result<usize, Box<dyn Error>> {
            field(key)?
                .parse()
                .map_err(|e| format!("the checkpoint's {key:?}: {e}").into())
        };
        Ok(Config {
            vocabulary: number("vocabulary")?,
            context: number("context")?,
            width: number("width")?,
            heads: number("heads")?,
            mlp: number("mlp")?,
            blocks: number("blocks")?,
            dropout: field("dropout")?.parse()?,
        })
    }
}

/// `x + attention(norm(x))`, then `x + mlp(norm(x))`.
struct Block {
    attention_norm: LayerNorm,
    attention: MultiHeadAttention,
    mlp_norm: LayerNorm,
    expand: Dense,
    contract: Dense,
    dropout: Dropout<StdRng>,
}

impl Block {
    fn new(config: &Config, rng: &mut StdRng) -> Self {
        Block {
            attention_norm: LayerNorm::new(&[config.width]),
            attention: MultiHeadAttention::new(config.width, config.heads, rng).causal(true),
            mlp_norm: LayerNorm::new(&[config.width]),
            expand: Dense::new(config.width, config.mlp, Activation::Gelu, rng),
            contract: Dense::new(config.mlp, config.width, Activation::Identity, rng),
            dropout: Dropout::new(
                config.dropout,
                rand::SeedableRng::seed_from_u64(rng.random()),
            ),
        }
    }

    fn try_forward(&self, x: &Tensor) -> Result<Tensor> {
        let attended = self
            .attention
            .try_forward(&self.attention_norm.try_forward(x)?)?;
        let x = x.try_add(&self.dropout.try_forward(&attended)?)?;
        let hidden = self.expand.try_forward(&self.mlp_norm.try_forward(&x)?)?;
        let mlp = self
            .dropout
            .try_forward(&self.contract.try_forward(&hidden)?)?;
        x.try_add(&mlp)
    }

    fn named_parameters(&self) -> Vec<(String, Parameter)> {
        prefixed_by_name([
            ("attention_norm", self.attention_norm.named_parameters()),
            ("attention", self.attention.named_parameters()),
            ("mlp_norm", self.mlp_norm.named_parameters()),
            ("expand", self.expand.named_parameters()),
            ("contract", self.contract.named_parameters()),
        ])
    }
}

/// Token and position embeddings, the blocks, a final norm and the projection to one logit
/// per character: ids `[batch, length]` in, logits `[batch, length, vocabulary]` out, each
/// position seeing only itself and the positions before it.
pub struct CharTransformer {
    config: Config,
    tokens: Embedding,
    positions: Embedding,
    dropout: Dropout<StdRng>,
    blocks: Vec<Block>,
    norm: LayerNorm,
    head: Dense,
}

impl CharTransformer {
    /// A model of `config` with fresh weights from `rng`.
    pub fn new(config: Config, rng: &mut StdRng) -> Self {
        CharTransformer {
            config,
            tokens: Embedding::new(config.vocabulary, config.width, rng),
            positions: Embedding::new(config.context, config.width, rng),
            dropout: Dropout::new(
                config.dropout,
                rand::SeedableRng::seed_from_u64(rng.random()),
            ),
            blocks: (0..config.blocks)
                .map(|_| Block::new(&config, rng))
                .collect(),
            norm: LayerNorm::new(&[config.width]),
            head: Dense::new(config.width, config.vocabulary, Activation::Identity, rng),
        }
    }

    /// The parameters weight decay applies to, then the others: the projections' matrices
    /// decay; the embeddings, the norms' gains and the biases do not (GPT-2's grouping).
    pub fn decay_groups(&self) -> (Vec<Parameter>, Vec<Parameter>) {
        let (mut decayed, mut kept) = (Vec::new(), Vec::new());
        for (name, p) in self.named_parameters() {
            let embedding = name.starts_with("tokens.") || name.starts_with("positions.");
            if name.ends_with("weight") && p.shape().len() == 2 && !embedding {
                decayed.push(p);
            } else {
                kept.push(p);
            }
        }
        (decayed, kept)
    }
}

impl Module<f32, Tensor<i64>> for CharTransformer {
    fn try_forward(&self, ids: &Tensor<i64>) -> Result<Tensor> {
        let length = ids.shape().last().copied().unwrap_or(0);
        if ids.ndim() != 2 || length == 0 || length > self.config.context {
            return Err(TensorError::InvalidArgument {
                op: "CharTransformer",
                message: format!(
                    "expected ids [batch, length] with length 1..={}, got {:?}",
                    self.config.context,
                    ids.shape()
                ),
            });
        }
        let here = Tensor::<i64>::arange(0, length as i64, 1);
        let mut x = self
            .tokens
            .try_forward(ids)?
            .try_add(&self.positions.try_forward(&here)?)?;
        x = self.dropout.try_forward(&x)?;
        for block in &self.blocks {
            x = block.try_forward(&x)?;
        }
        self.head.try_forward(&self.norm.try_forward(&x)?)
    }

    fn named_parameters(&self) -> Vec<(String, Parameter)> {
        let blocks = self.blocks.iter().enumerate();
        let mut named = prefixed_by_name([
            ("tokens", self.tokens.named_parameters()),
            ("positions", self.positions.named_parameters()),
        ]);
        named.extend(prefixed_by_name(
            blocks.map(|(i, b)| (format!("blocks.{i}"), b.named_parameters())),
        ));
        named.extend(prefixed_by_name([
            ("norm", self.norm.named_parameters()),
            ("head", self.head.named_parameters()),
        ]));
        named
    }

    fn set_training(&self, training: bool) {
        self.dropout.set_training(training);
        for block in &self.blocks {
            block.dropout.set_training(training);
        }
    }
}

/// The mean cross-entropy of the model's logits for `inputs` against `targets`, both
/// `[batch, length]`, in nats per character.
pub fn loss(
    model: &CharTransformer,
    inputs: &Tensor<i64>,
    targets: &Tensor<i64>,
) -> Result<Tensor> {
    let logits = model.try_forward(inputs)?;
    let rows = targets.numel();
    nn::try_cross_entropy(
        &logits.try_reshape(&[rows, model.config.vocabulary])?,
        &targets.try_flatten()?,
        Reduction::Mean,
    )
}

/// `length` ids drawn one at a time after `prompt`, each from the model's distribution for
/// the next character (its logits divided by `temperature`) given at most the last `context`
/// ids, with `rng`.
pub fn sample(
    model: &CharTransformer,
    prompt: &[i64],
    length: usize,
    temperature: f64,
    rng: &mut StdRng,
) -> Result<Vec<i64>> {
    model.eval();
    let mut ids = prompt.to_vec();
    no_grad(|| {
        for _ in 0..length {
            let start = ids.len().saturating_sub(model.config.context);
            let window = Tensor::from_vec(ids[start..].to_vec(), &[1, ids.len() - start])?;
            let logits = model.try_forward(&window)?;
            let last = logits.try_narrow(1, window.numel() - 1, 1)?;
            let probs = last
                .try_div_scalar(temperature as f32)?
                .try_softmax(-1)?
                .to_vec();
            let draw: f32 = rng.random();
            let mut total = 0.0;
            // The last character when rounding leaves the draw above the summed chances.
            let mut next = probs.len() - 1;
            for (id, p) in probs.iter().enumerate() {
                total += p;
                if draw < total {
                    next = id;
                    break;
                }
            }
            ids.push(next as i64);
        }
        Ok(ids[prompt.len()..].to_vec())
    })
}

/// Writes the weights to `path` with the configuration and the vocabulary as metadata.
pub fn save(model: &CharTransformer, vocabulary: &str, path: &Path) -> Result<(), Box<dyn Error>> {
    let mut metadata = model.config.to_metadata();
    metadata.push(("characters", vocabulary.to_string()));
    let pairs: Vec<(&str, &str)> = metadata.iter().map(|(k, v)| (*k, v.as_str())).collect();
    nn::save_with_metadata(model, path, &pairs)?;
    Ok(())
}

/// The model and the vocabulary that [`save`] wrote to `path`.
pub fn load(path: &Path) -> Result<(CharTransformer, String), Box<dyn Error>> {
    let meta = nn::read_metadata(path)
        .map_err(|e| format!("{e}\n(train first: cargo run --release --example char_lm)"))?;
    let field = |key: &str| -> Result<String, Box<dyn Error>> {
        meta.get(key)
            .cloned()
            .ok_or_else(|| format!("{} has no {key:?} entry", path.display()).into())
    };
    let config = Config::from_metadata(field)?;
    let characters = field("characters")?;
    // The seed does not matter: loading overwrites every weight.
    let model = CharTransformer::new(config, &mut rand::SeedableRng::seed_from_u64(0));
    nn::load(&model, path)?;
    Ok((model, characters))
}
