//! Once backward has released the graph that produced the gradients, a step after the first
//! updates the parameters in place: it allocates nothing, in the loop a PyTorch user writes
//! (the loss alive through the step and read after it) as when the loss is dropped first.
//! Counted with a global allocator.

use optim::{Adam, Optimizer, Sgd};
use tensor::alloc_count::{CountingAllocator, allocations_during};
use tensor::{Parameter, Tensor};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

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

/// SGD with momentum, or Adam, over `params`.
fn optimizer(params: &[Parameter<f32>], adam: bool) -> Box<dyn Optimizer<f32>> {
    if adam {
        Box::new(Adam::new(params.to_vec(), 0.01))
    } else {
        Box::new(Sgd::new(params.to_vec(), 0.1).momentum(0.9))
    }
}

#[test]
fn the_pytorch_shaped_loop_allocates_nothing_in_its_steps_after_the_first() {
    for adam in [false, true] {
        let (params, x) = problem();
        let mut opt = optimizer(&params, adam);
        let mut total = 0.0;
        let mut counts = Vec::new();
        for _ in 0..3 {
            let loss = loss_of(&params, &x);
            let grads = loss.backward();
            counts.push(allocations_during(|| opt.step(&grads)));
            total += loss.item();
        }
        // The first step creates the optimizer's state; the loss is read after every step.
        assert!(counts[0] > 0, "adam {adam}: {counts:?}");
        assert_eq!(&counts[1..], &[0, 0], "adam {adam}");
        assert!(total > 0.0);
        // Had the pass kept the graph, the step would have had to copy the parameters.
        let loss = loss_of(&params, &x);
        let grads = loss.backward_retain_graph();
        assert!(allocations_during(|| opt.step(&grads)) > 0);
    }
}
