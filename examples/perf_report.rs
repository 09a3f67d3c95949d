//! The performance issue's workloads in one command, each as a ratio against a baseline
//! measured in the same process:
//!
//! - W1: our `matmul` against the gemm kernel called directly on the same buffers;
//! - W2–W4: a whole training step (forward, MSE, backward, SGD) against the time the gemm
//!   kernel alone needs for the same matrix products: the step's matmul efficiency.
//!
//! ```sh
//! cargo run --release --example perf_report
//! ```

#[path = "../benches/common/mod.rs"]
mod common;

use std::time::Duration;

use common::{KernelBaseline, MlpStep, median_time};
use rand::SeedableRng;
use rand::rngs::StdRng;
use surefire::tensor::Tensor;

fn main() {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("surefire performance report: f32, {threads} hardware threads, medians of 9 rounds\n");
    let round = Duration::from_millis(200);

    println!("W1 matmul C = A·B, square n     ours        gemm kernel   ours/kernel   GFLOP/s");
    let mut rng = StdRng::seed_from_u64(1);
    for n in [64usize, 256, 1024] {
        let a = Tensor::<f32>::rand_uniform(&[n, n], -1.0, 1.0, &mut rng);
        let b = Tensor::<f32>::rand_uniform(&[n, n], -1.0, 1.0, &mut rng);
        let ours = median_time(|| drop(std::hint::black_box(a.matmul(&b))), round, 9);
        let mut kernel = KernelBaseline::new(vec![(n, n, n, false, false)]);
        let base = median_time(|| kernel.run(), round, 9);
        let gflops = 2.0 * (n * n * n) as f64 / ours.as_secs_f64() / 1e9;
        println!(
            "  n = {n:<26} {:>9.1} µs  {:>9.1} µs  {:>11.3}  {gflops:>8.1}",
            micros(ours),
            micros(base),
            ours.as_secs_f64() / base.as_secs_f64()
        );
    }

    println!(
        "\nTraining steps                    step        matmuls alone  efficiency   GFLOP/s  target"
    );
    let cases: [Case; 3] = [
        ("W2 784-256-256-10, batch 128", common::w2, "<= 1.1 ms"),
        ("W3 4-1, batch 16", common::w3, "<= 2 µs"),
        ("W4 1024-1024-1024-10, batch 256", common::w4, "<= 15 ms"),
    ];
    for (name, make, target) in cases {
        let mut work = make();
        let step = median_time(
            || {
                work.step();
            },
            round,
            9,
        );
        let mut kernel = KernelBaseline::new(work.matmuls());
        let base = median_time(|| kernel.run(), round, 9);
        let gflops = work.matmul_flops() / step.as_secs_f64() / 1e9;
        println!(
            "  {name:<32} {:>9.1} µs  {:>10.1} µs  {:>10.3}  {gflops:>8.1}  {target}",
            micros(step),
            micros(base),
            base.as_secs_f64() / step.as_secs_f64()
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
