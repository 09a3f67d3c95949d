//! Bad input gives a `TensorError` naming the op and the shapes; the plain forms panic with
//! the same message.

use tensor::{Tensor, TensorError};

type T = Tensor<f32>;

#[test]
fn shape_product_overflow_is_an_error() {
    let err = T::try_full(&[usize::MAX, 2], 0.0).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "full: the number of elements of shape [{}, 2] overflows usize",
            usize::MAX
        )
    );
    let err = T::from_vec(vec![], &[1 << 40, 1 << 40]).unwrap_err();
    assert!(
        matches!(err, TensorError::ShapeOverflow { op: "from_vec", .. }),
        "{err}"
    );
    let x = T::ones(&[1]);
    let err = x.try_broadcast_to(&[usize::MAX, 3]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("broadcast_to: the number of elements"),
        "{err}"
    );
}

#[test]
fn allocation_failure_is_an_error_not_an_abort() {
    // A broadcast view of 2^61 elements is free; materialising it is not.
    let x = T::scalar(1.0).broadcast_to(&[1 << 30, 1 << 31]);
    let err = x.try_exp().unwrap_err();
    assert_eq!(
        err,
        TensorError::OutOfMemory {
            op: "exp",
            elements: 1 << 61
        }
    );
}

#[test]
fn wrong_data_length_is_an_error() {
    let err = T::from_vec(vec![1.0; 5], &[2, 3]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "from_vec: shape [2, 3] needs 6 elements but the data has 5"
    );
}

#[test]
fn dim_out_of_range_is_an_error() {
    let x = T::ones(&[2, 3]);
    assert_eq!(
        x.try_sum_dim(2, false).unwrap_err().to_string(),
        "sum_dim: dimension 2 is out of range for a tensor of rank 2 (expected -2..=1)"
    );
    assert_eq!(
        x.try_softmax(-3).unwrap_err().to_string(),
        "softmax: dimension -3 is out of range for a tensor of rank 2 (expected -2..=1)"
    );
    assert!(x.try_transpose(0, 5).is_err());
    assert!(x.try_unsqueeze(4).is_err());
    assert!(x.try_narrow(9, 0, 1).is_err());
    assert_eq!(
        T::scalar(1.0)
            .try_max_dim(0, false)
            .unwrap_err()
            .to_string(),
        "max_dim: dimension 0 is out of range for a rank-0 tensor"
    );
}

#[test]
fn matmul_mismatch_is_an_error() {
    let a = T::ones(&[2, 3]);
    let b = T::ones(&[4, 5]);
    let err = a.try_matmul(&b).unwrap_err();
    assert_eq!(
        err.to_string(),
        "matmul: cannot multiply [2, 3] by [4, 5] (inner dimensions 3 and 4 differ)"
    );
    assert!(
        matches!(err, TensorError::ShapeMismatch { ref lhs, ref rhs, .. } if lhs == &[2, 3] && rhs == &[4, 5])
    );
    let err = T::ones(&[2, 2, 3])
        .try_matmul(&T::ones(&[3, 3, 4]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "matmul: cannot multiply [2, 2, 3] by [3, 3, 4] (batch dimensions do not broadcast)"
    );
    let err = T::scalar(1.0).try_matmul(&b).unwrap_err();
    assert!(err.to_string().contains("at least one dimension"), "{err}");
}

#[test]
#[should_panic(
    expected = "matmul: cannot multiply [2, 3] by [4, 5] (inner dimensions 3 and 4 differ)"
)]
fn plain_matmul_panics_with_the_message() {
    let _ = T::ones(&[2, 3]).matmul(&T::ones(&[4, 5]));
}

#[test]
#[should_panic(expected = "add: cannot broadcast [2, 3] with [4]")]
fn operator_panics_with_the_broadcast_message() {
    let _ = T::ones(&[2, 3]) + T::ones(&[4]);
}

