//! The threaded gemm against the single-threaded one and both against a
//! naive triple loop, for odd shapes, transposed operands, both betas and
//! both element types.

use super::split::{Split, TILE};
use super::*;

/// The element types under test, with conversions for the reference.
trait Elem: Gemm + Into<f64> + std::fmt::Debug + PartialEq {
    /// Relative tolerance of a length-k dot product against `f64`.
    const EPS: f64;
    /// Nearest value of this type.
    fn of(x: f64) -> Self;
}

impl Elem for f32 {
    const EPS: f64 = 1e-5;
    fn of(x: f64) -> f32 {
        x as f32
    }
}

impl Elem for f64 {
    const EPS: f64 = 1e-13;
    fn of(x: f64) -> f64 {
        x
    }
}

/// Deterministic values in [-1, 1) (xorshift), different per seed.
fn values<T: Elem>(len: usize, seed: u64) -> Vec<T> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            T::of((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
        })
        .collect()
}

/// An `m×k` operand and a `k×n` operand stored as the transposes say, and an
/// initial `C`.
struct Problem<T> {
    a: Vec<T>,
    b: Vec<T>,
    c: Vec<T>,
    m: usize,
    k: usize,
    n: usize,
    a_t: bool,
    b_t: bool,
}

impl<T: Elem> Problem<T> {
    fn new(m: usize, k: usize, n: usize, a_t: bool, b_t: bool) -> Self {
        let seed = (m * 1_000_003 + k * 1009 + n) as u64;
        Problem {
            a: values(m * k, seed),
            b: values(k * n, seed + 1),
            c: values(m * n, seed + 2),
            m,
            k,
            n,
            a_t,
            b_t,
        }
    }

    /// `A` as an `m×k` view: row-major, or the transpose of a row-major `k×m`.
    fn a(&self) -> MatRef<'_, T> {
        if self.a_t {
            MatRef::row_major(&self.a, self.k, self.m).t()
        } else {
            MatRef::row_major(&self.a, self.m, self.k)
        }
    }

    /// `B` as a `k×n` view.
    fn b(&self) -> MatRef<'_, T> {
        if self.b_t {
            MatRef::row_major(&self.b, self.n, self.k).t()
        } else {
            MatRef::row_major(&self.b, self.k, self.n)
        }
    }

    /// `alpha·a·b + beta·c` by the triple loop in f64, with the bound
    /// `Σ|alpha·a·b| + |beta·c|` per element for the tolerance.
    fn reference(&self, alpha: T, beta: T) -> Vec<(f64, f64)> {
        let (a, b) = (self.a(), self.b());
        let (alpha, beta): (f64, f64) = (alpha.into(), beta.into());
        let mut out = Vec::with_capacity(self.m * self.n);
        for i in 0..self.m {
            for j in 0..self.n {
                let (mut sum, mut bound) = (0.0, 0.0);
                for l in 0..self.k {
                    let p = a.at(i, l).into() * b.at(l, j).into();
                    sum += p;
                    bound += p.abs();
                }
                let c: f64 = self.c[i * self.n + j].into();
                let c = if beta == 0.0 { 0.0 } else { beta * c };
                out.push((alpha * sum + c, (alpha * bound).abs() + c.abs()));
            }
        }
        out
    }

    /// The product computed with `split`, from a fresh copy of `C`.
    fn run(&self, split: Split, alpha: T, beta: T) -> Vec<T> {
        let mut c = self.c.clone();
        gemm_split(split, alpha, self.a(), self.b(), beta, &mut c);
        c
    }
}

/// Asserts `got` matches `want` to the rounding of a length-k dot product.
fn assert_close<T: Elem>(got: &[T], want: &[(f64, f64)], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (idx, (&g, &(w, bound))) in got.iter().zip(want).enumerate() {
        let g: f64 = g.into();
        assert!(
            (g - w).abs() <= T::EPS * (bound + 1.0),
            "{what}: element {idx} is {g}, want {w}"
        );
    }
}

/// Shapes with every dimension odd, small, a tile or a bit over one.
const SHAPES: [(usize, usize, usize); 12] = [
    (1, 1, 1),
    (1, 7, 33),
    (7, 1, 100),
    (33, 7, 1),
    (100, 33, 7),
    (7, 100, 129),
    (129, 33, 33),
    (33, 129, 100),
    (100, 100, 100),
    (1, 129, 129),
    (129, 1, 7),
    (17, 64, 31),
];

/// Splits that cut even these small shapes: a tile, two tiles, and sizes off
/// the tile grid (still correct to rounding, not bit for bit).
fn splits() -> Vec<Split> {
    let mut s = vec![Split::Serial];
    for size in [1, TILE, 2 * TILE, 50] {
        s.push(Split::Rows { height: size });
        s.push(Split::Cols { width: size });
    }
    s
}

