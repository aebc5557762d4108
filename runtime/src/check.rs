//! Finite-difference gradient checking for tests.
//!
//! [`check_gradient`] compares an analytic gradient (from generated adjoint code or the
//! [`tape`](crate::tape)) with central differences and reports the element that violates the
//! tolerance the most, which is usually enough to locate a wrong derivative rule.

use crate::tensor::Tensor;
use std::error::Error;
use std::fmt;

/// Central-difference approximation of the gradient of `f` at `x`, using the same `step`
/// (which should be positive) for every coordinate.
///
/// Each quotient divides by the actually representable distance `(x_i + h) - (x_i - h)`,
/// which removes one source of rounding error.
pub fn central_difference<G: Fn(&[f64]) -> f64>(f: G, x: &[f64], step: f64) -> Vec<f64> {
    difference_quotients(&f, x, |_| step)
}

/// Relative and absolute tolerances: an element passes when
/// `|a - n| <= atol + rtol * max(|a|, |n|)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Allowed error relative to the larger magnitude of the two values.
    pub rtol: f64,
    /// Allowed absolute error, which matters for elements near zero.
    pub atol: f64,
}

impl Default for Tolerance {
    /// `rtol = 1e-5`, `atol = 1e-7`: comfortably above central-difference error for smooth
    /// functions of moderate scale, far below the error of a wrong derivative rule.
    fn default() -> Self {
        Self {
            rtol: 1e-5,
            atol: 1e-7,
        }
    }
}

/// Why two gradients were judged different.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GradcheckError {
    /// The gradients (or the gradient and the point) have different lengths.
    LengthMismatch {
        /// The length of the analytic gradient.
        analytic: usize,
        /// The length of the numeric gradient (or of the point it is taken at).
        numeric: usize,
    },
    /// At least one element is out of tolerance; the fields describe the worst one, i.e. the
    /// one exceeding its allowed error by the largest factor (NaN counts as worst).
    Mismatch {
        /// Position of the worst element.
        index: usize,
        /// Its analytic value.
        analytic: f64,
        /// Its numeric value.
        numeric: f64,
        /// `|analytic - numeric|`.
        abs_err: f64,
        /// `abs_err / max(|analytic|, |numeric|)`.
        rel_err: f64,
        /// How many elements are out of tolerance in total.
        failures: usize,
        /// How many elements were compared.
        len: usize,
    },
}

impl fmt::Display for GradcheckError {
    /// A one-line description naming the worst element.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            GradcheckError::LengthMismatch { analytic, numeric } => write!(
                f,
                "gradient check failed: analytic gradient has {analytic} elements, numeric has {numeric}"
            ),
            GradcheckError::Mismatch {
                index,
                analytic,
                numeric,
                abs_err,
                rel_err,
                failures,
                len,
            } => write!(
                f,
                "gradient check failed: {failures} of {len} elements out of tolerance; worst at \
                 index {index}: analytic {analytic:.6e}, numeric {numeric:.6e} \
                 (abs err {abs_err:.3e}, rel err {rel_err:.3e})"
            ),
        }
    }
}

impl Error for GradcheckError {}

/// Compares two gradients element-wise under `tol`, reporting the worst offending element.
///
/// NaN in either gradient always fails.
pub fn compare_gradients(
    analytic: &[f64],
    numeric: &[f64],
    tol: Tolerance,
) -> Result<(), GradcheckError> {
    if analytic.len() != numeric.len() {
        return Err(GradcheckError::LengthMismatch {
            analytic: analytic.len(),
            numeric: numeric.len(),
        });
    }
    let mut failures = 0;
    let mut worst: Option<(f64, usize)> = None;
    for (i, (&a, &n)) in analytic.iter().zip(numeric).enumerate() {
        let abs_err = (a - n).abs();
        let allowed = tol.atol + tol.rtol * a.abs().max(n.abs());
        if abs_err <= allowed {
            continue;
        }
        failures += 1;
        let excess = abs_err / allowed;
        let excess = if excess.is_nan() {
            f64::INFINITY
        } else {
            excess
        };
        if worst.is_none_or(|(w, _)| excess > w) {
            worst = Some((excess, i));
        }
    }
    match worst {
        None => Ok(()),
        Some((_, index)) => {
            let (a, n) = (analytic[index], numeric[index]);
            let abs_err = (a - n).abs();
            let scale = a.abs().max(n.abs());
            Err(GradcheckError::Mismatch {
                index,
                analytic: a,
                numeric: n,
                abs_err,
                rel_err: if scale == 0.0 {
                    abs_err
                } else {
                    abs_err / scale
                },
                failures,
                len: analytic.len(),
            })
        }
    }
}

