//! Threads and determinism across the crates: the public types are Send + Sync, two models
//! train at once on two threads exactly as they do one after the other, and a seeded run is
//! bit-identical across runs and thread counts.

use rand::SeedableRng;
use rand::rngs::StdRng;
use surefire::nn::{Activation, Dense, Mlp, Module, Sequential, mse_loss};
use surefire::optim::{Adam, AdamW, Optimizer, Sgd};
use surefire::tensor::{Gradients, Parameter, Tensor};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn public_types_are_send_and_sync() {
    assert_send_sync::<Tensor<f32>>();
    assert_send_sync::<Tensor<f64>>();
    assert_send_sync::<Parameter<f32>>();
    assert_send_sync::<Gradients<f64>>();
    assert_send_sync::<Dense<f32>>();
    assert_send_sync::<Mlp<f64>>();
    assert_send_sync::<Sequential<f32>>();
    assert_send_sync::<Activation>();
    assert_send_sync::<Sgd<f32>>();
    assert_send_sync::<Adam<f64>>();
    assert_send_sync::<AdamW<f32>>();
}

/// The bits of a seeded training run: initial weights, the loss after every step, final
/// weights. Large enough that matmuls, elementwise maps and sums all go parallel.
fn run(seed: u64, adam: bool) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let model = Mlp::<f32>::with_output_activation(
        &[64, 128, 10],
        Activation::Tanh,
        Activation::Sigmoid,
        &mut rng,
    );
    let x = Tensor::rand_uniform(&[512, 64], -1.0, 1.0, &mut rng);
    let y = Tensor::rand_uniform(&[512, 10], 0.0, 1.0, &mut rng);
    let weights = |m: &Mlp<f32>| -> Vec<u32> {
        m.parameters()
            .iter()
            .flat_map(|p| p.tensor().to_vec())
            .map(f32::to_bits)
            .collect()
    };
    let initial = weights(&model);
    let mut opt: Box<dyn Optimizer<f32>> = if adam {
        Box::new(Adam::new(model.parameters(), 1e-3))
    } else {
        Box::new(Sgd::new(model.parameters(), 0.5).momentum(0.9))
    };
    let mut losses = Vec::new();
    for _ in 0..15 {
        let loss = mse_loss(&model.forward(&x), &y);
        losses.push(loss.item().to_bits());
        let grads = loss.backward();
        drop(loss);
        opt.step(&grads);
    }
    (initial, losses, weights(&model))
}

fn in_pool<R>(threads: usize, f: impl FnOnce() -> R) -> R {
    surefire::tensor::with_num_threads(threads, f)
}

#[test]
fn a_seeded_run_is_bit_identical_across_runs_and_thread_counts() {
    for adam in [false, true] {
        let first = in_pool(1, || run(11, adam));
        let again = in_pool(1, || run(11, adam));
        let two = in_pool(2, || run(11, adam));
        assert_eq!(first, again, "two runs differ (adam {adam})");
        assert_eq!(first, two, "1 and 2 threads differ (adam {adam})");
        // And the training did something.
        assert_ne!(first.0, first.2);
        assert!(f32::from_bits(*first.1.last().unwrap()) < f32::from_bits(first.1[0]));
    }
}

#[test]
fn two_models_train_at_once_as_they_do_one_after_the_other() {
    let sequential = (run(1, false), run(2, true));
    let concurrent = std::thread::scope(|s| {
        let a = s.spawn(|| run(1, false));
        let b = s.spawn(|| run(2, true));
        (a.join().expect("thread a"), b.join().expect("thread b"))
    });
    assert_eq!(sequential, concurrent);
}

#[test]
fn grad_mode_is_per_thread() {
    let x = Tensor::<f32>::ones(&[2]).require_grad();
    surefire::tensor::no_grad(|| {
        assert!(!(&x * 2.0).requires_grad());
        std::thread::scope(|s| {
            s.spawn(|| assert!((&x * 2.0).requires_grad()))
                .join()
                .expect("thread");
        });
    });
}
