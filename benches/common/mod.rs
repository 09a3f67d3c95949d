//! The benchmark workloads, shared by `benches/workloads.rs` (criterion) and
//! `examples/perf_report.rs` (the one-command comparison).
//!
//! Every training step is forward + MSE loss + backward + SGD update in f32, on data from a
//! seeded generator, with weights and biases drawn from U(-1/√in, 1/√in) (PyTorch's `Linear`
//! default).
#![allow(dead_code)]

use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use surefire::nn::init::Init;
use surefire::nn::{Activation, Dense, Module, Sequential, mse_loss};
use surefire::optim::{Optimizer, Sgd};
use surefire::tensor::Tensor;

/// One of the benchmark's networks with its data and optimizer.
pub struct MlpStep {
    pub model: Sequential<f32>,
    pub opt: Sgd<f32>,
    pub x: Tensor<f32>,
    pub y: Tensor<f32>,
    pub sizes: Vec<usize>,
    pub batch: usize,
}

impl MlpStep {
    /// Dense layers of widths `sizes`, sigmoid after each, on a batch of `batch` random
    /// inputs with one-hot targets (a single output gets targets in {0, 1}).
    pub fn new(sizes: &[usize], batch: usize, lr: f64, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut model = Sequential::new();
        for pair in sizes.windows(2) {
            let layer = Dense::try_with_init(
                pair[0],
                pair[1],
                Activation::Sigmoid,
                Init::PytorchLinear,
                Some(Init::PytorchLinear),
                &mut rng,
            )
            .expect("valid sizes");
            model = model.push(layer);
        }
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
            model,
            opt,
            x,
            y,
            sizes: sizes.to_vec(),
            batch,
        }
    }

    /// One training step; returns the loss before the update. The loss and its graph are
    /// dropped before the update, so the parameters are updated in place.
    pub fn step(&mut self) -> f32 {
        let (value, grads) = {
            let loss = mse_loss(&self.model.forward(&self.x), &self.y);
            (loss.item(), loss.backward())
        };
        self.opt.step(&grads);
        value
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

/// The four workloads of the performance issue.
pub fn w2() -> MlpStep {
    MlpStep::new(&[784, 256, 256, 10], 128, 0.1, 2)
}
pub fn w3() -> MlpStep {
    MlpStep::new(&[4, 1], 16, 0.1, 3)
}
pub fn w4() -> MlpStep {
    MlpStep::new(&[1024, 1024, 1024, 10], 256, 0.1, 4)
}

/// Matrices for the kernel baseline: the same products called straight on the gemm kernel,
/// outputs preallocated, operands transposed through strides as the library does.
pub struct KernelBaseline {
    shapes: Vec<(usize, usize, usize, bool, bool)>,
    buffers: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)>,
}

impl KernelBaseline {
    pub fn new(shapes: Vec<(usize, usize, usize, bool, bool)>) -> Self {
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
        KernelBaseline { shapes, buffers }
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
                    gemm_common::Parallelism::Rayon(0),
                );
            }
        }
    }
}

/// Per-call times of a measured function and of its baseline, from [`paired`].
pub struct Paired {
    /// The measured function's median over the rounds.
    pub ours: Duration,
    /// Its fastest round.
    pub fastest: Duration,
    /// The baseline's median over the rounds.
    pub baseline: Duration,
    /// The median over the rounds of each round's `ours / baseline`.
    pub ratio: f64,
}

/// Times `ours` and `baseline` over `rounds` rounds, each round running a batch of `ours` and
/// then a batch of `baseline` that last about `per_round` together. Interleaved so, a burst
/// of load from elsewhere on a shared machine falls on both, and the ratio is taken round by
/// round.
pub fn paired(
    mut ours: impl FnMut(),
    mut baseline: impl FnMut(),
    per_round: Duration,
    rounds: usize,
) -> Paired {
    let mut ours_batch = Batch::new(&mut ours, per_round / 2);
    let mut base_batch = Batch::new(&mut baseline, per_round / 2);
    let mut times: Vec<(Duration, Duration)> = (0..rounds)
        .map(|_| (ours_batch.time(&mut ours), base_batch.time(&mut baseline)))
        .collect();
    let mut ratios: Vec<f64> = times
        .iter()
        .map(|(o, b)| o.as_secs_f64() / b.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    times.sort_by_key(|t| t.0);
    let (ours, fastest) = (times[rounds / 2].0, times[0].0);
    times.sort_by_key(|t| t.1);
    Paired {
        ours,
        fastest,
        baseline: times[rounds / 2].1,
        ratio: ratios[rounds / 2],
    }
}

/// How many calls of a function fill a round.
struct Batch {
    calls: u32,
}

impl Batch {
    /// Warms `f` up and sizes its batches to last about `target`.
    fn new(f: &mut impl FnMut(), target: Duration) -> Self {
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
    fn time(&mut self, f: &mut impl FnMut()) -> Duration {
        let t = Instant::now();
        for _ in 0..self.calls {
            f();
        }
        t.elapsed() / self.calls
    }
}
