//! Ten steps of every optimizer, over a grid of settings, equal the documented update
//! equations computed independently here in plain f64, to 1e-12 relative.

use optim::{Adam, AdamW, Optimizer, Sgd};
use tensor::{Gradients, Parameter, Tensor};

/// The fixed problem: L(w) = Σ 0.5 a (w - b)² + 0.25 w⁴ over two parameters, so
/// dL/dw = a (w - b) + w³.
const A: [f64; 5] = [1.0, 0.5, 2.0, 1.5, 0.25];
const B: [f64; 5] = [0.3, -1.0, 0.7, 2.0, -0.4];
const START: [f64; 5] = [0.5, -0.2, 1.1, -0.9, 0.05];

fn gradient(w: &[f64]) -> Vec<f64> {
    w.iter()
        .zip(A)
        .zip(B)
        .map(|((w, a), b)| a * (w - b) + w * w * w)
        .collect()
}

fn params() -> (Parameter<f64>, Parameter<f64>) {
    (
        Parameter::new(Tensor::from_vec(START[..3].to_vec(), &[3]).unwrap()),
        Parameter::new(Tensor::from_vec(START[3..].to_vec(), &[2, 1]).unwrap()),
    )
}

/// Runs 10 steps of `opt` on the problem, each with the exact gradient at the current point.
fn run(mut opt: impl Optimizer<f64>, p: &(Parameter<f64>, Parameter<f64>)) -> Vec<f64> {
    for _ in 0..10 {
        let w: Vec<f64> = [p.0.tensor().to_vec(), p.1.tensor().to_vec()].concat();
        let g = gradient(&w);
        let mut grads = Gradients::new();
        grads.insert(&p.0, Tensor::from_vec(g[..3].to_vec(), &[3]).unwrap());
        grads.insert(&p.1, Tensor::from_vec(g[3..].to_vec(), &[2, 1]).unwrap());
        opt.step(&grads);
    }
    [p.0.tensor().to_vec(), p.1.tensor().to_vec()].concat()
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g.is_finite() && w.is_finite(),
            "{what}: element {i} diverged: {g}, {w}"
        );
        assert!(
            (w - START[i]).abs() > 1e-3,
            "{what}: element {i} barely moved"
        );
        let scale = w.abs().max(1e-300);
        assert!(
            (g - w).abs() <= 1e-12 * scale,
            "{what}: element {i}: got {g}, want {w}"
        );
    }
}

#[derive(Clone, Copy, Debug)]
/// SGD's hyperparameters in the symbols of PyTorch's documented algorithm: learning rate γ,
/// momentum μ, dampening τ, weight decay λ, so that the reference reads as the documentation.
struct SgdSettings {
    gamma: f64,
    mu: f64,
    tau: f64,
    lambda: f64,
    nesterov: bool,
    maximize: bool,
}

/// PyTorch's SGD, as documented.
fn sgd_reference(s: SgdSettings) -> Vec<f64> {
    let mut w = START.to_vec();
    let mut buf: Option<Vec<f64>> = None;
    for _ in 0..10 {
        let grad = gradient(&w);
        let mut g: Vec<f64> = grad
            .iter()
            .map(|g| if s.maximize { -g } else { *g })
            .collect();
        for i in 0..5 {
            g[i] += s.lambda * w[i];
        }
        if s.mu != 0.0 {
            let b = match buf.take() {
                None => g.clone(),
                Some(b) => (0..5).map(|i| s.mu * b[i] + (1.0 - s.tau) * g[i]).collect(),
            };
            g = if s.nesterov {
                (0..5).map(|i| g[i] + s.mu * b[i]).collect()
            } else {
                b.clone()
            };
            buf = Some(b);
        }
        for i in 0..5 {
            w[i] -= s.gamma * g[i];
        }
    }
    w
}

