//! The character transformer's training step, `transformer b16 L64 w128`: the `char_lm`
//! example's model (batch 16, sequence 64, width 128, 4 heads, MLP 512, 2 blocks, vocabulary
//! 65, f32) with the example's own step: cross-entropy, backward, gradient clipping and AdamW.
//! The model is the example's file itself, so the benchmark times the code a user runs.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use surefire::nn::Module;
use surefire::optim::{AdamW, Optimizer, clip_grad_norm};
use surefire::tensor::{Parameter, Tensor};

#[path = "../../examples/char_lm/model.rs"]
mod model;

use model::{CharTransformer, Config};

/// The label of the workload.
pub const TRANSFORMER: &str = "transformer b16 L64 w128";

/// The step's sizes.
pub const CONFIG: Config = Config {
    vocabulary: 65,
    context: 64,
    width: 128,
    heads: 4,
    mlp: 512,
    blocks: 2,
    dropout: 0.0,
};

/// Windows per step.
pub const BATCH: usize = 16;

/// One training step of the character transformer on a fixed batch of random ids.
pub struct TransformerStep {
    model: CharTransformer,
    params: Vec<Parameter>,
    optimizers: [AdamW; 2],
    inputs: Tensor<i64>,
    targets: Tensor<i64>,
}

impl TransformerStep {
    /// The model with weights from a seeded generator, and a batch of random ids.
    pub fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let model = CharTransformer::new(CONFIG, &mut rng);
        let (decayed, kept) = model.decay_groups();
        let optimizers = [
            AdamW::new(decayed, 1e-3).weight_decay(0.1),
            AdamW::new(kept, 1e-3).weight_decay(0.0),
        ];
        let mut ids = |_| {
            let n = BATCH * CONFIG.context;
            let data = (0..n)
                .map(|_| rng.random_range(0..CONFIG.vocabulary as i64))
                .collect();
            Tensor::from_vec(data, &[BATCH, CONFIG.context]).expect("ids for every position")
        };
        let (inputs, targets) = (ids(0), ids(1));
        TransformerStep {
            params: model.parameters(),
            model,
            optimizers,
            inputs,
            targets,
        }
    }

    /// Forward, loss, backward, clipping and the update; returns the loss.
    pub fn step(&mut self) -> f32 {
        let loss = model::loss(&self.model, &self.inputs, &self.targets).expect("fits");
        let mut grads = loss.backward();
        clip_grad_norm(&mut grads, &self.params, 1.0);
        for opt in &mut self.optimizers {
            opt.step(&grads);
        }
        loss.item()
    }

    /// The step's matrix products as `(m, k, n, a transposed, b transposed)`: per block the
    /// q, k, v and output projections and the two MLP layers (`x · W` forward; `xᵀ · g` and
    /// `g · Wᵀ` backward), and per head of each window the scores `q · kᵀ` and the weighted
    /// values `p · v` with their backward products; then the head's projection to logits.
    pub fn matmuls(&self) -> Vec<(usize, usize, usize, bool, bool)> {
        let c = CONFIG;
        let rows = BATCH * c.context;
        let (l, d) = (c.context, c.width / c.heads);
        let mut shapes = Vec::new();
        let mut linear = |inputs: usize, outputs: usize| {
            shapes.push((rows, inputs, outputs, false, false));
            shapes.push((inputs, rows, outputs, true, false));
            shapes.push((rows, outputs, inputs, false, true));
        };
        for _ in 0..c.blocks {
            for _ in 0..4 {
                linear(c.width, c.width);
            }
            linear(c.width, c.mlp);
            linear(c.mlp, c.width);
        }
        linear(c.width, c.vocabulary);
        for _ in 0..c.blocks * BATCH * c.heads {
            // s = q · kᵀ, then dq = g · k and dk = gᵀ · q
            shapes.push((l, d, l, false, true));
            shapes.push((l, l, d, false, false));
            shapes.push((l, l, d, true, false));
            // o = p · v, then dp = g · vᵀ and dv = pᵀ · g
            shapes.push((l, l, d, false, false));
            shapes.push((l, d, l, false, true));
            shapes.push((l, l, d, true, false));
        }
        shapes
    }
}
