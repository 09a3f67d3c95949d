//! Zero-size dimensions flow through every op, forward and backward.

use tensor::Tensor;

type T = Tensor<f64>;

fn empty(shape: &[usize]) -> T {
    T::zeros(shape).require_grad()
}

/// Runs `op` on a zero-size leaf of `shape`, checks the output shape, and backpropagates a
/// zero-size seed: the gradient exists and has the leaf's shape.
fn flows(shape: &[usize], want: &[usize], op: impl Fn(&T) -> T) {
    let x = empty(shape);
    let y = op(&x);
    assert_eq!(y.shape(), want, "forward shape");
    let seed = T::ones(y.shape());
    let grads = y.backward_with(&seed);
    if let Some(g) = grads.get(&x) {
        assert_eq!(g.shape(), shape, "gradient shape");
        assert_eq!(g.to_vec().len(), g.numel());
    }
}

#[test]
fn elementwise_ops_keep_zero_size_shapes() {
    for shape in [&[0][..], &[1, 0, 3]] {
        flows(shape, shape, |x| x.neg());
        flows(shape, shape, |x| x.exp());
        flows(shape, shape, |x| x.ln());
        flows(shape, shape, |x| x.sqrt());
        flows(shape, shape, |x| x.abs());
        flows(shape, shape, |x| x.sigmoid());
        flows(shape, shape, |x| x.tanh());
        flows(shape, shape, |x| x.relu());
        flows(shape, shape, |x| x.powf(3.0));
        flows(shape, shape, |x| x.clamp(-1.0, 1.0));
        flows(shape, shape, |x| x + 1.0);
        flows(shape, shape, |x| x * 2.0);
        flows(shape, shape, |x| x / 2.0);
        flows(shape, shape, |x| x * x);
        flows(shape, shape, |x| x - x);
        flows(shape, shape, |x| x / (x + 1.0));
        flows(shape, shape, |x| x.pow(x));
        flows(shape, shape, |x| x.maximum(x));
        flows(shape, shape, |x| x.minimum(x));
        flows(shape, shape, |x| x.gt(x).where_cond(x, x));
    }
    // Broadcasting a zero-size dim against 1 and against scalars.
    flows(&[1, 0, 3], &[2, 0, 3], |x| x + T::zeros(&[2, 1, 1]));
    flows(&[0], &[4, 0], |x| x * T::ones(&[4, 1]));
}

#[test]
fn reductions_over_and_beside_zero_size_dims() {
    // sum of nothing is 0, mean of nothing is NaN (0 / 0).
    let x = empty(&[1, 0, 3]);
    assert_eq!(x.sum().item(), 0.0);
    assert!(x.mean().item().is_nan());
    assert_eq!(x.sum_dim(1, false).to_vec(), vec![0.0; 3]);
    flows(&[1, 0, 3], &[], |x| x.sum());
    flows(&[1, 0, 3], &[1, 3], |x| x.sum_dim(1, false));
    flows(&[1, 0, 3], &[1, 0], |x| x.sum_dim(2, false));
    flows(&[1, 0, 3], &[1, 0, 1], |x| x.mean_dim(-1, true));
    flows(&[1, 0, 3], &[1, 0], |x| x.max_dim(2, false));
    flows(&[1, 0, 3], &[1, 0, 3], |x| x.softmax(1));
    flows(&[1, 0, 3], &[1, 0, 3], |x| x.log_softmax(2));
    // An extreme over an empty dimension has no value.
    let err = x.try_max_dim(1, false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "max_dim: cannot reduce the empty dimension 1 of shape [1, 0, 3]"
    );
    assert!(x.try_argmin(1, false).is_err());
}

#[test]
fn matmul_with_zero_size_dims() {
    // [0, 4] @ [4, 3] -> [0, 3]
    let a = empty(&[0, 4]);
    let b = T::ones(&[4, 3]).require_grad();
    let c = a.matmul(&b);
    assert_eq!(c.shape(), &[0, 3]);
    let grads = c.sum().backward();
    assert_eq!(grads.get(&a).unwrap().shape(), &[0, 4]);
    assert_eq!(grads.get(&b).unwrap().to_vec(), vec![0.0; 12]);
    // [2, 0] @ [0, 3] -> zeros [2, 3]
    let a = empty(&[2, 0]);
    let b = empty(&[0, 3]);
    let c = a.matmul(&b);
    assert_eq!(c.to_vec(), vec![0.0; 6]);
    let grads = c.sum().backward();
    assert_eq!(grads.get(&a).unwrap().shape(), &[2, 0]);
    assert_eq!(grads.get(&b).unwrap().shape(), &[0, 3]);
}

