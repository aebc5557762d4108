//! The op test matrix (issue 9, item 5): every tensor op of the compiler's
//! table (`autodiff-macros/src/tensor_rules/table.rs`) in at least one
//! `#[differentiable]` function, each checked in f64
//!
//! - against central differences (`gradcheck`),
//! - element-wise against the tensor tape (1e-10 relative), value included,
//! - and in forward mode by the dot-product identity ⟨J v, w⟩ = ⟨v, Jᵀ w⟩:
//!   a row computes `f = ⟨op(x), w⟩` for a random constant `w` (or is a
//!   loss), so `f_jvp` along a random `v` is ⟨J v, w⟩ and ⟨∇f, v⟩ is
//!   ⟨v, Jᵀ w⟩.
//!
//! Each row also finds its op, as the compiler names it, in the function's
//! graph (`f_graph`), so a body the compiler lowered to something else (or
//! did not fuse) fails. `cargo test -p adjoint-macros` fails when an op of
//! the table has no `row!` here (`src/tests/op_matrix.rs` there).
//!
//! A row is `row!("op", module: (tensors) (scalars) (constants) [labels] =>
//! body [; tape => body])`: active tensors `name [shape] domain`, active
//! scalars `name = value`, `#[constant]` tensors `name [shape] domain`, and
//! optionally `labels name [classes]` (`#[constant] &[usize]`). The tag is
//! the op as the table spells it, or its arithmetic form (`"scalar -
//! tensor"`); its graph name follows `as` where it differs. The body is
//! written once; on the tape the tensors are leaves, the scalars 0-d leaves
//! (broadcast), the constants constant nodes, so the same body runs on both
//! where the APIs agree; `tape =>` gives the tape's spelling where they
//! differ. Each row is a module with its own `matrix` test
//! (`cargo test --test op_matrix softmax`).
//!
//! The `#[differentiable]` functions are written by `row!` around bodies its
//! caller passes in, so the matrix also checks that the compiler's generated
//! names resolve where such a body does.
//!
//! The matrix is parameterised by device, like candle's `test_device!`:
//! each row's `matrix_cuda` test runs the generated gradient with the
//! inputs on `cuda:0` and compares it with the CPU's (1e-10 relative, f64);
//! where no CUDA device can be used it prints why and checks nothing
//! (`cargo test --features cuda --test op_matrix cuda -- --nocapture` on a
//! GPU machine).

use adjoint::check::{gradcheck, Tolerance};
use adjoint::prelude::*;
use adjoint::tape::Graph;
use adjoint::tensor::rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use adjoint::{Device, DeviceError};
use Domain::*;

/// Where a row's inputs are drawn from: each keeps the point, and the
/// finite-difference steps around it (about 6e-6), away from the op's kinks
/// and poles.
#[derive(Clone, Copy, Debug)]
enum Domain {
    /// Standard normal.
    Normal,
    /// Uniform on `[lo, hi)`.
    Uniform(f64, f64),
    /// Magnitude uniform on `[lo, hi)`, random sign (relu, abs, leaky_relu).
    AwayFromZero(f64, f64),
    /// Pairwise at least 0.2 apart, so a maximum is unique (max, max_axis).
    Distinct,
    /// Positive and summing to 1 along the last axis (soft targets).
    Probabilities,
}

fn sample(shape: &[usize], domain: Domain, rng: &mut StdRng) -> Tensor<f64> {
    match domain {
        Normal => Tensor::randn(shape, rng),
        Uniform(lo, hi) => Tensor::uniform(shape, lo, hi, rng),
        AwayFromZero(lo, hi) => {
            let magnitude = Tensor::<f64>::uniform(shape, lo, hi, rng);
            let sign = Tensor::<f64>::randn(shape, rng);
            let data = magnitude
                .data()
                .iter()
                .zip(sign.data())
                .map(|(m, s)| if *s < 0.0 { -m } else { *m })
                .collect();
            Tensor::from_vec(data, shape).expect("same shape")
        }
        Distinct => {
            let n: usize = shape.iter().product();
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(rng);
            let jitter = Tensor::<f64>::uniform(shape, 0.0, 0.05, rng);
            let data = order
                .iter()
                .zip(jitter.data())
                .map(|(k, j)| 0.25 * (*k as f64 - n as f64 / 2.0) + j)
                .collect();
            Tensor::from_vec(data, shape).expect("same shape")
        }
        Probabilities => Tensor::randn(shape, rng).softmax(shape.len() - 1),
    }
}

