//! Elementary scalar functions usable inside `#[differentiable]` functions.
//!
//! Users may write either method calls (`x.sin()`) or the free-function forms defined here
//! (`sin(x)`); the macro recognises both. Every free function is generic over
//! [`Float`] and simply delegates to the corresponding `num-traits` method, so it compiles
//! to the same code as the method call.

pub use num_traits::Float;

/// Activation functions that `num_traits::Float` lacks but differentiable code commonly uses.
pub trait ScalarExt: Float {
    /// The logistic function `1 / (1 + e^-x)`, evaluated without overflow for large `|x|`.
    fn sigmoid(self) -> Self;
    /// The rectifier: `x` if `x > 0`, NaN if `x` is NaN, otherwise `0`.
    fn relu(self) -> Self;
}

/// Implements [`ScalarExt`] for a concrete float type.
macro_rules! impl_scalar_ext {
    ($($t:ty),*) => {$(
        impl ScalarExt for $t {
            #[inline]
            fn sigmoid(self) -> Self {
                adjoint_kernels::math::sigmoid(self)
            }

            #[inline]
            fn relu(self) -> Self {
                // `self.max(0.0)` would turn NaN into 0 and hide it.
                if self > 0.0 || self.is_nan() {
                    self
                } else {
                    0.0
                }
            }
        }
    )*};
}

impl_scalar_ext!(f32, f64);

/// Defines one-argument free functions delegating to the `Float` method of the same name.
macro_rules! unary_fns {
    ($($name:ident => $doc:literal),* $(,)?) => {$(
        #[doc = $doc]
        #[inline]
        pub fn $name<F: Float>(x: F) -> F {
            x.$name()
        }
    )*};
}

unary_fns! {
    sin => "Sine of `x` (radians); free-function form of `x.sin()`.",
    cos => "Cosine of `x` (radians); free-function form of `x.cos()`.",
    tan => "Tangent of `x` (radians); free-function form of `x.tan()`.",
    asin => "Arcsine of `x`; free-function form of `x.asin()`.",
    acos => "Arccosine of `x`; free-function form of `x.acos()`.",
    atan => "Arctangent of `x`; free-function form of `x.atan()`.",
    sinh => "Hyperbolic sine of `x`; free-function form of `x.sinh()`.",
    cosh => "Hyperbolic cosine of `x`; free-function form of `x.cosh()`.",
    tanh => "Hyperbolic tangent of `x`; free-function form of `x.tanh()`.",
    exp => "`e^x`; free-function form of `x.exp()`.",
    exp2 => "`2^x`; free-function form of `x.exp2()`.",
    ln => "Natural logarithm of `x`; free-function form of `x.ln()`.",
    log10 => "Base-10 logarithm of `x`; free-function form of `x.log10()`.",
    log2 => "Base-2 logarithm of `x`; free-function form of `x.log2()`.",
    sqrt => "Square root of `x`; free-function form of `x.sqrt()`.",
    cbrt => "Cube root of `x`; free-function form of `x.cbrt()`.",
    abs => "Absolute value of `x`; free-function form of `x.abs()`.",
    recip => "`1 / x`; free-function form of `x.recip()`.",
}

/// Four-quadrant arctangent of `y / x`; free-function form of `y.atan2(x)`.
#[inline]
pub fn atan2<F: Float>(y: F, x: F) -> F {
    y.atan2(x)
}

/// Logarithm of `x` in base `base`; free-function form of `x.log(base)`.
#[inline]
pub fn log<F: Float>(x: F, base: F) -> F {
    x.log(base)
}

/// `x` raised to the floating-point power `p`; free-function form of `x.powf(p)`.
#[inline]
pub fn powf<F: Float>(x: F, p: F) -> F {
    x.powf(p)
}

/// `sqrt(x² + y²)` without undue overflow; free-function form of `x.hypot(y)`.
#[inline]
pub fn hypot<F: Float>(x: F, y: F) -> F {
    x.hypot(y)
}

/// The larger of `a` and `b` (ignoring a NaN operand); free-function form of `a.max(b)`.
#[inline]
pub fn max<F: Float>(a: F, b: F) -> F {
    a.max(b)
}

/// The smaller of `a` and `b` (ignoring a NaN operand); free-function form of `a.min(b)`.
#[inline]
pub fn min<F: Float>(a: F, b: F) -> F {
    a.min(b)
}

/// `x` raised to the integer power `n`; free-function form of `x.powi(n)`.
#[inline]
pub fn powi<F: Float>(x: F, n: i32) -> F {
    x.powi(n)
}

