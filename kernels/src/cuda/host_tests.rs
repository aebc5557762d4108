//! The CUDA C of this module run as host C++ ([`super::host`], no GPU),
//! compared with the same math in Rust. This checks
//! the wrappers' broadcast indexing through `AdjointLayout` and the
//! runtime's kernels before any GPU runs them.

use super::host::run;
use super::{ops, region_kernels, AdjointLayout};
use std::fmt::Write;

/// A C array initialiser.
fn array(values: &[f64]) -> String {
    let v: Vec<String> = values.iter().map(|x| format!("{x:?}")).collect();
    format!("{{{}}}", v.join(", "))
}

/// `layout` as a C initialiser of `AdjointLayout`.
fn layout_init(layout: &AdjointLayout) -> String {
    let ints = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    let strides: Vec<String> = layout
        .strides
        .iter()
        .map(|row| format!("{{{}}}", ints(row)))
        .collect();
    let full: Vec<String> = layout.full.iter().map(u32::to_string).collect();
    format!(
        "{{{}, {{{}}}, {{{}}}, {{{}}}}}",
        layout.rank,
        ints(&layout.dims),
        strides.join(", "),
        full.join(", ")
    )
}

#[test]
fn region_wrappers_broadcast_and_accumulate_like_numpy() {
    let body = "template <typename T> __device__ T adjoint_region_forward(T x0, T x1) { return x0 * x1; }\n\
                template <typename T> __device__ void adjoint_region_adjoint(T x0, T x1, T y, T g, T* d0, T* d1) { *d0 = g * x1; *d1 = g * x0; }\n";
    let a = [1.0, -2.0, 3.0, 0.5, 4.0, -1.5];
    let g = [0.1, 0.2, -0.3, 0.4, 0.5, 0.6];
    // b broadcast along rows ([3]) and along columns ([2, 1]).
    for (b, b_shape) in [
        (vec![2.0, -1.0, 0.5], vec![3]),
        (vec![3.0, -2.0], vec![2, 1]),
    ] {
        let layout = AdjointLayout::new(&[2, 3], &[&[2, 3], &b_shape]).expect("fits");
        let mut program = region_kernels(body, 2);
        let _ = write!(
            program,
            "int main() {{\n  double a[] = {a}, b[] = {b}, g[] = {g}, y[6], da[6], db[{nb}] = {{0}};\n  \
             AdjointLayout l = {l};\n  adjoint_forward_f64(a, b, y, 6, l);\n  \
             adjoint_backward_f64(a, b, nullptr, g, da, db, 6, l);\n  \
             for (double v : y) printf(\"%.17g \", v);\n  for (double v : da) printf(\"%.17g \", v);\n  \
             for (double v : db) printf(\"%.17g \", v);\n  return 0;\n}}\n",
            a = array(&a),
            b = array(&b),
            g = array(&g),
            nb = b.len(),
            l = layout_init(&layout),
        );
        let Some(printed) = run(&program) else { return };
        let b_at = |i: usize| if b_shape == [3] { b[i % 3] } else { b[i / 3] };
        let mut expected: Vec<f64> = (0..6).map(|i| a[i] * b_at(i)).collect();
        expected.extend((0..6).map(|i| g[i] * b_at(i)));
        let mut db = vec![0.0; b.len()];
        for i in 0..6 {
            db[if b_shape == [3] { i % 3 } else { i / 3 }] += g[i] * a[i];
        }
        expected.extend(db);
        assert_eq!(printed.len(), expected.len(), "{printed:?}");
        for (k, (p, e)) in printed.iter().zip(&expected).enumerate() {
            assert!(
                (p - e).abs() <= 1e-12,
                "value {k} with b {b_shape:?}: host {p} vs {e}"
            );
        }
    }
}

