//! The LeNet-5 training step, `lenet5 b64`: f32, a batch of 64 seeded 1×28×28 inputs;
//! conv 1→6 5×5 padding 2, ReLU, max-pool 2; conv 6→16 5×5, ReLU, max-pool 2; flatten 400 →
//! dense 120 ReLU → 84 ReLU → 10; cross-entropy against class indices; SGD with lr 0.05.
//! Written with `nn` modules in a `Sequential`, in the loop a PyTorch user writes.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use surefire::nn::init::Init;
use surefire::nn::{
    Activation, Conv2d, Dense, Flatten, MaxPool2d, Module, Sequential, cross_entropy,
};
use surefire::optim::{Optimizer, Sgd};
use surefire::tensor::{Conv2dParams, Pool2dParams, Tensor};

/// The label of the workload.
pub const LENET: &str = "lenet5 b64";

/// Samples per step.
pub const BATCH: usize = 64;

/// The network, with PyTorch's default initialisation.
pub fn lenet5(rng: &mut StdRng) -> Sequential<f32> {
    let dense = |inputs, outputs, activation, rng: &mut StdRng| {
        Dense::try_with_init(
            inputs,
            outputs,
            activation,
            Init::PytorchLinear,
            Some(Init::PytorchLinear),
            rng,
        )
        .expect("valid sizes")
    };
    Sequential::new()
        .push(Conv2d::new(
            1,
            6,
            5,
            Conv2dParams::default().padding(2),
            rng,
        ))
        .push(Activation::Relu)
        .push(MaxPool2d::new(Pool2dParams::new(2)))
        .push(Conv2d::new(6, 16, 5, Conv2dParams::default(), rng))
        .push(Activation::Relu)
        .push(MaxPool2d::new(Pool2dParams::new(2)))
        .push(Flatten::new())
        .push(dense(400, 120, Activation::Relu, rng))
        .push(dense(120, 84, Activation::Relu, rng))
        .push(dense(84, 10, Activation::Identity, rng))
}

/// One LeNet-5 training step on a fixed batch.
pub struct LenetStep {
    model: Sequential<f32>,
    opt: Sgd<f32>,
    x: Tensor<f32>,
    y: Tensor<i64>,
    /// The running sum of the losses, as a training loop keeps it.
    pub total: f32,
}

impl LenetStep {
    /// The model with weights from a seeded generator, inputs uniform in [0, 1) and random
    /// classes.
    pub fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let model = lenet5(&mut rng);
        let x = Tensor::rand_uniform(&[BATCH, 1, 28, 28], 0.0, 1.0, &mut rng);
        let classes = (0..BATCH).map(|_| rng.random_range(0..10i64)).collect();
        let y = Tensor::from_vec(classes, &[BATCH]).expect("one class per sample");
        let opt = Sgd::new(model.parameters(), 0.05);
        LenetStep {
            model,
            opt,
            x,
            y,
            total: 0.0,
        }
    }

    /// Forward, loss, backward and the update; returns the loss.
    pub fn step(&mut self) -> f32 {
        let loss = cross_entropy(&self.model.forward(&self.x), &self.y);
        let grads = loss.backward();
        self.opt.step(&grads);
        let value = loss.item();
        self.total += value;
        value
    }

    /// The step's matrix products as `(m, k, n, a transposed, b transposed)`, as the
    /// convolution kernels cut them: per sample, the forward `W · cols` of each convolution,
    /// its weight gradient `g · colsᵀ` and (for the second, whose input needs a gradient)
    /// the input's `Wᵀ · g`; then the dense layers' `x · W`, `xᵀ · g` and `g · Wᵀ`.
    pub fn matmuls(&self) -> Vec<(usize, usize, usize, bool, bool)> {
        let mut shapes = Vec::new();
        for _ in 0..BATCH {
            // conv 1: [6, 25] · [25, 784]
            shapes.push((6, 25, 784, false, false));
            shapes.push((6, 784, 25, false, true));
            // conv 2: [16, 150] · [150, 100]
            shapes.push((16, 150, 100, false, false));
            shapes.push((16, 100, 150, false, true));
            shapes.push((150, 16, 100, true, false));
        }
        for (inputs, outputs) in [(400, 120), (120, 84), (84, 10)] {
            shapes.push((BATCH, inputs, outputs, false, false));
            shapes.push((inputs, BATCH, outputs, true, false));
            shapes.push((BATCH, outputs, inputs, false, true));
        }
        shapes
    }
}
