//! `Display` and `Debug` for tensors, in PyTorch's style: one number format for all elements,
//! aligned columns, and large tensors summarised with `...`.

use std::fmt;

use crate::element::{DType, Scalar};
use crate::tensor::Tensor;

/// Above this many elements, each dimension shows only its first and last `EDGE_ITEMS`.
const SUMMARY_THRESHOLD: usize = 1000;
const EDGE_ITEMS: usize = 3;
const PRECISION: usize = 4;

/// How every element of one tensor is written.
#[derive(Clone, Copy)]
enum Style {
    /// All finite values are whole numbers: `3.`
    Integer,
    /// `1.2500`
    Fixed,
    /// `1.2500e-07`, when magnitudes span too wide a range for fixed notation.
    Scientific,
}

impl Style {
    fn choose(values: &[f64]) -> Self {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if finite.iter().all(|v| v.fract() == 0.0) {
            let max = finite.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            return if max < 1e8 {
                Style::Integer
            } else {
                Style::Scientific
            };
        }
        let nonzero = finite.iter().map(|v| v.abs()).filter(|&v| v > 0.0);
        let (min, max) = nonzero.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if max / min > 1000.0 || max > 1e8 || min < 1e-4 {
            Style::Scientific
        } else {
            Style::Fixed
        }
    }

    fn format(self, v: f64) -> String {
        if v.is_nan() {
            return "nan".into();
        }
        if v.is_infinite() {
            return if v > 0.0 { "inf".into() } else { "-inf".into() };
        }
        match self {
            Style::Integer => format!("{v:.0}."),
            Style::Fixed => format!("{v:.PRECISION$}"),
            Style::Scientific => {
                // Rust writes `1.2500e-7`; PyTorch's two-digit signed exponent reads better.
                let text = format!("{v:.PRECISION$e}");
                let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
                let exponent: i32 = exponent.parse().unwrap_or(0);
                let sign = if exponent < 0 { '-' } else { '+' };
                format!("{mantissa}e{sign}{:02}", exponent.abs())
            }
        }
    }
}

/// The indices shown along a dimension of `size`.
fn shown(size: usize, summarise: bool) -> Vec<Option<usize>> {
    if summarise && size > 2 * EDGE_ITEMS {
        let head = (0..EDGE_ITEMS).map(Some);
        let tail = (size - EDGE_ITEMS..size).map(Some);
        head.chain(std::iter::once(None)).chain(tail).collect()
    } else {
        (0..size).map(Some).collect()
    }
}

/// The text of each of `values`: integers as they are, floats in one [`Style`].
fn texts<T: Scalar>(values: &[T]) -> Vec<String> {
    if T::DTYPE == DType::I64 {
        return values.iter().map(T::to_string).collect();
    }
    let values: Vec<f64> = values.iter().map(|&v| v.as_()).collect();
    let style = Style::choose(&values);
    values.iter().map(|&v| style.format(v)).collect()
}

struct Printer<'a, T: Scalar> {
    tensor: &'a Tensor<T>,
    summarise: bool,
}

impl<T: Scalar> Printer<'_, T> {
    /// Every shown element's storage offset, in order.
    fn shown_offsets(&self, dim: usize, offset: usize, out: &mut Vec<usize>) {
        let layout = self.tensor.layout();
        if dim == layout.shape().len() {
            out.push(offset);
            return;
        }
        for i in shown(layout.shape()[dim], self.summarise)
            .into_iter()
            .flatten()
        {
            self.shown_offsets(dim + 1, offset + i * layout.strides()[dim], out);
        }
    }

    /// Writes the shown elements from dimension `dim` on, taking their texts in order from
    /// `texts` (each padded to `width`).
    fn write(
        &self,
        f: &mut fmt::Formatter<'_>,
        dim: usize,
        texts: &mut std::slice::Iter<'_, String>,
        width: usize,
    ) -> fmt::Result {
        let layout = self.tensor.layout();
        let ndim = layout.shape().len();
        if dim == ndim {
            let text = texts.next().map_or("", String::as_str);
            return write!(f, "{text:>width$}");
        }
        f.write_str("[")?;
        // Rows below the first are indented past "tensor(" and the open brackets.
        let indent = " ".repeat("tensor(".len() + dim + 1);
        let separator = if dim + 1 == ndim {
            ", ".to_string()
        } else {
            format!(",{}{indent}", "\n".repeat(ndim - dim - 1))
        };
        for (k, i) in shown(layout.shape()[dim], self.summarise)
            .into_iter()
            .enumerate()
        {
            if k > 0 {
                f.write_str(&separator)?;
            }
            match i {
                Some(_) => self.write(f, dim + 1, texts, width)?,
                None => f.write_str("...")?,
            }
        }
        f.write_str("]")
    }
}