/// Checks `analytic` against central differences of `f` at `x`.
///
/// Coordinate `i` uses the step `ε^(1/3) · max(1, |x_i|)` (about `6e-6` near the origin),
/// which balances truncation and rounding error for central differences in `f64`.
pub fn check_gradient<G: Fn(&[f64]) -> f64>(
    f: G,
    analytic: &[f64],
    x: &[f64],
    tol: Tolerance,
) -> Result<(), GradcheckError> {
    if analytic.len() != x.len() {
        return Err(GradcheckError::LengthMismatch {
            analytic: analytic.len(),
            numeric: x.len(),
        });
    }
    let base = f64::EPSILON.cbrt();
    let numeric = difference_quotients(&f, x, |xi| base * xi.abs().max(1.0));
    compare_gradients(analytic, &numeric, tol)
}

/// A gradient check of a function of several tensors failed: which input,
/// and the worst element of its gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorGradcheckError {
    /// The position of the input whose gradient is wrong.
    pub input: usize,
    /// The input's shape.
    pub shape: Vec<usize>,
    /// What went wrong, with the worst element as a flat (row-major) index.
    pub error: GradcheckError,
}

impl std::fmt::Display for TensorGradcheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "input {} (shape {:?}): {}",
            self.input, self.shape, self.error
        )
    }
}

impl std::error::Error for TensorGradcheckError {}

/// Checks the gradients of a scalar function of several `f64` tensors
/// (`analytic[k]` is `∂f/∂inputs[k]`, from a tape, generated code or a
/// hand-written adjoint) against central finite differences, input by input.
///
/// ```
/// use adjoint_runtime::check::{gradcheck, Tolerance};
/// use adjoint_runtime::tensor::Tensor;
///
/// let x = Tensor::from_vec(vec![1.0, -2.0, 3.0], &[3]).unwrap();
/// let f = |t: &[Tensor<f64>]| t[0].square().sum();
/// let grad = &x * 2.0;
/// gradcheck(f, &[x], &[grad], Tolerance::default()).unwrap();
/// ```
pub fn gradcheck<G: Fn(&[Tensor<f64>]) -> f64>(
    f: G,
    inputs: &[Tensor<f64>],
    analytic: &[Tensor<f64>],
    tol: Tolerance,
) -> Result<(), TensorGradcheckError> {
    for (k, (input, grad)) in inputs.iter().zip(analytic).enumerate() {
        let wrap = |error| TensorGradcheckError {
            input: k,
            shape: input.shape().to_vec(),
            error,
        };
        if grad.shape() != input.shape() {
            return Err(wrap(GradcheckError::LengthMismatch {
                analytic: grad.len(),
                numeric: input.len(),
            }));
        }
        let partial = |x: &[f64]| {
            let mut args = inputs.to_vec();
            args[k] = Tensor::from_vec(x.to_vec(), input.shape()).expect("same shape as the input");
            f(&args)
        };
        check_gradient(partial, grad.data(), input.data(), tol).map_err(wrap)?;
    }
    Ok(())
}

