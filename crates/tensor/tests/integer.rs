//! Integer tensors: constructors, movement ops, comparisons and conversions give the values a
//! row-major reading of the same data would, views included, and bad arguments are errors.

use tensor::{DType, Tensor, TensorError};

type I = Tensor<i64>;

fn grid() -> I {
    // [[0, 1, 2], [3, 4, 5]]
    I::from_vec((0..6).collect(), &[2, 3]).unwrap()
}

#[test]
fn constructors_and_values() {
    let t = grid();
    assert_eq!((t.shape(), t.numel(), t.ndim()), (&[2, 3][..], 6, 2));
    assert_eq!(t.dtype(), DType::I64);
    assert_eq!(I::zeros(&[2]).to_vec(), vec![0, 0]);
    assert_eq!(I::ones(&[1, 2]).to_vec(), vec![1, 1]);
    assert_eq!(I::full(&[3], -7).to_vec(), vec![-7; 3]);
    assert_eq!(t.full_like(9).shape(), &[2, 3]);
    assert_eq!(I::scalar(4).item(), 4);
    assert_eq!(I::from_slice(&[5, 6]).to_vec(), vec![5, 6]);
    assert_eq!(I::arange(-2, 3, 2).to_vec(), vec![-2, 0, 2]);
    assert_eq!(
        I::arange(i64::MIN, i64::MIN + 2, 1).to_vec(),
        vec![i64::MIN, i64::MIN + 1]
    );
    assert_eq!(I::arange(5, 5, 1).numel(), 0);
    assert!(I::try_arange(0, 3, 0).is_err());
    assert!(I::try_arange(0, 3, -1).is_err());
    assert!(matches!(
        I::from_vec(vec![1, 2], &[3]),
        Err(TensorError::DataLength { .. })
    ));
    let mut seen = Vec::new();
    t.t().for_each_value(|i, v| seen.push((i, v)));
    assert_eq!(seen, vec![(0, 0), (1, 3), (2, 1), (3, 4), (4, 2), (5, 5)]);
    assert_eq!(t.as_slice(), Some(&[0, 1, 2, 3, 4, 5][..]));
    assert_eq!(t.t().as_slice(), None);
}

#[test]
fn movement_ops_match_the_float_ones() {
    let t = grid();
    let f = t.to_dtype::<f64>();
    let as_int = |x: Tensor<f64>| x.to_dtype::<i64>().to_vec();
    assert_eq!(t.reshape(&[3, 2]).to_vec(), as_int(f.reshape(&[3, 2])));
    assert_eq!(t.t().to_vec(), vec![0, 3, 1, 4, 2, 5]);
    assert_eq!(t.transpose(0, -1).to_vec(), as_int(f.transpose(0, -1)));
    // A reshape of a transposed view copies.
    assert_eq!(t.t().reshape(&[6]).to_vec(), vec![0, 3, 1, 4, 2, 5]);
    assert_eq!(t.t().flatten().to_vec(), vec![0, 3, 1, 4, 2, 5]);
    assert_eq!(t.unsqueeze(1).permute(&[2, 1, 0]).shape(), &[3, 1, 2]);
    assert_eq!(t.unsqueeze(0).squeeze(0).to_vec(), t.to_vec());
    assert_eq!(t.narrow(1, 1, 2).to_vec(), vec![1, 2, 4, 5]);
    assert_eq!(t.narrow(0, 1, 1).t().to_vec(), vec![3, 4, 5]);
    assert_eq!(
        I::from_slice(&[7, 8])
            .reshape(&[2, 1])
            .broadcast_to(&[2, 3])
            .to_vec(),
        vec![7, 7, 7, 8, 8, 8]
    );
    assert_eq!(
        t.index_select(1, &I::from_slice(&[2, 0, 2])).to_vec(),
        vec![2, 0, 2, 5, 3, 5]
    );
    assert_eq!(
        t.gather(1, &I::from_vec(vec![2, 2, 0, 1], &[2, 2]).unwrap())
            .to_vec(),
        vec![2, 2, 3, 4]
    );
    assert_eq!(
        I::concat(&[&t, &t.narrow(1, 0, 1)], 1).to_vec(),
        vec![0, 1, 2, 0, 3, 4, 5, 3]
    );
    assert_eq!(I::stack(&[&t, &t], 0).shape(), &[2, 2, 3]);
    assert_eq!(I::stack(&[&t, &t], 2).to_vec()[..4], [0, 0, 1, 1]);
    assert!(t.try_reshape(&[4]).is_err());
    assert!(t.try_narrow(1, 2, 2).is_err());
    assert!(t.try_permute(&[0, 0]).is_err());
    assert!(I::try_concat(&[&t, &t.t()], 0).is_err());
}