/// The arguments of a row's function.
#[derive(Clone)]
struct Point {
    /// Active tensors, in order.
    tensors: Vec<Tensor<f64>>,
    /// Active scalars, in order.
    scalars: Vec<f64>,
    /// `#[constant]` tensors, in order.
    constants: Vec<Tensor<f64>>,
    /// `#[constant]` class labels (empty when the row has none).
    labels: Vec<usize>,
}

/// A value and its gradient with respect to the active arguments.
struct Derivative {
    value: f64,
    tensors: Vec<Tensor<f64>>,
    scalars: Vec<f64>,
}

/// One row of the matrix: the generated functions of one
/// `#[differentiable]` function, its tape twin, and where to evaluate them.
struct Row {
    /// The op as the table spells it (`broadcast_to`), or the arithmetic form
    /// (`tensor + scalar`).
    op: &'static str,
    /// The op's name in the generated graph (`expand` for `broadcast_to`).
    node: &'static str,
    tensors: Vec<(Vec<usize>, Domain)>,
    scalars: Vec<f64>,
    constants: Vec<(Vec<usize>, Domain)>,
    labels: Vec<usize>,
    primal: fn(&Point) -> f64,
    grad: fn(&Point) -> Derivative,
    /// `(value, directional derivative)` at the first point along the second.
    jvp: fn(&Point, &Point) -> (f64, f64),
    tape: fn(&Point) -> Derivative,
    graph: fn() -> &'static str,
}

fn dot(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.data().iter().zip(b.data()).map(|(x, y)| x * y).sum()
}

/// `|a - b| <= rel · max(|a|, |b|)`.
fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs())
}

/// The row's generated gradient with its inputs on `device`, against the
/// CPU's; prints why and returns where `device` cannot be used.
fn check_on_device(row: &Row, device: Result<Device, DeviceError>) {
    let device = match device {
        Ok(device) => device,
        Err(e) => {
            eprintln!("{}: skipped on CUDA: {e}", row.op);
            return;
        }
    };
    let point = point(row, &mut StdRng::seed_from_u64(0x0b5e_55ed));
    let on_device = |t: &Tensor<f64>| {
        t.to_device(device)
            .unwrap_or_else(|e| panic!("{}: moving an input to {device}: {e}", row.op))
    };
    let moved = Point {
        tensors: point.tensors.iter().map(on_device).collect(),
        constants: point.constants.iter().map(on_device).collect(),
        ..point.clone()
    };
    let (cpu, there) = ((row.grad)(&point), (row.grad)(&moved));
    assert!(
        close(there.value, cpu.value, 1e-10),
        "{}: value on {device} {} vs the CPU's {}",
        row.op,
        there.value,
        cpu.value
    );
    for (k, (d, c)) in there.tensors.iter().zip(&cpu.tensors).enumerate() {
        let d = d
            .to_device(Device::Cpu)
            .unwrap_or_else(|e| panic!("{}: gradient {k} back to the CPU: {e}", row.op));
        assert_eq!(d.shape(), c.shape(), "{}: gradient {k}'s shape", row.op);
        for (i, (a, b)) in d.data().iter().zip(c.data()).enumerate() {
            assert!(
                close(*a, *b, 1e-10),
                "{}: ∂f/∂tensor{k}[{i}] on {device} {a} vs the CPU's {b}",
                row.op
            );
        }
    }
    for (k, (a, b)) in there.scalars.iter().zip(&cpu.scalars).enumerate() {
        assert!(
            close(*a, *b, 1e-10),
            "{}: ∂f/∂scalar{k} on {device} {a} vs the CPU's {b}",
            row.op
        );
    }
}

/// The row's evaluation point, drawn from `rng`.
fn point(row: &Row, rng: &mut StdRng) -> Point {
    Point {
        tensors: row
            .tensors
            .iter()
            .map(|(shape, domain)| sample(shape, *domain, rng))
            .collect(),
        scalars: row.scalars.clone(),
        constants: row
            .constants
            .iter()
            .map(|(shape, domain)| sample(shape, *domain, rng))
            .collect(),
        labels: row.labels.clone(),
    }
}

