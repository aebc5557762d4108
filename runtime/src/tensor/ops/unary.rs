//! Element-wise functions and their adjoints.
//!
//! Each adjoint takes whichever of the input `x` or the output `y` its
//! derivative is cheaper in, so the forward pass saves one tensor and the
//! backward pass recomputes nothing:
//!
//! | op | derivative | adjoint takes |
//! |---|---|---|
//! | `-x` | `-1` | — |
//! | `exp x` | `y` | `y` |
//! | `ln x` | `1 / x` | `x` |
//! | `sqrt x` | `1 / (2y)` (`+∞` at 0) | `y` |
//! | `x²` | `2x` | `x` |
//! | `x^p` | `p x^(p-1)` (also at 0: 0, 1 or `+∞`) | `x` |
//! | `abs x` | `sign x` (0 at 0, NaN at NaN) | `x` |
//! | `sin x` | `cos x` | `x` |
//! | `cos x` | `-sin x` | `x` |
//! | `tanh x` | `1 - y²` | `y` |
//! | `sigmoid x` | `y (1 - y)` | `y` |
//! | `relu x` | `1` if `x > 0`, NaN if `x` is NaN, else `0` | `y` (or `x`: same sign pattern) |
//! | `leaky_relu(x, a)` | `1` if `x > 0`, NaN if `x` is NaN, else `a` | `x` |
//!
//! Every adjoint is one fused pass `dx[i] = g[i] · f'(...)` over contiguous
//! slices. At kinks and special values these follow the convention shared
//! with generated scalar code and the tapes (docs/ARCHITECTURE.md, "Kinks and
//! special values"): `relu(NaN)` is NaN, its adjoint `g · NaN`; `abs'(0) =
//! relu'(0) = 0`; `leaky_relu'(0) = a`. `exp`, `tanh` and `sigmoid` are
//! `adjoint_kernels::math`'s vectorisable versions (within 2 ulp in `f32`),
//! the same the compiler's fused loops call.

use adjoint_kernels::math;

use crate::tensor::base::expect_same_shape;
use crate::tensor::device::{self, region_source};
use crate::tensor::{Element, Tensor};

/// Defines an element-wise op: its forward function, its `Tensor` method
/// and its adjoint, which combines the saved tensor with the gradient; each
/// with its CUDA C (over `x0`, and `x0` saved, `x1` the gradient), which
/// runs where the tensors live on a CUDA device.
macro_rules! unary_op {
    (
        $name:ident: $doc:literal, |$x:ident| $forward:expr, cuda $cuda:literal;
        $backward:ident($saved:ident): $bdoc:literal, |$s:ident, $g:ident| $adjoint:expr,
        cuda $cuda_adjoint:literal
    ) => {
        #[doc = $doc]
        pub fn $name<T: Element>(x: &Tensor<T>) -> Tensor<T> {
            const CUDA: &str = region_source!([x0], $cuda, [d0 = "T(0)"]);
            device::region_forward(stringify!($name), CUDA, &[x], x.shape())
                .unwrap_or_else(|| x.map(|$x| $forward))
        }

        #[doc = $bdoc]
        #[track_caller]
        pub fn $backward<T: Element>($saved: &Tensor<T>, grad: &Tensor<T>) -> Tensor<T> {
            const CUDA: &str = region_source!([x0, x1], $cuda_adjoint, [d0 = "T(0)", d1 = "T(0)"]);
            expect_same_shape(stringify!($backward), $saved.shape(), grad.shape());
            device::region_forward(stringify!($backward), CUDA, &[$saved, grad], grad.shape())
                .unwrap_or_else(|| {
                    Tensor::zip_map(stringify!($backward), $saved, grad, |$s, $g| $adjoint)
                })
        }

        impl<T: Element> Tensor<T> {
            #[doc = $doc]
            pub fn $name(&self) -> Self {
                $name(self)
            }
        }

        /// The op's CUDA C: NVRTC compiles it (with the `cuda` feature,
        /// where `libnvrtc` is found), and run as host C it computes what
        /// the CPU kernels compute, kinks and NaN included.
        #[cfg(test)]
        mod $backward {
            use crate::tensor::device::region_source;
            use crate::tensor::device::tests::host_values;
            use crate::tensor::Tensor;

            const FORWARD: &str = region_source!([x0], $cuda, [d0 = "T(0)"]);
            const ADJOINT: &str =
                region_source!([x0, x1], $cuda_adjoint, [d0 = "T(0)", d1 = "T(0)"]);

            #[cfg(feature = "cuda")]
            #[test]
            fn cuda_sources_compile() {
                crate::tensor::device::tests::compiles(FORWARD, 1);
                crate::tensor::device::tests::compiles(ADJOINT, 2);
            }

            #[test]
            fn host_c_matches_the_cpu() {
                let points = [-1.5, -0.0, 0.0, 0.7, 2.0, f64::NAN];
                let x = Tensor::from_vec(points.to_vec(), &[points.len()]).expect("shape");
                let g = Tensor::from_vec(vec![0.3; points.len()], &[points.len()]).expect("shape");
                let rows: Vec<Vec<f64>> = points.iter().map(|p| vec![*p]).collect();
                if let Some(host) = host_values(FORWARD, &rows) {
                    crate::tensor::device::tests::same(
                        stringify!($name),
                        &host,
                        &super::$name(&x).to_vec(),
                    );
                }
                let rows: Vec<Vec<f64>> = points.iter().map(|p| vec![*p, 0.3]).collect();
                if let Some(host) = host_values(ADJOINT, &rows) {
                    crate::tensor::device::tests::same(
                        stringify!($backward),
                        &host,
                        &super::$backward(&x, &g).to_vec(),
                    );
                }
            }
        }
    };
}