#[test]
fn comparisons_give_masks_that_select() {
    let t = grid();
    let three = I::scalar(3);
    assert_eq!(t.lt(&three).to_vec(), vec![1, 1, 1, 0, 0, 0]);
    assert_eq!(t.ge(&three).to_vec(), vec![0, 0, 0, 1, 1, 1]);
    assert_eq!(t.eq(&t.t().t()).sum().item(), 6);
    assert_eq!(t.ne(&three).sum().item(), 5);
    assert_eq!(
        t.gt(&I::from_slice(&[0, 4, 1])).to_vec(),
        vec![0, 0, 1, 1, 0, 1]
    );
    assert!(t.try_le(&I::zeros(&[4])).is_err());
    // A float comparison's mask selects between float tensors.
    let x = Tensor::<f32>::from_vec(vec![-1.0, 2.0, f32::NAN], &[3]).unwrap();
    let positive = x.gt(&Tensor::scalar(0.0));
    assert_eq!(positive.to_vec(), vec![0, 1, 0]);
    assert_eq!(x.ne(&x).to_vec(), vec![0, 0, 1]);
    let chosen = positive.where_cond(&x, &Tensor::scalar(0.0));
    assert_eq!(chosen.to_vec(), vec![0.0, 2.0, 0.0]);
    assert_eq!(I::scalar(i64::MAX).try_sum().unwrap().item(), i64::MAX);
    let big = I::from_slice(&[i64::MAX, 1]);
    assert!(
        big.try_sum()
            .unwrap_err()
            .to_string()
            .contains("overflows i64")
    );
}

#[test]
fn conversions_follow_rusts_as() {
    let x = Tensor::<f64>::from_vec(vec![-2.7, 2.7, f64::NAN, 1e300, -1e300], &[5]).unwrap();
    assert_eq!(
        x.to_dtype::<i64>().to_vec(),
        vec![-2, 2, 0, i64::MAX, i64::MIN]
    );
    let big = I::from_slice(&[(1 << 53) + 1]);
    assert_eq!(big.to_dtype::<f64>().item(), (1u64 << 53) as f64);
    assert_eq!(big.to_dtype::<i64>().item(), (1 << 53) + 1);
}

#[test]
fn display_aligns_integers() {
    assert_eq!(
        I::from_vec(vec![10, -2, 3, 400], &[2, 2])
            .unwrap()
            .to_string(),
        "tensor([[ 10,  -2],\n        [  3, 400]], shape=[2, 2], dtype=i64)"
    );
    assert_eq!(I::scalar(-5).to_string(), "tensor(-5, shape=[], dtype=i64)");
    let long = I::arange(0, 2000, 1).to_string();
    assert!(
        long.starts_with("tensor([   0,    1,    2, ..., 1997, 1998, 1999]"),
        "{long}"
    );
    assert_eq!(
        format!("{:?}", I::zeros(&[0])),
        "tensor([], shape=[0], dtype=i64)"
    );
}

/// `gather` and `scatter_add` against their definitions, written with explicit coordinates,
/// along every dimension of a 3-D tensor, with index tensors smaller than it elsewhere.
#[test]
fn gather_and_scatter_add_follow_their_definitions_in_three_dimensions() {
    let shape = [2usize, 3, 4];
    let src = Tensor::<f64>::from_vec((0..24).map(f64::from).collect(), &shape).unwrap();
    let at = |c: [usize; 3], s: &[usize]| (c[0] * s[1] + c[1]) * s[2] + c[2];
    for dim in 0..3 {
        let mut small = [2usize, 2, 3];
        small[dim] = 5; // longer than the input along dim: repeats
        let count: usize = small.iter().product();
        let entries: Vec<i64> = (0..count)
            .map(|p| ((p * 7 + dim) % shape[dim]) as i64)
            .collect();
        let index = I::from_vec(entries.clone(), &small).unwrap();
        let got = src.gather(dim, &index).to_vec();
        let ones = Tensor::<f64>::ones(&small);
        let scattered = Tensor::<f64>::zeros(&shape)
            .scatter_add(dim, &index, &ones)
            .to_vec();
        let mut counts = vec![0.0; 24];
        for i in 0..small[0] {
            for j in 0..small[1] {
                for k in 0..small[2] {
                    let p = at([i, j, k], &small);
                    let mut c = [i, j, k];
                    c[dim] = entries[p] as usize;
                    assert_eq!(got[p], f64::from(at(c, &shape) as u32), "dim {dim} at {p}");
                    counts[at(c, &shape)] += 1.0;
                }
            }
        }
        assert_eq!(scattered, counts, "dim {dim}");
    }
}

#[test]
fn scatter_add_onto_a_broadcast_value_equals_onto_its_copy() {
    let index = Tensor::<i64>::from_vec(vec![2, 0, 0, 1], &[2, 2]).unwrap();
    let source = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let broadcast = Tensor::<f64>::scalar(0.5).broadcast_to(&[2, 3]);
    let copy = Tensor::<f64>::full(&[2, 3], 0.5);
    let expected = vec![2.5, 0.5, 1.5, 3.5, 4.5, 0.5];
    assert_eq!(broadcast.scatter_add(1, &index, &source).to_vec(), expected);
    assert_eq!(copy.scatter_add(1, &index, &source).to_vec(), expected);
}