#[test]
fn movement_ops_with_zero_size_dims() {
    flows(&[1, 0, 3], &[0, 3], |x| x.reshape(&[0, 3]));
    flows(&[1, 0, 3], &[3, 0, 1], |x| x.permute(&[2, 1, 0]));
    flows(&[1, 0, 3], &[1, 3, 0], |x| x.transpose(1, 2));
    flows(&[1, 0, 3], &[1, 3, 0], |x| x.t());
    flows(&[1, 0, 3], &[2, 0, 3], |x| x.broadcast_to(&[2, 0, 3]));
    flows(&[1, 0, 3], &[0, 3], |x| x.squeeze(0));
    flows(&[0], &[0, 1], |x| x.unsqueeze(1));
    flows(&[1, 0, 3], &[1, 0, 1], |x| x.narrow(2, 1, 1));
    flows(&[1, 0, 3], &[1, 0, 0], |x| x.narrow(2, 3, 0));
    let at = |i: &[i64]| Tensor::<i64>::from_slice(i);
    flows(&[1, 0, 3], &[1, 0, 2], |x| x.index_select(2, &at(&[0, 2])));
    flows(&[2, 3], &[0, 3], |x| x.index_select(0, &at(&[])));
    flows(&[1, 0, 3], &[1, 0, 3], |x| {
        x.index_add(2, &at(&[]), &T::zeros(&[1, 0, 0]))
    });
    let none = Tensor::<i64>::zeros(&[1, 0, 2]);
    flows(&[1, 0, 3], &[1, 0, 2], |x| x.gather(2, &none));
    flows(&[2, 3], &[0, 3], |x| x.gather(0, &Tensor::zeros(&[0, 3])));
    flows(&[1, 0, 3], &[1, 0, 3], |x| {
        x.scatter_add(2, &none, &T::zeros(&[1, 0, 2]))
    });
    flows(&[2, 3], &[2, 3], |x| {
        x.scatter_add(1, &Tensor::zeros(&[2, 0]), &T::zeros(&[2, 0]))
    });
    flows(&[1, 0, 3], &[1, 0, 6], |x| T::concat(&[x, x], 2));
    flows(&[0, 4], &[0, 4], |x| {
        x.layer_norm(Some(&T::ones(&[4])), None, 1e-5)
    });
    flows(&[3, 0], &[3, 0], |x| {
        x.layer_norm(None, Some(&T::ones(&[0])), 1e-5)
    });
    flows(&[0], &[2, 0], |x| T::stack(&[x, x], 0));
    flows(&[0], &[0], |x| x.flatten());
    flows(&[0, 3], &[0, 2], |x| {
        x.linear(&T::ones(&[3, 2]), Some(&T::ones(&[2])))
    });
    flows(&[2, 0], &[2, 4], |x| {
        x.linear(&T::ones(&[0, 4]), Some(&T::ones(&[4])))
    });
    let x = T::ones(&[2, 3]).require_grad();
    let w = T::ones(&[3, 0]).require_grad();
    let y = x.linear(&w, None);
    assert_eq!(y.shape(), &[2, 0]);
    let grads = y.backward_with(&T::ones(&[2, 0]));
    assert_eq!(grads.get(&x).unwrap().to_vec(), vec![0.0; 6]);
    // Joining a non-empty tensor with an empty one.
    let a = T::ones(&[2, 3]).require_grad();
    let b = empty(&[0, 3]);
    let c = T::concat(&[&a, &b], 0);
    assert_eq!(c.shape(), &[2, 3]);
    let grads = c.sum().backward();
    assert_eq!(grads.get(&a).unwrap().to_vec(), vec![1.0; 6]);
    assert_eq!(grads.get(&b).unwrap().shape(), &[0, 3]);
}
