//! The derivative rule table of tensor ops: for every op, the Rust code of
//! its forward value and of its adjoint, side by side. The adjoint code calls
//! the runtime's `*_backward` kernel of the op (the same kernels the tape
//! uses), so this table only wires values to kernels.
//!
//! Operands arrive as the idents of SSA values: tensors (borrowed with `&`
//! where a kernel takes a reference), scalars of the float type, and
//! non-differentiable data (axes, shapes, labels) passed exactly as the user
//! wrote them (`&[3, 4]`, `labels`).
//!
//! To add a tensor op: a variant here, its name in [`METHODS`] or
//! [`FUNCTIONS`], its [`slots`], one arm in [`forward`], [`adjoint`] and
//! [`tangent`] ([`has_extra_output`] if its backward reads more than its
//! operands and value; its scalar op in [`scalar_step`] if it is
//! element-wise, so it joins fused regions), and a row in
//! `tests/op_matrix.rs` (`src/tests/op_matrix.rs` fails without one); the
//! kernels go in `runtime/src/tensor/ops/`. docs/ARCHITECTURE.md walks
//! through an example.

use proc_macro2::TokenStream;
use quote::quote;

/// A tensor operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TensorOp {
    /// tensor ⊕ tensor with broadcasting.
    Add,
    Sub,
    Mul,
    Div,
    /// tensor ⊕ scalar.
    AddScalar,
    SubScalar,
    MulScalar,
    DivScalar,
    /// scalar ⊕ tensor.
    RSubScalar,
    RDivScalar,
    Neg,
    MatMul,
    T,
    Transpose,
    Reshape,
    Expand,
    Select,
    Squeeze,
    Unsqueeze,
    Slice,
    Exp,
    Ln,
    Sqrt,
    Square,
    Abs,
    Sin,
    Cos,
    Tanh,
    Sigmoid,
    Relu,
    Powf,
    LeakyRelu,
    Sum,
    Mean,
    Max,
    SumAxis,
    MeanAxis,
    MaxAxis,
    Softmax,
    LogSoftmax,
    Normalize,
    CrossEntropy,
    Mse,
    L1,
    /// `x.conv2d(&w, stride, padding)`.
    Conv2d,
    /// `x.max_pool2d(kernel, stride, padding)`; its forward also returns the
    /// argmax indices the backward routes the gradient by.
    MaxPool2d,
    AvgPool2d,
    GlobalAvgPool,
    /// `x.batch_norm(&gamma, &beta, eps)` (training-mode statistics); its
    /// forward also returns the per-channel statistics its backward reads.
    BatchNorm,
    /// `x.dropout(p, seed)`: the mask is regenerated from the seed.
    Dropout,
    Flatten,
    /// A region of element-wise ops fused by the compiler into one loop
    /// forward and one backward (never written by users); the index is into
    /// `Function::regions`, its operands the region's.
    Fused(usize),
}

/// What an operand of a tensor op is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// A tensor (differentiable).
    Tensor,
    /// A scalar of the float type (differentiable).
    Scalar,
    /// Data passed through: axes, shapes, labels, constants.
    Data,
    /// A loss's target: class labels or a tensor of (one-hot or soft)
    /// probabilities. Not differentiated: it must not vary.
    Target,
}

/// Whether the op's result is a tensor (else a scalar of the float type).
pub fn returns_tensor(op: TensorOp) -> bool {
    !matches!(
        op,
        TensorOp::Sum
            | TensorOp::Mean
            | TensorOp::Max
            | TensorOp::CrossEntropy
            | TensorOp::Mse
            | TensorOp::L1
    )
}