#[test]
fn runtime_kernels_compute_cross_entropy_sums_and_adam() {
    let x = [1.0, 2.0, 0.5, -1.0, 0.0, 3.0];
    let labels = [2u32, 0];
    let (w, gr) = ([0.5, -0.25], [0.1, -0.2]);
    let mut program = ops::module_source();
    let _ = write!(
        program,
        "int main() {{\n  double x[] = {x}, loss[2], d[6], partial[1];\n  unsigned int labels[] = {{2, 0}};\n  \
         adjoint_cross_entropy_f64(x, labels, loss, 2, 3);\n  \
         adjoint_cross_entropy_backward_f64(x, labels, d, 0.5, 2, 3);\n  \
         adjoint_sum_f64(x, partial, 6);\n  \
         double w[] = {w}, g[] = {gr}, m[] = {{0, 0}}, v[] = {{0, 0}};\n  \
         adjoint_adam_f64(w, g, m, v, 2, 0.01, 0.9, 0.999, 0.1, 0.001, 1e-8, 0.0, 0);\n  \
         for (double e : loss) printf(\"%.17g \", e);\n  for (double e : d) printf(\"%.17g \", e);\n  \
         printf(\"%.17g \", partial[0]);\n  for (double e : w) printf(\"%.17g \", e);\n  return 0;\n}}\n",
        x = array(&x),
        w = array(&w),
        gr = array(&gr),
    );
    let Some(printed) = run(&program) else { return };
    let mut expected = Vec::new();
    let mut grads = Vec::new();
    for (r, row) in x.chunks(3).enumerate() {
        let top = row.iter().cloned().fold(f64::MIN, f64::max);
        let total: f64 = row.iter().map(|v| (v - top).exp()).sum();
        expected.push(total.ln() + top - row[labels[r] as usize]);
        for (j, v) in row.iter().enumerate() {
            let p = (v - top).exp() / total;
            grads.push((p - f64::from(u8::from(j == labels[r] as usize))) * 0.5);
        }
    }
    expected.extend(grads);
    expected.push(x.iter().sum());
    for (wi, gi) in w.iter().zip(gr) {
        let (m, v) = (0.1 * gi, 0.001 * gi * gi);
        expected.push(wi - 0.01 * (m / 0.1) / ((v / 0.001f64).sqrt() + 1e-8));
    }
    assert_eq!(printed.len(), expected.len(), "{printed:?}");
    for (k, (p, e)) in printed.iter().zip(&expected).enumerate() {
        assert!(
            (p - e).abs() <= 1e-12 * e.abs().max(1.0),
            "value {k}: host {p} vs {e}"
        );
    }
}

