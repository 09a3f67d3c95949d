//! The benchmark workloads in one command, each as a ratio against a baseline measured in the
//! same process, in interleaved rounds (a batch of each variant, then a batch of the baseline,
//! nine times), so that load from elsewhere on a shared machine falls on all of them:
//!
//! - `matmul n×n`, a square f32 matrix product (n = 64, 256, 1024): our `matmul` against
//!   the gemm kernel called directly on the same buffers, on 1 thread and on the default
//!   thread count;
//! - training steps (forward, MSE, backward, SGD) of three networks with a sigmoid after
//!   every layer, `mlp 784-256-256-10 b128` (batch 128), `neuron 4-1 b16` (one neuron, batch
//!   16) and `wide mlp 1024-1024-1024-10 b256` (batch 256), each written three ways (the
//!   natural code, `nn` modules, the fastest path; see `benches/common`), against the time
//!   the gemm kernel alone needs for the same matrix products: the step's matmul efficiency;
//! - one layer, forward and backward: the textbook `(x.matmul(&w) + &b).sigmoid()` against
//!   `x.linear(&w, Some(&b)).sigmoid()`, on the first layer of each network;
//! - the training step of the `char_lm` example's transformer (`transformer b16 L64 w128`:
//!   cross-entropy, backward, clipping, AdamW) against the gemm kernel alone on the step's
//!   products;
//! - the LeNet-5 training step (`lenet5 b64`: two convolutions with ReLU and max pooling,
//!   three dense layers, cross-entropy against class indices, SGD) against the gemm kernel
//!   alone on the step's products;
//! - memory: the peak heap of one `mlp 784-256-256-10 b128` step against the bytes of its
//!   parameters, activations and gradients, counted by a global allocator.
//!
//! surefire is used as a program uses it, with no setup call. The gemm baseline runs on
//! rayon's pool with the calling thread among its threads.
//!
//! ```sh
//! cargo run --release --example perf_report
//! ```

#[path = "../benches/common/mod.rs"]
mod common;

use std::time::Duration;

use common::{KernelBaseline, MlpStep, Way, interleaved};
use rand::SeedableRng;
use rand::rngs::StdRng;
use surefire::tensor::Tensor;
use surefire::tensor::alloc_count::{self, CountingAllocator};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Peak heap during one `mlp 784-256-256-10 b128` step of the natural loop, above what was
/// live before it, against the bytes of the step's parameters, activations (inputs and every
/// forward result) and gradients.
fn memory_report() {
    let mut work = common::mlp(Way::Natural);
    // The optimizer's state (none for plain SGD), the threads and gemm's per-thread packing
    // buffers exist after these. One step is not always enough for the last: which thread
    // runs which part of a product varies, and a thread's first product of a new shape
    // allocates its buffer.
    for _ in 0..5 {
        work.step();
    }
    let f32s = |n: usize| n * std::mem::size_of::<f32>();
    let params: usize = work
        .model
        .parameters()
        .iter()
        .map(|p| f32s(p.numel()))
        .sum();
    // The step starts with an empty buffer cache, so every buffer it uses is counted, and the
    // ones it hands back to the cache stay counted (they are not freed).
    surefire::tensor::release_cached_buffers();
    let before = alloc_count::live_bytes();
    alloc_count::reset_peak();
    work.step();
    // Activations: the inputs, each layer's matmul and sigmoid outputs, and the loss.
    let mut activations = f32s(work.x.numel() + work.y.numel()) + f32s(1);
    for pair in work.sizes.windows(2) {
        activations += 2 * f32s(work.batch * pair[1]);
    }
    let peak = alloc_count::peak_bytes() - before;
    // What the step holds at its peak: the parameters and the data (live before it) plus
    // everything it allocated.
    let data = f32s(work.x.numel() + work.y.numel());
    let held = params + data + peak;
    let budget = params + activations + params;
    println!(
        "Memory, one {} step (natural loop): parameters {:.2} MB + data {:.2} MB + \
         peak allocated during the step {:.2} MB = {:.2} MB;\n  parameters + activations + \
         gradients = {:.2} MB; ratio {:.2} (target <= 1.5)\n",
        common::MLP,
        params as f64 / 1e6,
        data as f64 / 1e6,
        peak as f64 / 1e6,
        held as f64 / 1e6,
        budget as f64 / 1e6,
        held as f64 / budget as f64
    );
}