#[test]
fn invalid_arguments_name_the_values() {
    let x = T::ones(&[2, 3]);
    assert_eq!(
        x.try_reshape(&[4]).unwrap_err().to_string(),
        "reshape: cannot reshape [2, 3] (6 elements) to [4] (4 elements)"
    );
    assert_eq!(
        x.try_permute(&[0, 0]).unwrap_err().to_string(),
        "permute: [0, 0] is not a permutation of the 2 dimensions of [2, 3]"
    );
    assert_eq!(
        x.try_narrow(1, 2, 2).unwrap_err().to_string(),
        "narrow: range 2..2+2 is outside dimension 1 of shape [2, 3]"
    );
    let at = |i: &[i64]| Tensor::<i64>::from_slice(i);
    assert_eq!(
        x.try_index_select(0, &at(&[0, 2])).unwrap_err().to_string(),
        "index_select: index 2 is out of range for dimension 0 of size 2"
    );
    assert_eq!(
        x.try_index_select(1, &at(&[1, -1])).unwrap_err(),
        tensor::TensorError::IndexOutOfRange {
            op: "index_select",
            dim: 1,
            index: -1,
            size: 3
        }
    );
    assert_eq!(
        x.try_index_select(1, &at(&[-1])).unwrap_err().to_string(),
        "index_select: index -1 is out of range for dimension 1 of size 3 (negative indices \
         are not accepted)"
    );
    assert_eq!(
        x.try_index_select(0, &Tensor::zeros(&[1, 1]))
            .unwrap_err()
            .to_string(),
        "index_select: indices must be 1-D, got shape [1, 1] (to index with more, flatten \
         them and reshape the result)"
    );
    let index = Tensor::<i64>::from_vec(vec![0, 3, 1, 2], &[2, 2]).unwrap();
    assert_eq!(
        x.try_gather(1, &index).unwrap_err().to_string(),
        "gather: index 3 is out of range for dimension 1 of size 3"
    );
    assert_eq!(
        x.try_gather(-1, &at(&[0])).unwrap_err().to_string(),
        "gather: index of shape [1] must have the rank of [2, 3] and be no larger outside \
         dimension 1"
    );
    assert!(x.try_gather(1, &Tensor::zeros(&[3, 1])).is_err());
    assert!(x.try_gather(2, &index).is_err());
    assert_eq!(
        x.try_scatter_add(0, &index, &T::ones(&[2, 2]))
            .unwrap_err()
            .to_string(),
        "scatter_add: index 3 is out of range for dimension 0 of size 2"
    );
    assert_eq!(
        x.try_scatter_add(0, &Tensor::zeros(&[2, 2]), &T::ones(&[2, 3]))
            .unwrap_err()
            .to_string(),
        "scatter_add: index of shape [2, 2] and source of shape [2, 3] must have one shape"
    );
    assert_eq!(
        x.try_index_add(1, &at(&[0, -2]), &T::ones(&[2, 2]))
            .unwrap_err()
            .to_string(),
        "index_add: index -2 is out of range for dimension 1 of size 3 (negative indices are \
         not accepted)"
    );
    assert_eq!(
        x.try_squeeze(0).unwrap_err().to_string(),
        "squeeze: dimension 0 of shape [2, 3] has size 2, not 1"
    );
    assert_eq!(
        x.try_clamp(1.0, 0.0).unwrap_err().to_string(),
        "clamp: needs min <= max, got min 1 and max 0"
    );
    assert_eq!(
        T::try_concat(&[T::ones(&[2, 3]), T::ones(&[3, 2])], 0)
            .unwrap_err()
            .to_string(),
        "concat: cannot join [2, 3] and [3, 2] along dimension 0 (the other dimensions must agree)"
    );
    assert!(T::try_concat(&[] as &[T], 0).is_err());
    assert!(T::try_stack(&[T::ones(&[2]), T::ones(&[3])], 0).is_err());
    assert_eq!(
        T::try_arange(0.0, 1.0, -0.5).unwrap_err().to_string(),
        "arange: step -0.5 does not lead from 0 to 1"
    );
    assert_eq!(
        x.try_item().unwrap_err().to_string(),
        "item: expected a tensor with exactly one element, got shape [2, 3] (6 elements)"
    );
    assert!(x.try_index_add(1, &at(&[0]), &T::ones(&[2, 2])).is_err());
    let mask = x.gt(&T::scalar(0.0));
    assert!(mask.try_where_cond(&T::ones(&[3]), &T::ones(&[4])).is_err());
    assert!(x.try_masked_fill(&Tensor::zeros(&[3, 2]), 0.0).is_err());
    assert_eq!(
        x.try_layer_norm(Some(&T::ones(&[2])), None, 1e-5)
            .unwrap_err()
            .to_string(),
        "layer_norm: the weight has shape [2], not [3], the last dimension of [2, 3]"
    );
    assert!(x.try_layer_norm(None, None, -1.0).is_err());
    assert!(T::scalar(1.0).try_layer_norm(None, None, 1e-5).is_err());
}

#[test]
fn random_constructors_validate_their_parameters() {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    assert_eq!(
        T::try_rand_uniform(&[2], 1.0, 1.0, &mut rng)
            .unwrap_err()
            .to_string(),
        "rand_uniform: needs finite bounds with low < high, got [1, 1)"
    );
    assert_eq!(
        T::try_randn(&[2], 0.0, -1.0, &mut rng)
            .unwrap_err()
            .to_string(),
        "randn: needs a finite mean and a finite std >= 0, got mean 0, std -1"
    );
    assert!(T::try_randn(&[2], f32::NAN, 1.0, &mut rng).is_err());
}
