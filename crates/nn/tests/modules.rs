//! Layers, containers, names and initialisation; an MLP learning XOR.

use nn::init::{Fans, Init};
use nn::{Activation, Dense, Mlp, Module, Sequential, mse_loss};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Tensor, no_grad};

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

#[test]
fn mlp_parameter_names_are_indexed() {
    let model = Mlp::<f32>::new(&[4, 8, 1], Activation::Sigmoid, &mut rng(0));
    let names: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["0.weight", "0.bias", "1.weight", "1.bias"]);
    let shapes: Vec<Vec<usize>> = model.parameters().iter().map(|p| p.shape()).collect();
    assert_eq!(shapes, [vec![4, 8], vec![8], vec![8, 1], vec![1]]);
    assert_eq!(model.num_parameters(), 4 * 8 + 8 + 8 + 1);
    // Sigmoid after every layer, the output included; or another output activation.
    assert!(
        model
            .layers()
            .iter()
            .all(|l| l.activation() == Activation::Sigmoid)
    );
    let logits = Mlp::<f32>::with_output_activation(
        &[4, 8, 3],
        Activation::Relu,
        Activation::Identity,
        &mut rng(0),
    );
    assert_eq!(logits.layers()[0].activation(), Activation::Relu);
    assert_eq!(logits.layers()[1].activation(), Activation::Identity);
}

#[test]
fn sequential_nests_names_and_applies_in_order() {
    let inner = Sequential::<f64>::new()
        .push(Dense::new(2, 3, Activation::Tanh, &mut rng(1)))
        .push(Activation::Relu);
    let model = Sequential::new().push(inner).push(Dense::without_bias(
        3,
        1,
        Activation::Identity,
        &mut rng(2),
    ));
    let names: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["0.0.weight", "0.0.bias", "1.weight"]);
    let x = Tensor::<f64>::ones(&[5, 2]);
    let by_hand = {
        let first = &model.layers()[0];
        model.layers()[1].forward(&first.forward(&x))
    };
    assert_eq!(model.forward(&x).to_vec(), by_hand.to_vec());
    assert_eq!(Sequential::<f64>::new().forward(&x).to_vec(), x.to_vec());
}

#[test]
fn dense_computes_activation_of_affine_map_for_any_batch_shape() {
    let w = tensor::Parameter::new(
        Tensor::<f64>::from_vec(vec![1.0, -1.0, 2.0, 0.5], &[2, 2]).unwrap(),
    );
    let b = tensor::Parameter::new(Tensor::<f64>::from_vec(vec![0.5, -0.5], &[2]).unwrap());
    let layer = Dense::from_parameters(w, Some(b), Activation::Relu).unwrap();
    // x = [1, 2]: x·W + b = [1 + 4 + 0.5, -1 + 1 - 0.5] = [5.5, -0.5] -> relu [5.5, 0]
    let x = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    assert_eq!(layer.forward(&x).to_vec(), vec![5.5, 0.0]);
    let batch = x.broadcast_to(&[3, 4, 2]);
    assert_eq!(layer.forward(&batch).shape(), &[3, 4, 2]);
    let err = layer.try_forward(&Tensor::zeros(&[3, 5])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Dense: expected inputs of shape [.., 2], got [3, 5]"
    );
    let bad = Dense::<f64>::from_parameters(
        tensor::Parameter::new(Tensor::zeros(&[2, 3])),
        Some(tensor::Parameter::new(Tensor::zeros(&[2]))),
        Activation::Sigmoid,
    );
    assert!(bad.is_err());
    assert_eq!(
        Dense::<f32>::try_new(0, 3, Activation::Sigmoid, &mut rng(0))
            .err()
            .unwrap()
            .to_string(),
        "Dense: needs at least one input and one output, got 0 -> 3"
    );
    assert!(Mlp::<f32>::try_new(&[4], Activation::Sigmoid, &mut rng(0)).is_err());
}

#[test]
fn dense_picks_the_initialisation_for_its_activation() {
    assert_eq!(
        Init::for_activation(Activation::Sigmoid),
        Init::XavierUniform { gain: 1.0 }
    );
    assert_eq!(
        Init::for_activation(Activation::Tanh),
        Init::XavierUniform { gain: 5.0 / 3.0 }
    );
    assert_eq!(
        Init::for_activation(Activation::Relu),
        Init::KaimingUniform {
            gain: std::f64::consts::SQRT_2
        }
    );
    // Xavier uniform for sigmoid: |w| <= sqrt(6 / (in + out)); the bias starts at zero.
    let layer = Dense::<f64>::new(30, 20, Activation::Sigmoid, &mut rng(3));
    let bound = (6.0f64 / 50.0).sqrt();
    let w = layer.weight().tensor().to_vec();
    assert!(w.iter().all(|v| v.abs() <= bound));
    assert!(w.iter().any(|v| v.abs() > 0.9 * bound), "the range is used");
    assert!(
        layer
            .bias()
            .unwrap()
            .tensor()
            .to_vec()
            .iter()
            .all(|&v| v == 0.0)
    );
}

