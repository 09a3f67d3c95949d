//! Dropout and the train/eval mode: the mask's statistics and scale, determinism from a seed,
//! the identity in evaluation mode through containers, first and second derivatives through a
//! fixed mask, and the bad probabilities refused.

use nn::{Activation, Dense, Dropout, Module, Sequential};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Tensor, gradcheck, gradgradcheck};

fn seeded(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

#[test]
fn training_drops_a_fraction_p_and_scales_the_rest() {
    let x = Tensor::<f64>::rand_uniform(&[200, 500], 0.5, 1.5, &mut seeded(1));
    for p in [0.1, 0.5, 0.9] {
        let dropout = Dropout::new(p, seeded(2));
        let y = dropout.forward(&x).to_vec();
        let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
        // 100,000 draws: the binomial standard deviation is at most 0.0016.
        assert!((dropped - p).abs() < 0.01, "p {p}: dropped {dropped}");
        for (v, x) in y.iter().zip(x.to_vec()) {
            assert!(*v == 0.0 || *v == x * (1.0 / (1.0 - p)), "{v} from {x}");
        }
    }
    let ones = Tensor::<f32>::ones(&[64]);
    assert_eq!(
        Dropout::new(0.0, seeded(3)).forward(&ones).to_vec(),
        vec![1.0; 64]
    );
    assert_eq!(
        Dropout::new(1.0, seeded(3)).forward(&ones).to_vec(),
        vec![0.0; 64]
    );
    let empty = Dropout::new(0.5, seeded(3)).forward(&Tensor::<f32>::zeros(&[0, 3]));
    assert_eq!(empty.shape(), &[0, 3]);
}

#[test]
fn a_seed_gives_the_same_masks_and_successive_calls_differ() {
    let x = Tensor::<f32>::ones(&[256]);
    let (a, b) = (Dropout::new(0.5, seeded(7)), Dropout::new(0.5, seeded(7)));
    let (a1, a2) = (a.forward(&x).to_vec(), a.forward(&x).to_vec());
    assert_eq!(a1, b.forward(&x).to_vec());
    assert_eq!(a2, b.forward(&x).to_vec());
    assert_ne!(a1, a2);
}

#[test]
fn eval_mode_is_the_identity_and_reaches_through_containers() {
    let mut rng = seeded(4);
    let model = Sequential::<f64>::new()
        .push(Dense::new(3, 8, Activation::Relu, &mut rng))
        .push(Dropout::new(0.5, seeded(5)))
        // Boxed, so that the mode also passes through `Box<dyn Module>`.
        .push(Box::new(Dense::new(8, 2, Activation::Identity, &mut rng)) as Box<dyn Module<f64>>);
    let x = Tensor::<f64>::rand_uniform(&[4, 3], -1.0, 1.0, &mut rng);
    model.eval();
    let first = model.forward(&x).to_vec();
    assert_eq!(model.forward(&x).to_vec(), first);
    // Evaluation mode is the network without its dropout layer.
    let h = model.layers()[0].forward(&x);
    assert_eq!(model.layers()[2].forward(&h).to_vec(), first);
    model.train();
    let trained: Vec<Vec<f64>> = (0..4).map(|_| model.forward(&x).to_vec()).collect();
    assert!(trained.iter().any(|t| *t != first), "training mode drops");
    let dropout = Dropout::new(0.5, seeded(6));
    assert!(dropout.is_training());
    dropout.eval();
    assert!(!dropout.is_training());
    dropout.train();
    assert!(dropout.is_training());
    Module::<f32>::eval(&dropout);
    assert!(!dropout.is_training());
}

#[test]
fn derivatives_through_a_fixed_mask_match_finite_differences() {
    let options = tensor::testing::OPTIONS;
    let x = Tensor::<f64>::rand_uniform(&[3, 4], -2.0, 2.0, &mut seeded(8));
    let w = Tensor::<f64>::rand_uniform(&[3, 4], -1.0, 1.0, &mut seeded(9));
    // A fresh layer with one seed per call draws the same mask every time the checker
    // evaluates the function; the square makes the second derivative non-zero.
    let f = |xs: &[Tensor<f64>]| {
        let dropout = Dropout::new(0.4, seeded(10));
        dropout
            .try_forward(&xs[0])?
            .try_square()?
            .try_mul(&w)?
            .try_sum()
    };
    gradcheck(f, std::slice::from_ref(&x), &options).expect("first derivatives");
    gradgradcheck(f, std::slice::from_ref(&x), &options).expect("second derivatives");
    // The gradient is the mask's scale where kept and 0 where dropped.
    let leaf = x.detach().require_grad();
    let dropout = Dropout::new(0.4, seeded(11));
    let y = Module::<f64>::forward(&dropout, &leaf);
    let g = y.sum().backward().get(&leaf).expect("tracked").to_vec();
    for (g, y) in g.iter().zip(y.to_vec()) {
        assert_eq!(*g, if y == 0.0 { 0.0 } else { 1.0 / 0.6 });
    }
}

#[test]
fn probabilities_outside_zero_to_one_are_errors() {
    for p in [-0.1, 1.5, f64::NAN] {
        let e = Dropout::try_new(p, seeded(0)).err().expect("refused");
        assert!(
            e.to_string()
                .starts_with("dropout: the drop probability must be in [0, 1], got"),
            "{e}"
        );
    }
}
