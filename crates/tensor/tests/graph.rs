//! Regressions for graph shapes: reuse, diamonds, repeated backward, unused leaves, detached
//! paths, grad mode, higher order, and very deep chains.

use tensor::{Parameter, Tensor, TensorError, no_grad};

fn leaf(values: &[f64]) -> Tensor<f64> {
    Tensor::from_vec(values.to_vec(), &[values.len()])
        .expect("length matches")
        .require_grad()
}

#[test]
fn reused_tensor_accumulates_fan_in() {
    // b = a + a, c = b + b = 4a: dc/da = 4
    let a = leaf(&[1.5]);
    let b = &a + &a;
    let c = (&b + &b).sum();
    assert_eq!(c.backward().get(&a).unwrap().to_vec(), vec![4.0]);
}

#[test]
fn diamond_sums_both_paths() {
    // y = 2x, z = x², w = y * z = 2x³: dw/dx = 6x² = 24 at x = 2
    let x = leaf(&[2.0]);
    let y = &x * 2.0;
    let z = x.square();
    let w = (&y * &z).sum();
    assert_eq!(w.backward().get(&x).unwrap().to_vec(), vec![24.0]);
}

#[test]
fn backward_twice_needs_the_graph_kept() {
    let x = leaf(&[1.0, -2.0, 3.0]);
    let loss = (x.sigmoid() * &x).sum();
    // Kept by the first pass, the graph gives an equal store the second time, and is
    // released by that one.
    let first = loss.backward_retain_graph();
    let second = loss.backward();
    assert_eq!(first.len(), second.len());
    assert_eq!(
        first.get(&x).unwrap().to_vec(),
        second.get(&x).unwrap().to_vec()
    );
    let err = loss.try_backward().unwrap_err();
    assert_eq!(
        err,
        TensorError::GraphReleased {
            op: "backward",
            node: "sum",
            shape: vec![],
        }
    );
}

#[test]
fn unused_and_constant_inputs_get_no_gradient() {
    let x = leaf(&[1.0, 2.0]);
    let unused = leaf(&[5.0]);
    let constant = Tensor::<f64>::from_vec(vec![3.0, 4.0], &[2]).unwrap();
    let loss = (&x * &constant).sum();
    let grads = loss.backward();
    // d(sum(x * c))/dx = c
    assert_eq!(grads.get(&x).unwrap().to_vec(), vec![3.0, 4.0]);
    assert!(grads.get(&unused).is_none());
    assert!(grads.get(&constant).is_none());
    assert_eq!(grads.len(), 1);
}

#[test]
fn detached_path_carries_no_gradient() {
    // loss = sum(detach(x) * x): only the second factor is differentiated, d/dx = x
    let x = leaf(&[2.0, -3.0]);
    let loss = (x.detach() * &x).sum();
    assert_eq!(loss.backward().get(&x).unwrap().to_vec(), vec![2.0, -3.0]);
    assert!(!x.detach().requires_grad());
}

#[test]
fn backward_of_a_non_scalar_is_an_error() {
    let x = leaf(&[1.0, 2.0]);
    let y = &x * 3.0;
    let err = y.try_backward().unwrap_err();
    assert_eq!(
        err.to_string(),
        "backward: expected a tensor with exactly one element, got shape [2] (2 elements)"
    );
    // With a seed of the output's shape it is a vector-Jacobian product: 3 * seed.
    let seed = Tensor::from_vec(vec![1.0, 10.0], &[2]).unwrap();
    assert_eq!(
        y.backward_with(&seed).get(&x).unwrap().to_vec(),
        vec![3.0, 30.0]
    );
    let wrong = Tensor::<f64>::ones(&[3]);
    assert!(
        y.try_backward_with(&wrong)
            .unwrap_err()
            .to_string()
            .contains("seed has shape [3]")
    );
}

#[test]
#[should_panic(expected = "backward: expected a tensor with exactly one element")]
fn plain_backward_panics_with_the_same_message() {
    let x = leaf(&[1.0, 2.0]);
    let _ = (&x * 3.0).backward();
}

#[test]
fn no_grad_records_nothing() {
    let x = leaf(&[1.0]);
    let y = no_grad(|| x.exp() * 2.0);
    assert!(!y.requires_grad());
    assert!(y.is_leaf());
    assert_eq!(
        y.try_backward().unwrap_err(),
        TensorError::NotTracked { op: "backward" }
    );
    // Grad mode is restored afterwards, and per thread.
    assert!(tensor::is_grad_enabled());
    let z = x.exp();
    assert!(z.requires_grad());
    std::thread::scope(|s| {
        s.spawn(|| no_grad(|| std::thread::sleep(std::time::Duration::from_millis(20))));
        assert!(x.exp().requires_grad());
    });
}

