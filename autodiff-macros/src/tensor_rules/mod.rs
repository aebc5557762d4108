//! The tensor op table: one [`OpDef`] per op (`table.rs`) holds everything
//! the compiler knows about it — how users spell it, its operands, whether
//! it is element-wise (then its math is the scalar rule table's), its
//! forward, its adjoint (which runtime `*_backward` kernel it calls and what
//! that kernel reads: operands, their shapes, the output, the forward's extra
//! output), its tangent, and its purity. The codegen only reads the table.
//!
//! Operands arrive as the idents of SSA values: tensors (borrowed with `&`
//! where a kernel takes a reference), scalars of the float type, and
//! non-differentiable data (axes, shapes, labels) passed exactly as the user
//! wrote them (`&[3, 4]`, `labels`).
//!
//! To add a tensor op: a [`TensorOp`] variant, its entry in `table.rs`, its
//! kernels in `runtime/src/tensor/ops/`, and a row in `tests/op_matrix.rs`
//! (`src/tests/op_matrix.rs` fails without one). docs/ARCHITECTURE.md walks
//! through an example.

mod emit;
mod table;

use proc_macro2::TokenStream;

pub use emit::{Adjoint, Cx};

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
    /// forward and one backward (never written by users, not in the table);
    /// the index is into `Function::regions`, its operands the region's.
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

/// How users write an op.
#[derive(Clone, Copy, Debug)]
pub enum Spelling {
    /// A tensor method `x.name(..)`; the first name is how messages spell
    /// it, the others are aliases.
    Method(&'static [&'static str]),
    /// A free function `name(&x, ..)`.
    Function(&'static str),
    /// An operator, named so in messages (`+`, `neg` for `-x`).
    Operator(&'static str),
}

/// What a kernel call passes: operand `i` borrowed, as written, converted to
/// `f64`, or cloned; operand `i`'s shape (`&[usize]`, so the operand itself
/// need not be kept alive); the op's value, its forward's extra output, its
/// adjoint (borrowed or, for a scalar result, by value); which operands need
/// a gradient (`[bool; n]` for the first `n`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    Input(usize),
    Value(usize),
    F64(usize),
    Cloned(usize),
    Shape(usize),
    Output,
    Extra,
    Grad,
    GradValue,
    Needs(usize),
}

/// The forward of an op: a method of operand 0 or a runtime kernel
/// (`ops::<path>`), with the arguments it reads, or custom code.
#[derive(Clone, Copy)]
pub enum Forward {
    Method(&'static str, &'static [Read]),
    Kernel(&'static str, &'static [Read]),
    Custom(fn(&Cx) -> TokenStream),
}

/// Which operands' contributions a backward kernel returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gives {
    /// Operand `i`'s.
    Single(usize),
    /// Operands 0 and 1's, as a pair.
    Pair,
    /// Operands 1 and 0's, as a pair.
    PairSwapped,
    /// A tuple of `Option`s for the first `n` operands, given
    /// [`Read::Needs`]`(n)`.
    Needed(usize),
}

/// The adjoint of an op: one call of a runtime `*_backward` kernel, or
/// custom code (for a kernel chosen by which operands need a gradient).
#[derive(Clone, Copy)]
pub enum Backward {
    Kernel(&'static str, &'static [Read], Gives),
    Custom(fn(&Cx) -> Adjoint),
}

/// The tangent of an op given its operands' tangents.
#[derive(Clone, Copy)]
pub enum Tangent {
    /// Linear in operand 0 (the others are data): the op applied to the
    /// tangent.
    Linear,
    /// A symmetric Jacobian in operand 0 (element-wise maps, softmax): the
    /// adjoint kernel applied to the tangent.
    Symmetric,
    Custom(fn(&Cx) -> TokenStream),
}

/// Everything the compiler knows about one tensor op.
pub struct OpDef {
    pub op: TensorOp,
    pub spelling: Spelling,
    /// Its operands, receiver first.
    pub slots: &'static [Slot],
    /// Whether its result is a scalar of the float type (else a tensor).
    pub scalar_result: bool,
    /// Whether its forward returns `(value, extra)`: something its backward
    /// (and tangent) reads besides operands and value (max pooling's argmax,
    /// batch norm's statistics). Generated code keeps it as `v_extra`.
    pub extra_output: bool,
    /// The scalar op it applies at every element, with which of its operands
    /// it takes in order (`square` is `x * x`), if it is element-wise: it
    /// then joins fused regions.
    pub element: Option<(crate::ir::Op, &'static [usize])>,
    /// Whether equal operands give equal results (dropout's mask is a
    /// function of its seed operand, so every op in the table is).
    pub pure: bool,
    pub forward: Forward,
    pub backward: Backward,
    pub tangent: Tangent,
}

/// The table, in [`TensorOp`] order (built once per thread: its scalar ops
/// hold token streams, which stay on the compiler's thread).
pub fn table() -> &'static [OpDef] {
    thread_local! {
        static TABLE: &'static [OpDef] = Box::leak(table::ops().into_boxed_slice());
    }
    TABLE.with(|t| *t)
}