fn matmul_report(batch: Duration) {
    println!(
        "{:<31}threads      ours   (fastest)   gemm kernel   ours/kernel   GFLOP/s",
        format!("{}, C = A·B", common::MATMUL)
    );
    let mut rng = StdRng::seed_from_u64(1);
    let default = surefire::tensor::num_threads();
    for n in [64usize, 256, 1024] {
        let a = Tensor::<f32>::rand_uniform(&[n, n], -1.0, 1.0, &mut rng);
        let b = Tensor::<f32>::rand_uniform(&[n, n], -1.0, 1.0, &mut rng);
        for threads in [1, default] {
            let shapes = vec![(n, n, n, false, false)];
            let mut kernel = if threads == 1 {
                KernelBaseline::single_threaded(shapes)
            } else {
                KernelBaseline::new(shapes)
            };
            let mut ours = || drop(std::hint::black_box(a.matmul(&b)));
            // The default count needs no call; one thread is asked for around the rounds.
            let rounds = surefire::tensor::with_num_threads(threads, || {
                interleaved(&mut [&mut ours, &mut || kernel.run()], batch, 9)
            });
            let (lo, hi) = rounds.ratio_range(0, 1);
            let gflops = 2.0 * (n * n * n) as f64 / rounds.median(0).as_secs_f64() / 1e9;
            println!(
                "  n = {n:<22} {threads:>3} {:>9.1} µs ({:>7.1})  {:>9.1} µs  {:>6.3} [{lo:.3}, {hi:.3}]  {gflops:>6.1}",
                micros(rounds.median(0)),
                micros(rounds.fastest(0)),
                micros(rounds.median(1)),
                rounds.ratio(0, 1),
            );
        }
    }
}

/// The textbook layer `(x.matmul(&w) + &b).sigmoid()` against `x.linear(&w, Some(&b))
/// .sigmoid()`, forward and backward (to the weight, the bias and the input), on the first
/// layer of each training workload's network.
fn layer_report(batch: Duration) {
    println!("\nOne layer, forward + backward              textbook     linear    textbook/linear");
    let mut rng = StdRng::seed_from_u64(7);
    for (name, rows, inputs, outputs) in [
        ("mlp, first layer, 128x784 -> 256", 128, 784, 256),
        ("neuron, 16x4 -> 1", 16, 4, 1),
        ("wide mlp, first layer, 256x1024 -> 1024", 256, 1024, 1024),
    ] {
        let x = Tensor::<f32>::rand_uniform(&[rows, inputs], -1.0, 1.0, &mut rng).require_grad();
        let w = Tensor::<f32>::rand_uniform(&[inputs, outputs], -0.1, 0.1, &mut rng).require_grad();
        let b = Tensor::<f32>::rand_uniform(&[outputs], -0.1, 0.1, &mut rng).require_grad();
        let mut textbook = || {
            let y = (x.matmul(&w) + &b).sigmoid().sum();
            drop(std::hint::black_box(y.backward()));
        };
        let mut linear = || {
            let y = x.linear(&w, Some(&b)).sigmoid().sum();
            drop(std::hint::black_box(y.backward()));
        };
        let rounds = interleaved(&mut [&mut textbook, &mut linear], batch, 9);
        let (lo, hi) = rounds.ratio_range(0, 1);
        println!(
            "  {name:<38} {:>9.1} µs {:>9.1} µs   {:.3} [{lo:.3}, {hi:.3}]",
            micros(rounds.median(0)),
            micros(rounds.median(1)),
            rounds.ratio(0, 1)
        );
    }
}