fn check_all_splits<T: Elem>() {
    let (alpha, betas) = (T::of(0.75), [T::of(0.0), T::of(1.0), T::of(-0.5)]);
    for &(m, k, n) in &SHAPES {
        for (a_t, b_t) in [(false, false), (true, false), (false, true), (true, true)] {
            let p = Problem::<T>::new(m, k, n, a_t, b_t);
            for beta in betas {
                let want = p.reference(alpha, beta);
                let serial = p.run(Split::Serial, alpha, beta);
                for split in splits() {
                    let what = format!("{m}x{k}x{n} a_t={a_t} b_t={b_t} beta={beta:?} {split:?}");
                    let got = p.run(split, alpha, beta);
                    assert_close(&got, &want, &what);
                    if tile_aligned(split) {
                        assert_eq!(got, serial, "{what}: differs from one thread");
                    }
                }
            }
        }
    }
}

/// Whether `split`'s blocks start on micro-kernel tiles, as `plan`'s do:
/// then every element is computed exactly as on one thread (bit for bit),
/// since `k` is never split and the tiles are the same.
fn tile_aligned(split: Split) -> bool {
    match split {
        Split::Serial => true,
        Split::Rows { height: s } | Split::Cols { width: s } => s % TILE == 0,
    }
}

#[test]
fn every_split_matches_the_reference_f32() {
    check_all_splits::<f32>();
}

#[test]
fn every_split_matches_the_reference_f64() {
    check_all_splits::<f64>();
}

fn check_public_gemm<T: Elem>(shapes: &[(usize, usize, usize, bool, bool)]) {
    for &(m, k, n, a_t, b_t) in shapes {
        let p = Problem::<T>::new(m, k, n, a_t, b_t);
        for beta in [T::of(0.0), T::of(1.0)] {
            let mut threaded = p.c.clone();
            gemm(T::of(1.0), p.a(), p.b(), beta, &mut threaded);
            let mut single = p.c.clone();
            gemm_single_threaded(T::of(1.0), p.a(), p.b(), beta, &mut single);
            let what = format!("{m}x{k}x{n} a_t={a_t} b_t={b_t} beta={beta:?}");
            assert_eq!(threaded, single, "{what}: threaded differs from one thread");
            assert_close(&threaded, &p.reference(T::of(1.0), beta), &what);
        }
    }
}

/// Layer-sized products (the ones `gemm` does split) with the transposes the
/// backward pass uses.
const LAYER_SHAPES: [(usize, usize, usize, bool, bool); 5] = [
    (100, 256, 130, false, false),
    (130, 100, 256, true, false),
    (100, 129, 257, false, true),
    (257, 129, 65, true, true),
    (3, 700, 1000, false, false),
];

#[test]
fn threaded_gemm_matches_single_threaded_f32() {
    check_public_gemm::<f32>(&LAYER_SHAPES);
}

#[test]
fn threaded_gemm_matches_single_threaded_f64() {
    check_public_gemm::<f64>(&LAYER_SHAPES);
}

#[test]
fn layer_shapes_are_split() {
    for &(m, k, n, _, _) in &LAYER_SHAPES {
        assert_ne!(split::plan(m, k, n, 2), Split::Serial, "{m}x{k}x{n}");
    }
}

#[test]
fn small_known_product() {
    // [1 2 3; 4 5 6] · [1 0; 0 1; 1 1] = [4 5; 10 11], plus 2·C.
    let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    let b = [1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0];
    let mut c = [1.0f32; 4];
    gemm(
        1.0,
        MatRef::row_major(&a, 2, 3),
        MatRef::row_major(&b, 3, 2),
        2.0,
        &mut c,
    );
    assert_eq!(c, [6.0, 7.0, 12.0, 13.0]);
    // aᵀ·a through a transposed view: 3×3, first row [17 22 27].
    let mut c = [f32::NAN; 9];
    gemm(
        1.0,
        MatRef::row_major(&a, 2, 3).t(),
        MatRef::row_major(&a, 2, 3),
        0.0,
        &mut c,
    );
    assert_eq!(&c[..3], &[17.0, 22.0, 27.0]);
    assert_eq!(c[8], 45.0);
}

#[test]
fn empty_inner_dimension_scales_c() {
    let mut c = [2.0f64; 6];
    gemm(
        1.0,
        MatRef::row_major(&[], 2, 0),
        MatRef::row_major(&[], 0, 3),
        0.5,
        &mut c,
    );
    assert_eq!(c, [1.0; 6]);
}

#[test]
#[should_panic(expected = "inner dimensions differ (2x3 times 2x2)")]
fn mismatched_inner_dimensions_panic() {
    let x = [0.0f32; 6];
    let mut c = [0.0f32; 4];
    gemm(
        1.0,
        MatRef::row_major(&x, 2, 3),
        MatRef::row_major(&x, 2, 2),
        0.0,
        &mut c,
    );
}

#[test]
#[should_panic(expected = "output buffer of 3 elements is smaller than 2x2 = 4")]
fn short_output_panics() {
    let x = [0.0f32; 4];
    let mut c = [0.0f32; 3];
    gemm(
        1.0,
        MatRef::row_major(&x, 2, 2),
        MatRef::row_major(&x, 2, 2),
        0.0,
        &mut c,
    );
}
