//! `exp`, `tanh` and the logistic `sigmoid` as straight-line arithmetic, so
//! a loop calling them vectorises (a libm call per element does not).
//!
//! `f64` delegates to the standard library; `f32` evaluates Cephes'
//! polynomials (range reduction by `ln 2` for `exp`, an odd polynomial for
//! `|x| < 0.625` and `1 - 2 / (e^{2|x|} + 1)` above for `tanh`), within
//! 2 ulp of the correctly rounded result over the whole range (checked
//! against `f64` below). NaN propagates; `exp` overflows to `+∞` above
//! `88.72` and gives `0` below `-87.33` (where the result would be
//! subnormal). The runtime's element-wise kernels, the tape and the
//! compiler's fused loops all call these, so a value is the same whichever
//! computes it.

use crate::Float;

/// `e^x`.
#[inline]
pub fn exp<T: Float>(x: T) -> T {
    x.exp_kernel()
}

/// The hyperbolic tangent.
#[inline]
pub fn tanh<T: Float>(x: T) -> T {
    x.tanh_kernel()
}

/// The logistic function `1 / (1 + e^-x)`, without overflow for large `|x|`.
#[inline]
pub fn sigmoid<T: Float>(x: T) -> T {
    x.sigmoid_kernel()
}

/// Largest `x` whose `f32` exponential is finite.
const EXP_HI: f32 = 88.722_83;
/// Smallest `x` whose `f32` exponential is a normal number.
const EXP_LO: f32 = -87.336_55;

/// `e^x` for `f32` (Cephes `expf`): `x = n ln 2 + r`, `|r| ≤ ln 2 / 2`,
/// `e^r` by a degree-7 polynomial, scaled by `2^n` through the exponent bits.
#[inline]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so that `n · LN2_HI` is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 · 2^23 rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let clamped = x.clamp(EXP_LO, EXP_HI);
    let n = (clamped * LOG2E + ROUND) - ROUND;
    let r = clamped - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 5e-1;
    let er = p * r * r + r + 1.0;
    // 2^n as 2^h · 2^(n-h) with h = ⌊n/2⌋: both factors are normal numbers
    // for every n in -126..=128.
    let n = n as i32;
    let h = n >> 1;
    let power = |e: i32| f32::from_bits(((e + 127) as u32) << 23);
    let y = er * power(h) * power(n - h);
    if x > EXP_HI {
        f32::INFINITY
    } else if x < EXP_LO {
        0.0
    } else if x.is_nan() {
        x
    } else {
        y
    }
}

/// `tanh x` for `f32` (Cephes `tanhf`).
#[inline]
pub(crate) fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let p = -5.704_988_7e-3;
    let p = p * z + 2.063_909e-2;
    let p = p * z - 5.373_971_6e-2;
    let p = p * z + 1.333_144_2e-1;
    let p = p * z - 3.333_328e-1;
    // copysign keeps tanh(-0) = -0 (x + 0 would round it to +0).
    let small = (p * z * x + x).copysign(x);
    let large = (1.0 - 2.0 / (exp_f32(2.0 * a) + 1.0)).copysign(x);
    if a < 0.625 {
        small
    } else {
        large
    }
}

/// The logistic function for `f32`: `1 / (1 + e^-x)` is exact enough and
/// cannot overflow (`e^-x = ∞` gives 0, so results below the smallest
/// normal number, for `x < -88.7`, are 0).
#[inline]
pub(crate) fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-x))
}

/// The logistic function for `f64`, taking `e^x / (1 + e^x)` for negative
/// `x` so that `e^-x` never overflows into `∞ / ∞`.
#[inline]
pub(crate) fn sigmoid_f64(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between `got` and the `f64`
    /// reference rounded to `f32`.
    fn ulps(got: f32, want: f64) -> u32 {
        let want = want as f32;
        if got == want {
            return 0;
        }
        let key = |v: f32| {
            let b = v.to_bits() as i32;
            if b < 0 {
                i32::MIN - b
            } else {
                b
            }
        };
        key(got).abs_diff(key(want))
    }

    /// Every `step`-th `f32` between `lo` and `hi`.
    fn sweep(lo: f32, hi: f32, count: usize) -> impl Iterator<Item = f32> {
        (0..=count).map(move |i| lo + (hi - lo) * (i as f32 / count as f32))
    }

    #[test]
    fn exp_is_within_two_ulp_over_its_range() {
        let worst = sweep(EXP_LO, EXP_HI, 2_000_000)
            .chain(sweep(-1.0, 1.0, 200_000))
            .map(|x| ulps(exp(x), (x as f64).exp()))
            .max()
            .unwrap_or(0);
        assert!(worst <= 2, "exp: {worst} ulp");
    }

    #[test]
    fn tanh_is_within_two_ulp_near_zero_and_far_from_it() {
        let worst = sweep(-12.0, 12.0, 2_000_000)
            .chain(sweep(-0.7, 0.7, 200_000))
            .chain(sweep(-1e-3, 1e-3, 20_000))
            .map(|x| ulps(tanh(x), (x as f64).tanh()))
            .max()
            .unwrap_or(0);
        assert!(worst <= 2, "tanh: {worst} ulp");
    }

    #[test]
    fn sigmoid_is_within_two_ulp() {
        let worst = sweep(-80.0, 80.0, 2_000_000)
            .map(|x| ulps(sigmoid(x), 1.0 / (1.0 + (-(x as f64)).exp())))
            .max()
            .unwrap_or(0);
        assert!(worst <= 2, "sigmoid: {worst} ulp");
    }

    #[test]
    fn limits_signed_zero_and_nan() {
        assert_eq!(exp(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(100.0f32), f32::INFINITY);
        assert_eq!(exp(-100.0f32), 0.0);
        assert_eq!(exp(0.0f32), 1.0);
        assert_eq!(tanh(f32::INFINITY), 1.0);
        assert_eq!(tanh(f32::NEG_INFINITY), -1.0);
        assert_eq!(tanh(-0.0f32).to_bits(), (-0.0f32).to_bits());
        assert_eq!(sigmoid(f32::INFINITY), 1.0);
        assert_eq!(sigmoid(f32::NEG_INFINITY), 0.0);
        assert_eq!(sigmoid(0.0f32), 0.5);
        for nan in [f32::NAN, -f32::NAN] {
            assert!(exp(nan).is_nan() && tanh(nan).is_nan() && sigmoid(nan).is_nan());
        }
        assert!(exp(f64::NAN).is_nan() && tanh(f64::NAN).is_nan() && sigmoid(f64::NAN).is_nan());
        assert_eq!(sigmoid(-800.0f64), 0.0);
        assert_eq!(sigmoid(800.0f64), 1.0);
    }
}
