//! Attention: values against a direct computation, first and second derivatives against
//! finite differences (with causal and partly masked rows), fully masked rows without NaN,
//! causality of the module, and bad shapes refused with their shapes named.

use nn::{Module, MultiHeadAttention, causal_mask, scaled_dot_product_attention};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::testing::OPTIONS;
use tensor::{Tensor, gradcheck, gradgradcheck};

fn random(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::rand_uniform(shape, -1.0, 1.0, &mut StdRng::seed_from_u64(seed))
}

/// softmax(q kᵀ / √E + mask) v for one matrix each, by loops.
fn direct(
    q: &[f64],
    k: &[f64],
    v: &[f64],
    mask: &[f64],
    (l, s, e, ev): (usize, usize, usize, usize),
) -> Vec<f64> {
    let mut out = vec![0.0; l * ev];
    for i in 0..l {
        let scores: Vec<f64> = (0..s)
            .map(|j| {
                (0..e).map(|p| q[i * e + p] * k[j * e + p]).sum::<f64>() / (e as f64).sqrt()
                    + mask[i * s + j]
            })
            .collect();
        let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = scores.iter().map(|x| (x - max).exp()).collect();
        let total: f64 = weights.iter().sum();
        for c in 0..ev {
            out[i * ev + c] = (0..s).map(|j| weights[j] / total * v[j * ev + c]).sum();
        }
    }
    out
}

