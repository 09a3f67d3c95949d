//! `Embedding`: rows looked up by id, gradients accumulated into the rows the ids name, and
//! bad ids reported by value.

use nn::{Embedding, Module};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::testing::weights;
use tensor::{Tensor, TensorError};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Ids of random shapes (zero-size ones too), in any order and repeating: the forward
    /// pass is the table's rows, and the gradient of `Σ w · forward(ids)` is, for each row of
    /// the table, the sum of `w` over the positions whose id names that row.
    #[test]
    fn rows_and_gradients_follow_the_ids(
        count in 1usize..6,
        width in 1usize..4,
        shape in prop::collection::vec(0usize..4, 0..3),
        seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let embed = Embedding::<f64>::new(count, width, &mut rng);
        let n: usize = shape.iter().product();
        let ids: Vec<i64> = (0..n).map(|i| ((i as u64 * 7 + seed) % count as u64) as i64).collect();
        let ids = Tensor::from_vec(ids.clone(), &shape).unwrap();
        let out = embed.forward(&ids);
        let mut out_shape = shape.clone();
        out_shape.push(width);
        prop_assert_eq!(out.shape(), out_shape.as_slice());
        let table = embed.weight().tensor().to_vec();
        let values = out.to_vec();
        let w = weights(&out_shape, seed ^ 1);
        let mut want = vec![0.0; count * width];
        for (p, id) in ids.to_vec().into_iter().enumerate() {
            let id = id as usize;
            prop_assert_eq!(&values[p * width..(p + 1) * width], &table[id * width..(id + 1) * width]);
            for k in 0..width {
                want[id * width + k] += w.to_vec()[p * width + k];
            }
        }
        let grads = (&out * &w).sum().backward();
        let got = grads.get(embed.weight()).unwrap().to_vec();
        for (g, e) in got.iter().zip(&want) {
            prop_assert!((g - e).abs() <= 1e-12 * (1.0 + e.abs()), "{got:?} vs {want:?}");
        }
    }
}

#[test]
fn bad_ids_and_sizes_are_errors_naming_them() {
    let mut rng = StdRng::seed_from_u64(0);
    let embed = Embedding::<f32>::new(4, 2, &mut rng);
    for (bad, text) in [
        (
            4,
            "Embedding: index 4 is out of range for dimension 0 of size 4",
        ),
        (
            -1,
            "Embedding: index -1 is out of range for dimension 0 of size 4 (negative indices \
             are not accepted)",
        ),
    ] {
        let e = embed
            .try_forward(&Tensor::from_slice(&[0, bad, 1]))
            .unwrap_err();
        assert!(matches!(e, TensorError::IndexOutOfRange { index, .. } if index == bad));
        assert_eq!(e.to_string(), text);
    }
    assert!(
        Embedding::<f32>::try_new(0, 3, nn::init::Init::Zeros, &mut rng)
            .unwrap_err()
            .to_string()
            .contains("0 × 3")
    );
    assert!(Embedding::from_weight(Tensor::<f32>::zeros(&[3])).is_err());
    let table = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let fixed = Embedding::from_weight(table).unwrap();
    assert_eq!((fixed.count(), fixed.width()), (2, 2));
    assert_eq!(fixed.forward(&Tensor::scalar(1)).to_vec(), vec![3.0, 4.0]);
}