fn training_report(batch: Duration) {
    println!(
        "\nTraining steps, median of 9 rounds (fastest)    kernel eff.  /fastest   GFLOP/s   target"
    );
    let cases: [Case; 3] = [
        (common::MLP, common::mlp, 1.05),
        (common::NEURON, common::neuron, 1.15),
        (common::WIDE_MLP, common::wide_mlp, 1.05),
    ];
    for (name, make, target) in cases {
        let mut works: Vec<MlpStep> = Way::ALL.iter().map(|&way| make(way)).collect();
        let mut kernel = KernelBaseline::new(works[0].matmuls());
        let flops = works[0].matmul_flops();
        let rounds = {
            let [natural, modules, fastest] = &mut works[..] else {
                unreachable!("three ways")
            };
            interleaved(
                &mut [
                    &mut || {
                        natural.step();
                    },
                    &mut || {
                        modules.step();
                    },
                    &mut || {
                        fastest.step();
                    },
                    &mut || kernel.run(),
                ],
                batch,
                9,
            )
        };
        println!(
            "  {name}; gemm alone on its products {:.1} µs",
            micros(rounds.median(3))
        );
        for (i, way) in Way::ALL.iter().enumerate() {
            let to_fastest = rounds.ratio(i, 2);
            let (lo, hi) = rounds.ratio_range(i, 2);
            let verdict = match way {
                Way::Natural => format!(
                    "natural/fastest <= {target}: {}",
                    if to_fastest <= target {
                        "met"
                    } else {
                        "NOT met"
                    }
                ),
                _ => String::new(),
            };
            println!(
                "    {:<8} {:>10.1} µs ({:>9.1})  {:>10.3}  {:>5.3} [{lo:.3}, {hi:.3}]  {:>6.1}   {verdict}",
                way.name(),
                micros(rounds.median(i)),
                micros(rounds.fastest(i)),
                1.0 / rounds.ratio(i, 3),
                to_fastest,
                flops / rounds.median(i).as_secs_f64() / 1e9,
            );
        }
    }
    println!(
        "\nkernel eff. = gemm time for the step's matrix products / step time (1.0: the step costs \
         what its products cost);\n/fastest = step time / the fastest path's, round by round \
         (median [range])"
    );
}

/// The LeNet-5 training step against the gemm kernel on its own products.
fn lenet_report(batch: Duration) {
    use common::lenet::{LENET, LenetStep};
    let mut work = LenetStep::new(5);
    let shapes = work.matmuls();
    step_report(
        "LeNet-5",
        LENET,
        &mut || {
            work.step();
        },
        shapes,
        batch,
    );
}

/// The character transformer's training step against the gemm kernel on its own products.
fn transformer_report(batch: Duration) {
    use common::transformer::{TRANSFORMER, TransformerStep};
    let mut work = TransformerStep::new(5);
    let shapes = work.matmuls();
    step_report(
        "Transformer",
        TRANSFORMER,
        &mut || {
            work.step();
        },
        shapes,
        batch,
    );
}

/// One training step, `step`, against gemm alone on its products `shapes`, in interleaved
/// rounds: the step's time and its kernel efficiency.
fn step_report(
    title: &str,
    label: &str,
    step: &mut dyn FnMut(),
    shapes: Vec<(usize, usize, usize, bool, bool)>,
    batch: Duration,
) {
    println!(
        "\n{:<60}kernel eff.   GFLOP/s",
        format!("{title} training step, median of 9 rounds (fastest)")
    );
    let flops: f64 = shapes
        .iter()
        .map(|&(m, k, n, _, _)| 2.0 * (m * k * n) as f64)
        .sum();
    let mut kernel = KernelBaseline::new(shapes);
    let rounds = interleaved(&mut [step, &mut || kernel.run()], batch, 9);
    let (lo, hi) = rounds.ratio_range(1, 0);
    println!(
        "  {label:<28} {:>10.1} µs ({:>9.1})  {:>6.3} [{lo:.3}, {hi:.3}]  {:>6.1}\n  \
         gemm alone on its products {:.1} µs",
        micros(rounds.median(0)),
        micros(rounds.fastest(0)),
        rounds.ratio(1, 0),
        flops / rounds.median(0).as_secs_f64() / 1e9,
        micros(rounds.median(1)),
    );
}

fn main() {
    common::baseline_threads();
    println!(
        "surefire performance report: f32, {} threads by default (no setup call).\n\
         Each figure is the median of 9 rounds; every round times each variant and then the gemm\n\
         baseline, and ratios are taken round by round.\n",
        surefire::tensor::num_threads()
    );
    let batch = Duration::from_millis(200);
    memory_report();
    matmul_report(batch);
    layer_report(batch);
    training_report(batch);
    transformer_report(batch);
    lenet_report(batch);
}

/// A workload's name, constructor and target for natural/fastest.
type Case = (&'static str, fn(Way) -> MlpStep, f64);

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
