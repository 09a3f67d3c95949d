//! Pictures of the recorded graph, as Graphviz DOT text.
//!
//! ```
//! use tensor::Tensor;
//! let x = Tensor::<f32>::ones(&[2, 3]);
//! let w = Tensor::<f32>::ones(&[3, 1]).require_grad();
//! let loss = x.matmul(&w).sigmoid().sum();
//! let dot = tensor::graph::to_dot(&loss);
//! assert!(dot.starts_with("digraph"));
//! assert!(dot.contains("matmul") && dot.contains("sigmoid") && dot.contains("receives gradient"));
//! ```
//! Render with `dot -Tsvg graph.dot -o graph.svg`.

use std::collections::HashMap;
use std::fmt::Write;

use crate::element::Element;
use crate::tensor::{Tensor, TensorId};

/// The graph behind `tensor` in DOT: one node per recorded operation (its name and output
/// shape), per leaf that receives gradients (highlighted), and per constant input; edges point
/// from inputs to the operations that use them. An operation whose graph a backward pass
/// has released shows as released, without its inputs.
pub fn to_dot<T: Element>(tensor: &Tensor<T>) -> String {
    to_dot_named(tensor, &[])
}

/// As [`to_dot`], labelling the leaves listed in `names` (for instance a model's
/// `named_parameters`, by their tensor ids).
pub fn to_dot_named<T: Element>(tensor: &Tensor<T>, names: &[(String, TensorId)]) -> String {
    let names: HashMap<TensorId, &str> = names.iter().map(|(n, id)| (*id, n.as_str())).collect();
    // Breadth-first from the output, numbering nodes in order of discovery, so the text is the
    // same on every run.
    let mut number: HashMap<TensorId, usize> = HashMap::new();
    let mut queue = vec![tensor.clone()];
    let mut nodes = String::new();
    let mut edges = String::new();
    number.insert(tensor.id(), 0);
    let mut next = 0;
    while next < queue.len() {
        let node = queue[next].clone();
        next += 1;
        let id = number[&node.id()];
        let shape = format!("{:?}", node.shape());
        let inputs: Vec<Tensor<T>> = match &*node.op() {
            Some(op) => op.inputs().into_iter().cloned().collect(),
            None => Vec::new(),
        };
        let (label, style) = match (node.op_name(), names.get(&node.id())) {
            (Some(name), _) if node.has_graph() => {
                (format!("{name}\\n{shape}"), "shape=box, style=rounded")
            }
            (Some(name), _) => (
                format!("{name}\\n{shape}\\nreleased by backward"),
                "shape=box, style=\"rounded,dashed\"",
            ),
            (None, Some(name)) if node.requires_grad() => (
                format!("{name}\\n{shape}\\nreceives gradient"),
                "shape=box, style=filled, fillcolor=lightblue",
            ),
            (None, None) if node.requires_grad() => (
                format!("leaf {shape}\\nreceives gradient"),
                "shape=box, style=filled, fillcolor=lightblue",
            ),
            (None, _) => (
                format!("constant {shape}"),
                "shape=box, style=dashed, color=gray",
            ),
        };
        let _ = writeln!(nodes, "  n{id} [label=\"{label}\", {style}];");
        for input in inputs {
            let seen = number.len();
            let input_id = *number.entry(input.id()).or_insert(seen);
            if input_id == seen {
                queue.push(input);
            }
            let _ = writeln!(edges, "  n{input_id} -> n{id};");
        }
    }
    format!("digraph {{\n  rankdir=BT;\n  node [fontname=\"Helvetica\"];\n{nodes}{edges}}}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_lists_ops_leaves_constants_and_edges() {
        let x = Tensor::<f64>::ones(&[4, 2]);
        let w = Tensor::<f64>::ones(&[2, 1]).require_grad();
        let y = x.matmul(&w).sum();
        let dot = to_dot_named(&y, &[("weight".to_string(), w.id())]);
        assert!(dot.contains("n0 [label=\"sum\\n[]\""), "{dot}");
        assert!(dot.contains("n1 [label=\"matmul\\n[4, 1]\""), "{dot}");
        assert!(dot.contains("label=\"constant [4, 2]\""), "{dot}");
        assert!(
            dot.contains("label=\"weight\\n[2, 1]\\nreceives gradient\""),
            "{dot}"
        );
        assert!(dot.contains("n1 -> n0;"), "{dot}");
        assert_eq!(dot.matches(" -> ").count(), 3);
        // Shared inputs appear once.
        let z = (&w * &w).sum();
        assert_eq!(to_dot(&z).matches("receives gradient").count(), 1);
    }
}
