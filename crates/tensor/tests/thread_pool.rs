//! `init_thread_pool`: the calling thread joins the global pool, once. One test in its own
//! binary, so that no other test builds the global pool first.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::Tensor;

#[test]
fn the_caller_joins_the_pool_once_and_results_are_unchanged() {
    let mut rng = StdRng::seed_from_u64(3);
    let a = Tensor::<f32>::rand_uniform(&[300, 400], -1.0, 1.0, &mut rng);
    let b = Tensor::<f32>::rand_uniform(&[400, 200], -1.0, 1.0, &mut rng);
    let big = Tensor::<f32>::rand_uniform(&[100_000], -1.0, 1.0, &mut rng);
    // Computed first in a separate pool of 2 threads, with the caller outside it.
    let outside = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a thread pool")
        .install(|| (a.matmul(&b).to_vec(), big.sigmoid().to_vec()));

    tensor::init_thread_pool(2).expect("the global pool does not exist yet");
    // The calling thread is now the pool's thread 0.
    assert_eq!(rayon::current_thread_index(), Some(0));
    assert_eq!(rayon::current_num_threads(), 2);
    assert_eq!(a.matmul(&b).to_vec(), outside.0);
    assert_eq!(big.sigmoid().to_vec(), outside.1);

    let err = tensor::init_thread_pool(2).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("init_thread_pool: cannot build the global thread pool"),
        "{err}"
    );
}
