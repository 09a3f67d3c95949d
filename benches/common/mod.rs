//! The benchmark workloads, shared by `benches/workloads.rs` (criterion) and
//! `examples/perf_report.rs` (the one-command comparison).
//!
//! Every training step is forward + MSE loss + backward + SGD update in f32, on data from a
//! seeded generator, with weights and biases drawn from U(-1/√in, 1/√in) (PyTorch's `Linear`
//! default). Each network is trained three ways ([`Way`]), from the same initial weights.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use surefire::nn::init::{Fans, Init};
use surefire::nn::{Activation, Dense, Module, Sequential, mse_loss};
use surefire::optim::{Optimizer, Sgd};
use surefire::tensor::{Parameter, Tensor};

pub mod lenet;
pub mod transformer;

/// How a training step is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// What a user writes first: layers as `(h.matmul(&w) + &b).sigmoid()` over their own
    /// parameters, and the loop `let loss = ..; let grads = loss.backward(); opt.step(&grads);
    /// total += loss.item();`, with no setup call.
    Natural,
    /// `nn::Dense` layers in a `Sequential`, in the same loop.
    Modules,
    /// The fastest path the crate offers: `nn::Dense` (its fused `linear`), the loss read and
    /// dropped before the step.
    Fastest,
}

impl Way {
    pub const ALL: [Way; 3] = [Way::Natural, Way::Modules, Way::Fastest];

    pub fn name(self) -> &'static str {
        match self {
            Way::Natural => "natural",
            Way::Modules => "modules",
            Way::Fastest => "fastest",
        }
    }
}

/// Layers written out by hand: `h = (h.matmul(&w) + &b).sigmoid()` for each `(w, b)`.
pub struct Textbook {
    pub layers: Vec<(Parameter<f32>, Parameter<f32>)>,
}

impl Textbook {
    pub fn forward(&self, x: &Tensor<f32>) -> Tensor<f32> {
        let mut h = x.clone();
        for (w, b) in &self.layers {
            h = (h.matmul(&w.tensor()) + &b.tensor()).sigmoid();
        }
        h
    }

    pub fn parameters(&self) -> Vec<Parameter<f32>> {
        self.layers
            .iter()
            .flat_map(|(w, b)| [w.clone(), b.clone()])
            .collect()
    }
}

/// The network of one workload, in one of its two spellings.
pub enum Model {
    Textbook(Textbook),
    Modules(Sequential<f32>),
}

impl Model {
    pub fn forward(&self, x: &Tensor<f32>) -> Tensor<f32> {
        match self {
            Model::Textbook(m) => m.forward(x),
            Model::Modules(m) => m.forward(x),
        }
    }

    pub fn parameters(&self) -> Vec<Parameter<f32>> {
        match self {
            Model::Textbook(m) => m.parameters(),
            Model::Modules(m) => m.parameters(),
        }
    }
}

/// One of the benchmark's networks with its data and optimizer.
pub struct MlpStep {
    pub way: Way,
    pub model: Model,
    pub opt: Sgd<f32>,
    pub x: Tensor<f32>,
    pub y: Tensor<f32>,
    pub sizes: Vec<usize>,
    pub batch: usize,
    /// The running sum of the losses, as a training loop keeps it.
    pub total: f32,
}

impl MlpStep {
    /// Dense layers of widths `sizes`, sigmoid after each, on a batch of `batch` random
    /// inputs with one-hot targets (a single output gets targets in {0, 1}), written `way`.
    pub fn new(way: Way, sizes: &[usize], batch: usize, lr: f64, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut layers = Vec::new();
        for pair in sizes.windows(2) {
            let fans = Fans {
                fan_in: pair[0],
                fan_out: pair[1],
            };
            let init = Init::PytorchLinear;
            let w = init.sample(&[pair[0], pair[1]], fans, &mut rng);
            let b = init.sample(&[pair[1]], fans, &mut rng);
            layers.push((
                Parameter::new(w.expect("valid sizes")),
                Parameter::new(b.expect("valid sizes")),
            ));
        }
        let model = match way {
            Way::Natural => Model::Textbook(Textbook { layers }),
            Way::Modules | Way::Fastest => {
                let mut seq = Sequential::new();
                for (w, b) in layers {
                    let layer = Dense::from_parameters(w, Some(b), Activation::Sigmoid);
                    seq = seq.push(layer.expect("a weight and a bias that fit"));
                }
                Model::Modules(seq)
            }
        };
        let x = Tensor::rand_uniform(&[batch, sizes[0]], -1.0, 1.0, &mut rng);
        let classes = *sizes.last().expect("at least two sizes");
        let mut targets = vec![0.0f32; batch * classes];
        for row in 0..batch {
            let class = (row * 7 + 3) % classes.max(2);
            if classes == 1 {
                targets[row] = (class % 2) as f32;
            } else {
                targets[row * classes + class] = 1.0;
            }
        }
        let y = Tensor::from_vec(targets, &[batch, classes]).expect("one target per output");
        let opt = Sgd::new(model.parameters(), lr);
        MlpStep {
            way,
            model,
            opt,
            x,
            y,
            sizes: sizes.to_vec(),
            batch,
            total: 0.0,
        }
    }

