//! Data-parallel training on the in-process backend: 1, 2 and 4 ranks, each on its share of
//! the batch, train to the parameters one process reaches on the whole batch; runs repeat
//! bit for bit; ranks whose models differ fail before training; the sampler's shares.

use distributed::{
    CommError, Communicator, ShardedSampler, average_gradients, broadcast_parameters, in_process,
};
use optim::{Adam, Optimizer, Sgd};
use tensor::{Parameter, Tensor};

type T = Tensor<f64>;

/// A 3-5-1 network's parameters, drawn from `seed`.
fn network(seed: u64) -> Vec<(String, Parameter<f64>)> {
    let w = |shape: &[usize], s: u64| Parameter::new(tensor::testing::weights(shape, s));
    vec![
        ("w1".into(), w(&[3, 5], seed)),
        ("b1".into(), w(&[5], seed + 1)),
        ("w2".into(), w(&[5, 1], seed + 2)),
        ("b2".into(), w(&[1], seed + 3)),
    ]
}

fn loss(params: &[(String, Parameter<f64>)], x: &T, y: &T) -> T {
    let p: Vec<T> = params.iter().map(|(_, p)| p.tensor()).collect();
    let h = (x.matmul(&p[0]) + &p[1]).sigmoid();
    (h.matmul(&p[2]) + &p[3]).mse(y)
}

fn data() -> (T, T) {
    (
        tensor::testing::weights(&[8, 3], 100),
        tensor::testing::weights(&[8, 1], 101),
    )
}

fn optimizer(params: &[Parameter<f64>], adam: bool) -> Box<dyn Optimizer<f64>> {
    if adam {
        Box::new(Adam::new(params.to_vec(), 0.05))
    } else {
        Box::new(Sgd::new(params.to_vec(), 0.3).momentum(0.9))
    }
}

/// 20 steps on the whole batch in one process, from rank 0's start.
fn single(adam: bool) -> Vec<Vec<f64>> {
    let named = network(0);
    let params: Vec<_> = named.iter().map(|(_, p)| p.clone()).collect();
    let mut opt = optimizer(&params, adam);
    let (x, y) = data();
    for _ in 0..20 {
        let grads = loss(&named, &x, &y).backward();
        opt.step(&grads);
    }
    params.iter().map(|p| p.tensor().to_vec()).collect()
}

/// The same on `ranks` threads, each starting from its own draw (rank 0's wins) and
/// training on its rows of the batch.
fn parallel(ranks: usize, adam: bool) -> Vec<Vec<Vec<f64>>> {
    let results = in_process::run(ranks, |comm| {
        let named = network(10 * comm.rank() as u64);
        broadcast_parameters(&comm, &named).unwrap();
        let params: Vec<_> = named.iter().map(|(_, p)| p.clone()).collect();
        let mut opt = optimizer(&params, adam);
        let (x, y) = data();
        let share = 8 / ranks;
        let (x, y) = (
            x.narrow(0, comm.rank() * share, share),
            y.narrow(0, comm.rank() * share, share),
        );
        for _ in 0..20 {
            let mut grads = loss(&named, &x, &y).backward();
            average_gradients(&comm, &params, &mut grads).unwrap();
            opt.step(&grads);
        }
        params
            .iter()
            .map(|p| p.tensor().to_vec())
            .collect::<Vec<_>>()
    });
    results.into_iter().map(|r| r.unwrap()).collect()
}

#[test]
fn ranks_train_to_the_parameters_of_one_process_on_the_whole_batch() {
    for adam in [false, true] {
        let reference = single(adam);
        for ranks in [1, 2, 4] {
            let per_rank = parallel(ranks, adam);
            for (rank, params) in per_rank.iter().enumerate() {
                // Every rank holds the same bits.
                assert_eq!(
                    params, &per_rank[0],
                    "adam {adam}, {ranks} ranks, rank {rank}"
                );
                for (p, r) in params.iter().zip(&reference) {
                    for (a, b) in p.iter().zip(r) {
                        assert!(
                            (a - b).abs() <= 1e-12 * b.abs().max(1e-3),
                            "adam {adam}, {ranks} ranks: {a} against {b}"
                        );
                    }
                }
            }
            // Sums in rank order: a second run repeats the first bit for bit.
            assert_eq!(parallel(ranks, adam), per_rank);
        }
    }
}

