//! Convolution, pooling, flattening and batch norm layers: initialisation, forward passes
//! against their definitions, batch norm in both modes against its closed form (running
//! statistics after several steps included), gradients, and checkpoints.

use nn::{AvgPool2d, BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, Flatten, MaxPool2d, Module};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::testing::{check_derivatives, weights};
use tensor::{Conv1dParams, Conv2dParams, Pool2dParams, Tensor};

type T = Tensor<f64>;

#[test]
fn conv_layers_draw_pytorch_default_weights_and_apply_the_op() {
    let mut rng = StdRng::seed_from_u64(3);
    let conv = Conv2d::<f64>::new(6, 16, 5, Conv2dParams::default().groups(2), &mut rng);
    assert_eq!(conv.weight().shape(), vec![16, 3, 5, 5]);
    assert_eq!(conv.bias().unwrap().shape(), vec![16]);
    // Uniform in ±1/√(3 · 25): the bound holds, and the spread is the uniform's.
    let bound = 1.0 / 75f64.sqrt();
    let w = conv.weight().tensor().to_vec();
    assert!(w.iter().all(|v| v.abs() <= bound));
    let var = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
    assert!(
        (var / (bound * bound / 3.0) - 1.0).abs() < 0.15,
        "variance {var}"
    );
    assert!(
        conv.bias()
            .unwrap()
            .tensor()
            .to_vec()
            .iter()
            .all(|v| v.abs() <= bound)
    );
    let x = weights(&[2, 6, 9, 9], 1);
    let expected = x.conv2d(
        &conv.weight().tensor(),
        Some(&conv.bias().unwrap().tensor()),
        conv.params(),
    );
    assert_eq!(conv.forward(&x).to_vec(), expected.to_vec());
    let names: Vec<String> = conv
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["weight", "bias"]);

    let conv1 =
        Conv1d::<f64>::new(4, 2, 3, Conv1dParams::default().padding(1), &mut rng).without_bias();
    assert!(conv1.bias().is_none());
    let x = weights(&[3, 4, 10], 2);
    assert_eq!(conv1.forward(&x).shape(), &[3, 2, 10]);
    let bad = Conv2d::<f32>::try_new(6, 4, 3, Conv2dParams::default().groups(4), &mut rng);
    assert!(
        bad.err()
            .unwrap()
            .to_string()
            .contains("groups 4 must divide")
    );
}

#[test]
fn pooling_and_flatten_layers_apply_their_ops() {
    let x = weights(&[2, 3, 6, 6], 4);
    let p = Pool2dParams::new(2);
    assert_eq!(
        Module::<f64>::forward(&MaxPool2d::new(p), &x).to_vec(),
        x.max_pool2d(p).to_vec()
    );
    assert_eq!(
        Module::<f64>::forward(&AvgPool2d::new(p), &x).to_vec(),
        x.avg_pool2d(p).to_vec()
    );
    assert_eq!(
        Module::<f64>::forward(&Flatten::new(), &x).shape(),
        &[2, 108]
    );
    assert_eq!(
        Module::<f64>::forward(&Flatten::dims(1, 2), &x).shape(),
        &[2, 18, 6]
    );
    let e = Module::<f64>::try_forward(&Flatten::dims(2, 1), &x).unwrap_err();
    assert!(e.to_string().contains("Flatten"), "{e}");
}

/// Per-channel mean and biased variance of `x` (`[n, c, ..]`), from the definition.
fn channel_stats(x: &T) -> (Vec<f64>, Vec<f64>) {
    let (n, c) = (x.shape()[0], x.shape()[1]);
    let inner: usize = x.shape()[2..].iter().product();
    let v = x.to_vec();
    let values =
        |ch: usize| (0..n).flat_map(move |s| (0..inner).map(move |i| (s * c + ch) * inner + i));
    let count = (n * inner) as f64;
    let mean: Vec<f64> = (0..c)
        .map(|ch| values(ch).map(|i| v[i]).sum::<f64>() / count)
        .collect();
    let var = (0..c)
        .map(|ch| values(ch).map(|i| (v[i] - mean[ch]).powi(2)).sum::<f64>() / count)
        .collect();
    (mean, var)
}

fn assert_close(actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len());
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tol * (1.0 + e.abs()),
            "element {i}: {a} against {e}"
        );
    }
}

