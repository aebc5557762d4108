//! Element loops compiled for the CPU's wider vectors.
//!
//! The crate builds for the baseline x86-64 target (4-wide SSE2 vectors).
//! [`vectorised`] runs a loop inside a function compiled with AVX2, into
//! which the loop's closure is inlined, so the same loop uses 8-wide
//! vectors where the CPU has them (checked once per call, a cached flag).
//! AVX2 alone adds no fused multiply-add, so every element is computed by the
//! same IEEE operations and the results are the same bits either way.

/// Runs `f` compiled for AVX2 when the CPU supports it, else as is.
#[inline(always)]
pub(crate) fn vectorised<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { with_avx2(f) };
        }
    }
    f()
}

/// `f()` with AVX2 enabled for the code inlined into it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_gives_the_same_bits_with_and_without_wide_vectors() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) * 0.37).collect();
        let f = |x: &[f32]| -> Vec<f32> {
            x.iter()
                .map(|&v| crate::math::tanh(v) * v + crate::math::exp(-v * v) / (1.0 + v.abs()))
                .collect()
        };
        let narrow = f(&x);
        let wide = vectorised(|| f(&x));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&narrow), bits(&wide));
    }
}