    /// One training step, written as its [`Way`] says; returns the loss before the update.
    pub fn step(&mut self) -> f32 {
        match self.way {
            Way::Natural | Way::Modules => {
                let loss = mse_loss(&self.model.forward(&self.x), &self.y);
                let grads = loss.backward();
                self.opt.step(&grads);
                let value = loss.item();
                self.total += value;
                value
            }
            Way::Fastest => {
                let (value, grads) = {
                    let loss = mse_loss(&self.model.forward(&self.x), &self.y);
                    (loss.item(), loss.backward())
                };
                self.opt.step(&grads);
                self.total += value;
                value
            }
        }
    }

    /// Forward and backward only (no update).
    pub fn backward_only(&self) -> usize {
        let loss = mse_loss(&self.model.forward(&self.x), &self.y);
        loss.backward().len()
    }

    /// The matrix products one step performs, as (m, k, n, lhs transposed, rhs transposed):
    /// the forward X·W of each layer, and backward dW = Xᵀ·G and dX = G·Wᵀ (none for the
    /// first layer, whose input needs no gradient).
    pub fn matmuls(&self) -> Vec<(usize, usize, usize, bool, bool)> {
        let b = self.batch;
        let mut shapes = Vec::new();
        for (i, pair) in self.sizes.windows(2).enumerate() {
            let (inputs, outputs) = (pair[0], pair[1]);
            shapes.push((b, inputs, outputs, false, false));
            shapes.push((inputs, b, outputs, true, false));
            if i > 0 {
                shapes.push((b, outputs, inputs, false, true));
            }
        }
        shapes
    }

    /// Floating-point operations of those products (2 m k n each).
    pub fn matmul_flops(&self) -> f64 {
        self.matmuls()
            .iter()
            .map(|&(m, k, n, _, _)| 2.0 * (m * k * n) as f64)
            .sum()
    }
}

/// The label of the square matrix products `A · B` (n = 64, 256, 1024).
pub const MATMUL: &str = "matmul n×n";
/// The label of [`mlp`]'s step.
pub const MLP: &str = "mlp 784-256-256-10 b128";
/// The label of [`neuron`]'s step.
pub const NEURON: &str = "neuron 4-1 b16";
/// The label of [`wide_mlp`]'s step.
pub const WIDE_MLP: &str = "wide mlp 1024-1024-1024-10 b256";

/// An MLP 784-256-256-10 at batch 128.
pub fn mlp(way: Way) -> MlpStep {
    MlpStep::new(way, &[784, 256, 256, 10], 128, 0.1, 2)
}
/// One sigmoid neuron, 4-1 at batch 16.
pub fn neuron(way: Way) -> MlpStep {
    MlpStep::new(way, &[4, 1], 16, 0.1, 3)
}
/// A wide MLP 1024-1024-1024-10 at batch 256.
pub fn wide_mlp(way: Way) -> MlpStep {
    MlpStep::new(way, &[1024, 1024, 1024, 10], 256, 0.1, 4)
}

/// Matrices for the kernel baseline: the same products called straight on the gemm kernel,
/// outputs preallocated, operands transposed through strides as the library does.
pub struct KernelBaseline {
    shapes: Vec<(usize, usize, usize, bool, bool)>,
    buffers: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)>,
    parallelism: gemm_common::Parallelism,
}

impl KernelBaseline {
    /// The products `shapes`, each run by gemm on its own threads: rayon's global pool,
    /// which [`baseline_threads`] makes include the calling thread.
    pub fn new(shapes: Vec<(usize, usize, usize, bool, bool)>) -> Self {
        Self::with_parallelism(shapes, gemm_common::Parallelism::Rayon(0))
    }

    /// The same, on the calling thread only.
    pub fn single_threaded(shapes: Vec<(usize, usize, usize, bool, bool)>) -> Self {
        Self::with_parallelism(shapes, gemm_common::Parallelism::None)
    }

    fn with_parallelism(
        shapes: Vec<(usize, usize, usize, bool, bool)>,
        parallelism: gemm_common::Parallelism,
    ) -> Self {
        let buffers = shapes
            .iter()
            .map(|&(m, k, n, _, _)| {
                (
                    vec![0.5f32; m * k],
                    vec![0.25f32; k * n],
                    vec![0.0f32; m * n],
                )
            })
            .collect();
        KernelBaseline {
            shapes,
            buffers,
            parallelism,
        }
    }

