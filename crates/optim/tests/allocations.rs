//! Once the graph that produced the gradients is gone, a step after the first updates the
//! parameters in place: it allocates nothing. Counted with a global allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use optim::{Adam, Optimizer, Sgd};
use tensor::{Parameter, Tensor};

/// Counts allocations made by the thread that switched counting on.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Const-initialised and without a destructor: reading it never allocates.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting only reads a
// thread-local flag and bumps an atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.load(Ordering::Relaxed)
}

fn problem() -> (Vec<Parameter<f32>>, Tensor<f32>) {
    let w = Parameter::new(Tensor::<f32>::full(&[8, 4], 0.1));
    let b = Parameter::new(Tensor::<f32>::zeros(&[4]));
    let x = Tensor::<f32>::full(&[16, 8], 0.5);
    (vec![w, b], x)
}

fn loss_of(params: &[Parameter<f32>], x: &Tensor<f32>) -> Tensor<f32> {
    (x.matmul(&params[0].tensor()) + params[1].tensor())
        .sigmoid()
        .square()
        .mean()
}

#[test]
fn steps_after_the_first_allocate_nothing_once_the_graph_is_dropped() {
    let (params, x) = problem();
    let mut sgd = Sgd::new(params.clone(), 0.1).momentum(0.9);
    let mut adam = Adam::new(params.clone(), 0.01).amsgrad(true);
    for opt in [&mut sgd as &mut dyn Optimizer<f32>, &mut adam] {
        let loss = loss_of(&params, &x);
        let grads = loss.backward();
        drop(loss);
        // The first step creates the optimizer's state.
        opt.step(&grads);
        assert_eq!(allocations_during(|| opt.step(&grads)), 0);
        assert_eq!(allocations_during(|| opt.step(&grads)), 0);
        // While a graph holds the parameters, the step must copy them instead (the counter
        // does see allocations).
        let alive = loss_of(&params, &x);
        assert!(allocations_during(|| opt.step(&grads)) > 0);
        drop(alive);
    }
}
