//! The entries of the op table, one per op: spelling and operands, then its
//! forward, adjoint and tangent side by side. Kernel paths are under the
//! runtime's `ops` modules (`runtime/src/tensor/ops/`).

use super::Backward::{self, Custom as CustomAdjoint};
use super::Forward::{self, Custom as CustomForward, Kernel, Method};
use super::Gives::{Needed, Pair, PairSwapped, Single};
use super::Read::*;
use super::Slot::{Data, Scalar, Target, Tensor};
use super::Spelling::{Function, Method as Named, Operator};
use super::Tangent::{self, Custom as CustomTangent, Linear, Symmetric};
use super::{Adjoint, Cx, OpDef, Read, Slot, Spelling, TensorOp as O};
use crate::ir::Op;
use proc_macro2::TokenStream;
use quote::quote;

const UNARY: &[usize] = &[0];
const BINARY: &[usize] = &[0, 1];

/// An entry with what every op has; the modifiers below add the rest.
fn entry(
    op: O,
    spelling: Spelling,
    slots: &'static [Slot],
    forward: Forward,
    backward: Backward,
    tangent: Tangent,
) -> OpDef {
    OpDef {
        op,
        spelling,
        slots,
        scalar_result: false,
        extra_output: false,
        element: None,
        pure: true,
        forward,
        backward,
        tangent,
    }
}

impl OpDef {
    fn element(mut self, op: Op, operands: &'static [usize]) -> OpDef {
        self.element = Some((op, operands));
        self
    }

    fn scalar_result(mut self) -> OpDef {
        self.scalar_result = true;
        self
    }

    fn extra_output(mut self) -> OpDef {
        self.extra_output = true;
        self
    }
}

/// A backward kernel.
fn kernel(path: &'static str, reads: &'static [Read], gives: super::Gives) -> Backward {
    Backward::Kernel(path, reads, gives)
}

/// An element-wise map `x.name()` whose backward kernel `unary::name_backward`
/// reads the input or the output (`saved`).
fn unary(
    op: O,
    name: &'static [&'static str],
    step: Op,
    backward: &'static str,
    saved: Read,
) -> OpDef {
    let reads: &'static [Read] = match saved {
        Output => &[Output, Grad],
        _ => &[Input(0), Grad],
    };
    entry(
        op,
        Named(name),
        &[Tensor],
        Method(name[0], &[]),
        kernel(backward, reads, Single(0)),
        Symmetric,
    )
    .element(step, UNARY)
}

/// A shape op linear in its operand (`x.name(data..)`), its backward kernel
/// reading `reads`.
fn linear(
    op: O,
    name: &'static [&'static str],
    slots: &'static [Slot],
    forward: &'static [Read],
    backward: &'static str,
    reads: &'static [Read],
) -> OpDef {
    entry(
        op,
        Named(name),
        slots,
        Method(name[0], forward),
        kernel(backward, reads, Single(0)),
        Linear,
    )
}

