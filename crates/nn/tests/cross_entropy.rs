//! Cross-entropy and NLL against class indices: the index form equals the probability form on
//! one-hot targets, `ignore_index` and `label_smoothing` give PyTorch's closed forms, and the
//! derivatives match finite differences to second order.

use nn::{
    CrossEntropyOptions, Reduction, cross_entropy, try_cross_entropy_probs, try_cross_entropy_with,
    try_nll_loss,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::Tensor;
use tensor::testing::{assert_close, check_derivatives};

fn logits(rows: usize, classes: usize, seed: u64) -> Tensor<f64> {
    Tensor::rand_uniform(
        &[rows, classes],
        -3.0,
        3.0,
        &mut StdRng::seed_from_u64(seed),
    )
}

/// `log softmax` of each row, by hand.
fn log_probs(x: &Tensor<f64>) -> Vec<Vec<f64>> {
    let width = x.shape()[1];
    x.to_vec()
        .chunks(width)
        .map(|row| {
            let lse = row.iter().map(|v| v.exp()).sum::<f64>().ln();
            row.iter().map(|v| v - lse).collect()
        })
        .collect()
}

#[test]
fn indices_equal_one_hot_probabilities() {
    let (x, labels) = (logits(5, 4, 1), [3, 0, 1, 1, 2]);
    let mut one_hot = vec![0.0; 20];
    for (i, &c) in labels.iter().enumerate() {
        one_hot[i * 4 + c as usize] = 1.0;
    }
    let classes = Tensor::from_slice(&labels);
    let one_hot = Tensor::from_vec(one_hot, &[5, 4]).unwrap();
    for reduction in [Reduction::Mean, Reduction::Sum, Reduction::None] {
        let by_index = nn::try_cross_entropy(&x, &classes, reduction).unwrap();
        let by_probs = try_cross_entropy_probs(&x, &one_hot, reduction).unwrap();
        assert_close(&by_index, &by_probs, 1e-15, 1e-15);
    }
    // And NLL of log_softmax is cross-entropy.
    let nll = try_nll_loss(&x.log_softmax(-1), &classes, CrossEntropyOptions::default()).unwrap();
    assert_eq!(nll.item(), cross_entropy(&x, &classes).item());
}

#[test]
fn ignore_index_and_label_smoothing_follow_pytorchs_closed_forms() {
    // Class 7 is ignored, not out of range.
    let (x, classes) = (logits(4, 3, 2), Tensor::from_slice(&[2, 7, 0, 1]));
    let lp = log_probs(&x);
    let eps = 0.2;
    let options = CrossEntropyOptions {
        reduction: Reduction::None,
        ignore_index: Some(7),
        label_smoothing: eps,
    };
    let per_row = try_cross_entropy_with(&x, &classes, options)
        .unwrap()
        .to_vec();
    for (i, c) in classes.to_vec().into_iter().enumerate() {
        let want = if c == 7 {
            0.0
        } else {
            -(1.0 - eps) * lp[i][c as usize] - eps / 3.0 * lp[i].iter().sum::<f64>()
        };
        assert!(
            (per_row[i] - want).abs() < 1e-14,
            "row {i}: {} {want}",
            per_row[i]
        );
    }
    // The mean counts the three rows not ignored.
    let mean = try_cross_entropy_with(
        &x,
        &classes,
        CrossEntropyOptions {
            reduction: Reduction::Mean,
            ..options
        },
    );
    let want = per_row.iter().sum::<f64>() / 3.0;
    assert!((mean.unwrap().item() - want).abs() < 1e-15);
    // Every row ignored: the mean is NaN, the sum 0.
    let all = Tensor::from_slice(&[7, 7, 7, 7]);
    let none = CrossEntropyOptions {
        ignore_index: Some(7),
        ..CrossEntropyOptions::default()
    };
    assert!(
        try_cross_entropy_with(&x, &all, none)
            .unwrap()
            .item()
            .is_nan()
    );
    let sum = CrossEntropyOptions {
        reduction: Reduction::Sum,
        ..none
    };
    assert_eq!(try_cross_entropy_with(&x, &all, sum).unwrap().item(), 0.0);
    // An ignored row whose logits are -inf stays 0, with no NaN in the gradient.
    let inf = f64::NEG_INFINITY;
    let masked = Tensor::from_vec(vec![inf, inf, inf, 1.0, 2.0, 0.5], &[2, 3])
        .unwrap()
        .require_grad();
    let loss = try_cross_entropy_with(&masked, &Tensor::from_slice(&[7, 1]), none).unwrap();
    assert!(loss.item().is_finite());
    let g = loss.backward().get(&masked).unwrap().to_vec();
    assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
    assert_eq!(&g[..3], &[0.0; 3]);
}

#[test]
fn bad_options_and_targets_are_errors_naming_them() {
    let x = logits(2, 3, 3);
    let smooth = |e| CrossEntropyOptions {
        label_smoothing: e,
        ..CrossEntropyOptions::default()
    };
    for eps in [-0.1, 1.5, f64::NAN] {
        let e = try_cross_entropy_with(&x, &Tensor::from_slice(&[0, 1]), smooth(eps)).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cross_entropy: label_smoothing must be in [0, 1]"),
            "{e}"
        );
    }
    let e = try_nll_loss(&x, &Tensor::from_slice(&[0, 1]), smooth(0.1)).unwrap_err();
    assert!(
        e.to_string()
            .contains("label_smoothing is for cross_entropy"),
        "{e}"
    );
    let e = try_cross_entropy_with(
        &x,
        &Tensor::from_slice(&[0, 3]),
        CrossEntropyOptions::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("cross_entropy: index 3 is out of range for dimension 1 of size 3"),
        "{e}"
    );
    let e = try_nll_loss(
        &x,
        &Tensor::from_slice(&[0]),
        CrossEntropyOptions::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("class indices of shape [1] for log-probabilities of shape [2, 3]"),
        "{e}"
    );
    assert!(try_cross_entropy_probs(&x, &logits(3, 3, 4), Reduction::Mean).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn derivatives_match_finite_differences(
        rows in 1usize..=4,
        width in 1usize..=4,
        eps in prop_oneof![Just(0.0), Just(0.1), Just(1.0)],
        ignore in any::<bool>(),
        reduction in prop_oneof![Just(Reduction::Mean), Just(Reduction::Sum), Just(Reduction::None)],
        seed in any::<u64>(),
    ) {
        let x = logits(rows, width, seed);
        let classes: Vec<i64> = (0..rows).map(|i| ((i * 7 + seed as usize) % width) as i64).collect();
        let options = CrossEntropyOptions {
            reduction,
            ignore_index: ignore.then_some(classes[0]),
            label_smoothing: eps,
        };
        // A mean over no rows at all is NaN (as in PyTorch), and has no derivative to check.
        let all_ignored = classes.iter().all(|&c| options.ignore_index == Some(c));
        prop_assume!(!(all_ignored && reduction == Reduction::Mean));
        let classes = Tensor::from_slice(&classes);
        check_derivatives(&[x], seed, |xs| try_cross_entropy_with(&xs[0], &classes, options))?;
    }
}

#[test]
fn a_masked_class_in_a_kept_row_leaves_the_loss_finite() {
    // Class 1 is masked out of the first row: its log-probability is -inf. The loss picks the
    // target's log-probability, as PyTorch does, rather than weighting -inf by 0.
    let inf = f64::NEG_INFINITY;
    let x = Tensor::from_vec(vec![0.0, inf, 1.0, 2.0, 0.5, 0.25], &[2, 3])
        .unwrap()
        .require_grad();
    let classes = Tensor::from_slice(&[0, 2]);
    let lp = log_probs(&x);
    let none = CrossEntropyOptions {
        reduction: Reduction::None,
        ..CrossEntropyOptions::default()
    };
    let per_row = try_cross_entropy_with(&x, &classes, none).unwrap().to_vec();
    assert!((per_row[0] + lp[0][0]).abs() < 1e-15, "{per_row:?}");
    assert!((per_row[1] + lp[1][2]).abs() < 1e-15, "{per_row:?}");
    let g = cross_entropy(&x, &classes)
        .backward()
        .get(&x)
        .unwrap()
        .to_vec();
    assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
    assert_eq!(g[1], 0.0);
    // With smoothing the masked class takes a share of the target: the loss is infinite, as
    // in PyTorch, not NaN.
    let smooth = CrossEntropyOptions {
        label_smoothing: 0.1,
        ..none
    };
    let smoothed = try_cross_entropy_with(&x, &classes, smooth)
        .unwrap()
        .to_vec();
    assert_eq!(smoothed[0], f64::INFINITY);
    assert!(smoothed[1].is_finite());
}