#[test]
fn axis_kernels_sum_and_softmax_along_a_middle_axis() {
    // x viewed as [outer 2, len 3, inner 2].
    let x = [
        0.5, -1.0, 2.0, 0.25, -0.5, 1.5, 3.0, 0.0, 1.0, -2.0, 0.75, 0.5,
    ];
    let g = [
        0.1, 0.2, -0.3, 0.4, 0.5, -0.6, 0.7, 0.8, -0.9, 1.0, 0.2, 0.3,
    ];
    let mut program = ops::module_source();
    let _ = write!(
        program,
        "int main() {{\n  double x[] = {x}, g[] = {g}, s[4], y[12], ly[12], dx[12], ldx[12];\n  \
         adjoint_sum_axis_f64(x, s, 2, 3, 2, 0.5);\n  \
         adjoint_softmax_axis_f64(x, y, 2, 3, 2, 0);\n  adjoint_softmax_axis_f64(x, ly, 2, 3, 2, 1);\n  \
         adjoint_softmax_axis_backward_f64(y, g, dx, 2, 3, 2, 0);\n  \
         adjoint_softmax_axis_backward_f64(ly, g, ldx, 2, 3, 2, 1);\n  \
         for (double v : s) printf(\"%.17g \", v);\n  for (double v : y) printf(\"%.17g \", v);\n  \
         for (double v : ly) printf(\"%.17g \", v);\n  for (double v : dx) printf(\"%.17g \", v);\n  \
         for (double v : ldx) printf(\"%.17g \", v);\n  return 0;\n}}\n",
        x = array(&x),
        g = array(&g),
    );
    let Some(printed) = run(&program) else { return };
    let at = |o: usize, k: usize, n: usize| (o * 3 + k) * 2 + n;
    let mut sums = Vec::new();
    let (mut y, mut ly, mut dx, mut ldx) = ([0.0; 12], [0.0; 12], [0.0; 12], [0.0; 12]);
    for o in 0..2 {
        for n in 0..2 {
            let row: Vec<f64> = (0..3).map(|k| x[at(o, k, n)]).collect();
            sums.push(0.5 * row.iter().sum::<f64>());
            let top = row.iter().cloned().fold(f64::MIN, f64::max);
            let total: f64 = row.iter().map(|v| (v - top).exp()).sum();
            for k in 0..3 {
                y[at(o, k, n)] = (row[k] - top).exp() / total;
                ly[at(o, k, n)] = row[k] - top - total.ln();
            }
            let dot: f64 = (0..3).map(|k| g[at(o, k, n)] * y[at(o, k, n)]).sum();
            let gsum: f64 = (0..3).map(|k| g[at(o, k, n)]).sum();
            for k in 0..3 {
                let i = at(o, k, n);
                dx[i] = y[i] * (g[i] - dot);
                ldx[i] = g[i] - ly[i].exp() * gsum;
            }
        }
    }
    let mut expected = sums;
    for part in [y, ly, dx, ldx] {
        expected.extend(part);
    }
    assert_eq!(printed.len(), expected.len(), "{printed:?}");
    for (k, (p, e)) in printed.iter().zip(&expected).enumerate() {
        assert!(
            (p - e).abs() <= 1e-12 * e.abs().max(1.0),
            "value {k}: host {p} vs {e}"
        );
    }
}

#[test]
fn im2col_and_col2im_are_transposes_of_each_other() {
    // One image of 2 channels 3×4, kernel 2×3, stride 2, padding 1: output 2×2.
    let (c, h, w, kh, kw, stride, pad) = (2usize, 3usize, 4usize, 2usize, 3usize, 2usize, 1usize);
    let (ho, wo) = (
        (h + 2 * pad - kh) / stride + 1,
        (w + 2 * pad - kw) / stride + 1,
    );
    let x: Vec<f64> = (0..c * h * w).map(|i| (i as f64) * 0.5 - 3.0).collect();
    let k = c * kh * kw;
    let cols_in: Vec<f64> = (0..k * ho * wo)
        .map(|i| ((i * 7) % 11) as f64 - 5.0)
        .collect();
    let mut program = ops::module_source();
    let _ = write!(
        program,
        "int main() {{\n  double x[] = {x}, cols_in[] = {ci}, cols[{nc}], dx[{nx}];\n  \
         adjoint_im2col_f64(x, cols, {c}, {h}, {w}, {kh}, {kw}, {stride}, {pad}, {ho}, {wo});\n  \
         adjoint_col2im_f64(cols_in, dx, {c}, {h}, {w}, {kh}, {kw}, {stride}, {pad}, {ho}, {wo});\n  \
         for (double v : cols) printf(\"%.17g \", v);\n  for (double v : dx) printf(\"%.17g \", v);\n  return 0;\n}}\n",
        x = array(&x),
        ci = array(&cols_in),
        nc = k * ho * wo,
        nx = c * h * w,
    );
    let Some(printed) = run(&program) else { return };
    // The receptive fields, and col2im as the adjoint of im2col.
    let mut cols = vec![0.0; k * ho * wo];
    let mut dx = vec![0.0; c * h * w];
    for ch in 0..c {
        for i in 0..kh {
            for j in 0..kw {
                let row = (ch * kh + i) * kw + j;
                for oy in 0..ho {
                    for ox in 0..wo {
                        let (iy, ix) = (
                            (oy * stride + i) as i64 - pad as i64,
                            (ox * stride + j) as i64 - pad as i64,
                        );
                        if iy >= 0 && iy < h as i64 && ix >= 0 && ix < w as i64 {
                            let at = (ch * h + iy as usize) * w + ix as usize;
                            cols[row * ho * wo + oy * wo + ox] = x[at];
                            dx[at] += cols_in[row * ho * wo + oy * wo + ox];
                        }
                    }
                }
            }
        }
    }
    let expected = [cols, dx].concat();
    assert_eq!(printed.len(), expected.len(), "{printed:?}");
    for (k, (p, e)) in printed.iter().zip(&expected).enumerate() {
        assert!((p - e).abs() <= 1e-12, "value {k}: host {p} vs {e}");
    }
}