/// The tensor-tensor and tensor-scalar arithmetic ops.
fn arithmetic() -> Vec<OpDef> {
    const TT: &[Slot] = &[Tensor, Tensor];
    const TS: &[Slot] = &[Tensor, Scalar];
    const ST: &[Slot] = &[Scalar, Tensor];
    vec![
        entry(
            O::Add,
            Operator("+"),
            TT,
            CustomForward(|c| binary(c, quote!(+))),
            kernel("binary::add_backward", &[Shape(0), Shape(1), Grad], Pair),
            CustomTangent(|c| {
                let terms = [c.d(0), c.d(1)].into_iter().flatten();
                c.sum(terms.map(|d| c.spread(quote!(#d))).collect())
            }),
        )
        .element(Op::Add, BINARY),
        entry(
            O::Sub,
            Operator("-"),
            TT,
            CustomForward(|c| binary(c, quote!(-))),
            kernel("binary::sub_backward", &[Shape(0), Shape(1), Grad], Pair),
            CustomTangent(|c| {
                let mut terms = Vec::new();
                if let Some(d) = c.d(0) {
                    terms.push(c.spread(quote!(#d)));
                }
                if let Some(d) = c.d(1) {
                    terms.push(c.spread(Cx::neg(quote!(#d))));
                }
                c.sum(terms)
            }),
        )
        .element(Op::Sub, BINARY),
        entry(
            O::Mul,
            Operator("*"),
            TT,
            CustomForward(|c| binary(c, quote!(*))),
            kernel("binary::mul_backward", &[Input(0), Input(1), Grad], Pair),
            CustomTangent(|c| {
                let (a, b) = (c.x(0), c.x(1));
                let mut terms = Vec::new();
                if let Some(d) = c.d(0) {
                    terms.push(c.spread(quote!(&#d * &#b)));
                }
                if let Some(d) = c.d(1) {
                    terms.push(c.spread(quote!(&#a * &#d)));
                }
                c.sum(terms)
            }),
        )
        .element(Op::Mul, BINARY),
        entry(
            O::Div,
            Operator("/"),
            TT,
            CustomForward(|c| binary(c, quote!(/))),
            kernel("binary::div_backward", &[Input(0), Input(1), Grad], Pair),
            CustomTangent(|c| {
                let (b, y) = (c.x(1), c.y());
                let mut terms = Vec::new();
                if let Some(d) = c.d(0) {
                    terms.push(c.spread(quote!(&#d / &#b)));
                }
                if let Some(d) = c.d(1) {
                    terms.push(c.spread(Cx::neg(quote!(&(&#y * &#d) / &#b))));
                }
                c.sum(terms)
            }),
        )
        .element(Op::Div, BINARY),
        entry(
            O::AddScalar,
            Operator("+"),
            TS,
            Kernel("scalar::add_scalar", &[Input(0), Value(1)]),
            kernel("scalar::add_scalar_backward", &[Grad], Pair),
            CustomTangent(|c| shifted(c, c.d(1).map(|d| quote!(#d)))),
        )
        .element(Op::Add, BINARY),
        entry(
            O::SubScalar,
            Operator("-"),
            TS,
            Kernel("scalar::sub_scalar", &[Input(0), Value(1)]),
            kernel("scalar::sub_scalar_backward", &[Grad], Pair),
            CustomTangent(|c| shifted(c, c.d(1).map(|d| quote!(-(#d))))),
        )
        .element(Op::Sub, BINARY),
        entry(
            O::MulScalar,
            Operator("*"),
            TS,
            Kernel("scalar::mul_scalar", &[Input(0), Value(1)]),
            kernel(
                "scalar::mul_scalar_backward",
                &[Input(0), Value(1), Grad],
                Pair,
            ),
            CustomTangent(|c| {
                let (ops, a, b) = (Cx::ops(), c.x(0), c.x(1));
                let mut terms = Vec::new();
                if let Some(d) = c.d(0) {
                    terms.push(quote!(#ops::scalar::mul_scalar(&#d, #b)));
                }
                if let Some(d) = c.d(1) {
                    terms.push(quote!(#ops::scalar::mul_scalar(&#a, #d)));
                }
                c.sum(terms)
            }),
        )
        .element(Op::Mul, BINARY),
        entry(
            O::DivScalar,
            Operator("/"),
            TS,
            Kernel("scalar::div_scalar", &[Input(0), Value(1)]),
            kernel(
                "scalar::div_scalar_backward",
                &[Input(0), Value(1), Grad],
                Pair,
            ),
            CustomTangent(|c| {
                let (ops, b, y) = (Cx::ops(), c.x(1), c.y());
                let mut terms = Vec::new();
                if let Some(d) = c.d(0) {
                    terms.push(quote!(#ops::scalar::div_scalar(&#d, #b)));
                }
                if let Some(d) = c.d(1) {
                    terms.push(quote!(#ops::scalar::mul_scalar(&#y, -(#d) / #b)));
                }
                c.sum(terms)
            }),
        )
        .element(Op::Div, BINARY),
        entry(
            O::RSubScalar,
            Operator("-"),
            ST,
            Kernel("scalar::rsub_scalar", &[Value(0), Input(1)]),
            kernel("scalar::rsub_scalar_backward", &[Grad], PairSwapped),
            CustomTangent(|c| {
                let y = c.y();
                let mut terms = Vec::new();
                if let Some(d) = c.d(0) {
                    terms.push(quote!(::adjoint::Tensor::full(#y.shape(), #d)));
                }
                if let Some(d) = c.d(1) {
                    terms.push(Cx::neg(quote!(#d)));
                }
                c.sum(terms)
            }),
        )
        .element(Op::Sub, BINARY),
        entry(
            O::RDivScalar,
            Operator("/"),
            ST,
            Kernel("scalar::rdiv_scalar", &[Value(0), Input(1)]),
            kernel(
                "scalar::rdiv_scalar_backward",
                &[Value(0), Input(1), Grad],
                PairSwapped,
            ),
            CustomTangent(|c| {
                let (ops, b, y) = (Cx::ops(), c.x(1), c.y());
                let mut terms = Vec::new();
                if let Some(d) = c.d(0) {
                    terms.push(quote!(#ops::scalar::rdiv_scalar(#d, &#b)));
                }
                if let Some(d) = c.d(1) {
                    terms.push(Cx::neg(quote!(&(&#y * &#d) / &#b)));
                }
                c.sum(terms)
            }),
        )
        .element(Op::Div, BINARY),
        entry(
            O::Neg,
            Operator("neg"),
            &[Tensor],
            Kernel("unary::neg", &[Input(0)]),
            kernel("unary::neg_backward", &[Grad], Single(0)),
            Linear,
        )
        .element(Op::Neg, UNARY),
    ]
}

/// `&a op &b`.
fn binary(c: &Cx, op: TokenStream) -> TokenStream {
    let (a, b) = (c.x(0), c.x(1));
    quote!(&#a #op &#b)
}

/// The tangent of `x ± s`: `dx ± ds`, given `±ds`.
fn shifted(c: &Cx, ds: Option<TokenStream>) -> TokenStream {
    let (ops, y) = (Cx::ops(), c.y());
    let ds = ds.unwrap_or_else(|| quote!(0.0));
    match c.d(0) {
        Some(d) => quote!(#ops::scalar::add_scalar(&#d, #ds)),
        None => quote!(::adjoint::Tensor::full(#y.shape(), #ds)),
    }
}

/// Products, shapes and indexing.
fn structural() -> Vec<OpDef> {
    const TD: &[Slot] = &[Tensor, Data];
    const TDD: &[Slot] = &[Tensor, Data, Data];
    vec![
        entry(
            O::MatMul,
            Named(&["matmul"]),
            &[Tensor, Tensor],
            Method("matmul", &[Input(1)]),
            CustomAdjoint(|c| match (c.needs(0), c.needs(1)) {
                (true, true) => Adjoint::Pair {
                    call: c.kernel("matmul::matmul_backward", &[Input(0), Input(1), Grad]),
                    swap: false,
                },
                (true, false) => Adjoint::Single {
                    operand: 0,
                    expr: c.kernel("matmul::matmul_backward_lhs", &[Input(0), Input(1), Grad]),
                },
                _ => Adjoint::Single {
                    operand: 1,
                    expr: c.kernel("matmul::matmul_backward_rhs", &[Input(0), Input(1), Grad]),
                },
            }),
            CustomTangent(|c| {
                let (a, b) = (c.x(0), c.x(1));
                let mut terms = Vec::new();
                if let Some(d) = c.d(0) {
                    terms.push(quote!(#d.matmul(&#b)));
                }
                if let Some(d) = c.d(1) {
                    terms.push(quote!(#a.matmul(&#d)));
                }
                c.sum(terms)
            }),
        ),
        linear(
            O::T,
            &["t"],
            &[Tensor],
            &[],
            "transpose::t_backward",
            &[Grad],
        ),
        linear(
            O::Transpose,
            &["transpose"],
            TDD,
            &[Value(1), Value(2)],
            "transpose::transpose_backward",
            &[Value(1), Value(2), Grad],
        ),
        linear(
            O::Reshape,
            &["reshape"],
            TD,
            &[Value(1)],
            "reshape::reshape_backward",
            &[Shape(0), Grad],
        ),
        linear(
            O::Expand,
            &["expand", "broadcast_to"],
            TD,
            &[Value(1)],
            "broadcast::broadcast_to_backward",
            &[Shape(0), Grad],
        ),
        linear(
            O::Select,
            &["select", "index_select"],
            TDD,
            &[Value(1), Value(2)],
            "index::select_backward",
            &[Shape(0), Value(1), Value(2), Grad],
        ),
        linear(
            O::Squeeze,
            &["squeeze"],
            TD,
            &[Value(1)],
            "reshape::squeeze_backward",
            &[Shape(0), Grad],
        ),
        linear(
            O::Unsqueeze,
            &["unsqueeze"],
            TD,
            &[Value(1)],
            "reshape::unsqueeze_backward",
            &[Shape(0), Grad],
        ),
        linear(
            O::Slice,
            &["slice"],
            TDD,
            &[Value(1), Cloned(2)],
            "index::slice_backward",
            &[Shape(0), Value(1), Cloned(2), Grad],
        ),
    ]
}

/// Element-wise maps.
fn maps() -> Vec<OpDef> {
    vec![
        unary(O::Exp, &["exp"], Op::Exp, "unary::exp_backward", Output),
        unary(O::Ln, &["ln"], Op::Ln, "unary::ln_backward", Input(0)),
        unary(O::Sqrt, &["sqrt"], Op::Sqrt, "unary::sqrt_backward", Output),
        unary(
            O::Square,
            &["square"],
            Op::Mul,
            "unary::square_backward",
            Input(0),
        )
        .element(Op::Mul, &[0, 0]),
        unary(O::Abs, &["abs"], Op::Abs, "unary::abs_backward", Input(0)),
        unary(O::Sin, &["sin"], Op::Sin, "unary::sin_backward", Input(0)),
        unary(O::Cos, &["cos"], Op::Cos, "unary::cos_backward", Input(0)),
        unary(O::Tanh, &["tanh"], Op::Tanh, "unary::tanh_backward", Output),
        unary(
            O::Sigmoid,
            &["sigmoid"],
            Op::Sigmoid,
            "unary::sigmoid_backward",
            Output,
        ),
        unary(O::Relu, &["relu"], Op::Relu, "unary::relu_backward", Output),
        entry(
            O::Powf,
            Named(&["powf"]),
            &[Tensor, Scalar],
            Method("powf", &[Value(1)]),
            CustomAdjoint(|c| with_scalar_partial(c, &POWF)),
            CustomTangent(|c| scalar_operand_tangent(c, &POWF)),
        )
        .element(Op::Powf, BINARY),
        entry(
            O::LeakyRelu,
            Named(&["leaky_relu"]),
            &[Tensor, Scalar],
            Method("leaky_relu", &[Value(1)]),
            CustomAdjoint(|c| with_scalar_partial(c, &LEAKY_RELU)),
            CustomTangent(|c| scalar_operand_tangent(c, &LEAKY_RELU)),
        ),
    ]
}

/// The kernels of an element-wise op with a scalar parameter `s`
/// (`x.powf(s)`, `x.leaky_relu(s)`): the tensor's adjoint kernel (reading
/// `x`, `s`, the adjoint) and `∂y/∂s` element-wise, with what it reads.
struct ScalarParameter {
    backward: &'static str,
    partial: &'static str,
    partial_reads: &'static [Read],
}

/// `x^s`: the exponent's partial `y · ln x` reads the output.
const POWF: ScalarParameter = ScalarParameter {
    backward: "unary::powf_backward",
    partial: "unary::powf_exponent_partial",
    partial_reads: &[Input(0), Output],
};

/// The leaky rectifier: the slope's partial reads only the input.
const LEAKY_RELU: ScalarParameter = ScalarParameter {
    backward: "unary::leaky_relu_backward",
    partial: "unary::leaky_relu_slope_partial",
    partial_reads: &[Input(0)],
};

/// The adjoint of `x.f(s)`: the tensor kernel for `x`, the summed partial
/// times the adjoint for `s`.
fn with_scalar_partial(c: &Cx, op: &ScalarParameter) -> Adjoint {
    let dx = c.kernel(op.backward, &[Input(0), Value(1), Grad]);
    let partial = c.kernel(op.partial, op.partial_reads);
    let g = c.g();
    let ds = quote!((&#partial * &#g).sum());
    match (c.needs(0), c.needs(1)) {
        (true, true) => Adjoint::Pair {
            call: quote!((#dx, #ds)),
            swap: false,
        },
        (true, false) => Adjoint::Single {
            operand: 0,
            expr: dx,
        },
        _ => Adjoint::Single {
            operand: 1,
            expr: ds,
        },
    }
}

/// The tangent of `x.f(s)`: the tensor kernel applied to `x`'s tangent,
/// plus the partial times `s`'s.
fn scalar_operand_tangent(c: &Cx, op: &ScalarParameter) -> TokenStream {
    let (ops, a, b) = (Cx::ops(), c.x(0), c.x(1));
    let path: TokenStream = op.backward.parse().unwrap_or_default();
    let mut terms = Vec::new();
    if let Some(d) = c.d(0) {
        terms.push(quote!(#ops::#path(&#a, #b, &#d)));
    }
    if let Some(d) = c.d(1) {
        let partial = c.kernel(op.partial, op.partial_reads);
        terms.push(quote!(#ops::scalar::mul_scalar(&#partial, #d)));
    }
    c.sum(terms)
}

/// Reductions, softmax and losses.
fn reductions() -> Vec<OpDef> {
    const TD: &[Slot] = &[Tensor, Data];
    const TDD: &[Slot] = &[Tensor, Data, Data];
    vec![
        linear(
            O::Sum,
            &["sum"],
            &[Tensor],
            &[],
            "reduce::sum_backward",
            &[Shape(0), GradValue],
        )
        .scalar_result(),
        linear(
            O::Mean,
            &["mean"],
            &[Tensor],
            &[],
            "reduce::mean_backward",
            &[Shape(0), GradValue],
        )
        .scalar_result(),
        entry(
            O::Max,
            Named(&["max"]),
            &[Tensor],
            Method("max", &[]),
            kernel("reduce::max_backward", &[Input(0), GradValue], Single(0)),
            CustomTangent(|c| {
                let (ops, a) = (Cx::ops(), c.x(0));
                c.d(0).map_or(
                    quote!(0.0),
                    |d| quote!((&#ops::reduce::max_backward(&#a, 1.0) * &#d).sum()),
                )
            }),
        )
        .scalar_result(),
        linear(
            O::SumAxis,
            &["sum_axis"],
            TDD,
            &[Value(1), Value(2)],
            "reduce::sum_axis_backward",
            &[Shape(0), Value(1), Grad],
        ),
        linear(
            O::MeanAxis,
            &["mean_axis"],
            TDD,
            &[Value(1), Value(2)],
            "reduce::mean_axis_backward",
            &[Shape(0), Value(1), Grad],
        ),
        entry(
            O::MaxAxis,
            Named(&["max_axis"]),
            TDD,
            Method("max_axis", &[Value(1), Value(2)]),
            kernel(
                "reduce::max_axis_backward",
                &[Input(0), Value(1), Grad],
                Single(0),
            ),
            CustomTangent(|c| {
                let (ops, a, b, k, y) = (Cx::ops(), c.x(0), c.x(1), c.x(2), c.y());
                c.d(0).map_or_else(|| c.zeros(), |d| {
                    quote!((&#ops::reduce::max_axis_backward(&#a, #b, &::adjoint::Tensor::ones(#y.shape())) * &#d).sum_axis(#b, #k))
                })
            }),
        ),
        entry(
            O::Softmax,
            Named(&["softmax"]),
            TD,
            Method("softmax", &[Value(1)]),
            kernel(
                "softmax::softmax_backward",
                &[Output, Value(1), Grad],
                Single(0),
            ),
            Symmetric,
        ),
        entry(
            O::LogSoftmax,
            Named(&["log_softmax"]),
            TD,
            Method("log_softmax", &[Value(1)]),
            kernel(
                "softmax::log_softmax_backward",
                &[Output, Value(1), Grad],
                Single(0),
            ),
            CustomTangent(|c| {
                let (b, y) = (c.x(1), c.y());
                c.d(0).map_or_else(
                    || c.zeros(),
                    |d| quote!(&#d - &(&#y.exp() * &#d).sum_axis(#b, true)),
                )
            }),
        ),
        entry(
            O::Normalize,
            Named(&["normalize"]),
            TD,
            Method("normalize", &[Value(1)]),
            kernel(
                "normalize::normalize_backward",
                &[Input(0), Value(1), Grad],
                Single(0),
            ),
            CustomTangent(|c| {
                let (a, b, y) = (c.x(0), c.x(1), c.y());
                c.d(0).map_or_else(
                    || c.zeros(),
                    |d| quote!(&(&#d - &(&#y * &#d.sum_axis(#b, true))) / &#a.sum_axis(#b, true)),
                )
            }),
        ),
        entry(
            O::CrossEntropy,
            Function("cross_entropy"),
            &[Tensor, Target],
            Kernel("loss::cross_entropy", &[Input(0), Value(1)]),
            kernel(
                "loss::cross_entropy_backward",
                &[Input(0), Value(1), GradValue],
                Single(0),
            ),
            CustomTangent(|c| {
                let (ops, a, b) = (Cx::ops(), c.x(0), c.x(1));
                c.d(0).map_or(
                    quote!(0.0),
                    |d| quote!((&#ops::loss::cross_entropy_backward(&#a, #b, 1.0) * &#d).sum()),
                )
            }),
        )
        .scalar_result(),
        entry(
            O::Mse,
            Function("mse"),
            &[Tensor, Tensor],
            Kernel("loss::mse", &[Input(0), Input(1)]),
            kernel("loss::mse_backward", &[Input(0), Input(1), GradValue], Pair),
            CustomTangent(|c| pair_loss_tangent(c, quote!(mse_backward))),
        )
        .scalar_result(),
        entry(
            O::L1,
            Function("l1"),
            &[Tensor, Tensor],
            Kernel("loss::l1", &[Input(0), Input(1)]),
            kernel("loss::l1_backward", &[Input(0), Input(1), GradValue], Pair),
            CustomTangent(|c| pair_loss_tangent(c, quote!(l1_backward))),
        )
        .scalar_result(),
    ]
}

/// The tangent of a loss of two tensors: each varying operand's unit
/// adjoint times its tangent, summed.
fn pair_loss_tangent(c: &Cx, backward: TokenStream) -> TokenStream {
    let (ops, a, b) = (Cx::ops(), c.x(0), c.x(1));
    let mut terms = Vec::new();
    if let Some(d) = c.d(0) {
        terms.push(quote!((&#ops::loss::#backward(&#a, &#b, 1.0).0 * &#d).sum()));
    }
    if let Some(d) = c.d(1) {
        terms.push(quote!((&#ops::loss::#backward(&#a, &#b, 1.0).1 * &#d).sum()));
    }
    Cx::scalar_sum(terms)
}

/// Convolution, pooling, batch norm, dropout.
fn convolutional() -> Vec<OpDef> {
    const TDDD: &[Slot] = &[Tensor, Data, Data, Data];
    vec![
        entry(
            O::Conv2d,
            Named(&["conv2d"]),
            &[Tensor, Tensor, Data, Data],
            Method("conv2d", &[Input(1), Value(2), Value(3)]),
            kernel(
                "conv::conv2d_backward",
                &[Input(0), Input(1), Value(2), Value(3), Grad, Needs(2)],
                Needed(2),
            ),
            CustomTangent(|c| {
                let (a, b, s, p) = (c.x(0), c.x(1), c.x(2), c.x(3));
                let mut terms = Vec::new();
                if let Some(t) = c.d(0) {
                    terms.push(quote!(#t.conv2d(&#b, #s, #p)));
                }
                if let Some(t) = c.d(1) {
                    terms.push(quote!(#a.conv2d(&#t, #s, #p)));
                }
                c.sum(terms)
            }),
        ),
        entry(
            O::MaxPool2d,
            Named(&["max_pool2d"]),
            TDDD,
            Method("max_pool2d_with_indices", &[Value(1), Value(2), Value(3)]),
            kernel(
                "pool::max_pool2d_backward",
                &[Shape(0), Extra, Grad],
                Single(0),
            ),
            CustomTangent(|c| {
                let (ops, extra, y) = (Cx::ops(), c.extra(), c.y());
                c.d(0).map_or_else(
                    || c.zeros(),
                    |t| quote!(#ops::pool::max_pool2d_tangent(&#extra, &#t, #y.shape())),
                )
            }),
        )
        .extra_output(),
        linear(
            O::AvgPool2d,
            &["avg_pool2d"],
            TDDD,
            &[Value(1), Value(2), Value(3)],
            "pool::avg_pool2d_backward",
            &[Shape(0), Value(1), Value(2), Value(3), Grad],
        ),
        linear(
            O::GlobalAvgPool,
            &["global_avg_pool"],
            &[Tensor],
            &[],
            "pool::global_avg_pool_backward",
            &[Shape(0), Grad],
        ),
        entry(
            O::BatchNorm,
            Named(&["batch_norm"]),
            &[Tensor, Tensor, Tensor, Data],
            Method("batch_norm_with_stats", &[Input(1), Input(2), F64(3)]),
            kernel(
                "batch_norm::batch_norm_backward",
                &[Input(0), Input(1), Extra, Grad, Needs(3)],
                Needed(3),
            ),
            CustomTangent(|c| {
                let some = |t: Option<&TokenStream>| match t {
                    Some(t) => quote!(::core::option::Option::Some(&#t)),
                    None => quote!(::core::option::Option::None),
                };
                let (ops, a, gamma, extra) = (Cx::ops(), c.x(0), c.x(1), c.extra());
                let (s0, s1, s2) = (some(c.d(0)), some(c.d(1)), some(c.d(2)));
                quote!(#ops::batch_norm::batch_norm_tangent(&#a, &#gamma, &#extra, #s0, #s1, #s2))
            }),
        )
        .extra_output(),
        linear(
            O::Dropout,
            &["dropout"],
            &[Tensor, Data, Data],
            &[F64(1), Value(2)],
            "dropout::dropout_backward",
            &[F64(1), Value(2), Grad],
        ),
        linear(
            O::Flatten,
            &["flatten"],
            &[Tensor],
            &[],
            "reshape::flatten_backward",
            &[Shape(0), Grad],
        ),
    ]
}

/// The whole table, in [`O`] order.
pub(super) fn ops() -> Vec<OpDef> {
    let mut table = arithmetic();
    table.extend(structural());
    table.extend(maps());
    table.extend(reductions());
    table.extend(convolutional());
    table
}
