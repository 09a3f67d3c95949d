//! The textbook layer `x.matmul(&w) + &b`: an owned product takes the bias into its own buffer
//! and is recorded as one `linear`, with the values and gradients of the unfused matmul and
//! add to the last bit.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tensor::{Element, Tensor, detect_anomaly, no_grad};

fn random<T: Element>(shape: &[usize], rng: &mut StdRng) -> Tensor<T> {
    Tensor::rand_uniform(shape, T::of_f64(-1.0), T::of_f64(1.0), rng)
}

fn bits<T: Element>(t: &Tensor<T>) -> Vec<u64> {
    t.to_vec().iter().map(|v| v.as_f64().to_bits()).collect()
}

const SHAPES: [(usize, usize, usize); 5] = [
    (1, 1, 1),
    (16, 4, 1),
    (7, 5, 3),
    (40, 300, 200),
    (128, 784, 256),
];

/// The sum unfused: the product is shared while it is added, so it cannot be written in place.
fn unfused<T: Element>(x: &Tensor<T>, w: &Tensor<T>, b: &Tensor<T>) -> Tensor<T> {
    let product = x.matmul(w);
    let _shared = product.clone();
    product + b
}

fn forward_bits_and_names<T: Element>() {
    let mut rng = StdRng::seed_from_u64(31);
    for (m, k, n) in SHAPES {
        let x = random::<T>(&[m, k], &mut rng);
        let w = random::<T>(&[k, n], &mut rng).require_grad();
        let row = random::<T>(&[n], &mut rng);
        for b in [row.clone(), row.reshape(&[1, n])] {
            let reference = x.matmul(&w).add(&b);
            assert_eq!(reference.op_name(), Some("add"));
            let fused = x.matmul(&w) + &b;
            assert_eq!(fused.op_name(), Some("linear"), "{m}x{k}x{n}");
            assert_eq!(
                bits(&fused),
                bits(&reference),
                "{m}x{k}x{n}, bias {:?}",
                b.shape()
            );
            assert_eq!(bits(&unfused(&x, &w, &b)), bits(&reference));
            // The bias on the left, owned or borrowed: the same sum.
            assert_eq!(bits(&(b.clone() + x.matmul(&w))), bits(&reference));
            assert_eq!(bits(&(&b + x.matmul(&w))), bits(&reference));
            // Nothing recorded: written in place all the same.
            let plain = no_grad(|| x.matmul(&w) + &b);
            assert!(!plain.requires_grad());
            assert_eq!(bits(&plain), bits(&reference));
        }
    }
}

#[test]
fn the_fused_sum_has_the_unfused_bits_f32() {
    forward_bits_and_names::<f32>();
}

#[test]
fn the_fused_sum_has_the_unfused_bits_f64() {
    forward_bits_and_names::<f64>();
}

#[test]
fn gradients_through_the_fused_sum_have_the_unfused_bits() {
    let mut rng = StdRng::seed_from_u64(32);
    for (m, k, n) in SHAPES {
        let x = random::<f32>(&[m, k], &mut rng).require_grad();
        let w = random::<f32>(&[k, n], &mut rng).require_grad();
        let b = random::<f32>(&[n], &mut rng).require_grad();
        let u = random::<f32>(&[m, n], &mut rng);
        let loss = |y: Tensor<f32>| (y.sigmoid() * &u).sum();
        let fused = loss(x.matmul(&w) + &b).backward();
        let reference = loss(unfused(&x, &w, &b)).backward();
        for leaf in [&x, &w, &b] {
            assert_eq!(
                bits(fused.get(leaf).unwrap()),
                bits(reference.get(leaf).unwrap()),
                "{m}x{k}x{n}"
            );
        }
        // The same through a transposed weight and a row bias.
        let wt = random::<f32>(&[n, k], &mut rng).require_grad();
        let row = || b.reshape(&[1, n]);
        let fused = loss(x.matmul(&wt.t()) + &row()).backward();
        let reference = loss(unfused(&x, &wt.t(), &row())).backward();
        for leaf in [&x, &wt, &b] {
            assert_eq!(
                bits(fused.get(leaf).unwrap()),
                bits(reference.get(leaf).unwrap())
            );
        }
    }
}

#[test]
fn other_sums_are_left_to_add() {
    let mut rng = StdRng::seed_from_u64(33);
    let x = random::<f64>(&[4, 3], &mut rng);
    let w = random::<f64>(&[3, 5], &mut rng).require_grad();
    let b = random::<f64>(&[5], &mut rng);
    // A product someone else holds keeps its values.
    let product = x.matmul(&w);
    let before = product.to_vec();
    let sum = product.clone() + &b;
    assert_eq!((sum.op_name(), product.to_vec()), (Some("add"), before));
    // A tracked leaf is never overwritten, even when it is the only handle.
    let leaf = random::<f64>(&[4, 5], &mut rng).require_grad();
    let id = leaf.id();
    let sum = leaf + &b;
    assert_eq!(sum.op_name(), Some("add"));
    assert_ne!(sum.id(), id);
    // Shapes that are not a matrix and a row of its width.
    assert_eq!((x.matmul(&w) + &x.matmul(&w)).op_name(), Some("add"));
    let column = random::<f64>(&[4, 1], &mut rng);
    assert_eq!((x.matmul(&w) + &column).op_name(), Some("add"));
    // Anomaly detection checks each result under its own name, so nothing is fused.
    let checked = detect_anomaly(|| x.matmul(&w) + &b);
    assert_eq!(checked.op_name(), Some("add"));
    // A batched product is left to add too.
    let batched = random::<f64>(&[2, 4, 3], &mut rng).matmul(&w) + &b;
    assert_eq!(batched.op_name(), Some("add"));
}

#[test]
fn the_fused_node_shows_as_linear_in_the_graph() {
    let x = Tensor::<f32>::ones(&[2, 3]);
    let w = Tensor::<f32>::ones(&[3, 4]).require_grad();
    let b = Tensor::<f32>::zeros(&[4]).require_grad();
    let y = (x.matmul(&w) + &b).sigmoid().sum();
    let dot = tensor::graph::to_dot(&y);
    assert!(dot.contains("linear\\n[2, 4]"), "{dot}");
    assert!(!dot.contains("matmul"), "{dot}");
}