unary_op! {
    exp: "`e^x` element-wise.", |x| math::exp(x), cuda "exp(x0)";
    exp_backward(y): "Adjoint of [`exp`] from its output `y`: `g · y`.", |y, g| g * y,
        cuda "x1 * x0"
}

unary_op! {
    ln: "The natural logarithm element-wise.", |x| x.ln(), cuda "log(x0)";
    ln_backward(x): "Adjoint of [`ln`] from its input `x`: `g / x`.", |x, g| g / x,
        cuda "x1 / x0"
}

unary_op! {
    sqrt: "The square root element-wise.", |x| x.sqrt(), cuda "sqrt(x0)";
    sqrt_backward(y): "Adjoint of [`sqrt`] from its output `y`: `g / (2y)`.", |y, g| g / (y + y),
        cuda "x1 / (x0 + x0)"
}

unary_op! {
    square: "`x²` element-wise.", |x| x * x, cuda "x0 * x0";
    square_backward(x): "Adjoint of [`square`] from its input `x`: `2 x g`.", |x, g| (x + x) * g,
        cuda "(x0 + x0) * x1"
}

unary_op! {
    abs: "`|x|` element-wise.", |x| x.abs(), cuda "fabs(x0)";
    abs_backward(x): "Adjoint of [`abs`] from its input `x`: `g · sign(x)`, 0 at `x = 0`, \
        NaN at `x = NaN`.",
        |x, g| if x > T::zero() { g } else if x < T::zero() { -g } else if x.is_nan() { g * x } else { T::zero() },
        cuda "(x0 > T(0) ? x1 : (x0 < T(0) ? -x1 : (x0 != x0 ? x1 * x0 : T(0))))"
}

unary_op! {
    sin: "The sine element-wise (radians).", |x| x.sin(), cuda "sin(x0)";
    sin_backward(x): "Adjoint of [`sin`] from its input `x`: `g cos x`.", |x, g| g * x.cos(),
        cuda "x1 * cos(x0)"
}

unary_op! {
    cos: "The cosine element-wise (radians).", |x| x.cos(), cuda "cos(x0)";
    cos_backward(x): "Adjoint of [`cos`] from its input `x`: `-g sin x`.", |x, g| -g * x.sin(),
        cuda "-x1 * sin(x0)"
}

unary_op! {
    tanh: "The hyperbolic tangent element-wise.", |x| math::tanh(x), cuda "tanh(x0)";
    tanh_backward(y): "Adjoint of [`tanh`] from its output `y`: `g (1 - y²)`.", |y, g| g * (T::one() - y * y),
        cuda "x1 * (T(1) - x0 * x0)"
}

unary_op! {
    sigmoid: "The logistic function `1 / (1 + e^-x)` element-wise, without overflow for large `|x|`.",
        |x| math::sigmoid(x), cuda "(x0 >= T(0) ? T(1) / (T(1) + exp(-x0)) : exp(x0) / (T(1) + exp(x0)))";
    sigmoid_backward(y): "Adjoint of [`sigmoid`] from its output `y`: `g y (1 - y)`.",
        |y, g| g * y * (T::one() - y),
        cuda "x1 * x0 * (T(1) - x0)"
}

unary_op! {
    relu: "The rectifier `max(x, 0)` element-wise; NaN stays NaN.", |x| relu_value(x), cuda "((x0 > T(0) || x0 != x0) ? x0 : T(0))";
    relu_backward(y): "Adjoint of [`relu`] from its output `y` (or its input, which has the same \
        sign pattern): `g` where positive, `g · NaN` where NaN, 0 elsewhere (also at 0).",
        |y, g| relu_adjoint(y, g),
        cuda "(x0 > T(0) ? x1 : (x0 != x0 ? x1 * x0 : T(0)))"
}