    /// Runs every product once.
    #[allow(unsafe_code)]
    pub fn run(&mut self) {
        let kernel = gemm_f32::gemm::f32::get_gemm_fn();
        for (&(m, k, n, ta, tb), (a, b, c)) in self.shapes.iter().zip(&mut self.buffers) {
            // Row-major A [m, k] (or its transpose stored [k, m]), B likewise; C row-major,
            // computed as the column-major Cᵀ = Bᵀ Aᵀ.
            let (a_cs, a_rs) = if ta { (m as isize, 1) } else { (1, k as isize) };
            let (b_cs, b_rs) = if tb { (k as isize, 1) } else { (1, n as isize) };
            // SAFETY: each buffer holds exactly the elements its strides address for the given
            // m, k, n; C is exclusively borrowed and distinct from A and B.
            unsafe {
                kernel(
                    n,
                    m,
                    k,
                    c.as_mut_ptr(),
                    n as isize,
                    1,
                    false,
                    b.as_ptr(),
                    b_rs,
                    b_cs,
                    a.as_ptr(),
                    a_rs,
                    a_cs,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    self.parallelism,
                );
            }
        }
    }
}

/// Gives the gemm baseline its threads: rayon's global pool, the calling thread among them,
/// so that the baseline pays no hand-off to sleeping threads. Call once, before any baseline
/// runs. surefire itself does not use rayon: this configures the baseline only.
pub fn baseline_threads() {
    // Fails only if the pool exists, in which case the baseline uses it as it is.
    let _ = rayon::ThreadPoolBuilder::new()
        .use_current_thread()
        .build_global();
}

/// Per-call times of several functions measured in interleaved rounds, from [`interleaved`].
pub struct Rounds {
    /// `times[round][f]`: the time per call of function `f` in that round.
    pub times: Vec<Vec<Duration>>,
}

impl Rounds {
    /// The median over the rounds of function `f`'s time.
    pub fn median(&self, f: usize) -> Duration {
        let mut t: Vec<Duration> = self.times.iter().map(|r| r[f]).collect();
        t.sort();
        t[t.len() / 2]
    }

    /// The fastest round of function `f`.
    pub fn fastest(&self, f: usize) -> Duration {
        self.times.iter().map(|r| r[f]).min().unwrap_or_default()
    }

    /// The median over the rounds of each round's `time(f) / time(g)`.
    pub fn ratio(&self, f: usize, g: usize) -> f64 {
        let mut r: Vec<f64> = self
            .times
            .iter()
            .map(|r| r[f].as_secs_f64() / r[g].as_secs_f64())
            .collect();
        r.sort_by(f64::total_cmp);
        r[r.len() / 2]
    }

    /// The lowest and highest of those ratios.
    pub fn ratio_range(&self, f: usize, g: usize) -> (f64, f64) {
        let r = self
            .times
            .iter()
            .map(|r| r[f].as_secs_f64() / r[g].as_secs_f64());
        r.fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        })
    }
}

/// Times `fns` over `rounds` rounds, each round running a batch of every function in turn,
/// each batch lasting about `per_batch`. Interleaved so, a burst of load from elsewhere on a
/// shared machine falls on all of them, and ratios are taken round by round.
pub fn interleaved(fns: &mut [&mut dyn FnMut()], per_batch: Duration, rounds: usize) -> Rounds {
    let mut batches: Vec<Batch> = fns.iter_mut().map(|f| Batch::new(*f, per_batch)).collect();
    let times = (0..rounds)
        .map(|_| {
            fns.iter_mut()
                .zip(&mut batches)
                .map(|(f, batch)| batch.time(*f))
                .collect()
        })
        .collect();
    Rounds { times }
}

/// How many calls of a function fill a batch.
struct Batch {
    calls: u32,
}

impl Batch {
    /// Warms `f` up and sizes its batches to last about `target`.
    fn new(f: &mut dyn FnMut(), target: Duration) -> Self {
        let start = Instant::now();
        let mut calls = 0u32;
        while start.elapsed() < target || calls < 3 {
            f();
            calls += 1;
        }
        let per_call = start.elapsed() / calls;
        let calls = ((target.as_secs_f64() / per_call.as_secs_f64().max(1e-9)) as u32).max(1);
        Batch { calls }
    }

    /// The time per call of one batch of `f`.
    fn time(&mut self, f: &mut dyn FnMut()) -> Duration {
        let t = Instant::now();
        for _ in 0..self.calls {
            f();
        }
        t.elapsed() / self.calls
    }
}