#[test]
fn ranks_whose_models_differ_fail_before_training_naming_the_difference() {
    let results = in_process::run(3, |comm| {
        let mut named = network(0);
        if comm.rank() == 2 {
            named[2].1 = Parameter::new(T::zeros(&[1, 5]));
        }
        let before: Vec<Vec<f64>> = named.iter().map(|(_, p)| p.tensor().to_vec()).collect();
        let result = broadcast_parameters(&comm, &named);
        let after: Vec<Vec<f64>> = named.iter().map(|(_, p)| p.tensor().to_vec()).collect();
        (result, before == after)
    });
    for r in results {
        let (result, unchanged) = r.unwrap();
        assert!(unchanged, "no value was sent");
        match result {
            Err(CommError::Mismatch { op, message }) => {
                assert_eq!(op, "broadcast_parameters");
                assert!(
                    message.contains(
                        "parameter 2: rank 2 has `w2` [1, 5] F64, rank 0 has `w2` [5, 1] F64"
                    ),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    let results = in_process::run(2, |comm| {
        let mut named = network(0);
        if comm.rank() == 1 {
            named.pop();
        }
        broadcast_parameters(&comm, &named)
    });
    for r in results {
        let e = r.unwrap().unwrap_err().to_string();
        assert!(
            e.contains("rank 1 has 3 parameters and rank 0 has 4; parameter 3: rank 1 has nothing"),
            "{e}"
        );
    }
}

#[test]
fn a_parameter_without_a_gradient_on_some_ranks_counts_as_zeros() {
    let results = in_process::run(2, |comm| {
        let p = Parameter::new(T::ones(&[2]));
        let mut grads = tensor::Gradients::new();
        if comm.rank() == 1 {
            grads.insert(&p, T::from_vec(vec![4.0, 6.0], &[2]).unwrap());
        }
        let unused = Parameter::new(T::ones(&[3]));
        average_gradients(&comm, &[p.clone(), unused.clone()], &mut grads).unwrap();
        (
            grads.get(&p).unwrap().to_vec(),
            grads.get(&unused).is_none(),
        )
    });
    for r in results {
        assert_eq!(r.unwrap(), (vec![2.0, 3.0], true));
    }
}

#[test]
fn the_sampler_gives_disjoint_equal_shares_that_cover_the_data() {
    for (len, size) in [(10, 3), (12, 4), (5, 1), (3, 4)] {
        for epoch in 0..3 {
            let shares: Vec<Vec<usize>> = (0..size)
                .map(|rank| ShardedSampler::new(len, rank, size, 7).indices(epoch))
                .collect();
            let share = len.div_ceil(size);
            assert!(shares.iter().all(|s| s.len() == share));
            let mut all: Vec<usize> = shares.concat();
            all.sort_unstable();
            all.dedup();
            assert_eq!(all, (0..len).collect::<Vec<_>>(), "{len} over {size}");
        }
        let a = ShardedSampler::new(len, 0, size, 7);
        assert_eq!(
            a.indices(1),
            ShardedSampler::new(len, 0, size, 7).indices(1)
        );
    }
    let s = ShardedSampler::new(100, 0, 2, 7);
    assert_ne!(s.indices(0), s.indices(1), "a new order each epoch");
    assert_eq!(
        ShardedSampler::new(6, 1, 2, 0).in_order().indices(0),
        vec![1, 3, 5]
    );
    assert!(ShardedSampler::new(0, 0, 2, 0).indices(0).is_empty());
}

#[test]
fn in_f32_the_ranks_match_one_process_to_what_summation_order_allows() {
    // In f32 a share's gradient sums its rows in another order than the whole batch does:
    // each step differs by a few units in the last place of the sums (2⁻²⁴ ≈ 6e-8 of their
    // magnitude), and 20 steps of SGD with momentum carry that to about 1e-6. The tolerance
    // is 1e-5 of the model's largest magnitude.
    let net = || -> Vec<(String, Parameter<f32>)> {
        network(0)
            .into_iter()
            .map(|(n, p)| (n, Parameter::new(p.tensor().to_dtype::<f32>())))
            .collect()
    };
    let (x, y) = data();
    let (x, y) = (x.to_dtype::<f32>(), y.to_dtype::<f32>());
    let loss = |named: &[(String, Parameter<f32>)], x: &Tensor<f32>, y: &Tensor<f32>| {
        let p: Vec<Tensor<f32>> = named.iter().map(|(_, p)| p.tensor()).collect();
        let h = (x.matmul(&p[0]) + &p[1]).sigmoid();
        (h.matmul(&p[2]) + &p[3]).mse(y)
    };
    let reference = {
        let named = net();
        let params: Vec<_> = named.iter().map(|(_, p)| p.clone()).collect();
        let mut opt = Sgd::new(params.clone(), 0.3).momentum(0.9);
        for _ in 0..20 {
            opt.step(&loss(&named, &x, &y).backward());
        }
        params
            .iter()
            .map(|p| p.tensor().to_vec())
            .collect::<Vec<_>>()
    };
    for ranks in [2, 4] {
        let results = in_process::run(ranks, |comm| {
            let named = net();
            broadcast_parameters(&comm, &named).unwrap();
            let params: Vec<_> = named.iter().map(|(_, p)| p.clone()).collect();
            let mut opt = Sgd::new(params.clone(), 0.3).momentum(0.9);
            let share = 8 / ranks;
            let (xs, ys) = (
                x.narrow(0, comm.rank() * share, share),
                y.narrow(0, comm.rank() * share, share),
            );
            for _ in 0..20 {
                let mut grads = loss(&named, &xs, &ys).backward();
                average_gradients(&comm, &params, &mut grads).unwrap();
                opt.step(&grads);
            }
            params
                .iter()
                .map(|p| p.tensor().to_vec())
                .collect::<Vec<_>>()
        });
        for r in results {
            // Rounding errors scale with the sums they come from, not with each element (a
            // bias that ends near 0 is a sum of updates of order 0.1): the tolerance is
            // relative to the model's largest magnitude.
            let scale = reference
                .iter()
                .flatten()
                .fold(0.0f32, |m, v| m.max(v.abs()));
            for (p, q) in r.unwrap().iter().zip(&reference) {
                for (a, b) in p.iter().zip(q) {
                    assert!(
                        (a - b).abs() <= 1e-5 * scale,
                        "{ranks} ranks: {a} against {b} (scale {scale})"
                    );
                }
            }
        }
    }
}
