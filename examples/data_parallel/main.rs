//! Data-parallel training of the lung-disease network (4-8-1, sigmoid, MSE, SGD): every rank
//! holds the model and trains on its share of each global batch, the ranks start from rank
//! 0's weights and average their gradients after each backward pass, so each step is the
//! step one process takes on the whole batch. It prints each rank's throughput and the test
//! metrics, and rank 0 writes the checkpoint, from which a run on any number of ranks can
//! resume.
//!
//! ```sh
//! cargo run --release --example data_parallel -- --ranks 4        # 4 threads in this process
//! cargo build --release --features mpi --example data_parallel     # or an MPI job:
//! mpirun -np 2 target/release/examples/data_parallel
//! ```
//!
//! Built with the root package's feature `mpi`, it is one rank of an MPI job unless `--ranks`
//! is given; without the feature its ranks are threads.

#[path = "../lung_disease/cohort.rs"]
#[allow(dead_code)]
mod cohort;
#[path = "../lung_disease/model.rs"]
#[allow(dead_code)]
mod model;
#[path = "../support/mod.rs"]
mod support;

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use support::{Long, at_least, positive};
use surefire::distributed::{
    Communicator, ShardedSampler, average_gradients, broadcast_parameters, in_process,
};
use surefire::nn::mse_loss;
use surefire::prelude::*;

use cohort::{Cohort, Scaler, labels};

const USAGE: &str = "\
usage: data_parallel [OPTIONS]

Trains the lung-disease network (4-8-1) with data parallelism: each rank takes its share of
every global batch and the ranks average their gradients, so the run matches one process's.

Built with the feature `mpi`, it is one rank of an MPI job (run it under mpirun) unless
--ranks is given; without it, its ranks are threads of this process.

options:
  --ranks N      ranks, as threads of this process (default 2 without the feature `mpi`)
  --people N     people in the synthetic cohort (default 5000)
  --epochs N     passes over the training people (default 30)
  --batch N      global batch, divided among the ranks (default 64)
  --lr F         SGD learning rate (default 0.5)
  --seed N       seed of the cohort, the weights and the shuffles (default 42)
  --resume FILE  start from this checkpoint (written by any number of ranks)
  --out DIR      where rank 0 writes data_parallel.safetensors (default: the current folder)
  -h, --help     this text";

struct Options {
    /// Threads as ranks; `None`: an MPI job's rank when built with the feature, else 2.
    ranks: Option<usize>,
    people: usize,
    epochs: usize,
    batch: usize,
    lr: f64,
    seed: u64,
    resume: Option<PathBuf>,
    out: PathBuf,
}

fn parse() -> Result<Options, Box<dyn Error>> {
    let mut o = Options {
        ranks: None,
        people: 5000,
        epochs: 30,
        batch: 64,
        lr: 0.5,
        seed: 42,
        resume: None,
        out: PathBuf::from("."),
    };
    let mut args = support::Args::new(USAGE);
    while let Some(arg) = args.next()? {
        match arg {
            Long("ranks") => o.ranks = Some(args.value_with(|t| at_least(t, 1))?),
            Long("people") => o.people = args.value_with(|t| at_least(t, 10))?,
            Long("epochs") => o.epochs = args.value_with(|t| at_least(t, 1))?,
            Long("batch") => o.batch = args.value_with(|t| at_least(t, 1))?,
            Long("lr") => o.lr = args.value_with(positive)?,
            Long("seed") => o.seed = args.value()?,
            Long("resume") => o.resume = Some(args.text()?.into()),
            Long("out") => o.out = args.text()?.into(),
            _ => return Err(support::unexpected(arg)),
        }
    }
    Ok(o)
}

fn main() -> std::process::ExitCode {
    support::run(|| {
        let o = parse()?;
        if cfg!(feature = "mpi") && o.ranks.is_none() {
            return run_mpi(&o);
        }
        let results = in_process::run(o.ranks.unwrap_or(2), |comm| {
            // Each rank's share of the cores.
            surefire::tensor::with_num_threads(1, || train(&comm, &o).map_err(|e| e.to_string()))
        });
        for r in results {
            r.map_err(|_| "a rank panicked")??;
        }
        Ok(())
    })
}