#[test]
fn ops_on_constants_are_not_recorded() {
    let a = Tensor::<f64>::ones(&[2]);
    let b = a.exp() + &a;
    assert!(b.is_leaf() && !b.requires_grad());
    assert_eq!(b.op_name(), None);
    let x = leaf(&[1.0, 1.0]);
    assert_eq!((&b * &x).op_name(), Some("mul"));
}

#[test]
fn root_leaf_gets_the_seed() {
    let x = Tensor::<f64>::scalar(4.0).require_grad();
    assert_eq!(x.backward().get(&x).unwrap().item(), 1.0);
}

#[test]
fn grad_of_grad_and_hessian_vector_product() {
    // f(x) = sum(x³): grad 3x², Hessian diag(6x), so H v = 6 x v
    let x = leaf(&[1.0, -2.0, 0.5]);
    let v = Tensor::from_vec(vec![1.0, 2.0, -4.0], &[3]).unwrap();
    let f = x.powf(3.0).sum();
    let grads = f.backward_create_graph();
    let g = grads.get(&x).unwrap();
    assert_eq!(g.to_vec(), vec![3.0, 12.0, 0.75]);
    assert!(
        g.requires_grad(),
        "create_graph gradients are differentiable"
    );
    // The gradient's graph runs through f's: kept, so that it can be walked again below.
    let hv = (g * &v).sum().backward_retain_graph();
    assert_eq!(hv.get(&x).unwrap().to_vec(), vec![6.0, -24.0, -12.0]);
    // Third order: d/dx sum(6x) = 6
    let second = g.sum().backward_create_graph();
    let third = second.get(&x).unwrap().sum().backward();
    assert_eq!(third.get(&x).unwrap().to_vec(), vec![6.0, 6.0, 6.0]);
}

#[test]
fn plain_backward_gradients_are_not_tracked() {
    let x = leaf(&[1.0, 2.0]);
    let grads = x.powf(3.0).sum().backward();
    assert!(!grads.get(&x).unwrap().requires_grad());
}

#[test]
fn an_update_under_a_live_graph_copies_and_the_old_graph_refuses_backward() {
    let p = Parameter::new(Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2]).unwrap());
    let before = p.tensor();
    let loss = before.square().sum(); // d/dp = 2p
    p.update(|data| data.iter_mut().for_each(|v| *v += 10.0));
    // The graph holds the old value, so the update went to a copy: the graph and `before`
    // keep the values the forward pass used...
    assert_eq!(p.tensor().to_vec(), vec![11.0, 12.0]);
    assert_eq!(before.to_vec(), vec![1.0, 2.0]);
    assert_eq!(loss.item(), 5.0);
    // ...but a gradient at values the parameter no longer has is refused.
    let err = loss.try_backward().unwrap_err();
    assert_eq!(
        err,
        TensorError::StaleParameter {
            op: "backward",
            shape: vec![2],
        }
    );
    // The new value is found under the same key.
    let loss = p.tensor().square().sum();
    assert_eq!(loss.backward().get(&p).unwrap().to_vec(), vec![22.0, 24.0]);
    let err = p.try_set(Tensor::zeros(&[3])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Parameter::set: cannot replace a parameter of shape [2] by a value of shape [3]"
    );
}

#[test]
fn parameter_update_is_in_place_when_unshared() {
    let p = Parameter::new(Tensor::<f32>::zeros(&[4]));
    let id = p.tensor().id();
    p.update(|data| data[0] = 1.0);
    assert_eq!(p.tensor().to_vec(), vec![1.0, 0.0, 0.0, 0.0]);
    assert_eq!(p.tensor().id(), id);
}

#[test]
fn long_chain_runs_and_drops_without_stack_overflow() {
    // 100,000 ops deep: an iterative sort and an iterative drop are needed.
    let x = Tensor::<f32>::scalar(1.0).require_grad();
    let mut y = x.clone();
    for _ in 0..100_000 {
        y = &y * 1.0;
    }
    let grads = y.backward();
    assert_eq!(grads.get(&x).unwrap().item(), 1.0);
    drop(y);
    // The same for a create_graph gradient graph, which is as deep.
    let mut y = x.clone();
    for _ in 0..100_000 {
        y = y.sigmoid() * 0.0 + &y;
    }
    let grads = y.backward_create_graph();
    assert_eq!(grads.get(&x).unwrap().item(), 1.0);
    drop(grads);
    drop(y);
}

#[test]
fn gradients_flow_through_views() {
    // loss = sum(w ⊙ xᵀ) for x [2, 3]: d/dx = wᵀ
    let x = Tensor::<f64>::from_vec((0..6).map(f64::from).collect(), &[2, 3])
        .unwrap()
        .require_grad();
    let w = Tensor::<f64>::from_vec((10..16).map(f64::from).collect(), &[3, 2]).unwrap();
    let loss = (x.t() * &w).sum();
    let g = loss.backward().get(&x).unwrap().to_vec();
    assert_eq!(g, vec![10.0, 12.0, 14.0, 11.0, 13.0, 15.0]);
}