/// The CUDA C of `-x0`.
pub(crate) const NEG_CUDA: &str = region_source!([x0], "-x0", [d0 = "-g"]);

/// `-x` element-wise (also the unary `-` operator).
pub fn neg<T: Element>(x: &Tensor<T>) -> Tensor<T> {
    device::region_forward("neg", NEG_CUDA, &[x], x.shape()).unwrap_or_else(|| x.map(|v| -v))
}

/// Adjoint of [`neg`]: `-g`.
pub fn neg_backward<T: Element>(grad: &Tensor<T>) -> Tensor<T> {
    device::region_forward("neg_backward", NEG_CUDA, &[grad], grad.shape())
        .unwrap_or_else(|| grad.map(|g| -g))
}

/// The CUDA C of the ops with a scalar parameter `x1` (a 0-d operand):
/// `x0^x1` and its adjoint (`x2` the gradient), the leaky rectifier of slope
/// `x1` and its adjoint.
pub(crate) const POWF_CUDA: &str =
    region_source!([x0, x1], "pow(x0, x1)", [d0 = "T(0)", d1 = "T(0)"]);
pub(crate) const POWF_BACKWARD_CUDA: &str = region_source!(
    [x0, x1, x2],
    "x2 * x1 * pow(x0, x1 - T(1))",
    [d0 = "T(0)", d1 = "T(0)", d2 = "T(0)"]
);
pub(crate) const LEAKY_RELU_CUDA: &str = region_source!(
    [x0, x1],
    "(x0 > T(0) ? x0 : x1 * x0)",
    [d0 = "T(0)", d1 = "T(0)"]
);
pub(crate) const LEAKY_RELU_BACKWARD_CUDA: &str = region_source!(
    [x0, x1, x2],
    "(x0 > T(0) ? x2 : (x0 != x0 ? x2 * x0 : x1 * x2))",
    [d0 = "T(0)", d1 = "T(0)", d2 = "T(0)"]
);

/// The CUDA C of the partials in the parameter: `∂(x0^p)/∂p` from the
/// input `x0` and output `x1`, and `∂ leaky_relu(x0, a)/∂a`.
pub(crate) const POWF_EXPONENT_CUDA: &str = region_source!(
    [x0, x1],
    "(x1 == T(0) ? T(0) : x1 * log(x0))",
    [d0 = "T(0)", d1 = "T(0)"]
);
pub(crate) const LEAKY_SLOPE_CUDA: &str =
    region_source!([x0], "(x0 > T(0) ? T(0) : x0)", [d0 = "T(0)"]);

/// `op` of `x` with the scalar parameter `p` (and `grad`, for an adjoint)
/// on their CUDA device, where they live on one.
fn with_parameter<T: Element>(
    op: &str,
    source: &str,
    x: &Tensor<T>,
    p: T,
    grad: Option<&Tensor<T>>,
) -> Option<Tensor<T>> {
    let p = device::scalar_like(x, p)?;
    let mut operands = vec![x, &p];
    operands.extend(grad);
    device::region_forward(op, source, &operands, x.shape())
}

/// `x^p` element-wise.
pub fn powf<T: Element>(x: &Tensor<T>, p: T) -> Tensor<T> {
    with_parameter("powf", POWF_CUDA, x, p, None).unwrap_or_else(|| x.map(|v| v.powf(p)))
}

/// Adjoint of [`powf`] from its input `x`: `g p x^(p-1)`.
#[track_caller]
pub fn powf_backward<T: Element>(x: &Tensor<T>, p: T, grad: &Tensor<T>) -> Tensor<T> {
    expect_same_shape("powf_backward", x.shape(), grad.shape());
    if let Some(dx) = with_parameter("powf_backward", POWF_BACKWARD_CUDA, x, p, Some(grad)) {
        return dx;
    }
    let q = p - T::one();
    Tensor::zip_map("powf_backward", x, grad, |v, g| g * p * v.powf(q))
}

/// The leaky rectifier element-wise: `x` where positive, `a x` elsewhere (NaN stays NaN).
pub fn leaky_relu<T: Element>(x: &Tensor<T>, a: T) -> Tensor<T> {
    with_parameter("leaky_relu", LEAKY_RELU_CUDA, x, a, None)
        .unwrap_or_else(|| x.map(|v| if v > T::zero() { v } else { a * v }))
}

