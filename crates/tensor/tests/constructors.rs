//! Constructors, accessors, and the values of ops checked against hand-computed results.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::Tensor;

type T = Tensor<f64>;

#[test]
fn basic_constructors_and_accessors() {
    let t = T::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    assert_eq!((t.shape(), t.numel(), t.ndim()), (&[2, 3][..], 6, 2));
    assert_eq!(T::scalar(2.5).item(), 2.5);
    assert_eq!(T::scalar(2.5).shape(), &[] as &[usize]);
    assert_eq!(T::zeros(&[2]).to_vec(), vec![0.0, 0.0]);
    assert_eq!(T::ones(&[1, 2]).to_vec(), vec![1.0, 1.0]);
    assert_eq!(T::full(&[3], 7.0).to_vec(), vec![7.0; 3]);
    assert_eq!(t.zeros_like().shape(), &[2, 3]);
    assert_eq!(t.t().to_vec(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    assert_eq!(t.dtype(), tensor::DType::F64);
    let default: Tensor = Tensor::zeros(&[1]);
    assert_eq!(default.dtype(), tensor::DType::F32);
}

#[test]
fn linspace_is_symmetric_with_exact_ends() {
    let x = T::linspace(-10.0, 10.0, 200);
    let v = x.to_vec();
    assert_eq!(v.len(), 200);
    assert_eq!((v[0], v[199]), (-10.0, 10.0));
    for i in 0..100 {
        assert_eq!(v[i], -v[199 - i], "point {i} mirrors point {}", 199 - i);
    }
    assert!(v.windows(2).all(|w| w[1] > w[0]));
    assert_eq!(T::linspace(3.0, 5.0, 1).to_vec(), vec![3.0]);
    assert_eq!(T::linspace(3.0, 5.0, 0).shape(), &[0]);
    assert_eq!(
        T::linspace(0.0, 1.0, 5).to_vec(),
        vec![0.0, 0.25, 0.5, 0.75, 1.0]
    );
}

#[test]
fn arange_counts_to_the_end_exclusive() {
    assert_eq!(
        T::arange(0.0, 5.0, 1.0).to_vec(),
        vec![0.0, 1.0, 2.0, 3.0, 4.0]
    );
    assert_eq!(
        T::arange(1.0, 0.0, -0.25).to_vec(),
        vec![1.0, 0.75, 0.5, 0.25]
    );
    assert_eq!(T::arange(0.0, 0.0, 1.0).numel(), 0);
    assert!(T::try_arange(0.0, 1.0, 0.0).is_err());
    assert!(T::try_arange(0.0, f64::INFINITY, 1.0).is_err());
}

#[test]
fn seeded_random_tensors_repeat_and_respect_their_distribution() {
    let a = T::rand_uniform(&[1000], -2.0, 3.0, &mut StdRng::seed_from_u64(9));
    let b = T::rand_uniform(&[1000], -2.0, 3.0, &mut StdRng::seed_from_u64(9));
    assert_eq!(a.to_vec(), b.to_vec());
    assert!(a.to_vec().iter().all(|&v| (-2.0..3.0).contains(&v)));
    // mean of U(-2, 3) is 0.5; with 1000 samples the standard error is about 0.046
    assert!((a.mean().item() - 0.5).abs() < 0.2);
    let n = T::randn(&[20_000], 1.0, 2.0, &mut StdRng::seed_from_u64(1));
    assert_eq!(
        n.to_vec(),
        T::randn(&[20_000], 1.0, 2.0, &mut StdRng::seed_from_u64(1)).to_vec()
    );
    let mean = n.mean().item();
    let std = (&n - mean).square().mean().sqrt().item();
    // standard errors: 0.014 for the mean, 0.01 for the std
    assert!((mean - 1.0).abs() < 0.06, "mean {mean}");
    assert!((std - 2.0).abs() < 0.05, "std {std}");
    // odd lengths use the first of the last Box–Muller pair
    assert_eq!(
        T::randn(&[3], 0.0, 1.0, &mut StdRng::seed_from_u64(2)).numel(),
        3
    );
}

#[test]
fn op_values_match_hand_computation() {
    let x = T::from_vec(vec![-2.0, -0.5, 0.0, 1.5], &[4]).unwrap();
    assert_eq!(x.relu().to_vec(), vec![0.0, 0.0, 0.0, 1.5]);
    assert_eq!(x.abs().to_vec(), vec![2.0, 0.5, 0.0, 1.5]);
    assert_eq!(x.sign().to_vec(), vec![-1.0, -1.0, 0.0, 1.0]);
    assert_eq!(x.clamp(-1.0, 1.0).to_vec(), vec![-1.0, -0.5, 0.0, 1.0]);
    assert_eq!(T::scalar(0.0).sigmoid().item(), 0.5);
    // sigmoid saturates to exactly 0 and 1 without NaN
    assert_eq!(
        T::from_vec(vec![-1000.0, 1000.0], &[2])
            .unwrap()
            .sigmoid()
            .to_vec(),
        vec![0.0, 1.0]
    );
    let m = T::from_vec(vec![1.0, 5.0, 3.0, 4.0, 2.0, 6.0], &[2, 3]).unwrap();
    assert_eq!(m.sum_dim(0, false).to_vec(), vec![5.0, 7.0, 9.0]);
    assert_eq!(m.sum_dim(1, true).shape(), &[2, 1]);
    assert_eq!(m.mean_dim(-1, false).to_vec(), vec![3.0, 4.0]);
    assert_eq!(m.max_dim(1, false).to_vec(), vec![5.0, 6.0]);
    assert_eq!(m.min_dim(0, false).to_vec(), vec![1.0, 2.0, 3.0]);
    assert_eq!(m.argmax(1, false).to_vec(), vec![1, 2]);
    assert_eq!(m.argmin(1, true).to_vec(), vec![0, 1]);
    assert_eq!(m.argmin(1, true).shape(), &[2, 1]);
    assert_eq!(m.max().item(), 6.0);
    assert_eq!(m.min().item(), 1.0);
    assert_eq!(
        m.index_select(1, &Tensor::from_slice(&[2, 0, 2])).to_vec(),
        vec![3.0, 1.0, 3.0, 6.0, 4.0, 6.0]
    );
    assert_eq!(m.narrow(1, 1, 2).to_vec(), vec![5.0, 3.0, 2.0, 6.0]);
    let added = T::zeros(&[3]).index_add(
        0,
        &Tensor::from_slice(&[0, 0, 2]),
        &T::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap(),
    );
    assert_eq!(added.to_vec(), vec![3.0, 0.0, 3.0]);
    let s = m.softmax(1).sum_dim(1, false).to_vec();
    assert!(s.iter().all(|v| (v - 1.0).abs() < 1e-15));
    // softmax is stable for huge logits
    let big = T::from_vec(vec![1000.0, 1000.0], &[2]).unwrap();
    assert_eq!(big.softmax(0).to_vec(), vec![0.5, 0.5]);
    assert_eq!(big.logsumexp(0, false).item(), 1000.0 + 2f64.ln());
    assert_eq!(m.gt(&T::scalar(3.0)).to_vec(), vec![0, 1, 0, 1, 0, 1]);
    assert_eq!(m.eq(&m).sum().item(), 6);
    assert_eq!(
        m.masked_fill(&m.lt(&T::scalar(3.0)), 0.0).to_vec(),
        vec![0.0, 5.0, 3.0, 4.0, 0.0, 6.0]
    );
    let picked = m.gt(&T::scalar(3.0)).where_cond(&m, &T::scalar(-1.0));
    assert_eq!(picked.to_vec(), vec![-1.0, 5.0, -1.0, 4.0, -1.0, 6.0]);
    assert_eq!(T::stack(&[&x, &x], 1).shape(), &[4, 2]);
    assert_eq!((2.0 - &x).to_vec(), vec![4.0, 2.5, 2.0, 0.5]);
    assert_eq!((3.0 / &T::scalar(2.0)).item(), 1.5);
    assert_eq!((-&x).to_vec(), vec![2.0, 0.5, -0.0, -1.5]);
    assert_eq!(
        x.maximum(&T::scalar(0.0)).to_vec(),
        vec![0.0, 0.0, 0.0, 1.5]
    );
    assert!(
        x.maximum(&T::scalar(f64::NAN))
            .to_vec()
            .iter()
            .all(|v| v.is_nan())
    );
}

#[test]
fn scalar_operators_work_on_both_sides_for_f32_and_f64() {
    let a = Tensor::<f32>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    assert_eq!((2.0 * &a).to_vec(), vec![2.0, 4.0]);
    assert_eq!((&a * 2.0).to_vec(), vec![2.0, 4.0]);
    assert_eq!((1.0 + a.clone()).to_vec(), vec![2.0, 3.0]);
    assert_eq!((a.clone() - 1.0).to_vec(), vec![0.0, 1.0]);
    assert_eq!((&a / 2.0).to_vec(), vec![0.5, 1.0]);
    let b = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    assert_eq!((2.0 * &b).to_vec(), vec![2.0, 4.0]);
    assert_eq!((&b + &b - &b * &b / &b).to_vec(), vec![1.0, 2.0]);
}

#[test]
fn views_share_storage_and_read_through_strides() {
    let m = T::from_vec((0..24).map(f64::from).collect(), &[2, 3, 4]).unwrap();
    let p = m.permute(&[2, 0, 1]);
    assert_eq!(p.shape(), &[4, 2, 3]);
    assert_eq!(p.to_vec()[..6], [0.0, 4.0, 8.0, 12.0, 16.0, 20.0]);
    // A permuted view can still be reshaped where strides allow, else it is copied.
    assert_eq!(p.reshape(&[4, 6]).to_vec(), p.to_vec());
    assert_eq!(m.broadcast_to(&[2, 2, 3, 4]).sum().item(), 2.0 * 276.0);
    assert_eq!(m.unsqueeze(0).squeeze(0).shape(), &[2, 3, 4]);
    assert_eq!(m.transpose(0, 2).transpose(0, 2).to_vec(), m.to_vec());
}

#[test]
fn sums_are_accurate_on_long_inputs() {
    // Pairwise summation: a million 0.1s in f32 sum to within 0.05 of 100000.
    let x = Tensor::<f32>::full(&[1_000_000], 0.1);
    assert!((x.sum().item() - 100_000.0).abs() < 0.05);
    let cols = Tensor::<f32>::full(&[1_000_000, 2], 0.1);
    let s = cols.sum_dim(0, false).to_vec();
    assert!(s.iter().all(|v| (v - 100_000.0).abs() < 0.05), "{s:?}");
}
