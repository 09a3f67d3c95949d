//! Properties of every optimizer, clipping and schedules against their closed forms, live
//! graphs across a step, and hyperparameter validation.

use optim::{
    Adam, AdamW, ChainedLr, CosineAnnealingLr, ExponentialLr, LinearLr, LrScheduler, OptimError,
    Optimizer, SequentialLr, Sgd, StepLr, clip_grad_norm, clip_grad_value,
};
use proptest::prelude::*;
use tensor::{Gradients, Parameter, Tensor};

fn param(values: &[f64]) -> Parameter<f64> {
    Parameter::new(Tensor::from_vec(values.to_vec(), &[values.len()]).expect("1-D"))
}

fn grads_for(pairs: &[(&Parameter<f64>, &[f64])]) -> Gradients<f64> {
    let mut grads = Gradients::new();
    for (p, g) in pairs {
        grads.insert(*p, Tensor::from_vec(g.to_vec(), &[g.len()]).expect("1-D"));
    }
    grads
}

/// Every optimizer with every flag, boxed; `lr` shared.
fn all_optimizers(params: Vec<Parameter<f64>>, lr: f64, flags: u8) -> Vec<Box<dyn Optimizer<f64>>> {
    let on = |bit: u8| flags & (1 << bit) != 0;
    let sgd = Sgd::new(params.clone(), lr)
        .momentum(if on(0) { 0.9 } else { 0.0 })
        .weight_decay(if on(1) { 0.1 } else { 0.0 })
        .maximize(on(2));
    let sgd = if on(0) && on(3) {
        sgd.nesterov(true)
    } else {
        sgd
    };
    let adam = Adam::new(params.clone(), lr)
        .amsgrad(on(3))
        .weight_decay(if on(1) { 0.1 } else { 0.0 })
        .maximize(on(2));
    let adamw = AdamW::new(params, lr)
        .amsgrad(on(3))
        .weight_decay(if on(1) { 0.1 } else { 0.0 })
        .maximize(on(2));
    vec![Box::new(sgd), Box::new(adam), Box::new(adamw)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_zero_learning_rate_changes_nothing(
        values in prop::collection::vec(-5.0f64..5.0, 1..6),
        grad_values in prop::collection::vec(-5.0f64..5.0, 6),
        flags in any::<u8>(),
    ) {
        for mut opt in all_optimizers(vec![param(&values)], 0.0, flags) {
            let p = opt.parameters()[0].clone();
            for _ in 0..3 {
                opt.step(&grads_for(&[(&p, &grad_values[..values.len()])]));
            }
            prop_assert_eq!(p.tensor().to_vec(), values.clone());
        }
    }

    #[test]
    fn a_parameter_without_gradient_keeps_its_value_and_state(
        values in prop::collection::vec(-2.0f64..2.0, 1..4),
        grad_values in prop::collection::vec(-2.0f64..2.0, 4),
        skipped in 1usize..4,
        flags in any::<u8>(),
    ) {
        let g = &grad_values[..values.len()];
        // Optimizer A steps p, then `skipped` steps in which only q has a gradient, then
        // steps p again. Optimizer B only ever sees p's two steps. If A left p's value and
        // state alone while p had no gradient, both end equal.
        let (pa, qa, pb) = (param(&values), param(&[1.0]), param(&values));
        let mut a = all_optimizers(vec![pa.clone(), qa.clone()], 0.05, flags);
        let mut b = all_optimizers(vec![pb.clone()], 0.05, flags);
        for (a, b) in a.iter_mut().zip(b.iter_mut()) {
            let reset = |p: &Parameter<f64>| p.set(Tensor::from_vec(values.clone(), &[values.len()]).expect("1-D"));
            reset(&pa);
            reset(&pb);
            a.step(&grads_for(&[(&pa, g), (&qa, &[0.5])]));
            let after_first = pa.tensor().to_vec();
            for _ in 0..skipped {
                a.step(&grads_for(&[(&qa, &[0.5])]));
                prop_assert_eq!(pa.tensor().to_vec(), after_first.clone());
            }
            a.step(&grads_for(&[(&pa, g)]));
            b.step(&grads_for(&[(&pb, g)]));
            b.step(&grads_for(&[(&pb, g)]));
            prop_assert_eq!(pa.tensor().to_vec(), pb.tensor().to_vec());
        }
    }
}

#[test]
fn clip_grad_norm_matches_its_closed_form() {
    // Gradients [3, 4] and [12]: per-parameter norms 5 and 12, total 13.
    let (p, q) = (param(&[0.0, 0.0]), param(&[0.0]));
    let mut grads = grads_for(&[(&p, &[3.0, 4.0]), (&q, &[12.0])]);
    let total = clip_grad_norm(&mut grads, &[p.clone(), q.clone()], 6.5);
    assert_eq!(total, 13.0);
    // factor = 6.5 / (13 + 1e-6)
    let factor = 6.5 / (13.0 + 1e-6);
    assert_eq!(
        grads.get(&p).unwrap().to_vec(),
        vec![3.0 * factor, 4.0 * factor]
    );
    assert_eq!(grads.get(&q).unwrap().to_vec(), vec![12.0 * factor]);
    // Below the limit nothing changes.
    let mut grads = grads_for(&[(&p, &[3.0, 4.0])]);
    assert_eq!(
        clip_grad_norm(&mut grads, &[p.clone(), q.clone()], 10.0),
        5.0
    );
    assert_eq!(grads.get(&p).unwrap().to_vec(), vec![3.0, 4.0]);
    // A non-finite norm is reported and, as in PyTorch, the factor 1 / (inf + 1e-6) = 0
    // turns the infinite element into NaN (inf · 0) and the finite ones into 0.
    let mut grads = grads_for(&[(&p, &[f64::INFINITY, 1.0])]);
    assert!(clip_grad_norm(&mut grads, std::slice::from_ref(&p), 1.0).is_infinite());
    let clipped = grads.get(&p).unwrap().to_vec();
    assert!(clipped[0].is_nan() && clipped[1] == 0.0, "{clipped:?}");
    let err = optim::try_clip_grad_norm(&mut grads, &[p], -1.0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "clip_grad_norm: invalid max_norm: -1 (expected a finite value >= 0)"
    );
}

#[test]
fn clip_grad_value_clamps_elementwise() {
    let p = param(&[0.0, 0.0, 0.0]);
    let mut grads = grads_for(&[(&p, &[-3.0, 0.5, 7.0])]);
    clip_grad_value(&mut grads, std::slice::from_ref(&p), 1.0);
    assert_eq!(grads.get(&p).unwrap().to_vec(), vec![-1.0, 0.5, 1.0]);
}

#[test]
fn schedules_follow_pytorchs_closed_forms() {
    use optim::Schedule;
    let base = 0.1;
    for epoch in 0..40 {
        let e = epoch as f64;
        assert_eq!(
            StepLr::new(7, 0.5).lr(base, epoch),
            base * 0.5f64.powf((epoch / 7) as f64)
        );
        assert_eq!(
            ExponentialLr::new(0.9).lr(base, epoch),
            base * 0.9f64.powf(e)
        );
        let cosine = 0.001 + (base - 0.001) * (1.0 + (std::f64::consts::PI * e / 30.0).cos()) / 2.0;
        assert_eq!(CosineAnnealingLr::new(30, 0.001).lr(base, epoch), cosine);
        let linear = base * (0.25 + 0.75 * (epoch.min(8) as f64) / 8.0);
        assert_eq!(LinearLr::new(0.25, 1.0, 8).lr(base, epoch), linear);
        // Warm-up for 5 epochs, then cosine restarted at epoch 5.
        let sequential = SequentialLr::new(
            vec![
                Box::new(LinearLr::new(0.1, 1.0, 5)),
                Box::new(CosineAnnealingLr::new(30, 0.0)),
            ],
            vec![5],
        );
        let want = if epoch < 5 {
            LinearLr::new(0.1, 1.0, 5).lr(base, epoch)
        } else {
            CosineAnnealingLr::new(30, 0.0).lr(base, epoch - 5)
        };
        assert_eq!(sequential.lr(base, epoch), want);
        let chained = ChainedLr::new(vec![
            Box::new(StepLr::new(10, 0.5)),
            Box::new(ExponentialLr::new(0.99)),
        ]);
        assert_eq!(
            chained.lr(base, epoch),
            base * (0.5f64.powf((epoch / 10) as f64) * 0.99f64.powf(e))
        );
    }
    // Endpoints: cosine reaches eta_min at t_max; linear reaches its end factor.
    assert!((CosineAnnealingLr::new(30, 0.001).lr(base, 30) - 0.001).abs() < 1e-15);
    assert_eq!(LinearLr::new(0.25, 1.0, 8).lr(base, 100), base);
}

#[test]
fn the_scheduler_sets_the_rate_each_epoch() {
    let mut opt = Sgd::new(vec![param(&[1.0])], 0.2);
    let mut scheduler = LrScheduler::new(StepLr::new(2, 0.1), &mut opt);
    let mut seen = vec![opt.lr()];
    for _ in 0..4 {
        scheduler.step(&mut opt);
        seen.push(opt.lr());
    }
    assert_eq!(scheduler.epoch(), 4);
    let want = [0.2, 0.2, 0.2 * 0.1, 0.2 * 0.1, 0.2 * 0.1 * 0.1];
    for (s, w) in seen.iter().zip(want) {
        assert!((s - w).abs() < 1e-15, "{seen:?}");
    }
}

#[test]
fn a_graph_kept_through_a_step_keeps_its_values_and_refuses_a_stale_backward() {
    let w = param(&[1.0, -2.0, 0.5]);
    let x = Tensor::<f64>::from_vec(vec![0.3, 0.2, -0.1], &[3]).unwrap();
    let loss = (w.tensor().square() * &x).sum(); // d/dw = 2 w x
    let grads = loss.backward_retain_graph();
    let mut opt = Adam::new(vec![w.clone()], 0.1);
    opt.step(&grads);
    assert_ne!(
        w.tensor().to_vec(),
        vec![1.0, -2.0, 0.5],
        "the step moved w"
    );
    // The kept graph holds the values it saw (the step copied w)...
    assert_eq!(loss.item(), 0.3 + 4.0 * 0.2 + 0.25 * -0.1); // Σ w² x at the old w
    // ...and refuses to compute a gradient at them now that w has moved on.
    let err = loss.try_backward().unwrap_err();
    assert!(
        err.to_string()
            .contains("old value of a parameter of shape [3]"),
        "{err}"
    );
}

#[test]
fn the_pytorch_shaped_loop_updates_in_place_and_reads_the_loss_after_the_step() {
    let w = param(&[1.0, -2.0, 0.5]);
    let x = Tensor::<f64>::from_vec(vec![0.3, 0.2, -0.1], &[3]).unwrap();
    let mut opt = Sgd::new(vec![w.clone()], 0.1).momentum(0.9);
    let address = |p: &Parameter<f64>| p.tensor().as_slice().unwrap().as_ptr();
    let start = address(&w);
    let mut total = 0.0;
    for _ in 0..3 {
        let expected = w
            .tensor()
            .to_vec()
            .iter()
            .zip([0.3, 0.2, -0.1])
            .map(|(w, x)| w * w * x)
            .sum::<f64>();
        let loss = (w.tensor().square() * &x).sum();
        let grads = loss.backward();
        // The pass released the graph, so nothing but w holds its value...
        assert!(w.is_unshared());
        opt.step(&grads);
        // ...and the step wrote it where it was, while the loss keeps its value.
        assert_eq!(address(&w), start);
        assert_eq!(loss.item(), expected);
        total += loss.item();
    }
    assert!(total.is_finite());
}

fn message(result: Result<impl Sized, OptimError>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn invalid_hyperparameters_are_rejected_with_their_value() {
    let ps = || vec![param(&[1.0])];
    assert_eq!(
        message(Sgd::try_new(ps(), -0.1)),
        "Sgd: invalid lr: -0.1 (expected a finite value >= 0)"
    );
    assert_eq!(
        message(Sgd::try_new(ps(), f64::NAN)),
        "Sgd: invalid lr: NaN (expected a finite value >= 0)"
    );
    assert_eq!(
        message(Sgd::new(ps(), 0.1).try_momentum(1.0)),
        "Sgd: invalid momentum: 1 (expected 0 <= momentum < 1)"
    );
    assert_eq!(
        message(Sgd::new(ps(), 0.1).try_momentum(-0.5)),
        "Sgd: invalid momentum: -0.5 (expected 0 <= momentum < 1)"
    );
    assert_eq!(
        message(Sgd::new(ps(), 0.1).try_weight_decay(-1.0)),
        "Sgd: invalid weight_decay: -1 (expected a finite value >= 0)"
    );
    assert_eq!(
        message(Sgd::new(ps(), 0.1).try_nesterov(true)),
        "Sgd: invalid nesterov: Nesterov momentum needs momentum > 0 and dampening = 0, got momentum 0 and dampening 0 (set them before nesterov)"
    );
    assert_eq!(
        message(
            Sgd::new(ps(), 0.1)
                .momentum(0.9)
                .dampening(0.1)
                .try_nesterov(true)
        ),
        "Sgd: invalid nesterov: Nesterov momentum needs momentum > 0 and dampening = 0, got momentum 0.9 and dampening 0.1 (set them before nesterov)"
    );
    assert!(
        Sgd::new(ps(), 0.1)
            .momentum(0.9)
            .nesterov(true)
            .try_dampening(0.5)
            .is_err()
    );
    assert_eq!(
        message(Adam::new(ps(), 0.1).try_betas(1.0, 0.999)),
        "Adam: invalid beta1: 1 (expected 0 <= beta1 < 1)"
    );
    assert_eq!(
        message(Adam::new(ps(), 0.1).try_betas(0.9, -0.1)),
        "Adam: invalid beta2: -0.1 (expected 0 <= beta2 < 1)"
    );
    assert_eq!(
        message(Adam::new(ps(), 0.1).try_eps(-1e-8)),
        "Adam: invalid eps: -0.00000001 (expected a finite value >= 0)"
    );
    assert_eq!(
        message(AdamW::new(ps(), 0.1).try_weight_decay(-0.01)),
        "AdamW: invalid weight_decay: -0.01 (expected a finite value >= 0)"
    );
    assert_eq!(
        message(AdamW::try_new(ps(), f64::INFINITY)),
        "AdamW: invalid lr: inf (expected a finite value >= 0)"
    );
    assert_eq!(
        message(StepLr::try_new(0, 0.5)),
        "StepLr: invalid step_size: 0 (expected at least 1)"
    );
    assert_eq!(
        message(LinearLr::try_new(0.0, 1.0, 5)),
        "LinearLr: invalid start_factor: 0 (expected 0 < start_factor <= 1)"
    );
    assert!(SequentialLr::try_new(vec![Box::new(StepLr::new(1, 0.5))], vec![3]).is_err());
}

#[test]
#[should_panic(expected = "Sgd: invalid momentum: 1.5 (expected 0 <= momentum < 1)")]
fn plain_builders_panic_with_the_message() {
    let _ = Sgd::new(vec![param(&[1.0])], 0.1).momentum(1.5);
}
