//! Criterion benchmarks (`cargo bench --features bench`; the feature keeps criterion out of
//! ordinary builds): square matmuls (W1), training steps of three networks (W2–W4), each
//! written three ways (the natural code, `nn` modules, the fastest path; see
//! `benches/common`), elementwise ops contiguous and broadcast, reductions, backward alone,
//! and anomaly mode on and off, all with no setup call. `cargo run --release --example
//! perf_report` prints the same workloads as ratios against the gemm kernel measured in the
//! same process.

mod common;

use std::hint::black_box;

use common::Way;
use criterion::{Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use surefire::tensor::Tensor;

fn w1_matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("w1_matmul");
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
        ("w2_mlp_step", common::w2, 100),
        ("w3_neuron_step", common::w3, 100),
        ("w4_wide_step", common::w4, 20),
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
    let w2 = common::w2(Way::Natural);
    c.bench_function("backward/w2", |b| b.iter(|| black_box(w2.backward_only())));
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
    w1_matmul,
    training_steps,
    elementwise_and_reductions,
    anomaly
);
criterion_main!(benches);
