//! Checks the MPI backend inside an MPI job, each rank printing `rank R of N: ok` and a
//! fingerprint of the parameters it trained (two runs on as many ranks print the same):
//!
//! ```sh
//! cargo build -p surefire-distributed --features mpi --example mpi_check
//! mpirun -np 4 target/debug/examples/mpi_check          # as root: add --allow-run-as-root
//! mpirun -np 2 target/debug/examples/mpi_check --die    # must fail, not hang
//! ```
//!
//! It checks sums, broadcasts and the barrier, the model check of `broadcast_parameters`, and
//! data-parallel training (SGD with momentum and Adam, f64, 20 steps, each rank on its share
//! of a batch of 8) against one process on the whole batch, to 1e-12 relative; and in f32 to
//! 1e-5 of the model's largest magnitude. With `--die`,
//! rank 1 exits while the others wait in a barrier: MPI must end the job with an error.

use distributed::{Communicator, Mpi, average_gradients, broadcast_parameters};
use optim::{Adam, Optimizer, Sgd};
use tensor::{Parameter, Tensor};

type T = Tensor<f64>;

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

/// 20 steps of SGD with momentum or Adam; on the whole batch with `comm` absent, else on
/// this rank's share with the gradients averaged.
fn train(comm: Option<&Mpi>, adam: bool) -> Vec<Vec<f64>> {
    let rank = comm.map_or(0, Communicator::rank);
    let named = network(10 * rank as u64);
    if let Some(comm) = comm {
        broadcast_parameters(comm, &named).expect("the ranks' models agree");
    }
    let params: Vec<_> = named.iter().map(|(_, p)| p.clone()).collect();
    let mut opt: Box<dyn Optimizer<f64>> = if adam {
        Box::new(Adam::new(params.clone(), 0.05))
    } else {
        Box::new(Sgd::new(params.clone(), 0.3).momentum(0.9))
    };
    let (x, y) = (
        tensor::testing::weights(&[8, 3], 100),
        tensor::testing::weights(&[8, 1], 101),
    );
    let (x, y) = match comm {
        Some(comm) => {
            let share = 8 / comm.size();
            (
                x.narrow(0, rank * share, share),
                y.narrow(0, rank * share, share),
            )
        }
        None => (x, y),
    };
    for _ in 0..20 {
        let mut grads = loss(&named, &x, &y).backward();
        if let Some(comm) = comm {
            average_gradients(comm, &params, &mut grads).expect("the group works");
        }
        opt.step(&grads);
    }
    params.iter().map(|p| p.tensor().to_vec()).collect()
}

/// The same network in f32, 20 steps of SGD with momentum, on the whole batch or this
/// rank's share.
fn train_f32(comm: Option<&Mpi>) -> Vec<Vec<f32>> {
    let named: Vec<(String, Parameter<f32>)> = network(0)
        .into_iter()
        .map(|(n, p)| (n, Parameter::new(p.tensor().to_dtype::<f32>())))
        .collect();
    if let Some(comm) = comm {
        broadcast_parameters(comm, &named).expect("the ranks' models agree");
    }
    let params: Vec<_> = named.iter().map(|(_, p)| p.clone()).collect();
    let mut opt = Sgd::new(params.clone(), 0.3).momentum(0.9);
    let x = tensor::testing::weights(&[8, 3], 100).to_dtype::<f32>();
    let y = tensor::testing::weights(&[8, 1], 101).to_dtype::<f32>();
    let (x, y) = match comm {
        Some(comm) => {
            let share = 8 / comm.size();
            let start = comm.rank() * share;
            (x.narrow(0, start, share), y.narrow(0, start, share))
        }
        None => (x, y),
    };
    for _ in 0..20 {
        let p: Vec<Tensor<f32>> = named.iter().map(|(_, p)| p.tensor()).collect();
        let h = (x.matmul(&p[0]) + &p[1]).sigmoid();
        let mut grads = (h.matmul(&p[2]) + &p[3]).mse(&y).backward();
        if let Some(comm) = comm {
            average_gradients(comm, &params, &mut grads).expect("the group works");
        }
        opt.step(&grads);
    }
    params.iter().map(|p| p.tensor().to_vec()).collect()
}

fn main() {
    let comm = Mpi::init().expect("MPI starts");
    let (rank, size) = (comm.rank(), comm.size());
    if std::env::args().any(|a| a == "--die") {
        if rank == 1 {
            std::process::exit(3);
        }
        comm.barrier()
            .expect("MPI ends the job before this returns");
        unreachable!("rank {rank} passed a barrier that rank 1 never joined");
    }
    let mut v = vec![rank as f64 + 0.5, 1.0];
    comm.all_reduce_sum(v.as_mut_slice().into()).unwrap();
    let n = size as f64;
    assert_eq!(v, vec![n * (n - 1.0) / 2.0 + 0.5 * n, n]);
    let mut w = vec![rank as f32; 3];
    comm.broadcast(w.as_mut_slice().into(), size - 1).unwrap();
    assert_eq!(w, vec![(size - 1) as f32; 3]);
    let mut bytes = if rank == 0 {
        b"hello".to_vec()
    } else {
        Vec::new()
    };
    comm.broadcast_bytes(&mut bytes, 0).unwrap();
    assert_eq!(bytes, b"hello");
    comm.barrier().unwrap();
    // A model that differs on the last rank is refused on every rank.
    let mut named = network(0);
    if size > 1 && rank == size - 1 {
        named.pop();
    }
    let refused = broadcast_parameters(&comm, &named);
    assert_eq!(refused.is_err(), size > 1, "{refused:?}");
    // A fingerprint of the trained bits, which two runs on as many ranks must repeat.
    let mut fingerprint = 0u64;
    for adam in [false, true] {
        let (ours, one) = (train(Some(&comm), adam), train(None, adam));
        for v in ours.iter().flatten() {
            fingerprint = fingerprint.rotate_left(5) ^ v.to_bits();
        }
        for (p, r) in ours.iter().zip(&one) {
            for (a, b) in p.iter().zip(r) {
                assert!(
                    (a - b).abs() <= 1e-12 * b.abs().max(1e-3),
                    "rank {rank} of {size}, adam {adam}: {a} against {b}"
                );
            }
        }
    }
    // f32: within 1e-5 of the model's largest magnitude, what the other summation order of
    // the shares' gradients allows (as the in-process test states).
    let (ours, one) = (train_f32(Some(&comm)), train_f32(None));
    let scale = one.iter().flatten().fold(0.0f32, |m, v| m.max(v.abs()));
    for (a, b) in ours.iter().flatten().zip(one.iter().flatten()) {
        assert!(
            (a - b).abs() <= 1e-5 * scale,
            "rank {rank} of {size}, f32: {a} against {b}"
        );
    }
    println!("rank {rank} of {size}: ok, trained parameters {fingerprint:016x}");
}