/// Adjoint of [`leaky_relu`] from its input `x`: `g` where `x > 0`, `g · NaN` where `x` is
/// NaN, `a g` elsewhere (also at 0).
#[track_caller]
pub fn leaky_relu_backward<T: Element>(x: &Tensor<T>, a: T, grad: &Tensor<T>) -> Tensor<T> {
    expect_same_shape("leaky_relu_backward", x.shape(), grad.shape());
    let source = LEAKY_RELU_BACKWARD_CUDA;
    if let Some(dx) = with_parameter("leaky_relu_backward", source, x, a, Some(grad)) {
        return dx;
    }
    Tensor::zip_map("leaky_relu_backward", x, grad, |v, g| {
        if v > T::zero() {
            g
        } else if v.is_nan() {
            g * v
        } else {
            a * g
        }
    })
}

/// `∂(x^p)/∂p` element-wise, from the input `x` and the output `y = x^p`:
/// `y · ln x`, and 0 where `y = 0` (e.g. `x = 0` with `p > 0`, where `x^p` is
/// constant in `p`: the documented convention, the same test as generated
/// scalar code and the tape). The exponent's adjoint is `Σ g · ∂y/∂p`.
pub fn powf_exponent_partial<T: Element>(x: &Tensor<T>, y: &Tensor<T>) -> Tensor<T> {
    expect_same_shape("powf", x.shape(), y.shape());
    if let Some(d) = device::region_forward("powf", POWF_EXPONENT_CUDA, &[x, y], x.shape()) {
        return d;
    }
    Tensor::zip_map("powf", x, y, |v, out| {
        if out == T::zero() {
            T::zero()
        } else {
            out * v.ln()
        }
    })
}

/// `∂ leaky_relu(x, a)/∂a` element-wise: `x` where the slope applies
/// (`x ≤ 0`, and NaN, which propagates), 0 elsewhere. The slope's adjoint is
/// `Σ g · ∂y/∂a`.
pub fn leaky_relu_slope_partial<T: Element>(x: &Tensor<T>) -> Tensor<T> {
    device::region_forward("leaky_relu", LEAKY_SLOPE_CUDA, &[x], x.shape())
        .unwrap_or_else(|| x.map(|v| if v > T::zero() { T::zero() } else { v }))
}

impl<T: Element> Tensor<T> {
    /// `self^p` element-wise.
    pub fn powf(&self, p: T) -> Self {
        powf(self, p)
    }

    /// The leaky rectifier with negative slope `a` element-wise.
    pub fn leaky_relu(&self, a: T) -> Self {
        leaky_relu(self, a)
    }
}

/// The rectifier of one value: `x` if positive or NaN, otherwise 0 (the
/// same as `scalar::ScalarExt::relu`; `x.max(0)` would hide a NaN).
#[inline]
pub(crate) fn relu_value<T: Element>(x: T) -> T {
    if x > T::zero() || x.is_nan() {
        x
    } else {
        T::zero()
    }
}

/// The adjoint of the rectifier at one element, from its output (or input)
/// `y`: `g` where `y > 0`, `g · NaN` where `y` is NaN, 0 elsewhere.
#[inline]
pub(crate) fn relu_adjoint<T: Element>(y: T, g: T) -> T {
    if y > T::zero() {
        g
    } else if y.is_nan() {
        g * y
    } else {
        T::zero()
    }
}

#[cfg(test)]
mod parameter_tests {
    use crate::tensor::device::tests::{host_values, same};
    use crate::tensor::Tensor;

    /// The CUDA C of the ops with a scalar parameter, run as host C,
    /// computes what the CPU kernels compute.
    #[test]
    fn host_c_matches_the_cpu() {
        let points = [-1.5, -0.0, 0.0, 0.7, 2.0, f64::NAN];
        let x = Tensor::from(points.to_vec());
        let g = Tensor::from(vec![0.3; points.len()]);
        let with = |p: f64, g: Option<f64>| -> Vec<Vec<f64>> {
            points
                .iter()
                .map(|v| [Some(*v), Some(p), g].into_iter().flatten().collect())
                .collect()
        };
        let checks = [
            (
                "powf",
                super::POWF_CUDA,
                with(2.5, None),
                super::powf(&x, 2.5),
            ),
            (
                "powf_backward",
                super::POWF_BACKWARD_CUDA,
                with(2.5, Some(0.3)),
                super::powf_backward(&x, 2.5, &g),
            ),
            (
                "leaky_relu",
                super::LEAKY_RELU_CUDA,
                with(0.1, None),
                super::leaky_relu(&x, 0.1),
            ),
            (
                "leaky_relu_backward",
                super::LEAKY_RELU_BACKWARD_CUDA,
                with(0.1, Some(0.3)),
                super::leaky_relu_backward(&x, 0.1, &g),
            ),
        ];
        for (op, source, rows, cpu) in checks {
            if let Some(host) = host_values(source, &rows) {
                same(op, &host, &cpu.to_vec());
            }
        }
    }
}
