//! After backward and a step, the graph's memory is released: a 10,000-step training loop
//! keeps a flat number of live allocations and bytes, counted by a global allocator per thread
//! (the test harness's own thread allocates now and then; this loop runs on one thread: its
//! tensors are too small for worker threads).

use rand::SeedableRng;
use rand::rngs::StdRng;
use surefire::nn::{Activation, Mlp, Module, mse_loss};
use surefire::optim::{Adam, Optimizer, Sgd};
use surefire::tensor::Tensor;
use surefire::tensor::alloc_count::{self, CountingAllocator};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn live() -> (isize, isize) {
    let live = alloc_count::thread_live();
    (live.bytes, live.blocks)
}

#[test]
fn ten_thousand_steps_keep_memory_flat() {
    let mut rng = StdRng::seed_from_u64(3);
    let x = Tensor::<f32>::rand_uniform(&[32, 4], -1.0, 1.0, &mut rng);
    let y = Tensor::<f32>::rand_uniform(&[32, 1], 0.0, 1.0, &mut rng);
    let model = Mlp::<f32>::new(&[4, 8, 1], Activation::Sigmoid, &mut rng);
    let mut sgd = Sgd::new(model.parameters(), 0.1).momentum(0.9);
    let mut adam = Adam::new(model.parameters(), 1e-3).amsgrad(true);
    let mut step = |i: usize| {
        // The PyTorch-shaped loop (the loss alive through the step, which updates in place),
        // and every other step a loop that keeps the graph through the step, so that the
        // parameters are copied on write.
        let loss = mse_loss(&model.forward(&x), &y);
        if i.is_multiple_of(2) {
            let grads = loss.backward();
            sgd.step(&grads);
        } else {
            let grads = loss.backward_retain_graph();
            adam.step(&grads);
        }
        std::hint::black_box(loss.item());
    };
    // Warm up: optimizer state, thread-locals and the allocator's own structures settle.
    for i in 0..100 {
        step(i);
    }
    let mut samples = Vec::with_capacity(8); // allocated before the baseline is taken
    let settled = live();
    for i in 100..10_000 {
        step(i);
        if i % 2_000 == 1_999 {
            samples.push(live());
        }
    }
    assert!(
        samples.iter().all(|&s| s == settled),
        "live (bytes, blocks) after warm-up {settled:?}, later {samples:?}"
    );
}
