//! The performance issue's workloads in one command, each as a ratio against a baseline
//! measured in the same process, in interleaved rounds (a batch of ours, then a batch of the
//! baseline, nine times), so that load from elsewhere on a shared machine falls on both:
//!
//! - W1: our `matmul` against the gemm kernel called directly on the same buffers;
//! - W2–W4: a whole training step (forward, MSE, backward, SGD) against the time the gemm
//!   kernel alone needs for the same matrix products: the step's matmul efficiency.
//!
//! - memory: the peak heap of a W2 step against the bytes of its parameters, activations
//!   and gradients, counted by a global allocator.
//!
//! ```sh
//! cargo run --release --example perf_report
//! ```
#![allow(unsafe_code)]

#[path = "../benches/common/mod.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{KernelBaseline, MlpStep, paired};
use rand::SeedableRng;
use rand::rngs::StdRng;
use surefire::tensor::Tensor;

/// Tracks the bytes live on the heap and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        grew(new_size);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Peak heap during one W2 step, above what was live before it, against the bytes of the
/// step's parameters, activations (inputs and every forward result) and gradients.
fn memory_report() {
    use surefire::nn::{Module, mse_loss};
    use surefire::optim::Optimizer;
    let mut work = common::w2();
    // The optimizer's state (none for plain SGD), the thread pool and gemm's per-thread packing
    // buffers exist after these. One step is not always enough for the last: which thread
    // runs which product varies (work stealing), and a thread's first product of a new shape
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
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let loss = mse_loss(&work.model.forward(&work.x), &work.y);
    // Activations: the inputs, each layer's linear and sigmoid outputs, and the loss.
    let mut activations = f32s(work.x.numel() + work.y.numel()) + f32s(1);
    for pair in work.sizes.windows(2) {
        activations += 2 * f32s(work.batch * pair[1]);
    }
    let grads = loss.backward();
    drop(loss);
    work.opt.step(&grads);
    drop(grads);
    let peak = PEAK.load(Ordering::Relaxed) - before;
    // What the step holds at its peak: the parameters and the data (live before it) plus
    // everything it allocated.
    let data = f32s(work.x.numel() + work.y.numel());
    let held = params + data + peak;
    let budget = params + activations + params;
    println!(
        "Memory, one W2 step: parameters {:.2} MB + data {:.2} MB + peak allocated during the step \
         {:.2} MB = {:.2} MB;\n  parameters + activations + gradients = {:.2} MB; ratio {:.2} (target <= 1.5)\n",
        params as f64 / 1e6,
        data as f64 / 1e6,
        peak as f64 / 1e6,
        held as f64 / 1e6,
        budget as f64 / 1e6,
        held as f64 / budget as f64
    );
}

fn main() {
    // The main thread joins the pool (see `init_thread_pool`): the setting this report measures
    // and recommends. The gemm baseline runs in the same pool.
    surefire::tensor::init_thread_pool(0).expect("the first use of the thread pool");
    let threads = rayon::current_num_threads();
    println!(
        "surefire performance report: f32, {threads} threads (the main thread among them).\n\
         Each figure is the median of 9 rounds; every round times ours and then the gemm\n\
         baseline, and the ratio is taken round by round.\n"
    );
    let round = Duration::from_millis(400);
    memory_report();

    println!(
        "W1 matmul C = A·B, square n     ours     (fastest)    gemm kernel   ours/kernel   GFLOP/s"
    );
    let mut rng = StdRng::seed_from_u64(1);
    for n in [64usize, 256, 1024] {
        let a = Tensor::<f32>::rand_uniform(&[n, n], -1.0, 1.0, &mut rng);
        let b = Tensor::<f32>::rand_uniform(&[n, n], -1.0, 1.0, &mut rng);
        let mut kernel = KernelBaseline::new(vec![(n, n, n, false, false)]);
        let t = paired(
            || drop(std::hint::black_box(a.matmul(&b))),
            || kernel.run(),
            round,
            9,
        );
        let gflops = 2.0 * (n * n * n) as f64 / t.ours.as_secs_f64() / 1e9;
        println!(
            "  n = {n:<20} {:>9.1} µs ({:>9.1})  {:>9.1} µs  {:>11.3}  {gflops:>8.1}",
            micros(t.ours),
            micros(t.fastest),
            micros(t.baseline),
            t.ratio
        );
    }

    println!(
        "\nTraining steps                    step     (fastest)   matmuls alone  efficiency  GFLOP/s  target"
    );
    let cases: [Case; 3] = [
        ("W2 784-256-256-10, batch 128", common::w2, "<= 1.1 ms"),
        ("W3 4-1, batch 16", common::w3, "<= 2 µs"),
        ("W4 1024-1024-1024-10, batch 256", common::w4, "<= 15 ms"),
    ];
    for (name, make, target) in cases {
        let mut work = make();
        let mut kernel = KernelBaseline::new(work.matmuls());
        let flops = work.matmul_flops();
        let t = paired(
            || {
                work.step();
            },
            || kernel.run(),
            round,
            9,
        );
        let gflops = flops / t.ours.as_secs_f64() / 1e9;
        println!(
            "  {name:<32} {:>9.1} µs ({:>9.1})  {:>9.1} µs  {:>10.3}  {gflops:>7.1}  {target}",
            micros(t.ours),
            micros(t.fastest),
            micros(t.baseline),
            1.0 / t.ratio
        );
    }
    println!(
        "\nefficiency = gemm time for the step's matrix products / whole step time (1.0 is ideal)"
    );
}

/// A workload's name, constructor and target.
type Case = (&'static str, fn() -> MlpStep, &'static str);

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