fn check(row: &Row) {
    let op = row.op;
    let mut rng = StdRng::seed_from_u64(0x0b5e_55ed);
    let point = point(row, &mut rng);

    // The compiler lowered the body to the op under test: a node of its
    // own, or a step of a fused element-wise region (`v3 = fused exp(v1) * v2`).
    let graph = (row.graph)();
    let node = row.node;
    let in_region = |line: &str| {
        let region = line.split_once("= fused ").map_or("", |(_, r)| r);
        region.contains(&format!("{node}(")) || region.contains(&format!(" {node} "))
    };
    assert!(
        graph.contains(&format!("= {node}\""))
            || graph.contains(&format!("= {node} "))
            || graph.lines().any(in_region),
        "{op}: the graph has no `{node}` node:\n{graph}"
    );

    // Values: the primal, the gradient's and the tape's.
    let value = (row.primal)(&point);
    assert!(value.is_finite(), "{op}: value {value}");
    let generated = (row.grad)(&point);
    let tape = (row.tape)(&point);
    assert!(
        close(generated.value, value, 1e-12),
        "{op}: f_grad's value {} vs the primal's {value}",
        generated.value
    );
    assert!(
        close(tape.value, value, 1e-12),
        "{op}: the tape's value {} vs the primal's {value}",
        tape.value
    );

    // Against the tape, element by element.
    for (k, (g, t)) in generated.tensors.iter().zip(&tape.tensors).enumerate() {
        assert_eq!(g.shape(), t.shape(), "{op}: tensor {k}'s gradient shape");
        for (i, (a, b)) in g.data().iter().zip(t.data()).enumerate() {
            assert!(
                close(*a, *b, 1e-10),
                "{op}: ∂f/∂tensor{k}[{i}] generated {a} vs tape {b}"
            );
        }
    }
    for (k, (a, b)) in generated.scalars.iter().zip(&tape.scalars).enumerate() {
        assert!(
            close(*a, *b, 1e-10),
            "{op}: ∂f/∂scalar{k} generated {a} vs tape {b}"
        );
    }
    assert_eq!(generated.tensors.len(), point.tensors.len());
    assert_eq!(generated.scalars.len(), point.scalars.len());
    assert_eq!(tape.tensors.len(), point.tensors.len());
    assert_eq!(tape.scalars.len(), point.scalars.len());

    // Against central differences; scalars as 0-d tensors.
    let n = point.tensors.len();
    let inputs: Vec<Tensor<f64>> = point
        .tensors
        .iter()
        .cloned()
        .chain(point.scalars.iter().map(|s| Tensor::scalar(*s)))
        .collect();
    let analytic: Vec<Tensor<f64>> = generated
        .tensors
        .iter()
        .cloned()
        .chain(generated.scalars.iter().map(|s| Tensor::scalar(*s)))
        .collect();
    let f = |x: &[Tensor<f64>]| {
        let at = Point {
            tensors: x[..n].to_vec(),
            scalars: x[n..].iter().map(Tensor::item).collect(),
            ..point.clone()
        };
        (row.primal)(&at)
    };
    let tol = Tolerance {
        rtol: 1e-6,
        atol: 1e-8,
    };
    if let Err(e) = gradcheck(f, &inputs, &analytic, tol) {
        panic!("{op}: generated gradient vs finite differences: {e}");
    }

    // Forward mode: ⟨J v, w⟩ = ⟨v, Jᵀ w⟩ for a random direction v.
    let direction = Point {
        tensors: point
            .tensors
            .iter()
            .map(|t| Tensor::randn(t.shape(), &mut rng))
            .collect(),
        scalars: point
            .scalars
            .iter()
            .map(|_| Tensor::<f64>::randn(&[], &mut rng).item())
            .collect(),
        ..point.clone()
    };
    let (jvp_value, jv) = (row.jvp)(&point, &direction);
    assert!(
        close(jvp_value, value, 1e-12),
        "{op}: f_jvp's value {jvp_value} vs the primal's {value}"
    );
    let terms: Vec<f64> = generated
        .tensors
        .iter()
        .zip(&direction.tensors)
        .map(|(g, v)| dot(g, v))
        .chain(
            generated
                .scalars
                .iter()
                .zip(&direction.scalars)
                .map(|(g, v)| g * v),
        )
        .collect();
    let expected: f64 = terms.iter().sum();
    let scale: f64 = terms.iter().map(|t| t.abs()).sum();
    assert!(
        scale > 0.0,
        "{op}: the gradient is zero along v, so the check proves nothing"
    );
    assert!(
        (jv - expected).abs() <= 1e-10 * scale,
        "{op}: forward mode ⟨J v, w⟩ = {jv} vs reverse mode ⟨v, Jᵀ w⟩ = {expected}"
    );
}