/// Central differences of `f` at `x` with the step for each coordinate chosen by `step_at`
/// from that coordinate's value.
fn difference_quotients<G: Fn(&[f64]) -> f64>(
    f: &G,
    x: &[f64],
    step_at: impl Fn(f64) -> f64,
) -> Vec<f64> {
    let mut point = x.to_vec();
    let mut gradient = Vec::with_capacity(x.len());
    for (i, &xi) in x.iter().enumerate() {
        let h = step_at(xi);
        let (up, down) = (xi + h, xi - h);
        point[i] = up;
        let f_up = f(&point);
        point[i] = down;
        let f_down = f(&point);
        point[i] = xi;
        gradient.push((f_up - f_down) / (up - down));
    }
    gradient
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `f(x) = x0² x1 + sin(x2) + exp(x0 x2)`.
    fn f(x: &[f64]) -> f64 {
        x[0] * x[0] * x[1] + x[2].sin() + (x[0] * x[2]).exp()
    }

    /// The hand-derived gradient of [`f`].
    fn grad_f(x: &[f64]) -> Vec<f64> {
        let e = (x[0] * x[2]).exp();
        vec![
            2.0 * x[0] * x[1] + x[2] * e,
            x[0] * x[0],
            x[2].cos() + x[0] * e,
        ]
    }

    #[test]
    fn central_difference_matches_closed_form() {
        let x = [0.8, -1.3, 0.45];
        let numeric = central_difference(f, &x, 1e-5);
        for (n, a) in numeric.iter().zip(grad_f(&x)) {
            assert!((n - a).abs() < 1e-8, "numeric {n}, analytic {a}");
        }
    }

    #[test]
    fn central_difference_is_exact_for_quadratics_up_to_rounding() {
        let q = |x: &[f64]| 3.0 * x[0] * x[0] + 2.0 * x[0] * x[1] - x[1] * x[1];
        let numeric = central_difference(q, &[1.5, -2.0], 1e-3);
        assert!((numeric[0] - (6.0 * 1.5 + 2.0 * -2.0)).abs() < 1e-9);
        assert!((numeric[1] - (2.0 * 1.5 + 2.0 * 2.0)).abs() < 1e-9);
    }

    #[test]
    fn correct_gradients_pass() {
        let x = [0.8, -1.3, 0.45];
        assert_eq!(
            check_gradient(f, &grad_f(&x), &x, Tolerance::default()),
            Ok(())
        );

        let rosenbrock = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let p = [-1.2, 1.0];
        let g = [
            -2.0 * (1.0 - p[0]) - 400.0 * p[0] * (p[1] - p[0] * p[0]),
            200.0 * (p[1] - p[0] * p[0]),
        ];
        assert_eq!(
            check_gradient(rosenbrock, &g, &p, Tolerance::default()),
            Ok(())
        );
    }

    #[test]
    fn step_scales_with_large_coordinates() {
        let x = [3.0e4, -2.5e4];
        let g = [3.0 * x[0] * x[0] + x[1], x[0]];
        let cubic = |x: &[f64]| x[0] * x[0] * x[0] + x[0] * x[1];
        assert_eq!(check_gradient(cubic, &g, &x, Tolerance::default()), Ok(()));
        let mut wrong = g;
        wrong[1] += 1.0;
        assert!(check_gradient(cubic, &wrong, &x, Tolerance::default()).is_err());
    }

    #[test]
    fn wrong_gradient_is_rejected_at_the_worst_index() {
        let x = [0.8, -1.3, 0.45];
        let mut wrong = grad_f(&x);
        wrong[0] *= 1.001;
        wrong[2] = -wrong[2];
        let err = check_gradient(f, &wrong, &x, Tolerance::default());
        let Err(GradcheckError::Mismatch {
            index,
            analytic,
            numeric,
            abs_err,
            rel_err,
            failures,
            len,
        }) = err
        else {
            panic!("expected a mismatch, got {err:?}");
        };
        let true_g2 = grad_f(&x)[2];
        assert_eq!((index, failures, len), (2, 2, 3));
        assert_eq!(analytic, -true_g2);
        assert!((numeric - true_g2).abs() < 1e-8);
        assert!((abs_err - 2.0 * true_g2.abs()).abs() < 1e-8);
        assert!((rel_err - 2.0).abs() < 1e-8);
        let message = err.map_err(|e| e.to_string()).err().unwrap_or_default();
        assert!(message.contains("2 of 3 elements"), "{message}");
        assert!(message.contains("index 2"), "{message}");
    }

    #[test]
    fn tolerance_boundary_and_nan_handling() {
        let tol = Tolerance {
            rtol: 0.5,
            atol: 0.25,
        };
        // allowed = 0.25 + 0.5 * 2.0 = 1.25
        assert_eq!(compare_gradients(&[2.0], &[0.75], tol), Ok(()));
        assert!(compare_gradients(&[2.0], &[0.7], tol).is_err());

        let err = compare_gradients(
            &[1.0, f64::NAN, 50.0],
            &[1.0, 1.0, 1.0],
            Tolerance::default(),
        );
        assert!(matches!(
            err,
            Err(GradcheckError::Mismatch {
                index: 1,
                failures: 2,
                ..
            })
        ));
    }

    #[test]
    fn length_mismatch_is_an_error() {
        assert_eq!(
            compare_gradients(&[1.0, 2.0], &[1.0], Tolerance::default()),
            Err(GradcheckError::LengthMismatch {
                analytic: 2,
                numeric: 1
            })
        );
        assert_eq!(
            check_gradient(f, &[1.0], &[0.1, 0.2, 0.3], Tolerance::default()),
            Err(GradcheckError::LengthMismatch {
                analytic: 1,
                numeric: 3
            })
        );
    }

    #[test]
    fn default_tolerance_values() {
        assert_eq!(
            Tolerance::default(),
            Tolerance {
                rtol: 1e-5,
                atol: 1e-7
            }
        );
    }
}