#[test]
fn values_match_a_direct_computation() {
    let (l, s, e, ev) = (3, 4, 2, 5);
    let (q, k, v) = (random(&[l, e], 1), random(&[s, e], 2), random(&[s, ev], 3));
    let mask = random(&[l, s], 4);
    let got = scaled_dot_product_attention(&q, &k, &v, Some(&mask), false, None).unwrap();
    let want = direct(
        &q.to_vec(),
        &k.to_vec(),
        &v.to_vec(),
        &mask.to_vec(),
        (l, s, e, ev),
    );
    for (g, w) in got.to_vec().iter().zip(&want) {
        assert!((g - w).abs() < 1e-14, "{g} {w}");
    }
    // Causal: the same as the causal mask added by hand.
    let causal = scaled_dot_product_attention(&q, &k, &v, None, true, None).unwrap();
    let by_hand = direct(
        &q.to_vec(),
        &k.to_vec(),
        &v.to_vec(),
        &causal_mask::<f64>(l, s).to_vec(),
        (l, s, e, ev),
    );
    for (g, w) in causal.to_vec().iter().zip(&by_hand) {
        assert!((g - w).abs() < 1e-14, "{g} {w}");
    }
    assert_eq!(
        causal_mask::<f32>(2, 3).to_vec(),
        vec![
            0.0,
            f32::NEG_INFINITY,
            f32::NEG_INFINITY,
            0.0,
            0.0,
            f32::NEG_INFINITY
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn attention_derivatives_match_finite_differences(
        batch in prop::collection::vec(1usize..=2, 0..=1),
        (l, s) in (1usize..=3, 1usize..=3),
        (e, ev) in (1usize..=3, 1usize..=2),
        causal in any::<bool>(),
        masked in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let shape = |rows: usize, cols: usize| -> Vec<usize> {
            batch.iter().copied().chain([rows, cols]).collect()
        };
        let inputs = vec![random(&shape(l, e), seed), random(&shape(s, e), seed ^ 1), random(&shape(s, ev), seed ^ 2)];
        // Some scores masked out (every other key of every other query); a row may be fully
        // masked when combined with the causal mask.
        let mask = Tensor::<f64>::from_vec(
            (0..l * s).map(|n| if masked && (n / s + n % s) % 2 == 1 { f64::NEG_INFINITY } else { 0.0 }).collect(),
            &[l, s],
        ).unwrap();
        let w = random(&shape(l, ev), !seed);
        let f = |xs: &[Tensor<f64>]| {
            scaled_dot_product_attention(&xs[0], &xs[1], &xs[2], Some(&mask), causal, None)?
                .try_mul(&w)?
                .try_sum()
        };
        gradcheck(f, &inputs, &OPTIONS).map_err(|e| TestCaseError::fail(e.to_string()))?;
        gradgradcheck(f, &inputs, &OPTIONS).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}

#[test]
fn a_fully_masked_row_gives_zeros_and_no_gradient_never_nan() {
    let q = random(&[2, 3], 5).require_grad();
    let k = random(&[4, 3], 6).require_grad();
    let v = random(&[4, 2], 7).require_grad();
    let inf = f64::NEG_INFINITY;
    // Query 0 may attend to nothing; query 1 to keys 1 and 3.
    let mask = Tensor::from_vec(vec![inf, inf, inf, inf, inf, 0.0, inf, 0.0], &[2, 4]).unwrap();
    let out = scaled_dot_product_attention(&q, &k, &v, Some(&mask), false, None).unwrap();
    let values = out.to_vec();
    assert_eq!(&values[..2], &[0.0, 0.0]);
    assert!(values.iter().all(|x| x.is_finite()));
    let grads = out.sum().backward();
    for t in [&q, &k, &v] {
        assert!(grads.get(t).unwrap().to_vec().iter().all(|g| g.is_finite()));
    }
    // Query 0's gradient is 0; keys 0 and 2, masked for every query, get none either.
    assert_eq!(&grads.get(&q).unwrap().to_vec()[..3], &[0.0; 3]);
    let dk = grads.get(&k).unwrap().to_vec();
    assert_eq!((&dk[0..3], &dk[6..9]), (&[0.0; 3][..], &[0.0; 3][..]));
    let softmax = Tensor::<f64>::full(&[3], inf).softmax(0).to_vec();
    assert_eq!(softmax, vec![0.0; 3]);
}

#[test]
fn the_module_has_pytorchs_parameters_and_attends_causally() {
    let mut rng = StdRng::seed_from_u64(8);
    let attention = MultiHeadAttention::<f64>::new(4, 2, &mut rng).causal(true);
    let names: Vec<String> = attention
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "q_proj.weight",
            "q_proj.bias",
            "k_proj.weight",
            "k_proj.bias",
            "v_proj.weight",
            "v_proj.bias",
            "out_proj.weight",
            "out_proj.bias"
        ]
    );
    assert_eq!(attention.heads(), 2);
    let x = random(&[2, 5, 4], 9);
    let y = attention.forward(&x).to_vec();
    // Changing the last position changes no earlier output.
    let mut later = x.to_vec();
    for b in 0..2 {
        for c in 0..4 {
            later[b * 20 + 16 + c] += 1.0;
        }
    }
    let y2 = attention
        .forward(&Tensor::from_vec(later, &[2, 5, 4]).unwrap())
        .to_vec();
    for b in 0..2 {
        assert_eq!(&y[b * 20..b * 20 + 16], &y2[b * 20..b * 20 + 16]);
        assert_ne!(&y[b * 20 + 16..b * 20 + 20], &y2[b * 20 + 16..b * 20 + 20]);
    }
    // First and second derivatives with respect to the input, through every projection.
    let small = random(&[1, 3, 4], 10);
    let w = random(&[1, 3, 4], 11);
    let f = |xs: &[Tensor<f64>]| attention.try_forward(&xs[0])?.try_mul(&w)?.try_sum();
    gradcheck(f, std::slice::from_ref(&small), &OPTIONS).unwrap();
    gradgradcheck(f, std::slice::from_ref(&small), &OPTIONS).unwrap();
    // Cross-attention over a longer key sequence.
    let keys = random(&[2, 7, 4], 12);
    let crossed = MultiHeadAttention::<f64>::new(4, 4, &mut rng)
        .try_attend(&x, &keys, &keys, None)
        .unwrap();
    assert_eq!(crossed.shape(), &[2, 5, 4]);
}

#[test]
fn bad_shapes_are_errors_naming_them() {
    let message = |r: tensor::Result<Tensor<f64>>| r.unwrap_err().to_string();
    let (q, k, v) = (random(&[2, 3], 1), random(&[4, 2], 2), random(&[4, 2], 3));
    assert!(
        message(scaled_dot_product_attention(&q, &k, &v, None, false, None))
            .contains("queries [2, 3], keys [4, 2] and values [4, 2] do not fit")
    );
    let k = random(&[4, 3], 2);
    let bad_mask = random(&[3, 4], 4);
    assert!(
        message(scaled_dot_product_attention(
            &q,
            &k,
            &v,
            Some(&bad_mask),
            false,
            None
        ))
        .contains("a mask of shape [3, 4] does not broadcast to the scores' shape [2, 4]")
    );
    // A mask that would broadcast the scores up to its own shape is refused too.
    let larger = random(&[3, 2, 4], 5);
    assert!(
        message(scaled_dot_product_attention(
            &q,
            &k,
            &v,
            Some(&larger),
            false,
            None
        ))
        .contains("a mask of shape [3, 2, 4] does not broadcast to the scores' shape [2, 4]")
    );
    let mut rng = StdRng::seed_from_u64(0);
    let e = MultiHeadAttention::<f64>::try_new(6, 4, &mut rng)
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "MultiHeadAttention: 4 heads cannot split a width of 6 evenly"
    );
    let attention = MultiHeadAttention::<f64>::new(4, 2, &mut rng);
    assert!(
        message(attention.try_forward(&random(&[2, 3, 5], 5))).contains("expected [batch, L, 4]")
    );
}
