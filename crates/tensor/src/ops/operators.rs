//! `+ - * /` and unary `-` on owned and borrowed tensors, and with a scalar on either side.
//! They panic with the `try_` form's message, at the caller's line.

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::element::Element;
use crate::error::Result;
use crate::tensor::Tensor;

#[track_caller]
fn unwrap<T: Element>(result: Result<Tensor<T>>) -> Tensor<T> {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// Tensor-tensor operators for every owned/borrowed combination.
macro_rules! tensor_tensor {
    ($($trait:ident, $method:ident, $try:ident;)*) => {$(
        impl<T: Element> $trait<&Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                unwrap(self.$try(rhs))
            }
        }
        impl<T: Element> $trait<Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: Tensor<T>) -> Tensor<T> {
                unwrap(self.$try(&rhs))
            }
        }
        impl<T: Element> $trait<&Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                unwrap(self.$try(rhs))
            }
        }
        impl<T: Element> $trait<Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: Tensor<T>) -> Tensor<T> {
                unwrap(self.$try(&rhs))
            }
        }
    )*};
}

/// `+` on tensors, which owned operands let write in place: a matrix product that nothing
/// else holds takes a bias row into its own buffer (see `add_row_in_place`).
impl<T: Element> Add<&Tensor<T>> for &Tensor<T> {
    type Output = Tensor<T>;
    #[track_caller]
    fn add(self, rhs: &Tensor<T>) -> Tensor<T> {
        unwrap(self.try_add(rhs))
    }
}

impl<T: Element> Add<Tensor<T>> for &Tensor<T> {
    type Output = Tensor<T>;
    #[track_caller]
    fn add(self, rhs: Tensor<T>) -> Tensor<T> {
        // Addition commutes to the last bit, so `row + product` may be computed as
        // `product + row`.
        match rhs.add_row_in_place(self) {
            Ok(sum) => sum,
            Err(rhs) => unwrap(self.try_add(&rhs)),
        }
    }
}

impl<T: Element> Add<&Tensor<T>> for Tensor<T> {
    type Output = Tensor<T>;
    #[track_caller]
    fn add(self, rhs: &Tensor<T>) -> Tensor<T> {
        match self.add_row_in_place(rhs) {
            Ok(sum) => sum,
            Err(lhs) => unwrap(lhs.try_add(rhs)),
        }
    }
}

impl<T: Element> Add<Tensor<T>> for Tensor<T> {
    type Output = Tensor<T>;
    #[track_caller]
    fn add(self, rhs: Tensor<T>) -> Tensor<T> {
        let lhs = match self.add_row_in_place(&rhs) {
            Ok(sum) => return sum,
            Err(lhs) => lhs,
        };
        match rhs.add_row_in_place(&lhs) {
            Ok(sum) => sum,
            Err(rhs) => unwrap(lhs.try_add(&rhs)),
        }
    }
}

tensor_tensor! {
    Sub, sub, try_sub;
    Mul, mul, try_mul;
    Div, div, try_div;
}

/// `tensor op scalar`: one recorded op, exact to the last bit (`x - c` is `x + (-c)` in IEEE
/// arithmetic, and division stays a division).
macro_rules! tensor_scalar {
    ($($trait:ident, $method:ident, |$x:ident, $c:ident| $body:expr;)*) => {$(
        impl<T: Element> $trait<T> for &Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, $c: T) -> Tensor<T> {
                let $x = self;
                unwrap($body)
            }
        }
        impl<T: Element> $trait<T> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, $c: T) -> Tensor<T> {
                let $x = &self;
                unwrap($body)
            }
        }
    )*};
}

tensor_scalar! {
    Add, add, |x, c| x.try_add_scalar(c);
    Sub, sub, |x, c| x.try_add_scalar(-c);
    Mul, mul, |x, c| x.try_mul_scalar(c);
    Div, div, |x, c| x.try_div_scalar(c);
}

/// `scalar op tensor` for `f32` and `f64` (a blanket impl over `T` is not allowed for foreign
/// left-hand types).
macro_rules! scalar_tensor {
    ($($t:ty),*) => {$(
        impl Add<&Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            #[track_caller]
            fn add(self, rhs: &Tensor<$t>) -> Tensor<$t> {
                unwrap(rhs.try_add_scalar(self))
            }
        }
        impl Add<Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            #[track_caller]
            fn add(self, rhs: Tensor<$t>) -> Tensor<$t> {
                unwrap(rhs.try_add_scalar(self))
            }
        }
        impl Sub<&Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            /// `c - x` as `(-x) + c`, which IEEE arithmetic makes identical.
            #[track_caller]
            fn sub(self, rhs: &Tensor<$t>) -> Tensor<$t> {
                unwrap(rhs.try_neg().and_then(|n| n.try_add_scalar(self)))
            }
        }
        impl Sub<Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            #[track_caller]
            fn sub(self, rhs: Tensor<$t>) -> Tensor<$t> {
                self - &rhs
            }
        }
        impl Mul<&Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            #[track_caller]
            fn mul(self, rhs: &Tensor<$t>) -> Tensor<$t> {
                unwrap(rhs.try_mul_scalar(self))
            }
        }
        impl Mul<Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            #[track_caller]
            fn mul(self, rhs: Tensor<$t>) -> Tensor<$t> {
                unwrap(rhs.try_mul_scalar(self))
            }
        }
        impl Div<&Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            #[track_caller]
            fn div(self, rhs: &Tensor<$t>) -> Tensor<$t> {
                unwrap(Tensor::scalar(self).try_div(rhs))
            }
        }
        impl Div<Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            #[track_caller]
            fn div(self, rhs: Tensor<$t>) -> Tensor<$t> {
                self / &rhs
            }
        }
    )*};
}

scalar_tensor!(f32, f64);

impl<T: Element> Neg for &Tensor<T> {
    type Output = Tensor<T>;
    #[track_caller]
    fn neg(self) -> Tensor<T> {
        unwrap(self.try_neg())
    }
}

impl<T: Element> Neg for Tensor<T> {
    type Output = Tensor<T>;
    #[track_caller]
    fn neg(self) -> Tensor<T> {
        unwrap(self.try_neg())
    }
}