/// The operand slots of an op, receiver first.
pub fn slots(op: TensorOp) -> &'static [Slot] {
    use Slot::*;
    use TensorOp as O;
    match op {
        O::Add | O::Sub | O::Mul | O::Div | O::MatMul | O::Mse | O::L1 => &[Tensor, Tensor],
        O::AddScalar | O::SubScalar | O::MulScalar | O::DivScalar => &[Tensor, Scalar],
        O::RSubScalar | O::RDivScalar => &[Scalar, Tensor],
        O::Fused(_) => &[],
        O::Neg
        | O::T
        | O::Exp
        | O::Ln
        | O::Sqrt
        | O::Square
        | O::Abs
        | O::Sin
        | O::Cos
        | O::Tanh
        | O::Sigmoid
        | O::Relu
        | O::Sum
        | O::Mean
        | O::Max => &[Tensor],
        O::Transpose | O::SumAxis | O::MeanAxis | O::MaxAxis => &[Tensor, Data, Data],
        O::Slice | O::Select => &[Tensor, Data, Data],
        O::Reshape
        | O::Expand
        | O::Squeeze
        | O::Unsqueeze
        | O::Softmax
        | O::LogSoftmax
        | O::Normalize => &[Tensor, Data],
        O::CrossEntropy => &[Tensor, Target],
        O::Powf | O::LeakyRelu => &[Tensor, Scalar],
        O::Conv2d => &[Tensor, Tensor, Data, Data],
        O::MaxPool2d | O::AvgPool2d => &[Tensor, Data, Data, Data],
        O::GlobalAvgPool | O::Flatten => &[Tensor],
        O::BatchNorm => &[Tensor, Tensor, Tensor, Data],
        O::Dropout => &[Tensor, Data, Data],
    }
}

/// Whether the op's forward returns `(value, extra)`: something its backward
/// (and tangent) reads besides operands and value (max pooling's argmax,
/// batch norm's statistics). Generated code keeps it as `v_extra`.
pub fn has_extra_output(op: TensorOp) -> bool {
    matches!(op, TensorOp::MaxPool2d | TensorOp::BatchNorm)
}

/// Tensor methods by name (the first name of an op is how messages spell it).
pub const METHODS: &[(&str, TensorOp)] = &[
    ("matmul", TensorOp::MatMul),
    ("t", TensorOp::T),
    ("transpose", TensorOp::Transpose),
    ("reshape", TensorOp::Reshape),
    ("expand", TensorOp::Expand),
    ("broadcast_to", TensorOp::Expand),
    ("select", TensorOp::Select),
    ("index_select", TensorOp::Select),
    ("squeeze", TensorOp::Squeeze),
    ("unsqueeze", TensorOp::Unsqueeze),
    ("slice", TensorOp::Slice),
    ("exp", TensorOp::Exp),
    ("ln", TensorOp::Ln),
    ("sqrt", TensorOp::Sqrt),
    ("square", TensorOp::Square),
    ("abs", TensorOp::Abs),
    ("sin", TensorOp::Sin),
    ("cos", TensorOp::Cos),
    ("tanh", TensorOp::Tanh),
    ("sigmoid", TensorOp::Sigmoid),
    ("relu", TensorOp::Relu),
    ("powf", TensorOp::Powf),
    ("leaky_relu", TensorOp::LeakyRelu),
    ("sum", TensorOp::Sum),
    ("mean", TensorOp::Mean),
    ("max", TensorOp::Max),
    ("sum_axis", TensorOp::SumAxis),
    ("mean_axis", TensorOp::MeanAxis),
    ("max_axis", TensorOp::MaxAxis),
    ("softmax", TensorOp::Softmax),
    ("log_softmax", TensorOp::LogSoftmax),
    ("normalize", TensorOp::Normalize),
    ("conv2d", TensorOp::Conv2d),
    ("max_pool2d", TensorOp::MaxPool2d),
    ("avg_pool2d", TensorOp::AvgPool2d),
    ("global_avg_pool", TensorOp::GlobalAvgPool),
    ("batch_norm", TensorOp::BatchNorm),
    ("dropout", TensorOp::Dropout),
    ("flatten", TensorOp::Flatten),
];

/// The op a tensor method of this name denotes.
pub fn method_op(name: &str) -> Option<TensorOp> {
    METHODS.iter().find(|(n, _)| *n == name).map(|(_, op)| *op)
}

/// Tensor functions by name (`cross_entropy(&logits, labels)`).
pub const FUNCTIONS: &[(&str, TensorOp)] = &[
    ("cross_entropy", TensorOp::CrossEntropy),
    ("mse", TensorOp::Mse),
    ("l1", TensorOp::L1),
];

/// The op a free function of this name denotes.
pub fn function_op(name: &str) -> Option<TensorOp> {
    FUNCTIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, op)| *op)
}

/// Every tensor method and function the compiler knows, for error messages
/// (and the README's list, which a test keeps equal to the tables).
pub fn supported_tensor_ops() -> String {
    let names =
        |table: &[(&str, TensorOp)]| table.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(" ");
    format!("{}, and the functions {}", names(METHODS), names(FUNCTIONS))
}