/// Fused `a * b + c` with a single rounding; free-function form of `a.mul_add(b, c)`.
#[inline]
pub fn mul_add<F: Float>(a: F, b: F, c: F) -> F {
    a.mul_add(b, c)
}

/// The logistic function; free-function form of [`ScalarExt::sigmoid`].
#[inline]
pub fn sigmoid<F: ScalarExt>(x: F) -> F {
    x.sigmoid()
}

/// The rectifier `max(x, 0)` (NaN stays NaN); free-function form of [`ScalarExt::relu`].
#[inline]
pub fn relu<F: ScalarExt>(x: F) -> F {
    x.relu()
}

/// The tangent of a slice argument in generated forward-mode code: the
/// caller's tangent slice (`&[T]`, one entry per element), or `()` for a
/// slice that does not vary (every element's tangent is zero).
pub trait SliceTangent<T> {
    /// The tangent of element `i`.
    fn at(&self, i: usize) -> T;
}

impl<T: Copy> SliceTangent<T> for &[T] {
    #[inline(always)]
    fn at(&self, i: usize) -> T {
        self[i]
    }
}

impl<T: Default> SliceTangent<T> for () {
    #[inline(always)]
    fn at(&self, _: usize) -> T {
        T::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_tangents_index_or_are_zero() {
        let t: &[f64] = &[1.5, -2.0];
        assert_eq!(SliceTangent::<f64>::at(&t, 1), -2.0);
        assert_eq!(SliceTangent::<f32>::at(&(), 7), 0.0);
    }

    #[test]
    fn sigmoid_matches_closed_form_and_is_stable() {
        for &x in &[-3.0_f64, -0.5, 0.0, 0.25, 4.0] {
            let expected = 1.0 / (1.0 + (-x).exp());
            assert!((sigmoid(x) - expected).abs() < 1e-15, "x = {x}");
        }
        assert_eq!(sigmoid(0.0_f64), 0.5);
        assert_eq!(sigmoid(1000.0_f64), 1.0);
        assert_eq!(sigmoid(-1000.0_f64), 0.0);
        assert!(sigmoid(-800.0_f64).is_finite());
        assert!((sigmoid(-30.0_f64) - (-30.0_f64).exp() / (1.0 + (-30.0_f64).exp())).abs() < 1e-25);
        assert!((sigmoid(2.0_f32) - 0.880_797_1).abs() < 1e-6);
        assert!((sigmoid(-100.0_f32)).is_finite());
    }

    #[test]
    fn relu_is_zero_on_the_non_positive_half_line_and_keeps_nan() {
        assert_eq!(relu(2.5_f64), 2.5);
        assert_eq!(relu(-2.5_f64), 0.0);
        assert_eq!(relu(0.0_f64), 0.0);
        assert_eq!(relu(3.0_f32), 3.0);
        assert_eq!(relu(-3.0_f32), 0.0);
        assert!(relu(f64::NAN).is_nan());
        assert!(relu(f32::NAN).is_nan());
        assert_eq!(relu(f64::NEG_INFINITY), 0.0);
    }

    #[test]
    fn free_functions_agree_with_methods() {
        let x = 0.3_f64;
        let y = 1.7_f64;
        assert_eq!(sin(x), x.sin());
        assert_eq!(cos(x), x.cos());
        assert_eq!(tan(x), x.tan());
        assert_eq!(asin(x), x.asin());
        assert_eq!(acos(x), x.acos());
        assert_eq!(atan(x), x.atan());
        assert_eq!(sinh(x), x.sinh());
        assert_eq!(cosh(x), x.cosh());
        assert_eq!(tanh(x), x.tanh());
        assert_eq!(exp(x), x.exp());
        assert_eq!(exp2(x), x.exp2());
        assert_eq!(ln(y), y.ln());
        assert_eq!(log10(y), y.log10());
        assert_eq!(log2(y), y.log2());
        assert_eq!(sqrt(y), y.sqrt());
        assert_eq!(cbrt(-y), (-y).cbrt());
        assert_eq!(abs(-y), y);
        assert_eq!(recip(4.0_f64), 0.25);
        assert_eq!(atan2(y, -x), y.atan2(-x));
        assert_eq!(log(8.0_f64, 2.0), 8.0_f64.log(2.0));
        assert_eq!(powf(y, x), y.powf(x));
        assert_eq!(hypot(3.0_f64, 4.0), 5.0);
        assert_eq!(max(x, y), y);
        assert_eq!(min(x, y), x);
        assert_eq!(powi(y, 3), y.powi(3));
        assert_eq!(mul_add(2.0_f64, 3.0, 4.0), 10.0);
        assert_eq!(sqrt(9.0_f32), 3.0_f32);
    }
}
