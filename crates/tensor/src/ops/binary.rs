//! Elementwise functions of two tensors, with NumPy broadcasting; comparisons and selection.

use crate::element::{Element, Scalar};
use crate::error::Result;
use crate::kernels::elementwise;
use crate::layout::Layout;
use crate::ops::Op;
use crate::shape::broadcast_shapes;
use crate::tensor::Tensor;

impl<T: Element> Tensor<T> {
    /// `f` applied to matching elements after broadcasting both operands to one shape. The
    /// broadcasts are recorded first, so `op` always sees operands of the result's shape.
    fn try_binary(
        &self,
        rhs: &Tensor<T>,
        name: &'static str,
        f: impl Fn(T, T) -> T + Sync + Send,
        op: impl FnOnce(Tensor<T>, Tensor<T>) -> Op<T>,
    ) -> Result<Tensor<T>> {
        let shape = broadcast_shapes(name, self.shape(), rhs.shape())?;
        let lhs = self.try_expand(name, &shape)?;
        let rhs = rhs.try_expand(name, &shape)?;
        let data = elementwise::zip_map(name, lhs.strided(), rhs.strided(), f)?;
        Tensor::from_op(data, &shape, op(lhs, rhs))
    }
}

impl<T: Scalar> Tensor<T> {
    /// A 0/1 mask of `pred` on matching elements after broadcasting.
    fn try_compare(
        &self,
        rhs: &Tensor<T>,
        name: &'static str,
        pred: impl Fn(T, T) -> bool + Sync + Send,
    ) -> Result<Tensor<i64>> {
        let shape = broadcast_shapes(name, self.shape(), rhs.shape())?;
        let lhs = self.layout().broadcast_to(name, &shape)?;
        let rhs_layout = rhs.layout().broadcast_to(name, &shape)?;
        let (lhs_view, rhs_view) = (
            self.strided().with_layout(&lhs),
            rhs.strided().with_layout(&rhs_layout),
        );
        let to_mask = |a, b| i64::from(pred(a, b));
        let data = elementwise::zip_map(name, lhs_view, rhs_view, to_mask)?;
        Ok(Tensor::constant(data, Layout::contiguous(&shape)))
    }
}

impl Tensor<i64> {
    /// 1 where both masks are non-zero, 0 elsewhere, broadcasting.
    pub(crate) fn try_and(&self, rhs: &Tensor<i64>) -> Result<Tensor<i64>> {
        self.try_compare(rhs, "and", |a, b| a != 0 && b != 0)
    }

    /// Elements of `on_true` where this mask is non-zero, else of `on_false`; the three
    /// broadcast together. Differentiable in `on_true` and `on_false` (the gradient goes to
    /// the selected side); the mask is a constant. Comparisons make such masks.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![-1.0, 2.0, -3.0], &[3])?;
    /// let relu = x.gt(&Tensor::scalar(0.0)).where_cond(&x, &Tensor::scalar(0.0));
    /// assert_eq!(relu.to_vec(), vec![0.0, 2.0, 0.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    ///
    /// # Panics
    /// As [`try_where_cond`](Tensor::try_where_cond) fails.
    #[track_caller]
    pub fn where_cond<T: Element>(&self, on_true: &Tensor<T>, on_false: &Tensor<T>) -> Tensor<T> {
        self.try_where_cond(on_true, on_false)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`where_cond`](Tensor::where_cond).
    ///
    /// # Errors
    /// When the three shapes do not broadcast together, or the result cannot be allocated.
    pub fn try_where_cond<T: Element>(
        &self,
        on_true: &Tensor<T>,
        on_false: &Tensor<T>,
    ) -> Result<Tensor<T>> {
        let name = "where_cond";
        let values = broadcast_shapes(name, on_true.shape(), on_false.shape())?;
        let shape = broadcast_shapes(name, self.shape(), &values)?;
        let cond = self.try_expand(name, &shape)?;
        let on_true = on_true.try_expand(name, &shape)?;
        let on_false = on_false.try_expand(name, &shape)?;
        let pick = |c: i64, t: T, f: T| if c != 0 { t } else { f };
        let data = elementwise::zip3_map(
            name,
            cond.strided(),
            on_true.strided(),
            on_false.strided(),
            pick,
        )?;
        let op = Op::Where {
            cond,
            on_true,
            on_false,
        };
        Tensor::from_op(data, &shape, op)
    }
}

impl<T: Element> Tensor<T> {
    /// This tensor with `value` where `mask` is non-zero; `mask` broadcasts to this shape.
    /// Derivative: 1 where the mask is zero, 0 where it is filled.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let scores = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0], &[3])?;
    /// let hide = Tensor::from_vec(vec![0, 1, 0], &[3])?;
    /// assert_eq!(scores.masked_fill(&hide, -1.0).to_vec(), vec![1.0, -1.0, 3.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    ///
    /// # Panics
    /// As [`try_masked_fill`](Tensor::try_masked_fill) fails.
    #[track_caller]
    pub fn masked_fill(&self, mask: &Tensor<i64>, value: T) -> Tensor<T> {
        self.try_masked_fill(mask, value)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`masked_fill`](Tensor::masked_fill).
    ///
    /// # Errors
    /// When `mask` does not broadcast to this tensor's shape, or the result cannot be
    /// allocated.
    pub fn try_masked_fill(&self, mask: &Tensor<i64>, value: T) -> Result<Tensor<T>> {
        let name = "masked_fill";
        let mask = mask.try_expand(name, self.shape())?;
        mask.try_where_cond(&Tensor::scalar(value), self)
    }
}

