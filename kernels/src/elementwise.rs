//! Fused element-wise loops over contiguous slices: one pass, one closure,
//! no temporaries. The runtime fuses an expression (`relu(x + b)`, the
//! ReLU mask of a gradient, an SGD step) into one closure and calls these.
//!
//! The loops are iterator zips, so they carry no bounds checks and LLVM
//! vectorises them when the closure allows. Loops long and slow enough to
//! pay are split across threads; the private `drive` module decides by
//! timing a first probe of each loop (from ~25 µs of estimated work).

mod drive;

use crate::float::Float;
use drive::drive;

/// `x[i] = f(x[i])` for every element.
pub fn map_inplace<T, F>(x: &mut [T], f: F)
where
    T: Copy + Send,
    F: Fn(T) -> T + Sync,
{
    drive(x.len(), x, |x: &mut [T]| {
        x.iter_mut().for_each(|v| *v = f(*v))
    });
}

/// A chunk of an optimiser step: weights and gradient, two state buffers.
type StatefulChunk<'a, T> = ((&'a mut [T], &'a [T]), (&'a mut [T], &'a mut [T]));

/// `f(&mut w[i], g[i], &mut m[i], &mut v[i])` for every element: an
/// optimiser's step over a weight, its gradient and two state buffers (Adam's
/// moments), in place.
///
/// # Panics
/// If the lengths differ.
pub fn update_with_states<T, F>(w: &mut [T], g: &[T], m: &mut [T], v: &mut [T], f: F)
where
    T: Copy + Send + Sync,
    F: Fn(&mut T, T, &mut T, &mut T) + Sync,
{
    for len in [g.len(), m.len(), v.len()] {
        check_len("update_with_states", w.len(), len);
    }
    drive(
        w.len(),
        ((w, g), (m, v)),
        |((w, g), (m, v)): StatefulChunk<'_, T>| {
            for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                f(w, g, m, v);
            }
        },
    );
}

/// `out[i] = f(x[i])` for every element.
///
/// # Panics
/// If the lengths differ (callers check shapes and report them).
pub fn map<T, U, F>(x: &[T], out: &mut [U], f: F)
where
    T: Copy + Sync,
    U: Send,
    F: Fn(T) -> U + Sync,
{
    check_len("map", x.len(), out.len());
    drive(x.len(), (x, out), |(x, out): (&[T], &mut [U])| {
        out.iter_mut().zip(x).for_each(|(o, &v)| *o = f(v));
    });
}

/// `out[i] = f(a[i], b[i])` for every element.
///
/// # Panics
/// If the lengths differ.
pub fn zip_map<A, B, U, F>(a: &[A], b: &[B], out: &mut [U], f: F)
where
    A: Copy + Sync,
    B: Copy + Sync,
    U: Send,
    F: Fn(A, B) -> U + Sync,
{
    check_len("zip_map", a.len(), b.len());
    check_len("zip_map", a.len(), out.len());
    drive(
        a.len(),
        ((a, b), out),
        |((a, b), out): ((&[A], &[B]), &mut [U])| {
            out.iter_mut()
                .zip(a.iter().zip(b))
                .for_each(|(o, (&x, &y))| *o = f(x, y));
        },
    );
}

/// `x[i] = f(x[i], y[i])` for every element: an update in place, such as
/// accumulating a gradient or masking it.
///
/// # Panics
/// If the lengths differ.
pub fn zip_map_inplace<T, B, F>(x: &mut [T], y: &[B], f: F)
where
    T: Copy + Send,
    B: Copy + Sync,
    F: Fn(T, B) -> T + Sync,
{
    check_len("zip_map_inplace", x.len(), y.len());
    drive(x.len(), (x, y), |(x, y): (&mut [T], &[B])| {
        x.iter_mut().zip(y).for_each(|(v, &w)| *v = f(*v, w));
    });
}

/// `y += alpha·x` (BLAS axpy): an SGD step or a scaled gradient update.
///
/// # Panics
/// If the lengths differ.
pub fn axpy<T: Float>(alpha: T, x: &[T], y: &mut [T]) {
    check_len("axpy", x.len(), y.len());
    zip_map_inplace(y, x, |y, x| y + alpha * x);
}