#[test]
fn max_pooling_finds_the_first_maximum_and_scatters_back() {
    // One plane 3×4 with a tie, kernel 3, stride 2, padding 1: output 2×2.
    let x = [1.0, 5.0, 2.0, 0.0, 5.0, -1.0, 3.0, 4.0, 0.5, 2.5, 4.0, -2.0];
    let g = [1.0, 2.0, 3.0, 4.0];
    let mut program = ops::module_source();
    let _ = write!(
        program,
        "int main() {{\n  double x[] = {x}, g[] = {g}, y[4], dx[12] = {{0}};\n  unsigned long long at[4];\n  \
         adjoint_max_pool_f64(x, y, at, 1, 3, 4, 3, 2, 1, 2, 2);\n  adjoint_scatter_add_f64(g, at, dx, 4);\n  \
         for (double v : y) printf(\"%.17g \", v);\n  for (unsigned long long v : at) printf(\"%llu \", v);\n  \
         for (double v : dx) printf(\"%.17g \", v);\n  return 0;\n}}\n",
        x = array(&x),
        g = array(&g),
    );
    let Some(printed) = run(&program) else { return };
    // Windows (rows, cols): (0..2, 0..2), (0..2, 1..4), (1..3, 0..2), (1..3, 1..4).
    let (mut y, mut at) = (Vec::new(), Vec::new());
    for (r, c) in [(0..2, 0..2), (0..2, 1..4), (1..3, 0..2), (1..3, 1..4)] {
        let mut best: Option<(f64, usize)> = None;
        for iy in r.clone() {
            for ix in c.clone() {
                let v = x[iy * 4 + ix];
                if best.is_none_or(|(b, _)| v > b) {
                    best = Some((v, iy * 4 + ix));
                }
            }
        }
        let (v, i) = best.expect("a window");
        y.push(v);
        at.push(i as f64);
    }
    let mut dx = vec![0.0; 12];
    for (i, gv) in at.iter().zip(g) {
        dx[*i as usize] += gv;
    }
    let expected = [y, at, dx].concat();
    assert_eq!(printed, expected);
}