/// The entry of an op.
pub fn def(op: TensorOp) -> &'static OpDef {
    table()
        .iter()
        .find(|d| d.op == op)
        .unwrap_or_else(|| match op {
            TensorOp::Fused(_) => unreachable_fused(),
            other => unreachable!("adjoint-macros internal error: `{other:?}` has no table entry"),
        })
}

fn unreachable_fused() -> ! {
    unreachable!("adjoint-macros internal error: fused regions are printed by `region`")
}

/// Whether the op's result is a tensor (else a scalar of the float type).
pub fn returns_tensor(op: TensorOp) -> bool {
    !def(op).scalar_result
}

/// The operand slots of an op, receiver first.
pub fn slots(op: TensorOp) -> &'static [Slot] {
    match op {
        TensorOp::Fused(_) => &[],
        op => def(op).slots,
    }
}

/// Whether the op's forward returns `(value, extra)` ([`OpDef::extra_output`]).
pub fn has_extra_output(op: TensorOp) -> bool {
    def(op).extra_output
}

/// Whether CSE may merge two applications of the op to equal operands
/// ([`OpDef::pure`]).
pub fn is_pure(op: TensorOp) -> bool {
    match op {
        TensorOp::Fused(_) => true,
        op => def(op).pure,
    }
}

/// Tensor methods by name, aliases included, in table order.
pub fn methods() -> Vec<(&'static str, TensorOp)> {
    table()
        .iter()
        .flat_map(|d| match d.spelling {
            Spelling::Method(names) => names.iter().map(|n| (*n, d.op)).collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// Tensor functions by name (`cross_entropy(&logits, labels)`).
pub fn functions() -> Vec<(&'static str, TensorOp)> {
    table()
        .iter()
        .filter_map(|d| match d.spelling {
            Spelling::Function(name) => Some((name, d.op)),
            _ => None,
        })
        .collect()
}

/// The op a tensor method of this name denotes.
pub fn method_op(name: &str) -> Option<TensorOp> {
    methods()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, op)| op)
}

/// The op a free function of this name denotes.
pub fn function_op(name: &str) -> Option<TensorOp> {
    functions()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, op)| op)
}

/// Every tensor method and function the compiler knows, for error messages
/// (and the README's list, which a test keeps equal to the table).
pub fn supported_tensor_ops() -> String {
    let names = |table: Vec<(&str, TensorOp)>| {
        table
            .into_iter()
            .map(|(n, _)| n)
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        "{}, and the functions {}",
        names(methods()),
        names(functions())
    )
}

/// The op as users write it (`cross_entropy`, `mean_axis`), for messages and graphs.
pub fn name(op: TensorOp) -> String {
    if let TensorOp::Fused(_) = op {
        return "fused".to_string();
    }
    match def(op).spelling {
        Spelling::Method(names) => names[0],
        Spelling::Function(name) | Spelling::Operator(name) => name,
    }
    .to_string()
}

/// The scalar op an element-wise tensor op applies at every element
/// ([`OpDef::element`]).
pub fn scalar_step(op: TensorOp) -> Option<(crate::ir::Op, &'static [usize])> {
    match op {
        TensorOp::Fused(_) => None,
        op => def(op).element.clone(),
    }
}

/// The Rust expression computing `op(x)`.
pub fn forward(op: TensorOp, x: &[TokenStream]) -> TokenStream {
    Cx::forward(x).forward_of(def(op))
}

/// The adjoint rule of `y = op(x)`: `y` is the output's value, `extra` the
/// forward's extra output, `g` its adjoint, `shapes[i]` an expression for
/// operand `i`'s shape (`&[usize]`), `needs[i]` whether operand `i` needs a
/// gradient.
pub fn adjoint(
    op: TensorOp,
    x: &[TokenStream],
    shapes: &[TokenStream],
    y: &TokenStream,
    extra: &TokenStream,
    g: &TokenStream,
    needs: &[bool],
) -> Adjoint {
    Cx::adjoint(x, shapes, y, extra, g, needs).adjoint_of(def(op))
}

/// The tangent (forward-mode derivative) of `y = op(x)` given the operands'
/// tangents `dx` (`None` for operands that do not vary).
pub fn tangent(
    op: TensorOp,
    x: &[TokenStream],
    y: &TokenStream,
    extra: &TokenStream,
    dx: &[Option<TokenStream>],
) -> TokenStream {
    Cx::tangent(x, y, extra, dx).tangent_of(def(op))
}