/// Defines a broadcasting binary op `name` with its fallible twin `try_name`.
macro_rules! binary_ops {
    ($(
        $(#[$doc:meta])*
        fn $name:ident / $try_name:ident = $variant:ident, $f:expr;
    )*) => {
        impl<T: Element> Tensor<T> {$(
            $(#[$doc])*
            ///
            /// # Panics
            #[doc = concat!("As [`", stringify!($try_name), "`](Tensor::", stringify!($try_name), ") fails.")]
            #[track_caller]
            pub fn $name(&self, rhs: &Tensor<T>) -> Tensor<T> {
                self.$try_name(rhs).unwrap_or_else(|e| panic!("{e}"))
            }

            #[doc = concat!("Fallible form of [`", stringify!($name), "`](Tensor::", stringify!($name), ").")]
            ///
            /// # Errors
            /// When the shapes do not broadcast, or the result cannot be allocated.
            pub fn $try_name(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
                self.try_binary(rhs, stringify!($name), $f, Op::$variant)
            }
        )*}
    };
}

binary_ops! {
    /// `a + b`, broadcasting. Derivatives: 1 and 1.
    fn add / try_add = Add, |a: T, b: T| a + b;
    /// `a - b`, broadcasting. Derivatives: 1 and -1.
    fn sub / try_sub = Sub, |a: T, b: T| a - b;
    /// `a * b`, broadcasting. Derivatives: `b` and `a`.
    fn mul / try_mul = Mul, |a: T, b: T| a * b;
    /// `a / b`, broadcasting. Derivatives: `1 / b` and `-a / b²`.
    fn div / try_div = Div, |a: T, b: T| a / b;
    /// `a^b`, broadcasting. Derivatives: `b a^(b - 1)` and `a^b ln(a)` (taken as 0 where
    /// `a = 0`, as PyTorch does).
    fn pow / try_pow = Pow, |a: T, b: T| a.powf(b);
    /// The larger of `a` and `b` (NaN if either is NaN). Derivatives: 1 to the larger, 0 to
    /// the smaller, ½ to each on a tie.
    fn maximum / try_maximum = Maximum, |a: T, b: T| {
        if a.is_nan() || b.is_nan() { T::nan() } else if a >= b { a } else { b }
    };
    /// The smaller of `a` and `b` (NaN if either is NaN). Derivatives as for
    /// [`maximum`](Tensor::maximum).
    fn minimum / try_minimum = Minimum, |a: T, b: T| {
        if a.is_nan() || b.is_nan() { T::nan() } else if a <= b { a } else { b }
    };
}

/// Defines a comparison `name` (a 0/1 integer mask) with its fallible twin.
macro_rules! comparisons {
    ($( $(#[$doc:meta])* fn $name:ident / $try_name:ident = $pred:expr; )*) => {
        impl<T: Scalar> Tensor<T> {$(
            $(#[$doc])*
            /// The result holds 1 where the comparison holds and 0 elsewhere (IEEE rules: any
            /// comparison with NaN is false except `ne`). Not differentiable.
            ///
            /// # Panics
            /// When the shapes do not broadcast, or the result cannot be allocated.
            #[track_caller]
            pub fn $name(&self, rhs: &Tensor<T>) -> Tensor<i64> {
                self.$try_name(rhs).unwrap_or_else(|e| panic!("{e}"))
            }

            #[doc = concat!("Fallible form of [`", stringify!($name), "`](Tensor::", stringify!($name), ").")]
            ///
            /// # Errors
            /// When the shapes do not broadcast, or the result cannot be allocated.
            pub fn $try_name(&self, rhs: &Tensor<T>) -> Result<Tensor<i64>> {
                self.try_compare(rhs, stringify!($name), $pred)
            }
        )*}
    };
}

comparisons! {
    /// `a == b`, elementwise, broadcasting.
    fn eq / try_eq = |a: T, b: T| a == b;
    /// `a != b`, elementwise, broadcasting.
    fn ne / try_ne = |a: T, b: T| a != b;
    /// `a < b`, elementwise, broadcasting.
    fn lt / try_lt = |a: T, b: T| a < b;
    /// `a <= b`, elementwise, broadcasting.
    fn le / try_le = |a: T, b: T| a <= b;
    /// `a > b`, elementwise, broadcasting.
    fn gt / try_gt = |a: T, b: T| a > b;
    /// `a >= b`, elementwise, broadcasting.
    fn ge / try_ge = |a: T, b: T| a >= b;
}
