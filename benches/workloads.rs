//! Criterion benchmarks (`cargo bench --features bench`; the feature keeps criterion out of
//! ordinary builds), all with no setup call:
//!
//! - `matmul n×n`: square matrix products, n = 64, 256, 1024;
//! - training steps of three networks, each written three ways (the natural code, `nn`
//!   modules, the fastest path; see `benches/common`): `mlp 784-256-256-10 b128`,
//!   `neuron 4-1 b16` and `wide mlp 1024-1024-1024-10 b256`, and the first one's backward
//!   pass alone;
//! - the `char_lm` example's transformer training step, `transformer b16 L64 w128`;
//! - the LeNet-5 training step, `lenet5 b64`;
//! - elementwise ops contiguous and broadcast, reductions, and anomaly mode on and off.
//!
//! `cargo run --release --example perf_report` prints the same workloads as ratios against
//! the gemm kernel measured in the same process.

mod common;

use std::hint::black_box;

use common::Way;
use criterion::{Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use surefire::tensor::Tensor;

fn matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group(common::MATMUL);
    let mut rng = StdRng::seed_from_u64(1);
    for n in [64usize, 256, 1024] {
        let a = Tensor::<f32>::rand_uniform(&[n, n], -1.0, 1.0, &mut rng);
        let b = Tensor::<f32>::rand_uniform(&[n, n], -1.0, 1.0, &mut rng);
        group.bench_function(n.to_string(), |bench| {
            bench.iter(|| black_box(a.matmul(&b)))
        });
    }
    group.finish();
}

fn training_steps(c: &mut Criterion) {
    let cases: [Case; 3] = [
        (common::MLP, common::mlp, 100),
        (common::NEURON, common::neuron, 100),
        (common::WIDE_MLP, common::wide_mlp, 20),
    ];
    for (name, make, samples) in cases {
        let mut group = c.benchmark_group(name);
        group.sample_size(samples);
        for way in Way::ALL {
            let mut work = make(way);
            group.bench_function(way.name(), |b| b.iter(|| black_box(work.step())));
        }
        group.finish();
    }
    let mlp = common::mlp(Way::Natural);
    c.bench_function(&format!("backward/{}", common::MLP), |b| {
        b.iter(|| black_box(mlp.backward_only()))
    });
}

/// The character transformer's training step (see `benches/common/transformer.rs`).
fn transformer_step(c: &mut Criterion) {
    let mut group = c.benchmark_group(common::transformer::TRANSFORMER);
    group.sample_size(20);
    let mut work = common::transformer::TransformerStep::new(5);
    group.bench_function("step", |b| b.iter(|| black_box(work.step())));
    group.finish();
}

/// The LeNet-5 training step (see `benches/common/lenet.rs`).
fn lenet_step(c: &mut Criterion) {
    let mut group = c.benchmark_group(common::lenet::LENET);
    group.sample_size(30);
    let mut work = common::lenet::LenetStep::new(5);
    group.bench_function("step", |b| b.iter(|| black_box(work.step())));
    group.finish();
}

/// A training workload's group name, constructor and sample count.
type Case = (&'static str, fn(Way) -> common::MlpStep, usize);

fn elementwise_and_reductions(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(5);
    let x = Tensor::<f32>::rand_uniform(&[1024, 1024], -1.0, 1.0, &mut rng);
    let y = Tensor::<f32>::rand_uniform(&[1024, 1024], -1.0, 1.0, &mut rng);
    let row = Tensor::<f32>::rand_uniform(&[1024], -1.0, 1.0, &mut rng);
    c.bench_function("elementwise/add_contiguous_1m", |b| {
        b.iter(|| black_box(&x + &y))
    });
    c.bench_function("elementwise/add_broadcast_row_1m", |b| {
        b.iter(|| black_box(&x + &row))
    });
    c.bench_function("elementwise/sigmoid_1m", |b| {
        b.iter(|| black_box(x.sigmoid()))
    });
    c.bench_function("elementwise/add_transposed_1m", |b| {
        b.iter(|| black_box(&x.t() + &y))
    });
    c.bench_function("reduce/sum_1m", |b| b.iter(|| black_box(x.sum())));
    c.bench_function("reduce/sum_dim0_1m", |b| {
        b.iter(|| black_box(x.sum_dim(0, false)))
    });
    c.bench_function("reduce/sum_dim1_1m", |b| {
        b.iter(|| black_box(x.sum_dim(1, false)))
    });
    c.bench_function("reduce/log_softmax_1m", |b| {
        b.iter(|| black_box(x.log_softmax(1)))
    });
    let tiny = Tensor::<f32>::rand_uniform(&[4], -1.0, 1.0, &mut rng);
    c.bench_function("tiny/mul_4", |b| b.iter(|| black_box(&tiny * &tiny)));
}

/// Anomaly mode scans every result inside `detect_anomaly` and nothing outside it: the "off"
/// figures are the plain ops' cost.
fn anomaly(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(6);
    let x = Tensor::<f32>::rand_uniform(&[1 << 20], -1.0, 1.0, &mut rng);
    let tiny = Tensor::<f32>::rand_uniform(&[4], -1.0, 1.0, &mut rng);
    c.bench_function("anomaly/off/sigmoid_1m", |b| {
        b.iter(|| black_box(x.sigmoid()))
    });
    c.bench_function("anomaly/on/sigmoid_1m", |b| {
        b.iter(|| surefire::tensor::detect_anomaly(|| black_box(x.sigmoid())))
    });
    c.bench_function("anomaly/off/mul_4", |b| b.iter(|| black_box(&tiny * &tiny)));
    c.bench_function("anomaly/on/mul_4", |b| {
        b.iter(|| surefire::tensor::detect_anomaly(|| black_box(&tiny * &tiny)))
    });
}

criterion_group!(
    benches,
    matmul,
    training_steps,
    transformer_step,
    lenet_step,
    elementwise_and_reductions,
    anomaly
);
criterion_main!(benches);
