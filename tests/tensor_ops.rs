//! Every tensor op's adjoint, through the tape, passes a finite-difference
//! gradient check in f64 on random shapes, broadcast cases included.
//!
//! Each case builds `loss = Σ w ⊙ op(inputs)` with a fixed random weight `w`
//! (so the check covers a general vector-Jacobian product, not only the
//! all-ones one) and compares the tape's gradients with central differences
//! of the same forward computation.

use adjoint::check::{gradcheck, Tolerance};
use adjoint::tape::{tensor::concat, Graph, TensorVar};
use adjoint::tensor::rand::{rngs::StdRng, Rng, SeedableRng};
use adjoint::Tensor;

type Op = for<'g> fn(&[TensorVar<'g, f64>]) -> TensorVar<'g, f64>;

/// A test case: a name, the input shapes, the op, and an input transform
/// keeping the inputs in the op's domain (e.g. positive for `ln`).
struct Case {
    name: &'static str,
    shapes: &'static [&'static [usize]],
    op: Op,
    domain: fn(f64) -> f64,
}

fn any(x: f64) -> f64 {
    x
}

fn positive(x: f64) -> f64 {
    x.abs() + 0.5
}

/// Away from zero, for kinks (relu, abs) and poles (division).
fn away_from_zero(x: f64) -> f64 {
    if x >= 0.0 {
        x + 0.3
    } else {
        x - 0.3
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "add",
            shapes: &[&[3, 4], &[3, 4]],
            op: |v| &v[0] + &v[1],
            domain: any,
        },
        Case {
            name: "add broadcast row",
            shapes: &[&[3, 4], &[4]],
            op: |v| &v[0] + &v[1],
            domain: any,
        },
        Case {
            name: "sub broadcast column",
            shapes: &[&[3, 4], &[3, 1]],
            op: |v| &v[0] - &v[1],
            domain: any,
        },
        Case {
            name: "mul broadcast both",
            shapes: &[&[2, 1, 4], &[3, 1]],
            op: |v| &v[0] * &v[1],
            domain: any,
        },
        Case {
            name: "div",
            shapes: &[&[3, 4], &[3, 4]],
            op: |v| &v[0] / &v[1],
            domain: away_from_zero,
        },
        Case {
            name: "div broadcast",
            shapes: &[&[4], &[2, 3, 4]],
            op: |v| &v[0] / &v[1],
            domain: away_from_zero,
        },
        Case {
            name: "add_scalar",
            shapes: &[&[2, 3]],
            op: |v| v[0].add_scalar(1.5),
            domain: any,
        },
        Case {
            name: "mul_scalar",
            shapes: &[&[2, 3]],
            op: |v| v[0].mul_scalar(-0.7),
            domain: any,
        },
        Case {
            name: "matmul",
            shapes: &[&[3, 5], &[5, 2]],
            op: |v| v[0].matmul(&v[1]),
            domain: any,
        },
        Case {
            name: "matmul batched",
            shapes: &[&[2, 3, 4], &[2, 4, 5]],
            op: |v| v[0].matmul(&v[1]),
            domain: any,
        },
        Case {
            name: "matmul batched x matrix",
            shapes: &[&[2, 3, 4], &[4, 5]],
            op: |v| v[0].matmul(&v[1]),
            domain: any,
        },
        Case {
            name: "t",
            shapes: &[&[3, 5]],
            op: |v| v[0].t(),
            domain: any,
        },
        Case {
            name: "transpose",
            shapes: &[&[2, 3, 4]],
            op: |v| v[0].transpose(0, 2),
            domain: any,
        },
        Case {
            name: "reshape",
            shapes: &[&[2, 6]],
            op: |v| v[0].reshape(&[3, 4]),
            domain: any,
        },
        Case {
            name: "expand",
            shapes: &[&[3, 1]],
            op: |v| v[0].expand(&[2, 3, 4]),
            domain: any,
        },
        Case {
            name: "select",
            shapes: &[&[4, 3]],
            op: |v| v[0].select(0, &[2, 0, 2, 3]),
            domain: any,
        },
        Case {
            name: "select axis 1",
            shapes: &[&[2, 5]],
            op: |v| v[0].select(1, &[4, 1]),
            domain: any,
        },
        Case {
            name: "squeeze",
            shapes: &[&[3, 1, 2]],
            op: |v| v[0].squeeze(1),
            domain: any,
        },
        Case {
            name: "unsqueeze",
            shapes: &[&[3, 2]],
            op: |v| v[0].unsqueeze(0),
            domain: any,
        },
        Case {
            name: "concat",
            shapes: &[&[2, 3], &[4, 3]],
            op: |v| concat(&[&v[0], &v[1]], 0),
            domain: any,
        },
        Case {
            name: "slice",
            shapes: &[&[3, 6]],
            op: |v| v[0].slice(1, 1..4),
            domain: any,
        },
        Case {
            name: "neg",
            shapes: &[&[3, 2]],
            op: |v| v[0].neg(),
            domain: any,
        },
        Case {
            name: "exp",
            shapes: &[&[3, 2]],
            op: |v| v[0].exp(),
            domain: any,
        },
        Case {
            name: "ln",
            shapes: &[&[3, 2]],
            op: |v| v[0].ln(),
            domain: positive,
        },
        Case {
            name: "sqrt",
            shapes: &[&[3, 2]],
            op: |v| v[0].sqrt(),
            domain: positive,
        },
        Case {
            name: "square",
            shapes: &[&[3, 2]],
            op: |v| v[0].square(),
            domain: any,
        },
        Case {
            name: "powf",
            shapes: &[&[3, 2]],
            op: |v| v[0].powf(2.5),
            domain: positive,
        },
        Case {
            name: "abs",
            shapes: &[&[3, 2]],
            op: |v| v[0].abs(),
            domain: away_from_zero,
        },
        Case {
            name: "sin",
            shapes: &[&[3, 2]],
            op: |v| v[0].sin(),
            domain: any,
        },
        Case {
            name: "cos",
            shapes: &[&[3, 2]],
            op: |v| v[0].cos(),
            domain: any,
        },
        Case {
            name: "tanh",
            shapes: &[&[3, 2]],
            op: |v| v[0].tanh(),
            domain: any,
        },
        Case {
            name: "sigmoid",
            shapes: &[&[3, 2]],
            op: |v| v[0].sigmoid(),
            domain: any,
        },
        Case {
            name: "relu",
            shapes: &[&[3, 2]],
            op: |v| v[0].relu(),
            domain: away_from_zero,
        },
        Case {
            name: "leaky_relu",
            shapes: &[&[3, 2]],
            op: |v| v[0].leaky_relu(0.1),
            domain: away_from_zero,
        },
        Case {
            name: "sum",
            shapes: &[&[3, 4]],
            op: |v| v[0].sum(),
            domain: any,
        },
        Case {
            name: "mean",
            shapes: &[&[3, 4]],
            op: |v| v[0].mean(),
            domain: any,
        },
        Case {
            name: "max",
            shapes: &[&[3, 4]],
            op: |v| v[0].max(),
            domain: any,
        },
        Case {
            name: "sum_axis",
            shapes: &[&[3, 4]],
            op: |v| v[0].sum_axis(1, false),
            domain: any,
        },
        Case {
            name: "sum_axis keepdim",
            shapes: &[&[3, 4, 2]],
            op: |v| v[0].sum_axis(0, true),
            domain: any,
        },
        Case {
            name: "mean_axis",
            shapes: &[&[3, 4]],
            op: |v| v[0].mean_axis(0, false),
            domain: any,
        },
        Case {
            name: "max_axis",
            shapes: &[&[3, 4]],
            op: |v| v[0].max_axis(1, true),
            domain: any,
        },
        Case {
            name: "softmax",
            shapes: &[&[3, 4]],
            op: |v| v[0].softmax(1),
            domain: any,
        },
        Case {
            name: "softmax axis 0",
            shapes: &[&[3, 4]],
            op: |v| v[0].softmax(0),
            domain: any,
        },
        Case {
            name: "log_softmax",
            shapes: &[&[3, 4]],
            op: |v| v[0].log_softmax(1),
            domain: any,
        },
        Case {
            name: "cross_entropy",
            shapes: &[&[4, 3]],
            op: |v| v[0].cross_entropy(&[2, 0, 1, 1]),
            domain: any,
        },
        Case {
            name: "mse",
            shapes: &[&[3, 4], &[3, 4]],
            op: |v| v[0].mse(&v[1]),
            domain: any,
        },
        Case {
            name: "l1",
            shapes: &[&[3, 4], &[3, 4]],
            op: |v| v[0].l1(&v[1]),
            domain: away_from_zero,
        },
        Case {
            name: "normalize",
            shapes: &[&[3, 4]],
            op: |v| v[0].normalize(1),
            domain: positive,
        },
    ]
}