impl<T: Scalar> fmt::Display for Tensor<T> {
    /// `tensor([[1., 2.], [3., 4.]], shape=[2, 2], dtype=f32)` on aligned rows; with `op=` or
    /// `requires_grad` when the tensor is tracked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let summarise = self.numel() > SUMMARY_THRESHOLD;
        let printer = Printer {
            tensor: self,
            summarise,
        };
        let mut offsets = Vec::new();
        printer.shown_offsets(0, self.layout().offset(), &mut offsets);
        let data = self.strided().data;
        let values: Vec<T> = offsets.iter().map(|&o| data[o]).collect();
        let texts = texts(&values);
        let width = texts.iter().map(String::len).max().unwrap_or(0);
        f.write_str("tensor(")?;
        printer.write(f, 0, &mut texts.iter(), width)?;
        write!(f, ", shape={:?}, dtype={}", self.shape(), self.dtype())?;
        match self.graph_label() {
            (Some(op), _) => write!(f, ", op={op})"),
            (None, true) => f.write_str(", requires_grad)"),
            (None, false) => f.write_str(")"),
        }
    }
}

impl<T: Scalar> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn small_tensors_print_every_value_aligned() {
        let t = Tensor::<f32>::from_vec(vec![1.0, -2.5, 3.25, 4.0], &[2, 2]).unwrap();
        assert_eq!(
            t.to_string(),
            "tensor([[ 1.0000, -2.5000],\n        [ 3.2500,  4.0000]], shape=[2, 2], dtype=f32)"
        );
        let ints = Tensor::<f64>::from_vec(vec![1.0, 20.0], &[2]).unwrap();
        assert_eq!(ints.to_string(), "tensor([ 1., 20.], shape=[2], dtype=f64)");
        assert_eq!(
            Tensor::<f32>::scalar(0.5).require_grad().to_string(),
            "tensor(0.5000, shape=[], dtype=f32, requires_grad)"
        );
    }

    #[test]
    fn wide_ranges_use_scientific_notation() {
        let t = Tensor::<f64>::from_vec(vec![1e-7, 1.0, f64::NAN], &[3]).unwrap();
        assert_eq!(
            t.to_string(),
            "tensor([1.0000e-07, 1.0000e+00,        nan], shape=[3], dtype=f64)"
        );
    }

    #[test]
    fn large_tensors_are_summarised() {
        let t = Tensor::<f32>::arange(0.0, 2000.0, 1.0).reshape(&[2, 1000]);
        assert_eq!(
            t.to_string(),
            "tensor([[   0.,    1.,    2., ...,  997.,  998.,  999.],\n        \
             [1000., 1001., 1002., ..., 1997., 1998., 1999.]], shape=[2, 1000], dtype=f32)"
        );
        let cube = Tensor::<f32>::zeros(&[2, 1, 2]);
        assert_eq!(
            Tensor::<i64>::from_vec(vec![3, -12, 7, 0], &[2, 2])
                .unwrap()
                .to_string(),
            "tensor([[  3, -12],\n        [  7,   0]], shape=[2, 2], dtype=i64)"
        );
        assert_eq!(
            cube.to_string(),
            "tensor([[[0., 0.]],\n\n        [[0., 0.]]], shape=[2, 1, 2], dtype=f32)"
        );
    }
}
