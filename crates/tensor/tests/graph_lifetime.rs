//! The graph's lifetime rules (see the crate docs): a backward pass releases the graph it
//! walks unless asked to keep it; a graph meets a parameter's replaced value only with an
//! error; a refused pass changes nothing; a gradient is never computed from released, old or
//! mixed values.

use tensor::{BackwardOptions, Parameter, Tensor, TensorError, graph};

fn leaf(values: &[f64]) -> Tensor<f64> {
    Tensor::from_vec(values.to_vec(), &[values.len()])
        .expect("length matches")
        .require_grad()
}

fn released(node: &'static str, shape: &[usize]) -> TensorError {
    TensorError::GraphReleased {
        op: "backward",
        node,
        shape: shape.to_vec(),
    }
}

#[test]
fn a_pass_releases_the_graph_and_values_stay_readable() {
    let x = leaf(&[1.0, 2.0]);
    let h = x.exp();
    let loss = (&h * 3.0).sum();
    assert!(loss.has_graph() && h.has_graph());
    // d sum(3 e^x) / dx = 3 e^x
    let g = loss.backward().get(&x).unwrap().to_vec();
    assert_eq!(g, vec![3.0 * 1f64.exp(), 3.0 * 2f64.exp()]);
    // Every recorded node on the way is released; values and names stay.
    assert!(!loss.has_graph() && !h.has_graph());
    assert!(x.has_graph(), "a leaf has nothing to release");
    assert_eq!(loss.item(), 3.0 * (1f64.exp() + 2f64.exp()));
    assert_eq!((loss.op_name(), h.op_name()), (Some("sum"), Some("exp")));
    assert!(loss.requires_grad() && !loss.is_leaf());
    assert_eq!(loss.try_backward().unwrap_err(), released("sum", &[]));
    assert!(graph::to_dot(&loss).contains("released by backward"));
    // The message says what happened and what to do.
    let message = loss.try_backward().unwrap_err().to_string();
    assert!(
        message.contains("released by an earlier backward pass"),
        "{message}"
    );
    assert!(message.contains("backward_retain_graph"), "{message}");
}

#[test]
fn a_kept_graph_gives_equal_passes_until_one_releases_it() {
    let x = leaf(&[0.5, -1.5]);
    let loss = x.sigmoid().square().sum();
    let keep = BackwardOptions::new().retain_graph(true);
    let first = loss.try_backward_with_options(None, keep).unwrap();
    let second = loss.backward_retain_graph();
    let third = loss.backward();
    for grads in [&second, &third] {
        assert_eq!(
            grads.get(&x).unwrap().to_vec(),
            first.get(&x).unwrap().to_vec()
        );
    }
    assert_eq!(loss.try_backward().unwrap_err(), released("sum", &[]));
    // A seeded pass releases too.
    let y = &x * 2.0;
    let seed = Tensor::ones(&[2]);
    let _ = y.backward_with(&seed);
    let err = y.try_backward_with(&seed).unwrap_err();
    assert!(matches!(
        err,
        TensorError::GraphReleased {
            op: "backward_with",
            node: "mul_scalar",
            ..
        }
    ));
}

#[test]
fn two_losses_over_one_subgraph_need_the_first_pass_to_keep_it() {
    // h = x², l1 = sum(h), l2 = sum(3h): d l1/dx = 2x, d l2/dx = 6x
    let x = leaf(&[1.0, -2.0]);
    let h = x.square();
    let (l1, l2) = (h.sum(), (&h * 3.0).sum());
    assert_eq!(l1.backward().get(&x).unwrap().to_vec(), vec![2.0, -4.0]);
    // The shared square was released with l1's pass: l2's is refused at it, and changes
    // nothing, so its own nodes keep their graph.
    assert_eq!(l2.try_backward().unwrap_err(), released("powf", &[2]));
    assert!(l2.has_graph());

    let h = x.square();
    let (l1, l2) = (h.sum(), (&h * 3.0).sum());
    assert_eq!(
        l1.backward_retain_graph().get(&x).unwrap().to_vec(),
        vec![2.0, -4.0]
    );
    assert_eq!(l2.backward().get(&x).unwrap().to_vec(), vec![6.0, -12.0]);
    // Their sum in one pass needs nothing kept.
    let h = x.square();
    let both = h.sum() + (&h * 3.0).sum();
    assert_eq!(both.backward().get(&x).unwrap().to_vec(), vec![8.0, -16.0]);
}