/// `Σ w ⊙ op(inputs)` on a fresh tape; returns the loss and the gradients.
fn run(case: &Case, inputs: &[Tensor<f64>], weight: &Tensor<f64>) -> (f64, Vec<Tensor<f64>>) {
    let graph = Graph::new();
    let vars: Vec<_> = inputs.iter().map(|t| graph.leaf(t.clone())).collect();
    let out = (case.op)(&vars);
    let w = graph.constant(weight.clone());
    let loss = (&out * &w).sum();
    let grads = loss.backward();
    (loss.item(), vars.iter().map(|v| grads.wrt(v)).collect())
}

#[test]
fn every_op_adjoint_passes_gradcheck() {
    let mut rng = StdRng::seed_from_u64(17);
    let tol = Tolerance {
        rtol: 1e-6,
        atol: 1e-8,
    };
    let mut failures = Vec::new();
    for case in cases() {
        let inputs: Vec<Tensor<f64>> = case
            .shapes
            .iter()
            .map(|s| {
                let t = Tensor::<f64>::randn(s, &mut rng);
                Tensor::from_vec(t.data().iter().map(|x| (case.domain)(*x)).collect(), s)
                    .expect("shape")
            })
            .collect();
        let out_shape = {
            let graph = Graph::new();
            let vars: Vec<_> = inputs.iter().map(|t| graph.constant(t.clone())).collect();
            (case.op)(&vars).shape().to_vec()
        };
        let weight = Tensor::from_vec(
            (0..out_shape.iter().product::<usize>())
                .map(|_| rng.random_range(-1.0..1.0))
                .collect(),
            &out_shape,
        )
        .expect("shape");
        let (_, analytic) = run(&case, &inputs, &weight);
        let f = |x: &[Tensor<f64>]| run(&case, x, &weight).0;
        if let Err(e) = gradcheck(f, &inputs, &analytic, tol) {
            failures.push(format!("{}: {e}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "adjoints failing gradcheck:\n{}",
        failures.join("\n")
    );
}

#[test]
fn constants_get_no_gradient_work() {
    let graph = Graph::<f64>::new();
    let x = graph.constant(Tensor::ones(&[2, 3]));
    let w = graph.leaf(Tensor::ones(&[3, 1]));
    let loss = x.matmul(&w).sum();
    let grads = loss.backward();
    assert_eq!(grads.wrt(&w).to_vec(), vec![2.0, 2.0, 2.0]);
    assert_eq!(
        grads.wrt(&x).to_vec(),
        vec![0.0; 6],
        "no gradient is computed for data"
    );
}