/// Panics unless the operands have equal lengths.
fn check_len(what: &str, a: usize, b: usize) {
    assert_eq!(a, b, "{what}: operand lengths differ ({a} vs {b})");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lengths below and above the probe and split sizes, odd ones included.
    const LENS: [usize; 6] = [0, 1, 7, 1000, 1 << 13, (1 << 20) + 5];

    fn ramp(len: usize) -> Vec<f32> {
        (0..len).map(|i| (i % 97) as f32 - 48.0).collect()
    }

    #[test]
    fn map_inplace_applies_f_to_every_element() {
        for len in LENS {
            let mut x = ramp(len);
            map_inplace(&mut x, |v: f32| v.max(0.0));
            let want: Vec<f32> = ramp(len).iter().map(|v| v.max(0.0)).collect();
            assert_eq!(x, want, "len {len}");
        }
        let mut x = [-1.5f64, 0.0, 2.5];
        map_inplace(&mut x, |v| 2.0 * v);
        assert_eq!(x, [-3.0, 0.0, 5.0]);
    }

    #[test]
    fn map_writes_the_output_and_may_change_type() {
        let mut out = [false; 4];
        map(&[-1.0f32, 0.0, 0.5, 3.0], &mut out, |v| v > 0.0);
        assert_eq!(out, [false, false, true, true]);
        for len in LENS {
            let x = ramp(len);
            let mut out = vec![0.0f64; len];
            map(&x, &mut out, |v| f64::from(v) * 0.5);
            assert!(out.iter().zip(&x).all(|(&o, &v)| o == f64::from(v) * 0.5));
        }
    }

    #[test]
    fn zip_map_combines_pairs() {
        let mut out = [0.0f32; 3];
        zip_map(
            &[1.0f32, 2.0, 3.0],
            &[10.0f32, 20.0, 30.0],
            &mut out,
            |a, b| a * b + 1.0,
        );
        assert_eq!(out, [11.0, 41.0, 91.0]);
        for len in LENS {
            let (a, b) = (ramp(len), ramp(len));
            let mut out = vec![0.0f32; len];
            zip_map(&a, &b, &mut out, |x, y| x - 2.0 * y);
            assert!(out.iter().zip(&a).all(|(&o, &v)| o == -v), "len {len}");
        }
    }

    #[test]
    fn zip_map_inplace_masks_a_gradient() {
        // ReLU backward: keep the gradient where the input was positive.
        let mut grad = [1.0f32, 2.0, 3.0, 4.0];
        zip_map_inplace(&mut grad, &[-1.0f32, 0.5, 0.0, 2.0], |g, x| {
            if x > 0.0 {
                g
            } else {
                0.0
            }
        });
        assert_eq!(grad, [0.0, 2.0, 0.0, 4.0]);
    }

    #[test]
    fn axpy_adds_a_scaled_vector() {
        let mut y = [1.0f64, 2.0, 3.0];
        axpy(-0.5, &[2.0, 4.0, 6.0], &mut y);
        assert_eq!(y, [0.0, 0.0, 0.0]);
        for len in LENS {
            let x = ramp(len);
            let mut y = vec![1.0f32; len];
            axpy(2.0, &x, &mut y);
            assert!(
                y.iter().zip(&x).all(|(&y, &x)| y == 1.0 + 2.0 * x),
                "len {len}"
            );
        }
    }

    #[test]
    #[should_panic(expected = "axpy: operand lengths differ (2 vs 3)")]
    fn length_mismatch_panics() {
        axpy(1.0f32, &[1.0, 2.0], &mut [0.0; 3]);
    }

    #[test]
    fn expensive_closures_are_exact_when_split() {
        // ~2^16 exp calls take long enough to be split on any multi-core machine.
        let x: Vec<f64> = (0..1 << 16).map(|i| i as f64 * 1e-4).collect();
        let mut out = vec![0.0; x.len()];
        map(&x, &mut out, f64::exp);
        assert!(out.iter().zip(&x).all(|(&o, &v)| o == v.exp()));
    }
}
