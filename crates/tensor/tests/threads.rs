//! Results are bit-identical whatever the number of threads: the parallel kernels (matmul,
//! large elementwise maps, large sums and column sums) split work without changing any
//! element's arithmetic.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::Tensor;

fn in_pool<R>(threads: usize, f: impl FnOnce() -> R) -> R {
    tensor::with_num_threads(threads, f)
}

/// Every kernel large enough to go parallel, and the gradients through them.
fn workload() -> Vec<Vec<u32>> {
    let mut rng = StdRng::seed_from_u64(17);
    let a = Tensor::<f32>::rand_uniform(&[300, 700], -1.0, 1.0, &mut rng).require_grad();
    let b = Tensor::<f32>::rand_uniform(&[700, 500], -1.0, 1.0, &mut rng);
    let bias = Tensor::<f32>::rand_uniform(&[500], -1.0, 1.0, &mut rng).require_grad();
    let h = a.linear(&b, Some(&bias)).sigmoid();
    let loss = (h.sum_dim(0, false).square().sum() + h.tanh().mean()) / 7.0;
    let grads = loss.backward();
    let big = Tensor::<f32>::rand_uniform(&[1_000_003], -1.0, 1.0, &mut rng);
    // A product with few rows times a transposed operand (computed column-major through a
    // scratch, in halves), and one with few columns and a column-major left operand.
    let g = Tensor::<f32>::rand_uniform(&[64, 600], -1.0, 1.0, &mut rng);
    let w = Tensor::<f32>::rand_uniform(&[700, 600], -1.0, 1.0, &mut rng);
    let few_columns = Tensor::<f32>::rand_uniform(&[300, 10], -1.0, 1.0, &mut rng);
    let bits = |t: &Tensor<f32>| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
    vec![
        bits(&loss),
        bits(grads.get(&a).expect("a is used")),
        bits(grads.get(&bias).expect("bias is used")),
        bits(&a.matmul(&b)),
        bits(&g.matmul(&w.t())),
        bits(&a.t().matmul(&few_columns)),
        bits(&big.sum()),
        bits(&big.exp()),
        bits(&(&big * &big.exp())),
        bits(
            &big.narrow(0, 0, 1009 * 991)
                .reshape(&[1009, 991])
                .sum_dim(0, false),
        ),
    ]
}

#[test]
fn one_and_two_threads_give_the_same_bits() {
    let one = in_pool(1, workload);
    let two = in_pool(2, workload);
    let four = in_pool(4, workload);
    assert_eq!(one, two);
    assert_eq!(one, four);
}
