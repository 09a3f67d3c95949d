//! After backward and a step, the graph's memory is released: a 10,000-step training loop
//! keeps a flat number of live allocations and bytes, counted by a global allocator per thread
//! (the test harness's own thread allocates now and then; this loop runs on one thread: its
//! tensors are too small for worker threads).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use rand::SeedableRng;
use rand::rngs::StdRng;
use surefire::nn::{Activation, Mlp, Module, mse_loss};
use surefire::optim::{Adam, Optimizer, Sgd};
use surefire::tensor::Tensor;

struct Counting;

thread_local! {
    // Const-initialised without destructors: reading them never allocates.
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
    static LIVE_BLOCKS: Cell<isize> = const { Cell::new(0) };
}

fn count(bytes: isize, blocks: isize) {
    let _ = LIVE_BYTES.try_with(|c| c.set(c.get() + bytes));
    let _ = LIVE_BLOCKS.try_with(|c| c.set(c.get() + blocks));
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting only touches
// this thread's cells.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize, 1);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize), -1);
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize, 0);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> (isize, isize) {
    (LIVE_BYTES.with(Cell::get), LIVE_BLOCKS.with(Cell::get))
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