#[test]
fn batch_norm_matches_its_closed_form_in_training_and_evaluation() {
    let bn = BatchNorm2d::<f64>::new(3).momentum(Some(0.3));
    bn.weight()
        .unwrap()
        .set(T::from_vec(vec![1.5, -0.5, 2.0], &[3]).unwrap());
    bn.bias()
        .unwrap()
        .set(T::from_vec(vec![0.1, 0.2, -0.3], &[3]).unwrap());
    let (gamma, beta) = ([1.5, -0.5, 2.0], [0.1, 0.2, -0.3]);
    let (mut running_mean, mut running_var) = (vec![0.0; 3], vec![1.0; 3]);
    let inner = 4 * 5;
    for step in 0..4 {
        let x = &weights(&[6, 3, 4, 5], step) * (step as f64 + 1.0);
        let y = bn.forward(&x).to_vec();
        let (mean, var) = channel_stats(&x);
        let xs = x.to_vec();
        let expected: Vec<f64> = xs
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let ch = i / inner % 3;
                gamma[ch] * (v - mean[ch]) / (var[ch] + 1e-5).sqrt() + beta[ch]
            })
            .collect();
        assert_close(&y, &expected, 1e-12);
        let count = (6 * inner) as f64;
        for ch in 0..3 {
            running_mean[ch] = 0.7 * running_mean[ch] + 0.3 * mean[ch];
            running_var[ch] = 0.7 * running_var[ch] + 0.3 * var[ch] * count / (count - 1.0);
        }
        assert_close(
            &bn.running_mean().unwrap().tensor().to_vec(),
            &running_mean,
            1e-13,
        );
        assert_close(
            &bn.running_var().unwrap().tensor().to_vec(),
            &running_var,
            1e-13,
        );
    }
    bn.eval();
    let before = bn.running_mean().unwrap().tensor().to_vec();
    let x = weights(&[2, 3, 4, 5], 9);
    let y = bn.forward(&x).to_vec();
    let expected: Vec<f64> = x
        .to_vec()
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let ch = i / inner % 3;
            gamma[ch] * (v - running_mean[ch]) / (running_var[ch] + 1e-5).sqrt() + beta[ch]
        })
        .collect();
    assert_close(&y, &expected, 1e-12);
    // Evaluation leaves the statistics alone.
    assert_eq!(bn.running_mean().unwrap().tensor().to_vec(), before);
}

#[test]
fn batch_norm_without_momentum_keeps_a_cumulative_average() {
    let bn = BatchNorm1d::<f64>::new(2).momentum(None);
    let mut means = Vec::new();
    for step in 0..3 {
        let x = &weights(&[5, 2], step) + step as f64;
        bn.forward(&x);
        means.push(channel_stats(&x.unsqueeze(2)).0);
    }
    let average: Vec<f64> = (0..2)
        .map(|c| means.iter().map(|m| m[c]).sum::<f64>() / 3.0)
        .collect();
    assert_close(
        &bn.running_mean().unwrap().tensor().to_vec(),
        &average,
        1e-14,
    );
    let names: Vec<String> = bn.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["running_mean", "running_var", "num_batches_tracked"]
    );
    assert_eq!(bn.named_buffers()[2].1.tensor().item(), 3.0);
}

#[test]
fn batch_norm_grads_match_finite_difference_in_both_modes() {
    // The normalisation without the affine part (a plain product and sum, tested with
    // those ops), so that every input of the check is an argument.
    for training in [true, false] {
        for shape in [vec![4, 3], vec![3, 2, 4]] {
            let bn = BatchNorm1d::<f64>::new(shape[1]).without_affine();
            bn.forward(&weights(&shape, 8));
            bn.set_training(training);
            check_derivatives(&[weights(&shape, 7)], 11, |xs| bn.try_forward(&xs[0]))
                .unwrap_or_else(|e| panic!("training {training}, shape {shape:?}: {e}"));
        }
    }
    let bn = BatchNorm2d::<f64>::new(2).without_affine();
    check_derivatives(&[weights(&[3, 2, 2, 3], 2)], 12, |xs| {
        bn.try_forward(&xs[0])
    })
    .unwrap();
}

#[test]
fn batch_norm_states_are_checkpointed_and_bad_inputs_are_errors() {
    let dir = std::env::temp_dir().join(format!("surefire-bn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bn.safetensors");
    let model = nn::Sequential::<f64>::new()
        .push(BatchNorm2d::new(2))
        .push(Flatten::new());
    model.forward(&weights(&[4, 2, 3, 3], 1));
    nn::save(&model, &path).unwrap();
    let fresh = nn::Sequential::<f64>::new()
        .push(BatchNorm2d::new(2))
        .push(Flatten::new());
    nn::load(&fresh, &path).unwrap();
    let state = |m: &nn::Sequential<f64>| -> Vec<Vec<f64>> {
        m.named_buffers()
            .iter()
            .map(|(_, p)| p.tensor().to_vec())
            .collect()
    };
    assert_eq!(state(&fresh), state(&model));
    assert_eq!(fresh.named_buffers()[0].0, "0.running_mean");
    std::fs::remove_dir_all(&dir).unwrap();

    let bn = BatchNorm2d::<f64>::new(3);
    let e = bn
        .try_forward(&T::zeros(&[2, 4, 3, 3]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("BatchNorm2d") && e.contains("3 channels") && e.contains("[2, 4, 3, 3]"),
        "{e}"
    );
    let e = bn
        .try_forward(&T::zeros(&[1, 3, 1, 1]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("more than 1 value per channel"), "{e}");
    bn.eval();
    assert_eq!(bn.forward(&T::zeros(&[1, 3, 1, 1])).shape(), &[1, 3, 1, 1]);
}