#[test]
fn results_built_on_a_released_tensor_cannot_reach_through_it() {
    let x = leaf(&[1.0, 2.0]);
    let pred = x.tanh();
    let _ = pred.sum().backward();
    let later = (&pred * 2.0).sum();
    assert_eq!(later.try_backward().unwrap_err(), released("tanh", &[2]));
    // Detached, the released value is a constant like any other.
    let constant = (pred.detach() * &x).sum();
    // d sum(c x) / dx = c
    assert_eq!(constant.backward().get(&x).unwrap().to_vec(), pred.to_vec());
}

#[test]
fn create_graph_keeps_the_graph_for_higher_order_passes() {
    // f = sum(x³): grad 3x², H = diag(6x)
    let x = leaf(&[1.0, 2.0]);
    let f = x.powf(3.0).sum();
    let grads = f.backward_create_graph();
    let g = grads.get(&x).unwrap();
    assert!(f.has_graph(), "create_graph keeps the graph");
    let v = Tensor::from_vec(vec![1.0, 0.0], &[2]).unwrap();
    let w = Tensor::from_vec(vec![0.0, 1.0], &[2]).unwrap();
    // Two Hessian-vector products through one gradient graph: the first keeps it.
    let hv = (g * &v).sum().backward_retain_graph();
    let hw = (g * &w).sum().backward();
    assert_eq!(hv.get(&x).unwrap().to_vec(), vec![6.0, 0.0]);
    assert_eq!(hw.get(&x).unwrap().to_vec(), vec![0.0, 12.0]);
    // The second released the gradient's graph, and of f's graph what it runs through
    // (here only the leaf); f's own graph is still there.
    assert!(!g.has_graph());
    assert!(matches!(
        (g * &v).sum().try_backward().unwrap_err(),
        TensorError::GraphReleased { .. }
    ));
    assert_eq!(f.backward().get(&x).unwrap().to_vec(), vec![3.0, 12.0]);
}

#[test]
fn a_refused_pass_puts_back_what_it_took() {
    let x = leaf(&[0.3, 0.7]);
    let shared = &x * 2.0;
    let _ = shared.sum().backward();
    // Walking `late` takes its sum, add and exp before it meets the released product.
    let e = x.exp();
    let late = (&e + &shared).sum();
    assert_eq!(
        late.try_backward().unwrap_err(),
        released("mul_scalar", &[2])
    );
    assert!(late.has_graph() && e.has_graph());
    let dot = graph::to_dot(&late);
    assert!(dot.contains("add") && dot.contains("exp"), "{dot}");
    // The part that does not go through the released node still backpropagates.
    let g = e.sum().backward().get(&x).unwrap().to_vec();
    assert_eq!(g, vec![0.3f64.exp(), 0.7f64.exp()]);
}

#[test]
fn the_pytorch_shaped_loop_updates_in_place_and_the_loss_outlives_the_step() {
    let p = Parameter::new(Tensor::<f64>::from_vec(vec![1.0, -1.0], &[2]).unwrap());
    let start = p.tensor().as_slice().unwrap().as_ptr();
    for _ in 0..3 {
        let before = p.tensor().to_vec();
        let loss = (p.tensor() * 2.0).square().sum(); // 4 Σ p², d/dp = 8p
        let grads = loss.backward();
        assert!(p.is_unshared(), "the pass released the graph's hold on p");
        let g = grads.get(&p).unwrap().to_vec();
        assert_eq!(g, before.iter().map(|v| 8.0 * v).collect::<Vec<_>>());
        p.update(|w| w.iter_mut().zip(&g).for_each(|(w, g)| *w -= 0.01 * g));
        assert_eq!(
            p.tensor().as_slice().unwrap().as_ptr(),
            start,
            "updated in place"
        );
        assert_eq!(loss.item(), 4.0 * before.iter().map(|v| v * v).sum::<f64>());
    }
}

