//! Elementwise functions of one tensor.

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::kernels::{elementwise, gelu, math};
use crate::layout::Layout;
use crate::mode::is_grad_enabled;
use crate::ops::Op;
use crate::tensor::Tensor;

impl<T: Element> Tensor<T> {
    /// `f` applied to every element, recorded as `op`.
    fn try_unary(
        &self,
        name: &'static str,
        f: impl Fn(T) -> T + Sync + Send,
        op: impl FnOnce(Tensor<T>) -> Op<T>,
    ) -> Result<Tensor<T>> {
        let data = elementwise::map(name, self.strided(), f)?;
        Tensor::from_op(data, self.shape(), op(self.clone()))
    }
}

/// Defines a unary op `name` with its fallible twin `try_name`. The only failure of these is
/// running out of memory for the result.
macro_rules! unary_ops {
    ($(
        $(#[$doc:meta])*
        fn $name:ident / $try_name:ident = $variant:ident, $f:expr;
    )*) => {
        impl<T: Element> Tensor<T> {$(
            $(#[$doc])*
            ///
            /// # Panics
            /// When the result cannot be allocated.
            #[track_caller]
            pub fn $name(&self) -> Tensor<T> {
                self.$try_name().unwrap_or_else(|e| panic!("{e}"))
            }

            #[doc = concat!("Fallible form of [`", stringify!($name), "`](Tensor::", stringify!($name), ").")]
            ///
            /// # Errors
            /// When the result cannot be allocated.
            pub fn $try_name(&self) -> Result<Tensor<T>> {
                self.try_unary(stringify!($name), $f, Op::$variant)
            }
        )*}
    };
}

unary_ops! {
    /// `-x`. Derivative: `-1`.
    fn neg / try_neg = Neg, |x: T| -x;
    /// `e^x`. Derivative: `e^x`, reused from the result.
    fn exp / try_exp = Exp, |x: T| x.exp();
    /// The natural logarithm (`-inf` at 0, NaN below). Derivative: `1 / x`.
    fn ln / try_ln = Ln, |x: T| x.ln();
    /// The square root (NaN below 0). Derivative: `1 / (2 sqrt(x))`, from the result.
    fn sqrt / try_sqrt = Sqrt, |x: T| x.sqrt();
    /// `|x|`. Derivative: `sign(x)`, taken as 0 at 0.
    fn abs / try_abs = Abs, |x: T| x.abs();
    /// The hyperbolic tangent. Derivative: `1 - tanh(x)²`, from the result.
    fn tanh / try_tanh = Tanh, |x: T| x.tanh();
    /// `max(x, 0)`, NaN kept. Derivative: 1 where `x > 0`, else 0.
    fn relu / try_relu = Relu, |x: T| if x <= T::zero() { T::zero() } else { x };
    /// `ln(1 + x)`, exact for small `x` where `(1 + x).ln()` loses digits (`-inf` at -1, NaN
    /// below). Derivative: `1 / (1 + x)`.
    fn log1p / try_log1p = Log1p, |x: T| x.ln_1p();
    /// GELU's tanh approximation, `x (1 + tanh(√(2/π) (x + 0.044715 x³))) / 2`, as PyTorch's
    /// `gelu(approximate="tanh")`. One pass, and so is its derivative.
    fn gelu_tanh / try_gelu_tanh = GeluTanh, gelu::tanh;
}

impl<T: Element> Tensor<T> {
    /// GELU, `x Φ(x)` with `Φ` the standard normal distribution function, as PyTorch's
    /// `gelu`: `x (1 + erf(x/√2)) / 2`. One pass; when recorded, `Φ(x)` is kept for the
    /// derivative `Φ(x) + x φ(x)`, which is one pass too (and goes through tensor ops when its
    /// own derivative is needed).
    ///
    /// # Panics
    /// When the result cannot be allocated.
    #[track_caller]
    pub fn gelu(&self) -> Tensor<T> {
        self.try_gelu().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`gelu`](Tensor::gelu).
    ///
    /// # Errors
    /// When the result cannot be allocated.
    pub fn try_gelu(&self) -> Result<Tensor<T>> {
        let name = "gelu";
        let src = self.strided().contiguous(name)?;
        if !(is_grad_enabled() && self.is_tracked()) {
            // SAFETY: the GELU kernels write every slot of their output.
            #[allow(unsafe_code)]
            let data = unsafe { elementwise::map_slices(name, &src, &math::gelu_fn::<T>())? };
            return Tensor::result(data, self.shape(), name, None);
        }
        // SAFETY: as above.
        #[allow(unsafe_code)]
        let cdf = unsafe { elementwise::map_slices(name, &src, &math::gelu_cdf_fn::<T>())? };
        drop(src);
        let cdf = Tensor::constant(cdf, Layout::contiguous(self.shape()));
        let data = elementwise::zip_map(name, self.strided(), cdf.strided(), |x, c| x * c)?;
        let op = Op::Gelu {
            arg: self.clone(),
            cdf,
        };
        Tensor::from_op(data, self.shape(), op)
    }

    /// The error function `erf(x) = 2/√π ∫₀ˣ e^(-t²) dt`, in (-1, 1) (see
    /// [`Element::erf`]). Derivative: `2/√π e^(-x²)`.
    ///
    /// # Panics
    /// When the result cannot be allocated.
    #[track_caller]
    pub fn erf(&self) -> Tensor<T> {
        self.try_erf().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`erf`](Tensor::erf).
    ///
    /// # Errors
    /// When the result cannot be allocated.
    pub fn try_erf(&self) -> Result<Tensor<T>> {
        let src = self.strided().contiguous("erf")?;
        // SAFETY: the erf kernels write every slot of their output.
        #[allow(unsafe_code)]
        let data = unsafe { elementwise::map_slices("erf", &src, &math::erf_fn::<T>())? };
        Tensor::from_op(data, self.shape(), Op::Erf(self.clone()))
    }

    /// `x^p` for a constant exponent. Derivative: `p x^(p - 1)`.
    ///
    /// # Panics
    /// When the result cannot be allocated.
    #[track_caller]
    pub fn powf(&self, p: T) -> Tensor<T> {
        self.try_powf(p).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`powf`](Tensor::powf).
    ///
    /// # Errors
    /// When the result cannot be allocated.
    pub fn try_powf(&self, p: T) -> Result<Tensor<T>> {
        let two = T::one() + T::one();
        if p == two {
            // x * x is the correctly rounded square, like powf, and far cheaper.
            return self.try_unary("powf", |x| x * x, |arg| Op::Powf(arg, p));
        }
        self.try_unary("powf", |x| x.powf(p), |arg| Op::Powf(arg, p))
    }

    /// `x²`, the same as `powf(2)`.
    ///
    /// # Panics
    /// When the result cannot be allocated.
    #[track_caller]
    pub fn square(&self) -> Tensor<T> {
        self.try_square().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`square`](Tensor::square).
    ///
    /// # Errors
    /// When the result cannot be allocated.
    pub fn try_square(&self) -> Result<Tensor<T>> {
        self.try_powf(T::one() + T::one())
    }

    /// Each element limited to `[min, max]`; NaN stays NaN. Derivative: 1 inside the range
    /// (bounds included), 0 outside.
    ///
    /// # Panics
    /// As [`try_clamp`](Tensor::try_clamp) fails.
    #[track_caller]
    pub fn clamp(&self, min: T, max: T) -> Tensor<T> {
        self.try_clamp(min, max).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`clamp`](Tensor::clamp).
    ///
    /// # Errors
    /// When `min > max` or either bound is NaN, or the result cannot be allocated.
    pub fn try_clamp(&self, min: T, max: T) -> Result<Tensor<T>> {
        if min.is_nan() || max.is_nan() || min > max {
            return Err(TensorError::invalid(
                "clamp",
                format!("needs min <= max, got min {min} and max {max}"),
            ));
        }
        let f = |x: T| {
            if x < min {
                min
            } else if x > max {
                max
            } else {
                x
            }
        };
        self.try_unary("clamp", f, |arg| Op::Clamp { arg, min, max })
    }

    /// The logistic function `1 / (1 + e^-x)`, in (0, 1). Derivative: `s (1 - s)` from the
    /// result `s`. Both tails are exact: `e^-x` overflows to infinity only where the result
    /// rounds to 0 anyway. For `f32` the exponential is a vectorised polynomial within 2 ulp
    /// (the sigmoid within 3 ulp of the exact value); for `f64` it is the C library's.
    ///
    /// # Panics
    /// When the result cannot be allocated.
    #[track_caller]
    pub fn sigmoid(&self) -> Tensor<T> {
        self.try_sigmoid().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`sigmoid`](Tensor::sigmoid).
    ///
    /// # Errors
    /// When the result cannot be allocated.
    pub fn try_sigmoid(&self) -> Result<Tensor<T>> {
        let src = self.strided().contiguous("sigmoid")?;
        // SAFETY: the sigmoid kernels write every slot of their output.
        #[allow(unsafe_code)]
        let data = unsafe { elementwise::map_slices("sigmoid", &src, &math::sigmoid_fn::<T>())? };
        Tensor::from_op(data, self.shape(), Op::Sigmoid(self.clone()))
    }

    /// -1, 0 or 1 by the sign of each element (0 for ±0, NaN for NaN). Not differentiable:
    /// the result is never tracked.
    ///
    /// # Panics
    /// When the result cannot be allocated.
    #[track_caller]
    pub fn sign(&self) -> Tensor<T> {
        self.try_sign().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`sign`](Tensor::sign).
    ///
    /// # Errors
    /// When the result cannot be allocated.
    pub fn try_sign(&self) -> Result<Tensor<T>> {
        let sign = |x: T| {
            if x > T::zero() {
                T::one()
            } else if x < T::zero() {
                -T::one()
            } else {
                x // ±0 and NaN
            }
        };
        let data = elementwise::map("sign", self.strided(), sign)?;
        Ok(Tensor::constant(data, Layout::contiguous(self.shape())))
    }

    /// `x + c` for a constant (the fallible form of `&x + c`). Derivative: 1.
    ///
    /// # Errors
    /// When the result cannot be allocated.
    pub fn try_add_scalar(&self, c: T) -> Result<Tensor<T>> {
        self.try_unary("add", |x| x + c, |arg| Op::AddScalar(arg, c))
    }

    /// `x * c` for a constant (the fallible form of `&x * c`). Derivative: `c`.
    ///
    /// # Errors
    /// When the result cannot be allocated.
    pub fn try_mul_scalar(&self, c: T) -> Result<Tensor<T>> {
        self.try_unary("mul", |x| x * c, |arg| Op::MulScalar(arg, c))
    }

    /// `x / c` for a constant (not `x * (1 / c)`, which can differ in the last bit; the
    /// fallible form of `&x / c`). Derivative: `1 / c`.
    ///
    /// # Errors
    /// When the result cannot be allocated.
    pub fn try_div_scalar(&self, c: T) -> Result<Tensor<T>> {
        self.try_unary("div", |x| x / c, |arg| Op::DivScalar(arg, c))
    }
}