/// Sample standard deviation.
fn std_of(values: &[f64]) -> f64 {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt()
}

#[test]
fn init_schemes_follow_their_formulas() {
    let fans = Fans {
        fan_in: 200,
        fan_out: 100,
    };
    let shape = [200, 100];
    let sample = |init: Init| {
        init.sample::<f64>(&shape, fans, &mut rng(4))
            .unwrap()
            .to_vec()
    };
    // U(-b, b) has std b / sqrt(3); N(0, s²) has std s. 20,000 samples: about 0.5% error.
    let check = |values: Vec<f64>, want: f64| {
        let got = std_of(&values);
        assert!((got / want - 1.0).abs() < 0.03, "std {got}, want {want}");
    };
    check(
        sample(Init::XavierUniform { gain: 1.0 }),
        (6.0f64 / 300.0).sqrt() / 3f64.sqrt(),
    );
    check(
        sample(Init::XavierNormal { gain: 2.0 }),
        2.0 * (2.0f64 / 300.0).sqrt(),
    );
    check(
        sample(Init::KaimingUniform { gain: 2f64.sqrt() }),
        2f64.sqrt() * (3.0f64 / 200.0).sqrt() / 3f64.sqrt(),
    );
    check(
        sample(Init::KaimingNormal { gain: 2f64.sqrt() }),
        2f64.sqrt() / 200f64.sqrt(),
    );
    check(
        sample(Init::PytorchLinear),
        1.0 / 200f64.sqrt() / 3f64.sqrt(),
    );
    check(
        sample(Init::Normal {
            mean: 3.0,
            std: 0.5,
        }),
        0.5,
    );
    let uniform = sample(Init::Uniform {
        low: 2.0,
        high: 4.0,
    });
    assert!(uniform.iter().all(|v| (2.0..4.0).contains(v)));
    assert!(sample(Init::Zeros).iter().all(|&v| v == 0.0));
}

#[test]
fn bad_init_parameters_are_errors() {
    let fans = Fans {
        fan_in: 0,
        fan_out: 3,
    };
    let err = Init::KaimingUniform { gain: 1.0 }
        .sample::<f32>(&[0, 3], fans, &mut rng(0))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "kaiming_uniform: fan_in is 0 (a layer without inputs or outputs)"
    );
    let fans = Fans {
        fan_in: 2,
        fan_out: 3,
    };
    let err = Init::Normal {
        mean: 0.0,
        std: -1.0,
    }
    .sample::<f32>(&[2, 3], fans, &mut rng(0))
    .unwrap_err();
    assert!(err.to_string().contains("std -1"), "{err}");
    let err = Init::XavierNormal { gain: -2.0 }
        .sample::<f32>(&[2, 3], fans, &mut rng(0))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "xavier_normal: the gain must be finite and positive, got -2"
    );
    assert!(
        Init::Uniform {
            low: 1.0,
            high: 1.0
        }
        .sample::<f32>(&[2], fans, &mut rng(0))
        .is_err()
    );
}

#[test]
fn seeded_mlp_learns_xor() {
    let x = Tensor::<f32>::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], &[4, 2]).unwrap();
    let y = Tensor::<f32>::from_vec(vec![0.0, 1.0, 1.0, 0.0], &[4, 1]).unwrap();
    let model = Mlp::<f32>::new(&[2, 4, 1], Activation::Sigmoid, &mut rng(42));
    let lr = 2.0;
    for _ in 0..3000 {
        let loss = mse_loss(&model.forward(&x), &y);
        let grads = loss.backward();
        for p in model.parameters() {
            let g = grads.get(&p).unwrap().to_vec();
            p.update(|w| w.iter_mut().zip(&g).for_each(|(w, g)| *w -= lr * g));
        }
    }
    let p = no_grad(|| model.forward(&x)).to_vec();
    // XOR: (0,0) -> 0, (0,1) -> 1, (1,0) -> 1, (1,1) -> 0, all on the right side of 0.5
    assert!(
        p[0] < 0.5 && p[1] > 0.5 && p[2] > 0.5 && p[3] < 0.5,
        "{p:?}"
    );
}