#[test]
fn a_graph_that_holds_a_parameter_through_an_update_is_refused() {
    // Kept by the first pass, then updated under it.
    let p = Parameter::new(Tensor::<f64>::from_vec(vec![2.0], &[1]).unwrap());
    let loss = p.tensor().square().sum();
    let _ = loss.backward_retain_graph();
    p.update(|w| w[0] = 3.0);
    let stale = TensorError::StaleParameter {
        op: "backward",
        shape: vec![1],
    };
    assert_eq!(loss.try_backward().unwrap_err(), stale);
    assert_eq!(loss.item(), 4.0, "the old graph keeps the values it saw");
    assert!(loss.has_graph(), "the refused pass changed nothing");

    // Never backpropagated, then updated: the same.
    let loss = p.tensor().square().sum();
    p.update(|w| w[0] = 4.0);
    assert_eq!(loss.try_backward().unwrap_err(), stale);

    // Old and new values mixed in one graph: refused, never a sum of gradients taken at two
    // different values of p.
    let old = p.tensor().square().sum();
    p.update(|w| w[0] = 5.0);
    let new = p.tensor().square().sum();
    for mixed in [&old + &new, &new + &old, &old * &new] {
        assert_eq!(mixed.try_backward().unwrap_err(), stale);
    }

    // A fresh forward pass with the current value works.
    let fresh = p.tensor().square().sum();
    assert_eq!(fresh.backward().get(&p).unwrap().to_vec(), vec![10.0]);
}

#[test]
fn a_held_value_keeps_its_values_and_is_refused_as_a_parameter_after_an_update() {
    let p = Parameter::new(Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2]).unwrap());
    let held = p.tensor();
    assert!(!p.is_unshared());
    p.update(|w| w.iter_mut().for_each(|v| *v *= 10.0));
    assert_eq!(
        held.to_vec(),
        vec![1.0, 2.0],
        "a value one holds never changes"
    );
    assert_eq!(p.tensor().to_vec(), vec![10.0, 20.0]);
    let err = held.square().sum().try_backward().unwrap_err();
    assert!(matches!(err, TensorError::StaleParameter { .. }));
    let message = err.to_string();
    assert!(message.contains("run the forward pass again"), "{message}");
    // Detached, the old value is a constant.
    let x = leaf(&[1.0, 1.0]);
    let with_constant = (held.detach() * &x).sum();
    assert_eq!(
        with_constant.backward().get(&x).unwrap().to_vec(),
        vec![1.0, 2.0]
    );
}

#[test]
fn set_replaces_the_value_and_refuses_graphs_of_the_old_one() {
    let p = Parameter::new(Tensor::<f64>::from_vec(vec![1.0], &[1]).unwrap());
    let loss = (p.tensor() * 3.0).sum();
    p.set(Tensor::from_vec(vec![7.0], &[1]).unwrap());
    assert!(matches!(
        loss.try_backward().unwrap_err(),
        TensorError::StaleParameter { .. }
    ));
    assert_eq!(
        (p.tensor() * 3.0)
            .sum()
            .backward()
            .get(&p)
            .unwrap()
            .to_vec(),
        vec![3.0]
    );
}

#[test]
fn concurrent_passes_over_one_graph_never_mix() {
    for _ in 0..50 {
        // Two losses over one subgraph, released by whichever pass gets there first: one
        // pass succeeds with the right gradient, the other is refused.
        let x = leaf(&[1.0, 2.0, 3.0]);
        let h = x.square();
        let losses = [h.sum(), (&h * 3.0).sum()];
        let outcomes: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = losses
                .iter()
                .map(|l| s.spawn(move || l.try_backward()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let ok: Vec<usize> = (0..2).filter(|&i| outcomes[i].is_ok()).collect();
        assert_eq!(ok.len(), 1, "exactly one pass goes through the shared node");
        let scale = [2.0, 6.0][ok[0]];
        let g = outcomes[ok[0]].as_ref().unwrap().get(&x).unwrap().to_vec();
        assert_eq!(g, vec![scale, 2.0 * scale, 3.0 * scale]);
        let other = outcomes[1 - ok[0]].as_ref().unwrap_err();
        assert!(matches!(other, TensorError::GraphReleased { .. }));

        // Kept graphs can be walked by several threads at once.
        let h = x.square();
        let loss = h.sum();
        let grads: Vec<Vec<f64>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..3)
                .map(|_| s.spawn(|| loss.backward_retain_graph().get(&x).unwrap().to_vec()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(grads.iter().all(|g| g == &vec![2.0, 4.0, 6.0]));
    }
}
