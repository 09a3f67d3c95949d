// One LeNet-5 training step in burn 0.22 (ndarray backend with SIMD and rayon), the same
// step as surefire's `lenet5 b64` workload (benches/common/lenet.rs) and benches/peers_lenet/pytorch.py, written as a user of
// that framework writes it; prints the median and fastest of 9 rounds (ROUNDS overrides) of
// about 0.2 s. Its own cargo project, not part of surefire's build:
//
//   cargo run --release --manifest-path benches/peers_lenet/burn/Cargo.toml
#![allow(deprecated)] // Device::ndarray() is deprecated in burn 0.22 in favour of flex
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::optim::{GradientsParams, SgdConfig};
use burn::prelude::*;
use std::time::{Duration, Instant};

#[derive(Module, Debug)]
struct LeNet5 { c1: Conv2d, c2: Conv2d, pool: MaxPool2d, f1: Linear, f2: Linear, f3: Linear, relu: Relu }

impl LeNet5 {
    fn new(device: &Device) -> Self {
        Self {
            c1: Conv2dConfig::new([1, 6], [5, 5]).with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2)).init(device),
            c2: Conv2dConfig::new([6, 16], [5, 5]).init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(), // strides default to the kernel size
            f1: LinearConfig::new(400, 120).init(device),
            f2: LinearConfig::new(120, 84).init(device),
            f3: LinearConfig::new(84, 10).init(device),
            relu: Relu::new(),
        }
    }
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(self.relu.forward(self.c1.forward(x)));
        let x = self.pool.forward(self.relu.forward(self.c2.forward(x)));
        let x: Tensor<2> = x.flatten(1, 3);
        let x = self.relu.forward(self.f1.forward(x));
        let x = self.relu.forward(self.f2.forward(x));
        self.f3.forward(x)
    }
}

// Small seeded generator (xorshift64*) for inputs and labels (same as the candle program).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 { self.0 ^= self.0 >> 12; self.0 ^= self.0 << 25; self.0 ^= self.0 >> 27; self.0.wrapping_mul(0x2545F4914F6CDD1D) }
    fn uniform(&mut self) -> f32 { (self.next() >> 40) as f32 / (1u64 << 24) as f32 }
}

fn main() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "2");
    }
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(9);
    let device = Device::ndarray().autodiff(); // = Autodiff<NdArray<f32>>
    device.seed(0);
    let batch = 64;
    let mut rng = Rng(0x9E3779B97F4A7C15);
    let xs: Vec<f32> = (0..batch * 28 * 28).map(|_| rng.uniform()).collect();
    let ys: Vec<i64> = (0..batch).map(|_| (rng.next() % 10) as i64).collect();
    let x = Tensor::<4>::from_data(TensorData::new(xs, [batch, 1, 28, 28]), &device);
    let y = Tensor::<1, Int>::from_data(TensorData::new(ys, [batch]), &device);

    let mut model = LeNet5::new(&device);
    let mut optim = SgdConfig::new().init(); // plain SGD: no momentum, no weight decay
    let ce = CrossEntropyLossConfig::new().init(&device);

    let mut step = |model: LeNet5| -> (LeNet5, f32) {
        let logits = model.forward(x.clone());
        let loss = ce.forward(logits, y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = optim.step(0.05, model, grads);
        (model, loss.into_scalar::<f32>())
    };

    let t0 = Instant::now();
    let (mut first, mut last) = (f32::NAN, f32::NAN);
    while t0.elapsed() < Duration::from_secs(1) {
        (model, last) = step(model);
        if first.is_nan() { first = last; }
    }
    let mut per_step = Vec::new();
    for _ in 0..rounds {
        let (t, mut n) = (Instant::now(), 0u32);
        while t.elapsed() < Duration::from_millis(200) { (model, last) = step(model); n += 1; }
        per_step.push(t.elapsed().as_secs_f64() * 1e3 / n as f64);
    }
    let min = per_step.iter().cloned().fold(f64::INFINITY, f64::min);
    per_step.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = per_step[per_step.len() / 2];
    eprintln!("loss first {first:.4} last {last:.4}");
    println!("burn lenet5 b64: median {median:.2} ms (min {min:.2} ms), burn {} (ndarray+autodiff), threads {}",
             "0.22.1", rayon::current_num_threads());
}