#[cfg(feature = "mpi")]
fn run_mpi(o: &Options) -> Result<(), Box<dyn Error>> {
    let comm = surefire::distributed::Mpi::init()?;
    train(&comm, o)
}

#[cfg(not(feature = "mpi"))]
fn run_mpi(_: &Options) -> Result<(), Box<dyn Error>> {
    unreachable!("MPI mode needs the feature `mpi`")
}

/// One rank's run.
fn train(comm: &dyn Communicator, o: &Options) -> Result<(), Box<dyn Error>> {
    let (rank, ranks) = (comm.rank(), comm.size());
    if !o.batch.is_multiple_of(ranks) {
        return Err(format!(
            "--batch {} must be a multiple of the {ranks} ranks",
            o.batch
        )
        .into());
    }
    // Every rank draws the same cohort and split from the seed.
    let cohort = Cohort::draw(o.people, &mut StdRng::seed_from_u64(o.seed));
    let ((train_people, train_sick), (test_people, test_sick)) = (cohort.train(), cohort.test());
    let scaler = Scaler::fit(train_people);
    let (x_train, y_train) = (scaler.transform(train_people)?, labels(train_sick)?);
    let (x_test, y_test) = (scaler.transform(test_people)?, labels(test_sick)?);
    let hidden = [8];
    // Each rank draws its own weights: rank 0's reach everyone.
    let model = match &o.resume {
        Some(path) => model::load(path)?.0,
        None => model::new(
            &hidden,
            &mut StdRng::seed_from_u64(o.seed + 1 + rank as u64),
        ),
    };
    broadcast_parameters(comm, &model.named_parameters())?;
    let params = model.parameters();
    let mut opt = Sgd::new(params.clone(), o.lr);
    let share = o.batch / ranks;
    let sampler = ShardedSampler::new(x_train.shape()[0], rank, ranks, o.seed);
    let (mut seen, start) = (0usize, Instant::now());
    for epoch in 0..o.epochs {
        // The global batch of step k is items k·batch .. (k+1)·batch of the epoch's shuffle,
        // whatever the number of ranks: rank r holds every ranks-th of them.
        let mine = sampler.indices(epoch as u64);
        for rows in mine.chunks_exact(share) {
            let rows: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
            let rows = Tensor::from_slice(&rows);
            let (x, y) = (
                x_train.index_select(0, &rows),
                y_train.index_select(0, &rows),
            );
            let loss = mse_loss(&model.forward(&x), &y);
            let mut grads = loss.backward();
            average_gradients(comm, &params, &mut grads)?;
            opt.step(&grads);
            seen += share;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    // One line per rank, in rank order.
    for r in 0..ranks {
        if r == rank {
            println!(
                "rank {rank} of {ranks}: {seen} samples in {seconds:.2} s, {:.0} samples/s",
                seen as f64 / seconds
            );
        }
        comm.barrier()?;
    }
    if rank == 0 {
        let p = no_grad(|| model.forward(&x_test)).to_vec();
        let right = p
            .iter()
            .zip(test_sick)
            .filter(|&(&p, &s)| (p >= 0.5) == s)
            .count();
        let mse = no_grad(|| mse_loss(&model.forward(&x_test), &y_test)).item();
        std::fs::create_dir_all(&o.out)?;
        let path = o.out.join("data_parallel.safetensors");
        model::save(&model, &hidden, &scaler, &path)?;
        println!("rank 0 wrote {}", path.display());
        println!(
            "test accuracy {:.2}%, test MSE {mse:.6} ({ranks} ranks, global batch {})",
            100.0 * right as f64 / test_sick.len() as f64,
            o.batch
        );
    }
    // The checkpoint is complete before any rank goes on.
    comm.barrier()?;
    Ok(())
}