#[test]
fn dropout_draws_the_runtimes_splitmix_stream() {
    let x: Vec<f64> = (0..64).map(|i| i as f64 + 1.0).collect();
    let mut program = ops::module_source();
    let _ = write!(
        program,
        "int main() {{\n  double x[] = {x}, y[64];\n  \
         adjoint_dropout_f64(x, y, 64, 0.3, 12345ull, 2.0);\n  \
         for (double v : y) printf(\"%.17g \", v);\n  return 0;\n}}\n",
        x = array(&x),
    );
    let Some(printed) = run(&program) else { return };
    // The runtime's stream (`ops::dropout::dropout_uniform`), restated.
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let key = mix(12345 ^ 0x243F_6A88_85A3_08D3);
    let expected: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let z = mix(key.wrapping_add((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
            let u = (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            if u >= 0.3 {
                v * 2.0
            } else {
                0.0
            }
        })
        .collect();
    assert_eq!(printed, expected);
    assert!(expected.contains(&0.0) && expected.iter().any(|v| *v != 0.0));
}

#[test]
fn argmax_gather_scatter_and_average_pooling() {
    // x viewed as [outer 2, len 3, inner 2], with a tie and a NaN.
    let x = [
        1.0,
        4.0,
        3.0,
        f64::NAN,
        3.0,
        2.0,
        -1.0,
        0.5,
        2.0,
        0.5,
        0.0,
        0.25,
    ];
    let g = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
    let mut program = ops::module_source();
    let _ = write!(
        program,
        "int main() {{\n  double x[] = {{1.0, 4.0, 3.0, NAN, 3.0, 2.0, -1.0, 0.5, 2.0, 0.5, 0.0, 0.25}}, g[] = {g};\n  \
         double values[4], y[8], dx[12] = {{0}}, pooled[4], pdx[12] = {{0}};\n  \
         unsigned long long at[4], idx[] = {{2, 0}};\n  \
         adjoint_argmax_axis_f64(x, values, at, 2, 3, 2);\n  \
         adjoint_gather_axis_f64(x, idx, y, 2, 3, 2, 2);\n  adjoint_scatter_axis_f64(g, idx, dx, 2, 3, 2, 2);\n  \
         adjoint_avg_pool_f64(x + 6, pooled, nullptr, nullptr, 1, 2, 3, 2, 1, 0, 1, 2);\n  \
         adjoint_avg_pool_f64(x + 6, nullptr, g, pdx, 1, 2, 3, 2, 1, 0, 1, 2);\n  \
         for (double v : values) printf(\"%.17g \", v);\n  for (unsigned long long v : at) printf(\"%llu \", v);\n  \
         for (double v : y) printf(\"%.17g \", v);\n  for (double v : dx) printf(\"%.17g \", v);\n  \
         for (int i = 0; i < 2; i++) printf(\"%.17g \", pooled[i]);\n  for (int i = 0; i < 6; i++) printf(\"%.17g \", pdx[i]);\n  \
         return 0;\n}}\n",
        g = array(&g),
    );
    let Some(printed) = run(&program) else { return };
    // First arg-max per (o, n): ties keep the first, NaN loses to numbers.
    let at = [2usize, 1, 8, 7];
    let values: Vec<f64> = at.iter().map(|&i| x[i]).collect();
    let gathered = [x[4], x[5], x[0], x[1], x[10], x[11], x[6], x[7]];
    let mut dx = [0.0; 12];
    for (k, &(o, j)) in [(0, 2), (0, 0), (1, 2), (1, 0)].iter().enumerate() {
        for n in 0..2 {
            dx[(o * 3 + j) * 2 + n] += g[k * 2 + n];
        }
    }
    // A 2×3 plane (x[6..12]), 2×2 windows, stride 1: outputs 1×2.
    let plane = &x[6..12];
    let pooled = [
        (plane[0] + plane[1] + plane[3] + plane[4]) / 4.0,
        (plane[1] + plane[2] + plane[4] + plane[5]) / 4.0,
    ];
    let pdx = [
        g[0] / 4.0,
        (g[0] + g[1]) / 4.0,
        g[1] / 4.0,
        g[0] / 4.0,
        (g[0] + g[1]) / 4.0,
        g[1] / 4.0,
    ];
    let mut expected: Vec<f64> = values;
    expected.extend(at.iter().map(|&i| i as f64));
    expected.extend(gathered);
    expected.extend(dx);
    expected.extend(pooled);
    expected.extend(pdx);
    assert_eq!(printed.len(), expected.len(), "{printed:?}");
    for (k, (p, e)) in printed.iter().zip(&expected).enumerate() {
        assert!((p - e).abs() <= 1e-12, "value {k}: host {p} vs {e}");
    }
}
