//! The thread count: chosen for the whole process, per thread for a scope, or left to the
//! default; results are the same under each. One test in its own binary, so that no other
//! test changes the process-wide count meanwhile.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::Tensor;

#[test]
fn the_thread_count_can_be_set_and_scoped_and_results_are_unchanged() {
    let mut rng = StdRng::seed_from_u64(3);
    let a = Tensor::<f32>::rand_uniform(&[300, 400], -1.0, 1.0, &mut rng);
    let b = Tensor::<f32>::rand_uniform(&[400, 200], -1.0, 1.0, &mut rng);
    let big = Tensor::<f32>::rand_uniform(&[100_000], -1.0, 1.0, &mut rng);
    let compute = || {
        (
            a.matmul(&b).to_vec(),
            big.sigmoid().to_vec(),
            big.sum().item(),
        )
    };

    // The default, with no setup call: one thread per CPU the process may use.
    let default = std::thread::available_parallelism().map_or(1, usize::from);
    if std::env::var_os("SUREFIRE_NUM_THREADS").is_none() {
        assert_eq!(tensor::num_threads(), default);
    }
    let by_default = compute();

    tensor::set_num_threads(3);
    assert_eq!(tensor::num_threads(), 3);
    assert_eq!(compute(), by_default);
    // Another thread sees the process-wide count, and its own scope.
    std::thread::scope(|s| {
        s.spawn(|| {
            assert_eq!(tensor::num_threads(), 3);
            assert_eq!(tensor::with_num_threads(1, tensor::num_threads), 1);
        });
    });
    // A scope overrides it on this thread only, and ends even on a panic.
    let inside = tensor::with_num_threads(1, || (tensor::num_threads(), compute()));
    assert_eq!(inside, (1, by_default.clone()));
    let _ = std::panic::catch_unwind(|| tensor::with_num_threads(5, || panic!("inside")));
    assert_eq!(tensor::num_threads(), 3);

    // The old setup call still works and only sets the count.
    #[allow(deprecated)]
    tensor::init_thread_pool(2).expect("never fails");
    assert_eq!(tensor::num_threads(), 2);
    assert_eq!(compute(), by_default);
    tensor::set_num_threads(0);
    if std::env::var_os("SUREFIRE_NUM_THREADS").is_none() {
        assert_eq!(tensor::num_threads(), default);
    }
    // Out-of-range counts are clamped.
    assert_eq!(tensor::with_num_threads(0, tensor::num_threads), 1);
    assert_eq!(tensor::with_num_threads(10_000, tensor::num_threads), 256);
}