/// The op as users write it (`cross_entropy`, `mean_axis`), for messages and graphs.
pub fn name(op: TensorOp) -> String {
    use TensorOp as O;
    let written = match op {
        O::Add => "+",
        O::Sub => "-",
        O::Mul => "*",
        O::Div => "/",
        O::AddScalar => "+",
        O::SubScalar | O::RSubScalar => "-",
        O::MulScalar => "*",
        O::DivScalar | O::RDivScalar => "/",
        O::Neg => "neg",
        O::Fused(_) => "fused",
        other => METHODS
            .iter()
            .chain(FUNCTIONS)
            .find(|(_, o)| *o == other)
            .map_or("", |(name, _)| name),
    };
    written.to_string()
}

fn ops() -> TokenStream {
    quote!(::adjoint::__private::ops)
}

/// The Rust expression computing `op(x)`.
pub fn forward(op: TensorOp, x: &[TokenStream]) -> TokenStream {
    use TensorOp as O;
    let a = &x[0];
    let b = x.get(1);
    let c = x.get(2);
    let d = x.get(3);
    let ops = ops();
    match op {
        O::Add => quote!(&#a + &#b),
        O::Sub => quote!(&#a - &#b),
        O::Mul => quote!(&#a * &#b),
        O::Div => quote!(&#a / &#b),
        O::AddScalar => quote!(#ops::scalar::add_scalar(&#a, #b)),
        O::SubScalar => quote!(#ops::scalar::sub_scalar(&#a, #b)),
        O::MulScalar => quote!(#ops::scalar::mul_scalar(&#a, #b)),
        O::DivScalar => quote!(#ops::scalar::div_scalar(&#a, #b)),
        O::RSubScalar => quote!(#ops::scalar::rsub_scalar(#a, &#b)),
        O::RDivScalar => quote!(#ops::scalar::rdiv_scalar(#a, &#b)),
        O::Neg => quote!(#ops::unary::neg(&#a)),
        O::MatMul => quote!(#a.matmul(&#b)),
        O::T => quote!(#a.t()),
        O::Transpose => quote!(#a.transpose(#b, #c)),
        O::Reshape => quote!(#a.reshape(#b)),
        O::Expand => quote!(#a.expand(#b)),
        O::Select => quote!(#a.select(#b, #c)),
        O::Squeeze => quote!(#a.squeeze(#b)),
        O::Unsqueeze => quote!(#a.unsqueeze(#b)),
        O::Slice => quote!(#a.slice(#b, ::core::clone::Clone::clone(&#c))),
        O::Exp => quote!(#a.exp()),
        O::Ln => quote!(#a.ln()),
        O::Sqrt => quote!(#a.sqrt()),
        O::Square => quote!(#a.square()),
        O::Abs => quote!(#a.abs()),
        O::Sin => quote!(#a.sin()),
        O::Cos => quote!(#a.cos()),
        O::Tanh => quote!(#a.tanh()),
        O::Sigmoid => quote!(#a.sigmoid()),
        O::Relu => quote!(#a.relu()),
        O::Powf => quote!(#a.powf(#b)),
        O::LeakyRelu => quote!(#a.leaky_relu(#b)),
        O::Sum => quote!(#a.sum()),
        O::Mean => quote!(#a.mean()),
        O::Max => quote!(#a.max()),
        O::SumAxis => quote!(#a.sum_axis(#b, #c)),
        O::MeanAxis => quote!(#a.mean_axis(#b, #c)),
        O::MaxAxis => quote!(#a.max_axis(#b, #c)),
        O::Softmax => quote!(#a.softmax(#b)),
        O::LogSoftmax => quote!(#a.log_softmax(#b)),
        O::Normalize => quote!(#a.normalize(#b)),
        O::CrossEntropy => quote!(#ops::loss::cross_entropy(&#a, #b)),
        O::Mse => quote!(#ops::loss::mse(&#a, &#b)),
        O::L1 => quote!(#ops::loss::l1(&#a, &#b)),
        O::Conv2d => quote!(#a.conv2d(&#b, #c, #d)),
        O::MaxPool2d => quote!(#a.max_pool2d_with_indices(#b, #c, #d)),
        O::AvgPool2d => quote!(#a.avg_pool2d(#b, #c, #d)),
        O::GlobalAvgPool => quote!(#a.global_avg_pool()),
        O::BatchNorm => {
            quote!(#a.batch_norm_with_stats(&#b, &#c, ::core::convert::Into::<f64>::into(#d)))
        }
        O::Dropout => quote!(#a.dropout(::core::convert::Into::<f64>::into(#b), #c)),
        O::Flatten => quote!(#a.flatten()),
        O::Fused(_) => unreachable_fused(),
    }
}

/// The adjoint of `y = op(x)` given the output's adjoint `g`.
pub enum Adjoint {
    /// One call returning the contributions to the first two operands as a
    /// pair; `swap` when the pair is (second, first).
    Pair { call: TokenStream, swap: bool },
    /// The contribution to one operand.
    Single { operand: usize, expr: TokenStream },
    /// One call taking which operands need a gradient (`[bool; n]`, the
    /// differentiable operands in order) and returning a tuple of `Option`s.
    Needed { call: TokenStream, operands: usize },
}

fn single(_n: usize, operand: usize, expr: TokenStream) -> Adjoint {
    Adjoint::Single { operand, expr }
}

/// The adjoint rule of each op; `y` is the output's value, `extra` the
/// forward's extra output ([`has_extra_output`]), `g` its adjoint,
/// `shapes[i]` an expression for operand `i`'s shape (`&[usize]`): rules
/// that need only a shape take it from there, so the operand itself need not
/// be kept alive for the reverse sweep.
#[allow(clippy::too_many_arguments)]
pub fn adjoint(
    op: TensorOp,
    x: &[TokenStream],
    shapes: &[TokenStream],
    y: &TokenStream,
    extra: &TokenStream,
    g: &TokenStream,
    needs: &[bool],
) -> Adjoint {
    use TensorOp as O;
    let a = &x[0];
    let b = x.get(1);
    let c = x.get(2);
    let d = x.get(3);
    let sa = &shapes[0];
    let sb = shapes.get(1);
    let n = x.len();
    let ops = ops();
    let both = |call: TokenStream| Adjoint::Pair { call, swap: false };
    match op {
        O::Add => both(quote!(#ops::binary::add_backward(#sa, #sb, &#g))),
        O::Sub => both(quote!(#ops::binary::sub_backward(#sa, #sb, &#g))),
        O::Mul => both(quote!(#ops::binary::mul_backward(&#a, &#b, &#g))),
        O::Div => both(quote!(#ops::binary::div_backward(&#a, &#b, &#g))),
        O::AddScalar => both(quote!(#ops::scalar::add_scalar_backward(&#g))),
        O::SubScalar => both(quote!(#ops::scalar::sub_scalar_backward(&#g))),
        O::MulScalar => both(quote!(#ops::scalar::mul_scalar_backward(&#a, #b, &#g))),
        O::DivScalar => both(quote!(#ops::scalar::div_scalar_backward(&#a, #b, &#g))),
        O::RSubScalar => Adjoint::Pair {
            call: quote!(#ops::scalar::rsub_scalar_backward(&#g)),
            swap: true,
        },
        O::RDivScalar => Adjoint::Pair {
            call: quote!(#ops::scalar::rdiv_scalar_backward(#a, &#b, &#g)),
            swap: true,
        },
        O::MatMul => {
            if needs[0] && needs[1] {
                both(quote!(#ops::matmul::matmul_backward(&#a, &#b, &#g)))
            } else if needs[0] {
                single(
                    n,
                    0,
                    quote!(#ops::matmul::matmul_backward_lhs(&#a, &#b, &#g)),
                )
            } else {
                single(
                    n,
                    1,
                    quote!(#ops::matmul::matmul_backward_rhs(&#a, &#b, &#g)),
                )
            }
        }
        O::Neg => single(n, 0, quote!(#ops::unary::neg_backward(&#g))),
        O::T => single(n, 0, quote!(#ops::transpose::t_backward(&#g))),
        O::Transpose => single(
            n,
            0,
            quote!(#ops::transpose::transpose_backward(#b, #c, &#g)),
        ),
        O::Reshape => single(n, 0, quote!(#ops::reshape::reshape_backward(#sa, &#g))),
        O::Expand => single(
            n,
            0,
            quote!(#ops::broadcast::broadcast_to_backward(#sa, &#g)),
        ),
        O::Select => single(n, 0, quote!(#ops::index::select_backward(#sa, #b, #c, &#g))),
        O::Squeeze => single(n, 0, quote!(#ops::reshape::squeeze_backward(#sa, &#g))),
        O::Unsqueeze => single(n, 0, quote!(#ops::reshape::unsqueeze_backward(#sa, &#g))),
        O::Slice => single(
            n,
            0,
            quote!(#ops::index::slice_backward(#sa, #b, ::core::clone::Clone::clone(&#c), &#g)),
        ),
        O::Exp => single(n, 0, quote!(#ops::unary::exp_backward(&#y, &#g))),
        O::Ln => single(n, 0, quote!(#ops::unary::ln_backward(&#a, &#g))),
        O::Sqrt => single(n, 0, quote!(#ops::unary::sqrt_backward(&#y, &#g))),
        O::Square => single(n, 0, quote!(#ops::unary::square_backward(&#a, &#g))),
        O::Abs => single(n, 0, quote!(#ops::unary::abs_backward(&#a, &#g))),
        O::Sin => single(n, 0, quote!(#ops::unary::sin_backward(&#a, &#g))),
        O::Cos => single(n, 0, quote!(#ops::unary::cos_backward(&#a, &#g))),
        O::Tanh => single(n, 0, quote!(#ops::unary::tanh_backward(&#y, &#g))),
        O::Sigmoid => single(n, 0, quote!(#ops::unary::sigmoid_backward(&#y, &#g))),
        O::Relu => single(n, 0, quote!(#ops::unary::relu_backward(&#y, &#g))),
        O::Powf | O::LeakyRelu => {
            let (dx, partial) = if op == O::Powf {
                (
                    quote!(#ops::unary::powf_backward(&#a, #b, &#g)),
                    quote!(#ops::unary::powf_exponent_partial(&#a, &#y)),
                )
            } else {
                (
                    quote!(#ops::unary::leaky_relu_backward(&#a, #b, &#g)),
                    quote!(#ops::unary::leaky_relu_slope_partial(&#a)),
                )
            };
            let ds = quote!((&#partial * &#g).sum());
            match (needs[0], needs[1]) {
                (true, true) => both(quote!((#dx, #ds))),
                (true, false) => single(n, 0, dx),
                _ => single(n, 1, ds),
            }
        }
        O::Sum => single(n, 0, quote!(#ops::reduce::sum_backward(#sa, #g))),
        O::Mean => single(n, 0, quote!(#ops::reduce::mean_backward(#sa, #g))),
        O::Max => single(n, 0, quote!(#ops::reduce::max_backward(&#a, #g))),
        O::SumAxis => single(n, 0, quote!(#ops::reduce::sum_axis_backward(#sa, #b, &#g))),
        O::MeanAxis => single(n, 0, quote!(#ops::reduce::mean_axis_backward(#sa, #b, &#g))),
        O::MaxAxis => single(n, 0, quote!(#ops::reduce::max_axis_backward(&#a, #b, &#g))),
        O::Softmax => single(n, 0, quote!(#ops::softmax::softmax_backward(&#y, #b, &#g))),
        O::LogSoftmax => single(
            n,
            0,
            quote!(#ops::softmax::log_softmax_backward(&#y, #b, &#g)),
        ),
        O::Normalize => single(
            n,
            0,
            quote!(#ops::normalize::normalize_backward(&#a, #b, &#g)),
        ),
        O::CrossEntropy => single(
            n,
            0,
            quote!(#ops::loss::cross_entropy_backward(&#a, #b, #g)),
        ),
        O::Mse => both(quote!(#ops::loss::mse_backward(&#a, &#b, #g))),
        O::L1 => both(quote!(#ops::loss::l1_backward(&#a, &#b, #g))),
        O::Conv2d => {
            let (n0, n1) = (needs[0], needs[1]);
            Adjoint::Needed {
                call: quote!(#ops::conv::conv2d_backward(&#a, &#b, #c, #d, &#g, [#n0, #n1])),
                operands: 2,
            }
        }
        O::MaxPool2d => single(
            n,
            0,
            quote!(#ops::pool::max_pool2d_backward(#sa, &#extra, &#g)),
        ),
        O::AvgPool2d => single(
            n,
            0,
            quote!(#ops::pool::avg_pool2d_backward(#sa, #b, #c, #d, &#g)),
        ),
        O::GlobalAvgPool => single(n, 0, quote!(#ops::pool::global_avg_pool_backward(#sa, &#g))),
        O::BatchNorm => {
            let (n0, n1, n2) = (needs[0], needs[1], needs[2]);
            Adjoint::Needed {
                call: quote!(#ops::batch_norm::batch_norm_backward(&#a, &#b, &#extra, &#g, [#n0, #n1, #n2])),
                operands: 3,
            }
        }
        O::Dropout => single(
            n,
            0,
            quote!(#ops::dropout::dropout_backward(::core::convert::Into::<f64>::into(#b), #c, &#g)),
        ),
        O::Flatten => single(n, 0, quote!(#ops::reshape::flatten_backward(#sa, &#g))),
        O::Fused(_) => unreachable_fused(),
    }
}

/// The tangent (forward-mode derivative) of `y = op(x)` given the operands'
/// tangents `dx` (`None` for operands that do not vary). Element-wise ops and
/// softmax have symmetric Jacobians, so their tangent is their adjoint kernel
/// applied to the tangent; linear ops apply themselves to the tangent.
pub fn tangent(
    op: TensorOp,
    x: &[TokenStream],
    y: &TokenStream,
    extra: &TokenStream,
    dx: &[Option<TokenStream>],
) -> TokenStream {
    use TensorOp as O;
    let a = &x[0];
    let b = x.get(1);
    let c = x.get(2);
    let d = x.get(3);
    let d0 = dx.first().cloned().flatten();
    let d1 = dx.get(1).cloned().flatten();
    let d2 = dx.get(2).cloned().flatten();
    let ops = ops();
    let sum = |terms: Vec<TokenStream>| -> TokenStream {
        let mut it = terms.into_iter();
        let first = it
            .next()
            .unwrap_or_else(|| quote!(::adjoint::Tensor::zeros_like(&#y)));
        it.fold(first, |acc, t| quote!(&(#acc) + &(#t)))
    };
    let scalar_sum = |terms: Vec<TokenStream>| -> TokenStream {
        let mut it = terms.into_iter();
        let first = it.next().unwrap_or_else(|| quote!(0.0));
        it.fold(first, |acc, t| quote!((#acc) + (#t)))
    };
    let spread = |t: TokenStream| quote!((#t).broadcast_to(#y.shape()));
    let neg = |t: TokenStream| quote!(#ops::unary::neg(&(#t)));
    let elementwise = |backward: TokenStream, saved: &TokenStream| match &d0 {
        Some(d) => quote!(#ops::unary::#backward(&#saved, &#d)),
        None => quote!(::adjoint::Tensor::zeros_like(&#y)),
    };
    let d0_or = |f: &dyn Fn(&TokenStream) -> TokenStream| match &d0 {
        Some(d) => f(d),
        None => quote!(::adjoint::Tensor::zeros_like(&#y)),
    };
    match op {
        O::Add | O::Sub => {
            let mut terms = Vec::new();
            if let Some(d) = &d0 {
                terms.push(spread(quote!(#d)));
            }
            if let Some(d) = &d1 {
                terms.push(if op == O::Add {
                    spread(quote!(#d))
                } else {
                    spread(neg(quote!(#d)))
                });
            }
            sum(terms)
        }
        O::Mul => {
            let mut terms = Vec::new();
            if let Some(d) = &d0 {
                terms.push(spread(quote!(&#d * &#b)));
            }
            if let Some(d) = &d1 {
                terms.push(spread(quote!(&#a * &#d)));
            }
            sum(terms)
        }
        O::Div => {
            let mut terms = Vec::new();
            if let Some(d) = &d0 {
                terms.push(spread(quote!(&#d / &#b)));
            }
            if let Some(d) = &d1 {
                terms.push(spread(neg(quote!(&(&#y * &#d) / &#b))));
            }
            sum(terms)
        }
        O::AddScalar | O::SubScalar => {
            let ds = match (&d1, op) {
                (Some(d), O::AddScalar) => quote!(#d),
                (Some(d), _) => quote!(-(#d)),
                (None, _) => quote!(0.0),
            };
            match &d0 {
                Some(d) => quote!(#ops::scalar::add_scalar(&#d, #ds)),
                None => quote!(::adjoint::Tensor::full(#y.shape(), #ds)),
            }
        }
        O::MulScalar => {
            let mut terms = Vec::new();
            if let Some(d) = &d0 {
                terms.push(quote!(#ops::scalar::mul_scalar(&#d, #b)));
            }
            if let Some(d) = &d1 {
                terms.push(quote!(#ops::scalar::mul_scalar(&#a, #d)));
            }
            sum(terms)
        }
        O::DivScalar => {
            let mut terms = Vec::new();
            if let Some(d) = &d0 {
                terms.push(quote!(#ops::scalar::div_scalar(&#d, #b)));
            }
            if let Some(d) = &d1 {
                terms.push(quote!(#ops::scalar::mul_scalar(&#y, -(#d) / #b)));
            }
            sum(terms)
        }
        O::RSubScalar => {
            let mut terms = Vec::new();
            if let Some(d) = &d0 {
                terms.push(quote!(::adjoint::Tensor::full(#y.shape(), #d)));
            }
            if let Some(d) = &d1 {
                terms.push(neg(quote!(#d)));
            }
            sum(terms)
        }
        O::RDivScalar => {
            let mut terms = Vec::new();
            if let Some(d) = &d0 {
                terms.push(quote!(#ops::scalar::rdiv_scalar(#d, &#b)));
            }
            if let Some(d) = &d1 {
                terms.push(neg(quote!(&(&#y * &#d) / &#b)));
            }
            sum(terms)
        }
        O::Neg => d0_or(&|d| neg(quote!(#d))),
        O::MatMul => {
            let mut terms = Vec::new();
            if let Some(d) = &d0 {
                terms.push(quote!(#d.matmul(&#b)));
            }
            if let Some(d) = &d1 {
                terms.push(quote!(#a.matmul(&#d)));
            }
            sum(terms)
        }
        O::T => d0_or(&|d| quote!(#d.t())),
        O::Transpose => d0_or(&|d| quote!(#d.transpose(#b, #c))),
        O::Reshape => d0_or(&|d| quote!(#d.reshape(#b))),
        O::Expand => d0_or(&|d| quote!(#d.expand(#b))),
        O::Select => d0_or(&|d| quote!(#d.select(#b, #c))),
        O::Squeeze => d0_or(&|d| quote!(#d.squeeze(#b))),
        O::Unsqueeze => d0_or(&|d| quote!(#d.unsqueeze(#b))),
        O::Slice => d0_or(&|d| quote!(#d.slice(#b, ::core::clone::Clone::clone(&#c)))),
        O::Exp => elementwise(quote!(exp_backward), y),
        O::Ln => elementwise(quote!(ln_backward), a),
        O::Sqrt => elementwise(quote!(sqrt_backward), y),
        O::Square => elementwise(quote!(square_backward), a),
        O::Abs => elementwise(quote!(abs_backward), a),
        O::Sin => elementwise(quote!(sin_backward), a),
        O::Cos => elementwise(quote!(cos_backward), a),
        O::Tanh => elementwise(quote!(tanh_backward), y),
        O::Sigmoid => elementwise(quote!(sigmoid_backward), y),
        O::Relu => elementwise(quote!(relu_backward), y),
        O::Powf | O::LeakyRelu => {
            let mut terms = Vec::new();
            if let Some(d) = &d0 {
                terms.push(if op == O::Powf {
                    quote!(#ops::unary::powf_backward(&#a, #b, &#d))
                } else {
                    quote!(#ops::unary::leaky_relu_backward(&#a, #b, &#d))
                });
            }
            if let Some(d) = &d1 {
                let partial = if op == O::Powf {
                    quote!(#ops::unary::powf_exponent_partial(&#a, &#y))
                } else {
                    quote!(#ops::unary::leaky_relu_slope_partial(&#a))
                };
                terms.push(quote!(#ops::scalar::mul_scalar(&#partial, #d)));
            }
            sum(terms)
        }
        O::Sum => d0.map_or(quote!(0.0), |d| quote!(#d.sum())),
        O::Mean => d0.map_or(quote!(0.0), |d| quote!(#d.mean())),
        O::Max => d0.map_or(
            quote!(0.0),
            |d| quote!((&#ops::reduce::max_backward(&#a, 1.0) * &#d).sum()),
        ),
        O::SumAxis => d0_or(&|d| quote!(#d.sum_axis(#b, #c))),
        O::MeanAxis => d0_or(&|d| quote!(#d.mean_axis(#b, #c))),
        O::MaxAxis => d0_or(
            &|d| quote!((&#ops::reduce::max_axis_backward(&#a, #b, &::adjoint::Tensor::ones(#y.shape())) * &#d).sum_axis(#b, #c)),
        ),
        O::Softmax => d0_or(&|d| quote!(#ops::softmax::softmax_backward(&#y, #b, &#d))),
        O::LogSoftmax => d0_or(&|d| quote!(&#d - &(&#y.exp() * &#d).sum_axis(#b, true))),
        O::Normalize => {
            d0_or(&|d| quote!(&(&#d - &(&#y * &#d.sum_axis(#b, true))) / &#a.sum_axis(#b, true)))
        }
        O::CrossEntropy => d0.map_or(
            quote!(0.0),
            |d| quote!((&#ops::loss::cross_entropy_backward(&#a, #b, 1.0) * &#d).sum()),
        ),
        O::Mse | O::L1 => {
            let backward = if op == O::Mse {
                quote!(mse_backward)
            } else {
                quote!(l1_backward)
            };
            let mut terms = Vec::new();
            if let Some(d) = &d0 {
                terms.push(quote!((&#ops::loss::#backward(&#a, &#b, 1.0).0 * &#d).sum()));
            }
            if let Some(d) = &d1 {
                terms.push(quote!((&#ops::loss::#backward(&#a, &#b, 1.0).1 * &#d).sum()));
            }
            scalar_sum(terms)
        }
        O::Conv2d => {
            let mut terms = Vec::new();
            if let Some(t) = &d0 {
                terms.push(quote!(#t.conv2d(&#b, #c, #d)));
            }
            if let Some(t) = &d1 {
                terms.push(quote!(#a.conv2d(&#t, #c, #d)));
            }
            sum(terms)
        }
        O::MaxPool2d => {
            d0_or(&|t| quote!(#ops::pool::max_pool2d_tangent(&#extra, &#t, #y.shape())))
        }
        O::AvgPool2d => d0_or(&|t| quote!(#t.avg_pool2d(#b, #c, #d))),
        O::GlobalAvgPool => d0_or(&|t| quote!(#t.global_avg_pool())),
        O::BatchNorm => {
            let some = |t: &Option<TokenStream>| match t {
                Some(t) => quote!(::core::option::Option::Some(&#t)),
                None => quote!(::core::option::Option::None),
            };
            let (s0, s1, s2) = (some(&d0), some(&d1), some(&d2));
            quote!(#ops::batch_norm::batch_norm_tangent(&#a, &#b, &#extra, #s0, #s1, #s2))
        }
        O::Dropout => d0_or(&|t| quote!(#t.dropout(::core::convert::Into::<f64>::into(#b), #c))),
        O::Flatten => d0_or(&|t| quote!(#t.flatten())),
        O::Fused(_) => unreachable_fused(),
    }
}

fn unreachable_fused() -> ! {
    unreachable!("adjoint-macros internal error: fused regions are printed by `region`")
}

/// The scalar op an element-wise tensor op applies at every element, with
/// which of the tensor op's operands it takes in order (`square` is `x * x`,
/// `scalar - tensor` takes its operands as written), if the op can join a
/// fused region.
pub fn scalar_step(op: TensorOp) -> Option<(crate::ir::Op, &'static [usize])> {
    use crate::ir::Op;
    use TensorOp as O;
    const UNARY: &[usize] = &[0];
    const BINARY: &[usize] = &[0, 1];
    Some(match op {
        O::Exp => (Op::Exp, UNARY),
        O::Ln => (Op::Ln, UNARY),
        O::Sqrt => (Op::Sqrt, UNARY),
        O::Abs => (Op::Abs, UNARY),
        O::Sin => (Op::Sin, UNARY),
        O::Cos => (Op::Cos, UNARY),
        O::Tanh => (Op::Tanh, UNARY),
        O::Sigmoid => (Op::Sigmoid, UNARY),
        O::Relu => (Op::Relu, UNARY),
        O::Neg => (Op::Neg, UNARY),
        O::Square => (Op::Mul, &[0, 0]),
        O::Add | O::AddScalar => (Op::Add, BINARY),
        O::Sub | O::SubScalar | O::RSubScalar => (Op::Sub, BINARY),
        O::Mul | O::MulScalar => (Op::Mul, BINARY),
        O::Div | O::DivScalar | O::RDivScalar => (Op::Div, BINARY),
        O::Powf => (Op::Powf, BINARY),
        _ => return None,
    })
}
