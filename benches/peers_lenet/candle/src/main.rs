// One LeNet-5 training step in candle 0.11, the same step as surefire's `lenet5 b64`
// workload (benches/common/lenet.rs) and benches/peers_lenet/pytorch.py, written as a user of
// that framework writes it; prints the median and fastest of 9 rounds (ROUNDS overrides) of
// about 0.2 s. Its own cargo project, not part of surefire's build:
//
//   cargo run --release --manifest-path benches/peers_lenet/candle/Cargo.toml
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{conv2d, linear, loss, Conv2d, Conv2dConfig, Linear, Optimizer, VarBuilder, VarMap, SGD};
use std::time::{Duration, Instant};

struct LeNet5 { c1: Conv2d, c2: Conv2d, f1: Linear, f2: Linear, f3: Linear }

impl LeNet5 {
    fn new(vb: VarBuilder) -> candle_core::Result<Self> {
        let pad2 = Conv2dConfig { padding: 2, ..Default::default() };
        Ok(Self {
            c1: conv2d(1, 6, 5, pad2, vb.pp("c1"))?,
            c2: conv2d(6, 16, 5, Default::default(), vb.pp("c2"))?,
            f1: linear(400, 120, vb.pp("f1"))?,
            f2: linear(120, 84, vb.pp("f2"))?,
            f3: linear(84, 10, vb.pp("f3"))?,
        })
    }
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.c1.forward(x)?.relu()?.max_pool2d(2)?;
        let x = self.c2.forward(&x)?.relu()?.max_pool2d(2)?;
        let x = x.flatten_from(1)?;
        let x = self.f1.forward(&x)?.relu()?;
        let x = self.f2.forward(&x)?.relu()?;
        self.f3.forward(&x)
    }
}

// Small seeded generator (xorshift64*) for inputs and labels.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 { self.0 ^= self.0 >> 12; self.0 ^= self.0 << 25; self.0 ^= self.0 >> 27; self.0.wrapping_mul(0x2545F4914F6CDD1D) }
    fn uniform(&mut self) -> f32 { (self.next() >> 40) as f32 / (1u64 << 24) as f32 }
}

fn main() -> candle_core::Result<()> {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "2");
    }
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(9);
    let dev = Device::Cpu;
    let batch = 64;
    let mut rng = Rng(0x9E3779B97F4A7C15);
    let xs: Vec<f32> = (0..batch * 28 * 28).map(|_| rng.uniform()).collect();
    let ys: Vec<u32> = (0..batch).map(|_| (rng.next() % 10) as u32).collect();
    let x = Tensor::from_vec(xs, (batch, 1, 28, 28), &dev)?;
    let y = Tensor::from_vec(ys, batch, &dev)?;

    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
    let model = LeNet5::new(vb)?;
    let mut opt = SGD::new(varmap.all_vars(), 0.05)?;

    let mut step = || -> candle_core::Result<f32> {
        let logits = model.forward(&x)?;
        let l = loss::cross_entropy(&logits, &y)?;
        opt.backward_step(&l)?;
        l.to_scalar::<f32>()
    };

    let t0 = Instant::now();
    let mut first = f32::NAN;
    let mut last = f32::NAN;
    while t0.elapsed() < Duration::from_secs(1) { last = step()?; if first.is_nan() { first = last; } }
    let mut per_step = Vec::new();
    for _ in 0..rounds {
        let (t, mut n) = (Instant::now(), 0u32);
        while t.elapsed() < Duration::from_millis(200) { last = step()?; n += 1; }
        per_step.push(t.elapsed().as_secs_f64() * 1e3 / n as f64);
    }
    let min = per_step.iter().cloned().fold(f64::INFINITY, f64::min);
    per_step.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = per_step[per_step.len() / 2];
    eprintln!("loss first {first:.4} last {last:.4}");
    println!("candle lenet5 b64: median {median:.2} ms (min {min:.2} ms), candle {}, threads {}",
             "0.11.1", candle_core::utils::get_num_threads());
    Ok(())
}
