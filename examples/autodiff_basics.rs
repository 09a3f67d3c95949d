//! The autodiff engine in one screen: a forward pass, `backward`, reading gradients, and a
//! Hessian-vector product from `backward_create_graph`, each checked against finite
//! differences.
//!
//! Run with `cargo run --release --example autodiff_basics`.

use surefire::prelude::*;

/// f(w) = sum(sigmoid(x · w)) for a fixed batch x.
fn f(x: &Tensor<f64>, w: &Tensor<f64>) -> Tensor<f64> {
    x.matmul(w).sigmoid().sum()
}

fn main() -> Result<(), TensorError> {
    let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, -1.0, 0.5, 0.0, 3.0], &[2, 3])?;
    let w = Tensor::from_vec(vec![0.2, -0.4, 0.1], &[3, 1])?.require_grad();

    // Forward: the graph is recorded because w requires grad.
    let y = f(&x, &w);
    println!("f(w) = {:.6}", y.item());
    println!("recorded op of the output: {:?}", y.op_name());

    // Backward: one call returns the gradient of every leaf that requires grad. A pass
    // releases the graph it walks (as PyTorch's does); this one keeps it, because the
    // Hessian-vector product below backpropagates through y again.
    let grads = y.backward_retain_graph();
    let g = grads.get(&w).expect("w is a leaf of the graph");
    println!("df/dw = {g}");

    // The same gradient by central differences, one coordinate at a time.
    let h = 1e-6;
    let numeric: Vec<f64> = (0..3)
        .map(|i| {
            let mut plus = w.to_vec();
            let mut minus = w.to_vec();
            plus[i] += h;
            minus[i] -= h;
            let at = |v: Vec<f64>| f(&x, &Tensor::from_vec(v, &[3, 1]).expect("3 values")).item();
            (at(plus) - at(minus)) / (2.0 * h)
        })
        .collect();
    println!("finite differences: {numeric:.6?}");

    // Hessian-vector product: differentiate (df/dw · v) once more.
    let v = Tensor::from_vec(vec![1.0, 0.0, -1.0], &[3, 1])?;
    let grads = y.backward_create_graph();
    let g = grads.get(&w).expect("w is a leaf of the graph");
    let hv = (g * &v).sum().backward();
    let hv = hv.get(&w).expect("the gradient depends on w");
    println!("H v = {hv}");

    // Check: (∇f(w + h v) - ∇f(w - h v)) / 2h.
    let gradient_at = |shift: f64| -> Result<Vec<f64>, TensorError> {
        let moved = (w.detach() + &(&v * shift)).require_grad();
        let grads = f(&x, &moved).backward();
        Ok(grads.get(&moved).expect("leaf").to_vec())
    };
    let (plus, minus) = (gradient_at(h)?, gradient_at(-h)?);
    let numeric: Vec<f64> = plus
        .iter()
        .zip(&minus)
        .map(|(a, b)| (a - b) / (2.0 * h))
        .collect();
    println!("finite differences of the gradient: {numeric:.6?}");
    Ok(())
}