#[test]
fn sgd_matches_the_documented_equations() {
    let mut cases = 0;
    for momentum in [0.0, 0.9] {
        for dampening in [0.0, 0.3] {
            for nesterov in [false, true] {
                if nesterov && (momentum == 0.0 || dampening != 0.0) {
                    continue;
                }
                for weight_decay in [0.0, 0.1] {
                    for maximize in [false, true] {
                        let s = SgdSettings {
                            gamma: 0.01,
                            mu: momentum,
                            tau: dampening,
                            lambda: weight_decay,
                            nesterov,
                            maximize,
                        };
                        let p = params();
                        let opt = Sgd::new(vec![p.0.clone(), p.1.clone()], s.gamma)
                            .momentum(momentum)
                            .dampening(dampening)
                            .nesterov(nesterov)
                            .weight_decay(weight_decay)
                            .maximize(maximize);
                        assert_close(&run(opt, &p), &sgd_reference(s), &format!("{s:?}"));
                        cases += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cases, 20);
}

#[derive(Clone, Copy, Debug)]
/// Adam's hyperparameters in the symbols of PyTorch's documented algorithm: learning rate γ,
/// betas β₁ and β₂, ε, weight decay λ; `decoupled` is AdamW.
struct AdamSettings {
    gamma: f64,
    beta1: f64,
    beta2: f64,
    epsilon: f64,
    lambda: f64,
    amsgrad: bool,
    maximize: bool,
    decoupled: bool,
}

/// PyTorch's Adam and AdamW, as documented: bias-corrected moments, eps after the square
/// root, AdamW's decay applied to the weight first.
fn adam_reference(s: AdamSettings) -> Vec<f64> {
    let (b1, b2) = (s.beta1, s.beta2);
    let mut w = START.to_vec();
    let (mut m, mut v, mut v_max) = (vec![0.0f64; 5], vec![0.0f64; 5], vec![0.0f64; 5]);
    for t in 1..=10 {
        let grad = gradient(&w);
        for i in 0..5 {
            let mut g = if s.maximize { -grad[i] } else { grad[i] };
            if s.decoupled {
                w[i] *= 1.0 - s.gamma * s.lambda;
            } else {
                g += s.lambda * w[i];
            }
            m[i] = b1 * m[i] + (1.0 - b1) * g;
            v[i] = b2 * v[i] + (1.0 - b2) * g * g;
            let m_hat = m[i] / (1.0 - b1.powi(t));
            let second = if s.amsgrad {
                v_max[i] = v_max[i].max(v[i]);
                v_max[i]
            } else {
                v[i]
            };
            let v_hat = second / (1.0 - b2.powi(t));
            w[i] -= s.gamma * m_hat / (v_hat.sqrt() + s.epsilon);
        }
    }
    w
}

#[test]
fn adam_and_adamw_match_the_documented_equations() {
    let mut cases = 0;
    for decoupled in [false, true] {
        for amsgrad in [false, true] {
            for maximize in [false, true] {
                for weight_decay in [0.0, 0.05] {
                    for betas in [(0.9, 0.999), (0.5, 0.8)] {
                        for eps in [1e-8, 0.1] {
                            let s = AdamSettings {
                                gamma: 0.02,
                                beta1: betas.0,
                                beta2: betas.1,
                                epsilon: eps,
                                lambda: weight_decay,
                                amsgrad,
                                maximize,
                                decoupled,
                            };
                            let p = params();
                            let list = vec![p.0.clone(), p.1.clone()];
                            // Adam and AdamW have the same builder methods but no common
                            // trait for them.
                            macro_rules! configured {
                                ($optimizer:ident) => {
                                    run(
                                        $optimizer::new(list, s.gamma)
                                            .betas(betas.0, betas.1)
                                            .eps(eps)
                                            .weight_decay(weight_decay)
                                            .amsgrad(amsgrad)
                                            .maximize(maximize),
                                        &p,
                                    )
                                };
                            }
                            let got = if decoupled {
                                configured!(AdamW)
                            } else {
                                configured!(Adam)
                            };
                            assert_close(&got, &adam_reference(s), &format!("{s:?}"));
                            cases += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(cases, 64);
}

#[test]
fn adamw_defaults_are_pytorchs() {
    // AdamW's default weight decay is 0.01; Adam's is 0.
    let p = params();
    let got = run(AdamW::new(vec![p.0.clone(), p.1.clone()], 0.02), &p);
    let want = adam_reference(AdamSettings {
        gamma: 0.02,
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
        lambda: 0.01,
        amsgrad: false,
        maximize: false,
        decoupled: true,
    });
    assert_close(&got, &want, "AdamW defaults");
}