/// One row: a module holding the `#[differentiable]` function `f`, its
/// adapters to [`Point`], its tape twin, `row()` and the test.
macro_rules! row {
    (
        $op:literal $(as $node:literal)?, $id:ident:
        ($($t:ident [$($td:expr),*] $tdom:expr),*)
        ($($s:ident = $sv:expr),*)
        ($($c:ident [$($cd:expr),*] $cdom:expr),*)
        $(labels $l:ident [$($lv:expr),*])?
        => $body:expr $(; tape => $tape:expr)?
    ) => {
        mod $id {
            use super::*;

            #[differentiable]
            fn f(
                $($t: &Tensor<f64>,)*
                $($s: f64,)*
                $(#[constant] $c: &Tensor<f64>,)*
                $(#[constant] $l: &[usize],)?
            ) -> f64 {
                $body
            }

            fn primal(p: &Point) -> f64 {
                let ts = &mut p.tensors.iter();
                let ss = &mut p.scalars.iter().copied();
                let cs = &mut p.constants.iter();
                $(let $t = ts.next().expect("an active tensor");)*
                $(let $s = ss.next().expect("an active scalar");)*
                $(let $c = cs.next().expect("a constant tensor");)*
                $(let $l: &[usize] = &p.labels;)?
                assert!(ts.next().is_none() && ss.next().is_none() && cs.next().is_none());
                f($($t,)* $($s,)* $($c,)* $($l,)?)
            }

            fn grad(p: &Point) -> Derivative {
                let ts = &mut p.tensors.iter();
                let ss = &mut p.scalars.iter().copied();
                let cs = &mut p.constants.iter();
                $(let $t = ts.next().expect("an active tensor");)*
                $(let $s = ss.next().expect("an active scalar");)*
                $(let $c = cs.next().expect("a constant tensor");)*
                $(let $l: &[usize] = &p.labels;)?
                assert!(ts.next().is_none() && ss.next().is_none() && cs.next().is_none());
                let g = f_grad($($t,)* $($s,)* $($c,)* $($l,)?);
                Derivative {
                    value: g.value,
                    tensors: vec![$(g.$t),*],
                    scalars: vec![$(g.$s),*],
                }
            }

            fn jvp(p: &Point, v: &Point) -> (f64, f64) {
                let ts = &mut p.tensors.iter();
                let ss = &mut p.scalars.iter().copied();
                let cs = &mut p.constants.iter();
                let vt = &mut v.tensors.iter();
                let vs = &mut v.scalars.iter().copied();
                $(let $t = ts.next().expect("an active tensor");)*
                $(let $s = ss.next().expect("an active scalar");)*
                $(let $c = cs.next().expect("a constant tensor");)*
                $(let $l: &[usize] = &p.labels;)?
                let out = f_jvp(
                    $($t,)* $($s,)* $($c,)* $($l,)?
                    $(row!(@next vt $t),)*
                    $(row!(@next vs $s),)*
                );
                assert!(ts.next().is_none() && ss.next().is_none() && cs.next().is_none());
                assert!(vt.next().is_none() && vs.next().is_none());
                out
            }

            fn tape(p: &Point) -> Derivative {
                let graph = Graph::<f64>::new();
                let ts = &mut p.tensors.iter();
                let ss = &mut p.scalars.iter().copied();
                let cs = &mut p.constants.iter();
                $(let $t = &graph.leaf(ts.next().expect("an active tensor").clone());)*
                $(let $s = &graph.leaf(Tensor::scalar(ss.next().expect("an active scalar")));)*
                $(let $c = &graph.constant(cs.next().expect("a constant tensor").clone());)*
                $(let $l: &[usize] = &p.labels;)?
                assert!(ts.next().is_none() && ss.next().is_none() && cs.next().is_none());
                let out = row!(@pick $body $(; $tape)?);
                let g = out.backward();
                Derivative {
                    value: out.item(),
                    tensors: vec![$(g.wrt($t)),*],
                    scalars: vec![$(g.wrt($s).item()),*],
                }
            }

            fn row() -> Row {
                Row {
                    op: $op,
                    node: row!(@node $op $($node)?),
                    tensors: vec![$((vec![$($td),*], $tdom)),*],
                    scalars: vec![$($sv),*],
                    constants: vec![$((vec![$($cd),*], $cdom)),*],
                    labels: vec![$($($lv),*)?],
                    primal,
                    grad,
                    jvp,
                    tape,
                    graph: f_graph,
                }
            }

            #[test]
            fn matrix() {
                check(&row());
            }

            #[test]
            fn matrix_cuda() {
                check_on_device(&row(), Device::cuda(0));
            }
        }
    };
    (@next $it:ident $_x:ident) => {
        $it.next().expect("a tangent")
    };
    (@pick $body:expr) => {
        $body
    };
    (@pick $body:expr; $tape:expr) => {
        $tape
    };
    (@node $op:literal) => {
        $op
    };
    (@node $op:literal $node:literal) => {
        $node
    };
}

// Shape ops.

row!("matmul", matmul: (a [2, 3] Normal, b [3, 4] Normal) () (w [2, 4] Normal)
    => (&a.matmul(b) * w).sum());
row!("matmul", matmul_lhs_only: (a [2, 3] Normal) () (b [3, 4] Normal, w [2, 4] Normal)
    => (&a.matmul(b) * w).sum());
row!("matmul", matmul_rhs_only: (b [3, 4] Normal) () (a [2, 3] Normal, w [2, 4] Normal)
    => (&a.matmul(b) * w).sum());
row!("matmul", matmul_batched: (a [2, 2, 3] Normal, b [2, 3, 4] Normal) () (w [2, 2, 4] Normal)
    => (&a.matmul(b) * w).sum());
row!("t", t: (a [2, 3] Normal) () (w [3, 2] Normal) => (&a.t() * w).sum());
row!("transpose", transpose: (a [2, 3, 4] Normal) () (w [4, 3, 2] Normal)
    => (&a.transpose(0, 2) * w).sum());
row!("reshape", reshape: (a [2, 3] Normal) () (w [3, 2] Normal)
    => (&a.reshape(&[3, 2]) * w).sum());
row!("expand", expand: (a [3, 1] Normal) () (w [3, 4] Normal)
    => (&a.expand(&[3, 4]) * w).sum());
row!("broadcast_to" as "expand", broadcast_to: (a [4] Normal) () (w [2, 4] Normal)
    => (&a.broadcast_to(&[2, 4]) * w).sum(); tape => (&a.expand(&[2, 4]) * w).sum());
row!("select", select: (a [4, 3] Normal) () (w [3, 3] Normal)
    => (&a.select(0, &[2, 0, 2]) * w).sum());
row!("index_select" as "select", index_select: (a [3, 4] Normal) () (w [3, 2] Normal)
    => (&a.index_select(1, &[3, 1]) * w).sum(); tape => (&a.select(1, &[3, 1]) * w).sum());
row!("squeeze", squeeze: (a [3, 1] Normal) () (w [3] Normal) => (&a.squeeze(1) * w).sum());
row!("unsqueeze", unsqueeze: (a [3] Normal) () (w [1, 3] Normal)
    => (&a.unsqueeze(0) * w).sum());
row!("slice", slice: (a [4, 3] Normal) () (w [2, 3] Normal) => (&a.slice(0, 1..3) * w).sum());

// Element-wise functions.

row!("exp", exp: (a [2, 3] Normal) () (w [2, 3] Normal) => (&a.exp() * w).sum());
row!("ln", ln: (a [2, 3] Uniform(0.5, 2.0)) () (w [2, 3] Normal) => (&a.ln() * w).sum());
row!("sqrt", sqrt: (a [2, 3] Uniform(0.5, 2.0)) () (w [2, 3] Normal) => (&a.sqrt() * w).sum());
row!("square", square: (a [2, 3] Normal) () (w [2, 3] Normal) => (&a.square() * w).sum());
row!("abs", abs: (a [2, 3] AwayFromZero(0.2, 2.0)) () (w [2, 3] Normal)
    => (&a.abs() * w).sum());
row!("sin", sin: (a [2, 3] Normal) () (w [2, 3] Normal) => (&a.sin() * w).sum());
row!("cos", cos: (a [2, 3] Normal) () (w [2, 3] Normal) => (&a.cos() * w).sum());
row!("tanh", tanh: (a [2, 3] Normal) () (w [2, 3] Normal) => (&a.tanh() * w).sum());
row!("sigmoid", sigmoid: (a [2, 3] Normal) () (w [2, 3] Normal) => (&a.sigmoid() * w).sum());
row!("relu", relu: (a [2, 3] AwayFromZero(0.2, 2.0)) () (w [2, 3] Normal)
    => (&a.relu() * w).sum());
row!("powf", powf: (a [2, 3] Uniform(0.5, 2.0)) () (w [2, 3] Normal)
    => (&a.powf(1.7) * w).sum());
row!("powf", powf_active_exponent: (a [2, 3] Uniform(0.5, 2.0)) (s = 1.7) (w [2, 3] Normal)
    => (&a.powf(s) * w).sum(); tape => (&(&a.ln() * s).exp() * w).sum());
row!("leaky_relu", leaky_relu: (a [2, 3] AwayFromZero(0.2, 2.0)) () (w [2, 3] Normal)
    => (&a.leaky_relu(0.1) * w).sum());
row!("leaky_relu", leaky_relu_active_slope:
    (a [2, 3] AwayFromZero(0.2, 2.0)) (s = 0.15) (w [2, 3] Normal)
    => (&a.leaky_relu(s) * w).sum();
    tape => (&(&a.relu() - &(&a.neg().relu() * s)) * w).sum());

// Reductions, softmax, normalisation.

row!("sum", sum: (a [2, 3, 2] Normal) () () => a.sum());
row!("mean", mean: (a [2, 3] Normal) () (w [2, 3] Normal) => (&a.exp() * w).mean());
row!("max", max: (a [2, 3] Distinct) () () => a.max());
row!("sum_axis", sum_axis: (a [2, 3] Normal) () (w [2] Normal)
    => (&a.sum_axis(1, false) * w).sum());
row!("sum_axis", sum_axis_keepdim: (a [2, 3] Normal) () (w [1, 3] Normal)
    => (&a.sum_axis(0, true) * w).sum());
row!("mean_axis", mean_axis: (a [2, 3] Normal) () (w [3] Normal)
    => (&a.mean_axis(0, false) * w).sum());
row!("max_axis", max_axis: (a [2, 3] Distinct) () (w [2, 1] Normal)
    => (&a.max_axis(1, true) * w).sum());
row!("max_axis", max_axis_drop: (a [3, 2] Distinct) () (w [2] Normal)
    => (&a.max_axis(0, false) * w).sum());
row!("softmax", softmax: (a [2, 3] Normal) () (w [2, 3] Normal)
    => (&a.softmax(1) * w).sum());
row!("log_softmax", log_softmax: (a [3, 2] Normal) () (w [3, 2] Normal)
    => (&a.log_softmax(0) * w).sum());
row!("normalize", normalize: (a [2, 3] Uniform(0.5, 2.0)) () (w [2, 3] Normal)
    => (&a.normalize(1) * w).sum());

// Losses.

row!("cross_entropy", cross_entropy_labels: (a [4, 3] Normal) () () labels l [2, 0, 1, 2]
    => cross_entropy(a, l); tape => a.cross_entropy(l));
row!("cross_entropy", cross_entropy_soft_targets: (a [4, 3] Normal) () (t [4, 3] Probabilities)
    => cross_entropy(a, t); tape => a.cross_entropy_probs(t.value()));
row!("mse", mse: (a [2, 3] Normal, b [2, 3] Normal) () () => mse(a, b); tape => a.mse(b));
row!("l1", l1: (a [2, 3] Uniform(0.5, 2.0), b [2, 3] Uniform(-2.0, -0.5)) () ()
    => l1(a, b); tape => a.l1(b));

// Arithmetic: tensor ⊕ tensor with broadcasting.

row!("tensor + tensor" as "+", add: (a [2, 3] Normal, b [3] Normal) () (w [2, 3] Normal)
    => (&(a + b) * w).sum());
row!("tensor - tensor" as "-", sub: (a [2, 3] Normal, b [2, 1] Normal) () (w [2, 3] Normal)
    => (&(a - b) * w).sum());
row!("tensor - tensor" as "-", sub_broadcast_lhs:
    (a [3] Normal, b [2, 3] Normal) () (w [2, 3] Normal)
    => (&(a - b) * w).sum());
row!("tensor * tensor" as "*", mul: (a [2, 3] Normal, b [1, 3] Normal) () (w [2, 3] Normal)
    => (&(a * b) * w).sum());
row!("tensor * tensor" as "*", mul_outer: (a [2, 1] Normal, b [1, 3] Normal) () (w [2, 3] Normal)
    => (&(a * b) * w).sum());
row!("tensor / tensor" as "/", div:
    (a [2, 3] Normal, b [2, 1] Uniform(0.5, 2.0)) () (w [2, 3] Normal)
    => (&(a / b) * w).sum());

// Arithmetic with a constant float.

row!("tensor + scalar" as "+", add_scalar: (a [2, 3] Normal) () (w [2, 3] Normal)
    => (&(a + 1.5) * w).sum(); tape => (&a.add_scalar(1.5) * w).sum());
row!("tensor - scalar" as "-", sub_scalar: (a [2, 3] Normal) () (w [2, 3] Normal)
    => (&(a - 0.5) * w).sum(); tape => (&a.add_scalar(-0.5) * w).sum());
row!("tensor * scalar" as "*", mul_scalar: (a [2, 3] Normal) () (w [2, 3] Normal)
    => (&(a * 2.5) * w).sum(); tape => (&a.mul_scalar(2.5) * w).sum());
row!("tensor / scalar" as "/", div_scalar: (a [2, 3] Normal) () (w [2, 3] Normal)
    => (&(a / 4.0) * w).sum(); tape => (&a.mul_scalar(0.25) * w).sum());
row!("scalar + tensor" as "+", radd_scalar: (a [2, 3] Normal) () (w [2, 3] Normal)
    => (&(1.5 + a) * w).sum(); tape => (&a.add_scalar(1.5) * w).sum());
row!("scalar - tensor" as "-", rsub_scalar: (a [2, 3] Normal) () (w [2, 3] Normal)
    => (&(2.0 - a) * w).sum(); tape => (&a.neg().add_scalar(2.0) * w).sum());
row!("scalar * tensor" as "*", rmul_scalar: (a [2, 3] Normal) () (w [2, 3] Normal)
    => (&(3.0 * a) * w).sum(); tape => (&a.mul_scalar(3.0) * w).sum());
row!("scalar / tensor" as "/", rdiv_scalar: (a [2, 3] Uniform(0.5, 2.0)) () (w [2, 3] Normal)
    => (&(2.0 / a) * w).sum(); tape => (&a.powf(-1.0).mul_scalar(2.0) * w).sum());

// Arithmetic with an active float (a 0-d leaf on the tape).

row!("tensor + scalar" as "+", add_active_scalar: (a [2, 3] Normal) (s = 0.7) (w [2, 3] Normal)
    => (&(a + s) * w).sum());
row!("tensor - scalar" as "-", sub_active_scalar: (a [2, 3] Normal) (s = 0.7) (w [2, 3] Normal)
    => (&(a - s) * w).sum());
row!("tensor * scalar" as "*", mul_active_scalar: (a [2, 3] Normal) (s = -1.3) (w [2, 3] Normal)
    => (&(a * s) * w).sum());
row!("tensor / scalar" as "/", div_active_scalar: (a [2, 3] Normal) (s = 1.9) (w [2, 3] Normal)
    => (&(a / s) * w).sum());
row!("scalar + tensor" as "+", radd_active_scalar: (a [2, 3] Normal) (s = 0.7) (w [2, 3] Normal)
    => (&(s + a) * w).sum());
row!("scalar - tensor" as "-", rsub_active_scalar: (a [2, 3] Normal) (s = 0.7) (w [2, 3] Normal)
    => (&(s - a) * w).sum());
row!("scalar * tensor" as "*", rmul_active_scalar: (a [2, 3] Normal) (s = -1.3) (w [2, 3] Normal)
    => (&(s * a) * w).sum());
row!("scalar / tensor" as "/", rdiv_active_scalar:
    (a [2, 3] Uniform(0.5, 2.0)) (s = 1.9) (w [2, 3] Normal)
    => (&(s / a) * w).sum());

// Unary minus.

row!("neg", neg: (a [2, 3] Normal) () (w [2, 3] Normal)
    => (&(-a) * w).sum(); tape => (&a.neg() * w).sum());

// Convolutional-network ops: stride and padding variants on odd,
// non-square images; max pooling on pairwise-distinct inputs (a tie has no
// derivative; the tie rule is tested in the runtime), overlapping 3x3/2
// windows with padding; batch norm in training mode per channel over N, H, W
// (and over N for 2-D input); dropout's mask regenerated from its seed.
row!("conv2d", conv2d: (x [2, 3, 5, 7] Normal, k [4, 3, 3, 3] Normal) () (w [2, 4, 5, 7] Normal)
    => (&x.conv2d(k, 1, 1) * w).sum());
row!("conv2d", conv2d_stride2: (x [2, 3, 5, 7] Normal, k [2, 3, 2, 2] Normal) () (w [2, 2, 2, 3] Normal)
    => (&x.conv2d(k, 2, 0) * w).sum());
row!("conv2d", conv2d_weights_only: (k [4, 2, 3, 3] Normal) () (x [2, 2, 6, 5] Normal, w [2, 4, 3, 3] Normal)
    => (&x.conv2d(k, 2, 1) * w).sum());
row!("max_pool2d", max_pool2d: (x [2, 3, 5, 7] Distinct) () (w [2, 3, 3, 4] Normal)
    => (&x.max_pool2d(3, 2, 1) * w).sum());
row!("max_pool2d", max_pool2d_2x2: (x [1, 2, 4, 6] Distinct) () (w [1, 2, 2, 3] Normal)
    => (&x.max_pool2d(2, 2, 0) * w).sum());
row!("avg_pool2d", avg_pool2d: (x [2, 3, 5, 7] Normal) () (w [2, 3, 3, 4] Normal)
    => (&x.avg_pool2d(3, 2, 1) * w).sum());
row!("global_avg_pool", global_avg_pool: (x [2, 3, 4, 5] Normal) () (w [2, 3] Normal)
    => (&x.global_avg_pool() * w).sum());
row!("batch_norm", batch_norm: (x [4, 3, 2, 3] Normal, gamma [3] Normal, beta [3] Normal) ()
    (w [4, 3, 2, 3] Normal)
    => (&x.batch_norm(gamma, beta, 1e-5) * w).sum();
    tape => (&x.batch_norm(gamma, beta, 1e-5).0 * w).sum());
row!("batch_norm", batch_norm_2d: (x [5, 3] Normal, gamma [3] Normal) () (beta [3] Normal, w [5, 3] Normal)
    => (&x.batch_norm(gamma, beta, 1e-5) * w).sum();
    tape => (&x.batch_norm(gamma, beta, 1e-5).0 * w).sum());
row!("dropout", dropout: (x [4, 6] Normal) () (w [4, 6] Normal)
    => (&x.dropout(0.5, 7) * w).sum());
row!("flatten", flatten: (x [2, 3, 2] Normal) () (w [2, 6] Normal)
    => (&x.flatten() * w).sum());

// Fused element-wise regions (the graph shows `fused`): a layer's bias add
// and activation, `relu(x + b)`, with the bias broadcast (every `a + b` at
// least 0.5 away from 0); a chain of unary ops on one tensor (`square` is
// `x * x`, `relu` sees positive squares); and a region of three operands
// with a constant scalar, the gated unit `tanh(a) * sigmoid(b + c)`.
row!("fused region" as "fused", fused_bias_relu:
    (a [3, 4] AwayFromZero(1.0, 2.0), b [4] Uniform(-0.5, 0.5)) () (w [3, 4] Normal)
    => (&(a + b).relu() * w).sum());
row!("fused region" as "fused", fused_chain: (a [3, 4] AwayFromZero(0.3, 1.5)) () (w [3, 4] Normal)
    => (&(-a).sin().exp().tanh().square().relu().sigmoid() * w).sum();
    tape => (&a.neg().sin().exp().tanh().square().relu().sigmoid() * w).sum());
row!("fused region" as "fused", fused_gate:
    (a [3, 4] Normal, b [3, 4] Normal, c [4] Normal) () (w [3, 4] Normal)
    => (&(&a.tanh() * &(&(b + c) * 0.5).sigmoid()) * w).sum();
    tape => (&(&a.tanh() * &(b + c).mul_scalar(0.5).sigmoid()) * w).sum());
